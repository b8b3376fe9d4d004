"""Label statistics as numbers (polars frames), per class and split, box sizes at ``imgsz``.

Sizes "at imgsz" scale the image's long side to ``imgsz`` (letterboxing); the size buckets are
those of `imgstats.labels.axes` (tiny < 8 px ≤ small < 32 ≤ medium < 96 ≤ large, on
``sqrt(w * h)``).
"""

from __future__ import annotations

from typing import Any

import polars as pl

from imgstats.labels.axes import SIZE_LEVELS, objects_of
from imgstats.labels.pairs import iou_pairs

QUANTILES: tuple[float, ...] = (0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0)


def _splits(lab: Any) -> list[str | None]:
    splits: list[str | None] = lab.images.get_column("split").unique(maintain_order=True).to_list()
    return splits


def class_stats(lab: Any) -> pl.DataFrame:
    """One row per (split, class) -- every named class in every split, zeros included:
    ``objects``, ``images`` (containing the class), ``objects_per_image`` (in those images),
    ``share`` (of the split's objects), ``median_size`` (px at imgsz) and the counts ``tiny``,
    ``small``, ``medium``, ``large``."""
    obj = objects_of(lab)
    agg = obj.group_by("split", "class").agg(
        pl.len().cast(pl.UInt32).alias("objects"),
        pl.col("path").n_unique().cast(pl.UInt32).alias("images"),
        pl.col("box_size").median().alias("median_size"),
        *[(pl.col("object_size") == s).sum().cast(pl.UInt32).alias(s) for s in SIZE_LEVELS],
    )
    classes = list(dict.fromkeys(list(lab.names) + obj.get_column("class").unique().to_list()))
    grid = pl.DataFrame({"split": _splits(lab)}, schema={"split": pl.Utf8}).join(
        pl.DataFrame({"class": classes}, schema={"class": pl.Utf8}), how="cross"
    )
    out = grid.join(agg, on=["split", "class"], how="left", nulls_equal=True).with_columns(
        pl.col(c).fill_null(0) for c in ("objects", "images", *SIZE_LEVELS)
    )
    return out.with_columns(
        (pl.col("objects") / pl.col("images")).alias("objects_per_image"),
        (pl.col("objects") / pl.col("objects").sum().over("split")).alias("share"),
    ).select(
        "split",
        "class",
        "objects",
        "images",
        "objects_per_image",
        "share",
        "median_size",
        *SIZE_LEVELS,
    )


def box_stats(lab: Any) -> pl.DataFrame:
    """One row per (split, class) with objects: quantiles (p0, p5, p25, p50, p75, p95, p100) of
    box width ``w_*``, height ``h_*`` and size ``size_*`` in pixels at imgsz, and aspect ratio
    (width / height) quartiles ``aspect_p25/p50/p75``."""
    obj = objects_of(lab).filter(pl.col("box_size").is_not_null())
    exprs = []
    for col, short in (("box_w", "w"), ("box_h", "h"), ("box_size", "size")):
        for q in QUANTILES:
            exprs.append(pl.col(col).quantile(q, "linear").alias(f"{short}_p{round(q * 100)}"))
    aspect = pl.col("box_w") / pl.col("box_h")
    for q in (0.25, 0.5, 0.75):
        exprs.append(
            aspect.filter(pl.col("box_h") > 0)
            .quantile(q, "linear")
            .alias(f"aspect_p{round(q * 100)}")
        )
    return (
        obj.group_by("split", "class")
        .agg(pl.len().cast(pl.UInt32).alias("objects"), *exprs)
        .sort("split", "class", nulls_last=True)
    )


def split_stats(lab: Any) -> pl.DataFrame:
    """One row per split: ``images`` and the count per status, ``background_share`` (of
    labelled + background images), ``objects``, ``objects_per_image`` (per labelled image),
    ``classes`` present, and ``imbalance_ratio`` (most / fewest objects among present classes)."""
    img: pl.DataFrame = lab.images.group_by("split", maintain_order=True).agg(
        pl.len().cast(pl.UInt32).alias("images"),
        *[
            (pl.col("status") == s).sum().cast(pl.UInt32).alias(s)
            for s in ("labelled", "background", "unlabelled", "unreadable")
        ],
    )
    per_class = lab.boxes.group_by("split", "class").len("n")
    cls = per_class.group_by("split").agg(
        pl.col("n").sum().cast(pl.UInt32).alias("objects"),
        pl.len().cast(pl.UInt32).alias("classes"),
        (pl.col("n").max() / pl.col("n").min()).alias("imbalance_ratio"),
    )
    return (
        img.join(cls, on="split", how="left", nulls_equal=True)
        .with_columns(
            pl.col("objects").fill_null(0),
            pl.col("classes").fill_null(0),
            (pl.col("background") / (pl.col("labelled") + pl.col("background"))).alias(
                "background_share"
            ),
        )
        .with_columns((pl.col("objects") / pl.col("labelled")).alias("objects_per_image"))
        .select(
            "split",
            "images",
            "labelled",
            "background",
            "unlabelled",
            "unreadable",
            "background_share",
            "objects",
            "objects_per_image",
            "classes",
            "imbalance_ratio",
        )
    )


def image_stats(lab: Any) -> pl.DataFrame:
    """One row per image (background and unlabelled included, with zeros): ``n_boxes``,
    ``classes`` (distinct), ``max_iou`` / ``mean_iou`` over the pairs of boxes of any class
    (null with fewer than 2 boxes), ``overlapping_pairs`` (IoU > 0), ``max_occlusion`` (the
    largest share of a box covered by the others) and ``truncated`` (boxes touching the border):
    occlusion and crowding proxies per image."""
    obj = objects_of(lab)
    per_box = obj.group_by("path", "split").agg(
        pl.col("class").n_unique().cast(pl.UInt32).alias("classes"),
        pl.col("occlusion_share").max().alias("max_occlusion"),
        (pl.col("truncation") == "truncated").sum().cast(pl.UInt32).alias("truncated"),
    )
    pairs = (
        iou_pairs(obj, ["path", "split"])
        .group_by("path", "split")
        .agg(
            pl.col("iou").max().alias("max_iou"),
            pl.col("iou").mean().alias("mean_iou"),
            (pl.col("iou") > 0).sum().cast(pl.UInt32).alias("overlapping_pairs"),
        )
        .collect()
    )
    keys = ["path", "split"]
    images: pl.DataFrame = lab.images
    return (
        images.select("path", "split", "status", "n_boxes")
        .join(per_box, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .join(pairs, on=keys, how="left", nulls_equal=True, maintain_order="left")
        .with_columns(
            pl.col("classes").fill_null(0),
            pl.col("truncated").fill_null(0),
            pl.col("overlapping_pairs").fill_null(0),
        )
        .select(
            "path",
            "split",
            "status",
            "n_boxes",
            "classes",
            "max_iou",
            "mean_iou",
            "overlapping_pairs",
            "max_occlusion",
            "truncated",
        )
    )
