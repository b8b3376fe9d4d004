"""The report's "Where the model fails" section: slices ranked by how much worse the model does
there, each with its interval drawn against the rest of the data, and thumbnails of the failures
(missed objects outlined in red, false positives in orange).
"""

from __future__ import annotations

import base64
import io
import time
import warnings
from typing import Any

import polars as pl

from imgstats.report.html import basename, cards, esc, note, section
from imgstats.report.thumbs import Thumbnailer
from imgstats.slices import Slices, slices

MAX_ROWS = 30
MAX_GALLERIES = 6
MAX_THUMBS = 8
#: Thumbnails of failures are larger than the other galleries' so a missed small box shows.
FAIL_PX = 150
BAR_W, BAR_H = 170, 16


def _name(r: dict[str, Any]) -> str:
    name = f"{r['axis']}={r['bucket']}"
    return name if r["axis2"] is None else f"{name} & {r['axis2']}={r['bucket2']}"


def _bar(r: dict[str, Any], lo: float, hi: float) -> str:
    """Inline SVG: the slice's interval (bar), its value (dot) and the rest (black tick)."""
    span = hi - lo or 1.0

    def x(v: float | None) -> float:
        return 4 + (BAR_W - 8) * (min(max(v if v is not None else lo, lo), hi) - lo) / span

    colour = "#c62828" if r["flagged"] else "#5b6470"
    parts = [
        f'<svg width="{BAR_W}" height="{BAR_H}" viewBox="0 0 {BAR_W} {BAR_H}" role="img">',
        f'<line x1="4" x2="{BAR_W - 4}" y1="{BAR_H / 2}" y2="{BAR_H / 2}" stroke="#d8dde3"/>',
    ]
    if r["ci_low"] is not None and r["ci_high"] is not None:
        x0, x1 = x(r["ci_low"]), x(r["ci_high"])
        parts.append(
            f'<rect x="{x0:.1f}" y="4" width="{max(x1 - x0, 1):.1f}" height="8" '
            f'fill="{colour}" opacity="0.35"/>'
        )
    if r["rest"] is not None:
        parts.append(
            f'<line x1="{x(r["rest"]):.1f}" x2="{x(r["rest"]):.1f}" y1="1" y2="{BAR_H - 1}" '
            'stroke="#1b1f24" stroke-width="2"/>'
        )
    parts.append(f'<circle cx="{x(r["metric"]):.1f}" cy="{BAR_H / 2}" r="3.5" fill="{colour}"/>')
    return "".join(parts) + "</svg>"


def _fmt(v: Any, pct: bool) -> str:
    if v is None:
        return "–"
    return f"{v:.1%}" if pct else f"{v:.3g}"


def _table(sl: Slices, rows: pl.DataFrame) -> str:
    pct = sl.kind == "proportion"
    values = [v for c in ("ci_low", "ci_high", "rest", "metric") for v in rows[c].to_list()]
    finite = [v for v in values if v is not None]
    lo, hi = (0.0, 1.0) if pct else (min(finite, default=0.0), max(finite, default=1.0))
    head = ["#", "slice", "n", sl.metric, "95% interval · rest (|)", "rest", "difference", "q"]
    head.append("verdict")
    out = ["<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr></thead>"]
    out.append("<tbody>")
    for i, r in enumerate(rows.iter_rows(named=True), start=1):
        if r["primary"]:
            verdict = '<b class="bad">flagged</b>'
        elif r["flagged"]:
            verdict = f"flagged, explained by <code>{esc(r['explained_by'])}</code>"
        elif r["test"] is None:
            verdict = f'<span class="note">not tested (n &lt; {sl.min_size})</span>'
        else:
            verdict = '<span class="note">within noise</span>'
        diff = r["difference"]
        diff_text = "–" if diff is None else (f"{diff * 100:+.1f} pts" if pct else f"{diff:+.3g}")
        cls = ' class="flag"' if r["primary"] else ""
        cells = [
            str(i),
            esc(_name(r)),
            f"{r['n']:,}",
            _fmt(r["metric"], pct),
            _bar(r, lo, hi),
            _fmt(r["rest"], pct),
            diff_text,
            "–" if r["q_value"] is None else f"{r['q_value']:.2g}",
            verdict,
        ]
        tds = "".join(
            f'<td class="n">{c}</td>' if j in (0, 2, 3, 5, 6, 7) else f"<td>{c}</td>"
            for j, c in enumerate(cells)
        )
        out.append(f"<tr{cls}>{tds}</tr>")
    return "".join(out) + "</tbody></table>"


def _failure_thumb(
    thumbs: Thumbnailer, path: str, boxes: list[tuple[float, float, float, float]], colour: str
) -> str | None:
    """A base64 JPEG of ``path`` with ``boxes`` outlined, within the thumbnailer's budget."""
    if not thumbs.enabled:
        return None
    if thumbs.made >= thumbs.max_images or time.monotonic() > thumbs.deadline:
        thumbs.skipped += 1
        return None
    thumbs.made += 1
    try:
        from PIL import Image, ImageDraw, ImageOps

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as opened:
                im = ImageOps.exif_transpose(opened).convert("RGB")
                scale = FAIL_PX / max(im.size)
                if scale < 1:
                    im = im.resize(
                        (max(1, round(im.width * scale)), max(1, round(im.height * scale)))
                    )
                else:
                    scale = 1.0
                draw = ImageDraw.Draw(im)
                for x0, y0, x1, y1 in boxes:
                    draw.rectangle(
                        [x0 * scale - 1, y0 * scale - 1, x1 * scale + 1, y1 * scale + 1],
                        outline=colour,
                        width=2,
                    )
                buf = io.BytesIO()
                im.save(buf, format="JPEG", quality=80)
        return base64.b64encode(buf.getvalue()).decode("ascii")
    except Exception:  # missing or unreadable file: a placeholder, never a crash
        return None


def _gallery(sl: Slices, row: dict[str, Any], thumbs: Thumbnailer, max_thumbs: int) -> str:
    failed = sl.members(row).filter(sl.failed())
    has_boxes = {"x0", "y0", "x1", "y1"} <= set(failed.columns)
    what = {"object": "missed", "prediction": "false positive"}.get(sl.unit, "failed")
    colour = "#ff1744" if sl.unit == "object" else "#ff9100"
    per_image = (
        failed.group_by("path")
        .agg(
            pl.len().alias("fails"),
            *(
                [pl.concat_list("x0", "y0", "x1", "y1").alias("boxes")]
                if has_boxes
                else [pl.lit(None).alias("boxes")]
            ),
        )
        .sort(["fails", "path"], descending=[True, False])
        .head(max_thumbs)
    )
    figs = []
    for r in per_image.iter_rows(named=True):
        boxes = [tuple(b) for b in r["boxes"]] if has_boxes and r["boxes"] else []
        data = _failure_thumb(thumbs, r["path"], boxes, colour)
        tip = esc(f"{r['path']}: {r['fails']} {what} in {_name(row)}")
        img = (
            f'<img src="data:image/jpeg;base64,{data}" alt="{tip}" title="{tip}">'
            if data
            else f'<div class="ph" title="{tip}">no preview</div>'
        )
        caption = f"{esc(basename(r['path']))}<br>{r['fails']} {what}"
        figs.append(f'<figure class="fail">{img}<figcaption>{caption}</figcaption></figure>')
    head = (
        f"<h3>{esc(_name(row))}: {sl.metric} {_fmt(row['metric'], sl.kind == 'proportion')} "
        f"vs {_fmt(row['rest'], sl.kind == 'proportion')} elsewhere "
        f'<span class="note">({failed.height:,} {what} {sl.unit}s)</span></h3>'
    )
    return head + f'<div class="gallery">{"".join(figs)}</div>'


STYLE = "<style>figure.fail{width:162px}figure.fail img{max-width:156px;max-height:156px}</style>"


def slices_section(
    df: pl.DataFrame,
    res: Any,
    thumbs: Thumbnailer,
    *,
    max_rows: int = MAX_ROWS,
    max_galleries: int = MAX_GALLERIES,
    max_thumbs: int = MAX_THUMBS,
) -> str:
    """HTML for `imgstats.report(..., results=...)`; ``res`` is a `Results`, a classification
    frame or an already computed `Slices`."""
    title = "Where the model fails"
    try:
        sl = res if isinstance(res, Slices) else slices(df, res, metric=None)
    except (ValueError, ImportError) as exc:
        return section("slices", title, note(f"Slices not computed: {exc}", "warn"))
    t = sl.table
    o = sl.overall
    pct = sl.kind == "proportion"
    items = [
        (f"{sl.metric} per {sl.unit}", f"{_fmt(o['metric'], pct)}"),
        ("95% interval", f"{_fmt(o['ci_low'], pct)}–{_fmt(o['ci_high'], pct)}"),
        ("slices tested", f"{int(t['test'].is_not_null().sum()):,} of {t.height:,}"),
        ("flagged", f"{sl.flagged.height:,}"),
        ("standing on their own", f"{int(t['primary'].sum()):,}"),
    ]
    parts = [
        STYLE,
        cards(items),
        note(
            f"Each slice is an environment bucket (or a pair of buckets on two axes) compared "
            f"with the rest of the data. Flagged: worse than the rest with a Benjamini–Hochberg "
            f"q ≤ {sl.alpha} over all tested slices (slices and complements of ≥ {sl.min_size} "
            f"{sl.unit}s). A flagged slice 'explained by' another is a consequence of it (night × "
            "site=a is just night); the rest stand on their own. See docs/slices.md."
        ),
    ]
    for n in sl.notes:
        parts.append(note(n, "warn"))
    flagged = t.filter(pl.col("flagged"))
    if flagged.height:
        shown = flagged.head(max_rows)
        parts.append(_table(sl, shown))
        if flagged.height > shown.height:
            parts.append(note(f"… and {flagged.height - shown.height:,} more flagged slices."))
    else:
        parts.append(note("No slice is significantly worse than the rest. The worst tested:"))
        tested = t.filter(pl.col("test").is_not_null()).head(10)
        parts.append(_table(sl, tested))
    primary = t.filter(pl.col("primary")).head(max_galleries)
    if primary.height:
        parts.append("<h3>Examples of failures in the flagged slices</h3>")
        for row in primary.iter_rows(named=True):
            parts.append(_gallery(sl, row, thumbs, max_thumbs))
    return section("slices", title, "".join(parts))
