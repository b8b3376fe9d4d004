"""Domain gap: can a classifier tell the reference images (training) from the current ones
(production)? If it can, the two differ in ways the model will notice.

`domain_gap` trains scikit-learn's ``HistGradientBoostingClassifier`` (NaN-aware, fast on
hundreds of thousands of rows) on the scan statistics plus the one-hot buckets of the built-in
axes, with stratified k-fold cross-validation, so every image is scored by a model that never saw
it:

- ``auc``: ROC AUC of the out-of-fold scores (0.5 = indistinguishable, 1 = always told apart),
  with a 95 % confidence interval from DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988, in
  the O(n log n) form of Sun & Xu 2014), a normal interval clipped to [0, 1];
- ``features``: permutation importance on each held-out fold (drop of the fold's AUC when one
  column is shuffled, averaged over folds and repeats; at most `IMPORTANCE_ROWS` stratified
  held-out rows per fold), most important first;
- ``scores``: per current image, the out-of-fold probability of being "current" and its rank
  (1 = least like the reference): the order in which to look at, label or collect.

scikit-learn is the optional extra ``imgstats[ml]``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.buckets import label_frame, resolve_axes
from imgstats.drift import DEFAULT_COLUMNS

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Numeric columns used by default (those present in both frames): the drift statistics, which
#: include the weather and light ones (haze, airlight, saturation, warmth, tint, motion_blur).
DEFAULT_GAP_COLUMNS: tuple[str, ...] = DEFAULT_COLUMNS
#: Held-out rows per fold on which permutation importance is computed (a random subset beyond
#: this: the estimate is an average, and shuffling every column of 40,000 rows costs seconds).
IMPORTANCE_ROWS = 4000
IMPORTANCE_REPEATS = 2
#: Training rows per fold at most (a stratified random subset beyond): a gap that 50,000 rows
#: cannot reveal is too small to matter, and fitting 160,000 rows costs 3x as long. Every image
#: is still scored.
MAX_TRAIN_ROWS = 50_000
#: Axes whose buckets are not added (they restate numeric columns at a coarser level, or are
#: high-cardinality labels better handled by their own drift rows).
_SKIP_AXES = frozenset({"camera"})


def _sklearn() -> Any:
    try:
        import sklearn  # noqa: F401
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.inspection import permutation_importance
        from sklearn.model_selection import StratifiedKFold
    except ImportError as exc:
        raise ImportError(
            "imgstats.domain_gap needs scikit-learn: pip install 'imgstats[ml]'"
        ) from exc
    return HistGradientBoostingClassifier, permutation_importance, StratifiedKFold


@dataclass(frozen=True)
class DomainGap:
    """Result of `domain_gap`. ``auc`` near 0.5 (CI containing 0.5) means no detectable gap."""

    auc: float
    auc_ci: tuple[float, float]
    features: pl.DataFrame
    scores: pl.DataFrame
    n_reference: int
    n_current: int
    folds: int
    columns: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line: the AUC with its CI and the three features that give the gap away."""
        top = ", ".join(self.features.head(3)["feature"].to_list()) or "none"
        lo, hi = self.auc_ci
        return (
            f"domain gap AUC {self.auc:.3f} (95% CI {lo:.3f}-{hi:.3f}; 0.5 = no gap) on "
            f"{self.n_reference:,} reference vs {self.n_current:,} current images; "
            f"top features: {top}"
        )

    def __repr__(self) -> str:
        return f"DomainGap({self.summary()})"


def _numeric_names(
    ref: pl.DataFrame, cur: pl.DataFrame, columns: Sequence[str] | None
) -> list[str]:
    if columns is not None:
        missing = [c for c in columns if c not in ref.columns or c not in cur.columns]
        if missing:
            raise ValueError(f"columns missing from one of the frames: {', '.join(missing)}")
        return list(columns)
    return [c for c in DEFAULT_GAP_COLUMNS if c in ref.columns and c in cur.columns]


def feature_matrix(
    reference_df: pl.DataFrame,
    current_df: pl.DataFrame,
    columns: Sequence[str] | None = None,
    axes: bool = True,
) -> tuple[np.ndarray, list[str]]:
    """Rows of the reference then the current frame: the numeric columns as float32 (null and
    NaN -> NaN, booleans -> 0/1) and, with ``axes``, one 0/1 column ``axis=bucket`` per bucket
    of each built-in axis whose inputs are present (buckets capped jointly, as in `drift`)."""
    names = _numeric_names(reference_df, current_df, columns)
    both = pl.concat([reference_df.select(names), current_df.select(names)], how="vertical_relaxed")
    parts = [both.select(pl.col(c).cast(pl.Float32) for c in names)] if names else []
    out_names = list(names)
    if axes and columns is None:
        common = [c for c in reference_df.columns if c in current_df.columns]
        specs = [s for s in resolve_axes(common) if s.name not in _SKIP_AXES]
        if specs:
            labels = pl.concat(label_frame([reference_df, current_df], specs))
            dummies = labels.to_dummies(separator="=")
            parts.append(dummies.cast(pl.Float32))
            out_names += dummies.columns
    if not parts:
        raise ValueError("no statistic columns in common to compare")
    x = pl.concat(parts, how="horizontal").to_numpy().astype(np.float32)
    # Columns without a single finite value (a metric neither scan computed) carry nothing.
    keep = np.isfinite(x).any(axis=0)
    return x[:, keep], [n for n, k in zip(out_names, keep) if k]


def _stratified_subset(
    rows: np.ndarray, y: np.ndarray, limit: int, rng: np.random.Generator
) -> np.ndarray:
    """``rows`` itself when it has at most ``limit`` entries, else a random subset of about
    ``limit`` in which both classes keep their share (at least one row each)."""
    if rows.size <= limit:
        return rows
    parts = []
    for c in (0, 1):
        members = rows[y[rows] == c]
        if members.size:
            k = max(1, round(limit * members.size / rows.size))
            parts.append(rng.choice(members, k, replace=False))
    return np.sort(np.concatenate(parts))


def delong_auc(y: np.ndarray, score: np.ndarray) -> tuple[float, float]:
    """ROC AUC and DeLong's variance of it (Sun & Xu's fast algorithm, midranks for ties)."""
    from scipy.stats import rankdata

    pos, neg = score[y == 1], score[y == 0]
    m, n = pos.size, neg.size
    r_all = rankdata(np.concatenate([pos, neg]))
    r_pos, r_neg = rankdata(pos), rankdata(neg)
    auc = (r_all[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (r_all[:m] - r_pos) / n  # structural components of the positives
    v01 = 1.0 - (r_all[m:] - r_neg) / m  # and of the negatives
    var = v10.var(ddof=1) / m + v01.var(ddof=1) / n if m > 1 and n > 1 else math.nan
    return float(auc), float(var)


def domain_gap(
    reference_df: pl.DataFrame | pl.LazyFrame,
    current_df: pl.DataFrame | pl.LazyFrame,
    *,
    columns: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    max_iter: int = 200,
    max_train_rows: int = MAX_TRAIN_ROWS,
) -> DomainGap:
    """Train a classifier to tell ``current_df`` from ``reference_df`` and report how well it can.

    Args:
        reference_df, current_df: scan frames (e.g. training images and a production sample).
        columns: numeric statistics to use; default: `DEFAULT_GAP_COLUMNS` present in both frames
            plus the one-hot buckets of the built-in axes (lighting, sharpness, atmosphere, ...).
            Naming columns uses exactly those (no buckets).
        folds: stratified cross-validation folds (each side needs at least this many rows).
        seed: fold shuffling, the classifier and the permutation importance.
        max_train_rows: rows each fold's model is fitted on at most (stratified subset).
        max_iter: boosting iterations at most (fewer with early stopping: 10 rounds without
            improvement of the loss on a 10 % validation split of the training fold).

    Returns:
        `DomainGap`: ``auc`` (out-of-fold ROC AUC), ``auc_ci`` (95 %, DeLong), ``features``
        (``feature``, ``importance`` = mean AUC drop when shuffled, ``importance_std``; most
        first), ``scores`` (one row per current image: ``path`` when the frame has it, ``score`` =
        out-of-fold probability of being current, ``rank``; sorted by rank).

    Raises:
        ImportError: scikit-learn is not installed (``pip install 'imgstats[ml]'``).
    """
    hgb, permutation_importance, skf = _sklearn()
    if isinstance(reference_df, pl.LazyFrame):
        reference_df = reference_df.collect()
    if isinstance(current_df, pl.LazyFrame):
        current_df = current_df.collect()
    n_ref, n_cur = reference_df.height, current_df.height
    if folds < 2:
        raise ValueError(f"folds must be at least 2, got {folds}")
    if min(n_ref, n_cur) < folds:
        raise ValueError(
            f"need at least {folds} images on each side for {folds}-fold cross-validation "
            f"(reference {n_ref}, current {n_cur})"
        )
    x, names = feature_matrix(reference_df, current_df, columns)
    y = np.concatenate([np.zeros(n_ref, np.int8), np.ones(n_cur, np.int8)])
    oof = np.empty(y.size, np.float64)
    drops = []
    rng = np.random.default_rng(seed)
    for k, (train, test) in enumerate(
        skf(n_splits=folds, shuffle=True, random_state=seed).split(x, y)
    ):
        # Early stopping on a held-out 10 % of the training fold at every size (scikit-learn
        # only turns it on beyond 10,000 rows): on small sets the boosting otherwise fits noise,
        # and the per-image scores of a no-gap comparison turn into confident nonsense.
        model = hgb(
            max_iter=max_iter,
            early_stopping=True,
            validation_fraction=0.1,
            n_iter_no_change=10,
            random_state=seed + k,
        )
        fit_rows = _stratified_subset(train, y, max_train_rows, rng)
        model.fit(x[fit_rows], y[fit_rows])
        oof[test] = model.predict_proba(x[test])[:, 1]
        if len(np.unique(y[test])) == 2:
            sub = _stratified_subset(test, y, IMPORTANCE_ROWS, rng)
            imp = permutation_importance(
                model,
                x[sub],
                y[sub],
                scoring="roc_auc",
                n_repeats=IMPORTANCE_REPEATS,
                random_state=seed + k,
            )
            drops.append(imp.importances)
    auc, var = delong_auc(y, oof)
    half = 1.959963984540054 * math.sqrt(var) if var == var else math.nan
    ci = (max(0.0, auc - half), min(1.0, auc + half))
    all_drops = np.concatenate(drops, axis=1)  # (features, folds * repeats)
    features = pl.DataFrame(
        {
            "feature": names,
            "importance": all_drops.mean(axis=1),
            "importance_std": all_drops.std(axis=1),
        }
    ).sort(["importance", "feature"], descending=[True, False])
    cur_scores = oof[n_ref:]
    scores = pl.DataFrame({"score": cur_scores})
    if "path" in current_df.columns:
        scores = scores.insert_column(0, current_df.get_column("path"))
    scores = scores.with_columns(
        pl.col("score").rank(method="ordinal", descending=True).cast(pl.UInt32).alias("rank")
    ).sort("rank")
    return DomainGap(
        auc=auc,
        auc_ci=ci,
        features=features,
        scores=scores,
        n_reference=n_ref,
        n_current=n_cur,
        folds=folds,
        columns=names,
    )
