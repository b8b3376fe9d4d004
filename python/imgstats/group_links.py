"""The links that tie images into split groups, one finder per reason.

Each finder returns edges ``(a, b)`` between row numbers of the input frame (UInt32 arrays); a
row tied to nothing gets no edge. `imgstats.groups` takes the connected components of the union.
All finders are polars / NumPy vector code: sorting and shifting, no per-row Python.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Union

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.duplicates import duplicates
from imgstats.hamming import COLLAPSED_HASHES

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: pHash distance (bits of 64) up to which two consecutively numbered frames of one folder are
#: one sequence. Measured with ``benches/threshold_sequences.py`` (table in ``docs/splits.md``):
#: 945 consecutive-frame pairs of the seven real ViSP video sequences: median 0, 99th percentile
#: 14, max 20 bits; 99.6 % are within 16. 3,403 pairs of 83 distinct real photos (wallpapers, the
#: worst case of "IMG_0001 ... IMG_9999" in any order): 1st percentile 22, median 31; within 16
#: bits only dark/light variants of one design and a screenshot of its own wallpaper, plus one
#: unrelated pair (0.03 %).
SEQUENCE_THRESHOLD: int = 16

#: Largest gap (seconds) between EXIF capture times of one camera (make + model) inside a burst.
#: EXIF DateTimeOriginal has 1 s resolution, so 3 s allows frames up to three clock ticks apart
#: (camera-trap triggers and phone bursts shoot several frames a second).
BURST_SECONDS: float = 3.0

Edges = tuple["np.ndarray", "np.ndarray"]
GroupSpec = Union[str, pl.Expr]


def _empty() -> Edges:
    return np.zeros(0, np.uint32), np.zeros(0, np.uint32)


def _to_first(keys: pl.Series) -> Edges:
    """Edges from every row to the first row with the same (non-null) key."""
    frame = pl.DataFrame({"key": keys}).with_row_index("row")
    frame = frame.filter(pl.col("key").is_not_null()).with_columns(
        pl.col("row").min().over("key").alias("first")
    )
    frame = frame.filter(pl.col("row") != pl.col("first"))
    return frame["row"].to_numpy().astype(np.uint32), frame["first"].to_numpy().astype(np.uint32)


def near_copy_edges(
    df: pl.DataFrame, hash: str, threshold: int | None, threads: int | None
) -> Edges:
    """Exact and near copies: rows of one `imgstats.duplicates` group, linked to its first row."""
    with warnings.catch_warnings():
        # `duplicates` warns when near copies chain into one big group; in video frames that is
        # expected, and `groups` reports its largest groups itself.
        warnings.simplefilter("ignore", UserWarning)
        dup = duplicates(df, hash, threshold, threads=threads)
    return _to_first(
        dup.select(pl.when(pl.col("group_size") > 1).then(pl.col("group_id"))).to_series()
    )


def frame_names(paths: pl.Series) -> pl.DataFrame:
    """``folder``, ``prefix``, ``number`` (Int64) and ``ext`` of each path; ``prefix`` and
    ``number`` are null when the name does not end in a number (before its extension)."""

    def cut(col: str, tail: str) -> pl.Expr:  # `col` without its last len(`tail`) characters
        return pl.col(col).str.slice(0, pl.col(col).str.len_chars() - pl.col(tail).str.len_chars())

    # End-anchored extractions and slices: about twice as fast as one regex with a lazy prefix.
    return (
        pl.DataFrame({"path": paths.cast(pl.Utf8)})
        .lazy()
        .with_columns(pl.col("path").str.extract(r"([^/\\]*)$", 1).alias("name"))
        .with_columns(pl.col("name").str.extract(r"(\.[^.]*)$", 1).fill_null("").alias("ext"))
        .with_columns(cut("name", "ext").alias("stem"))
        .with_columns(pl.col("stem").str.extract(r"(\d+)$", 1).alias("digits"))
        .select(
            cut("path", "name").alias("folder"),
            pl.when(pl.col("digits").is_not_null()).then(cut("stem", "digits")).alias("prefix"),
            pl.col("digits").cast(pl.Int64, strict=False).alias("number"),
            "ext",
        )
        .collect()
    )


def _chain(frame: pl.DataFrame, key: list[str], order: str) -> tuple[pl.DataFrame, np.ndarray]:
    """Rows sorted by (`key`, `order`), and for each whether it shares `key` with the row before.

    The key columns are hashed into one UInt64 first: sorting a million rows on a number is
    several times faster than on three strings (a hash collision would only let two runs
    interleave, and a link still needs the pHash or time test).
    """
    keyed = frame.with_columns(pl.struct(key).hash(seed=12).alias("_key")).sort(
        ["_key", order, "row"]
    )
    k = keyed["_key"].to_numpy()
    same = np.zeros(len(k), dtype=bool)
    same[1:] = k[1:] == k[:-1]
    return keyed, same


def sequence_edges(df: pl.DataFrame, hash: str, threshold: int = SEQUENCE_THRESHOLD) -> Edges:
    """Frames of one capture run: same folder, same name but for a trailing frame number, and
    each frame within `threshold` pHash bits of the previous existing frame (gaps in numbering
    are allowed: datasets often keep every n-th frame). Frames whose hash is missing or collapsed
    (a constant picture) break the chain."""
    names = frame_names(df["path"])
    h = df[hash].cast(pl.UInt64)
    usable = h.is_not_null() & ~h.is_in(sorted(COLLAPSED_HASHES)).fill_null(False)
    frame = (
        names.with_columns(h.fill_null(0).alias("h"), usable.alias("ok"))
        .with_row_index("row")
        .filter(pl.col("number").is_not_null() & pl.col("ok"))
    )
    if frame.height < 2:
        return _empty()
    frame, same_run = _chain(frame, ["folder", "prefix", "ext"], "number")
    hv = frame["h"].to_numpy().astype(np.uint64)
    dist = np.full(len(hv), 64, dtype=np.int64)
    dist[1:] = np.bitwise_count(hv[1:] ^ hv[:-1])
    link = same_run & (dist <= threshold)
    rows = frame["row"].to_numpy().astype(np.uint32)
    return rows[link], np.roll(rows, 1)[link]


def burst_edges(df: pl.DataFrame, seconds: float = BURST_SECONDS) -> Edges:
    """Shots of one camera (EXIF make + model; missing values count as one unknown camera) whose
    capture times are at most `seconds` apart, chained in time order."""
    cam: list[str] = [c for c in ("camera_make", "camera_model") if c in df.columns]
    frame = (
        df.select(
            [pl.col(c).cast(pl.Utf8).fill_null("") for c in cam]
            + [pl.col("captured_at").dt.epoch("us").alias("t")]
        )
        .with_row_index("row")
        .filter(pl.col("t").is_not_null())
    )
    if frame.height < 2:
        return _empty()
    frame, same_cam = _chain(frame, cam, "t") if cam else _no_camera(frame)
    t = frame["t"].to_numpy()
    gap = np.full(len(t), np.iinfo(np.int64).max)
    gap[1:] = t[1:] - t[:-1]
    link = same_cam & (gap <= seconds * 1e6)
    rows = frame["row"].to_numpy().astype(np.uint32)
    return rows[link], np.roll(rows, 1)[link]


def _no_camera(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Without camera columns every image counts as one (unknown) camera."""
    frame = frame.sort(["t", "row"])
    same = np.ones(frame.height, dtype=bool)
    same[0] = False
    return frame, same


def user_edges(df: pl.DataFrame, group: GroupSpec) -> Edges:
    """Rows with the same non-null value of a user column or expression (site, recording...)."""
    if isinstance(group, str):
        if group not in df.columns:
            raise ValueError(f"group column {group!r} not found; columns: {', '.join(df.columns)}")
        expr = pl.col(group)
    else:
        expr = group
    values = df.select(expr.alias("key")).to_series()
    if values.len() != df.height:
        raise ValueError(f"the group expression gave {values.len()} values for {df.height} rows")
    return _to_first(values)
