"""Leakage across dataset splits: images of a later split (test) with a near copy in an earlier
one (train), found with the exact Hamming index (each later image's nearest earlier image)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule
from imgstats.hamming import DEFAULT_THRESHOLD, check_threshold, low_information

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Known split names in the order leakage is checked (an earlier split leaks into a later one).
CANONICAL_ORDER: tuple[str, ...] = (
    "train",
    "training",
    "val",
    "valid",
    "validation",
    "dev",
    "test",
    "testing",
    "holdout",
)

SplitSource = Union[str, "os.PathLike[str]", Sequence[str], pl.DataFrame]

#: Columns of `LeakageReport.pairs`.
PAIR_SCHEMA: dict[str, pl.DataType] = {
    "earlier": pl.Utf8(),
    "later": pl.Utf8(),
    "path": pl.Utf8(),
    "matched_path": pl.Utf8(),
    "distance": pl.UInt8(),
    "exact": pl.Boolean(),
}

__all__ = ["CANONICAL_ORDER", "LeakageReport", "leakage"]


@dataclass(frozen=True)
class LeakageReport:
    """What `leakage` found.

    Attributes:
        pairs: one row per (split pair, leaking image): ``earlier``, ``later`` (split names),
            ``path`` (the image in the later split), ``matched_path`` (its nearest copy in the
            earlier split), ``distance`` (bits, UInt8), ``exact`` (same bytes or pixels).
        summary: one row per split, in check order: ``split``, ``images``, ``leaking`` (images
            with a near copy in any earlier split), ``share`` (leaking / images).
        order: the splits in the order they were compared.
        threshold: the Hamming threshold used.
        groups: the group view (`imgstats.leakage_groups.GroupLeakage`: groups that straddle
            splits and the share of each split in one) when ``leakage(..., groups=...)`` is given.
    """

    pairs: pl.DataFrame
    summary: pl.DataFrame
    order: tuple[str, ...]
    threshold: int
    groups: Any = None

    def __repr__(self) -> str:
        lines = [f"LeakageReport(threshold={self.threshold}, order={list(self.order)})"]
        for row in self.summary.iter_rows(named=True):
            lines.append(
                f"  {row['split']}: {row['leaking']} of {row['images']} images "
                f"({row['share']:.1%}) have a near copy in an earlier split"
            )
        if self.groups is not None:
            lines.append(repr(self.groups))
        return "\n".join(lines)


def _order(names: Sequence[str], order: Sequence[str] | None, given: bool) -> list[str]:
    if order is not None:
        missing = set(names) - set(order)
        if missing:
            raise ValueError(f"order does not mention the splits {sorted(missing)}")
        return [s for s in order if s in set(names)]
    if given:
        return list(names)
    rank = {name: i for i, name in enumerate(CANONICAL_ORDER)}
    # Known names by their usual order; unknown names after them, as they first appear.
    return sorted(names, key=lambda s: (rank.get(s.lower(), len(rank)), names.index(s)))


def _scan_source(source: SplitSource) -> pl.DataFrame:
    if isinstance(source, pl.DataFrame):
        return source
    from imgstats.scan import scan

    return scan(source, metrics=["phash", "content_hash"])


def leakage(
    data: pl.DataFrame | Mapping[str, SplitSource],
    split: str = "split",
    *,
    hash: str = "phash",
    threshold: int | None = None,
    order: Sequence[str] | None = None,
    exact: bool = True,
    threads: int | None = None,
    groups: Any = None,
) -> LeakageReport:
    """Find images of each later split that have a near copy in an earlier split.

    Args:
        data: a scan table with a `split` column, or a mapping ``{split name: source}`` where a
            source is a directory / glob / list of paths (scanned with
            ``imgstats.scan(source, metrics=["phash", "content_hash"])``) or a scan table.
        split: the split column of `data` (DataFrame input).
        hash: the hash column compared (``phash`` by default).
        threshold: Hamming distance in bits (default `imgstats.duplicates.DEFAULT_THRESHOLD`).
        order: the order of the splits. Default: the mapping's order, or for a DataFrame the
            usual order train < val < test (other names after, as they appear). Every split is
            compared with every earlier one: train->val, train->test, val->test.
        exact: also match byte-identical (``content_hash``) and pixel-identical
            (``pixel_hash``) files; these are the only matches for low-information images
            (near-constant pictures whose hashes collapse), which are never matched by hash.
        threads: worker threads for the search (default: all CPUs).
        groups: also report leakage by group (``.groups``): a group column name (e.g.
            ``"recording_id"``) or expression, the frame from `imgstats.groups`, or ``"auto"``
            to compute ``imgstats.groups(df)``. See `imgstats.leakage_groups.group_leakage`.

    Returns:
        A `LeakageReport` with ``.pairs`` (one row per leaking image and earlier split: its
        nearest copy there) and ``.summary`` (count and share leaking per split).
    """
    k = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
    df, splits = _combine(data, split, order)
    if hash not in df.columns and df.height:
        raise ValueError(f"no '{hash}' column; scan with metrics=[..., '{hash}'] first")
    table = _HashTable.of(df, split, hash, exact)
    results = [
        _pair(table, earlier, later, k, threads)
        for li, later in enumerate(splits)
        for earlier in splits[:li]
    ]
    pairs = pl.concat(results) if results else pl.DataFrame(schema=PAIR_SCHEMA)
    summary = _summary(df, split, splits, pairs)
    group_view = None
    if groups is not None:
        from imgstats.leakage_groups import group_leakage

        group_view = group_leakage(
            df, split, None if isinstance(groups, str) and groups == "auto" else groups
        )
    return LeakageReport(
        pairs=pairs, summary=summary, order=tuple(splits), threshold=k, groups=group_view
    )


def _combine(
    data: pl.DataFrame | Mapping[str, SplitSource], split: str, order: Sequence[str] | None
) -> tuple[pl.DataFrame, list[str]]:
    """One frame holding every split (its name in column `split`) and the splits in check order."""
    if isinstance(data, pl.DataFrame):
        if split not in data.columns:
            raise ValueError(f"no '{split}' column in the DataFrame")
        df = data.filter(pl.col(split).is_not_null()).with_columns(pl.col(split).cast(pl.Utf8))
        names = df[split].unique(maintain_order=True).to_list()
        return df, _order(names, order, given=False)
    frames = []
    for name, source in data.items():
        part = _scan_source(source)
        frames.append(part.with_columns(pl.lit(str(name)).alias(split)))
    df = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
    return df, _order([str(n) for n in data], order, given=True)


def _summary(df: pl.DataFrame, split: str, splits: list[str], pairs: pl.DataFrame) -> pl.DataFrame:
    """Images and leaking images per split, in check order."""
    leaking = pairs.group_by("later").agg(pl.col("path").n_unique().alias("leaking"))
    counts = pl.DataFrame({"split": splits}).join(
        df.group_by(split).agg(pl.len().alias("images")).rename({split: "split"})
        if df.height
        else pl.DataFrame(schema={"split": pl.Utf8, "images": pl.UInt32}),
        on="split",
        how="left",
    )
    return (
        counts.join(leaking.rename({"later": "split"}), on="split", how="left")
        .with_columns(
            pl.col("images").fill_null(0).cast(pl.UInt32),
            pl.col("leaking").fill_null(0).cast(pl.UInt32),
        )
        .with_columns(
            (pl.col("leaking") / pl.col("images")).fill_nan(0.0).fill_null(0.0).alias("share")
        )
    )


@dataclass(frozen=True)
class _HashTable:
    """The combined frame of every split, as the arrays the matching reads (one entry per row)."""

    paths: pl.Series
    #: The compared hash as uint64 (0 where missing) and where it is present.
    hashes: np.ndarray
    valid: np.ndarray
    #: Near-constant images: matched only exactly, never by hash.
    low: np.ndarray
    #: The split name of each row.
    labels: np.ndarray
    #: The exact-copy keys used (``content_hash``, ``pixel_hash``: same bytes, same pixels).
    exact_keys: tuple[pl.Series, ...]

    @classmethod
    def of(cls, df: pl.DataFrame, split: str, hash: str, exact: bool) -> _HashTable:
        paths = (
            df["path"].cast(pl.Utf8)
            if "path" in df.columns
            else pl.Series("path", [str(i) for i in range(df.height)])
        )
        hcol = df[hash].cast(pl.UInt64) if df.height else pl.Series([], dtype=pl.UInt64)
        return cls(
            paths=paths,
            hashes=hcol.fill_null(0).to_numpy().astype(np.uint64),
            valid=hcol.is_not_null().to_numpy(),
            low=low_information(df, hash) if df.height else np.zeros(0, dtype=bool),
            labels=df[split].to_numpy() if df.height else np.zeros(0, dtype=object),
            exact_keys=tuple(
                df[c] for c in ("content_hash", "pixel_hash") if exact and c in df.columns
            ),
        )


@dataclass(frozen=True)
class _Matches:
    """For each image of the later split: its best match in the earlier split so far."""

    #: Row of the match in the table (-1: none yet), its Hamming distance, whether exact.
    row: np.ndarray
    distance: np.ndarray
    exact: np.ndarray

    @classmethod
    def none(cls, n: int) -> _Matches:
        return cls(
            row=np.full(n, -1, dtype=np.int64),
            distance=np.full(n, 255, dtype=np.int64),
            exact=np.zeros(n, dtype=bool),
        )


def _pair(table: _HashTable, earlier: str, later: str, k: int, threads: int | None) -> pl.DataFrame:
    """Nearest copy in `earlier` of each image of `later`: exact matches first, then by hash."""
    e_rows = np.flatnonzero(table.labels == earlier)
    l_rows = np.flatnonzero(table.labels == later)
    matches = _Matches.none(len(l_rows))
    _match_exact(table, e_rows, l_rows, matches)
    _match_hashes(table, e_rows, l_rows, matches, k, threads)
    return _pair_frame(table, earlier, later, l_rows, matches)


def _match_exact(
    table: _HashTable, e_rows: np.ndarray, l_rows: np.ndarray, matches: _Matches
) -> None:
    """Later images with the same bytes or pixels as an earlier one (its first such row)."""
    h = table.hashes
    for keys in table.exact_keys:
        keys_e = pl.DataFrame({"key": keys.gather(e_rows), "row": e_rows}).drop_nulls()
        keys_e = keys_e.group_by("key").agg(pl.col("row").min())
        keys_l = pl.DataFrame({"key": keys.gather(l_rows), "pos": np.arange(len(l_rows))})
        hit = keys_l.join(keys_e, on="key", how="inner")
        pos, row = hit["pos"].to_numpy(), hit["row"].to_numpy()
        new = ~matches.exact[pos]
        matches.row[pos[new]] = row[new]
        matches.distance[pos[new]] = np.bitwise_count(h[l_rows[pos[new]]] ^ h[row[new]])
        matches.exact[pos] = True


def _match_hashes(
    table: _HashTable,
    e_rows: np.ndarray,
    l_rows: np.ndarray,
    matches: _Matches,
    k: int,
    threads: int | None,
) -> None:
    """The nearest earlier hash within `k` bits for each later image without an exact copy."""
    usable = table.valid & ~table.low
    e_ok = e_rows[usable[e_rows]]
    l_sel = np.flatnonzero(usable[l_rows] & ~matches.exact)
    if len(e_ok) and len(l_sel):
        h = table.hashes
        q, b, d = _imgstats._cross_pairs(h[e_ok], h[l_rows[l_sel]], k, True, threads)
        matches.row[l_sel[q]] = e_ok[b]
        matches.distance[l_sel[q]] = d


def _pair_frame(
    table: _HashTable, earlier: str, later: str, l_rows: np.ndarray, matches: _Matches
) -> pl.DataFrame:
    """The rows of `LeakageReport.pairs` for one (earlier, later) pair of splits."""
    found = np.flatnonzero(matches.row >= 0)
    matched = matches.row[found]
    # An exact copy whose hash is missing (decode failed) still leaks: distance unknown.
    d_ok = table.valid[l_rows[found]] & table.valid[matched]
    return pl.DataFrame(
        {
            "earlier": pl.Series([earlier] * len(found), dtype=pl.Utf8),
            "later": pl.Series([later] * len(found), dtype=pl.Utf8),
            "path": table.paths.gather(l_rows[found]),
            "matched_path": table.paths.gather(matched),
            "distance": pl.Series(np.where(d_ok, matches.distance[found], 0), dtype=pl.UInt8),
            "exact": pl.Series(matches.exact[found], dtype=pl.Boolean),
        }
    ).with_columns(
        pl.when(pl.Series(d_ok, dtype=pl.Boolean)).then(pl.col("distance")).alias("distance")
    )
