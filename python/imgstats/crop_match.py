"""Crops of one picture: candidates from the crop-resistant segment hashes, then verification.

A scan with ``metrics=[..., "crop_hash"]`` gives every image the segments of imagehash's
``crop_resistant_hash``: per bright/dark region, its dHash (``crop_hash``, imagehash's bits), the
pHash of the same region (``crop_phash``) and its box on the 300×300 segmentation grid
(``crop_boxes``). A crop keeps most regions whole, so their hashes survive it.

1. **Candidates** (exact, fast): all segments of all images are flattened into one hash list and
   joined with the Rust multi-index (`segment_pairs`): every pair of segments of *different*
   images within ``dhash`` bits, the same pairs as brute force.
2. **Verification** keeps distinct pictures apart. imagehash's own rule (one region within 16
   bits) matches hundreds of pairs of distinct pictures; one region hash is weak evidence. Here a
   segment pair counts only when both hashes of the region agree (dHash within ``dhash`` bits and
   pHash within ``phash`` bits), and two images link only when at least ``min_segments`` such
   segment pairs agree on **one geometry**: a crop (or a resize) maps boxes of one picture onto
   the other by one scale and one translation per axis, and the pixel scale is the same on both
   axes. Each segment pair implies such a map from its two boxes; the maps must agree within
   ``tolerance`` (a fraction of the picture), and the map must put one picture inside the other.

Flat regions (a hash of 0 or all ones, or pHash 0x8000000000000000: sky, a plain background) say
nothing and are left out. Low-information images are not matched (as in `duplicates`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule
from imgstats.hamming import COLLAPSED_HASHES, check_threshold
from imgstats.match_rule import LINK_SCHEMA, MATCH_KINDS

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: The scan columns of the ``crop_hash`` metric.
CROP_COLUMNS: tuple[str, str, str] = ("crop_hash", "crop_phash", "crop_boxes")
#: Side of imagehash's segmentation grid: boxes are in these units.
GRID: int = 300
#: The link kind of a verified crop (`imgstats.match_rule.MATCH_KINDS`).
CROP: int = MATCH_KINDS.index("crop")

__all__ = [
    "CROP",
    "CROP_COLUMNS",
    "CropRule",
    "crop_links",
    "region_matches",
    "segment_pairs",
    "segment_table",
    "with_crop_segments",
]


@dataclass(frozen=True)
class CropRule:
    """When two images are crops of one picture (defaults from ``benches/bench_crops.py``).

    A segment pair agrees when its dHash (imagehash's segment hash) is within ``dhash`` bits and
    the pHash of the same two regions within ``phash`` bits. Two images are linked when at least
    ``min_segments`` agreeing segment pairs imply the same crop geometry within ``tolerance``
    (fraction of the picture's width/height for translations, relative for scales).
    """

    dhash: int = 8
    phash: int = 12
    min_segments: int = 2
    tolerance: float = 0.04

    def describe(self) -> str:
        """The rule in words."""
        return (
            f">= {self.min_segments} regions with dHash <= {self.dhash} and pHash <= "
            f"{self.phash} bits, one geometry within {self.tolerance:g}"
        )


def segment_table(
    df: pl.DataFrame, rows: np.ndarray | None = None, *, informative: bool = True
) -> pl.DataFrame:
    """One row per segment: ``row`` (the image's row in `df`), ``dhash``, ``phash``, and the
    box ``x0, y0, x1, y1`` as fractions of the picture (0..1), in imagehash's segment order.

    `rows` restricts to those image rows (default: every row with a crop hash); `informative`
    drops flat regions (a hash in `COLLAPSED_HASHES`)."""
    missing = [c for c in CROP_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"no {', '.join(missing)} column; scan with metrics=[..., 'crop_hash'] first"
        )
    frame = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        pl.col("crop_hash").alias("dhash"),
        pl.col("crop_phash").alias("phash"),
        pl.col("crop_boxes").list.gather_every(4, 0).alias("x0"),
        pl.col("crop_boxes").list.gather_every(4, 1).alias("y0"),
        pl.col("crop_boxes").list.gather_every(4, 2).alias("x1"),
        pl.col("crop_boxes").list.gather_every(4, 3).alias("y1"),
    )
    if rows is not None:
        frame = frame[rows]
    out = (
        frame.filter(pl.col("dhash").is_not_null())
        .explode(["dhash", "phash", "x0", "y0", "x1", "y1"])
        .drop_nulls("dhash")
        .with_columns((pl.col(c).cast(pl.Float64) / GRID) for c in ("x0", "y0", "x1", "y1"))
    )
    if informative:
        flat = sorted(COLLAPSED_HASHES)
        out = out.filter(~pl.col("dhash").is_in(flat) & ~pl.col("phash").is_in(flat))
    return out


def segment_pairs(segments: pl.DataFrame, k: int, threads: int | None = None) -> pl.DataFrame:
    """Every pair of segments of different images within `k` dHash bits, exactly: columns
    ``s``, ``t`` (rows of `segments`, image of ``s`` < image of ``t``) and ``distance``."""
    k = check_threshold(k)
    hashes = np.ascontiguousarray(segments["dhash"].to_numpy().astype(np.uint64))
    owners = np.ascontiguousarray(segments["row"].to_numpy().astype(np.uint32))
    s, t, d = _imgstats._owner_pairs(hashes, owners, k, threads)
    return pl.DataFrame({"s": s, "t": t, "distance": d})


def _agreeing_pairs(
    segments: pl.DataFrame, rule: CropRule, sizes: pl.DataFrame, threads: int | None
) -> pl.DataFrame:
    """Segment pairs where both hashes agree, with the map each implies from the second image's
    box to the first's: ``x_a = sx * x_b + tx`` (and y), in fractions of each picture."""
    pairs = segment_pairs(segments, rule.dhash, threads)
    a = segments[pairs["s"]].rename(lambda c: f"{c}_a")
    b = segments[pairs["t"]].rename(lambda c: f"{c}_b")
    both = pl.concat([a, b, pairs.select(pl.col("distance").alias("dd"))], how="horizontal")
    both = both.with_columns(
        pl.Series("pd", np.bitwise_count(
            both["phash_a"].to_numpy().astype(np.uint64) ^ both["phash_b"].to_numpy().astype(np.uint64)
        ).astype(np.uint8)),
    ).filter(pl.col("pd") <= rule.phash)
    sx = (pl.col("x1_a") - pl.col("x0_a")) / (pl.col("x1_b") - pl.col("x0_b"))
    sy = (pl.col("y1_a") - pl.col("y0_a")) / (pl.col("y1_b") - pl.col("y0_b"))
    both = both.with_columns(sx.alias("sx"), sy.alias("sy")).with_columns(
        (pl.col("x0_a") - pl.col("sx") * pl.col("x0_b")).alias("tx"),
        (pl.col("y0_a") - pl.col("sy") * pl.col("y0_b")).alias("ty"),
    )
    # The pixel scale (b pixels per a pixel) must be the same on both axes: sx·Wa/Wb = sy·Ha/Hb.
    both = (
        both.join(sizes.rename({"row": "row_a", "w": "w_a", "h": "h_a"}), on="row_a")
        .join(sizes.rename({"row": "row_b", "w": "w_b", "h": "h_b"}), on="row_b")
        .with_columns(
            (
                (pl.col("sx") * pl.col("w_a") / pl.col("w_b"))
                / (pl.col("sy") * pl.col("h_a") / pl.col("h_b"))
            )
            .log()
            .abs()
            .alias("anisotropy")
        )
    )
    tol = rule.tolerance
    # One picture inside the other: b's frame maps into a's frame, or a's into b's (then the
    # inverse map x_b = (x_a - tx) / sx puts a's frame inside b's).
    b_in_a = (
        (pl.col("tx") >= -tol)
        & (pl.col("tx") + pl.col("sx") <= 1 + tol)
        & (pl.col("ty") >= -tol)
        & (pl.col("ty") + pl.col("sy") <= 1 + tol)
    )
    a_in_b = (
        (-pl.col("tx") / pl.col("sx") >= -tol)
        & ((1 - pl.col("tx")) / pl.col("sx") <= 1 + tol)
        & (-pl.col("ty") / pl.col("sy") >= -tol)
        & ((1 - pl.col("ty")) / pl.col("sy") <= 1 + tol)
    )
    return both.filter(
        (pl.col("anisotropy") <= 2 * tol) & (b_in_a | a_in_b)
    ).select("row_a", "row_b", "sx", "sy", "tx", "ty", "dd", "pd")


def crop_links(
    df: pl.DataFrame,
    rule: CropRule | None = None,
    rows: np.ndarray | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """Verified crop links between rows of `df` (a scan with the ``crop_hash`` metric).

    Returns the link table of `imgstats.match_rule` (``a < b``, ``kind`` = `CROP`, the
    smallest segment pHash / dHash distance on the link) plus ``segments``: the number of
    agreeing segment pairs that share the link's geometry. `rows` restricts to those rows.
    """
    rule = rule or CropRule()
    if rule.min_segments < 1:
        raise ValueError(f"min_segments must be at least 1, got {rule.min_segments}")
    segments = segment_table(df, rows)
    empty = pl.DataFrame(schema={**LINK_SCHEMA, "segments": pl.UInt32})
    if segments.height < 2:
        return empty
    sizes = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        pl.col("width").cast(pl.Float64).alias("w"),
        pl.col("height").cast(pl.Float64).alias("h"),
    )
    agree = _agreeing_pairs(segments, rule, sizes, threads).with_row_index("id")
    if agree.height == 0:
        return empty
    # For each agreeing segment pair, how many pairs of the same two images share its map.
    tol = rule.tolerance
    support = (
        agree.join(agree, on=["row_a", "row_b"], suffix="_o")
        .filter(
            ((pl.col("sx") / pl.col("sx_o")).log().abs() <= tol)
            & ((pl.col("sy") / pl.col("sy_o")).log().abs() <= tol)
            & ((pl.col("tx") - pl.col("tx_o")).abs() <= tol)
            & ((pl.col("ty") - pl.col("ty_o")).abs() <= tol)
        )
        .group_by("row_a", "row_b", "id")
        .agg(
            pl.len().alias("segments"),
            pl.col("pd_o").min().alias("pd"),
            pl.col("dd_o").min().alias("dd"),
        )
    )
    best = (
        support.sort(["segments", "pd", "dd"], descending=[True, False, False])
        .group_by("row_a", "row_b", maintain_order=True)
        .first()
        .filter(pl.col("segments") >= rule.min_segments)
        .sort("row_a", "row_b")
    )
    return best.select(
        pl.col("row_a").cast(pl.UInt32).alias("a"),
        pl.col("row_b").cast(pl.UInt32).alias("b"),
        pl.lit(CROP, pl.UInt8).alias("kind"),
        pl.col("pd").cast(pl.UInt8).alias("phash_distance"),
        pl.col("dd").cast(pl.UInt8).alias("dhash_distance"),
        pl.col("segments").cast(pl.UInt32),
    )


def with_crop_segments(out: pl.DataFrame, crops: pl.DataFrame, paths: pl.Series) -> pl.DataFrame:
    """`duplicates` output plus ``crop_segments``: on rows explained by a crop link, the number
    of agreeing regions on it (null elsewhere)."""
    both = pl.concat(
        [
            crops.select(pl.col("a").alias("x"), pl.col("b").alias("y"), "segments"),
            crops.select(pl.col("b").alias("x"), pl.col("a").alias("y"), "segments"),
        ]
    )
    named = both.select(
        paths.gather(both["x"]).alias("path"),
        paths.gather(both["y"]).alias("matched_path"),
        pl.col("segments").alias("crop_segments"),
    ).unique(["path", "matched_path"], keep="first")
    out = out.join(named, on=["path", "matched_path"], how="left", maintain_order="left")
    return out.with_columns(
        pl.when(pl.col("match") == "crop").then(pl.col("crop_segments")).alias("crop_segments")
    )


def region_matches(df: pl.DataFrame, k: int, threads: int | None = None) -> pl.DataFrame:
    """imagehash's ``hash_diff`` count for every pair of images at once, exactly: ``a < b``
    (rows of `df`), ``matched_a`` = segments of ``a`` with a segment of ``b`` within `k` dHash
    bits (``crop_resistant_hash(a).hash_diff(crop_resistant_hash(b), hamming_cutoff=k)[0]``),
    ``matched_b`` the reverse, and ``distance``, the closest pair. Pairs with no match are left
    out. Every segment counts here, flat ones included, as in imagehash."""
    segments = segment_table(df, informative=False)
    pairs = segment_pairs(segments, k, threads)
    rows = segments["row"]
    return (
        pairs.with_columns(rows.gather(pairs["s"]).alias("a"), rows.gather(pairs["t"]).alias("b"))
        .group_by("a", "b")
        .agg(
            pl.col("s").n_unique().cast(pl.UInt32).alias("matched_a"),
            pl.col("t").n_unique().cast(pl.UInt32).alias("matched_b"),
            pl.col("distance").min(),
        )
        .sort("a", "b")
    )
