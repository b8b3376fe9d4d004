"""Label checks: every problem as a row (``problems``) and a summary per kind (``findings``).

Check ids and severities are part of the API; thresholds are in `THRESHOLDS` and documented,
with the reason for each, in ``docs/labels.md``. Every check is a polars expression over the whole
dataset (a self-join per image and class for duplicates), never a loop over boxes.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from imgstats.labels.model import FINDINGS_SCHEMA, PROBLEMS_SCHEMA, SEVERITIES, conform
from imgstats.labels.pairs import iou_pairs

#: Check id → severity, in display order.
CHECKS: dict[str, str] = {
    "unreadable_image": "error",
    "parse_error": "error",
    "class_out_of_range": "error",
    "not_normalized": "error",
    "degenerate_box": "error",
    "missing_label_file": "warning",
    "orphan_label": "warning",
    "out_of_bounds": "warning",
    "duplicate_box": "warning",
    "tiny_box": "warning",
    "extreme_aspect": "warning",
    "mixed_polygons": "warning",
    "identical_label_files": "warning",
    "exif_rotated": "warning",
    "rare_class": "warning",
    "class_missing_in_split": "warning",
    "background_share": "warning",
    "empty_label_file": "info",
}

#: Tunable limits (override with ``imgstats.labels(..., thresholds={...})``).
THRESHOLDS: dict[str, float] = {
    # A box may overshoot the border by this many pixels (rounding of normalised values).
    "out_of_bounds_px": 1.0,
    # Shorter side at imgsz below this is a tiny box (LibreYOLO doctor uses the same idea).
    "tiny_box_px": 4.0,
    # Long side / short side above this is an extreme aspect ratio.
    "extreme_aspect": 20.0,
    # Same-class boxes in one image with IoU at or above this are duplicates.
    "duplicate_iou": 0.9,
    # A class with fewer objects than this in the whole dataset is rare.
    "rare_class_min": 10,
    # Share of background images per split (Ultralytics recommends 0-10 %).
    "background_share_min": 0.0,
    "background_share_max": 0.10,
}

MAX_EXAMPLES = 5


def merged(thresholds: Mapping[str, float] | None) -> dict[str, float]:
    """`THRESHOLDS` with the user's overrides (an unknown key is an error, never ignored)."""
    out = dict(THRESHOLDS)
    for k, v in (thresholds or {}).items():
        if k not in out:
            raise ValueError(f"unknown label threshold {k!r}; known: {', '.join(out)}")
        out[k] = float(v)
    return out


def _rows(check: str, df: pl.DataFrame, detail: pl.Expr) -> pl.DataFrame:
    """Problem rows for ``check`` from a frame with path/split/label_file/line (any subset)."""
    return conform(
        df.with_columns(
            pl.lit(check).alias("check"),
            pl.lit(CHECKS[check]).alias("severity"),
            detail.alias("detail"),
        ),
        PROBLEMS_SCHEMA,
    )


def _r1(e: pl.Expr) -> pl.Expr:
    return e.round(1).cast(pl.Utf8)


def image_checks(images: pl.DataFrame) -> list[pl.DataFrame]:
    """unreadable_image, missing_label_file, empty_label_file, identical_label_files,
    exif_rotated."""
    out = [
        _rows(
            "unreadable_image",
            images.filter(pl.col("status") == "unreadable"),
            pl.format("image cannot be read: {}", pl.col("error").fill_null("?")),
        ),
        _rows(
            "missing_label_file",
            images.filter(pl.col("status") == "unlabelled").with_columns(
                pl.col("expected_label").alias("label_file")
            ),
            pl.lit("no label file: the image trains as background (forgotten?)"),
        ),
        _rows(
            "empty_label_file",
            images.filter(pl.col("status") == "background"),
            pl.lit("no objects: a background image (hard negative)"),
        ),
        _rows(
            "exif_rotated",
            images.filter(pl.col("exif_orientation").is_not_null()).filter(
                pl.col("exif_orientation") != 1
            ),
            pl.format(
                "EXIF orientation {}: stored rotated; boxes must be drawn on the upright "
                "{}x{} image (the size imgstats and Ultralytics use)",
                pl.col("exif_orientation"),
                pl.col("width"),
                pl.col("height"),
            ),
        ),
    ]
    same = images.filter(pl.col("label_digest").is_not_null()).with_columns(
        pl.len().over("label_digest").alias("_n"),
        pl.col("path").first().over("label_digest").alias("_first"),
        pl.col("path").last().over("label_digest").alias("_last"),
    )
    same = same.filter(pl.col("_n") > 1)
    out.append(
        _rows(
            "identical_label_files",
            same,
            pl.format(
                "same labels as {} other image(s), e.g. {}",
                pl.col("_n") - 1,
                pl.when(pl.col("path") == pl.col("_first"))
                .then(pl.col("_last"))
                .otherwise(pl.col("_first")),
            ),
        )
    )
    return out


def box_checks(
    boxes: pl.DataFrame, n_names: int | None, imgsz: int, t: Mapping[str, float]
) -> list[pl.DataFrame]:
    """class_out_of_range, not_normalized, degenerate_box, out_of_bounds, tiny_box,
    extreme_aspect, duplicate_box, mixed_polygons. ``boxes`` carries the image ``width`` /
    ``height`` and ``label_file``."""
    w = pl.col("x1") - pl.col("x0")
    h = pl.col("y1") - pl.col("y0")
    W, H = pl.col("width").cast(pl.Float64), pl.col("height").cast(pl.Float64)
    scale = pl.lit(float(imgsz)) / pl.max_horizontal(W, H)
    degenerate = (w <= 0) | (h <= 0)
    not_norm = pl.col("_not_normalized").fill_null(False)
    out = []
    unknown = pl.col("_unknown_category").fill_null(False)
    if n_names is not None:
        unknown = unknown | (pl.col("class_id") >= n_names) | (pl.col("class_id") < 0)
    out.append(
        _rows(
            "class_out_of_range",
            boxes.filter(unknown),
            pl.format(
                "class id {} but {} class names",
                pl.col("class_id"),
                pl.lit(n_names if n_names is not None else 0),
            )
            if n_names is not None
            else pl.format("category id {} is not in categories", pl.col("class_id")),
        )
    )
    out.append(
        _rows(
            "not_normalized",
            boxes.filter(not_norm),
            pl.format(
                "coordinate {} > 1: looks like pixels; Ultralytics skips this whole label file",
                _r1(pl.col("_raw_max")),
            ),
        )
    )
    out.append(
        _rows(
            "degenerate_box",
            boxes.filter(degenerate),
            pl.format("zero or negative size: width {} px, height {} px", _r1(w), _r1(h)),
        )
    )
    over = pl.max_horizontal(-pl.col("x0"), -pl.col("y0"), pl.col("x1") - W, pl.col("y1") - H)
    side = (
        pl.when(-pl.col("x0") == over)
        .then(pl.lit("left"))
        .when(-pl.col("y0") == over)
        .then(pl.lit("top"))
        .when(pl.col("x1") - W == over)
        .then(pl.lit("right"))
        .otherwise(pl.lit("bottom"))
    )
    measurable = ~not_norm & W.is_not_null()
    out.append(
        _rows(
            "out_of_bounds",
            boxes.filter(measurable & (over > t["out_of_bounds_px"])),
            pl.format("extends {} px past the {} edge", _r1(over), side),
        )
    )
    short = pl.min_horizontal(w, h) * scale
    ok_geom = measurable & ~degenerate
    out.append(
        _rows(
            "tiny_box",
            boxes.filter(ok_geom & (short < t["tiny_box_px"])),
            pl.format(
                "shorter side {} px at imgsz {} ({} x {} px in a {}x{} image)",
                short.round(2).cast(pl.Utf8),
                pl.lit(imgsz),
                _r1(w),
                _r1(h),
                pl.col("width"),
                pl.col("height"),
            ),
        )
    )
    aspect = pl.max_horizontal(w, h) / pl.min_horizontal(w, h)
    out.append(
        _rows(
            "extreme_aspect",
            boxes.filter(~degenerate & (aspect > t["extreme_aspect"])),
            pl.format("aspect ratio {} ({} x {} px)", _r1(aspect), _r1(w), _r1(h)),
        )
    )
    out.append(_duplicates(boxes, t["duplicate_iou"]))
    out.append(_mixed_polygons(boxes))
    return out


def _duplicates(boxes: pl.DataFrame, thr: float) -> pl.DataFrame:
    """Same image, same class, IoU >= thr: one problem per box that repeats an earlier one."""
    pairs = (
        iou_pairs(boxes, ["path", "split", "class_id"], ["label_file", "line"])
        .rename({"iou": "_iou"})
        .filter(pl.col("_iou") >= thr)
        .sort("_i_right", "_iou", descending=[False, True])
        .unique("_i_right", keep="first", maintain_order=True)
        .select(
            "path",
            "split",
            pl.col("label_file_right").alias("label_file"),
            pl.col("line_right").alias("line"),
            pl.col("line").alias("_other"),
            "_iou",
        )
        .collect()
    )
    return _rows(
        "duplicate_box",
        pairs,
        pl.format(
            "IoU {} with the same class at line {}",
            pl.col("_iou").round(3).cast(pl.Utf8),
            pl.col("_other"),
        ),
    )


def _mixed_polygons(boxes: pl.DataFrame) -> pl.DataFrame:
    n_poly = int(boxes.get_column("is_polygon").sum() or 0)
    n_box = boxes.height - n_poly
    if n_poly == 0 or n_box == 0:
        return _rows("mixed_polygons", boxes.head(0), pl.lit(""))
    minority = n_poly <= n_box
    kind, other = ("polygon", "box") if minority else ("box", "polygon")
    per_file = (
        boxes.group_by("path", "split", "label_file", maintain_order=True)
        .agg(
            (pl.col("is_polygon") == minority).sum().alias("_k"),
            (pl.col("is_polygon") != minority).sum().alias("_o"),
            pl.col("line").filter(pl.col("is_polygon") == minority).min().alias("line"),
        )
        .filter(pl.col("_k") > 0)
    )
    return _rows(
        "mixed_polygons",
        per_file,
        pl.format(
            "{} {} row(s) in a dataset of mostly {} rows{}",
            pl.col("_k"),
            pl.lit(kind),
            pl.lit(other),
            pl.when(pl.col("_o") > 0)
            .then(
                pl.lit(
                    "; this file mixes both, and Ultralytics then reads every row as a polygon, "
                    "so its box rows become wrong boxes"
                )
            )
            .otherwise(pl.lit("")),
        ),
    )


def dataset_checks(
    images: pl.DataFrame, boxes: pl.DataFrame, names: list[str], t: Mapping[str, float]
) -> list[pl.DataFrame]:
    """rare_class, class_missing_in_split, background_share. Boxes whose class is out of range
    are left out here: class_out_of_range reports them already."""
    out = []
    boxes = boxes.filter(pl.col("class").is_in(names)) if names else boxes
    counts = boxes.group_by("class").len("objects")
    all_classes = pl.DataFrame({"class": names}, schema={"class": pl.Utf8})
    per_class = (
        pl.concat([all_classes, counts.select("class")])
        .unique(maintain_order=True)
        .join(counts, on="class", how="left")
        .with_columns(pl.col("objects").fill_null(0))
    )
    rare = per_class.filter(pl.col("objects") < t["rare_class_min"])
    out.append(
        _rows(
            "rare_class",
            rare,
            pl.format(
                "class '{}': {} objects (< {})",
                pl.col("class"),
                pl.col("objects"),
                pl.lit(int(t["rare_class_min"])),
            ),
        )
    )
    splits = images.get_column("split").drop_nulls().unique().sort().to_list()
    if len(splits) >= 2:
        present = boxes.filter(pl.col("split").is_not_null()).group_by("class", "split").len()
        classes = present.select("class").unique()
        grid = classes.join(pl.DataFrame({"split": splits}), how="cross")
        missing = grid.join(present, on=["class", "split"], how="anti")
        where = present.group_by("class").agg(
            pl.format("{} in {}", pl.col("len"), pl.col("split")).sort().str.join(", ").alias("_w")
        )
        missing = missing.join(where, on="class", how="left").sort("class", "split")
        out.append(
            _rows(
                "class_missing_in_split",
                missing,
                pl.format(
                    "class '{}' has no object in {} ({})",
                    pl.col("class"),
                    pl.col("split"),
                    pl.col("_w"),
                ),
            )
        )
    share = (
        images.filter(pl.col("status").is_in(["labelled", "background"]))
        .group_by("split", maintain_order=True)
        .agg(
            (pl.col("status") == "background").sum().alias("_bg"),
            pl.len().alias("_n"),
        )
        .with_columns((pl.col("_bg") / pl.col("_n")).alias("_share"))
        .filter(
            (pl.col("_share") > t["background_share_max"])
            | (pl.col("_share") < t["background_share_min"])
        )
        .sort("split", nulls_last=True)
    )
    out.append(
        _rows(
            "background_share",
            share,
            pl.format(
                "{} of {} labelled or background images ({}%) are background; documented "
                "range {}-{}%",
                pl.col("_bg"),
                pl.col("_n"),
                (pl.col("_share") * 100).round(1).cast(pl.Utf8),
                pl.lit(round(t["background_share_min"] * 100, 1)),
                pl.lit(round(t["background_share_max"] * 100, 1)),
            ),
        )
    )
    return out


def findings(problems: pl.DataFrame) -> pl.DataFrame:
    """One row per (check, severity, split): ``count`` and up to five examples (path, else
    label file, else the detail), in severity then check order."""
    if problems.height == 0:
        return pl.DataFrame(schema=FINDINGS_SCHEMA)
    order = {c: i for i, c in enumerate(CHECKS)}
    sev = {s: i for i, s in enumerate(SEVERITIES)}
    example = pl.coalesce(
        pl.when(pl.col("line").is_not_null() & pl.col("label_file").is_not_null())
        .then(pl.format("{}:{}", pl.col("label_file"), pl.col("line")))
        .otherwise(pl.coalesce("path", "label_file")),
        pl.col("detail"),
    )
    out = (
        problems.group_by("check", "severity", "split", maintain_order=True)
        .agg(
            pl.len().cast(pl.UInt32).alias("count"),
            example.unique(maintain_order=True).head(MAX_EXAMPLES).alias("examples"),
        )
        .with_columns(
            pl.col("severity").replace_strict(sev, return_dtype=pl.Int32).alias("_s"),
            pl.col("check").replace_strict(order, default=99, return_dtype=pl.Int32).alias("_c"),
        )
        .sort(["_s", "_c", "split"], nulls_last=True)
    )
    return conform(out, FINDINGS_SCHEMA)
