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
from imgstats.duplicates import DEFAULT_THRESHOLD, _check_k, _low_information

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
    import imgstats

    df = imgstats.scan(source, metrics=["phash", "content_hash"])
    if isinstance(df, pl.LazyFrame):
        df = df.collect()
    return df


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
    k = _check_k(DEFAULT_THRESHOLD if threshold is None else threshold)
    if isinstance(data, pl.DataFrame):
        if split not in data.columns:
            raise ValueError(f"no '{split}' column in the DataFrame")
        df = data.filter(pl.col(split).is_not_null()).with_columns(pl.col(split).cast(pl.Utf8))
        names = df[split].unique(maintain_order=True).to_list()
        splits = _order(names, order, given=False)
    else:
        frames = []
        for name, source in data.items():
            part = _scan_source(source)
            frames.append(part.with_columns(pl.lit(str(name)).alias(split)))
        df = pl.concat(frames, how="diagonal_relaxed") if frames else pl.DataFrame()
        splits = _order([str(n) for n in data], order, given=True)
    if hash not in df.columns and df.height:
        raise ValueError(f"no '{hash}' column; scan with metrics=[..., '{hash}'] first")

    paths = (
        df["path"].cast(pl.Utf8)
        if "path" in df.columns
        else pl.Series("path", [str(i) for i in range(df.height)])
    )
    hcol = df[hash].cast(pl.UInt64) if df.height else pl.Series([], dtype=pl.UInt64)
    valid = hcol.is_not_null().to_numpy()
    h = hcol.fill_null(0).to_numpy().astype(np.uint64)
    low = _low_information(df, hash) if df.height else np.zeros(0, dtype=bool)
    labels = df[split].to_numpy() if df.height else np.zeros(0, dtype=object)
    exact_cols = [c for c in ("content_hash", "pixel_hash") if exact and c in df.columns]

    results = []
    for li, later in enumerate(splits):
        for earlier in splits[:li]:
            results.append(
                _pair(df, paths, h, valid, low, labels, exact_cols, earlier, later, k, threads)
            )
    schema = {
        "earlier": pl.Utf8,
        "later": pl.Utf8,
        "path": pl.Utf8,
        "matched_path": pl.Utf8,
        "distance": pl.UInt8,
        "exact": pl.Boolean,
    }
    pairs = pl.concat(results) if results else pl.DataFrame(schema=schema)
    leaking = pairs.group_by("later").agg(pl.col("path").n_unique().alias("leaking"))
    counts = pl.DataFrame({"split": splits}).join(
        df.group_by(split).agg(pl.len().alias("images")).rename({split: "split"})
        if df.height
        else pl.DataFrame(schema={"split": pl.Utf8, "images": pl.UInt32}),
        on="split",
        how="left",
    )
    summary = (
        counts.join(leaking.rename({"later": "split"}), on="split", how="left")
        .with_columns(
            pl.col("images").fill_null(0).cast(pl.UInt32),
            pl.col("leaking").fill_null(0).cast(pl.UInt32),
        )
        .with_columns(
            (pl.col("leaking") / pl.col("images")).fill_nan(0.0).fill_null(0.0).alias("share")
        )
    )
    group_view = None
    if groups is not None:
        from imgstats.leakage_groups import group_leakage

        group_view = group_leakage(
            df, split, None if isinstance(groups, str) and groups == "auto" else groups
        )
    return LeakageReport(
        pairs=pairs, summary=summary, order=tuple(splits), threshold=k, groups=group_view
    )


def _pair(
    df: pl.DataFrame,
    paths: pl.Series,
    h: np.ndarray,
    valid: np.ndarray,
    low: np.ndarray,
    labels: np.ndarray,
    exact_cols: list[str],
    earlier: str,
    later: str,
    k: int,
    threads: int | None,
) -> pl.DataFrame:
    """Nearest copy in `earlier` of each image of `later`: exact matches first, then by hash."""
    e_rows = np.flatnonzero(labels == earlier)
    l_rows = np.flatnonzero(labels == later)
    best_row = np.full(len(l_rows), -1, dtype=np.int64)
    best_d = np.full(len(l_rows), 255, dtype=np.int64)
    is_exact = np.zeros(len(l_rows), dtype=bool)
    for col in exact_cols:
        keys_e = pl.DataFrame({"key": df[col].gather(e_rows), "row": e_rows}).drop_nulls()
        keys_e = keys_e.group_by("key").agg(pl.col("row").min())
        keys_l = pl.DataFrame({"key": df[col].gather(l_rows), "pos": np.arange(len(l_rows))})
        hit = keys_l.join(keys_e, on="key", how="inner")
        pos, row = hit["pos"].to_numpy(), hit["row"].to_numpy()
        new = ~is_exact[pos]
        best_row[pos[new]] = row[new]
        best_d[pos[new]] = np.bitwise_count(h[l_rows[pos[new]]] ^ h[row[new]])
        is_exact[pos] = True
    e_ok = e_rows[valid[e_rows] & ~low[e_rows]]
    l_sel = np.flatnonzero(valid[l_rows] & ~low[l_rows] & ~is_exact)
    if len(e_ok) and len(l_sel):
        q, b, d = _imgstats._cross_pairs(h[e_ok], h[l_rows[l_sel]], k, True, threads)
        best_row[l_sel[q]] = e_ok[b]
        best_d[l_sel[q]] = d
    found = np.flatnonzero(best_row >= 0)
    # An exact copy whose hash is missing (decode failed) still leaks: distance unknown.
    d_ok = valid[l_rows[found]] & valid[best_row[found]]
    return pl.DataFrame(
        {
            "earlier": pl.Series([earlier] * len(found), dtype=pl.Utf8),
            "later": pl.Series([later] * len(found), dtype=pl.Utf8),
            "path": paths.gather(l_rows[found]),
            "matched_path": paths.gather(best_row[found]),
            "distance": pl.Series(np.where(d_ok, best_d[found], 0), dtype=pl.UInt8),
            "exact": pl.Series(is_exact[found], dtype=pl.Boolean),
        }
    ).with_columns(
        pl.when(pl.Series(d_ok, dtype=pl.Boolean)).then(pl.col("distance")).alias("distance")
    )
