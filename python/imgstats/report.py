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
from typing import TYPE_CHECKING, Any

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.coverage import DEFAULT_MIN_COUNT, coverage, gaps
from imgstats.drift import drift
from imgstats.edge_cases import REASONS, edge_cases
from imgstats.report_html import (
    CSS,
    PALETTE,
    basename,
    cards,
    esc,
    fmt,
    fmt_bytes,
    heat_color,
    histogram_svg,
    legend,
    note,
    section,
    table,
)
from imgstats.report_pairs import duplicates_section, leakage_section
from imgstats.report_thumbs import THUMB_PX, Thumbnailer

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
    ("width", False),
    ("height", False),
    ("file_size", True),
    ("jpeg_quality", False),
)
HIST_BINS = 40
MAX_THUMBS = 12
MAX_GROUPS = 12
MAX_HEAT_ROWS = 40
MAX_SPLITS = len(PALETTE)
DRIFT_SAMPLE = 200_000
TRAIN_NAMES = ("train", "training")

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


# --------------------------------------------------------------------------------------- summary


def _summary(df: pl.DataFrame, split: str | None, notes: Sequence[str]) -> str:
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


# ------------------------------------------------------------------------------------ histograms


def _split_values(df: pl.DataFrame, split: str | None) -> list[str]:
    if not split:
        return []
    counts = df.get_column(split).cast(pl.Utf8).fill_null("(none)").value_counts(sort=True)
    return [str(v) for v in counts.get_column(split).head(MAX_SPLITS).to_list()]


def _histograms(df: pl.DataFrame, split: str | None, bins: int) -> str:
    splits = _split_values(df, split)
    codes = None
    if splits:
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


# -------------------------------------------------------------------------------------- coverage


def _coverage(df: pl.DataFrame, by: str | None, min_count: int) -> str:
    try:
        cov = coverage(df, by=by)
    except ValueError as exc:
        return section("coverage", "Coverage", note(f"Coverage not computed: {exc}", "warn"))
    by_name = cov.columns[0]
    groups = (
        cov.select(by_name, "by_total")
        .unique(maintain_order=True)
        .sort(["by_total"], descending=True, maintain_order=True)
    )
    shown = groups.head(MAX_HEAT_ROWS).get_column(by_name).to_list()
    parts = [
        note(
            f"Images per {by_name if by else 'dataset'} and environment bucket; colour = share of "
            f"the row. Cells outlined in red have fewer than {min_count} images (hatched: none) "
            "— the collection plan below lists them."
        )
    ]
    if groups.height > MAX_HEAT_ROWS:
        parts.append(note(f"Showing the {MAX_HEAT_ROWS} largest of {groups.height} groups."))
    gp = gaps(cov, min_count=min_count)
    # Outline exactly the cells `gaps` lists, so the picture and the plan agree.
    gap_cells = set(gp.select(by_name, "axis", "bucket").iter_rows())
    tables = []
    for axis in cov.get_column("axis").unique(maintain_order=True).to_list():
        sub = cov.filter(pl.col("axis") == axis)
        buckets = sub.get_column("bucket").unique(maintain_order=True).to_list()
        source = sub.get_column("source")[0]
        head = "".join(f"<th>{esc(b)}</th>" for b in buckets)
        cells = {
            (g, b): (c, s)
            for g, b, c, s in sub.select(by_name, "bucket", "count", "share").iter_rows()
        }
        rows = []
        for g in shown:
            tds = []
            for b in buckets:
                c, s = cells.get((g, b), (0, 0.0))
                cls = []
                if (g, axis, b) in gap_cells:
                    cls.append("gap")
                    if c == 0:
                        cls.append("empty")
                style = (
                    ""
                    if c == 0
                    else f' style="background:{heat_color(s)}'
                    + (';color:#fff"' if s > 0.6 else '"')
                )
                klass = f' class="{" ".join(cls)}"' if cls else ""
                tip = f"{g} / {axis}={b}: {c} images ({s:.1%})"
                tds.append(f'<td{klass}{style} title="{esc(tip)}">{c:,}</td>')
            label = "(none)" if g is None else g
            rows.append(
                f'<tr><th class="row" title="{esc(label)}">{esc(label)}</th>{"".join(tds)}</tr>'
            )
        src = f' <span class="note">from {esc(source)}</span>'
        tables.append(
            f'<div class="scroll"><h3>{esc(axis)}{src}</h3><table class="heat"><thead><tr>'
            f"<th>{esc(by_name)}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    parts.append('<div class="grid">' + "".join(tables) + "</div>")
    parts.append(f"<h3>Collection plan: {gp.height:,} empty or thin cells</h3>")
    if gp.height:
        rows = [
            (str(r[by_name]), r["axis"], r["bucket"], r["count"], r["needed"], r["status"])
            for r in gp.head(40).iter_rows(named=True)
        ]
        parts.append(table([by_name, "axis", "bucket", "images", "to collect", "status"], rows))
        if gp.height > 40:
            parts.append(note(f"… and {gp.height - 40:,} more (imgstats.gaps(cov) lists all)."))
    return section("coverage", "Coverage", "".join(parts))


# ----------------------------------------------------------------------------------------- drift


def _sample(df: pl.DataFrame, n: int) -> pl.DataFrame:
    return df if df.height <= n else df.sample(n=n, seed=0)


def _drift_table(res: pl.DataFrame) -> str:
    stats = res.filter(pl.col("kind") == "statistic")
    rows, classes = [], []
    for r in stats.iter_rows(named=True):
        rows.append(
            (
                r["column"],
                r["reference_mean"],
                r["current_mean"],
                r["psi"],
                r["ks_statistic"],
                r["ks_pvalue"],
                r["wasserstein_norm"],
                ", ".join(r["reasons"]) or "–",
            )
        )
        classes.append("flag" if r["flag"] else "")
    head = ["statistic", "ref mean", "cur mean", "PSI", "KS D", "KS p", "W₁/IQR", "flag"]
    out = table(head, rows, numeric=[False] + [True] * 6 + [False], row_class=classes)
    buckets = res.filter((pl.col("kind") == "bucket") & pl.col("flag"))
    axes = res.filter(pl.col("kind") == "axis")
    if axes.height:
        arows = [
            (r["column"], r["psi"], "yes" if r["flag"] else "–") for r in axes.iter_rows(named=True)
        ]
        out += "<h3>Bucket axes (PSI over bucket shares)</h3>" + table(
            ["axis", "PSI", "flag"],
            arows,
            numeric=[False, True, False],
            row_class=["flag" if r["flag"] else "" for r in axes.iter_rows(named=True)],
        )
    if buckets.height:
        brows = [
            (
                r["column"],
                r["bucket"],
                f"{r['reference_share']:.1%}",
                f"{r['current_share']:.1%}",
                f"{r['share_shift'] * 100:+.1f} pts",
            )
            for r in buckets.iter_rows(named=True)
        ]
        out += "<h3>Buckets whose share moved</h3>" + table(
            ["axis", "bucket", "reference", "current", "shift"],
            brows,
            numeric=[False, False, True, True, True],
        )
    return out


def _drift(
    df: pl.DataFrame, split: str | None, reference: pl.DataFrame | None, sample: int
) -> str | None:
    comparisons: list[tuple[str, pl.DataFrame, pl.DataFrame]] = []
    if reference is not None:
        comparisons.append(("reference → this dataset", reference, df))
    elif split:
        names = df.get_column(split).cast(pl.Utf8)
        values = [v for v in names.unique().sort().to_list() if v is not None]
        train = next((v for v in values if v.lower() in TRAIN_NAMES), None)
        if train is None or len(values) < 2:
            return None
        ref = df.filter(names == train)
        for v in values:
            if v != train:
                comparisons.append((f"{train} → {v}", ref, df.filter(names == v)))
    else:
        return None
    parts = [
        note(
            "PSI over reference-decile bins (> 0.2), two-sample Kolmogorov–Smirnov D (> 0.1), "
            "Wasserstein-1 in reference IQRs (> 0.25), bucket shares moving by more than 5 "
            "points; a flag also needs the difference to be significant (p < 0.01). "
            "See docs/coverage.md."
        )
    ]
    for title, ref, cur in comparisons:
        sampled = ref.height > sample or cur.height > sample
        res = drift(_sample(ref, sample), _sample(cur, sample))
        flagged = res.filter(pl.col("flag"))
        n_stat = flagged.filter(pl.col("kind") == "statistic").height
        n_bucket = flagged.filter(pl.col("kind") == "bucket").height
        parts.append(
            f"<h3>{esc(title)}: {n_stat} statistics and {n_bucket} bucket shares flagged</h3>"
        )
        if sampled:
            parts.append(note(f"Computed on a random sample of ≤ {sample:,} images per side."))
        parts.append(_drift_table(res))
    return section("drift", "Drift", "".join(parts))


# ------------------------------------------------------------------------------------ edge cases


def _edge_cases(df: pl.DataFrame, thumbs: Thumbnailer, max_thumbs: int) -> str:
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
            rows = [(r["path"], r.get("error") or "") for r in pick.iter_rows(named=True)]
            parts.append(table(["path", "error"], rows))
            continue
        col, label = _REASON_VALUE.get(reason, (None, None))
        figs = []
        for r in pick.iter_rows(named=True):
            if col == "width" and r.get("width") is not None:
                value = f"{r['width']}×{r['height']}"
            elif label and r.get(col) is not None:
                value = f"{label} {fmt(r[col])}"
            else:
                value = ""
            cap = [basename(r["path"]), value]
            figs.append(
                thumbs.figure(r["path"], cap, title=f"{r['path']} — {', '.join(r['reasons'])}")
            )
        parts.append(f'<div class="gallery">{"".join(figs)}</div>')
    return section("edge-cases", "Edge cases", "".join(parts))


# ---------------------------------------------------------------------------------------- report


def report(
    df: pl.DataFrame,
    path: str | os.PathLike[str],
    split: str | None = None,
    by: str | None = None,
    duplicates: pl.DataFrame | None = None,
    leakage: Any = None,
    reference: pl.DataFrame | None = None,
    title: str = "imgstats audit",
    *,
    notes: Sequence[str] = (),
    min_count: int = DEFAULT_MIN_COUNT,
    thumbnails: bool = True,
    max_thumbs: int = MAX_THUMBS,
    thumb_px: int = THUMB_PX,
    hist_bins: int = HIST_BINS,
    drift_sample: int = DRIFT_SAMPLE,
    max_groups: int = MAX_GROUPS,
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
        title: page title. ``notes``: extra lines shown in the summary (e.g. skipped sections).
        min_count: coverage cells below this are gaps.
        thumbnails, max_thumbs, thumb_px: embedded thumbnails (≤ ``max_thumbs`` per gallery,
            ≤ ``thumb_px`` px, made from the ``path`` column with Pillow).
        hist_bins: bins per histogram. drift_sample: rows per side used for drift.
        max_groups: duplicate groups shown (leakage shows as many closest pairs).
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
    sections = [(_summary(df, split, list(notes)), "summary", "Summary")]
    sections.append((_histograms(df, split, hist_bins), "statistics", "Statistics"))
    sections.append((_coverage(df, by or split, min_count), "coverage", "Coverage"))
    d = _drift(df, split, reference, drift_sample)
    if d:
        sections.append((d, "drift", "Drift"))
    if reference is not None:
        from imgstats.report_domain_gap import domain_gap_section

        gap_html = domain_gap_section(reference, df, thumbs)
        sections.append((gap_html, "domain-gap", "Which is which?"))
    sections.append((_edge_cases(df, thumbs, max_thumbs), "edge-cases", "Edge cases"))
    if duplicates is not None:
        sections.append(
            (duplicates_section(duplicates, thumbs, max_groups), "duplicates", "Duplicates")
        )
    if leakage is not None:
        sections.append((leakage_section(leakage, thumbs, max_groups), "leakage", "Leakage"))

    try:
        from imgstats import __version__ as version
    except ImportError:  # pragma: no cover - only when the extension is not built
        version = "?"
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    nav = "".join(f'<a href="#{a}">{esc(t)}</a>' for _, a, t in sections)
    elapsed = time.monotonic() - start
    skipped = f" {thumbs.skipped} thumbnails skipped (budget)." if thumbs.skipped else ""
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{df.height:,} images · generated {esc(now)} "
        f"by imgstats {esc(version)}</p></header><nav>{nav}</nav><main>"
        + "".join(s for s, _, _ in sections)
        + f"<footer>Built in {elapsed:.1f} s; {thumbs.made} thumbnails decoded.{skipped} "
        "No scripts, no external resources.</footer></main></body></html>"
    )
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out
