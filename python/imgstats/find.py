""" "Is this new image already in my set?": `find` matches new images against a saved scan.

The reference is a scan table (a frame, or the Parquet file ``imgstats scan -o ref.parquet``
wrote). Exact matches join on ``content_hash`` / ``pixel_hash``; near matches use the same rule
as `imgstats.duplicates` (`imgstats.match_rule`: pHash, confirmed by dHash and the colour
signature in the wider radius),
searched with the exact Rust Hamming index built once per call from the reference hashes (8 bytes
an image), so no index file is needed.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Union

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.hamming import low_information
from imgstats.match_rule import (
    DEFAULT_COLOR_THRESHOLD,
    MATCH_KINDS,
    NEAR,
    RULE_METRICS,
    SAME_BYTES,
    SAME_PIXELS,
    color_codes,
    cross_links,
    empty_links,
    links_frame,
    simple_pictures,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: What `find` scans new images for: what the match rule reads.
FIND_METRICS = list(RULE_METRICS)

Images = Union[pl.DataFrame, str, "os.PathLike[str]", Sequence[Union[str, "os.PathLike[str]"]]]
Reference = Union[pl.DataFrame, pl.LazyFrame, str, "os.PathLike[str]"]

__all__ = ["FIND_METRICS", "find"]


def _queries(new_images: Images, threads: int | None) -> pl.DataFrame:
    if isinstance(new_images, pl.DataFrame):
        return new_images
    from imgstats.scan import scan

    return scan(new_images, FIND_METRICS, threads=threads)


def _reference(reference: Reference) -> pl.DataFrame:
    if isinstance(reference, pl.DataFrame):
        return reference
    if isinstance(reference, pl.LazyFrame):
        return reference.collect()
    path = Path(reference)
    if not path.is_file():
        raise FileNotFoundError(f"reference: no such file {path} (a saved scan, .parquet)")
    wanted = ["path", *FIND_METRICS]
    names = pl.read_parquet_schema(path)
    return pl.read_parquet(path, columns=[c for c in wanted if c in names])


def _ok_rows(df: pl.DataFrame) -> np.ndarray:
    """Rows with a usable pHash (not failed, not null, not low-information)."""
    ok = df["phash"].is_not_null().to_numpy()
    if "error" in df.columns:
        ok &= df["error"].is_null().to_numpy()
    out: np.ndarray = ok & ~low_information(df, "phash", entropy=False)
    return out


def _exact(q: pl.DataFrame, ref: pl.DataFrame) -> pl.DataFrame:
    parts = []
    for col, kind in (("content_hash", SAME_BYTES), ("pixel_hash", SAME_PIXELS)):
        if col in q.columns and col in ref.columns:
            left = q.select(pl.col(col).alias("key")).with_row_index("a").drop_nulls("key")
            right = ref.select(pl.col(col).alias("key")).with_row_index("b").drop_nulls("key")
            j = left.join(right.cast({"key": left.schema["key"]}), on="key")
            a, b = j["a"].to_numpy(), j["b"].to_numpy()
            parts.append(links_frame(a, b, kind, None, None))
    return pl.concat(parts) if parts else empty_links()


def find(
    new_images: Images,
    reference: Reference,
    *,
    limit: int = 5,
    threshold: int | None = None,
    dhash_threshold: int | None = None,
    wide_threshold: int | None = None,
    color_threshold: int | None = DEFAULT_COLOR_THRESHOLD,
    threads: int | None = None,
) -> pl.DataFrame:
    """The nearest matches of each new image in a reference scan, with the reason.

    Args:
        new_images: a scan table, or files / folders / globs to scan (with `FIND_METRICS`).
        reference: a scan table (frame or LazyFrame) or the path of a saved scan (Parquet),
            with ``path`` and ``phash`` columns (``dhash``, ``color_signature``,
            ``content_hash``, ``pixel_hash``, ``entropy``, ``contrast`` are used when present).
        limit: at most this many matches per new image, strongest first.
        threshold, dhash_threshold, wide_threshold: the near rule, as in
            `imgstats.duplicates` (defaults: pHash 8 alone, or 16 with dHash 16 and the colour
            signature within `color_threshold` bits when both sides have it).
        color_threshold: colour-signature bits that must agree (None: no colour check).
        threads: worker threads for the scan and the search (default: all CPUs).

    Returns:
        One row per (new image, match), strongest first — ``same_bytes``, ``same_pixels``, then
        ``near`` by pHash then dHash distance — and one row with null match columns for a new
        image without any match (so every new image is answered): ``path``, ``rank`` (1 =
        strongest; null without a match), ``match``, ``matched_path``, ``phash_distance``,
        ``dhash_distance``, ``color_distance`` (colour-signature bits; null where a hash or
        signature is missing), ``error`` (why a new image could not be read, else null).
    """
    from imgstats.duplicates import DEFAULT_DHASH_THRESHOLD, near_rule

    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    q = _queries(new_images, threads)
    ref = _reference(reference)
    for name, frame in (("new_images", q), ("reference", ref)):
        if "phash" not in frame.columns or "path" not in frame.columns:
            raise ValueError(f"{name} needs 'path' and 'phash' columns (a scan with 'phash')")
    both = pl.concat([q.select("phash"), ref.select("phash")])
    if "dhash" in q.columns and "dhash" in ref.columns:
        both = both.with_columns(dhash=pl.lit(0, pl.UInt64))
    if "color_signature" in q.columns and "color_signature" in ref.columns:
        both = both.with_columns(color_signature=pl.lit(0, pl.UInt64))
    dt = DEFAULT_DHASH_THRESHOLD if dhash_threshold is None else dhash_threshold
    rule = near_rule(both, "phash", threshold, dt, wide_threshold, color_threshold)

    def hashes(df: pl.DataFrame, col: str) -> np.ndarray:
        out: np.ndarray = df[col].cast(pl.UInt64).fill_null(0).to_numpy().astype(np.uint64)
        return out

    qh, rh = hashes(q, "phash"), hashes(ref, "phash")
    use_d = rule.dhash is not None
    qd = hashes(q, "dhash") if use_d else None
    rd = hashes(ref, "dhash") if use_d else None
    q_ok, r_ok = np.flatnonzero(_ok_rows(q)), np.flatnonzero(_ok_rows(ref))
    qc = color_codes(q) if rule.color is not None else None
    rc = color_codes(ref) if rule.color is not None else None
    near = cross_links(
        qh[q_ok],
        qd[q_ok] if qd is not None else None,
        rh[r_ok],
        rd[r_ok] if rd is not None else None,
        rule,
        NEAR,
        threads,
        simple_pictures(q)[q_ok],
        simple_pictures(ref)[r_ok],
        qc.take(q_ok) if qc is not None else None,
        rc.take(r_ok) if rc is not None else None,
    )
    near = near.with_columns(
        pl.Series("a", q_ok[near["a"].to_numpy()], dtype=pl.UInt32),
        pl.Series("b", r_ok[near["b"].to_numpy()], dtype=pl.UInt32),
    )
    links = pl.concat([_exact(q, ref), near])
    # Exact links get their hash distances too; near links that are also exact are dropped.
    a, b = links["a"].to_numpy().astype(np.int64), links["b"].to_numpy().astype(np.int64)
    qv, rv = q["phash"].is_not_null().to_numpy(), ref["phash"].is_not_null().to_numpy()
    pd = np.where(qv[a] & rv[b], np.bitwise_count(qh[a] ^ rh[b]), 255).astype(np.uint8)
    links = links.with_columns(
        pl.col("phash_distance").fill_null(pl.Series(pd, dtype=pl.UInt8).replace(255, None))
    )
    if qd is not None and rd is not None:
        qdv, rdv = q["dhash"].is_not_null().to_numpy(), ref["dhash"].is_not_null().to_numpy()
        dd = np.where(qdv[a] & rdv[b], np.bitwise_count(qd[a] ^ rd[b]), 255).astype(np.uint8)
        links = links.with_columns(
            pl.col("dhash_distance").fill_null(pl.Series(dd, dtype=pl.UInt8).replace(255, None))
        )
    if qc is not None and rc is not None:
        ok = qc.known[a] & rc.known[b]
        cd = np.where(ok, np.bitwise_count(qc.codes[a] ^ rc.codes[b]), 255).astype(np.uint8)
        links = links.with_columns(
            pl.col("color_distance").fill_null(pl.Series(cd, dtype=pl.UInt8).replace(255, None))
        )
    best = (
        links.sort(
            ["a", "kind", "phash_distance", "dhash_distance", "color_distance", "b"],
            nulls_last=True,
        )
        .unique(["a", "b"], keep="first", maintain_order=True)
        .with_columns(rank=pl.int_range(1, pl.len() + 1, dtype=pl.UInt32).over("a"))
        .filter(pl.col("rank") <= limit)
    )
    kinds = pl.Series(MATCH_KINDS)
    matched = best.select(
        pl.col("a").alias("_row"),
        "rank",
        kinds.gather(best["kind"].cast(pl.UInt32)).alias("match"),
        ref["path"].cast(pl.Utf8).gather(best["b"]).alias("matched_path"),
        "phash_distance",
        "dhash_distance",
        "color_distance",
    )
    queries = q.select(
        pl.col("path").cast(pl.Utf8),
        (pl.col("error") if "error" in q.columns else pl.lit(None, pl.Utf8)).alias("error"),
    ).with_row_index("_row")
    out = queries.join(matched, on="_row", how="left").sort("_row", "rank", nulls_last=True)
    return out.select(
        "path",
        "rank",
        "match",
        "matched_path",
        "phash_distance",
        "dhash_distance",
        "color_distance",
        "error",
    )
