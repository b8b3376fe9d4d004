"""When two images count as copies, and why: the links `imgstats.duplicates` and `imgstats.find`
build groups and answers from.

A *link* joins two rows and carries its reason (`MATCH_KINDS`) and the distances that decided it.
Exact links come from equal ``content_hash`` (same bytes) or ``pixel_hash`` (same pixels); near
links from the perceptual hashes under `NearRule`: pHash within ``phash`` bits decides alone;
within the wider ``wide`` radius, dHash must agree (within ``dhash`` bits) and, with a
``color_signature`` column, the colour signature too (within ``color`` bits: the hashes see luma
only, the signature tells one layout in two colour schemes apart). The candidates come
from the exact Rust Hamming index (one search per tier, see `_rule_pairs`) and every candidate is
checked against the whole rule (evaluated in Rust, `rule_spec`: the same predicate the forest of
`duplicates` uses), so the links are exactly those a brute-force check finds
(``tests/test_duplicates_rule.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from imgstats import _imgstats, hamming
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: The scan metrics the links read: the hashes and colour signature, the exact-copy keys and the
#: low-information signals (`find` scans new images for these; `imgstats dups` adds sharpness).
RULE_METRICS: tuple[str, ...] = (
    "phash",
    "dhash",
    "color_signature",
    "content_hash",
    "pixel_hash",
    "entropy",
    "contrast",
)

#: Why two rows are linked, strongest first (the order a row's explanation prefers; at most 8:
#: `strongest_link` packs a kind in 3 bits).
MATCH_KINDS: tuple[str, ...] = ("same_bytes", "same_pixels", "near", "flip_rotation", "crop")
SAME_BYTES, SAME_PIXELS, NEAR, FLIP_ROTATION = range(4)


#: Luma-histogram entropy (bits) below which a picture is *simple* (two-tone art, logos, diagrams,
#: flat UI): pHash alone never matches two simple pictures. A two-tone picture is at most 1 bit (a
#: 50/50 split), a flat three-colour logo 1.6; their JPEG and resized copies gain up to ~0.7 bits
#: at the edges (a logo at 1.04 bits: 1.86 at JPEG q10), so 2 (``benches/bench_near_dups.py``).
SIMPLE_ENTROPY_BITS: float = 2.0


#: Whether the pHash-alone tier also needs the colour check (with a colour signature).
ALONE_NEEDS_COLOR: bool = True

#: Whether the pHash-alone tier is closed to a pair when *both* pictures are simple (True) or
#: when either is (False). pHash confuses two simple pictures of different layouts (a split at
#: 30 % and one at 80 % are 4 bits apart); a simple picture and a textured one are not confused
#: that way, and closing the tier there lost a photo brightened until it was washed out (entropy
#: 3.8 -> 0.35 bits, dHash 25 bits away) in ``benches/bench_near_dups.py``.
SIMPLE_PAIRS_NEED_BOTH: bool = True


def simple_pictures(df: pl.DataFrame, bits: float | None = None) -> np.ndarray:
    """Rows whose ``entropy`` is below `bits` (default `SIMPLE_ENTROPY_BITS`; none without the
    column)."""
    if "entropy" not in df.columns:
        return np.zeros(df.height, dtype=bool)
    limit = SIMPLE_ENTROPY_BITS if bits is None else bits
    out: np.ndarray = (df["entropy"] < limit).fill_null(False).to_numpy()
    return out


#: Colour-signature bits within which the confirmed tier's pictures must agree (the L1 distance
#: of the 8 quantised chroma levels, `NearRule.color`); from ``benches/bench_near_dups.py``
#: (docs/duplicates.md).
DEFAULT_COLOR_THRESHOLD: int = 6


#: The colour signature of a picture without colour (every cell neutral): a grayscale copy.
NEUTRAL_SIGNATURE: int = 0x0F0F0F0F0F0F0F0F
#: A neutral (grayscale) picture passes the colour check against a coloured one when it is a
#: grayscale *copy*: both hashes within the pHash-alone radius and luma contrasts (std) within
#: this ratio. A grayscale copy has its original's luma, while a black|white split and a
#: navy|red one (the same layout to pHash and dHash) are 4x apart in contrast.
GRAY_COPY_CONTRAST_RATIO: float = 1.5


@dataclass(frozen=True)
class ColorCodes:
    """One side's colour signatures (uint64), which are known (a null signature never passes
    the colour check) and the luma contrast of each row (NaN when not scanned)."""

    codes: np.ndarray
    known: np.ndarray
    contrast: np.ndarray

    def take(self, rows: np.ndarray) -> ColorCodes:
        """These rows only."""
        return ColorCodes(self.codes[rows], self.known[rows], self.contrast[rows])

    def transformed(self, transforms: Sequence[str]) -> ColorCodes:
        """The signatures of every row's mirrored / rotated picture, one block per transform."""
        moved = [transformed_color_signature(self.codes, t) for t in transforms]
        k = len(transforms)
        return ColorCodes(np.concatenate(moved), np.tile(self.known, k), np.tile(self.contrast, k))


def color_codes(df: pl.DataFrame) -> ColorCodes | None:
    """The ``color_signature`` column (and ``contrast``) as `ColorCodes`, or None without it."""
    if "color_signature" not in df.columns:
        return None
    col = df["color_signature"].cast(pl.UInt64)
    contrast = (
        df["contrast"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        if "contrast" in df.columns
        else np.full(df.height, np.nan)
    )
    return ColorCodes(
        col.fill_null(0).to_numpy().astype(np.uint64), col.is_not_null().to_numpy(), contrast
    )


#: Where each 2×2 cell of the colour signature goes under a dihedral transform (Pillow's
#: ``Transpose`` names): ``new cell k = old cell PERM[k]``, cells top-left, top-right,
#: bottom-left, bottom-right (``src/stats/color_signature.rs``; checked against Pillow's
#: transforms in ``tests/test_color_signature.py``).
COLOR_CELL_PERMUTATIONS: dict[str, tuple[int, int, int, int]] = {
    "hflip": (1, 0, 3, 2),
    "vflip": (2, 3, 0, 1),
    "rot90": (1, 3, 0, 2),
    "rot180": (3, 2, 1, 0),
    "rot270": (2, 0, 3, 1),
    "transpose": (0, 2, 1, 3),
    "transverse": (3, 1, 2, 0),
}


def transformed_color_signature(codes: np.ndarray, transform: str) -> np.ndarray:
    """The colour signatures of the mirrored / rotated pictures: each cell is 16 bits of the
    code, so a dihedral transform only moves those 16-bit groups."""
    perm = COLOR_CELL_PERMUTATIONS[transform]
    codes = np.asarray(codes, dtype=np.uint64)
    out = np.zeros_like(codes)
    mask = np.uint64(0xFFFF)
    for new, old in enumerate(perm):
        out |= ((codes >> np.uint64(16 * old)) & mask) << np.uint64(16 * new)
    return out


#: The link table: one row per link, ``a < b`` not required.
LINK_SCHEMA: dict[str, type[pl.DataType]] = {
    "a": pl.UInt32,
    "b": pl.UInt32,
    "kind": pl.UInt8,
    "phash_distance": pl.UInt8,
    "dhash_distance": pl.UInt8,
    "color_distance": pl.UInt8,
}


@dataclass(frozen=True)
class NearRule:
    """When two hashes are near copies (bits out of 64).

    Near when the first hash (pHash) is within ``phash`` bits; or, with a confirming dHash
    (``dhash`` set and a ``dhash`` column present), when pHash is within the wider ``wide`` radius
    and dHash within ``dhash`` bits and (``color`` set, a ``color_signature`` column present) the
    colour signatures within ``color`` bits. ``dhash=None`` decides by the first hash alone.

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
    #: Colour-signature bits (L1 distance of the quantised chroma levels) that must agree in the
    #: confirmed tier (None: no colour check).
    color: int | None = None

    @property
    def radius(self) -> int:
        """The pHash search radius: every near pair is within it."""
        return max(self.phash, self.wide or 0) if self.dhash is not None else self.phash

    def describe(self) -> str:
        """The rule in words, for messages and the CLI summary."""
        if self.dhash is None:
            return f"hash within {self.phash} bits"
        colour = (
            f"; colour signature within {self.color} bits (or a grayscale copy)"
            if self.color is not None
            else ""
        )
        if self.both:
            return f"pHash within {self.phash} bits and dHash within {self.dhash} bits{colour}"
        return (
            f"pHash within {self.phash} bits, or within {self.radius} bits with dHash within "
            f"{self.dhash} bits{colour}"
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
    cd: np.ndarray | None = None,
) -> pl.DataFrame:
    """A link table from index arrays; missing distances (None, or 255 in `cd`) are null."""
    n = len(a)

    def dist(x: np.ndarray | None) -> pl.Series:
        if x is None:
            return pl.Series([None] * n, dtype=pl.UInt8)
        return pl.Series(x, dtype=pl.UInt8).replace(255, None)

    return pl.DataFrame(
        {
            "a": pl.Series(a, dtype=pl.UInt32),
            "b": pl.Series(b, dtype=pl.UInt32),
            "kind": pl.Series(np.full(n, kind, dtype=np.uint8), dtype=pl.UInt8),
            "phash_distance": dist(pd),
            "dhash_distance": dist(dd),
            "color_distance": dist(cd),
        },
        schema=LINK_SCHEMA,
    )


def rule_spec(
    rule: NearRule,
    h: np.ndarray,
    d: np.ndarray | None,
    simple: np.ndarray | None,
    color: ColorCodes | None,
) -> _imgstats._Rule:
    """`rule` over rows with pHash `h`, dHash `d`, simple flags and colour codes, as the Rust
    rule both the forest of `duplicates` and the pair check of `near_pairs`/`find` evaluate (one
    definition: `neighbors::RuleSpec::links`). Without a confirming dHash the first hash decides
    alone, with no simple guard and no colour check."""
    if d is None or rule.dhash is None:
        return hamming.rule_spec(h, alone=None, wide=rule.phash)
    check = None
    if color is not None and rule.color is not None:
        check = hamming.ForestColor(
            codes=color.codes,
            known=color.known,
            contrast=color.contrast,
            radius=rule.color,
            # A grayscale copy: both hashes within the pHash-alone radius.
            copy_radius=rule.phash,
            neutral=NEUTRAL_SIGNATURE,
            gray_ratio=GRAY_COPY_CONTRAST_RATIO,
            alone_too=ALONE_NEEDS_COLOR,
        )
    return hamming.rule_spec(
        h,
        alone=None if rule.both else rule.phash,
        wide=rule.phash if rule.both or rule.wide is None else rule.wide,
        confirms=[(d, rule.dhash)],
        simple=simple,
        simple_both=SIMPLE_PAIRS_NEED_BOTH,
        color=check,
    )


def color_distance(
    color1: ColorCodes, color2: ColorCodes, i: np.ndarray, j: np.ndarray
) -> np.ndarray:
    """Bits between the colour signatures of pairs ``(i in set 1, j in set 2)``; 255 where a
    signature is unknown."""
    known = color1.known[i] & color2.known[j]
    return np.where(known, bit_distance(color1.codes[i], color2.codes[j]), 255).astype(np.uint8)


def _rule_pairs(
    search: Callable[[np.ndarray, np.ndarray, int], tuple[np.ndarray, np.ndarray]],
    h1: np.ndarray,
    h2: np.ndarray,
    d1: np.ndarray | None,
    d2: np.ndarray | None,
    rule: NearRule,
    simple1: np.ndarray | None,
    simple2: np.ndarray | None,
    color1: ColorCodes | None = None,
    color2: ColorCodes | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Every pair ``(i in set 1, j in set 2)`` satisfying `rule`, with its distances (pHash,
    dHash, colour; the colour distance is 255 where a signature is unknown).

    `search(x1, x2, k)` is an exact Hamming search returning the index pairs within k. The
    candidates are the union of two searches, each at the smaller radius that covers a tier:
    pHash within ``rule.phash`` (the pHash-alone tier), and for the confirmed tier the hash with
    the smaller bound (dHash within ``rule.dhash`` when that is below ``rule.wide``: a radius-16
    pHash search costs ~30-60 s at 1M hashes, radius 10 about 1-3 s); when that is pHash within
    ``rule.wide`` it holds the first tier's candidates too, and is the only search. The colour
    signature is never searched (neutral pictures share one value, which would fill one bucket):
    it only filters. Every candidate is then checked against the whole rule (`rule_spec`), so
    the result is exactly the brute-force set.
    """
    if rule.color is None or color1 is None or color2 is None:
        color1 = color2 = None
    if simple1 is None or simple2 is None:
        simple1 = simple2 = None
    wide = rule.wide if rule.wide is not None else rule.phash
    confirmed_by_phash = (
        d1 is not None and rule.dhash is not None and not rule.both and rule.dhash >= wide
    )
    # The wide pHash search (when it is the confirmed tier's) holds the pHash-alone candidates.
    i, j = search(h1, h2, max(wide, rule.phash) if confirmed_by_phash else rule.phash)
    if d1 is None or d2 is None or rule.dhash is None:
        return i, j, bit_distance(h1[i], h2[j]), None, None
    if not rule.both and rule.dhash < wide:
        i2, j2 = search(d1, d2, rule.dhash)
        # One int64 key per pair: a 1-D unique is far cheaper than a 2-D one.
        n2 = np.int64(len(h2))
        key = np.unique(
            np.concatenate([i, i2]).astype(np.int64) * n2 + np.concatenate([j, j2]).astype(np.int64)
        )
        i, j = key // n2, key % n2
    # The rule over the candidates' rows only (set 1's, then set 2's): building it copies its
    # arrays, and a query against a million references touches a handful of them.
    u1, x = np.unique(i, return_inverse=True)
    u2, y = np.unique(j, return_inverse=True)

    def joined(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.concatenate([a[u1], b[u2]])

    color = None
    if color1 is not None and color2 is not None:
        color = ColorCodes(
            joined(color1.codes, color2.codes),
            joined(color1.known, color2.known),
            joined(color1.contrast, color2.contrast),
        )
    spec = rule_spec(
        rule,
        joined(h1, h2),
        joined(d1, d2),
        None if simple1 is None or simple2 is None else joined(simple1, simple2),
        color,
    )
    ok = spec.links(x.astype(np.int64), (y + len(u1)).astype(np.int64))
    i, j = i[ok], j[ok]
    cd = color_distance(color1, color2, i, j) if color1 is not None and color2 is not None else None
    return i, j, bit_distance(h1[i], h2[j]), bit_distance(d1[i], d2[j]), cd


def self_links(
    h: np.ndarray,
    d: np.ndarray | None,
    rows: np.ndarray,
    rule: NearRule,
    threads: int | None,
    simple: np.ndarray | None = None,
    color: ColorCodes | None = None,
) -> pl.DataFrame:
    """Near links among `rows` (indices into `h`/`d`/`simple`/`color`) under `rule`: every
    pair, exactly."""
    if len(rows) < 2:
        return empty_links()

    def search(x: np.ndarray, _: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        i, j, _d = _imgstats._self_pairs(np.ascontiguousarray(x), k, threads)
        return i, j

    hs = h[rows]
    ds = d[rows] if d is not None else None
    ss = simple[rows] if simple is not None else None
    cs = color.take(rows) if color is not None else None
    i, j, pd, dd, cd = _rule_pairs(search, hs, hs, ds, ds, rule, ss, ss, cs, cs)
    return links_frame(rows[i], rows[j], NEAR, pd, dd, cd)


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
    query_color: ColorCodes | None = None,
    base_color: ColorCodes | None = None,
) -> pl.DataFrame:
    """Links ``(a = query index, b = base index)`` for every pair under `rule`, exactly."""
    if len(query_h) == 0 or len(base_h) == 0:
        return empty_links()

    def search(q: np.ndarray, b: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        i, j, _d = _imgstats._cross_pairs(
            np.ascontiguousarray(b), np.ascontiguousarray(q), k, False, threads
        )
        return i, j

    i, j, pd, dd, cd = _rule_pairs(
        search,
        query_h,
        base_h,
        query_d,
        base_d,
        rule,
        query_simple,
        base_simple,
        query_color,
        base_color,
    )
    return links_frame(i, j, kind, pd, dd, cd)


def strongest_link(links: pl.DataFrame, names: pl.Series) -> pl.DataFrame:
    """Each row's strongest link (either end): kind, then pHash, dHash, colour, partner.

    Returns ``row``, ``match`` (a `MATCH_KINDS` name), ``matched_path``, ``phash_distance``,
    ``dhash_distance``, ``color_distance`` for rows with at least one link.
    """

    # One key per link end, compared as one integer: kind, then each distance (null: 127,
    # after every distance), then the partner's row, in bit fields from the top; each row keeps
    # its smallest (a 6-column sort of both ends took 1.6 s at 1M rows, this 0.03 s).
    a = links["a"].to_numpy().astype(np.uint64)
    b = links["b"].to_numpy().astype(np.uint64)

    def field(col: str, shift: int) -> np.ndarray:
        values = links[col].cast(pl.UInt64).fill_null(127).to_numpy()
        return values << np.uint64(shift)

    head = (
        field("kind", 53)
        | field("phash_distance", 46)
        | field("dhash_distance", 39)
        | field("color_distance", 32)
    )
    none = np.iinfo(np.uint64).max
    smallest = np.full(len(names), none, dtype=np.uint64)
    np.minimum.at(smallest, a, head | b)
    np.minimum.at(smallest, b, head | a)
    rows = np.flatnonzero(smallest != none)
    key = smallest[rows]

    def part(shift: int, bits: int) -> np.ndarray:
        return (key >> np.uint64(shift)) & np.uint64((1 << bits) - 1)

    def distance(shift: int) -> pl.Series:
        return pl.Series(part(shift, 7), dtype=pl.UInt8).replace(127, None)

    best = pl.DataFrame(
        {
            "row": pl.Series(rows, dtype=pl.UInt32),
            "kind": pl.Series(part(53, 3), dtype=pl.UInt32),
            "other": pl.Series(part(0, 32), dtype=pl.UInt32),
            "phash_distance": distance(46),
            "dhash_distance": distance(39),
            "color_distance": distance(32),
        }
    )
    kinds = pl.Series(MATCH_KINDS)
    return best.select(
        "row",
        kinds.gather(best["kind"].cast(pl.UInt32)).alias("match"),
        names.gather(best["other"]).alias("matched_path"),
        "phash_distance",
        "dhash_distance",
        "color_distance",
    )
