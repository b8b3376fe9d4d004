"""The first two sections of the report: summary cards and tables (formats, sizes, splits,
failures), and one histogram per numeric statistic (per split when splits are given)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.report.html import (
    PALETTE,
    cards,
    esc,
    fmt,
    fmt_bytes,
    histogram_svg,
    legend,
    note,
    section,
    table,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: (column, log10 x-axis) for the histogram section, in display order.
HIST_COLUMNS: tuple[tuple[str, bool], ...] = (
    ("brightness", False),
    ("contrast", False),
    ("dark_fraction", False),
    ("bright_fraction", False),
    ("sharpness", True),
    ("blur", True),
    ("noise", False),
    ("entropy", False),
    ("colorfulness", False),
    ("haze", False),
    ("saturation", False),
    ("warmth", False),
    ("tint", False),
    ("motion_blur", False),
    ("width", False),
    ("height", False),
    ("file_size", True),
    ("jpeg_quality", False),
)
HIST_BINS = 40
MAX_SPLITS = len(PALETTE)


def summary_section(df: pl.DataFrame, split: str | None, notes: Sequence[str]) -> str:
    n = df.height
    failed = df.select(pl.col("error").is_not_null().sum()).item() if "error" in df.columns else 0
    items = [("images", fmt(n)), ("readable", fmt(n - failed))]
    items.append(("failed to read", f"{fmt(failed)} ({failed / n:.1%})" if n else "0"))
    if "file_size" in df.columns:
        items.append(("total size", fmt_bytes(float(df.get_column("file_size").sum() or 0))))
    if split:
        items.append(("splits", fmt(df.get_column(split).n_unique())))
    body = [cards(items)]
    if notes:
        body.append("<ul>" + "".join(f'<li class="warn">{esc(s)}</li>' for s in notes) + "</ul>")
    blocks = []
    if "format" in df.columns:
        f = df.get_column("format").fill_null("(failed)").value_counts(sort=True)
        rows = [(v, c, f"{c / n:.1%}") for v, c in f.head(12).iter_rows()]
        blocks.append(
            "<div><h3>Formats</h3>" + table(["format", "images", "share"], rows) + "</div>"
        )
    if {"width", "height"} <= set(df.columns):
        sizes = (
            df.filter(pl.col("width").is_not_null())
            .group_by("width", "height")
            .len()
            .sort(["len", "width", "height"], descending=[True, False, False])
            .head(8)
        )
        rows = [(f"{w}×{h}", c, f"{c / n:.1%}") for w, h, c in sizes.iter_rows()]
        blocks.append(
            "<div><h3>Top sizes</h3>" + table(["size", "images", "share"], rows) + "</div>"
        )
    if split:
        s = df.get_column(split).cast(pl.Utf8).fill_null("(none)").value_counts(sort=True)
        rows = [(v, c, f"{c / n:.1%}") for v, c in s.head(20).iter_rows()]
        blocks.append("<div><h3>Splits</h3>" + table(["split", "images", "share"], rows) + "</div>")
    if failed:
        errs = (
            df.filter(pl.col("error").is_not_null())
            .group_by("error")
            .agg(pl.len(), pl.col("path").first().alias("example"))
            .sort(["len", "error"], descending=[True, False])
            .head(10)
        )
        rows = [(e, c, p) for e, c, p in errs.select("error", "len", "example").iter_rows()]
        blocks.append(
            "<div><h3>Failures</h3>" + table(["error", "images", "example"], rows) + "</div>"
        )
    body.append('<div class="grid">' + "".join(blocks) + "</div>")
    return section("summary", "Summary", "".join(body))


def _split_values(df: pl.DataFrame, split: str | None) -> list[str]:
    if not split:
        return []
    counts = df.get_column(split).cast(pl.Utf8).fill_null("(none)").value_counts(sort=True)
    return [str(v) for v in counts.get_column(split).head(MAX_SPLITS).to_list()]


def histograms_section(df: pl.DataFrame, split: str | None, bins: int) -> str:
    splits = _split_values(df, split)
    codes = None
    if split and splits:
        # Integer split codes: comparing a million-element object array per split is slow.
        codes = (
            df.get_column(split)
            .cast(pl.Utf8)
            .fill_null("(none)")
            .replace_strict(splits, list(range(len(splits))), default=-1, return_dtype=pl.Int32)
            .to_numpy()
        )
    figs = []
    for col, log in HIST_COLUMNS:
        if col not in df.columns or not df.schema[col].is_numeric():
            continue
        values = df.get_column(col).cast(pl.Float64).to_numpy()
        ok = np.isfinite(values)
        dropped = 0
        if log:
            pos = ok & (values > 0)
            dropped = int(ok.sum() - pos.sum())
            ok = pos
            with np.errstate(divide="ignore", invalid="ignore"):
                values = np.where(pos, np.log10(np.where(pos, values, 1.0)), np.nan)
        if not ok.any():
            continue
        finite = values[ok]
        lo, hi = np.quantile(finite, [0.005, 0.995])
        if hi <= lo:
            lo, hi = float(finite.min()) - 0.5, float(finite.max()) + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        series: dict[str, np.ndarray] = {}
        groups = (
            [(s, codes == i) for i, s in enumerate(splits)]
            if codes is not None
            else [("all", None)]
        )
        for name, mask in groups:
            v = finite if mask is None else values[ok & mask]
            # Values past the 0.5/99.5 percentiles are clamped into the end bins, so long tails
            # do not squash the plot yet every image is counted.
            counts, _ = np.histogram(np.clip(v, lo, hi), bins=edges)
            series[name] = counts
        med = float(np.median(finite))
        sub = f"n={fmt(int(ok.sum()))}, median {fmt(10**med if log else med)}"
        if log:
            sub += ", log scale"
        if dropped:
            sub += f", {fmt(dropped)} ≤ 0 not shown"
        figs.append(
            histogram_svg(col, edges, series, log=log, subtitle=sub, as_bytes=col == "file_size")
        )
    if not figs:
        return section("statistics", "Statistics", note("No numeric statistic in the frame."))
    head = legend(splits) if splits else ""
    explain = note(
        "Shares of images per bin (per split when splits are given); the x-axis spans the "
        "0.5–99.5 percentiles and the end bins hold the tails."
    )
    return section(
        "statistics", "Statistics", head + explain + f'<div class="grid">{"".join(figs)}</div>'
    )
