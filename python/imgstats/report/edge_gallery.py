"""The edge-case section: counts per reason and a sampled thumbnail gallery for each."""

from __future__ import annotations

import polars as pl

from imgstats.edge_cases import REASONS, edge_cases
from imgstats.report.html import basename, esc, fmt, note, section, table
from imgstats.report.thumbs import Thumbnailer

MAX_THUMBS = 12

# Which value to print under an edge-case thumbnail.
_REASON_VALUE = {
    "dark": ("brightness", "brightness"),
    "overexposed": ("brightness", "brightness"),
    "blurry": ("sharpness", "sharpness"),
    "noisy": ("noise", "noise σ"),
    "low_information": ("entropy", "entropy"),
    "odd_size": ("width", None),
    "odd_aspect": ("width", None),
    "tiny": ("width", None),
    "grayscale": ("is_grayscale", None),
}


def edge_cases_section(df: pl.DataFrame, thumbs: Thumbnailer, max_thumbs: int) -> str:
    ec = edge_cases(df)
    n = max(df.height, 1)
    counts = {r: 0 for r in REASONS}
    if ec.height:
        exploded = ec.select(pl.col("reasons").explode()).get_column("reasons").value_counts()
        counts.update(dict(zip(exploded["reasons"].to_list(), exploded["count"].to_list())))
    rows = [(r, counts[r], f"{counts[r] / n:.2%}") for r in REASONS]
    parts = [
        note(f"{ec.height:,} images flagged; thresholds in docs/coverage.md."),
        table(["reason", "images", "share"], rows),
    ]
    for reason in REASONS:
        if not counts[reason]:
            continue
        hits = ec.filter(pl.col("reasons").list.contains(reason))
        pick = hits.sample(n=min(max_thumbs, hits.height), seed=0)
        parts.append(f"<h3>{esc(reason)} ({counts[reason]:,})</h3>")
        if reason == "unreadable":
            failed = [(r["path"], r.get("error") or "") for r in pick.iter_rows(named=True)]
            parts.append(table(["path", "error"], failed))
            continue
        col, label = _REASON_VALUE.get(reason, (None, None))
        figs = []
        for r in pick.iter_rows(named=True):
            if col == "width" and r.get("width") is not None:
                value = f"{r['width']}×{r['height']}"
            elif col and label and r.get(col) is not None:
                value = f"{label} {fmt(r[col])}"
            else:
                value = ""
            cap = [basename(r["path"]), value]
            figs.append(
                thumbs.figure(r["path"], cap, title=f"{r['path']} — {', '.join(r['reasons'])}")
            )
        parts.append(f'<div class="gallery">{"".join(figs)}</div>')
    return section("edge-cases", "Edge cases", "".join(parts))
