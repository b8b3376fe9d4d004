"""Duplicate groups and leakage pairs for `imgstats.report`, shown side by side."""

from __future__ import annotations

from typing import Any, Protocol, Union

import polars as pl

from imgstats.report.html import basename, cards, esc, fmt, note, section, table
from imgstats.report.thumbs import Thumbnailer


class HasPairs(Protocol):
    """A leakage result: `imgstats.LeakageReport` or another tool's object with a pairs frame."""

    @property
    def pairs(self) -> pl.DataFrame: ...


#: What `report(leakage=...)` accepts: a result with ``.pairs`` or the pairs frame itself.
LeakageArg = Union[pl.DataFrame, HasPairs]


def duplicates_section(dups: pl.DataFrame, thumbs: Thumbnailer, max_groups: int) -> str:
    """The largest duplicate groups side by side, the kept copy outlined first."""
    need = {"path", "group_id", "group_size"}
    if not need <= set(dups.columns):
        missing = ", ".join(sorted(need - set(dups.columns)))
        return section("duplicates", "Duplicates", note(f"Cannot show: missing {missing}.", "warn"))
    multi = dups.filter(pl.col("group_size") > 1)
    n_groups = multi.get_column("group_id").n_unique()
    exact = (
        multi.filter(pl.col("exact")).get_column("group_id").n_unique()
        if "exact" in multi.columns
        else None
    )
    items = [
        ("duplicate groups", fmt(n_groups)),
        ("images in them", fmt(multi.height)),
        ("removable (all but one per group)", fmt(multi.height - n_groups)),
    ]
    if exact is not None:
        items.append(("groups with exact copies", fmt(exact)))
    parts = [cards(items)]
    top = (
        multi.select("group_id", "group_size")
        .unique()
        .sort(["group_size", "group_id"], descending=[True, False])
        .head(max_groups)
        .get_column("group_id")
        .to_list()
    )
    if top:
        parts.append(f"<h3>The {len(top)} largest groups</h3>")
    rep = dups.schema.get("representative")
    for gid in top:
        g = multi.filter(pl.col("group_id") == gid)
        if rep == pl.Boolean:
            g = g.with_columns(pl.col("representative").fill_null(False).alias("_rep"))
        elif rep is not None:
            g = g.with_columns(
                (pl.col("representative") == pl.col("path")).fill_null(False).alias("_rep")
            )
        else:
            g = g.with_columns(pl.lit(False).alias("_rep"))
        sort_cols = ["_rep"] + (["distance"] if "distance" in g.columns else [])
        g = g.sort(sort_cols, descending=[True] + [False] * (len(sort_cols) - 1), nulls_last=True)
        figs = []
        for r in g.head(6).iter_rows(named=True):
            cap = [basename(r["path"])]
            if r["_rep"]:
                cap.append("kept")
            reason = _reason(r)
            if reason:
                cap.append(reason)
            elif not r["_rep"] and r.get("distance") is not None:
                cap.append(f"distance {r['distance']}")
            fig = thumbs.figure(r["path"], cap)
            figs.append(f'<div class="rep">{fig}</div>' if r["_rep"] else fig)
        size = g.height
        kind = " (exact)" if "exact" in g.columns and bool(g.get_column("exact").any()) else ""
        more = ", showing 6" if size > 6 else ""
        parts.append(
            f'<div class="group"><div class="d">group {esc(gid)}<br>{size} images{kind}{more}</div>'
            f"{''.join(figs)}</div>"
        )
    return section("duplicates", "Duplicates", "".join(parts))


def _reason(row: dict[str, Any]) -> str:
    """Why a row is in its group, e.g. "near a.jpg · phash 3 · dhash 5" ("" when unknown)."""
    match = row.get("match")
    if not match:
        return ""
    parts = [f"{str(match).replace('_', ' ')} {basename(str(row.get('matched_path') or ''))}"]
    for col, value in row.items():
        if col.endswith("_distance") and value is not None:
            parts.append(f"{col.removesuffix('_distance')} {value}")
    return " · ".join(parts)


def leakage_section(leak: LeakageArg, thumbs: Thumbnailer, max_pairs: int) -> str:
    """Pairs per split and the closest pairs side by side."""
    pairs = leak if isinstance(leak, pl.DataFrame) else getattr(leak, "pairs", None)
    if not isinstance(pairs, pl.DataFrame):
        return section("leakage", "Leakage", note("Leakage result has no .pairs frame.", "warn"))
    cols = set(pairs.columns)
    a_path = "path" if "path" in cols else None
    b_path = "matched_path" if "matched_path" in cols else None
    if a_path is None or b_path is None:
        return section(
            "leakage", "Leakage", note("Leakage pairs need path and matched_path.", "warn")
        )
    # imgstats.leakage names the splits "later"/"earlier"; other tools say split/matched_split.
    a_split = next((c for c in ("split", "later") if c in cols), None)
    b_split = next((c for c in ("matched_split", "earlier") if c in cols), None)
    parts = [cards([("leaking pairs", fmt(pairs.height))])]
    if a_split and b_split:
        s = (
            pairs.group_by(a_split, b_split)
            .agg(pl.len().alias("pairs"), pl.col("path").n_unique().alias("images"))
            .sort("pairs", descending=True)
        )
        rows = [(str(a), str(b), p, i) for a, b, p, i in s.iter_rows()]
        parts.append(table(["split", "matched in", "pairs", "images"], rows))
    summary = getattr(leak, "summary", None)
    if isinstance(summary, pl.DataFrame) and summary.height:
        parts.append("<h3>Summary</h3>" + table(summary.columns, summary.head(20).rows()))
    shown = pairs.sort("distance", nulls_last=True) if "distance" in cols else pairs
    shown = shown.head(max_pairs)
    if shown.height:
        parts.append(f"<h3>{shown.height} closest pairs</h3>")
    pair_html = []
    for r in shown.iter_rows(named=True):
        left = thumbs.figure(r[a_path], [_cell(r, a_split), basename(r[a_path])])
        right = thumbs.figure(r[b_path], [_cell(r, b_split), basename(r[b_path])])
        d = f"distance {r['distance']}" if r.get("distance") is not None else ""
        pair_html.append(f'<div class="pair">{left}{right}<div class="d">{esc(d)}</div></div>')
    parts.append(f'<div class="gallery">{"".join(pair_html)}</div>')
    return section("leakage", "Leakage", "".join(parts))


def _cell(row: dict[str, Any], column: str | None) -> str:
    """A value of `row` as text; "" when the column is absent."""
    return "" if column is None else str(row.get(column, ""))
