"""`report`: one self-contained HTML audit page (inline CSS and SVG, embedded thumbnails, no
JavaScript, nothing fetched) that a colleague can open offline.

Sections: summary, statistic histograms (per split), coverage heat map with gaps, drift, edge-case
galleries, duplicate groups and leakage pairs. Everything drawn is aggregated (histogram bins,
cross-tab cells) or sampled (at most ``max_thumbs`` thumbnails per gallery), so the page stays small
and quick for a million images; drift runs on at most ``drift_sample`` rows per side.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import polars as pl

from imgstats._imgstats import __version__
from imgstats.coverage import DEFAULT_MIN_COUNT
from imgstats.report.drift_table import DRIFT_SAMPLE, drift_section
from imgstats.report.edge_gallery import MAX_THUMBS, edge_cases_section
from imgstats.report.heatmap import coverage_section
from imgstats.report.html import CSS, esc
from imgstats.report.overview import HIST_BINS, histograms_section, summary_section
from imgstats.report.pairs import LeakageArg, duplicates_section, leakage_section
from imgstats.report.thumbs import THUMB_PX, Thumbnailer

MAX_GROUPS = 12


def report(
    df: pl.DataFrame | pl.LazyFrame,
    path: str | os.PathLike[str],
    split: str | None = None,
    by: str | None = None,
    duplicates: pl.DataFrame | None = None,
    leakage: LeakageArg | None = None,
    reference: pl.DataFrame | pl.LazyFrame | None = None,
    title: str = "imgstats audit",
    *,
    results: Any = None,
    notes: Sequence[str] = (),
    min_count: int = DEFAULT_MIN_COUNT,
    thumbnails: bool = True,
    max_thumbs: int = MAX_THUMBS,
    thumb_px: int = THUMB_PX,
    hist_bins: int = HIST_BINS,
    drift_sample: int = DRIFT_SAMPLE,
    max_groups: int = MAX_GROUPS,
    labels: Any = None,
) -> Path:
    """Write a self-contained HTML audit of a scan frame to ``path`` and return the path.

    Args:
        df: the scan frame (`imgstats.scan`), optionally joined with labels.
        path: output ``.html`` file.
        split: column with the split (train/val/test): per-split histograms, and drift from the
            ``train`` split to each other split when ``reference`` is not given.
        by: coverage rows (``"class"``); defaults to ``split``, else one row for the dataset.
        duplicates: `imgstats.duplicates` output (path, group_id, group_size, representative,
            distance, exact) -- shows the largest groups side by side.
        leakage: `imgstats.leakage` output (an object with a ``.pairs`` frame: split, path,
            matched_split, matched_path, distance) or that frame itself.
        reference: another scan (e.g. training data) to compute drift against; also adds the
            "Can you tell which is which?" panel (shuffled thumbnails of both sets with a hidden
            key, and the `imgstats.domain_gap` AUC with its top features).
        results: `imgstats.results` output (or a classification frame, or `imgstats.slices`
            output): adds "Where the model fails", slices ranked with thumbnails of failures.
        title: page title. ``notes``: extra lines shown in the summary (e.g. skipped sections).
        min_count: coverage cells below this are gaps.
        thumbnails, max_thumbs, thumb_px: embedded thumbnails (≤ ``max_thumbs`` per gallery,
            ≤ ``thumb_px`` px, made from the ``path`` column with Pillow).
        hist_bins: bins per histogram. drift_sample: rows per side used for drift.
        max_groups: duplicate groups shown (leakage shows as many closest pairs).
        labels: an `imgstats.labels` result: adds the detection-labels section (findings, class
            and box-size histograms, the class × axis table, a spot-check gallery of box crops).
    """
    start = time.monotonic()
    # scan(..., output=...) returns a LazyFrame over the Parquet file; the report needs rows.
    df = df.collect() if isinstance(df, pl.LazyFrame) else df
    if isinstance(reference, pl.LazyFrame):
        reference = reference.collect()
    if "path" not in df.columns:
        raise ValueError("report needs a 'path' column")
    for name, col in (("split", split), ("by", by)):
        if col is not None and col not in df.columns:
            raise ValueError(f"{name} column {col!r} not in the frame")
    thumbs = Thumbnailer(thumbnails, px=thumb_px)
    sections = [(summary_section(df, split, list(notes)), "summary", "Summary")]
    sections.append((histograms_section(df, split, hist_bins), "statistics", "Statistics"))
    sections.append((coverage_section(df, by or split, min_count), "coverage", "Coverage"))
    if labels is not None:
        from imgstats.report.labels import labels_section

        sections.append((labels_section(labels, df, thumbs, min_count), "labels", "Labels"))
    d = drift_section(df, split, reference, drift_sample)
    if d:
        sections.append((d, "drift", "Drift"))
    if reference is not None:
        from imgstats.report.domain_gap import domain_gap_section

        gap_html = domain_gap_section(reference, df, thumbs)
        sections.append((gap_html, "domain-gap", "Which is which?"))
    sections.append((edge_cases_section(df, thumbs, max_thumbs), "edge-cases", "Edge cases"))
    if duplicates is not None:
        sections.append(
            (duplicates_section(duplicates, thumbs, max_groups), "duplicates", "Duplicates")
        )
    if leakage is not None:
        sections.append((leakage_section(leakage, thumbs, max_groups), "leakage", "Leakage"))
    if results is not None:
        from imgstats.report.slices import slices_section

        sections.append((slices_section(df, results, thumbs), "slices", "Where the model fails"))

    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for _, a, t in sections)
    elapsed = time.monotonic() - start
    skipped = f" {thumbs.skipped} thumbnails skipped (budget)." if thumbs.skipped else ""
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{df.height:,} images · generated {esc(now)} "
        f"by imgstats {esc(__version__)}</p></header><nav>{nav}</nav><main>"
        + "".join(s for s, _, _ in sections)
        + f"<footer>Built in {elapsed:.1f} s; {thumbs.made} thumbnails decoded.{skipped} "
        "No scripts, no external resources.</footer></main></body></html>"
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
