"""Crops of one picture: candidates from the crop-resistant segment hashes, then verification.

A scan with ``metrics=[..., "crop_hash"]`` gives every image the segments of imagehash's
``crop_resistant_hash``: per bright/dark region, its dHash (``crop_hash``, imagehash's bits) and
its box on the 300×300 segmentation grid (``crop_boxes``), plus a 32×32 thumbnail of the picture
(``crop_thumb``). A crop keeps most regions whole, so their hashes survive it.

1. **Candidates** (exact, fast): the segments of all images are flattened into one hash list and
   joined with the Rust multi-index (`segment_pairs`): every pair of regions of *different*
   images within ``dhash`` bits, the same pairs as brute force. `region_matches` turns them into
   imagehash's per-pair ``hash_diff`` counts.
2. **Verification** keeps distinct pictures apart. One region hash is weak evidence: imagehash's
   own rule (one region within 16 bits) links thousands of pairs of distinct pictures in
   ``benches/bench_crops.py``. A pair of regions says *where* one picture would sit inside the
   other: its two boxes give one scale and one offset per axis (or, for a plain crop, the two
   files' pixel scale with the boxes' centres aligned). That part of the larger picture is
   resampled from its thumbnail onto the smaller picture's frame, and the two must have pHashes
   (imagehash's construction, on the 32×32 thumbnails) within ``region_phash`` bits. A true crop
   passes; two distinct pictures whose regions happen to hash alike do not, because the rest of
   the picture around the region disagrees.

Flat regions (a dHash of 0 or all ones: sky, a plain background) say nothing and are not
candidates. `duplicates` matches only images that are not low-information.
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
CROP_COLUMNS: tuple[str, ...] = ("crop_hash", "crop_boxes", "crop_thumb")
#: Side of the ``crop_thumb`` thumbnail.
THUMB_SIDE: int = 32
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

    Candidates: a pair of informative regions, one in each image, whose dHashes (imagehash's
    segment hashes) are within ``dhash`` bits. Verification: the two regions' boxes say where one
    picture sits inside the other (within ``tolerance`` of the width/height); that part of the
    larger picture, cut from its thumbnail and aligned to the smaller one, must have a pHash
    within ``region_phash`` bits of the smaller picture's thumbnail pHash.
    """

    dhash: int = 12
    region_phash: int = 10
    tolerance: float = 0.05

    def describe(self) -> str:
        """The rule in words."""
        return (
            f"a region's dHash within {self.dhash} bits, and the pHash of the aligned region "
            f"within {self.region_phash} bits"
        )


def segment_table(
    df: pl.DataFrame, rows: np.ndarray | None = None, *, informative: bool = True
) -> pl.DataFrame:
    """One row per segment: ``row`` (the image's row in `df`), ``dhash``, and the box
    ``x0, y0, x1, y1`` as fractions of the picture (0..1), in imagehash's segment order.

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
        pl.col("crop_boxes").list.gather_every(4, 0).alias("x0"),
        pl.col("crop_boxes").list.gather_every(4, 1).alias("y0"),
        pl.col("crop_boxes").list.gather_every(4, 2).alias("x1"),
        pl.col("crop_boxes").list.gather_every(4, 3).alias("y1"),
    )
    if rows is not None:
        frame = frame[rows]
    out = (
        frame.filter(pl.col("dhash").is_not_null())
        .explode(["dhash", "x0", "y0", "x1", "y1"])
        .drop_nulls("dhash")
        .with_columns((pl.col(c).cast(pl.Float64) / GRID) for c in ("x0", "y0", "x1", "y1"))
    )
    if informative:
        flat = sorted(COLLAPSED_HASHES)
        out = out.filter(~pl.col("dhash").is_in(flat))
    return out


def segment_pairs(segments: pl.DataFrame, k: int, threads: int | None = None) -> pl.DataFrame:
    """Every pair of segments of different images within `k` dHash bits, exactly: columns
    ``s``, ``t`` (rows of `segments`, image of ``s`` < image of ``t``) and ``distance``."""
    k = check_threshold(k)
    hashes = np.ascontiguousarray(segments["dhash"].to_numpy().astype(np.uint64))
    owners = np.ascontiguousarray(segments["row"].to_numpy().astype(np.uint32))
    s, t, d = _imgstats._owner_pairs(hashes, owners, k, threads)
    return pl.DataFrame({"s": s, "t": t, "distance": d})


def _thumbs(df: pl.DataFrame) -> np.ndarray:
    """The ``crop_thumb`` column as an (n, side, side) float32 array (zeros where missing)."""
    col = df["crop_thumb"]
    side = THUMB_SIDE
    ok = (col.list.len() == side * side).fill_null(False)
    flat = col.filter(ok).explode().cast(pl.Float32).to_numpy()
    out = np.zeros((df.height, side, side), dtype=np.float32)
    out[ok.to_numpy()] = flat.reshape(-1, side, side)
    return out


def _sample(
    thumbs: np.ndarray,
    src: np.ndarray,
    sx: np.ndarray,
    sy: np.ndarray,
    tx: np.ndarray,
    ty: np.ndarray,
) -> np.ndarray:
    """Bilinear samples of ``thumbs[src]`` at the target grid mapped by ``x = tx + sx * u``
    (normalised coordinates), one side×side patch per candidate."""
    side = thumbs.shape[1]
    u = (np.arange(side, dtype=np.float32) + 0.5) / side
    px = np.clip((tx[:, None] + sx[:, None] * u[None, :]) * side - 0.5, 0, side - 1)
    py = np.clip((ty[:, None] + sy[:, None] * u[None, :]) * side - 0.5, 0, side - 1)
    x0 = np.minimum(px.astype(np.int64), side - 2)
    y0 = np.minimum(py.astype(np.int64), side - 2)
    fx = (px - x0)[:, None, :]
    fy = (py - y0)[:, :, None]
    # One flat gather per corner (no per-candidate copy of the source thumbnail).
    flat = thumbs.reshape(-1)
    base = (src.astype(np.int64) * side * side)[:, None, None] + (y0 * side)[:, :, None]
    tl = base + x0[:, None, :]
    top = flat[tl] * (1 - fx) + flat[tl + 1] * fx
    bottom = flat[tl + side] * (1 - fx) + flat[tl + side + 1] * fx
    out: np.ndarray = top * (1 - fy) + bottom * fy
    return out


def _dct_rows() -> np.ndarray:
    """The 8 lowest rows of the (unnormalised) DCT-II matrix of size `THUMB_SIDE`."""
    k = np.arange(THUMB_SIDE)
    out: np.ndarray = np.cos(np.pi * k[:8, None] * (2 * k[None, :] + 1) / (2 * THUMB_SIDE))
    return out


def _patch_phash(patches: np.ndarray) -> np.ndarray:
    """pHash bits of side×side patches (imagehash's construction on a 32×32 image: the 8×8
    lowest DCT-II frequencies, bit = coefficient above their median), as (n, 64) booleans."""
    c = _dct_rows()
    low = (c @ patches.astype(np.float64) @ c.T).reshape(len(patches), 64)
    out: np.ndarray = low > np.median(low, axis=1, keepdims=True)
    return out


def _aligned_distance(cand: pl.DataFrame, thumbs: np.ndarray, tol: float) -> np.ndarray:
    """For each candidate (a pair of regions with the map ``x_a = sx * x_b + tx`` it implies),
    the pHash distance between the smaller picture's thumbnail and the part of the larger one
    the map aligns with it (b's frame resampled from a when b lies inside a, else a's frame
    resampled from b); 64 when neither lies inside the other."""
    a = cand["row_a"].to_numpy().astype(np.int64)
    b = cand["row_b"].to_numpy().astype(np.int64)
    sx, sy, tx, ty = (cand[c].to_numpy().astype(np.float32) for c in ("sx", "sy", "tx", "ty"))
    ok = (sx > 0) & (sy > 0) & np.isfinite(sx) & np.isfinite(sy)
    sx, sy = np.where(ok, sx, 1), np.where(ok, sy, 1)
    b_in_a = ok & (tx >= -tol) & (tx + sx <= 1 + tol) & (ty >= -tol) & (ty + sy <= 1 + tol)
    # The inverse map x_b = (x_a - tx) / sx puts a's frame at [-tx/sx, (1 - tx)/sx].
    itx, ity, isx, isy = -tx / sx, -ty / sy, 1 / sx, 1 / sy
    a_in_b = (
        ok
        & ~b_in_a
        & (itx >= -tol)
        & (itx + isx <= 1 + tol)
        & (ity >= -tol)
        & (ity + isy <= 1 + tol)
    )
    out = np.full(len(cand), 64, dtype=np.uint8)
    step = 4096  # candidates per chunk: bounded memory (4 side×side float patches each)
    for lo in range(0, len(cand), step):
        for inside, src, dst, m in (
            (b_in_a, a, b, (sx, sy, tx, ty)),
            (a_in_b, b, a, (isx, isy, itx, ity)),
        ):
            idx = np.flatnonzero(inside[lo : lo + step]) + lo
            if len(idx):
                patch = _sample(thumbs, src[idx], *(v[idx] for v in m))
                diff = _patch_phash(patch) != _patch_phash(thumbs[dst[idx]])
                out[idx] = diff.sum(axis=1)
    return out


def _candidates(
    segments: pl.DataFrame, rule: CropRule, sizes: pl.DataFrame, threads: int | None
) -> pl.DataFrame:
    """Pairs of regions within ``rule.dhash`` bits, each with the two maps from b's picture to
    a's it suggests (normalised coordinates, ``x_a = sx * x_b + tx``): the boxes' own scales
    (a resized crop), and the pixel scale of the two files with the boxes' centres aligned (a
    plain crop, robust to a region cut by the crop's border)."""
    pairs = segment_pairs(segments, rule.dhash, threads)
    a = segments[pairs["s"]].rename(lambda c: f"{c}_a")
    b = segments[pairs["t"]].rename(lambda c: f"{c}_b")
    both = pl.concat(
        [a, b, pairs.select("s", "t", pl.col("distance").alias("dd"))], how="horizontal"
    )
    both = both.join(
        sizes.rename({"row": "row_a", "w": "w_a", "h": "h_a"}), on="row_a", how="left"
    ).join(sizes.rename({"row": "row_b", "w": "w_b", "h": "h_b"}), on="row_b", how="left")
    box = both.with_columns(
        ((pl.col("x1_a") - pl.col("x0_a")) / (pl.col("x1_b") - pl.col("x0_b"))).alias("sx"),
        ((pl.col("y1_a") - pl.col("y0_a")) / (pl.col("y1_b") - pl.col("y0_b"))).alias("sy"),
    ).with_columns(
        (pl.col("x0_a") - pl.col("sx") * pl.col("x0_b")).alias("tx"),
        (pl.col("y0_a") - pl.col("sy") * pl.col("y0_b")).alias("ty"),
    )
    same_scale = both.with_columns(
        (pl.col("w_b") / pl.col("w_a")).alias("sx"),
        (pl.col("h_b") / pl.col("h_a")).alias("sy"),
    ).with_columns(
        (
            (pl.col("x0_a") + pl.col("x1_a")) / 2
            - pl.col("sx") * (pl.col("x0_b") + pl.col("x1_b")) / 2
        ).alias("tx"),
        (
            (pl.col("y0_a") + pl.col("y1_a")) / 2
            - pl.col("sy") * (pl.col("y0_b") + pl.col("y1_b")) / 2
        ).alias("ty"),
    )
    cols = ["s", "t", "row_a", "row_b", "dd", "sx", "sy", "tx", "ty"]
    return pl.concat([box.select(cols), same_scale.select(cols)])


def crop_links(
    df: pl.DataFrame,
    rule: CropRule | None = None,
    rows: np.ndarray | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """Verified crop links between rows of `df` (a scan with the ``crop_hash`` metric).

    Returns the link table of `imgstats.match_rule` (``a < b``, ``kind`` = `CROP`,
    ``phash_distance`` = the aligned region's pHash distance and ``dhash_distance`` = the
    region dHash distance, both the smallest over the verified region pairs) plus ``segments``:
    the number of region pairs whose alignment verified. `rows` restricts to those rows.
    """
    rule = rule or CropRule()
    check_threshold(rule.dhash)
    check_threshold(rule.region_phash)
    segments = segment_table(df, rows)
    empty = pl.DataFrame(schema={**LINK_SCHEMA, "segments": pl.UInt32})
    if segments.height < 2:
        return empty
    sizes = df.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row"),
        pl.col("width").cast(pl.Float64).alias("w"),
        pl.col("height").cast(pl.Float64).alias("h"),
    )
    cand = _candidates(segments, rule, sizes, threads)
    if cand.height == 0:
        return empty
    dist = _aligned_distance(cand, _thumbs(df), rule.tolerance)
    verified = cand.with_columns(pl.Series("pd", dist, dtype=pl.UInt8)).filter(
        pl.col("pd") <= rule.region_phash
    )
    best = (
        verified.group_by("row_a", "row_b")
        .agg(
            pl.struct("s", "t").n_unique().alias("segments"),
            pl.col("pd").min(),
            pl.col("dd").min(),
        )
        .sort("row_a", "row_b")
    )
    return best.select(
        pl.col("row_a").cast(pl.UInt32).alias("a"),
        pl.col("row_b").cast(pl.UInt32).alias("b"),
        pl.lit(CROP, pl.UInt8).alias("kind"),
        pl.col("pd").cast(pl.UInt8).alias("phash_distance"),
        pl.col("dd").cast(pl.UInt8).alias("dhash_distance"),
        # The aligned region's pHash decides; a crop's colour signature is not the original's.
        pl.lit(None, pl.UInt8).alias("color_distance"),
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
