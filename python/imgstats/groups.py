"""Split groups: images that must land in the same split, and why.

A group is a connected component of every link found (`imgstats.group_links`): near copies,
frames of one sequence, EXIF bursts of one camera, and the user's own groups (a column such as
``recording_id`` or an expression). Splitting by these groups instead of by image is what stops
a validation score from being inflated by near-identical frames on both sides.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule
from imgstats.group_links import (
    BURST_SECONDS,
    SEQUENCE_THRESHOLD,
    GroupSpec,
    burst_edges,
    near_copy_edges,
    sequence_edges,
    user_edges,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: The reasons, in the order they are listed in the ``reasons`` column.
REASONS: tuple[str, ...] = ("near_copy", "sequence", "burst", "user")

#: `groups` warns when one group holds more than this share of all images: a 10 % test split
#: cannot then be drawn from the rest without giving up balance.
GIANT_GROUP_SHARE: float = 0.2
#: ...in a data set of at least this many images (in a handful of images any pair is 20 %).
GIANT_GROUP_MIN_IMAGES: int = 20

__all__ = [
    "BURST_SECONDS",
    "GIANT_GROUP_MIN_IMAGES",
    "GIANT_GROUP_SHARE",
    "REASONS",
    "SEQUENCE_THRESHOLD",
    "groups",
    "largest_groups",
]


def find_groups(
    df: pl.DataFrame,
    *,
    near_copies: bool = True,
    sequences: bool = True,
    bursts: bool = True,
    group: GroupSpec | None = None,
    threshold: int | None = None,
    sequence_threshold: int = SEQUENCE_THRESHOLD,
    burst_seconds: float = BURST_SECONDS,
    hash: str = "phash",
    threads: int | None = None,
) -> tuple[pl.DataFrame, list[str]]:
    """`groups` plus the notes on reasons that could not be used (missing columns)."""
    if "path" not in df.columns:
        raise ValueError("groups needs a 'path' column (a scan table)")
    n = df.height
    notes: list[str] = []
    found: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    if near_copies:
        if hash in df.columns:
            found["near_copy"] = near_copy_edges(df, hash, threshold, threads)
        else:
            notes.append(f"near copies not grouped: no '{hash}' column (scan the hashes)")
    if sequences:
        if hash in df.columns:
            found["sequence"] = sequence_edges(df, hash, sequence_threshold)
        else:
            notes.append(f"sequences not grouped: no '{hash}' column to confirm frames are alike")
    if bursts:
        if "captured_at" in df.columns:
            found["burst"] = burst_edges(df, burst_seconds)
        else:
            notes.append("bursts not grouped: no 'captured_at' column (scan with the exif metric)")
    if group is not None:
        found["user"] = user_edges(df, group)

    a = [e[0] for e in found.values()] or [np.zeros(0, np.uint32)]
    b = [e[1] for e in found.values()] or [np.zeros(0, np.uint32)]
    labels, sizes = _imgstats._components(
        n, np.concatenate(a).astype(np.uint32), np.concatenate(b).astype(np.uint32)
    )
    # Reasons per row as a bit mask, turned into lists through a 16-row lookup table (a list
    # built per row would cost seconds at a million rows).
    mask = np.zeros(n, dtype=np.int64)
    for bit, name in enumerate(REASONS):
        if name in found:
            touched = np.zeros(n, dtype=bool)
            touched[found[name][0]] = True
            touched[found[name][1]] = True
            mask |= touched.astype(np.int64) << bit
    combos = range(1 << len(REASONS))
    table = pl.DataFrame(
        {
            "mask": list(combos),
            "reasons": [[r for b, r in enumerate(REASONS) if m >> b & 1] for m in combos],
        },
        schema={"mask": pl.Int64, "reasons": pl.List(pl.Utf8)},
    )
    out = (
        pl.DataFrame(
            {
                "path": df["path"].cast(pl.Utf8),
                "group": pl.Series(labels, dtype=pl.UInt32),
                "group_size": pl.Series(sizes[labels] if n else [], dtype=pl.UInt32),
                "mask": pl.Series(mask, dtype=pl.Int64),
            }
        )
        .join(table, on="mask", how="left", maintain_order="left")
        .drop("mask")
    )
    if n >= GIANT_GROUP_MIN_IMAGES and sizes.max() > GIANT_GROUP_SHARE * n:
        notes.append(
            f"one group holds {int(sizes.max()):,} of {n:,} images ({sizes.max() / n:.0%}); it "
            "goes whole into one split, so smaller splits must be built from the rest — check "
            "largest_groups() if this is not one recording (a loose threshold or a catch-all "
            "user group is the usual cause)"
        )
    return out, notes


def groups(
    df: pl.DataFrame,
    *,
    near_copies: bool = True,
    sequences: bool = True,
    bursts: bool = True,
    group: GroupSpec | None = None,
    threshold: int | None = None,
    sequence_threshold: int = SEQUENCE_THRESHOLD,
    burst_seconds: float = BURST_SECONDS,
    hash: str = "phash",
    threads: int | None = None,
) -> pl.DataFrame:
    """The groups a leak-free split must keep whole; one row per input row, in input order.

    Reasons (each can be switched off; a reason whose columns are missing is skipped with a
    warning):

    - ``near_copy``: exact copies (same bytes / pixels) and near copies within `threshold` bits
      of `hash` — the groups of `imgstats.duplicates`.
    - ``sequence``: frames of one video or capture run: files in one folder whose names differ
      only in a trailing frame number (``cam3_000123.jpg``, ``frame-0042.png``), chained where
      consecutive frames are within `sequence_threshold` bits of `hash`, so ``IMG_0001`` ...
      ``IMG_9999`` of unrelated photos stay apart.
    - ``burst``: EXIF ``captured_at`` of one camera (``camera_make`` + ``camera_model``) at most
      `burst_seconds` apart.
    - ``user``: rows with the same non-null value of `group` (a column name such as
      ``"recording_id"`` or a polars expression). User groups are never broken: they are merged
      with the links found above (pass the three flags False to use only your groups).

    Groups are the connected components of all links (the Rust union-find).

    Returns:
        ``path``, ``group`` (UInt32, numbered by first appearance), ``group_size`` (UInt32),
        ``reasons`` (List[str]: the reasons that link this image to another one; empty for an
        image alone in its group). Join back with ``df.join(g, on="path")`` or by position.
    """
    out, notes = find_groups(
        df,
        near_copies=near_copies,
        sequences=sequences,
        bursts=bursts,
        group=group,
        threshold=threshold,
        sequence_threshold=sequence_threshold,
        burst_seconds=burst_seconds,
        hash=hash,
        threads=threads,
    )
    for note in notes:
        warnings.warn(note, stacklevel=2)
    return out


def largest_groups(g: pl.DataFrame, n: int = 10) -> pl.DataFrame:
    """The `n` largest groups of a `groups` table: ``group``, ``images``, ``share`` (of all
    images), ``reasons`` (every reason inside the group) and an ``example`` path."""
    total = max(g.height, 1)
    return (
        g.group_by("group")
        .agg(
            pl.len().alias("images"),
            pl.col("reasons").explode().drop_nulls().unique().sort().alias("reasons"),
            pl.col("path").first().alias("example"),
        )
        .with_columns((pl.col("images") / total).alias("share"))
        .sort(["images", "group"], descending=[True, False])
        .head(n)
        .select("group", "images", "share", "reasons", "example")
    )
