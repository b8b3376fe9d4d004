"""The tables a `SplitResult` reports: how close each split came to its targets (``balance``)
and what the groups did not allow (``given_up``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import polars as pl

from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: A class (or bucket) whose achieved share misses a target by more than this, and by more than
#: one image (object), is reported in ``given_up`` (difference of shares, 0.02 = two points).
GIVE_UP_TOLERANCE: float = 0.02

__all__ = ["GIVE_UP_TOLERANCE", "balance_table", "given_up_subject", "given_up_table"]


def given_up_subject(row: Mapping[str, Any]) -> str:
    """How a `given_up` row is named in messages."""
    return "split sizes" if row["kind"] == "images" else f"{row['kind']} {row['value']!r}"


def balance_table(
    assignment: pl.DataFrame, long: pl.DataFrame, target: dict[str, float]
) -> pl.DataFrame:
    """``split, kind, value, count, total, target, achieved, deviation`` for split sizes and
    every stratified value (`long`: ``group, kind, value, count``)."""
    by_group = assignment.group_by("group").agg(pl.col("split").first())
    per_split = (
        long.join(by_group, on="group")
        .group_by("split", "kind", "value")
        .agg(pl.col("count").sum())
    )
    images = (
        assignment.group_by("split")
        .len("count")
        .with_columns(pl.lit("images").alias("kind"), pl.lit("images").alias("value"))
    )
    grid_keys = pl.concat(
        [
            pl.DataFrame({"kind": ["images"], "value": ["images"]}),
            long.select("kind", "value").unique(),
        ]
    )
    grid = pl.DataFrame({"split": list(target)}).join(grid_keys, how="cross")
    counts = pl.concat(
        [
            per_split.select("split", "kind", "value", pl.col("count").cast(pl.Int64)),
            images.select("split", "kind", "value", pl.col("count").cast(pl.Int64)),
        ]
    )
    order = {s: i for i, s in enumerate(target)}
    return (
        grid.join(counts, on=["split", "kind", "value"], how="left")
        .with_columns(pl.col("count").fill_null(0))
        .with_columns(
            pl.col("count").sum().over("kind", "value").alias("total"),
            pl.col("split").replace_strict(target, return_dtype=pl.Float64).alias("target"),
        )
        .with_columns((pl.col("count") / pl.col("total")).fill_nan(0.0).alias("achieved"))
        .with_columns((pl.col("achieved") - pl.col("target")).alias("deviation"))
        .sort(
            pl.col("kind") != "images",
            "kind",
            "value",
            pl.col("split").replace_strict(order, return_dtype=pl.Int64),
        )
        .select("split", "kind", "value", "count", "total", "target", "achieved", "deviation")
    )


def given_up_table(
    balance: pl.DataFrame, long: pl.DataFrame, sizes: np.ndarray, kept: list[str]
) -> pl.DataFrame:
    """The values whose worst split misses its target by more than `GIVE_UP_TOLERANCE` and by
    more than one image (object), with the reason the groups give."""
    worst = (
        balance.with_columns(pl.col("deviation").abs().alias("abs"))
        .sort("abs", descending=True)
        .group_by("kind", "value", maintain_order=True)
        .first()
        # One image (object) more or less moves a share by 1/total: deviations below that are
        # rounding, not something a better split could fix.
        .filter((pl.col("abs") > GIVE_UP_TOLERANCE) & (pl.col("abs") * pl.col("total") > 1))
    )
    holders = long.group_by("kind", "value").agg(
        pl.len().alias("groups"), pl.col("count").max().alias("largest")
    )
    n_splits = balance["split"].n_unique()
    images = pl.DataFrame(
        {
            "kind": ["images"],
            "value": ["images"],
            "groups": [len(sizes)],
            "largest": [int(sizes.max()) if len(sizes) else 0],
        }
    )
    holders = pl.concat(
        [
            holders.with_columns(pl.col("groups").cast(pl.Int64), pl.col("largest").cast(pl.Int64)),
            images.with_columns(pl.col("groups").cast(pl.Int64), pl.col("largest").cast(pl.Int64)),
        ]
    )
    out = worst.join(holders, on=["kind", "value"], how="left")
    fixed = pl.col("split").is_in(kept) | ((pl.col("kind") == "images") & pl.lit(bool(kept)))
    reason = (
        pl.when(fixed)
        .then(
            pl.lit(
                f"the kept split(s) {', '.join(kept)} did not move; the other splits share the "
                "rest in proportion to their ratios"
            )
        )
        .when(pl.col("groups") < n_splits)
        .then(
            pl.format(
                "only {} group(s) hold it, fewer than the {} splits", "groups", pl.lit(n_splits)
            )
        )
        .when(pl.col("largest") / pl.col("total") > pl.col("abs"))
        .then(
            pl.format(
                "its largest group holds {} of {}: groups this size cannot be divided finer",
                "largest",
                "total",
            )
        )
        .otherwise(pl.lit("traded against the balance of other classes and the split sizes"))
    )
    return out.select(
        "kind",
        "value",
        "total",
        "groups",
        pl.col("split").alias("worst_split"),
        "deviation",
        reason.alias("reason"),
    )
