"""Near-duplicate groups and deduplication over 64-bit perceptual hashes.

Links between rows (same bytes, same pixels, near, flip/rotation) come from `imgstats.match_rule`
(the near rule runs on the exact Rust Hamming index). Groups are the connected components of the
links (single linkage), so 1,000 copies of one photo are one group — and a chain of small edits
can join images that are further apart than the threshold; ``distance`` reports how far each row
is from its group's representative, and ``match`` / ``matched_path`` / ``*_distance`` name the
link that put the row in its group. Pairs a person marked as distinct are kept apart
(`imgstats.not_duplicates`). Guide: ``docs/duplicates.md``.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Literal, Union

import polars as pl

from imgstats import _imgstats, match_rule
from imgstats._lazy import LazyModule
from imgstats.crop_match import CROP_COLUMNS, crop_links, with_crop_segments
from imgstats.hamming import (
    COLLAPSED_HASHES,
    DEFAULT_THRESHOLD,
    as_uint64,
    check_threshold,
    low_information,
    near_pairs,
)
from imgstats.match_rule import (
    DEFAULT_COLOR_THRESHOLD,
    FLIP_ROTATION,
    NEAR,
    SAME_BYTES,
    SAME_PIXELS,
    ColorCodes,
    NearRule,
    bit_distance,
    color_codes,
    color_distance,
    cross_links,
    empty_links,
    links_frame,
    self_links,
    simple_pictures,
    strongest_link,
)
from imgstats.not_duplicates import NotDuplicates, constrained_labels, marked_pairs

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

#: The near rule when the frame has a ``dhash`` column: pHash within 8 bits decides alone (with
#: the colour check when there is a ``color_signature`` column); pHash within 16 bits counts when
#: dHash agrees within 16 bits and the colour signature within `DEFAULT_COLOR_THRESHOLD` = 6.
#: Chosen by the documented criterion of ``benches/bench_near_dups.py`` (74 wallpapers x 12
#: Copydays-style edits + 6 planted simple pictures, docs/duplicates.md): recall 1.000 on every
#: edit (old 8 | 14 & dHash 10: 0.972 on JPEG q10, brightness x1.4, noise), no pair of distinct
#: pictures within the rule, no merge (old: the planted black|white vs navy|red splits and the two
#: logo colour schemes). Cost: the radius-16 pHash search is ~60 s at 1M hashes (old: ~3-8 s);
#: ``wide_threshold=14, dhash_threshold=10`` is the fast setting.
NEAR_PHASH_THRESHOLD: int = 8
WIDE_PHASH_THRESHOLD: int = 16
DEFAULT_DHASH_THRESHOLD: int = 16

#: Candidate pairs the default wide tier may check, counted as if hash bits were fair coins. The
#: groups come from a spanning forest that holds no pair lists, but the radius-16 search still
#: checks every pair within its pHash radius, and their number grows with the square of the rows:
#: ~19 million among 1M unrelated images (~29 s CPU here) but ~1.9 billion among 10M (about an
#: hour of CPU). Past this budget the *default* radius is narrowed (with a warning) so the run
#: stays bounded; a radius passed explicitly is always used as given.
WIDE_PAIR_BUDGET: float = 50e6


def default_wide_threshold(rows: int, budget: float | None = None) -> int:
    """The default wide pHash radius for `rows` images: `WIDE_PHASH_THRESHOLD`, narrowed bit by
    bit (not below `NEAR_PHASH_THRESHOLD`) while fair-coin hashes would hold more than `budget`
    pairs within it. 16 up to ~1.6M rows, 15 to ~2.9M, 14 to ~5.3M, 13 to ~10.3M (fair-coin
    counts: clustered real hashes hold more)."""
    from math import comb

    budget = WIDE_PAIR_BUDGET if budget is None else budget
    pairs = rows * (rows - 1) / 2
    for radius in range(WIDE_PHASH_THRESHOLD, NEAR_PHASH_THRESHOLD, -1):
        share = sum(comb(64, k) for k in range(radius + 1)) / 2.0**64
        if pairs * share <= budget:
            return radius
    return NEAR_PHASH_THRESHOLD


#: Seconds spent in each phase of the last `duplicates` call (``benches/bench_duplicates.py``).
LAST_PHASES: dict[str, float] = {}

KeepPolicy = Union[Literal["sharpest", "largest", "first"], Callable[[pl.DataFrame], int]]

__all__ = [
    "COLLAPSED_HASHES",
    "DEFAULT_THRESHOLD",
    "TRANSFORMS",
    "DEFAULT_COLOR_THRESHOLD",
    "DEFAULT_DHASH_THRESHOLD",
    "NEAR_PHASH_THRESHOLD",
    "WIDE_PHASH_THRESHOLD",
    "as_uint64",
    "dedupe",
    "duplicates",
    "near_pairs",
]


def _first_row_edges(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Edges (row, first row with the same key) for every non-null key shared by >1 rows."""
    frame = pl.DataFrame({"key": keys}).with_row_index("row")
    # Most keys are unique: drop them before the (costlier) window. Their 64-bit hashes are
    # compared, not the keys (strings: 3x slower); a collision only keeps a unique key, which
    # the window then pairs with itself and drops.
    frame = frame.filter(pl.col("key").is_not_null() & pl.col("key").hash().is_duplicated())
    frame = frame.with_columns(pl.col("row").min().over("key").alias("first"))
    frame = frame.filter(pl.col("row") != pl.col("first"))
    return frame["row"].to_numpy().astype(np.uint32), frame["first"].to_numpy().astype(np.uint32)


def _transformed_hashes(paths: Sequence[str], hash_col: str) -> dict[str, np.ndarray]:
    """Hash of every dihedral transform of every image (identity included), from the files,
    plus the dHash of each transform under ``dhash_<name>`` (the confirming hash).

    Costs one more decode per image plus the hashes; rows that fail to open get no variants.
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
    out.update({f"dhash_{name}": np.zeros(len(paths), dtype=np.uint64) for name in ops})
    ok = np.zeros(len(paths), dtype=bool)
    for r, path in enumerate(paths):
        try:
            with Image.open(path) as im:
                luma = im.convert("L")
        except (OSError, ValueError):
            continue
        ok[r] = True
        for name, op in ops.items():
            moved = luma if op is None else luma.transpose(op)
            out[name][r] = fn(moved)
            out[f"dhash_{name}"][r] = dhash(moved)
    out["_ok"] = ok
    return out


def _variant_hashes(
    df: pl.DataFrame, hash_col: str, h: np.ndarray, valid: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray] | None, np.ndarray]:
    """The hashes that stand for each row under ``invariant=True`` (identity first), their
    dHashes when known (to confirm flip/rotation links like near ones), and which rows have them.
    """
    cols = [f"{hash_col}_{t}" for t in TRANSFORMS]
    if all(c in df.columns for c in cols):
        variants = [h]
        ok = valid.copy()
        for c in cols:
            ok &= df[c].is_not_null().to_numpy()
            variants.append(df[c].cast(pl.UInt64).fill_null(0).to_numpy())
        dcols = ["dhash"] + [f"dhash_{t}" for t in TRANSFORMS]
        dvars = None
        if all(c in df.columns for c in dcols):
            dvars = [df[c].cast(pl.UInt64).fill_null(0).to_numpy() for c in dcols]
        return variants, dvars, ok
    if "path" not in df.columns:
        raise ValueError(
            f"invariant=True needs the columns {', '.join(cols)} or a 'path' column to compute them"
        )
    computed = _transformed_hashes(df["path"].cast(pl.Utf8).to_list(), hash_col)
    ok = computed.pop("_ok") & valid
    names = ["identity", *TRANSFORMS]
    # The identity comes from the same decode as the transforms, so all eight are consistent.
    return [computed[t] for t in names], [computed[f"dhash_{t}"] for t in names], ok


def near_rule(
    df: pl.DataFrame,
    hash: str,
    threshold: int | None,
    dhash_threshold: int | None,
    wide_threshold: int | None,
    color_threshold: int | None = DEFAULT_COLOR_THRESHOLD,
) -> NearRule:
    """The rule `duplicates` applies to `df`: the confirming dHash only with ``hash='phash'``
    and a ``dhash`` column (and the colour signature with a ``color_signature`` column);
    otherwise `hash` alone within `threshold` (default 8)."""
    confirm = dhash_threshold if hash == "phash" and "dhash" in df.columns else None
    if confirm is None:
        return NearRule(check_threshold(DEFAULT_THRESHOLD if threshold is None else threshold))
    color = color_threshold if "color_signature" in df.columns else None
    if wide_threshold is None:
        wide_threshold = default_wide_threshold(df.height)
        if wide_threshold < WIDE_PHASH_THRESHOLD:
            warnings.warn(
                f"{df.height:,} rows: the confirmed pHash tier is narrowed from "
                f"{WIDE_PHASH_THRESHOLD} to {wide_threshold} bits to bound the search (its "
                f"candidate pairs grow with the square of the rows; WIDE_PAIR_BUDGET); pass "
                f"wide_threshold={WIDE_PHASH_THRESHOLD} to force",
                stacklevel=3,
            )
    return NearRule(
        check_threshold(NEAR_PHASH_THRESHOLD if threshold is None else threshold),
        check_threshold(confirm),
        check_threshold(wide_threshold),
        color=check_threshold(color) if color is not None else None,
    )


def _exact_links(df: pl.DataFrame) -> pl.DataFrame:
    """Links between rows with the same bytes, then the same decoded pixels."""
    parts = []
    for col, kind in (("content_hash", SAME_BYTES), ("pixel_hash", SAME_PIXELS)):
        if col in df.columns:
            a, b = _first_row_edges(df[col])
            parts.append(links_frame(a, b, kind, None, None))
    return pl.concat(parts) if parts else empty_links()


def _near_forest(
    h: np.ndarray,
    d: np.ndarray | None,
    rows: np.ndarray,
    rule: NearRule,
    threads: int | None,
    simple: np.ndarray,
    color: ColorCodes | None = None,
) -> pl.DataFrame:
    """Near links among `rows` that connect exactly the groups all near pairs would (a spanning
    forest of `rule`, `imgstats.match_rule.rule_spec`: the whole rule, simple guard, colour
    check and grayscale copies, as every other caller evaluates it): each
    is a real pair within the rule, with its distances, but a row's other near pairs are not
    listed (a cluster of 10,000 copies is 9,999 links instead of 50 million pairs)."""
    if len(rows) < 2:
        return empty_links()
    ds = d[rows] if d is not None else None
    cs = color.take(rows) if color is not None else None
    spec = match_rule.rule_spec(rule, h[rows], ds, simple[rows], cs)
    x, y = spec.forest(threads)
    a, b = rows[x], rows[y]
    pd = bit_distance(h[a], h[b])
    if d is None or rule.dhash is None:
        return links_frame(a, b, NEAR, pd, None)
    cd = None
    if color is not None and rule.color is not None:
        cd = color_distance(color, color, a, b)
    return links_frame(a, b, NEAR, pd, bit_distance(d[a], d[b]), cd)


def _all_pairs_where_marked(
    links: pl.DataFrame,
    n: int,
    marks: tuple[np.ndarray, np.ndarray],
    near_rows: np.ndarray,
    near_all: Callable[[np.ndarray], pl.DataFrame],
) -> pl.DataFrame:
    """`links` with every near pair (not only the forest's) inside the groups that join a marked
    pair: keeping marked pairs apart picks links strongest first among all of them
    (`imgstats.not_duplicates`), so those groups need them all; other groups keep the forest."""
    mx, my = marks
    if len(mx) == 0:
        return links
    a = links["a"].to_numpy().astype(np.uint32)
    b = links["b"].to_numpy().astype(np.uint32)
    labels, _ = _imgstats._components(n, a, b)
    clash = labels[mx] == labels[my]
    if not clash.any():
        return links
    bad = np.isin(labels, labels[mx[clash]])
    forest_in_bad = pl.Series(bad[a]) & (links["kind"] == NEAR)
    return pl.concat([links.filter(~forest_in_bad), near_all(near_rows[bad[near_rows]])])


def _flip_links(
    variants: list[np.ndarray],
    dvars: list[np.ndarray] | None,
    rows: np.ndarray,
    rule: NearRule,
    threads: int | None,
    simple: np.ndarray,
    color: ColorCodes | None = None,
) -> pl.DataFrame:
    """Links from each row's own hash to another row's mirrored / rotated hash.

    One direction suffices: the transforms form a group, so if T(B) is near A then A's hash
    meets one of B's seven transformed hashes. With dHash, both hashes must be within the tight
    bounds (`NearRule.both`): with the wide tier, seven transformed hashes per image merged 22
    pairs of distinct designs in ``benches/bench_near_dups.py --invariant`` (smooth gradients
    rotated look like one another), with both hashes none.
    """
    if dvars is not None and rule.dhash is not None:
        rule = NearRule(rule.phash, rule.dhash, rule.phash, both=True, color=rule.color)
    if len(rows) < 2:
        return empty_links()
    base = np.concatenate([v[rows] for v in variants[1:]])
    dbase = np.concatenate([v[rows] for v in dvars[1:]]) if dvars is not None else None
    d0 = dvars[0][rows] if dvars is not None else None
    s0 = simple[rows]
    c0 = cbase = None
    if color is not None:
        # The colour signature of a mirrored / rotated picture is its own with the cells moved.
        c0 = color.take(rows)
        cbase = c0.transformed(TRANSFORMS)
    found = cross_links(
        variants[0][rows],
        d0,
        base,
        dbase,
        rule,
        FLIP_ROTATION,
        threads,
        s0,
        np.tile(s0, 7),
        c0,
        cbase,
    )
    a = rows[found["a"].to_numpy()]
    b = rows[found["b"].to_numpy() % len(rows)]
    keep = a != b
    return found.with_columns(
        pl.Series("a", a, dtype=pl.UInt32), pl.Series("b", b, dtype=pl.UInt32)
    ).filter(pl.Series(keep))


def duplicates(
    df: pl.DataFrame,
    hash: str = "phash",
    threshold: int | None = None,
    exact: bool = True,
    invariant: bool = False,
    *,
    dhash_threshold: int | None = DEFAULT_DHASH_THRESHOLD,
    wide_threshold: int | None = None,
    color_threshold: int | None = DEFAULT_COLOR_THRESHOLD,
    not_duplicates: NotDuplicates | None = None,
    label: str | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """Group exact and near copies; one output row per input row, in input order, each
    explaining why it is in its group.

    Exact copies are linked first: rows with the same ``content_hash`` (same bytes) or the same
    ``pixel_hash`` (same decoded pixels in another container), when those columns exist and
    `exact` is true. Near copies are linked by the rule in `imgstats.match_rule`: `hash` within
    `threshold` bits; and with ``hash='phash'`` and a ``dhash`` column (``imgstats dups`` scans
    it), also pHash within `wide_threshold` bits when dHash agrees within `dhash_threshold`;
    with a ``color_signature`` column both need the colour signatures within `color_threshold`
    bits (or one picture a grayscale copy of the other). Groups are the connected components of
    the links (single
    linkage), except that pairs marked in `not_duplicates` are kept apart (rule in
    `imgstats.not_duplicates`). Low-information images (``contrast`` < 2 levels when scanned, or
    a hash value constant images collapse to; by pHash alone also ``entropy`` < 1 bit) are
    matched only exactly, never by hash, and flagged. With a confirming dHash, two simple
    pictures (``entropy`` < 2 bits: two-tone art, logos, diagrams) match only when both hashes
    (and the colours) agree, so they do match their own re-encoded and resized copies but not
    other layouts or colour schemes. Rule and measurements: ``docs/duplicates.md``.

    Args:
        df: a scan table (``imgstats.scan``) or any frame with a uint64 `hash` column; ``path``,
            ``dhash``, ``color_signature``, ``content_hash``, ``pixel_hash``, ``entropy``,
            ``contrast`` are used when present.
        hash: the hash column (``phash`` default; ``dhash``/``ahash`` work the same way).
        threshold: Hamming distance in bits of `hash` that decides alone (default
            `NEAR_PHASH_THRESHOLD` = 8 with a confirming dHash, else `DEFAULT_THRESHOLD` = 8).
        exact: also group byte-/pixel-identical files.
        invariant: also match mirrored / 90°-rotated copies. Uses columns
            ``{hash}_{t}`` for t in `TRANSFORMS` when present; otherwise re-opens every file and
            hashes its eight dihedral transforms (about one extra decode + 8 hashes per image:
            roughly the cost of the scan again).
        dhash_threshold: dHash bits that confirm a pair between `threshold` and `wide_threshold`
            pHash bits (default `DEFAULT_DHASH_THRESHOLD` = 16; None: pHash decides alone, at 8
            bits unless `threshold` says otherwise). Only with ``hash='phash'`` and a ``dhash``
            column.
        wide_threshold: the pHash radius within which dHash may confirm (default
            `WIDE_PHASH_THRESHOLD` = 16).
        color_threshold: colour-signature bits both tiers need (default
            `DEFAULT_COLOR_THRESHOLD` = 6; None: no colour check). Only with a
            ``color_signature`` column and a confirming dHash.
        not_duplicates: pairs of paths a person marked as distinct (a CSV file with two path
            columns, a frame, or ``(path, path)`` pairs); they never share a group.
        label: a column of `df` holding each image's label (class, diagnosis...): adds
            ``label_disagreement``, true on every row of a group whose rows carry more than one
            distinct non-null label (the same picture labelled two ways).
        threads: worker threads for the search (default: all CPUs).

    Returns:
        Columns ``path``, ``group_id`` (UInt32, numbered by first appearance), ``group_size``,
        ``representative`` (path of the group's first row), ``distance`` (bits between this
        row's hash and the representative's, the smallest over transforms with `invariant`;
        null when a hash is missing; may exceed the threshold through chains), ``exact`` (this
        row has a byte- or pixel-identical copy in the input), ``low_information``; and the
        explanation of one real link that puts the row in its group, of the strongest kind the
        row has (null for a group of one; near links come from a spanning forest of the rule,
        so it is a link that connects the row, not necessarily its closest near copy):
        ``match`` (``same_bytes``, ``same_pixels``, ``near``, ``flip_rotation``, ``crop``),
        ``matched_path`` (the other end), ``{hash}_distance`` and, with ``hash='phash'``,
        ``dhash_distance`` (bits on that link; null when a hash is missing); with `label`,
        ``label_disagreement``. When `df` has the ``crop_hash`` metric's columns (scan with
        ``metrics=[..., "crop_hash"]``), crops of one picture are linked too (rule in
        `imgstats.crop_match`): ``match`` is ``crop``, the distances are the closest agreeing
        region's, and ``crop_segments`` counts the regions that agree on the crop.
    """
    clock = _Phases()
    rule = near_rule(df, hash, threshold, dhash_threshold, wide_threshold, color_threshold)
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
    dvalid = valid
    d: np.ndarray | None = None
    if hash == "phash" and "dhash" in df.columns:
        dcol = df["dhash"].cast(pl.UInt64)
        dvalid = dcol.is_not_null().to_numpy()
        d = dcol.fill_null(0).to_numpy().astype(np.uint64)
    # Two agreeing hashes make near-constant-but-structured pictures safe to match; only truly
    # uniform ones stay exact-only (the entropy floor applies to a hash deciding alone).
    low = low_information(df, hash, entropy=rule.dhash is None)
    eligible = valid & ~low
    if rule.dhash is not None:
        eligible &= dvalid
    simple = simple_pictures(df)
    clock.lap("prepare")

    parts = [_exact_links(df)] if exact else []
    exact_flag = np.zeros(n, dtype=bool)
    for part in parts:
        exact_flag[part["a"].to_numpy()] = True
        exact_flag[part["b"].to_numpy()] = True
    clock.lap("exact")
    rows = np.flatnonzero(eligible).astype(np.int64)
    color = color_codes(df) if rule.color is not None else None
    parts.append(_near_forest(h, d, rows, rule, threads, simple, color))
    clock.lap("near")
    variants = [h]
    if invariant:
        variants, dvars, has_variants = _variant_hashes(df, hash, h, valid)
        flip_rows = np.flatnonzero(eligible & has_variants).astype(np.int64)
        parts.append(
            _flip_links(
                variants, dvars if d is not None else None, flip_rows, rule, threads, simple, color
            )
        )
        clock.lap("flip_rotation")
    crops = None
    if all(c in df.columns for c in CROP_COLUMNS):
        crops = crop_links(df, rows=np.flatnonzero(eligible), threads=threads)
        parts.append(crops.drop("segments"))
    links = pl.concat(parts)
    marks = marked_pairs(not_duplicates, paths) if not_duplicates is not None else None
    if marks is not None:
        links = _all_pairs_where_marked(
            links, n, marks, rows, lambda r: self_links(h, d, r, rule, threads, simple, color)
        )
    links = _with_distances(links, h, valid, d, dvalid, color)
    links, labels, sizes = constrained_labels(
        n, links, *(marks if marks is not None else (np.zeros(0, np.int64),) * 2)
    )
    if len(sizes):
        # Chaining shows as many *distinct* hashes in one group (exact copies are fine).
        big = int(np.argmax(sizes))
        distinct = pl.Series(h[(labels == big) & valid]).n_unique()
        if distinct >= 100 and distinct > 0.05 * n:
            warnings.warn(
                f"one duplicate group holds {int(sizes[big])} of {n} images ({distinct} distinct "
                f"hashes) under the rule '{rule.describe()}': near copies chain through "
                "similar-looking images (typical of small, centred pictures on flat backgrounds); "
                "check the group or lower the threshold",
                stacklevel=2,
            )
    clock.lap("groups")
    # Labels are numbered by first appearance, so a label's first row is the first row whose
    # label exceeds every label before it, and label k's is the k-th such row.
    seen = np.maximum.accumulate(labels)
    first = np.ones(n, dtype=bool)
    first[1:] = labels[1:] > seen[:-1]
    rep_row = np.flatnonzero(first)[labels]
    dist = np.full(n, 64, dtype=np.int64)
    for v in variants:
        dist = np.minimum(dist, np.bitwise_count(v ^ h[rep_row]).astype(np.int64))
    dist_ok = valid & valid[rep_row]
    why = strongest_link(links, paths)
    out = pl.DataFrame(
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
    # Scatter the explanations to their rows (a gather, not a join + sort: 1M rows).
    slot = np.full(n, -1, dtype=np.int64)
    slot[why["row"].to_numpy()] = np.arange(why.height)
    has = pl.Series(slot >= 0)
    take = pl.Series(np.maximum(slot, 0))
    out = out.with_columns(
        (
            pl.when(has).then(why[c].gather(take)).otherwise(None)
            if why.height
            else pl.lit(None, why.schema[c])
        ).alias(c)
        for c in why.columns
        if c != "row"
    )
    if crops is not None:
        out = with_crop_segments(out, crops, paths)
    if label is not None:
        if label not in df.columns:
            raise ValueError(f"label={label!r}: no such column in df")
        labelled = out.select("group_id").with_columns(df[label].alias("_label"))
        disagree = labelled.group_by("group_id").agg(
            (pl.col("_label").drop_nulls().n_unique() > 1).alias("label_disagreement")
        )
        out = out.join(disagree, on="group_id", how="left", maintain_order="left")
    if hash != "phash":
        out = out.drop("dhash_distance")
    if color is None:
        out = out.drop("color_distance")
    out = out.rename({"phash_distance": f"{hash}_distance"})
    clock.lap("explain")
    clock.publish()
    return out


class _Phases:
    """Wall time per phase of one `duplicates` call, published to `LAST_PHASES`."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.times[name] = now - self.last
        self.last = now

    def publish(self) -> None:
        LAST_PHASES.clear()
        LAST_PHASES.update(self.times)


def _with_distances(
    links: pl.DataFrame,
    h: np.ndarray,
    valid: np.ndarray,
    d: np.ndarray | None,
    dvalid: np.ndarray,
    color: ColorCodes | None = None,
) -> pl.DataFrame:
    """`links` with both hash distances (and the colour distance) on every exact link (they
    come without), so the
    grouping order and the explanations see them; null where a hash is missing. Flip/rotation
    links keep their own (transformed) distances: the untransformed ones would mislead."""
    a = links["a"].to_numpy().astype(np.int64)
    b = links["b"].to_numpy().astype(np.int64)
    exact = (links["kind"] < NEAR).to_numpy()
    pd = np.where(valid[a] & valid[b] & exact, bit_distance(h[a], h[b]), 255).astype(np.uint8)
    links = links.with_columns(
        pl.col("phash_distance").fill_null(
            pl.Series(pd, dtype=pl.UInt8).replace(255, None)  # 255: a hash is missing
        )
    )
    if d is not None:
        ok = dvalid[a] & dvalid[b] & exact
        dd = np.where(ok, bit_distance(d[a], d[b]), 255).astype(np.uint8)
        links = links.with_columns(
            pl.col("dhash_distance").fill_null(pl.Series(dd, dtype=pl.UInt8).replace(255, None))
        )
    if color is not None:
        ok = color.known[a] & color.known[b] & exact
        cd = np.where(ok, bit_distance(color.codes[a], color.codes[b]), 255).astype(np.uint8)
        links = links.with_columns(
            pl.col("color_distance").fill_null(pl.Series(cd, dtype=pl.UInt8).replace(255, None))
        )
    return links


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
    not_duplicates: NotDuplicates | None = None,
    threads: int | None = None,
) -> pl.DataFrame:
    """The rows to keep: one per duplicate group, chosen by `keep`, in input order.

    Args:
        df: the scan table.
        keep: ``"sharpest"`` (highest ``sharpness``, else ``blur``), ``"largest"`` (most pixels,
            then biggest file), ``"first"`` (first row of the group), or a callable that gets one
            group's rows (``df`` columns plus ``group_id``) and returns the position (0-based,
            within that frame) of the row to keep. Ties go to the earliest row.
        hash, threshold, exact, invariant, not_duplicates, threads: as in `duplicates`.
        groups: the output of `duplicates(df, ...)` if already computed.

    Returns:
        The kept rows of `df` (all its columns), in input order. Rows not returned are the
        copies you can drop; nothing is deleted.
    """
    if groups is None:
        groups = duplicates(
            df, hash, threshold, exact, invariant, not_duplicates=not_duplicates, threads=threads
        )
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
