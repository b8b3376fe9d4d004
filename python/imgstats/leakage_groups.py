"""Leakage by group: which groups (recordings, sequences, near-copy clusters) straddle splits,
and what share of each split's images sits in such a group.

Pair leakage (`imgstats.leakage`) counts images with a near copy across splits; a group view
answers the question behind reports such as "98 % of val frames share a recording with train"
(HULKs/hulk#2831): the frames need not be near copies to inflate a score, sharing the recording
is enough.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

import polars as pl

from imgstats.group_links import GroupSpec

GroupsSource = Union[pl.DataFrame, GroupSpec, None]

__all__ = ["GroupLeakage", "group_leakage"]


@dataclass(frozen=True)
class GroupLeakage:
    """What `group_leakage` found.

    Attributes:
        straddling: one row per group present in more than one split: ``group``, ``images``,
            ``splits`` (sorted list of split names), ``example`` (one path).
        summary: one row per split: ``split``, ``images``, ``straddling`` (images in a group that
            also has images in another split), ``share`` (straddling / images).
        shared: one row per ordered pair of splits: ``split``, ``other``, ``images`` (of
            ``split`` in a group that also has images in ``other``), ``share`` (of ``split``'s
            images) — "98 % of val shares a recording with train" is the row val/train.
    """

    straddling: pl.DataFrame
    summary: pl.DataFrame
    shared: pl.DataFrame

    def __repr__(self) -> str:
        lines = [f"GroupLeakage({self.straddling.height} groups straddle splits)"]
        for r in self.shared.filter(pl.col("images") > 0).iter_rows(named=True):
            lines.append(
                f"  {r['share']:.1%} of {r['split']} images share a group with {r['other']} "
                f"({r['images']:,})"
            )
        return "\n".join(lines)


def _group_column(df: pl.DataFrame, groups: GroupsSource) -> pl.Series:
    if isinstance(groups, pl.DataFrame):
        if not {"path", "group"} <= set(groups.columns):
            raise ValueError("groups= frame needs 'path' and 'group' columns (imgstats.groups)")
        joined = df.select(pl.col("path").cast(pl.Utf8)).join(
            groups.select(pl.col("path").cast(pl.Utf8), pl.col("group").cast(pl.Utf8)).unique(
                "path", keep="first"
            ),
            on="path",
            how="left",
            maintain_order="left",
        )
        return joined["group"]
    if isinstance(groups, str) and groups in df.columns:
        return df[groups].cast(pl.Utf8)
    if isinstance(groups, pl.Expr):
        return df.select(groups.cast(pl.Utf8).alias("group")).to_series()
    from imgstats.groups import groups as find

    return find(df).get_column("group").cast(pl.Utf8)


def group_leakage(
    df: pl.DataFrame, split: str = "split", groups: GroupsSource = None
) -> GroupLeakage:
    """Which groups straddle splits, and what share of each split sits in one.

    Args:
        df: one row per image with a `split` column (and ``path`` when groups are computed or
            given as a frame).
        split: the split column.
        groups: a group column name (``"recording_id"``) or polars expression, the frame from
            `imgstats.groups`, or ``None`` to compute ``imgstats.groups(df)`` (near copies,
            sequences, bursts). Rows with no group (null) count as groups of their own.

    Returns:
        A `GroupLeakage` (``.straddling``, ``.summary``, ``.shared``).
    """
    if split not in df.columns:
        raise ValueError(f"no '{split}' column in the DataFrame")
    gcol = _group_column(df, groups)
    paths = (
        df["path"].cast(pl.Utf8)
        if "path" in df.columns
        else pl.Series([str(i) for i in range(df.height)], dtype=pl.Utf8)
    )
    rows = pl.DataFrame({"path": paths, "split": df[split].cast(pl.Utf8), "group": gcol}).filter(
        pl.col("split").is_not_null() & pl.col("group").is_not_null()
    )
    splits = rows["split"].unique(maintain_order=True).to_list()
    per_group = rows.group_by("group").agg(
        pl.len().alias("images"),
        pl.col("split").unique().sort().alias("splits"),
        pl.col("path").first().alias("example"),
    )
    straddling = (
        per_group.filter(pl.col("splits").list.len() > 1)
        .sort(["images", "group"], descending=[True, False])
        .select("group", "images", "splits", "example")
    )
    tagged = rows.join(per_group.select("group", "splits"), on="group", how="left")
    counts = df[split].cast(pl.Utf8).drop_nulls().value_counts(name="images")
    summary = (
        pl.DataFrame({"split": splits}, schema={"split": pl.Utf8})
        .join(counts.rename({split: "split"}), on="split", how="left")
        .join(
            tagged.filter(pl.col("splits").list.len() > 1).group_by("split").len("straddling"),
            on="split",
            how="left",
        )
        .with_columns(
            pl.col("images").fill_null(0).cast(pl.UInt32),
            pl.col("straddling").fill_null(0).cast(pl.UInt32),
        )
        .with_columns((pl.col("straddling") / pl.col("images")).fill_nan(0.0).alias("share"))
    )
    pairs = (
        pl.DataFrame({"split": splits})
        .join(pl.DataFrame({"other": splits}), how="cross")
        .filter(pl.col("split") != pl.col("other"))
    )
    hits = (
        tagged.explode("splits")
        .rename({"splits": "other"})
        .filter(pl.col("other") != pl.col("split"))
        .group_by("split", "other")
        .len("images")
    )
    shared = (
        pairs.join(hits, on=["split", "other"], how="left")
        .join(summary.select("split", pl.col("images").alias("_n")), on="split", how="left")
        .with_columns(pl.col("images").fill_null(0).cast(pl.UInt32))
        .with_columns((pl.col("images") / pl.col("_n")).fill_nan(0.0).alias("share"))
        .drop("_n")
    )
    return GroupLeakage(straddling=straddling, summary=summary, shared=shared)
