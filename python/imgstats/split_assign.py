"""Assign whole groups to splits so every count (images, images per class, objects per class,
images per coverage bucket) is shared out as close to the split ratios as the groups allow.

Two passes, both over groups, never over images:

1. **Greedy for the large groups** (largest first, the classic bin-packing order, so the big
   pieces are placed while there is room). Each group goes to the split where it most reduces
   the squared deviation from the targets, ``sum_l w_l (count[s, l] - target[s, l])**2`` with
   ``w_l = 1 / total_l**2`` (deviations in share units, so a rare class weighs as much as a
   common one). Placing group ``c`` in split ``s`` changes that sum by
   ``sum_l w_l (c_l**2 - 2 c_l deficit[s, l])``, so the best split maximises
   ``sum_l w_l c_l deficit[s, l]``: one matrix-vector product per group.
2. **Stratified cuts for the many small groups** (iterative stratification after Sechidis,
   Tsoumakas & Vlahavas 2011, at group level and vectorised): dimensions are taken rarest first;
   the groups whose rarest dimension is ``l`` are shuffled and laid end to end, weighted by their
   count of ``l``, and cut where each split's remaining deficit of ``l`` ends. Each split then
   misses its target for ``l`` by at most about one group. Deficits of every dimension are updated
   after each stratum, so later (commoner) dimensions correct for what the rare ones carried.

Small inputs (at most `GREEDY_ALL` groups) go through the greedy pass entirely.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Up to this many groups every group is placed greedily (a few µs a group).
GREEDY_ALL: int = 200_000
#: Above it, groups that mix several stratified values, and groups holding more than this share
#: of the images, are placed greedily; the rest (pure, small groups) by the stratified cuts.
GREEDY_SHARE: float = 0.0005

__all__ = ["assign"]


def assign(
    counts: np.ndarray, sizes: np.ndarray, ratios: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Split index (into `ratios`) for each group.

    Args:
        counts: ``(groups, dims)`` non-negative counts per group (class images, objects, ...);
            may have zero columns.
        sizes: images per group (an implicit extra dimension: split sizes follow the ratios).
        ratios: target share of each split (normalised here).
        rng: the random source (order of equal groups, order inside a stratum).
    """
    n_groups = len(sizes)
    ratios = np.asarray(ratios, dtype=np.float64)
    ratios = ratios / ratios.sum()
    if n_groups == 0:
        return np.zeros(0, dtype=np.int64)
    sizes = np.asarray(sizes, dtype=np.float64)
    mat = np.column_stack([np.asarray(counts, dtype=np.float64).reshape(n_groups, -1), sizes])
    totals = mat.sum(axis=0)
    weights = np.divide(1.0, totals**2, out=np.zeros_like(totals), where=totals > 0)
    # Split sizes are what users check first: weigh them like all class dimensions together.
    weights[-1] *= max(1, mat.shape[1] - 1)
    deficit = ratios[:, None] * totals[None, :]
    out = np.full(n_groups, -1, dtype=np.int64)

    order = np.lexsort((rng.permutation(n_groups), -sizes))
    if n_groups <= GREEDY_ALL:
        greedy = order
    else:
        # A group holding one stratified value only is placed exactly by the cuts; groups that
        # mix values (or are large) need the greedy look at every dimension at once.
        mixed = (mat[:, :-1] > 0).sum(axis=1) > 1
        big = sizes > max(1.0, GREEDY_SHARE * sizes.sum())
        greedy = order[(mixed | big)[order]]
    _greedy(mat, weights, deficit, greedy, out)
    rest = np.flatnonzero(out < 0)
    if len(rest):
        _stratified_cuts(mat, deficit, ratios, rest, rng, out)
    return out


def _greedy(
    mat: np.ndarray, weights: np.ndarray, deficit: np.ndarray, order: np.ndarray, out: np.ndarray
) -> None:
    if not len(order):
        return
    # Groups touch a few of many dimensions: keep each group's non-zero entries (CSR layout,
    # built once, vectorised). The loop itself runs on plain Python floats: with 2-5 splits and
    # a handful of dimensions per group, NumPy's per-call overhead would cost more than the
    # arithmetic (about 2 µs a group this way against 20 µs with array operations).
    rows = mat[order]
    r, c = np.nonzero(rows)
    indptr = np.searchsorted(r, np.arange(len(order) + 1)).tolist()
    vals = rows[r, c].tolist()
    wvals = (rows[r, c] * weights[c]).tolist()
    cols = c.tolist()
    d = deficit.tolist()
    splits = range(len(d))
    picked = []
    for i in range(len(order)):
        a, b = indptr[i], indptr[i + 1]
        idx, wv = cols[a:b], wvals[a:b]
        best, best_score = 0, -math.inf
        for s in splits:
            row = d[s]
            score = sum([row[j] * w for j, w in zip(idx, wv)])
            if score > best_score:
                best, best_score = s, score
        row = d[best]
        for j, v in zip(idx, vals[a:b]):
            row[j] -= v
        picked.append(best)
    out[order] = picked
    deficit[:] = np.asarray(d)


def _stratified_cuts(
    mat: np.ndarray,
    deficit: np.ndarray,
    ratios: np.ndarray,
    rest: np.ndarray,
    rng: np.random.Generator,
    out: np.ndarray,
) -> None:
    sub = mat[rest]
    remaining = sub.sum(axis=0)
    # Rarest dimension first; the image dimension (last) only holds groups with no other count.
    rank = np.argsort(np.where(np.arange(len(remaining)) == len(remaining) - 1, np.inf, remaining))
    position = np.empty_like(rank)
    position[rank] = np.arange(len(rank))
    present = np.where(sub[:, :-1] > 0, position[:-1][None, :], len(rank))
    stratum = (
        present.min(axis=1) if sub.shape[1] > 1 else np.full(len(rest), len(rank), dtype=np.int64)
    )
    for pos in range(len(rank) + 1):
        members = np.flatnonzero(stratum == pos)
        if not len(members):
            continue
        dim = rank[pos] if pos < len(rank) else len(remaining) - 1
        members = members[rng.permutation(len(members))]
        w = sub[members, dim]
        quota = np.clip(deficit[:, dim], 0, None)
        if quota.sum() <= 0:
            quota = ratios.copy()
        bounds = np.cumsum(quota / quota.sum() * w.sum())
        mid = np.cumsum(w) - w / 2
        split = np.minimum(np.searchsorted(bounds, mid, side="right"), len(ratios) - 1)
        out[rest[members]] = split
        for s in range(len(ratios)):
            deficit[s] -= sub[members[split == s]].sum(axis=0)
