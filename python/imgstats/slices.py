"""`slices`: where the model fails -- the metric per environment bucket and per pair of buckets,
with a confidence interval, the difference to the rest of the data, and a significance test
corrected for the number of slices tested (Benjamini-Hochberg).

Statistics (documented in ``docs/slices.md``):

- Proportions (recall, precision, accuracy: one success / failure per object, prediction or
  image): Wilson score interval; difference to the complement tested with the pooled two-proportion
  z-test, or Fisher's exact test when an expected cell count of the 2x2 table is below 5.
- Means (loss, false positives per image): Student-t interval, or a percentile bootstrap (2,000
  resamples) for slices smaller than ``bootstrap_below``; difference to the complement tested with
  Welch's t-test (unequal variances), which the sufficient statistics (n, sum, sum of squares)
  give for every slice at once.
- A slice is tested only when it and its complement each hold at least ``min_size`` units (default
  30); smaller slices are listed with their interval but never flagged. Benjamini-Hochberg runs
  over every tested slice (single buckets and pairs together); ``flagged`` = q <= ``alpha`` and the
  metric is worse than on the rest (and at least ``min_difference`` worse).

Counting is vectorised: every axis is coded to small integers once, and each single bucket or
pair of buckets is a ``numpy.bincount`` over those codes (with the metric as weights).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Optional

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.buckets import BUILTIN_AXES, UNKNOWN, AxesArg, label_frame, resolve_axes
from imgstats.results import ImageIndex, Results, classification

if TYPE_CHECKING:
    import numpy as np
    from scipy import stats
else:
    np = LazyModule("numpy")
    stats = LazyModule("scipy.stats")

#: Object-level columns used as axes when present in the scored objects (the labels module's
#: object axes, and the class).
OBJECT_AXES: tuple[str, ...] = ("object_size", "occlusion", "truncation", "crowding", "class")
#: Metric names whose lower values are better.
LOWER_IS_BETTER: frozenset[str] = frozenset({"loss", "n_fp", "n_missed", "error", "fp"})
#: Short names for common metrics.
ALIASES: dict[str, str] = {"accuracy": "correct", "fp": "n_fp", "false_positives": "n_fp"}
DEFAULT_MIN_SIZE = 30
BOOTSTRAP_RESAMPLES = 2000

TABLE_COLUMNS = (
    "axis",
    "bucket",
    "axis2",
    "bucket2",
    "n",
    "metric",
    "ci_low",
    "ci_high",
    "rest",
    "n_rest",
    "difference",
    "test",
    "p_value",
    "q_value",
    "flagged",
    "explained_by",
    "primary",
)


@dataclass
class Slices:
    """The outcome of `slices`.

    Attributes:
        table: one row per slice (``axis``/``bucket``, and ``axis2``/``bucket2`` for pairs, null
            for single buckets): ``n`` units, ``metric`` with ``ci_low``/``ci_high``, ``rest`` (the
            metric on the complement, ``n_rest`` units), ``difference`` (metric - rest), ``test``
            (``z``, ``fisher``, ``welch``; null when the slice is too small to test), ``p_value``,
            ``q_value`` (Benjamini-Hochberg) and ``flagged``. Flagged slices first, worst first.
        metric: the metric's name; ``unit``: what one observation is (object, prediction, image);
        kind: ``proportion`` or ``mean``; ``overall``: the metric on everything, with its CI.
        units: one row per unit: ``path``, ``value``, ``_img`` (row of ``images``) and one
            bucket column per object axis (plus the box, for the report).
        images: ``_img`` and one bucket column per image axis. `members` and `unit_table` join
            them; keeping image buckets per image keeps a million-object run light.
    """

    table: pl.DataFrame
    metric: str
    unit: str
    kind: Literal["proportion", "mean"]
    higher_is_better: bool
    overall: dict[str, float]
    units: pl.DataFrame
    images: pl.DataFrame
    axes: list[str]
    alpha: float
    min_size: int
    notes: list[str] = field(default_factory=list)
    frame: pl.DataFrame | None = field(default=None, repr=False)

    @property
    def flagged(self) -> pl.DataFrame:
        """The flagged rows of `table`, worst first."""
        return self.table.filter(pl.col("flagged"))

    def __repr__(self) -> str:
        tested = int(self.table["test"].is_not_null().sum())
        return (
            f"Slices(metric={self.metric!r} per {self.unit}, overall={self.overall['metric']:.4g}, "
            f"{self.table.height} slices over {len(self.axes)} axes, {tested} tested, "
            f"{self.flagged.height} flagged at q <= {self.alpha})"
        )

    def failed(self) -> pl.Expr:
        """Expression on `units`: the unit is a failure (a miss, a false positive, a wrong
        answer; for means: worse than the overall mean)."""
        v = pl.col("value")
        if self.kind == "proportion":
            return v < 0.5 if self.higher_is_better else v > 0.5
        mean = self.overall["metric"]
        return v < mean if self.higher_is_better else v > mean

    def members(self, row: Mapping[str, Any], columns: Sequence[str] | None = None) -> pl.DataFrame:
        """The units of one slice (a row of `table`); ``columns``: only these columns."""
        units = self.units
        if columns is not None:
            axes = [row["axis"], row.get("axis2")]
            need = [*columns, *(a for a in axes if a in units.columns and a not in columns)]
            units = units.select(list(dict.fromkeys(["_img", *need])))
        for axis, bucket in ((row["axis"], row["bucket"]), (row.get("axis2"), row.get("bucket2"))):
            if axis is None:
                continue
            if axis in self.images.columns:
                ids = self.images.filter(pl.col(axis) == bucket)["_img"]
                units = units.filter(pl.col("_img").is_in(ids.implode()))
            else:
                units = units.filter(pl.col(axis) == bucket)
        return units

    def unit_table(self) -> pl.DataFrame:
        """`units` with the image bucket columns joined: one row per unit, one column per axis."""
        return self.units.join(self.images, on="_img", how="left", maintain_order="left")

    def to_label(
        self, n: int = 200, seed: int = 0, groups: pl.DataFrame | None = None
    ) -> pl.DataFrame:
        """Images to label next: sampled from the flagged slices, never two from one
        near-duplicate group.

        The slices sampled are the flagged ones that stand on their own (``primary``; the
        explained ones are consequences of them and share their images), or every flagged slice
        when none does. Slices take turns (worst first), so each contributes; within a slice,
        images where the model failed come first, in a seeded random order. Near-duplicate groups
        come from ``groups`` (an `imgstats.duplicates` frame), else a ``group_id`` column of the
        scan frame, else `imgstats.duplicates` on its ``phash`` column; without hashes every image
        is its own group.

        Returns ``path``, ``group_id``, the slice that chose it (``axis``, ``bucket``, ``axis2``,
        ``bucket2``, ``slice_metric``), ``units`` in that slice and ``failures`` among them.
        """
        flagged = self.table.filter(pl.col("primary"))
        if flagged.height == 0:
            flagged = self.flagged
        schema = {
            "path": pl.Utf8,
            "group_id": pl.Utf8,
            "axis": pl.Utf8,
            "bucket": pl.Utf8,
            "axis2": pl.Utf8,
            "bucket2": pl.Utf8,
            "slice_metric": pl.Float64,
            "units": pl.UInt32,
            "failures": pl.UInt32,
        }
        if flagged.height == 0 or n <= 0:
            return pl.DataFrame(schema=schema)
        group_of = self._groups(groups)
        path_of = self.units.group_by("_img").agg(pl.col("path").first())
        parts = []
        for rank, row in enumerate(flagged.iter_rows(named=True)):
            per_image = (
                self.members(row, ["value"])
                .group_by("_img")
                .agg(pl.len().alias("units"), self.failed().sum().alias("failures"))
                .sort("_img")  # group_by order is not deterministic
                .with_columns(pl.int_range(pl.len()).shuffle(seed=seed + rank).alias("_r"))
                .sort([pl.col("failures") > 0, "_r"], descending=[True, False])
                .head(3 * n)
            )
            parts.append(
                per_image.with_columns(
                    pl.int_range(pl.len()).alias("_pos"),
                    pl.lit(rank).alias("_rank"),
                    pl.lit(row["axis"]).alias("axis"),
                    pl.lit(row["bucket"]).alias("bucket"),
                    pl.lit(row["axis2"], pl.Utf8).alias("axis2"),
                    pl.lit(row["bucket2"], pl.Utf8).alias("bucket2"),
                    pl.lit(row["metric"]).alias("slice_metric"),
                )
            )
        cand = (
            pl.concat(parts).sort("_pos", "_rank").join(path_of, on="_img", maintain_order="left")
        )
        cand = cand.join(group_of, on="path", how="left", maintain_order="left").with_columns(
            pl.coalesce(pl.col("group_id"), pl.lit("path:") + pl.col("path")).alias("group_id")
        )
        # The first candidate of each group in round-robin order: never two images of a group.
        picked = cand.unique("group_id", keep="first", maintain_order=True).head(n)
        return picked.select(*(pl.col(c).cast(t) for c, t in schema.items()))

    def _groups(self, groups: pl.DataFrame | None) -> pl.DataFrame:
        """``path -> group_id`` (as text) for the near-duplicate constraint."""
        empty = pl.DataFrame(schema={"path": pl.Utf8, "group_id": pl.Utf8})
        if groups is None and self.frame is not None:
            if "group_id" in self.frame.columns:
                groups = self.frame.select("path", "group_id")
            elif "phash" in self.frame.columns:
                from imgstats.duplicates import duplicates

                ok = self.frame
                if "error" in ok.columns:
                    ok = ok.filter(pl.col("error").is_null())
                ok = ok.filter(pl.col("phash").is_not_null())
                groups = duplicates(ok) if ok.height else None
        if groups is None:
            return empty
        return groups.select(pl.col("path").cast(pl.Utf8), pl.col("group_id").cast(pl.Utf8)).unique(
            "path"
        )


# ------------------------------------------------------------------------------ unit frame


def _require_scipy() -> None:
    """The tests and intervals come from SciPy, an optional dependency of imgstats."""
    try:
        import scipy.stats  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            "imgstats.slices needs SciPy >= 1.11: pip install 'imgstats[slices]'"
        ) from exc


def _units(res: Results, metric: str) -> tuple[pl.DataFrame, str, str]:
    """``(frame with path + value + the unit's own columns, metric name, unit name)``."""
    name = ALIASES.get(metric, metric)
    if res.kind == "detection" and name in ("recall", "precision"):
        assert res.objects is not None and res.predictions is not None
        if name == "recall":
            frame = res.objects.filter(~pl.col("ignored")).with_columns(
                pl.col("matched").cast(pl.Float64).alias("value")
            )
            return frame, "recall", "object"
        frame = res.predictions.filter(pl.col("status") != "ignored").with_columns(
            (pl.col("status") == "tp").cast(pl.Float64).alias("value")
        )
        return frame, "precision", "prediction"
    if name not in res.images.columns:
        options = [c for c in res.images.columns if c != "path"]
        if res.kind == "detection":
            options = ["recall", "precision", *options]
        raise ValueError(f"unknown metric {metric!r}; this result has: {', '.join(options)}")
    dtype = res.images.schema[name]
    if not (dtype == pl.Boolean or dtype.is_numeric()):
        raise ValueError(f"metric column {name!r} is {dtype}, not boolean or numeric")
    frame = res.images.with_columns(pl.col(name).cast(pl.Float64).alias("value"))
    return frame, name, "image"


def _aligned_paths(
    units: pl.DataFrame, df: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    """Join keys ``_key`` on both sides: the scan's ``path``. Result paths that are not scan paths
    verbatim (relative to the dataset, another mount point) are matched by their trailing path
    components (`imgstats.results.ImageIndex`), once per distinct path."""
    notes: list[str] = []
    scan_paths = df.select(pl.col("path").cast(pl.Utf8)).unique()
    df = df.with_columns(pl.col("path").cast(pl.Utf8).alias("_key"))
    distinct = units.select(pl.col("path").cast(pl.Utf8)).unique()
    missing = distinct.join(scan_paths, on="path", how="anti")["path"].to_list()
    mapping = {}
    if missing:
        index = ImageIndex(scan_paths["path"].to_list())
        for p in missing:
            found, _ = index.find(p)
            if found is not None:
                mapping[p] = found
        if mapping:
            notes.append(
                f"{len(mapping)} result paths matched scanned images by their trailing path "
                "components"
            )
        lost = len(missing) - len(mapping)
        if lost:
            notes.append(
                f"{lost} of {distinct.height} result images are not in the scan frame: their "
                f"image buckets are '{UNKNOWN}'"
            )
    key = pl.col("path").cast(pl.Utf8)
    if mapping:
        key = key.replace(mapping)
    return units.with_columns(key.alias("_key")), df, notes


def _axis_labels(
    df: pl.DataFrame,
    units: pl.DataFrame,
    axes: AxesArg,
    object_axes: Sequence[str] | None,
    thresholds: Mapping[str, Mapping[str, Any]] | None,
) -> tuple[pl.DataFrame, pl.DataFrame, list[str], list[str], list[str]]:
    """Bucket labels. Returns (units with an integer image id ``_img`` and one Utf8 column per
    object axis, images: ``_img`` plus one Utf8 column per image axis, image axis names, object
    axis names, notes). Image buckets stay per image: a million objects need no million strings.
    """
    units, df, notes = _aligned_paths(units, df)
    unit_cols: list[str] = []
    if axes is None:
        image_axes: AxesArg = None
    elif isinstance(axes, Mapping):
        image_axes = axes
    else:
        if isinstance(axes, str):
            raise TypeError("axes must be a sequence or mapping of axis names, not a string")
        image_list = []
        for a in axes:
            if a in BUILTIN_AXES or a in df.columns:
                image_list.append(a)
            elif a in units.columns:
                unit_cols.append(a)
            else:
                raise ValueError(f"axis {a!r} is neither a built-in axis nor a column")
        image_axes = image_list
    if object_axes is None:
        object_axes = [c for c in OBJECT_AXES if c in units.columns and c not in unit_cols]
    for c in object_axes:
        if c not in units.columns:
            raise ValueError(f"object axis {c!r} is not a column of the scored units")
        if c not in unit_cols:
            unit_cols.append(c)
    specs = resolve_axes(df.columns, image_axes, thresholds) if image_axes != [] else []
    names = [s.name for s in specs]
    clash = [c for c in unit_cols if c in names]
    if clash:
        raise ValueError(f"axes {clash} are both image and object axes; rename one")
    if specs:
        images = (
            pl.concat([df.select("_key"), label_frame([df], specs)[0]], how="horizontal")
            .unique("_key", keep="first", maintain_order=True)
            .with_row_index("_img")
        )
        # One more image id for result images missing from the scan: every bucket unknown.
        missing = {"_img": images.height, "_key": None} | {n: UNKNOWN for n in names}
        units = (
            units.drop([c for c in ["_img"] if c in units.columns])
            .join(images.select("_key", "_img"), on="_key", how="left", maintain_order="left")
            .with_columns(pl.col("_img").fill_null(images.height))
        )
        if units["_img"].max() == images.height:
            images = pl.concat([images, pl.DataFrame([missing], schema=images.schema)])
    else:
        units = units.with_columns(pl.lit(0, pl.UInt32).alias("_img"))
        images = pl.DataFrame(
            {"_img": [0], "_key": [None]}, schema={"_img": pl.UInt32, "_key": pl.Utf8}
        )
    units = units.with_columns(
        pl.col("_img").cast(pl.Int64),
        *(pl.col(c).cast(pl.Utf8).fill_null(UNKNOWN) for c in unit_cols),
    )
    images = images.with_columns(
        pl.col("_img").cast(pl.Int64), *(pl.col(n).fill_null(UNKNOWN) for n in names)
    )
    return units, images, names, unit_cols, notes


# ------------------------------------------------------------------------------- statistics


def _wilson(k: np.ndarray, n: np.ndarray, z: float) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


Sums = tuple["np.ndarray", "np.ndarray", "np.ndarray"]
#: A cell: (axis, bucket, axis2, bucket2); the last two are None for a single bucket.
CellKey = tuple[str, str, Optional[str], Optional[str]]


def _compare(proportion: bool, one: Sums, two: Sums) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p-values comparing group one with group two, from (n, sum, sum of squares).

    Proportions: pooled two-proportion z-test, or Fisher's exact test when an expected count of
    the 2x2 table is below 5. Means: Welch's t-test. Returns (p-values, test names).
    """
    n1, s1, ss1 = (np.asarray(x, dtype=np.float64) for x in one)
    n2, s2, ss2 = (np.asarray(x, dtype=np.float64) for x in two)
    with np.errstate(invalid="ignore", divide="ignore"):
        if proportion:
            pooled = (s1 + s2) / (n1 + n2)
            se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
            z = (s1 / n1 - s2 / n2) / se
            p = np.where(se > 0, 2 * stats.norm.sf(np.abs(z)), 1.0)
            expected = np.minimum.reduce(
                [n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled)]
            )
            fisher = (expected < 5) & (se > 0)
            for i in np.flatnonzero(fisher):
                table = np.array([[s1[i], n1[i] - s1[i]], [s2[i], n2[i] - s2[i]]])
                p[i] = stats.fisher_exact(np.rint(table).astype(np.int64)).pvalue
            return p, np.where(fisher, "fisher", "z")
        m1, m2 = s1 / n1, s2 / n2
        a = np.maximum(ss1 - s1 * m1, 0) / (n1 - 1) / n1
        b = np.maximum(ss2 - s2 * m2, 0) / (n2 - 1) / n2
        t = (m1 - m2) / np.sqrt(a + b)
        dof = (a + b) ** 2 / (a**2 / (n1 - 1) + b**2 / (n2 - 1))
        p = np.where(a + b > 0, 2 * stats.t.sf(np.abs(t), dof), np.where(m1 == m2, 1.0, 0.0))
    return p, np.full(p.size, "welch")


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (NaN stays NaN: not tested)."""
    q = np.full(p.size, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if ok.size:
        q[ok] = stats.false_discovery_control(p[ok], method="bh")
    return q


def _explain(
    keys: list[CellKey],
    sums: Sums,
    totals: tuple[float, float, float],
    flagged: np.ndarray,
    diff: np.ndarray,
    worse_than: Any,
    proportion: bool,
    alpha: float,
    min_size: int,
) -> list[str | None]:
    """Which flagged slices are consequences of another slice (rules in docs/slices.md).

    1. A flagged pair A=a x B=b stands on its own only if it is significantly worse than the rest
       of A=a *and* than the rest of B=b (an interaction; intersection-union test: the larger of
       the two p-values, BH across pairs). Otherwise it is explained by the bucket it does not
       differ from inside (night x site=a is just night).
    2. A flagged single bucket is explained by an unexplained flagged pair inside it when, without
       the pair, the bucket is no longer significantly worse than its complement (small objects
       fail because small *occluded* ones do).
    3. A flagged single bucket S is explained by a stronger unexplained single bucket T=t of
       another axis when, within every bucket of T's axis, S is not significantly worse than the
       rest of that bucket (a site with more night images: Bonferroni over the strata, BH across).

    A remainder smaller than ``min_size`` cannot be tested and explains its slice (they are
    nearly the same images).
    """
    n, s, ss = sums
    idx = {k: i for i, k in enumerate(keys)}
    explained: list[str | None] = [None] * len(keys)

    def name(k: tuple[str, str, str | None, str | None]) -> str:
        return f"{k[0]}={k[1]}" if k[2] is None else f"{k[0]}={k[1]} & {k[2]}={k[3]}"

    def test_worse(one: Sums, two: Sums) -> np.ndarray:
        """p-value that ``one`` is worse than ``two`` (1 when it is not worse or untestable)."""
        p, _ = _compare(proportion, one, two)
        with np.errstate(invalid="ignore", divide="ignore"):
            worse = worse_than(one[1] / one[0], two[1] / two[0])
        return np.where((one[0] >= min_size) & (two[0] >= min_size) & worse, p, 1.0)

    def rest_of(parent: np.ndarray, part: np.ndarray) -> Sums:
        return (n[parent] - n[part], s[parent] - s[part], ss[parent] - ss[part])

    def parents(j: int) -> tuple[int, int]:
        """Rows of the two single buckets a pair row is made of."""
        a, x, b, y = keys[j]
        assert b is not None and y is not None
        return idx[(a, x, None, None)], idx[(b, y, None, None)]

    # Rule 1: pairs.
    pairs = [j for j, k in enumerate(keys) if k[2] is not None and flagged[j]]
    if pairs:
        r = np.array(pairs)
        pa = np.array([parents(j)[0] for j in pairs])
        pb = np.array([parents(j)[1] for j in pairs])
        cell = (n[r], s[r], ss[r])
        p_a, p_b = test_worse(cell, rest_of(pa, r)), test_worse(cell, rest_of(pb, r))
        q = _bh(np.maximum(p_a, p_b))
        for j, qi, i_a, i_b, pv_a, pv_b in zip(r, q, pa, pb, p_a, p_b):
            if not qi <= alpha:
                explained[j] = name(keys[i_a] if pv_a >= pv_b else keys[i_b])
    # Rule 2: singles explained by an interaction inside them.
    rows, children = [], []
    for j in pairs:
        if explained[j] is None:
            for par in parents(j):
                if flagged[par]:
                    rows.append(par)
                    children.append(j)
    if rows:
        i, c = np.array(rows), np.array(children)
        comp = (totals[0] - n[i], totals[1] - s[i], totals[2] - ss[i])
        q = _bh(test_worse(rest_of(i, c), comp))
        for si, cj, qi in zip(i, c, q):
            if explained[si] is None and not qi <= alpha:
                explained[si] = name(keys[cj])
    # Rule 3: singles explained by a stronger single of another axis (stratified).
    singles = [j for j, k in enumerate(keys) if k[2] is None and flagged[j]]
    strong = [j for j in singles if explained[j] is None]
    levels: dict[str, list[str]] = {}
    for k in keys:
        if k[2] is None:
            levels.setdefault(k[0], []).append(k[1])
    combos, pvals = [], []
    for j in singles:
        if explained[j] is not None:
            continue
        for t in strong:
            if keys[t][0] == keys[j][0] or abs(diff[t]) <= abs(diff[j]):
                continue
            strata = []
            for level in levels[keys[t][0]]:
                pair = idx.get((keys[j][0], keys[j][1], keys[t][0], level))
                if pair is None:
                    pair = idx.get((keys[t][0], level, keys[j][0], keys[j][1]))
                if pair is not None:
                    strata.append((pair, idx[(keys[t][0], level, None, None)]))
            if not strata:
                continue
            pr, st = np.array([x for x, _ in strata]), np.array([y for _, y in strata])
            p = test_worse((n[pr], s[pr], ss[pr]), rest_of(st, pr))
            combos.append((j, t))
            pvals.append(min(1.0, float(p.min()) * len(strata)))
    if combos:
        q = _bh(np.array(pvals))
        for (j, t), qi in zip(combos, q):
            if explained[j] is None and not qi <= alpha:
                explained[j] = name(keys[t])
    return explained


def _mean_ci(
    n: np.ndarray, s: np.ndarray, ss: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / n
        sd = np.sqrt(np.maximum(ss - s * m, 0) / (n - 1))
        half = stats.t.ppf(0.5 + level / 2, np.maximum(n - 1, 1)) * sd / np.sqrt(n)
    return m - half, m + half


def _bootstrap_ci(
    values: np.ndarray, level: float, rng: np.random.Generator
) -> tuple[float, float]:
    if values.size < 2:
        return float("nan"), float("nan")
    idx = rng.integers(0, values.size, (BOOTSTRAP_RESAMPLES, values.size))
    means = values[idx].mean(axis=1)
    lo, hi = np.quantile(means, [0.5 - level / 2, 0.5 + level / 2])
    return float(lo), float(hi)


def _codes(col: pl.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (0..k-1, in sorted level order) and the levels of a text column."""
    levels = col.unique().sort().to_list()
    return col.cast(pl.Enum(levels)).to_physical().cast(pl.Int64).to_numpy(), levels


def _cells(
    units: pl.DataFrame,
    images: pl.DataFrame,
    image_axes: Sequence[str],
    unit_axes: Sequence[str],
    pairs: bool,
) -> tuple[list[dict[str, Any]], dict[str, tuple[np.ndarray, list[str]]]]:
    """Per cell: the axis/bucket names and (n, sum, sum of squares) of ``value``; plus each
    axis' integer codes per unit (to find a small cell's members for the bootstrap).

    Image axes are constant within an image, so their buckets and pairs are counted on per-image
    totals (about ten times fewer rows than objects); a pair of an image axis and an object axis
    on per-(image, object bucket) totals; only pairs of two object axes need every unit.
    """
    v = units["value"].to_numpy()
    axes = [*image_axes, *unit_axes]
    image = units["_img"].to_numpy()
    n_images = images.height  # ``_img`` is the row number of ``images``
    img_coded = {a: _codes(images[a]) for a in image_axes}
    coded = {a: _codes(units[a]) for a in unit_axes}
    # Codes per unit for image axes (a gather, no strings): used for the bootstrap members.
    coded |= {a: (codes[image], levels) for a, (codes, levels) in img_coded.items()}
    blocks: list[dict[str, Any]] = []

    def tally(key: np.ndarray, size: int, w: tuple[Any, np.ndarray, np.ndarray]) -> Sums:
        n = np.bincount(key, weights=w[0], minlength=size).astype(np.float64)
        s = np.bincount(key, weights=w[1], minlength=size)
        ss = np.bincount(key, weights=w[2], minlength=size)
        return n, s, ss

    def add(
        a: str, b: str | None, key: np.ndarray, size: int, w: tuple[Any, np.ndarray, np.ndarray]
    ) -> None:
        n, s, ss = tally(key, size, w)
        la = coded[a][1]
        lb = coded[b][1] if b is not None else [None]
        keep = np.flatnonzero(n)
        blocks.append(
            {
                "axis": a,
                "axis2": b,
                "cells": keep,
                "names": [(la[i // len(lb)], lb[i % len(lb)]) for i in keep],
                "n": n[keep],
                "s": s[keep],
                "ss": ss[keep],
            }
        )

    # Per-image totals and codes (image axes are constant within an image).
    per_image = (
        np.bincount(image, minlength=n_images).astype(np.float64),
        np.bincount(image, weights=v, minlength=n_images),
        np.bincount(image, weights=v * v, minlength=n_images),
    )
    img_code = {a: codes for a, (codes, _) in img_coded.items()}
    per_unit = (None, v, v * v)
    for a in image_axes:
        add(a, None, img_code[a], len(coded[a][1]), per_image)
    for a in unit_axes:
        add(a, None, coded[a][0], len(coded[a][1]), per_unit)
    if not pairs:
        return blocks, coded
    cache: dict[str, tuple[np.ndarray, Sums]] = {}

    def by_image_bucket(obj_ax: str) -> tuple[np.ndarray, Sums]:
        """Totals per (image, bucket of an object axis), computed once per object axis."""
        if obj_ax not in cache:
            lo = len(coded[obj_ax][1])
            key = image * lo + coded[obj_ax][0]
            if n_images * lo <= 4 * key.size + 1_000_000:
                totals = tally(key, n_images * lo, per_unit)
                combo = np.flatnonzero(totals[0])
                w = (totals[0][combo], totals[1][combo], totals[2][combo])
            else:  # many buckets: sort instead of a dense table
                combo, inv = np.unique(key, return_inverse=True)
                w = tally(inv, combo.size, per_unit)
            cache[obj_ax] = (combo, w)
        return cache[obj_ax]

    # Pairs need two axes with at least two occupied buckets each.
    occupied = {b["axis"]: len(b["cells"]) for b in blocks}
    multi = [a for a in axes if occupied[a] > 1]
    for i, a in enumerate(multi):
        for b in multi[i + 1 :]:
            la, lb = len(coded[a][1]), len(coded[b][1])
            if a in img_code and b in img_code:
                add(a, b, img_code[a] * lb + img_code[b], la * lb, per_image)
            elif a in img_code or b in img_code:
                img_ax, obj_ax = (a, b) if a in img_code else (b, a)
                lo = len(coded[obj_ax][1])
                combo, w = by_image_bucket(obj_ax)
                ci, co = img_code[img_ax][combo // lo], combo % lo
                key = ci * lb + co if a == img_ax else co * lb + ci
                add(a, b, key, la * lb, w)
            else:
                add(a, b, coded[a][0] * lb + coded[b][0], la * lb, per_unit)
    return blocks, coded


def _members(coded: dict[str, tuple[np.ndarray, list[str]]], key: CellKey) -> np.ndarray:
    """Boolean mask of the units in one cell."""
    a, x, b, y = key
    mask: np.ndarray = coded[a][0] == coded[a][1].index(x)
    if b is not None and y is not None:
        mask &= coded[b][0] == coded[b][1].index(y)
    return mask


# ----------------------------------------------------------------------------------- slices


def slices(
    df: pl.DataFrame | pl.LazyFrame,
    res: Results | pl.DataFrame,
    *,
    metric: str | None = "recall",
    axes: AxesArg = None,
    object_axes: Sequence[str] | None = None,
    pairs: bool = True,
    min_size: int = DEFAULT_MIN_SIZE,
    alpha: float = 0.05,
    ci: float = 0.95,
    min_difference: float = 0.0,
    higher_is_better: bool | None = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    bootstrap_below: int = 1000,
    seed: int = 0,
) -> Slices:
    """The metric per environment slice, with CIs, the difference to the rest and BH-corrected
    tests.

    Args:
        df: the scan frame (`imgstats.scan`), which gives the image axes; joined on ``path``.
        res: `imgstats.results` output, or a classification frame (``path`` + ``correct`` ...).
        metric: ``"recall"`` (per object), ``"precision"`` (per prediction), or a per-image column
            of ``res.images`` (``"correct"``/``"accuracy"``, ``"loss"``, ``"n_fp"``/``"fp"`` ...).
            ``None`` picks recall for detections and ``correct`` for classification.
        axes: image axes, as in `imgstats.coverage` (``None``: every built-in axis the columns
            allow); names that are columns of the scored units (e.g. ``"class"``) become
            object-level axes.
        object_axes: columns of the scored objects/predictions to slice by; ``None``: those of
            `OBJECT_AXES` present (``object_size``, ``occlusion``, ``truncation``, ``crowding``,
            ``class``).
        pairs: also every pair of buckets of two different axes.
        min_size: a slice (and its complement) needs this many units to be tested and flagged.
        alpha: false-discovery rate for Benjamini-Hochberg; ``ci``: interval level.
        min_difference: also require the metric to be this much worse than the rest to flag.
        higher_is_better: direction of the metric (default: lower is better for loss and false
            positive counts, higher otherwise).
        thresholds: bucket threshold overrides, as in `imgstats.coverage`.
        bootstrap_below: mean metrics use a bootstrap CI for slices with fewer units.
    """
    _require_scipy()
    df = df.collect() if isinstance(df, pl.LazyFrame) else df
    if "path" not in df.columns:
        raise ValueError("slices needs a scan frame with a 'path' column")
    if isinstance(res, pl.DataFrame):
        res = classification(res)
    if metric is None:
        metric = "recall" if res.kind == "detection" else "correct"
    if min_size < 1:
        raise ValueError("min_size must be >= 1")
    units, name, unit = _units(res, metric)
    dropped = units.filter(pl.col("value").is_null() | pl.col("value").is_nan()).height
    units = units.filter(pl.col("value").is_not_null() & pl.col("value").is_not_nan())
    if units.height == 0:
        raise ValueError(f"no {unit} has a value for {name!r}")
    units, images, image_names, unit_names, notes = _axis_labels(
        df, units, axes, object_axes, thresholds
    )
    axis_names = [*image_names, *unit_names]
    if dropped:
        notes.append(f"{dropped} {unit}s without a {name} value were left out")
    if not axis_names:
        raise ValueError("no axis to slice by: the frame has no bucketable column")
    v = units["value"].to_numpy()
    proportion = bool(np.isin(v, (0.0, 1.0)).all()) and (
        name in ("recall", "precision") or res.images.schema.get(name) == pl.Boolean
    )
    if higher_is_better is None:
        higher_is_better = name not in LOWER_IS_BETTER
    N, S, SS = float(v.size), float(v.sum()), float((v * v).sum())
    z = float(stats.norm.ppf(0.5 + ci / 2))
    blocks, coded = _cells(units, images, image_names, unit_names, pairs)
    n = np.concatenate([b["n"] for b in blocks])
    s = np.concatenate([b["s"] for b in blocks])
    ss = np.concatenate([b["ss"] for b in blocks])
    testable = (n >= min_size) & (N - n >= min_size)
    with np.errstate(invalid="ignore", divide="ignore"):
        m = s / n
        rest = (S - s) / (N - n)
    p, test_names = _compare(proportion, (n, s, ss), (N - n, S - s, SS - ss))
    p = np.where(testable, p, np.nan)
    test = [t if ok else None for t, ok in zip(test_names.tolist(), testable.tolist())]
    if proportion:
        lo, hi = _wilson(s, n, z)
        overall_ci = _wilson(np.array([S]), np.array([N]), z)
    else:
        lo, hi = _mean_ci(n, s, ss, ci)
        overall_ci = _mean_ci(np.array([N]), np.array([S]), np.array([SS]), ci)
        rng = np.random.default_rng(seed)
        cells = [(b["axis"], x, b["axis2"], y) for b in blocks for x, y in b["names"]]
        for j in np.flatnonzero(n < bootstrap_below):
            lo[j], hi[j] = _bootstrap_ci(v[_members(coded, cells[j])], ci, rng)
    q = _bh(p)

    def worse_than(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        d = a - b
        out: np.ndarray = (
            (d <= -min_difference) & (d < 0)
            if higher_is_better
            else (d >= min_difference) & (d > 0)
        )
        return out

    diff = m - rest
    flagged = np.isfinite(q) & (q <= alpha) & worse_than(m, rest)
    names = [nm for b in blocks for nm in b["names"]]
    cell_keys = [(b["axis"], x, b["axis2"], y) for b in blocks for x, y in b["names"]]
    explained = _explain(
        cell_keys, (n, s, ss), (N, S, SS), flagged, diff, worse_than, proportion, alpha, min_size
    )
    table = pl.DataFrame(
        {
            "axis": [b["axis"] for b in blocks for _ in b["cells"]],
            "bucket": [x for x, _ in names],
            "axis2": [b["axis2"] for b in blocks for _ in b["cells"]],
            "bucket2": [y for _, y in names],
            "n": n.astype(np.int64),
            "metric": m,
            "ci_low": lo,
            "ci_high": hi,
            "rest": rest,
            "n_rest": (N - n).astype(np.int64),
            "difference": diff,
            "test": pl.Series(test, dtype=pl.Utf8),
            "p_value": p,
            "q_value": q,
            "flagged": flagged,
            "explained_by": pl.Series(explained, dtype=pl.Utf8),
        },
        schema_overrides={"axis2": pl.Utf8, "bucket2": pl.Utf8},
    ).with_columns(
        pl.col(c).fill_nan(None)
        for c in ("metric", "ci_low", "ci_high", "rest", "difference", "p_value", "q_value")
    )
    badness = pl.col("difference") if higher_is_better else -pl.col("difference")
    table = table.with_columns(
        (pl.col("flagged") & pl.col("explained_by").is_null()).alias("primary")
    ).sort(
        [pl.col("primary"), pl.col("flagged"), badness, pl.col("n")],
        descending=[True, True, False, True],
        nulls_last=True,
        maintain_order=True,
    )
    overall = {
        "n": N,
        "metric": S / N,
        "ci_low": float(overall_ci[0][0]),
        "ci_high": float(overall_ci[1][0]),
    }
    keep = ["path", "value", "_img", *unit_names]
    extra = [
        c
        for c in ("class", "x0", "y0", "x1", "y1", "score", "iou")
        if c in units.columns and c not in keep
    ]
    return Slices(
        table=table.select(TABLE_COLUMNS),
        metric=name,
        unit=unit,
        kind="proportion" if proportion else "mean",
        higher_is_better=higher_is_better,
        overall=overall,
        units=units.select(*keep, *extra),
        images=images.select("_img", *image_names),
        axes=axis_names,
        alpha=alpha,
        min_size=min_size,
        notes=notes,
        frame=df,
    )
