"""`split`: a leak-free, stratified train/val/test split at group level.

Groups come from `imgstats.groups` (near copies, sequences, bursts, user groups) so no group
straddles two splits; inside that constraint the share of every class (images per class, or
objects per class for detection labels) and of an optional coverage axis follows the ratios as
closely as the groups allow (`imgstats.split_assign`). What could not be balanced is reported.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.group_links import GroupSpec
from imgstats.groups import find_groups, largest_groups
from imgstats.split_assign import assign
from imgstats.split_report import GIVE_UP_TOLERANCE, balance_table, given_up_subject, given_up_table

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Default ratios.
DEFAULT_RATIOS: dict[str, float] = {"train": 0.8, "val": 0.1, "test": 0.1}

GroupsArg = Union[pl.DataFrame, GroupSpec, None]

__all__ = ["DEFAULT_RATIOS", "GIVE_UP_TOLERANCE", "SplitResult", "split"]


@dataclass(frozen=True)
class SplitResult:
    """What `split` proposes.

    Attributes:
        assignment: one row per input row, in input order: ``path``, ``group``, ``split``.
        balance: one row per split and stratified value: ``split``, ``kind`` (``"images"`` for
            split sizes, ``"class"`` for images per class, ``"objects"`` for boxes per class,
            or the coverage axis name), ``value``, ``count``, ``total`` (over all splits),
            ``target`` (the split's ratio), ``achieved`` (count / total), ``deviation``
            (achieved - target).
        given_up: the values whose share misses a target by more than `GIVE_UP_TOLERANCE`:
            ``kind``, ``value``, ``total``, ``groups`` (groups holding it), ``worst_split``,
            ``deviation``, ``reason`` (why the groups did not allow better).
        largest_groups: the ten largest groups (`imgstats.largest_groups`).
        notes: everything else worth knowing (skipped group reasons, a giant group, images
            moved into a kept split because they share a group with it).
        ratios: the normalised target ratios.
    """

    assignment: pl.DataFrame
    balance: pl.DataFrame
    given_up: pl.DataFrame
    largest_groups: pl.DataFrame
    ratios: dict[str, float]
    notes: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        sizes = self.balance.filter(pl.col("kind") == "images")
        lines = ["SplitResult("]
        for r in sizes.iter_rows(named=True):
            lines.append(
                f"  {r['split']}: {r['count']:,} images ({r['achieved']:.1%}, "
                f"target {r['target']:.1%})"
            )
        worst = self.balance.filter(pl.col("kind") != "images")
        if worst.height:
            dev = float(worst["deviation"].abs().max())  # type: ignore[arg-type]
            lines.append(f"  largest class-share deviation: {dev:.2%}")
        for r in self.given_up.iter_rows(named=True):
            lines.append(f"  gave up on {given_up_subject(r)}: {r['reason']}")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines) + "\n)"


def _ratios(ratios: Mapping[str, float] | None) -> dict[str, float]:
    ratios = dict(DEFAULT_RATIOS if ratios is None else ratios)
    if not ratios:
        raise ValueError("ratios must name at least one split")
    bad = {k: v for k, v in ratios.items() if not (isinstance(v, (int, float)) and v >= 0)}
    if bad or not math.isfinite(sum(ratios.values())) or sum(ratios.values()) <= 0:
        raise ValueError(f"ratios must be non-negative numbers with a positive sum, got {ratios}")
    total = float(sum(ratios.values()))
    return {str(k): float(v) / total for k, v in ratios.items()}


def _group_ids(df: pl.DataFrame, groups: GroupsArg, notes: list[str]) -> pl.DataFrame:
    """``path``, ``group`` aligned with the rows of `df`."""
    if isinstance(groups, pl.DataFrame):
        if not {"path", "group"} <= set(groups.columns):
            raise ValueError("groups= frame needs 'path' and 'group' columns (imgstats.groups)")
        if "reasons" not in groups.columns:
            groups = groups.with_columns(pl.lit([], dtype=pl.List(pl.Utf8)).alias("reasons"))
        joined = df.select(pl.col("path").cast(pl.Utf8)).join(
            groups.select("path", "group", "reasons").unique("path", keep="first"),
            on="path",
            how="left",
            maintain_order="left",
        )
        missing = joined["group"].null_count()
        if missing:
            raise ValueError(f"groups= has no group for {missing} of the paths in df")
        # Renumber densely: a user's ids may be sparse or not start at 0.
        return joined.with_columns(pl.col("group").rank("dense").cast(pl.UInt32) - 1)
    out, group_notes = find_groups(df, group=groups)
    notes.extend(group_notes)
    return out


def _long_counts(
    df: pl.DataFrame, gid: pl.Series, stratify: str | None, labels: Any, axis: str | None
) -> pl.DataFrame:
    """``group``, ``kind``, ``value``, ``count``: what each group holds of each stratified value."""
    parts = []
    base = pl.DataFrame({"path": df["path"].cast(pl.Utf8), "group": gid})
    if stratify is not None:
        if stratify not in df.columns:
            raise ValueError(f"stratify column {stratify!r} not in df ({', '.join(df.columns)})")
        parts.append(
            base.with_columns(df[stratify].cast(pl.Utf8).alias("value"))
            .drop_nulls("value")
            .group_by("group", "value")
            .len("count")
            .with_columns(pl.lit("class").alias("kind"))
        )
    if labels is not None:
        boxes = labels.boxes
        if not {"path", "class"} <= set(boxes.columns):
            raise ValueError("labels.boxes needs 'path' and 'class' columns")
        parts.append(
            boxes.select(pl.col("path").cast(pl.Utf8), pl.col("class").cast(pl.Utf8))
            .drop_nulls("class")  # a box whose class id is unknown has nothing to balance
            .join(base, on="path", how="inner")
            .group_by("group", pl.col("class").alias("value"))
            .len("count")
            .with_columns(pl.lit("objects").alias("kind"))
        )
    if axis is not None:
        from imgstats.buckets import label_frame, resolve_axes

        spec = resolve_axes(df.columns, [axis])[0]
        buckets = label_frame([df], [spec])[0].to_series()
        parts.append(
            base.with_columns(buckets.alias("value"))
            .group_by("group", "value")
            .len("count")
            .with_columns(pl.lit(spec.name).alias("kind"))
        )
    schema = {"group": pl.UInt32, "kind": pl.Utf8, "value": pl.Utf8, "count": pl.Int64}
    return pl.concat(
        [pl.DataFrame(schema=schema)]
        + [p.select([pl.col(c).cast(t) for c, t in schema.items()]) for p in parts]
    )


def split(
    df: pl.DataFrame,
    ratios: Mapping[str, float] | None = None,
    *,
    stratify: str | None = "auto",
    labels: Any = None,
    axis: str | None = None,
    seed: int = 0,
    keep: str | Sequence[str] | None = None,
    groups: GroupsArg = None,
) -> SplitResult:
    """Propose a split in which no group straddles two parts and class shares follow the ratios.

    Args:
        df: a scan table (``path`` plus the hash / EXIF columns `imgstats.groups` uses), with
            any label columns joined in.
        ratios: ``{split name: share}`` (normalised; default 80/10/10 train/val/test).
        stratify: a column of per-image classes to balance (images per class). ``"auto"``
            (default) uses ``class`` when df has it; ``None`` balances split sizes only.
        labels: a detection `Labels` object (``imgstats.labels``; anything with a ``boxes``
            frame with ``path`` and ``class``): balance **objects** per class across splits
            (multi-label, at group level). Images without boxes still count for split sizes.
        axis: also balance a coverage axis, e.g. ``"time_of_day"`` (so night images reach the
            test split too) or ``"lighting"`` (any `imgstats.coverage` axis or a column).
        seed: the random seed; the same inputs and seed give the same split.
        keep: split name(s) whose current members stay where they are (``df["split"]``, else
            ``labels.images["split"]``), e.g.
            ``"test"`` when the test set cannot move. The rest is re-split over the other
            ratios. Images that share a group with a kept split join it (reported in notes).
        groups: the groups: ``None`` computes ``imgstats.groups(df)`` with its defaults; a
            column name or polars expression adds user groups to them; or the frame returned
            by ``imgstats.groups(...)`` (any options you chose there).

    Returns:
        A `SplitResult`: ``.assignment`` (path, group, split), ``.balance``, ``.given_up``,
        ``.largest_groups``, ``.notes``. When `df` already has a ``split`` column, drop it
        before joining the assignment back (``df.drop("split").join(s.assignment, on="path")``)
        or polars keeps the old one as ``split`` and names the new one ``split_right``.
    """
    if "path" not in df.columns:
        raise ValueError("split needs a 'path' column (a scan table)")
    target = _ratios(ratios)
    names = list(target)
    if stratify == "auto":
        stratify = "class" if "class" in df.columns and labels is None else None
    notes: list[str] = []
    g = _group_ids(df, groups, notes)
    gid = g["group"]
    n_groups = int(gid.max()) + 1 if df.height else 0  # type: ignore[arg-type]
    sizes = np.bincount(gid.to_numpy(), minlength=n_groups).astype(np.float64)
    if len(sizes) and sizes.max() > max(target.values()) * df.height:
        notes.append(
            f"the largest group ({int(sizes.max()):,} images, {sizes.max() / df.height:.0%}) is "
            f"bigger than the largest split's target ({max(target.values()):.0%}): split sizes "
            "cannot reach their targets"
        )

    long = _long_counts(df, gid, stratify, labels, axis)
    dims = long.select("kind", "value").unique().sort("kind", "value")
    dim_of = dims.with_row_index("dim")
    long = long.join(dim_of, on=["kind", "value"], how="left")
    counts = np.zeros((n_groups, dims.height), dtype=np.float64)
    np.add.at(
        counts,
        (long["group"].to_numpy().astype(np.int64), long["dim"].to_numpy().astype(np.int64)),
        long["count"].to_numpy(),
    )

    if keep is not None and "split" not in df.columns and labels is not None:
        # A detection dataset knows its splits (Labels.images["split"]).
        if "split" in labels.images.columns:
            current_split = labels.images.select(pl.col("path").cast(pl.Utf8), "split")
            df = df.join(current_split.unique("path"), on="path", how="left", maintain_order="left")
    if keep is not None and "split" not in df.columns:
        raise ValueError("keep= needs the current split in a 'split' column")
    current = df["split"].cast(pl.Utf8).to_numpy() if keep is not None else None
    choice = assign_rows(gid.to_numpy(), counts, target, seed, current, keep, notes)

    split_of_row = pl.Series("split", names, dtype=pl.Utf8).gather(choice)
    assignment = pl.DataFrame({"path": g["path"], "group": gid, "split": split_of_row})
    balance = balance_table(assignment, long, target)
    return SplitResult(
        assignment=assignment,
        balance=balance,
        given_up=given_up_table(balance, long, sizes, [] if keep is None else _as_list(keep)),
        largest_groups=largest_groups(g),
        ratios=target,
        notes=notes,
    )


def assign_rows(
    gid: np.ndarray,
    counts: np.ndarray,
    target: Mapping[str, float],
    seed: int,
    current: np.ndarray | None = None,
    keep: str | Sequence[str] | None = None,
    notes: list[str] | None = None,
) -> np.ndarray:
    """The split index (into `target`) of every row: the numeric core of `split`.

    Args:
        gid: dense group id per row (0..groups-1).
        counts: ``(groups, dims)`` stratified counts per group.
        target: normalised ratios by split name.
        seed: random seed.
        current: the current split name per row (needed with `keep`).
        keep: split name(s) whose members stay; their groups are fixed there.
        notes: receives what `keep` had to move.
    """
    names = list(target)
    n_groups = counts.shape[0]
    sizes = np.bincount(gid, minlength=n_groups).astype(np.float64)
    choice = np.full(n_groups, -1, dtype=np.int64)
    kept = _fix_kept(gid, current, keep, names, choice, [] if notes is None else notes)
    free = np.flatnonzero(choice < 0)
    free_splits = [i for i, s in enumerate(names) if s not in kept]
    if len(free) and not free_splits:
        raise ValueError(f"keep={sorted(kept)} leaves no split for the other images")
    if len(free):
        sub_ratios = np.array([target[names[i]] for i in free_splits])
        if sub_ratios.sum() <= 0:
            sub_ratios = np.ones(len(free_splits))
        picked = assign(counts[free], sizes[free], sub_ratios, np.random.default_rng(seed))
        choice[free] = np.asarray(free_splits)[picked]
    rows: np.ndarray = choice[gid]
    return rows


def _fix_kept(
    g: np.ndarray,
    current: np.ndarray | None,
    keep: str | Sequence[str] | None,
    names: list[str],
    choice: np.ndarray,
    notes: list[str],
) -> set[str]:
    """Fix the groups of the kept splits in `choice`; returns the kept split names."""
    if keep is None:
        return set()
    kept = _as_list(keep)
    unknown = [k for k in kept if k not in names]
    if unknown:
        raise ValueError(f"keep={unknown} is not one of the ratios' splits {names}")
    if current is None:
        raise ValueError("keep= needs the current split of every row")
    # Later kept splits win a group claimed by two of them (test outranks val).
    for name in sorted(kept, key=names.index):
        claimed = np.unique(g[current == name])
        clash = claimed[(choice[claimed] >= 0)]
        if len(clash):
            notes.append(
                f"{len(clash)} groups hold images of several kept splits; they go to {name!r}"
            )
        choice[claimed] = names.index(name)
    rows_moved = (choice[g] >= 0) & ~np.isin(current, kept)
    if rows_moved.any():
        notes.append(
            f"{int(rows_moved.sum())} images not in the kept split(s) share a group with them "
            "and were moved in, so nothing leaks"
        )
    return set(kept)


def _as_list(keep: str | Sequence[str]) -> list[str]:
    return [keep] if isinstance(keep, str) else list(keep)
