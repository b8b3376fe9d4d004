"""Hamming search over 64-bit perceptual hashes: hash arrays, thresholds, the pair search, and
which images are too flat for a hash to mean anything.

The search is the Rust Hamming index (`imgstats._imgstats`): exact (the same pairs as brute
force) and sub-quadratic (multi-index hashing), with the GIL released. `imgstats.duplicates`
groups the pairs within one set; `imgstats.leakage` matches one split against another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Union

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Default pHash threshold (Hamming distance, bits out of 64), from ``benches/threshold_phash.py``
#: (table in ``benches/README_neighbors.md``): at 8, 98.4% of benign edits of 68 real photos
#: (JPEG q 50-90, 50% resize, +-20% brightness, blur, noise, grayscale) stay within k; k=10 only
#: adds 0.3 points. Distinct real photos were >= 22 bits apart except true copies (one picture at
#: three resolutions) and recolourings of one design. Tiny, centred images on flat backgrounds
#: are a different matter: on Fashion-MNIST, k=8 chains half of 10,000 items into groups — use
#: k <= 2 there (`duplicates` warns when one group swallows a large share of the input).
DEFAULT_THRESHOLD: int = 8

#: Hash values that constant (or alpha-only) images collapse to: pHash of a flat image is
#: 0x8000000000000000 (only the DC bit), 0 when black; aHash/dHash give 0. Such rows are only
#: matched exactly.
COLLAPSED_HASHES: frozenset[int] = frozenset({0, 1 << 63, (1 << 64) - 1})

#: Luma-histogram entropy (bits) below which an image counts as low-information.
LOW_ENTROPY_BITS: float = 1.0
#: Luma standard deviation (0-255 levels) below which an image counts as low-information.
LOW_CONTRAST: float = 2.0

HashArray = Union["np.ndarray", Sequence[int], Sequence[str], pl.Series]

__all__ = [
    "COLLAPSED_HASHES",
    "DEFAULT_THRESHOLD",
    "LOW_CONTRAST",
    "LOW_ENTROPY_BITS",
    "HashArray",
    "as_uint64",
    "check_threshold",
    "low_information",
    "near_pairs",
    "rule_forest",
    "rule_spec",
]


def as_uint64(values: HashArray, name: str = "hashes") -> np.ndarray:
    """Hashes as a contiguous ``uint64`` array.

    Accepts NumPy arrays (signed 64-bit arrays are reinterpreted bit for bit, as databases often
    store hashes as BIGINT), polars Series, lists of ints, or hex strings (``str(imagehash)``).
    """
    if isinstance(values, pl.Series):
        if values.null_count():
            raise ValueError(f"{name} contains {values.null_count()} nulls; drop them first")
        if values.dtype == pl.Utf8:
            values = values.to_list()
        elif values.dtype == pl.Int64:
            return np.ascontiguousarray(values.to_numpy().view(np.uint64))
        else:
            return np.ascontiguousarray(values.cast(pl.UInt64).to_numpy())
    if isinstance(values, np.ndarray):
        if values.dtype == np.int64:
            return np.ascontiguousarray(values.view(np.uint64))
        if values.dtype.kind not in "uiO":
            raise TypeError(f"{name}: expected integer hashes, got dtype {values.dtype}")
        if values.dtype.kind != "O":
            if values.dtype.kind == "i" and (values < 0).any():
                raise ValueError(f"{name}: negative values in a {values.dtype} array")
            return np.ascontiguousarray(values, dtype=np.uint64)
        values = values.tolist()
    items = list(values)
    if items and isinstance(items[0], str):
        return np.array([int(s, 16) for s in items], dtype=np.uint64)
    return np.array(items, dtype=np.uint64).reshape(-1)


def check_threshold(k: int) -> int:
    """`k` as an int, or a ValueError when it is not a Hamming distance of 64-bit hashes."""
    if not 0 <= int(k) <= 64:
        raise ValueError(f"threshold must be between 0 and 64 bits, got {k}")
    return int(k)


def near_pairs(
    a: HashArray,
    b: HashArray | None = None,
    k: int = DEFAULT_THRESHOLD,
    *,
    nearest_only: bool = False,
    threads: int | None = None,
) -> pl.DataFrame:
    """Every pair of hashes within Hamming distance `k`, exactly (the same as brute force).

    Args:
        a: 64-bit hashes (NumPy uint64/int64, polars Series, list of ints or hex strings).
        b: optional second set. Without it, pairs ``i < j`` inside `a`; with it, pairs
            ``(i in a, j in b)``.
        k: the largest Hamming distance reported (0..64).
        nearest_only: with `b`, keep only the closest ``j`` for each ``i`` (ties: smallest j).
        threads: worker threads (default: one per CPU this process may use).

    Returns:
        A DataFrame with columns ``i`` (UInt32), ``j`` (UInt32), ``distance`` (UInt8), sorted
        by ``(i, j)``. The number of pairs is quadratic in the size of a cluster of copies: use
        `duplicates` when you need groups.
    """
    k = check_threshold(k)
    ha = as_uint64(a, "a")
    if b is None:
        if nearest_only:
            raise ValueError("nearest_only needs a second hash set b")
        i, j, d = _imgstats._self_pairs(ha, k, threads)
    else:
        # The core answers (query, base): `a` is the query side so `i` indexes `a`.
        i, j, d = _imgstats._cross_pairs(as_uint64(b, "b"), ha, k, nearest_only, threads)
    return pl.DataFrame({"i": i, "j": j, "distance": d})


@dataclass(frozen=True)
class ForestColor:
    """The colour check of a rule (`rule_spec`): both signatures `known` and within `radius`
    bits, or a grayscale copy: one signature `neutral`, the primary and confirming codes within
    `copy_radius` bits and the `contrast`s (NaN: unknown, passes) within `gray_ratio` of each
    other. `alone_too`: the alone tier needs it."""

    codes: np.ndarray
    known: np.ndarray
    contrast: np.ndarray
    radius: int
    copy_radius: int
    neutral: int
    gray_ratio: float
    alone_too: bool


def rule_spec(
    primary: np.ndarray,
    *,
    alone: int | None,
    wide: int,
    confirms: Sequence[tuple[np.ndarray, int]] = (),
    simple: np.ndarray | None = None,
    simple_both: bool = False,
    color: ForestColor | None = None,
) -> _imgstats._Rule:
    """A near-copy rule over one set of rows, evaluated in Rust: `primary` within `alone` bits
    (``None``: no such tier; closed to a pair of rows flagged in `simple`: both rows with
    `simple_both`, either row without; with `color` and its ``alone_too``, the colour check
    too), or `primary` within `wide` bits with every confirming code within its radius
    (`confirms`: ``(codes, radius)`` pairs, one uint64 code per row) and the colour check.
    ``.forest(threads)`` gives a spanning forest of it, ``.links(x, y)`` checks row pairs."""
    confirms = list(confirms)
    c = color
    return _imgstats._Rule(
        as_uint64(primary, "primary"),
        None if alone is None else check_threshold(alone),
        check_threshold(wide),
        [as_uint64(code, "confirming code") for code, _ in confirms],
        [check_threshold(r) for _, r in confirms],
        None if simple is None else np.ascontiguousarray(simple, dtype=bool),
        simple_both=simple_both,
        color_codes=None if c is None else as_uint64(c.codes, "colour codes"),
        color_known=None if c is None else np.ascontiguousarray(c.known, dtype=bool),
        contrast=None if c is None else np.ascontiguousarray(c.contrast, dtype=np.float64),
        color_radius=0 if c is None else check_threshold(c.radius),
        copy_radius=0 if c is None else check_threshold(c.copy_radius),
        neutral=0 if c is None else int(c.neutral),
        gray_ratio=1.5 if c is None else float(c.gray_ratio),
        alone_needs_color=True if c is None else bool(c.alone_too),
    )


def rule_forest(
    primary: np.ndarray,
    *,
    alone: int | None,
    wide: int,
    confirms: Sequence[tuple[np.ndarray, int]] = (),
    simple: np.ndarray | None = None,
    simple_both: bool = False,
    color: ForestColor | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Edges ``(x, y)`` of a spanning forest of a near-copy rule (`rule_spec`): enough links to
    connect every group, without the pairs (quadratic in a cluster of copies) that `near_pairs`
    returns. Every edge satisfies the rule, and the connected components of the edges are
    exactly those of all pairs that do (the Rust graph search drops each row from the search as
    soon as it is reached; tested against brute force). `threads` bounds the worker threads;
    the forest is the same on any number of them.
    """
    spec = rule_spec(
        primary,
        alone=alone,
        wide=wide,
        confirms=confirms,
        simple=simple,
        simple_both=simple_both,
        color=color,
    )
    return spec.forest(threads)


def low_information(df: pl.DataFrame, hash_col: str, *, entropy: bool = True) -> np.ndarray:
    """Near-constant images (by contrast, and entropy unless `entropy` is false, when scanned;
    or by a collapsed hash)."""
    low = np.zeros(df.height, dtype=bool)
    if entropy and "entropy" in df.columns:
        low |= (df["entropy"] < LOW_ENTROPY_BITS).fill_null(False).to_numpy()
    if "contrast" in df.columns:
        low |= (df["contrast"] < LOW_CONTRAST).fill_null(False).to_numpy()
    h = df[hash_col].cast(pl.UInt64)
    low |= h.is_in(sorted(COLLAPSED_HASHES)).fill_null(False).to_numpy()
    return low
