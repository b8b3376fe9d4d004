"""The Hamming index through Python: exactly the pairs NumPy brute force finds."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from conftest import main_thread_ran_during
from imgstats import _imgstats
from imgstats.duplicates import as_uint64, near_pairs


def brute_self(h: np.ndarray, k: int) -> set[tuple[int, int, int]]:
    out = set()
    for i in range(len(h)):
        d = np.bitwise_count(h[i] ^ h[i + 1 :])
        for j in np.flatnonzero(d <= k):
            out.add((i, i + 1 + int(j), int(d[j])))
    return out


def brute_cross(a: np.ndarray, b: np.ndarray, k: int) -> set[tuple[int, int, int]]:
    out = set()
    for i in range(len(a)):
        d = np.bitwise_count(a[i] ^ b)
        for j in np.flatnonzero(d <= k):
            out.add((i, int(j), int(d[j])))
    return out


def as_set(df: pl.DataFrame) -> set[tuple[int, int, int]]:
    return set(df.iter_rows())


def phash_like(rng: np.random.Generator, n: int, clusters: int) -> np.ndarray:
    """Skewed hashes like real pHashes: weight 32, DC (top) bit set, clusters of near copies."""
    centres = []
    for _ in range(clusters):
        bits = rng.choice(63, size=31, replace=False)
        centres.append((1 << 63) | sum(1 << int(b) for b in bits))
    centres_arr = np.array(centres, dtype=np.uint64)
    h = centres_arr[rng.integers(0, clusters, n)]
    flips = rng.integers(0, 63, size=(n, 4))
    mask = (rng.random((n, 4)) < 0.5) * (np.uint64(1) << flips.astype(np.uint64))
    return h ^ np.bitwise_or.reduce(mask.astype(np.uint64), axis=1)


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(42)


@pytest.mark.parametrize("k", [0, 1, 4, 8, 12])
@pytest.mark.parametrize("kind", ["uniform", "skewed"])
def test_self_pairs_match_brute_force(rng: np.random.Generator, kind: str, k: int) -> None:
    n = 2500
    if kind == "uniform":
        h = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    else:
        h = phash_like(rng, n, 60)
    got = near_pairs(h, k=k)
    assert got.columns == ["i", "j", "distance"]
    assert got.schema["i"] == pl.UInt32 and got.schema["distance"] == pl.UInt8
    assert as_set(got) == brute_self(h, k)
    assert got.height == len(brute_self(h, k))  # no duplicates either
    assert got.sort(["i", "j"]).equals(got)


@pytest.mark.parametrize("k", [0, 3, 8])
def test_cross_pairs_and_nearest_match_brute_force(rng: np.random.Generator, k: int) -> None:
    base = phash_like(rng, 2000, 50)
    query = np.concatenate([base[:300] ^ np.uint64(0b101), phash_like(rng, 700, 50)])
    got = near_pairs(query, base, k=k)
    expected = brute_cross(query, base, k)
    assert as_set(got) == expected
    nearest = near_pairs(query, base, k=k, nearest_only=True)
    best: dict[int, tuple[int, int]] = {}
    for i, j, d in expected:
        if i not in best or (d, j) < best[i]:
            best[i] = (d, j)
    assert as_set(nearest) == {(i, j, d) for i, (d, j) in best.items()}


def test_edge_cases() -> None:
    empty = np.zeros(0, dtype=np.uint64)
    assert near_pairs(empty).height == 0
    assert near_pairs(np.array([7], dtype=np.uint64)).height == 0
    assert near_pairs(empty, np.array([1], dtype=np.uint64)).height == 0
    same = np.full(40, 0xDEADBEEF, dtype=np.uint64)
    assert near_pairs(same, k=0).height == 40 * 39 // 2
    h = np.random.default_rng(1).integers(0, 2**64, size=100, dtype=np.uint64)
    assert near_pairs(h, k=64).height == 100 * 99 // 2
    assert as_set(near_pairs(np.array([0, 2**64 - 1], dtype=np.uint64), k=64)) == {(0, 1, 64)}
    with pytest.raises(ValueError, match="between 0 and 64"):
        near_pairs(h, k=65)
    with pytest.raises(ValueError, match="nearest_only"):
        near_pairs(h, nearest_only=True)


def test_input_types_agree() -> None:
    h = [0xBA8C84536BD3C366, 0xBA8C84536BD3C367, 0x0123456789ABCDEF]
    expected = {(0, 1, 1)}
    assert as_set(near_pairs(h, k=4)) == expected
    assert as_set(near_pairs(np.array(h, dtype=np.uint64), k=4)) == expected
    assert as_set(near_pairs(pl.Series(h, dtype=pl.UInt64), k=4)) == expected
    assert as_set(near_pairs([f"{x:016x}" for x in h], k=4)) == expected
    # BIGINT columns store the same bits as signed integers.
    signed = np.array(h, dtype=np.uint64).view(np.int64)
    assert as_set(near_pairs(signed, k=4)) == expected
    assert as_set(near_pairs(pl.Series(signed), k=4)) == expected
    assert as_uint64(np.arange(3, dtype=np.int32)).dtype == np.uint64
    with pytest.raises(ValueError, match="nulls"):
        as_uint64(pl.Series([1, None], dtype=pl.UInt64))


def test_groups_and_components_bindings() -> None:
    h = np.array([5, 5, 7, 1 << 40, 5], dtype=np.uint64)
    labels, sizes = _imgstats._groups(h, 1)
    assert labels.tolist() == [0, 0, 0, 1, 0] and sizes.tolist() == [4, 1]
    labels, sizes = _imgstats._components(4, np.array([3], np.uint32), np.array([1], np.uint32))
    assert labels.tolist() == [0, 1, 2, 1]
    with pytest.raises(ValueError, match="out of range"):
        _imgstats._components(2, np.array([5], np.uint32), np.array([0], np.uint32))


def test_gil_is_released_during_search() -> None:
    """A Python thread runs while the search works on another thread: proved by the order of
    events (see `main_thread_ran_during`), not by timing."""
    h = np.random.default_rng(3).integers(0, 2**64, size=400_000, dtype=np.uint64)
    ran_during, (labels, sizes) = main_thread_ran_during(lambda: _imgstats._groups(h, 8, 1))
    assert ran_during, "the main thread could only run after the search returned"
    assert len(labels) == len(h) and int(sizes.sum()) == len(h)
