"""`duplicates` builds groups from a spanning forest of the near rule
(`imgstats.hamming.rule_forest`), not from every pair: the groups must still be exactly the
connected components of all pairs that satisfy the rule (brute force with NumPy here, written
from docs/duplicates.md), with the confirming dHash, the pHash-alone tier closed to pairs of
simple pictures, the colour check on both tiers (unknown signatures never pass; a neutral one
passes as a grayscale copy when both hashes are within the alone radius and the contrasts within
1.5x, unknown contrast passing), and low-information rows matched only exactly; on random,
clustered and dense (graph-search) data; and every row's explanation must be a real link within
the rule, with its distances."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from imgstats import match_rule
from imgstats.duplicates import (
    DEFAULT_COLOR_THRESHOLD,
    DEFAULT_DHASH_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
    duplicates,
)
from imgstats.hamming import rule_forest, rule_spec
from imgstats.not_duplicates import constrained_labels


def bits(x: np.ndarray) -> np.ndarray:
    """Pairwise Hamming distances of a uint64 vector (n x n)."""
    return np.bitwise_count(x[:, None] ^ x[None, :]).astype(np.int64)


def first_appearance(labels: np.ndarray) -> list[int]:
    seen: dict[int, int] = {}
    return [seen.setdefault(int(v), len(seen)) for v in labels]


def union_find_labels(n: int, i: np.ndarray, j: np.ndarray) -> list[int]:
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in zip(i.tolist(), j.tolist()):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return first_appearance(np.array([find(x) for x in range(n)]))


def flip(h: np.ndarray, rng: np.random.Generator, most: int) -> np.ndarray:
    out = h.copy()
    for _ in range(most):
        rows = rng.random(len(h)) < 0.5
        out[rows] ^= np.uint64(1) << rng.integers(0, 63, int(rows.sum())).astype(np.uint64)
    return out


NEUTRAL = 0x0F0F0F0F0F0F0F0F


def frame(kind: str, n: int, seed: int) -> pl.DataFrame:
    """Hashes (random, clusters of near copies that chain, or a few dense clusters), a
    correlated dHash, colour signatures (one per cluster with a few bits flipped; some neutral,
    some unknown), contrasts (10-40, some unknown, some low), some simple pictures (entropy < 1)
    and some low-information rows (contrast < 2, collapsed hashes)."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        ph = rng.integers(0, 2**64, n, dtype=np.uint64)
        dh = rng.integers(0, 2**64, n, dtype=np.uint64)
        # A few planted near copies so groups exist.
        src = rng.integers(0, n, n // 10)
        dst = rng.integers(0, n, n // 10)
        ph[dst] = flip(ph[src], rng, 12)
        dh[dst] = flip(dh[src], rng, 8)
        colour = rng.integers(0, 2**64, n, dtype=np.uint64)
        colour[dst] = flip(colour[src], rng, 8)
    else:
        m = n // 40 if kind == "clustered" else 4
        centres = rng.integers(0, 2**64, m, dtype=np.uint64)
        dcentres = rng.integers(0, 2**64, m, dtype=np.uint64)
        ccentres = rng.integers(0, 2**64, m, dtype=np.uint64)
        c = rng.integers(0, m, n)
        ph = flip(centres[c], rng, 16)
        dh = flip(dcentres[c], rng, 12)
        colour = flip(ccentres[c], rng, 8)
    ph |= np.uint64(1 << 63)
    colour[rng.random(n) < 0.15] = np.uint64(NEUTRAL)
    entropy = np.where(rng.random(n) < 0.2, 0.5, 5.0)
    contrast = np.where(rng.random(n) < 0.05, 1.0, rng.uniform(10, 40, n))
    ph[rng.integers(0, n, 3)] = np.uint64(1 << 63)  # collapsed: flat pictures
    return pl.DataFrame(
        {
            "path": [f"img{i:05d}.png" for i in range(n)],
            "phash": pl.Series(ph, dtype=pl.UInt64),
            "dhash": pl.Series(dh, dtype=pl.UInt64),
            "entropy": entropy,
            "contrast": pl.Series(contrast).set(pl.Series(rng.random(n) < 0.1), None),
            "color_signature": pl.Series(colour, dtype=pl.UInt64).set(
                pl.Series(rng.random(n) < 0.1), None
            ),
        }
    )


def rule_ok(df: pl.DataFrame, alone_needs_color: bool = True) -> np.ndarray:
    """The default rule on all pairs (n x n bool), by brute force: pHash within 8 (not two
    simple pictures; colour check too with `alone_needs_color`), or pHash within 16 with dHash
    within 16 and the colour check; never a low-information row."""
    ph, dh = df["phash"].to_numpy(), df["dhash"].to_numpy()
    simple = df["entropy"].to_numpy() < 1
    contrast = df["contrast"].fill_null(np.nan).to_numpy()
    low = (contrast < 2) | np.isin(ph, [0, 1 << 63, 2**64 - 1])
    sig = df["color_signature"]
    known = sig.is_not_null().to_numpy()
    codes = sig.fill_null(0).to_numpy()
    pd, dd, cd = bits(ph), bits(dh), bits(codes)
    neutral = codes == np.uint64(NEUTRAL)
    k1, k2 = contrast[:, None], contrast[None, :]
    unknown_contrast = np.isnan(k1) | np.isnan(k2)
    with np.errstate(invalid="ignore", divide="ignore"):
        within = (np.fmax(k1, k2) <= 1.5 * np.fmin(k1, k2)) | (k1 == k2)
    gray_copy = (
        (neutral[:, None] | neutral[None, :])
        & (pd <= NEAR_PHASH_THRESHOLD)
        & (dd <= NEAR_PHASH_THRESHOLD)
        & (unknown_contrast | within)
    )
    colour_ok = known[:, None] & known[None, :] & ((cd <= DEFAULT_COLOR_THRESHOLD) | gray_copy)
    alone = (pd <= NEAR_PHASH_THRESHOLD) & ~(simple[:, None] & simple[None, :])
    if alone_needs_color:
        alone &= colour_ok
    confirmed = (pd <= WIDE_PHASH_THRESHOLD) & (dd <= DEFAULT_DHASH_THRESHOLD) & colour_ok
    ok: np.ndarray = (alone | confirmed) & ~(low[:, None] | low[None, :])
    return ok


def rule_pairs(df: pl.DataFrame, alone_needs_color: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Every pair `duplicates` links by the default rule, by brute force."""
    i, j = np.nonzero(np.triu(rule_ok(df, alone_needs_color), 1))
    return i, j


@pytest.mark.filterwarnings("ignore:one duplicate group holds")  # dense clusters chain
@pytest.mark.parametrize("alone_needs_color", [True, False])
@pytest.mark.parametrize(
    ("kind", "n", "seed"), [("random", 1500, 1), ("clustered", 2500, 2), ("dense", 3000, 6)]
)
def test_groups_are_the_components_of_every_rule_pair(
    monkeypatch: pytest.MonkeyPatch, kind: str, n: int, seed: int, alone_needs_color: bool
) -> None:
    monkeypatch.setattr(match_rule, "ALONE_NEEDS_COLOR", alone_needs_color)
    df = frame(kind, n, seed)
    ok = rule_ok(df, alone_needs_color)
    i, j = np.nonzero(np.triu(ok, 1))
    want = union_find_labels(n, i, j)
    got = duplicates(df, exact=False)
    assert got["group_id"].to_list() == want
    sizes = np.bincount(np.array(want))
    assert (sizes > 1).sum() >= (4 if kind == "dense" else 20)  # the test sees real groups
    # The colour check, the simple guard and the grayscale-copy exemption all decide here.
    ph, dh = df["phash"].to_numpy(), df["dhash"].to_numpy()
    pd, dd = bits(ph), bits(dh)
    luma = (pd <= NEAR_PHASH_THRESHOLD) | ((pd <= WIDE_PHASH_THRESHOLD) & (dd <= 16))
    assert (luma & ~ok).any()
    codes = df["color_signature"].fill_null(0).to_numpy()
    neutral = codes == np.uint64(NEUTRAL)
    exempt = ok & (neutral[:, None] ^ neutral[None, :])
    assert exempt.any()
    # Every grouped row is explained by a real link within the rule, to a row of its group,
    # with that link's distances.
    row_of = {p: r for r, p in enumerate(df["path"].to_list())}
    known = df["color_signature"].is_not_null().to_numpy()
    for r, row in enumerate(got.iter_rows(named=True)):
        if row["group_size"] == 1:
            assert row["match"] is None
            continue
        other = row_of[row["matched_path"]]
        assert row["match"] == "near" and ok[r, other]
        assert row["group_id"] == got["group_id"][other]
        assert row["phash_distance"] == pd[r, other]
        assert row["dhash_distance"] == dd[r, other]
        cd = int(np.bitwise_count(codes[r] ^ codes[other])) if known[r] & known[other] else None
        assert row["color_distance"] == cd


@pytest.mark.parametrize("kind", ["random", "clustered"])
def test_rule_forest_with_two_confirming_codes(kind: str) -> None:
    """The radii and the confirming codes are parameters (a colour code is one more)."""
    n = 2000
    df = frame(kind, n, 3)
    rng = np.random.default_rng(4)
    ph, dh = df["phash"].to_numpy(), df["dhash"].to_numpy()
    colour = flip(dh ^ np.uint64(0xF0F0), rng, 3)
    simple = df["entropy"].to_numpy() < 1
    a, b = rule_forest(ph, alone=5, wide=12, confirms=[(dh, 9), (colour, 4)], simple=simple)
    pd, dd, cd = bits(ph), bits(dh), bits(colour)
    ok = ((pd <= 5) & ~(simple[:, None] | simple[None, :])) | ((pd <= 12) & (dd <= 9) & (cd <= 4))
    assert ok[a, b].all()  # every edge satisfies the rule
    i, j = np.nonzero(np.triu(ok, 1))
    want = union_find_labels(n, i, j)
    assert union_find_labels(n, a.astype(np.int64), b.astype(np.int64)) == want
    assert len(a) == n - len(set(want))  # a forest: no redundant edge


def test_rule_links_checks_pairs_as_the_forest_does() -> None:
    """`rule_spec(...).links(x, y)` (the pair check of `near_pairs`/`find`) is the same rule as
    the forest's, against the NumPy reference above; bad rows are an error, not a wrong answer."""
    n = 600
    df = frame("clustered", n, 6)
    rng = np.random.default_rng(6)
    ph, dh = df["phash"].to_numpy(), df["dhash"].to_numpy()
    colour = flip(dh ^ np.uint64(0xF0F0), rng, 3)
    simple = df["entropy"].to_numpy() < 1
    spec = rule_spec(ph, alone=5, wide=12, confirms=[(dh, 9), (colour, 4)], simple=simple)
    pd, dd, cd = bits(ph), bits(dh), bits(colour)
    ok = ((pd <= 5) & ~(simple[:, None] | simple[None, :])) | ((pd <= 12) & (dd <= 9) & (cd <= 4))
    x, y = np.nonzero(np.ones((n, n), dtype=bool))
    got = spec.links(x.astype(np.int64), y.astype(np.int64))
    assert (got == ok[x, y]).all() and got.sum() > n  # some pairs beyond the diagonal link
    assert len(spec) == n
    with pytest.raises(ValueError, match="out of range"):
        spec.links(np.array([0], np.int64), np.array([n], np.int64))
    with pytest.raises(ValueError, match="2 first rows but 1 second"):
        spec.links(np.array([0, 1], np.int64), np.array([0], np.int64))
    with pytest.raises(ValueError, match="70"):
        rule_spec(ph, alone=5, wide=70)


def test_marked_pairs_still_cut_with_all_links() -> None:
    """With `not_duplicates`, the groups holding a marked pair are rebuilt from all their near
    pairs (strongest first), exactly as from the full pair list."""
    df = frame("clustered", 1200, 5)
    i, j = rule_pairs(df)
    labels = np.array(union_find_labels(len(df), i, j))
    big = np.flatnonzero(labels == np.bincount(labels).argmax())
    marks = [(df["path"][int(big[0])], df["path"][int(big[-1])])]
    got = duplicates(df, exact=False, not_duplicates=marks)
    ph, dh = df["phash"].to_numpy(), df["dhash"].to_numpy()
    links = pl.DataFrame(
        {
            "a": pl.Series(i, dtype=pl.UInt32),
            "b": pl.Series(j, dtype=pl.UInt32),
            "kind": pl.Series(np.full(len(i), 2), dtype=pl.UInt8),
            "phash_distance": pl.Series(np.bitwise_count(ph[i] ^ ph[j]), dtype=pl.UInt8),
            "dhash_distance": pl.Series(np.bitwise_count(dh[i] ^ dh[j]), dtype=pl.UInt8),
        }
    )
    _, want, _ = constrained_labels(len(df), links, np.array([big[0]]), np.array([big[-1]]))
    assert got["group_id"].to_list() == first_appearance(want)
    assert got["group_id"][int(big[0])] != got["group_id"][int(big[-1])]
