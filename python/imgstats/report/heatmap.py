"""The coverage section: a heat map of images per group and environment bucket, with the
cells `imgstats.gaps` lists outlined, and the collection plan under it."""

from __future__ import annotations

import polars as pl

from imgstats.coverage import coverage, gaps
from imgstats.report.html import esc, heat_color, note, section, table

MAX_HEAT_ROWS = 40


def coverage_section(df: pl.DataFrame, by: str | None, min_count: int) -> str:
    try:
        cov = coverage(df, by=by)
    except ValueError as exc:
        return section("coverage", "Coverage", note(f"Coverage not computed: {exc}", "warn"))
    by_name = cov.columns[0]
    groups = (
        cov.select(by_name, "by_total")
        .unique(maintain_order=True)
        .sort(["by_total"], descending=True, maintain_order=True)
    )
    shown = groups.head(MAX_HEAT_ROWS).get_column(by_name).to_list()
    parts = [
        note(
            f"Images per {by_name if by else 'dataset'} and environment bucket; colour = share of "
            f"the row. Cells outlined in red have fewer than {min_count} images (hatched: none) "
            "— the collection plan below lists them."
        )
    ]
    if groups.height > MAX_HEAT_ROWS:
        parts.append(note(f"Showing the {MAX_HEAT_ROWS} largest of {groups.height} groups."))
    gp = gaps(cov, min_count=min_count)
    # Outline exactly the cells `gaps` lists, so the picture and the plan agree.
    gap_cells = set(gp.select(by_name, "axis", "bucket").iter_rows())
    tables = []
    for axis in cov.get_column("axis").unique(maintain_order=True).to_list():
        sub = cov.filter(pl.col("axis") == axis)
        buckets = sub.get_column("bucket").unique(maintain_order=True).to_list()
        source = sub.get_column("source")[0]
        head = "".join(f"<th>{esc(b)}</th>" for b in buckets)
        cells = {
            (g, b): (c, s)
            for g, b, c, s in sub.select(by_name, "bucket", "count", "share").iter_rows()
        }
        rows = []
        for g in shown:
            tds = []
            for b in buckets:
                c, s = cells.get((g, b), (0, 0.0))
                cls = []
                if (g, axis, b) in gap_cells:
                    cls.append("gap")
                    if c == 0:
                        cls.append("empty")
                style = (
                    ""
                    if c == 0
                    else f' style="background:{heat_color(s)}'
                    + (';color:#fff"' if s > 0.6 else '"')
                )
                klass = f' class="{" ".join(cls)}"' if cls else ""
                tip = f"{g} / {axis}={b}: {c} images ({s:.1%})"
                tds.append(f'<td{klass}{style} title="{esc(tip)}">{c:,}</td>')
            label = "(none)" if g is None else g
            rows.append(
                f'<tr><th class="row" title="{esc(label)}">{esc(label)}</th>{"".join(tds)}</tr>'
            )
        src = f' <span class="note">from {esc(source)}</span>'
        tables.append(
            f'<div class="scroll"><h3>{esc(axis)}{src}</h3><table class="heat"><thead><tr>'
            f"<th>{esc(by_name)}</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )
    parts.append('<div class="grid">' + "".join(tables) + "</div>")
    parts.append(f"<h3>Collection plan: {gp.height:,} empty or thin cells</h3>")
    if gp.height:
        plan = [
            (str(r[by_name]), r["axis"], r["bucket"], r["count"], r["needed"], r["status"])
            for r in gp.head(40).iter_rows(named=True)
        ]
        parts.append(table([by_name, "axis", "bucket", "images", "to collect", "status"], plan))
        if gp.height > 40:
            parts.append(note(f"… and {gp.height - 40:,} more (imgstats.gaps(cov) lists all)."))
    return section("coverage", "Coverage", "".join(parts))
