"""Object axes: per-box buckets for the class × environment table (`imgstats.coverage` with
``labels=``).

- ``object_size``: tiny < 8 px ≤ small < 32 ≤ medium < 96 ≤ large, on the box's geometric-mean
  side ``sqrt(w * h)`` at ``imgsz`` (the image's long side scaled to imgsz, as letterboxing
  does). COCO's small / medium / large area limits (32², 96²) stated at the training size, plus
  tiny.
- ``occlusion``: none / partial / heavy from the share of the box's area covered by the union of
  the other boxes of its image (< 0.1 / < 0.5 / ≥ 0.5), measured on a 32 × 32 grid of sample
  points per box (error ≤ a few % of the area); a dataset's own ``occluded`` flag (VOC) raises
  ``none`` to ``partial``; COCO ``iscrowd`` boxes are their own bucket, ``crowd``.
- ``truncation``: ``truncated`` when the box touches the image border (within 1 px) or the
  dataset says so (VOC ``truncated``), else ``none``.
- ``crowding``: objects in the image: 1 / 2-5 / 6-20 / >20.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import polars as pl

from imgstats.buckets import UNKNOWN, AxesArg, AxisSpec, _binned

BACKGROUND = "(background)"
SIZE_EDGES: tuple[float, ...] = (8.0, 32.0, 96.0)
SIZE_LEVELS: tuple[str, ...] = ("tiny", "small", "medium", "large")
OCCLUSION_EDGES: tuple[float, ...] = (0.1, 0.5)
OCCLUSION_LEVELS: tuple[str, ...] = ("none", "partial", "heavy", "crowd")
TRUNCATION_LEVELS: tuple[str, ...] = ("none", "truncated")
CROWDING_LEVELS: tuple[str, ...] = ("1", "2-5", "6-20", ">20")
#: Pixels from the border within which a box counts as touching it.
BORDER_PX = 1.0
#: Sample points per side of a box for the occlusion share.
GRID = 32
OBJECT_AXES: dict[str, tuple[str, ...]] = {
    "object_size": SIZE_LEVELS,
    "occlusion": OCCLUSION_LEVELS,
    "truncation": TRUNCATION_LEVELS,
    "crowding": CROWDING_LEVELS,
}


def covered_share(boxes: pl.DataFrame, grid: int = GRID, chunk: int = 20_000) -> np.ndarray:
    """For each row of ``boxes`` (path, split, x0, y0, x1, y1), the share of its area covered by
    the union of the other boxes of the same image, on a ``grid`` × ``grid`` sample grid.

    Vectorised over overlapping pairs: one self-join per image, then for each pair the sample
    columns and rows of box i inside box j (a rectangle covers an outer product of the two);
    the union is a logical OR over i's pairs.
    """
    n = boxes.height
    share = np.zeros(n, dtype=np.float64)
    if n == 0:
        return share
    b = boxes.select("path", "split", "x0", "y0", "x1", "y1").with_row_index("_i")
    pairs = (
        b.lazy()
        .join(b.lazy(), on=["path", "split"], how="inner", nulls_equal=True)
        .filter(pl.col("_i") != pl.col("_i_right"))
        .filter(
            (pl.min_horizontal("x1", "x1_right") > pl.max_horizontal("x0", "x0_right"))
            & (pl.min_horizontal("y1", "y1_right") > pl.max_horizontal("y0", "y0_right"))
            & (pl.col("x1") > pl.col("x0"))
            & (pl.col("y1") > pl.col("y0"))
        )
        .sort("_i")
        .collect()
    )
    if pairs.height == 0:
        return share
    i = pairs.get_column("_i").to_numpy()
    a = {c: pairs.get_column(c).to_numpy() for c in pairs.columns if c.startswith(("x", "y"))}
    t = (np.arange(grid) + 0.5) / grid
    s = 0
    while s < len(i):
        e = min(s + chunk, len(i))
        # Keep whole groups of one box inside a chunk: extend to the end of the last box's run.
        while e < len(i) and i[e] == i[e - 1]:
            e += 1
        sl = slice(s, e)
        xs = a["x0"][sl, None] + t[None, :] * (a["x1"][sl] - a["x0"][sl])[:, None]
        ys = a["y0"][sl, None] + t[None, :] * (a["y1"][sl] - a["y0"][sl])[:, None]
        xin = (xs >= a["x0_right"][sl, None]) & (xs < a["x1_right"][sl, None])
        yin = (ys >= a["y0_right"][sl, None]) & (ys < a["y1_right"][sl, None])
        cov = yin[:, :, None] & xin[:, None, :]
        ii = i[sl]
        starts = np.flatnonzero(np.r_[True, ii[1:] != ii[:-1]])
        union = np.logical_or.reduceat(cov, starts, axis=0)
        share[ii[starts]] = union.reshape(len(starts), -1).mean(axis=1)
        s = e
    return share


def object_axes(lab: Any) -> pl.DataFrame:
    """``lab.boxes`` plus image ``width`` / ``height``, ``box_w`` / ``box_h`` / ``box_size``
    (pixels at ``lab.imgsz``), ``occlusion_share`` and the four object-axis buckets."""
    imgsz = int(getattr(lab, "imgsz", 640))
    images = lab.images.select("path", "split", "width", "height", "n_boxes")
    boxes = lab.boxes.join(
        images.unique(["path", "split"]),
        on=["path", "split"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    share = covered_share(boxes)
    W = pl.col("width").cast(pl.Float64)
    H = pl.col("height").cast(pl.Float64)
    scale = pl.lit(float(imgsz)) / pl.max_horizontal(W, H)
    w = (pl.col("x1") - pl.col("x0")).clip(lower_bound=0)
    h = (pl.col("y1") - pl.col("y0")).clip(lower_bound=0)
    out = boxes.with_columns(
        (w * scale).alias("box_w"),
        (h * scale).alias("box_h"),
        ((w * h).sqrt() * scale).alias("box_size"),
        pl.Series("occlusion_share", share),
    )
    occ = _binned(pl.col("occlusion_share"), OCCLUSION_EDGES, OCCLUSION_LEVELS[:3])
    flag = pl.col("occluded").fill_null(False)
    touches = (
        (pl.col("x0") <= BORDER_PX)
        | (pl.col("y0") <= BORDER_PX)
        | (pl.col("x1") >= W - BORDER_PX)
        | (pl.col("y1") >= H - BORDER_PX)
    )
    n = pl.col("n_boxes").cast(pl.Int64)
    result: pl.DataFrame = out.with_columns(
        _binned(pl.col("box_size"), SIZE_EDGES, SIZE_LEVELS).alias("object_size"),
        pl.when(pl.col("iscrowd").fill_null(False))
        .then(pl.lit("crowd"))
        .when(flag & (occ == "none"))
        .then(pl.lit("partial"))
        .otherwise(occ)
        .alias("occlusion"),
        pl.when(W.is_null())
        .then(pl.lit(UNKNOWN))
        .when(touches | pl.col("truncated").fill_null(False))
        .then(pl.lit("truncated"))
        .otherwise(pl.lit("none"))
        .alias("truncation"),
        pl.when(n <= 1)
        .then(pl.lit("1"))
        .when(n <= 5)
        .then(pl.lit("2-5"))
        .when(n <= 20)
        .then(pl.lit("6-20"))
        .otherwise(pl.lit(">20"))
        .alias("crowding"),
    )
    return result


def objects_of(lab: Any) -> pl.DataFrame:
    """`object_axes` of ``lab``, cached when ``lab`` is a `Labels` (its ``objects()``)."""
    method = getattr(lab, "objects", None)
    if callable(method):
        out: pl.DataFrame = method()
        return out
    return object_axes(lab)


def coverage_input(
    df: pl.DataFrame, lab: Any, axes: AxesArg
) -> tuple[pl.DataFrame, AxesArg, list[AxisSpec]]:
    """The frame `coverage` counts when given labels: one row per object plus one per
    background image (class ``(background)``), with the scan columns of its image; the image
    axes to resolve as usual and the object-axis specs."""
    objects = objects_of(lab)
    background = lab.images.filter(pl.col("status") == "background").select(
        "path", "split", "width", "height", "n_boxes", pl.lit(BACKGROUND).alias("class")
    )
    rows = pl.concat([objects, background], how="diagonal_relaxed")
    scan_cols = [c for c in df.columns if c == "path" or c not in rows.columns]
    scanned = df.select(scan_cols).unique("path", keep="first")
    frame = _join_on_path(rows, scanned)
    if axes is None:
        wanted: list[str] = list(OBJECT_AXES)
        image_axes: AxesArg = None
    elif isinstance(axes, Mapping):
        wanted = [k for k in axes if k in OBJECT_AXES and axes[k] is None]
        image_axes = {k: v for k, v in axes.items() if k not in wanted}
    else:
        wanted = [a for a in axes if a in OBJECT_AXES]
        image_axes = [a for a in axes if a not in OBJECT_AXES]
    specs = [
        AxisSpec(
            name,
            pl.col(name).fill_null(UNKNOWN),
            OBJECT_AXES[name],
            "labels",
        )
        for name in wanted
    ]
    return frame, image_axes, specs


def _absolute(col: str) -> pl.Expr:
    return pl.col(col).map_elements(
        lambda p: os.path.normpath(os.path.abspath(p)), return_dtype=pl.Utf8
    )


def _join_on_path(rows: pl.DataFrame, scanned: pl.DataFrame) -> pl.DataFrame:
    """Left-join scan columns onto label rows by path; when some paths are spelled differently
    (a relative data.yaml, an absolute scan of the folder) match on absolute paths instead."""
    wanted = rows.select("path").unique()
    if wanted.join(scanned.select("path"), on="path", how="semi").height == wanted.height:
        return rows.join(scanned, on="path", how="left", maintain_order="left")
    keys = wanted.with_columns(_absolute("path").alias("_key"))
    right = (
        scanned.with_columns(_absolute("path").alias("_key"))
        .drop("path")
        .unique("_key", keep="first")
    )
    return (
        rows.join(keys, on="path", how="left", maintain_order="left")
        .join(right, on="_key", how="left", maintain_order="left")
        .drop("_key")
    )


def drop_background_object_cells(cov: pl.DataFrame) -> pl.DataFrame:
    """Background images have no object size / occlusion / ...: drop those cells, so `gaps`
    does not list "(background) × tiny" as something to collect."""
    by = cov.columns[0]
    return cov.filter(~((pl.col(by) == BACKGROUND) & pl.col("axis").is_in(list(OBJECT_AXES))))
