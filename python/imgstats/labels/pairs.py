"""Box pairs within one image: a polars self-join, so overlap statistics never loop in Python."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl


def iou_pairs(boxes: pl.DataFrame, keys: Sequence[str], carry: Sequence[str] = ()) -> pl.LazyFrame:
    """Every pair ``i < j`` of rows of ``boxes`` that agree on ``keys`` (e.g. path, split and
    class), with their ``iou``. Columns: ``_i``, ``_i_right`` (row numbers), the keys, and each
    ``carry`` column twice (``name`` for box i, ``name_right`` for box j)."""
    cols = list(dict.fromkeys([*keys, *carry, "x0", "y0", "x1", "y1"]))
    b = boxes.with_row_index("_i").select("_i", *cols).lazy()
    ix = (pl.min_horizontal("x1", "x1_right") - pl.max_horizontal("x0", "x0_right")).clip(0)
    iy = (pl.min_horizontal("y1", "y1_right") - pl.max_horizontal("y0", "y0_right")).clip(0)
    area = (pl.col("x1") - pl.col("x0")) * (pl.col("y1") - pl.col("y0"))
    area_r = (pl.col("x1_right") - pl.col("x0_right")) * (pl.col("y1_right") - pl.col("y0_right"))
    return (
        b.join(b, on=list(keys), how="inner", nulls_equal=True)
        .filter(pl.col("_i") < pl.col("_i_right"))
        .with_columns((ix * iy).alias("_inter"))
        .with_columns((pl.col("_inter") / (area + area_r - pl.col("_inter"))).alias("iou"))
    )
