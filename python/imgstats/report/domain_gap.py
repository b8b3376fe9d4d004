"""Report panel "Can you tell which is which?": the five-minute domain-gap test, by eye and model.

Ten random reference and ten random current thumbnails, shuffled and numbered, with the key
hidden in a ``<details>`` element below (show the grid to a teammate first, then open it), next
to the AUC of `imgstats.domain_gap` (a classifier asked the same question on the statistics) and
the features that give the sets away.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from imgstats.report.html import esc, fmt, note, section, table
from imgstats.report.thumbs import Thumbnailer

#: Thumbnails per side in the panel.
PANEL_PER_SIDE = 10
#: Rows per side given to the classifier in the report (a random sample beyond).
GAP_SAMPLE = 50_000
TOP_FEATURES = 8


def _verdict(auc: float, low: float) -> str:
    if low > 0.6:
        return "the classifier tells them apart: there is a domain gap"
    if auc < 0.6:
        return "the classifier cannot tell them apart: no detectable gap"
    return "a weak signal: the classifier does a little better than chance"


def _sample(df: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    return df if df.height <= n else df.sample(n=n, seed=seed)


def _gap_html(reference: pl.DataFrame, current: pl.DataFrame, seed: int) -> str:
    from imgstats.domain_gap import domain_gap

    try:
        gap = domain_gap(
            _sample(reference, GAP_SAMPLE, seed), _sample(current, GAP_SAMPLE, seed), seed=seed
        )
    except ImportError as exc:
        return note(f"Domain-gap classifier not run: {exc}.")
    except ValueError as exc:
        return note(f"Domain-gap classifier not run: {exc}.")
    lo, hi = gap.auc_ci
    head = (
        f"<p><b>AUC {gap.auc:.3f}</b> (95 % CI {lo:.3f}–{hi:.3f}; 0.5 = indistinguishable, "
        f"1 = always told apart): {esc(_verdict(gap.auc, lo))}.</p>"
    )
    rows = [
        (r["feature"], fmt(r["importance"]), fmt(r["importance_std"]))
        for r in gap.features.head(TOP_FEATURES).iter_rows(named=True)
    ]
    return (
        head
        + note(
            "Out-of-fold ROC AUC of a gradient-boosted classifier (5-fold, stratified) on the "
            "statistics and buckets; importance = drop of the held-out AUC when the feature "
            "is shuffled."
        )
        + table(["feature", "importance (AUC drop)", "± std"], rows, numeric=[False, True, True])
    )


def domain_gap_section(
    reference: pl.DataFrame,
    current: pl.DataFrame,
    thumbs: Thumbnailer,
    *,
    per_side: int = PANEL_PER_SIDE,
    seed: int = 0,
) -> str:
    """The panel's HTML: the shuffled thumbnail test with its key, the AUC and top features."""
    picks: list[tuple[str, Any]] = []
    for side, df in (("reference", reference), ("current", current)):
        if "path" in df.columns and df.height:
            ok = df.filter(pl.col("error").is_null()) if "error" in df.columns else df
            paths = _sample(ok.select("path"), per_side, seed)["path"].to_list()
            picks.extend((side, p) for p in paths)
    order = pl.Series(range(len(picks))).shuffle(seed=seed).to_list()
    shuffled = [picks[i] for i in order]
    # Captions and tooltips carry only the number: a path would give the answer away.
    gallery = "".join(
        thumbs.figure(path, f"#{i + 1}", title=f"#{i + 1}") for i, (_, path) in enumerate(shuffled)
    )
    key = ", ".join(f"#{i + 1} {side}" for i, (side, _) in enumerate(shuffled))
    body = (
        note(
            f"{len(shuffled)} images, half from the reference and half from the current set, "
            "shuffled. Ask a teammate to sort them before opening the key."
        )
        + f'<div class="gallery">{gallery}</div>'
        + f"<details><summary>Show the key</summary><p>{esc(key)}</p></details>"
        + _gap_html(reference, current, seed)
    )
    return section("domain-gap", "Can you tell which is which?", body)
