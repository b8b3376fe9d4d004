"""The report's detection-labels section (``report(..., labels=lab)``).

Class histogram per split, box-size histogram at imgsz per class, the one-page class × axis
table (lighting, weather, camera, occlusion ...: rows are classes, empty cells outlined: the
collection plan), the findings table with example thumbnails, and a spot-check gallery of box
crops per class that link back to the image and the label line. Like the rest of the report:
inline HTML/SVG, embedded JPEGs, no scripts.
"""

from __future__ import annotations

import base64
import io
import os
import time
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.report.html import (
    PALETTE,
    basename,
    cards,
    esc,
    heat_color,
    histogram_svg,
    legend,
    note,
    section,
    table,
)

if TYPE_CHECKING:
    import numpy as np

    from imgstats.report.thumbs import Thumbnailer
else:
    np = LazyModule("numpy")

#: Box crops per class in the spot-check gallery, from different images where possible.
MAX_CROPS_PER_CLASS = 50
#: Classes shown in the gallery and the box-size histograms (most objects first).
MAX_CLASSES = 30
CROP_PX = 88
MAX_CROP_SECONDS = 40.0
FINDING_THUMBS = 6

LABELS_CSS = """
.bars td.bar{min-width:160px} .bars .b{height:11px;display:inline-block;vertical-align:middle}
.audit th.ax{text-align:center;background:#e9eef3} .audit td{min-width:38px}
.audit th.row{position:sticky;left:0;background:#fff}
.crops figure{width:96px} .crops img{max-width:92px;max-height:92px}
tr.sev-error td:first-child{color:var(--bad);font-weight:700}
tr.sev-warning td:first-child{color:var(--warn);font-weight:700}
@media print{nav{display:none}.scroll{overflow:visible}}
"""


def _file_link(path: str | None, text: str, line: int | None = None) -> str:
    if not path:
        return esc(text)
    href = "file://" + quote(os.path.abspath(path))
    suffix = f":{line}" if line is not None else ""
    return f'<a href="{esc(href)}" title="{esc(path + suffix)}">{esc(text)}</a>'


def _class_histogram(lab: Any) -> str:
    counts = lab.boxes.group_by("class", "split").len()
    splits = [s for s in lab.images.get_column("split").unique(maintain_order=True).to_list()]
    order = (
        counts.group_by("class")
        .agg(pl.col("len").sum())
        .sort(["len", "class"], descending=[True, False])
        .get_column("class")
        .to_list()
    )
    names = [n for n in lab.names if n not in order]
    cells = {(c, s): n for c, s, n in counts.iter_rows()}
    peak = max([n for n in cells.values()] or [1])
    head = "".join(f"<th>{esc(s if s is not None else '(no split)')}</th>" for s in splits)
    rows = []
    for c in order + names:
        tds = []
        for i, s in enumerate(splits):
            n = cells.get((c, s), 0)
            width = int(140 * n / peak)
            color = PALETTE[i % len(PALETTE)]
            cls = ' class="bar gap"' if n == 0 and len(splits) > 1 else ' class="bar"'
            tds.append(
                f'<td{cls}><span class="b" style="width:{width}px;background:{color}"></span> '
                f"{n:,}</td>"
            )
        rows.append(f'<tr><th class="row">{esc(c)}</th>{"".join(tds)}</tr>')
    return (
        "<h3>Objects per class and split</h3>"
        + note("A class with no object in a split (outlined) cannot be evaluated there.")
        + f'<div class="scroll"><table class="bars heat"><thead><tr><th>class</th>{head}'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _size_histograms(obj: pl.DataFrame, imgsz: int, classes: Sequence[str]) -> str:
    sizes = obj.filter(pl.col("box_size") > 0)
    if sizes.height == 0:
        return ""
    values = np.log10(sizes.get_column("box_size").to_numpy())
    lo, hi = min(values.min(), np.log10(2.0)), max(values.max(), np.log10(imgsz))
    edges = np.linspace(lo, hi, 31)
    figs = []
    cls = sizes.get_column("class").to_numpy()
    for c in classes:
        v = values[cls == c]
        if not len(v):
            continue
        counts, _ = np.histogram(v, bins=edges)
        tiny = int((v < np.log10(8)).sum())
        sub = f"n={len(v):,}, median {10 ** np.median(v):.0f} px, {tiny:,} tiny (< 8 px)"
        figs.append(histogram_svg(f"{c}", edges, {c: counts}, log=True, subtitle=sub))
    return (
        f"<h3>Box size at imgsz {imgsz} (√(w·h) px, log scale)</h3>"
        + note("Buckets: tiny < 8 px ≤ small < 32 ≤ medium < 96 ≤ large.")
        + f'<div class="grid">{"".join(figs)}</div>'
    )


def _audit_table(cov: pl.DataFrame, min_count: int) -> str:
    """One table: rows are classes, column groups are axes, empty/thin cells outlined."""
    from imgstats.coverage import gaps

    by = cov.columns[0]
    gp = gaps(cov, min_count=min_count)
    gap_cells = set(gp.select(by, "axis", "bucket").iter_rows())
    cols = cov.select("axis", "bucket").unique(maintain_order=True).rows()
    axes = list(dict.fromkeys(a for a, _ in cols))
    totals = cov.select(by, "by_total").unique(maintain_order=True)
    order = totals.sort(["by_total", by], descending=[True, False]).get_column(by).to_list()
    cells = {
        (g, a, b): (c, s)
        for g, a, b, c, s in cov.select(by, "axis", "bucket", "count", "share").iter_rows()
    }
    head1 = "".join(
        f'<th class="ax" colspan="{sum(1 for a2, _ in cols if a2 == a)}">{esc(a)}</th>'
        for a in axes
    )
    head2 = "".join(f"<th>{esc(b)}</th>" for _, b in cols)
    rows = []
    for g in order:
        tds = []
        for a, b in cols:
            if (g, a, b) not in cells:
                tds.append('<td title="not applicable">·</td>')
                continue
            c, s = cells[(g, a, b)]
            klass = []
            if (g, a, b) in gap_cells:
                klass.append("gap")
                if c == 0:
                    klass.append("empty")
            style = (
                ""
                if c == 0
                else f' style="background:{heat_color(s)}' + (';color:#fff"' if s > 0.6 else '"')
            )
            k = f' class="{" ".join(klass)}"' if klass else ""
            tip = f"{g} / {a}={b}: {c} ({s:.1%})"
            tds.append(f'<td{k}{style} title="{esc(tip)}">{c:,}</td>')
        total = totals.filter(pl.col(by) == g).get_column("by_total")[0]
        rows.append(
            f'<tr><th class="row">{esc(g)} <span class="note">{total:,}</span></th>'
            f"{''.join(tds)}</tr>"
        )
    table_html = (
        f'<div class="scroll"><table class="heat audit"><thead><tr><th rowspan="2">{esc(by)}'
        f"</th>{head1}</tr><tr>{head2}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
    )
    plan = ""
    if gp.height:
        prow = [
            (str(r[by]), r["axis"], r["bucket"], r["count"], r["needed"], r["status"])
            for r in gp.head(40).iter_rows(named=True)
        ]
        plan = f"<h3>Collection plan: {gp.height:,} empty or thin cells</h3>" + table(
            [by, "axis", "bucket", "objects", "to collect", "status"], prow
        )
    return (
        "<h3>The one-page audit: objects per class × environment</h3>"
        + note(
            "Counts objects (boxes); background images are the (background) row. Image axes come "
            "from each object's image, object axes from the box (docs/labels.md). Cells outlined "
            f"in red hold fewer than {min_count} objects (hatched: none)."
        )
        + table_html
        + plan
    )


def _findings(lab: Any, thumbs: Thumbnailer | None) -> str:
    f = lab.findings
    if f.height == 0:
        return "<h3>Findings</h3>" + note("No problem found.")
    rows, classes = [], []
    for r in f.iter_rows(named=True):
        ex = "<br>".join(esc(basename(e, 70)) for e in r["examples"][:3])
        rows.append(
            (esc(r["severity"]), esc(r["check"]), esc(r["split"] or "–"), f"{r['count']:,}", ex)
        )
        classes.append(f"sev-{r['severity']}")
    out = "<h3>Findings</h3>" + table(
        ["severity", "check", "split", "count", "examples"],
        rows,
        numeric=[False, False, False, True, False],
        row_class=classes,
        raw=True,
    )
    if thumbs is None or not thumbs.enabled:
        return out
    shown = lab.problems.filter(
        pl.col("path").is_not_null() & (pl.col("severity") != "info")
    ).unique(["check", "path"], keep="first", maintain_order=True)
    sample = shown.group_by("check", maintain_order=True).head(FINDING_THUMBS)
    figs = [
        thumbs.figure(
            r["path"],
            [r["check"], basename(r["path"], 24), r["detail"][:48]],
            title=f"{r['path']}: {r['detail']}",
        )
        for r in sample.iter_rows(named=True)
    ]
    if figs:
        out += f'<h3>Examples</h3><div class="gallery">{"".join(figs)}</div>'
    return out


class _Cropper:
    """Box crops as base64 JPEGs, each image decoded once, within a time budget."""

    def __init__(self, px: int = CROP_PX, max_seconds: float = MAX_CROP_SECONDS) -> None:
        self.px = px
        self.deadline = time.monotonic() + max_seconds
        self.skipped = 0

    def crops(self, path: str, boxes: list[tuple[float, float, float, float]]) -> list[str | None]:
        from PIL import Image, ImageOps

        if time.monotonic() > self.deadline:
            self.skipped += len(boxes)
            return [None] * len(boxes)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with Image.open(path) as f:
                    # Boxes are in the upright image: apply EXIF orientation first.
                    im = ImageOps.exif_transpose(f).convert("RGB")
        except Exception:
            return [None] * len(boxes)
        out: list[str | None] = []
        for x0, y0, x1, y1 in boxes:
            # A little context around the box (10 %), clipped to the image.
            mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)
            box = (
                max(0, int(x0 - mx)),
                max(0, int(y0 - my)),
                min(im.width, int(np.ceil(x1 + mx))),
                min(im.height, int(np.ceil(y1 + my))),
            )
            if box[2] <= box[0] or box[3] <= box[1]:
                out.append(None)
                continue
            c = im.crop(box)
            # Long side to px, up or down: a 6 px box must be visible too.
            scale = self.px / max(c.width, c.height)
            c = c.resize(
                (max(1, round(c.width * scale)), max(1, round(c.height * scale))),
                Image.Resampling.BILINEAR,
            )
            buf = io.BytesIO()
            c.save(buf, "JPEG", quality=75)
            out.append(base64.b64encode(buf.getvalue()).decode("ascii"))
        return out


def _gallery(lab: Any, obj: pl.DataFrame, classes: Sequence[str], per_class: int) -> str:
    cropper = _Cropper()
    # One random box per image first (different images), then more from the same images.
    picked = (
        obj.filter(pl.col("box_size") > 0)
        .with_columns(
            pl.int_range(pl.len()).shuffle(seed=0).over("class", "path").alias("_r"),
            pl.int_range(pl.len()).shuffle(seed=1).alias("_tie"),
        )
        .sort("_r", "_tie")
        .group_by("class", maintain_order=True)
        .head(per_class)
    )
    label_files = lab.images.select("path", "label_file").unique("path")
    picked = picked.drop("label_file", strict=False).join(label_files, on="path", how="left")
    crops: dict[tuple[str, int], str | None] = {}
    for (path,), grp in picked.group_by(["path"], maintain_order=True):
        rows = grp.select("line", "x0", "y0", "x1", "y1").rows()
        for (line, *_), data in zip(rows, cropper.crops(str(path), [r[1:] for r in rows])):
            crops[(str(path), line)] = data
    parts = []
    for c in classes:
        sub = picked.filter(pl.col("class") == c)
        if sub.height == 0:
            continue
        figs = []
        for r in sub.iter_rows(named=True):
            data = crops.get((r["path"], r["line"]))
            where = f"{basename(r['label_file'] or r['path'], 20)}:{r['line']}"
            tip = f"{r['path']} — {r['label_file'] or ''} line {r['line']}"
            img = (
                f'<img src="data:image/jpeg;base64,{data}" alt="{esc(tip)}" title="{esc(tip)}">'
                if data
                else f'<div class="ph" title="{esc(tip)}">no preview</div>'
            )
            link = _file_link(r["label_file"] or r["path"], where, r["line"])
            figs.append(
                f'<figure><a href="{esc("file://" + quote(os.path.abspath(r["path"])))}">'
                f"{img}</a><figcaption>{link}</figcaption></figure>"
            )
        parts.append(
            f"<h3>{esc(c)} ({sub.height} of {obj.filter(pl.col('class') == c).height:,})</h3>"
            f'<div class="gallery crops">{"".join(figs)}</div>'
        )
    skipped = note(f"{cropper.skipped} crops skipped (time budget).") if cropper.skipped else ""
    return (
        "<h3>Spot check: random boxes per class</h3>"
        + note(
            "Up to 50 boxes per class from different images (10 % margin). Inconsistent boxes "
            "— loose, tight, the wrong object — stand out side by side. Click a crop for the "
            "image; the caption links to the label file and line."
        )
        + skipped
        + "".join(parts)
    )


def labels_section(
    lab: Any,
    df: pl.DataFrame | None,
    thumbs: Thumbnailer | None = None,
    min_count: int = 20,
    max_crops: int = MAX_CROPS_PER_CLASS,
) -> str:
    """The labels section: summary, findings, class histogram, box sizes, the class × axis
    table (when ``df``, the scan of the labelled images, is given) and the spot-check gallery."""
    from imgstats.labels.axes import objects_of

    status = dict(lab.images.group_by("status").len().iter_rows())
    items = [
        ("format", str(lab.format)),
        ("classes", f"{len(lab.names):,}"),
        ("objects", f"{lab.boxes.height:,}"),
        *[
            (s, f"{status.get(s, 0):,}")
            for s in ("labelled", "background", "unlabelled", "unreadable")
        ],
        ("imgsz", str(lab.imgsz)),
    ]
    obj = objects_of(lab)
    classes = (
        obj.group_by("class")
        .len()
        .sort(["len", "class"], descending=[True, False])
        .head(MAX_CLASSES)
        .get_column("class")
        .to_list()
    )
    splits = [s for s in lab.images.get_column("split").unique(maintain_order=True).to_list()]
    body = [f"<style>{LABELS_CSS}</style>", cards(items)]
    body.append(_findings(lab, thumbs))
    body.append(legend([s if s is not None else "(no split)" for s in splits]))
    body.append(_class_histogram(lab))
    body.append(_size_histograms(obj, lab.imgsz, classes))
    if df is not None:
        from imgstats.coverage import coverage

        try:
            cov = coverage(df, by="class", labels=lab)
            body.append(_audit_table(cov, min_count))
        except ValueError as exc:
            body.append(note(f"Class × axis table not computed: {exc}", "warn"))
    if max_crops > 0 and (thumbs is None or thumbs.enabled):
        body.append(_gallery(lab, obj, classes, max_crops))
    return section("labels", "Detection labels", "".join(body))


def dataset_frame(lab: Any, metrics: Sequence[str] | None = None) -> pl.DataFrame:
    """The scan of exactly the labelled images with their ``split`` (for ``imgstats report
    data.yaml``): image statistics, duplicates and leakage work as for a folder."""
    from imgstats.scan import scan

    df = scan(lab, metrics=metrics)
    assert isinstance(df, pl.DataFrame)
    splits = lab.images.select("path", "split").unique("path", keep="first")
    return df.join(splits, on="path", how="left", maintain_order="left")


def dataset_labels(source: str) -> Any:
    """`imgstats.labels(source)` when ``source`` is a detection dataset (a .yaml / .json file, or
    a folder with data.yaml, Annotations/, or both images/ and labels/), else None: a plain
    image folder keeps the folder report."""
    from imgstats.labels import detect_format, labels

    p = os.path.abspath(source)
    is_file = os.path.isfile(p) and p.lower().endswith((".yaml", ".yml", ".json"))
    is_dir = os.path.isdir(p) and (
        any(os.path.isfile(os.path.join(p, n)) for n in ("data.yaml", "dataset.yaml"))
        or os.path.isdir(os.path.join(p, "Annotations"))
        or (os.path.isdir(os.path.join(p, "images")) and os.path.isdir(os.path.join(p, "labels")))
    )
    if not (is_file or is_dir):
        return None
    detect_format(p)
    return labels(source)
