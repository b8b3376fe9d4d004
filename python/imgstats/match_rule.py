"""When two images count as copies, and why: the links `imgstats.duplicates` and `imgstats.find`
build groups and answers from.

A *link* joins two rows and carries its reason (`MATCH_KINDS`) and the distances that decided it.
Exact links come from equal ``content_hash`` (same bytes) or ``pixel_hash`` (same pixels); near
links from the perceptual hashes under `NearRule`: pHash within ``phash`` bits decides alone;
within the wider ``wide`` radius, dHash must agree (within ``dhash`` bits). The candidates come
from the exact Rust Hamming index (one search per tier, see `_rule_pairs`) and every candidate is
checked against the whole rule, so the links are exactly those a brute-force check finds
(``tests/test_duplicates_rule.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Why two rows are linked, strongest first (the order a row's explanation prefers).
MATCH_KINDS: tuple[str, ...] = ("same_bytes", "same_pixels", "near", "flip_rotation", "crop")
SAME_BYTES, SAME_PIXELS, NEAR, FLIP_ROTATION = range(4)

#: Luma-histogram entropy (bits) below which a picture is *simple*: pHash alone never matches it.
SIMPLE_ENTROPY_BITS: float = 1.0


def simple_pictures(df: pl.DataFrame) -> np.ndarray:
    """Rows whose ``entropy`` is below `SIMPLE_ENTROPY_BITS` (none without the column)."""
    if "entropy" not in df.columns:
        return np.zeros(df.height, dtype=bool)
    out: np.ndarray = (df["entropy"] < SIMPLE_ENTROPY_BITS).fill_null(False).to_numpy()
    return out


#: The link table: one row per link, ``a < b`` not required.
LINK_SCHEMA: dict[str, type[pl.DataType]] = {
    "a": pl.UInt32,
    "b": pl.UInt32,
    "kind": pl.UInt8,
    "phash_distance": pl.UInt8,
    "dhash_distance": pl.UInt8,
}


@dataclass(frozen=True)
class NearRule:
    """When two hashes are near copies (bits out of 64).

    Near when the first hash (pHash) is within ``phash`` bits; or, with a confirming dHash
    (``dhash`` set and a ``dhash`` column present), when pHash is within the wider ``wide`` radius
    and dHash within ``dhash`` bits. ``dhash=None`` decides by the first hash alone.

    *Simple* pictures (few grey levels: two-tone art, diagrams; `SIMPLE_ENTROPY_BITS`) never
    match by pHash alone: pHash confuses two-tone pictures of different layouts (a split at 30 %
    and one at 80 % are 4 bits apart), dHash does not (30 bits). They need both hashes to agree.
    """

    phash: int
    dhash: int | None = None
    wide: int | None = None
    #: Both hashes within their bounds (no pHash-alone tier, no wide tier): the rule for
    #: flip/rotation links, where seven transformed hashes multiply the chances of a chance match.
    both: bool = False

    @property
    def radius(self) -> int:
        """The pHash search radius: every near pair is within it."""
        return max(self.phash, self.wide or 0) if self.dhash is not None else self.phash

    def describe(self) -> str:
        """The rule in words, for messages and the CLI summary."""
        if self.dhash is None:
            return f"hash within {self.phash} bits"
        if self.both:
            return f"pHash within {self.phash} bits and dHash within {self.dhash} bits"
        return (
            f"pHash within {self.phash} bits, or within {self.radius} bits with dHash within "
            f"{self.dhash} bits"
        )


def empty_links() -> pl.DataFrame:
    """A link table with no rows."""
    return pl.DataFrame(schema=LINK_SCHEMA)


def bit_distance(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Hamming distances of two equal-length uint64 arrays, as uint8."""
    out: np.ndarray = np.bitwise_count(x ^ y).astype(np.uint8)
    return out


def links_frame(
    a: np.ndarray,
    b: np.ndarray,
    kind: int,
    pd: np.ndarray | None,
    dd: np.ndarray | None,
) -> pl.DataFrame:
    """A link table from index arrays; missing distances are null."""
    n = len(a)
    return pl.DataFrame(
        {
            "a": pl.Series(a, dtype=pl.UInt32),
            "b": pl.Series(b, dtype=pl.UInt32),
            "kind": pl.Series(np.full(n, kind, dtype=np.uint8), dtype=pl.UInt8),
            "phash_distance": pl.Series(pd, dtype=pl.UInt8)
            if pd is not None
            else pl.Series([None] * n, dtype=pl.UInt8),
            "dhash_distance": pl.Series(dd, dtype=pl.UInt8)
            if dd is not None
            else pl.Series([None] * n, dtype=pl.UInt8),
        },
        schema=LINK_SCHEMA,
    )


def _rule_pairs(
    search: Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    h1: np.ndarray,
    h2: np.ndarray,
    d1: np.ndarray | None,
    d2: np.ndarray | None,
    rule: NearRule,
    simple1: np.ndarray | None,
    simple2: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """Every pair ``(i in set 1, j in set 2)`` satisfying `rule`, with its distances.

    `search(x1, x2, k)` is an exact Hamming search returning the index pairs within k. The
    candidates are the union of two searches, each at the smaller radius that covers a tier:
    pHash within ``rule.phash`` (the pHash-alone tier), and for the confirmed tier the hash with
    the smaller bound (dHash within ``rule.dhash`` when that is below ``rule.wide``: a radius-16
    pHash search costs ~30 s at 1M hashes, radius 10 about 1 s). Every candidate is then checked
    against the whole rule, so the result is exactly the brute-force set.
    """
    i, j = search(h1, h2, rule.phash)
    if d1 is None or d2 is None or rule.dhash is None:
        return i, j, bit_distance(h1[i], h2[j]), None
    if rule.both:
        pd, dd = bit_distance(h1[i], h2[j]), bit_distance(d1[i], d2[j])
        ok = dd <= rule.dhash
        return i[ok], j[ok], pd[ok], dd[ok]
    wide = rule.wide if rule.wide is not None else rule.phash
    if rule.dhash < wide:
        i2, j2 = search(d1, d2, rule.dhash)
    else:
        i2, j2 = search(h1, h2, wide)
    # One int64 key per pair: a 1-D unique is far cheaper than a 2-D one.
    n2 = np.int64(len(h2))
    key = np.unique(
        np.concatenate([i, i2]).astype(np.int64) * n2 + np.concatenate([j, j2]).astype(np.int64)
    )
    i, j = key // n2, key % n2
    pd, dd = bit_distance(h1[i], h2[j]), bit_distance(d1[i], d2[j])
    alone = pd <= rule.phash
    if simple1 is not None and simple2 is not None:
        alone &= ~(simple1[i] | simple2[j])
    ok = alone | ((pd <= wide) & (dd <= rule.dhash))
    return i[ok], j[ok], pd[ok], dd[ok]


def self_links(
    h: np.ndarray,
    d: np.ndarray | None,
    rows: np.ndarray,
    rule: NearRule,
    threads: int | None,
    simple: np.ndarray | None = None,
) -> pl.DataFrame:
    """Near links among `rows` (indices into `h`/`d`/`simple`) under `rule`: every pair,
    exactly."""
    if len(rows) < 2:
        return empty_links()

    def search(x: np.ndarray, _: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        i, j, _d = _imgstats._self_pairs(np.ascontiguousarray(x), k, threads)
        return i, j

    hs = h[rows]
    ds = d[rows] if d is not None else None
    ss = simple[rows] if simple is not None else None
    i, j, pd, dd = _rule_pairs(search, hs, hs, ds, ds, rule, ss, ss)
    return links_frame(rows[i], rows[j], NEAR, pd, dd)


def cross_links(
    query_h: np.ndarray,
    query_d: np.ndarray | None,
    base_h: np.ndarray,
    base_d: np.ndarray | None,
    rule: NearRule,
    kind: int,
    threads: int | None,
    query_simple: np.ndarray | None = None,
    base_simple: np.ndarray | None = None,
) -> pl.DataFrame:
    """Links ``(a = query index, b = base index)`` for every pair under `rule`, exactly."""
    if len(query_h) == 0 or len(base_h) == 0:
        return empty_links()

    def search(q: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        i, j, _d = _imgstats._cross_pairs(
            np.ascontiguousarray(b), np.ascontiguousarray(q), k, False, threads
        )
        return i, j

    i, j, pd, dd = _rule_pairs(
        search, query_h, base_h, query_d, base_d, rule, query_simple, base_simple
    )
    return links_frame(i, j, kind, pd, dd)


def strongest_link(links: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """Each row's strongest link (either end): kind, then pHash, dHash, partner.

    Returns ``row``, ``match`` (a `MATCH_KINDS` name), ``matched_path``, ``phash_distance``,
    ``dhash_distance`` for rows with at least one link.
    """
    both = pl.concat(
        [
            links.select(
                pl.col("a").alias("row"), pl.col("b").alias("other"), pl.exclude("a", "b")
            ),
            links.select(
                pl.col("b").alias("row"), pl.col("a").alias("other"), pl.exclude("a", "b")
            ),
        ]
    )
    best = (
        both.sort(["row", "kind", "phash_distance", "dhash_distance", "other"], nulls_last=True)
        .group_by("row", maintain_order=True)
        .first()
    )
    kinds = pl.Series(MATCH_KINDS)
    return best.select(
        "row",
        kinds.gather(best["kind"].cast(pl.UInt32)).alias("match"),
        names.gather(best["other"]).alias("matched_path"),
        "phash_distance",
        "dhash_distance",
    )
