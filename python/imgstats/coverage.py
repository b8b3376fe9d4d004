"""Environment coverage: a cross-tab of a label column (class, site, split) against environment
buckets, and the gaps in it (empty and thin cells: the collection plan).

Bucket definitions and thresholds live in `imgstats.buckets` and are documented in
``docs/coverage.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from imgstats.buckets import OTHER, UNKNOWN, AxesArg, label_frame, ordered_levels, resolve_axes

#: Cells with fewer images than this are "thin" in `gaps` (zero-count cells are "empty").
DEFAULT_MIN_COUNT = 20

#: Built-in axes whose buckets are fixed levels (always gap candidates).
FIXED_LEVEL_AXES: frozenset[str] = frozenset(
    {
        "lighting",
        "sharpness",
        "noise",
        "resolution",
        "time_of_day",
        "orientation",
        "atmosphere",
        "light_color",
        "motion",
    }
)

_RESERVED = {"axis", "bucket", "count", "share", "by_total", "source"}
_ALL = "all"


def coverage(
    df: pl.DataFrame | pl.LazyFrame,
    by: str | None = "class",
    axes: AxesArg = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    labels: Any = None,
) -> pl.DataFrame:
    """Count images per ``by`` value and environment bucket, including the zero cells.

    Args:
        df: a scan frame (see `imgstats.scan`), usually joined with labels.
        by: the grouping column (``"class"``, ``"site"``, ``"split"`` ...); ``None`` puts every
            image in one group named ``"all"``.
        axes: which bucket axes; ``None`` = every built-in axis whose columns are present
            (lighting, sharpness, noise, camera, resolution, time_of_day, orientation). A list
            mixes built-in axis names and plain column names; a mapping names custom axes:
            ``{"lighting": None, "weather": pl.col("site").replace(site_to_weather)}``.
        thresholds: per-axis overrides of `imgstats.buckets.DEFAULT_THRESHOLDS`, e.g.
            ``{"lighting": {"dark_below": 30}}``.
        labels: an `imgstats.labels` result: count OBJECTS instead (one row per box, with its
            image's axes, plus one per background image as class ``(background)``) and add
            the object axes object_size, occlusion, truncation, crowding (docs/labels.md).

    Returns:
        Long format, one row per (``by`` value, axis, bucket) -- every combination, zero counts
        included, so a missing environment shows as ``count == 0``. Columns: the ``by`` column
        (first, under its own name, original dtype), ``axis``, ``bucket``, ``count`` (UInt32),
        ``share`` (count / images of that ``by`` value), ``by_total`` and ``source`` (the input
        columns of the axis; ``"blur"`` for sharpness means the fallback was used). Rows are in
        axis order, then ``by`` value, then bucket order (fixed levels, then observed extras by
        frequency, then ``other`` / ``unknown``). Failed reads count as ``unknown``.
    """
    df = df.collect() if isinstance(df, pl.LazyFrame) else df
    object_specs: list[Any] = []
    detection = labels
    if detection is not None:
        from imgstats.labels.axes import coverage_input

        df, axes, object_specs = coverage_input(df, detection, axes)
    by_name = by if by is not None else "group"
    if by is not None and by not in df.columns:
        raise ValueError(f"by column {by!r} not in the frame; columns: {', '.join(df.columns)}")
    if by_name in _RESERVED:
        raise ValueError(f"by column name {by_name!r} clashes with an output column; rename it")
    specs = resolve_axes(df.columns, axes, thresholds) + object_specs
    if not specs:
        raise ValueError("no bucket axis can be built from the columns of this frame")
    bucketed = label_frame([df], specs)[0]
    by_col = df.get_column(by) if by is not None else pl.repeat(_ALL, df.height, eager=True)
    bucketed = bucketed.with_columns(by_col.alias(by_name))
    groups = bucketed.group_by(by_name).len("by_total").sort(by_name, nulls_last=True)
    parts = []
    for spec in specs:
        counts = bucketed.group_by(by_name, spec.name).len("count")
        per_bucket = counts.group_by(spec.name).agg(pl.col("count").sum())
        totals = dict(zip(per_bucket[spec.name].to_list(), per_bucket["count"].to_list()))
        levels = ordered_levels(spec, list(totals), totals)
        grid = groups.join(
            pl.DataFrame(
                {"bucket": levels, "_order": list(range(len(levels)))},
                schema={"bucket": pl.Utf8, "_order": pl.Int64},
            ),
            how="cross",
        )
        cell = grid.join(
            counts.rename({spec.name: "bucket"}),
            on=[by_name, "bucket"],
            how="left",
            nulls_equal=True,
        )
        parts.append(
            cell.with_columns(
                pl.lit(spec.name).alias("axis"),
                pl.col("count").fill_null(0).cast(pl.UInt32),
                pl.lit(spec.source).alias("source"),
            )
            .sort([by_name, "_order"], nulls_last=True)
            .select(by_name, "axis", "bucket", "count", "by_total", "source")
        )
    out = pl.concat(parts)
    if detection is not None:
        from imgstats.labels.axes import drop_background_object_cells

        out = drop_background_object_cells(out)
    return out.with_columns(
        (pl.col("count") / pl.col("by_total")).alias("share"),
        pl.col("by_total").cast(pl.UInt32),
    ).select(by_name, "axis", "bucket", "count", "share", "by_total", "source")


def coverage_wide(cov: pl.DataFrame, values: str = "count") -> pl.DataFrame:
    """Pivot a `coverage` frame to one row per ``by`` value and one ``"axis:bucket"`` column per
    bucket (``values`` = ``"count"`` or ``"share"``), in the long frame's order."""
    by_name = cov.columns[0]
    keyed = cov.with_columns(
        pl.concat_str([pl.col("axis"), pl.col("bucket")], separator=":").alias("_cell")
    )
    return keyed.pivot(on="_cell", index=by_name, values=values, maintain_order=True)


def gaps(cov: pl.DataFrame, min_count: int = DEFAULT_MIN_COUNT) -> pl.DataFrame:
    """The empty and thin cells of a `coverage` frame: the collection plan.

    Every (``by`` value, axis, bucket) with ``count < min_count`` -- including combinations never
    observed (count 0) -- except the ``unknown`` and ``other`` buckets, which are not environments
    one can collect, the null ``by`` group (unlabelled images), and buckets of the camera axis or
    of user axes that hold fewer than ``min_count`` images in the whole dataset (a rare camera is
    not something to collect for every class). Fixed-level buckets (``night``, ``dark`` ...) are
    always candidates, even when no image at all has them -- unless no image could be bucketed on
    that axis at all (e.g. no capture time anywhere: time of day is unknown, not missing).

    Columns: the ``by`` column, ``axis``, ``bucket``, ``count``, ``needed`` (``min_count -
    count``: images to collect), ``status`` (``"empty"`` / ``"thin"``),
    ``severity`` (``needed / min_count``: 1.0 for an empty cell), ``by_total``. Sorted by severity
    (empty first), then larger groups first (a missing environment in a big class matters more),
    then axis and bucket.
    """
    if min_count < 1:
        raise ValueError("min_count must be >= 1")
    by_name = cov.columns[0]
    bucket_total = pl.col("count").cast(pl.Int64).sum().over("axis", "bucket")
    # A fixed-level bucket (night, dark, ...) is a gap even when the whole dataset lacks it; an
    # observed value of a camera or user axis that is rare everywhere is not a collection target.
    relevant = pl.col("axis").is_in(list(FIXED_LEVEL_AXES)) | (bucket_total >= min_count)
    # An axis nobody could be bucketed on (no image has a capture time) says nothing about gaps.
    known = (
        pl.when(~pl.col("bucket").is_in([UNKNOWN, OTHER])).then(pl.col("count")).otherwise(0)
    ).cast(pl.Int64).sum().over("axis") > 0
    return (
        cov.filter(
            (pl.col("count") < min_count)
            & ~pl.col("bucket").is_in([UNKNOWN, OTHER])
            & pl.col(by_name).is_not_null()
            & relevant
            & known
        )
        .with_columns(
            (pl.lit(min_count) - pl.col("count").cast(pl.Int64)).alias("needed"),
            pl.when(pl.col("count") == 0)
            .then(pl.lit("empty"))
            .otherwise(pl.lit("thin"))
            .alias("status"),
        )
        .with_columns((pl.col("needed") / min_count).alias("severity"))
        .sort(
            ["severity", "by_total", "axis", by_name, "bucket"],
            descending=[True, True, False, False, False],
            nulls_last=True,
            maintain_order=True,
        )
        .select(by_name, "axis", "bucket", "count", "needed", "status", "severity", "by_total")
    )
