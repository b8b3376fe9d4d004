"""Near-duplicate groups and deduplication over 64-bit perceptual hashes.

The pair search is `imgstats.hamming` (the Rust Hamming index). Groups come from a
union-find over all pairs within the threshold (single linkage), so 1,000 copies of one photo are
one group, not 499,500 pairs — and a chain of small edits can join images that are further apart
than the threshold; ``distance`` reports how far each row is from its group's representative.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Union

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule
from imgstats.hamming import (
    COLLAPSED_HASHES,
    DEFAULT_THRESHOLD,
    as_uint64,
    check_threshold,
    low_information,
    near_pairs,
)

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: The dihedral transforms used by ``invariant=True`` (suffix of the extra hash columns).
TRANSFORMS: tuple[str, ...] = (
    "hflip",
    "vflip",
    "rot90",
    "rot180",
    "rot270",
    "transpose",
    "transverse",
)

KeepPolicy = Union[Literal["sharpest", "largest", "first"], Callable[[pl.DataFrame], int]]

__all__ = [
    "COLLAPSED_HASHES",
    "DEFAULT_THRESHOLD",
    "TRANSFORMS",
    "as_uint64",
    "dedupe",
    "duplicates",
    "near_pairs",
]


def _first_row_edges(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Edges (row, first row with the same key) for every non-null key shared by >1 rows."""
    frame = pl.DataFrame({"key": keys}).with_row_index("row")
    frame = frame.filter(pl.col("key").is_not_null()).with_columns(
        pl.col("row").min().over("key").alias("first")
    )
    frame = frame.filter(pl.col("row") != pl.col("first"))
    return frame["row"].to_numpy().astype(np.uint32), frame["first"].to_numpy().astype(np.uint32)


def _transformed_hashes(paths: Sequence[str], hash_col: str) -> dict[str, np.ndarray]:
    """Hash of every dihedral transform of every image (identity included), from the files.

    Costs one more decode per image plus eight hashes; rows that fail to open get no variants.
    """
    from PIL import Image

    from imgstats.hashes import ahash, dhash, phash

    fn = {"phash": phash, "dhash": dhash, "ahash": ahash}.get(hash_col)
    if fn is None:
        raise ValueError(
            f"invariant=True without precomputed '{hash_col}_<transform>' columns needs "
            "hash='phash', 'dhash' or 'ahash'"
        )
    ops = {
        "identity": None,
        "hflip": Image.Transpose.FLIP_LEFT_RIGHT,
        "vflip": Image.Transpose.FLIP_TOP_BOTTOM,
        "rot90": Image.Transpose.ROTATE_90,
        "rot180": Image.Transpose.ROTATE_180,
        "rot270": Image.Transpose.ROTATE_270,
        "transpose": Image.Transpose.TRANSPOSE,
        "transverse": Image.Transpose.TRANSVERSE,
    }
    out = {name: np.zeros(len(paths), dtype=np.uint64) for name in ops}
    ok = np.zeros(len(paths), dtype=bool)
    for r, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                luma = im.convert("L")
        except (OSError, ValueError):
            continue
        ok[r] = True
        for name, op in ops.items():
            out[name][r] = fn(luma if op is None else luma.transpose(op))
    out["_ok"] = ok
    return out


def _variant_hashes(
    df: pl.DataFrame, hash_col: str, h: np.ndarray, valid: np.ndarray
) -> tuple[list[np.ndarray], np.ndarray]:
    """The hashes that stand for each row under ``invariant=True``, and which rows have them."""
    cols = [f"{hash_col}_{t}" for t in TRANSFORMS]
    if all(c in df.columns for c in cols):
        variants = [h]
        ok = valid.copy()
        for c in cols:
            ok &= df[c].is_not_null().to_numpy()
            variants.append(df[c].cast(pl.UInt64).fill_null(0).to_numpy())
        return variants, ok
    if "path" not in df.columns:
        raise ValueError(
            f"invariant=True needs the columns {', '.join(cols)} or a 'path' column to compute them"
        )
    computed = _transformed_hashes(df["path"].cast(pl.Utf8).to_list(), hash_col)
    ok = computed.pop("_ok") & valid
    # The identity comes from the same decode as the transforms, so all eight are consistent.
    return list(computed.values()), ok


def duplicates(
    df: pl.DataFrame,
    hash: str = "phash",
    threshold: int | None = None,
    exact: bool = True,
    invariant: bool = False,
    *,
    threads: int | None = None,
) -> pl.DataFrame:
    """Group exact and near copies; one output row per input row, in input order.

    Exact copies are grouped first: rows with the same ``content_hash`` (same bytes) or the same
    ``pixel_hash`` (same decoded pixels in another container), when those columns exist and
    `exact` is true. Then rows whose `hash` values are within `threshold` bits are merged by
    union-find (single linkage). Low-information images (near-constant: ``entropy`` < 1 bit or
    ``contrast`` < 2 levels when scanned, or a hash value constant images collapse to) are
    matched only exactly, never by hash, and flagged.

    Args:
        df: a scan table (``imgstats.scan``) or any frame with a uint64 `hash` column; ``path``,
            ``content_hash``, ``pixel_hash``, ``entropy``, ``contrast`` are used when present.
        hash: the hash column (``phash`` default; ``dhash``/``ahash`` work the same way).
        threshold: Hamming distance in bits (default `DEFAULT_THRESHOLD`).
        exact: also group byte-/pixel-identical files.
        invariant: also match mirrored / 90°-rotated copies. Uses columns
            ``{hash}_{t}`` for t in `TRANSFORMS` when present; otherwise re-opens every file and
            hashes its eight dihedral transforms (about one extra decode + 8 hashes per image:
            roughly the cost of the scan again).
        threads: worker threads for the search (default: all CPUs).

    Returns:
        Columns ``path``, ``group_id`` (UInt32, numbered by first appearance), ``group_size``,
        ``representative`` (path of the group's first row), ``distance`` (bits between this
        row's hash and the representative's, the smallest over transforms with `invariant`;
        null when a hash is missing; may exceed the threshold through chains), ``exact`` (this
        row has a byte- or pixel-identical copy in the input), ``low_information``.
    """
    k = check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold)
    n = df.height
    if hash not in df.columns:
        raise ValueError(f"no '{hash}' column; scan with metrics=[..., '{hash}'] first")
    paths = (
        df["path"].cast(pl.Utf8)
        if "path" in df.columns
        else pl.Series("path", [str(i) for i in range(n)])
    )
    hcol = df[hash].cast(pl.UInt64)
    valid = hcol.is_not_null().to_numpy()
    h = hcol.fill_null(0).to_numpy().astype(np.uint64)
    low = low_information(df, hash)
    eligible = valid & ~low

    edges_a: list[np.ndarray] = []
    edges_b: list[np.ndarray] = []
    exact_flag = np.zeros(n, dtype=bool)
    if exact:
        for col in ("content_hash", "pixel_hash"):
            if col in df.columns:
                a, b = _first_row_edges(df[col])
                edges_a.append(a)
                edges_b.append(b)
                exact_flag[a] = True
                exact_flag[b] = True

    variants = [h]
    if invariant:
        variants, has_variants = _variant_hashes(df, hash, h, valid)
        eligible &= has_variants
    rows = np.flatnonzero(eligible).astype(np.uint32)
    if len(rows) > 1 or (len(rows) == 1 and len(variants) > 1):
        # Every variant of a row is one item of the search; items of the same row are merged
        # below, so a mirrored copy of A lands in A's group through A's mirrored hash.
        stacked = np.concatenate([v[rows] for v in variants])
        labels, _ = _imgstats._groups(stacked, k, threads)
        _, first = np.unique(labels, return_index=True)
        item_rows = np.tile(rows, len(variants))
        edges_a.append(item_rows)
        edges_b.append(item_rows[first[labels]])
    if not edges_a:
        edges_a, edges_b = [np.zeros(0, np.uint32)], [np.zeros(0, np.uint32)]
    labels, sizes = _imgstats._components(
        n,
        np.concatenate(edges_a).astype(np.uint32),
        np.concatenate(edges_b).astype(np.uint32),
    )
    if len(sizes):
        # Chaining shows as many *distinct* hashes in one group (exact copies are fine).
        big = int(np.argmax(sizes))
        distinct = len(np.unique(h[(labels == big) & valid]))
        if distinct >= 100 and distinct > 0.05 * n:
            warnings.warn(
                f"one duplicate group holds {int(sizes[big])} of {n} images ({distinct} distinct "
                f"hashes) at threshold {k}: near copies chain through similar-looking images "
                "(typical of small, centred pictures on flat backgrounds); check the group or "
                "lower the threshold",
                stacklevel=2,
            )
    # Labels are numbered by first appearance, so the first row of each label is its smallest.
    _, rep = np.unique(labels, return_index=True)
    rep_row = rep[labels]
    dist = np.full(n, 64, dtype=np.int64)
    for v in variants:
        dist = np.minimum(dist, np.bitwise_count(v ^ h[rep_row]).astype(np.int64))
    dist_ok = valid & valid[rep_row]
    return pl.DataFrame(
        {
            "path": paths,
            "group_id": pl.Series(labels, dtype=pl.UInt32),
            "group_size": pl.Series(sizes[labels], dtype=pl.UInt32),
            "representative": paths.gather(rep_row),
            "distance": pl.Series(np.minimum(dist, 64), dtype=pl.UInt8),
            "exact": pl.Series(exact_flag, dtype=pl.Boolean),
            "low_information": pl.Series(low, dtype=pl.Boolean),
        }
    ).with_columns(
        pl.when(pl.Series(dist_ok, dtype=pl.Boolean))
        .then(pl.col("distance"))
        .otherwise(None)
        .alias("distance")
    )


def _score(df: pl.DataFrame, keep: str) -> np.ndarray:
    """Higher is better; rows without the needed columns score -inf (so 'first' decides)."""
    if keep == "sharpest":
        for col in ("sharpness", "blur"):
            if col in df.columns:
                return df[col].cast(pl.Float64).fill_null(-np.inf).fill_nan(-np.inf).to_numpy()
        raise ValueError("keep='sharpest' needs a 'sharpness' or 'blur' column (scan them)")
    if keep == "largest":
        if not {"width", "height"} <= set(df.columns):
            raise ValueError("keep='largest' needs 'width' and 'height' columns")
        px = (df["width"].cast(pl.Float64) * df["height"].cast(pl.Float64)).fill_null(-np.inf)
        score = px.to_numpy()
        if "file_size" in df.columns:
            # Equal pixel counts: the bigger file (less compressed) wins.
            score = score + df["file_size"].cast(pl.Float64).fill_null(0).to_numpy() * 1e-15
        return score
    if keep == "first":
        return np.zeros(df.height)
    raise ValueError(f"keep must be 'sharpest', 'largest', 'first' or a callable, got {keep!r}")


def dedupe(
    df: pl.DataFrame,
    keep: KeepPolicy = "sharpest",
    *,
    hash: str = "phash",
    threshold: int | None = None,
    exact: bool = True,
    invariant: bool = False,
    groups: pl.DataFrame | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """The rows to keep: one per duplicate group, chosen by `keep`, in input order.

    Args:
        df: the scan table.
        keep: ``"sharpest"`` (highest ``sharpness``, else ``blur``), ``"largest"`` (most pixels,
            then biggest file), ``"first"`` (first row of the group), or a callable that gets one
            group's rows (``df`` columns plus ``group_id``) and returns the position (0-based,
            within that frame) of the row to keep. Ties go to the earliest row.
        hash, threshold, exact, invariant, threads: as in `duplicates`.
        groups: the output of `duplicates(df, ...)` if already computed.

    Returns:
        The kept rows of `df` (all its columns), in input order. Rows not returned are the
        copies you can drop; nothing is deleted.
    """
    if groups is None:
        groups = duplicates(df, hash, threshold, exact, invariant, threads=threads)
    if groups.height != df.height:
        raise ValueError("groups does not match df (different number of rows)")
    gid = groups["group_id"].to_numpy()
    if callable(keep):
        tagged = df.with_columns(groups["group_id"]).with_row_index("_row")
        keepers = []
        for part in tagged.partition_by("group_id", maintain_order=True):
            if part.height == 1:
                keepers.append(int(part["_row"][0]))
                continue
            pos = int(keep(part.drop("_row")))
            if not 0 <= pos < part.height:
                raise ValueError(f"keep callable returned {pos} for a group of {part.height}")
            keepers.append(int(part["_row"][pos]))
        return df[sorted(keepers)]
    score = _score(df, keep)
    order = np.lexsort((np.arange(df.height), -score, gid))
    first_of_group = np.ones(len(order), dtype=bool)
    first_of_group[1:] = gid[order][1:] != gid[order][:-1]
    kept: list[int] = np.sort(order[first_of_group]).tolist()
    return df[kept]


def drop_list(df: pl.DataFrame, kept: pl.DataFrame) -> list[str]:
    """Paths of `df` not in `kept` (the copies `dedupe` would drop)."""
    keep = set(kept["path"].to_list())
    return [p for p in df["path"].to_list() if p not in keep]
