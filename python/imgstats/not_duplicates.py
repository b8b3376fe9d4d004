"""Pairs a person marked as *not* duplicates, and grouping that keeps them apart.

The rule (also in ``docs/duplicates.md``): a marked pair never ends up in one group, however the
links chain. Groups are built from the links strongest first (same bytes, same pixels, near,
flip/rotation; then the smaller pHash distance, then dHash, then row order), like Kruskal's
algorithm: a link is taken unless it would put both images of a marked pair in one group. So
when A–B is marked and A–C–B chain, C stays with whichever of A and B it is closer to and the
other link is cut; A and B end up in different groups. Groups that hold no marked pair are left
exactly as without marks (only the components that would join a marked pair are rebuilt).
"""

from __future__ import annotations

from collections.abc import Iterable
from os import PathLike
from pathlib import Path
from typing import TYPE_CHECKING, Union

import polars as pl

from imgstats import _imgstats
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: What ``duplicates(df, not_duplicates=...)`` accepts: a CSV file with two path columns (header
#: or not), a frame whose first two columns are paths, or ``(path, path)`` pairs.
NotDuplicates = Union[str, PathLike[str], pl.DataFrame, Iterable[tuple[str, str]]]

__all__ = ["NotDuplicates", "constrained_labels", "marked_pairs", "read_marked_pairs"]


def read_marked_pairs(source: NotDuplicates) -> pl.DataFrame:
    """The marked pairs as a frame of two Utf8 columns ``a``, ``b``.

    A CSV needs no header: a header line is a pair of names no scan has, so it matches nothing.
    """
    if isinstance(source, (str, PathLike)):
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"not_duplicates: no such file {path}")
        frame = pl.read_csv(path, has_header=False, infer_schema=False, truncate_ragged_lines=True)
    elif isinstance(source, pl.DataFrame):
        frame = source
    else:
        pairs = [tuple(p) for p in source]
        bad = [p for p in pairs if len(p) != 2]
        if bad:
            raise ValueError(f"not_duplicates: expected (path, path) pairs, got {bad[0]!r}")
        frame = pl.DataFrame(
            {"a": [str(p[0]) for p in pairs], "b": [str(p[1]) for p in pairs]},
            schema={"a": pl.Utf8, "b": pl.Utf8},
        )
    if frame.width < 2:
        raise ValueError(f"not_duplicates: need two path columns, got {frame.columns}")
    return frame.select(
        pl.col(frame.columns[0]).cast(pl.Utf8).alias("a"),
        pl.col(frame.columns[1]).cast(pl.Utf8).alias("b"),
    ).drop_nulls()


def marked_pairs(source: NotDuplicates, paths: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """Row pairs ``(x, y)`` of `paths` marked as distinct (every row of a repeated path).

    Pairs naming a path that is not in `paths` are ignored: they concern other scans.
    """
    marks = read_marked_pairs(source)
    rows = pl.DataFrame({"p": paths.cast(pl.Utf8)}).with_row_index("row")
    joined = marks.join(rows, left_on="a", right_on="p").rename({"row": "x"})
    joined = joined.join(rows, left_on="b", right_on="p").rename({"row": "y"})
    joined = joined.filter(pl.col("x") != pl.col("y"))
    return joined["x"].to_numpy().astype(np.int64), joined["y"].to_numpy().astype(np.int64)


def constrained_labels(
    n: int, links: pl.DataFrame, mark_x: np.ndarray, mark_y: np.ndarray
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    """Groups of `n` rows from `links` (columns a, b, kind, phash_distance, dhash_distance) that
    keep every marked pair ``(mark_x[i], mark_y[i])`` apart (the rule in the module doc).

    Returns the links actually used (for the explanations), labels and sizes as
    `_imgstats._components` numbers them (by first appearance).
    """
    a = links["a"].to_numpy().astype(np.uint32)
    b = links["b"].to_numpy().astype(np.uint32)
    labels, sizes = _imgstats._components(n, a, b)
    if len(mark_x) == 0:
        return links, labels, sizes
    clash = labels[mark_x] == labels[mark_y]
    if not clash.any():
        return links, labels, sizes
    bad_components = np.unique(labels[mark_x[clash]])
    in_bad = np.isin(labels[a], bad_components)
    kept = links.filter(pl.Series(~in_bad))
    contested = links.filter(pl.Series(in_bad)).sort(
        ["kind", "phash_distance", "dhash_distance", "a", "b"], nulls_last=True
    )
    parent: dict[int, int] = {}
    # For each root, the roots it must never join (kept symmetric, moved along on union).
    forbidden: dict[int, set[int]] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while x != root:  # path compression
            parent[x], x = root, parent[x]
        return root

    for x, y in zip(mark_x[clash].tolist(), mark_y[clash].tolist()):
        forbidden.setdefault(x, set()).add(y)
        forbidden.setdefault(y, set()).add(x)
    accepted = np.zeros(contested.height, dtype=bool)
    for idx, (x, y) in enumerate(zip(contested["a"].to_list(), contested["b"].to_list())):
        rx, ry = find(x), find(y)
        if rx == ry:
            accepted[idx] = True  # a redundant link inside a group still explains its rows
            continue
        fx, fy = forbidden.get(rx, set()), forbidden.get(ry, set())
        if ry in fx:
            continue
        # Union by size of the forbidden sets; re-point the other roots' entries.
        if len(fx) < len(fy):
            rx, ry, fx, fy = ry, rx, fy, fx
        parent[ry] = rx
        for r in fy:
            forbidden[r].discard(ry)
            forbidden[r].add(rx)
        fx |= fy
        forbidden[rx] = fx
        forbidden.pop(ry, None)
        accepted[idx] = True
    used = pl.concat([kept, contested.filter(pl.Series(accepted))])
    labels, sizes = _imgstats._components(
        n, used["a"].to_numpy().astype(np.uint32), used["b"].to_numpy().astype(np.uint32)
    )
    # Union-find groups never split, so the components of the used links are its final sets.
    assert bool((labels[mark_x] != labels[mark_y]).all()), "marked pair joined"
    return used, labels, sizes
