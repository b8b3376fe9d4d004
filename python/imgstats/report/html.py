"""HTML building blocks for `imgstats.report`: escaping, tables, inline-SVG histograms, CSS.

No JavaScript and no external resources: the page must open offline and with scripts disabled.
"""

from __future__ import annotations

import html
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")


#: Split colours (colour-blind-safe Okabe-Ito order).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000")

CSS = """
:root{--fg:#1b1f24;--muted:#5b6470;--line:#d8dde3;--bg:#fff;--soft:#f5f7f9;--bad:#c62828;--warn:#b26a00}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
 color:var(--fg); background:var(--bg);margin:0}
main{max-width:1240px;margin:0 auto;padding:16px 24px 48px}
header{background:#16324f;color:#fff;padding:18px 24px}
header h1{margin:0;font-size:22px} header p{margin:4px 0 0;color:#c9d6e3}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:6px 24px;
 z-index:1}
nav a{margin-right:14px;color:#16324f;text-decoration:none;font-weight:600}
section{margin-top:28px} h2{font-size:19px;border-bottom:2px solid #16324f;padding-bottom:4px}
h3{font-size:15px;margin:18px 0 6px}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:8px 14px;
 min-width:130px}
.card b{display:block;font-size:20px} .card span{color:var(--muted);font-size:12px}
table{border-collapse:collapse;margin:6px 0 10px;font-size:13px}
th,td{border:1px solid var(--line);padding:3px 7px;text-align:left;vertical-align:top}
th{background:var(--soft)} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.flag td{background:#fdecea}
.grid{display:flex;flex-wrap:wrap;gap:12px}
.hist{border:1px solid var(--line);border-radius:6px;padding:4px 6px;background:#fff}
.hist .t{font-weight:600;font-size:13px} .hist .s{color:var(--muted);font-size:11px}
.legend span{display:inline-block;margin-right:12px;font-size:12px}
.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
.heat td{text-align:right;min-width:44px;font-variant-numeric:tabular-nums}
.heat td.gap{outline:2px solid var(--bad);outline-offset:-2px;color:var(--bad);font-weight:700}
.heat td.empty{background:repeating-linear-gradient(45deg,#fff,#fff 4px,#fbe3e3 4px,#fbe3e3 8px)}
.heat th.row{text-align:left;white-space:nowrap;max-width:220px;overflow:hidden;
 text-overflow:ellipsis}
.scroll{overflow-x:auto;max-width:100%}
.gallery{display:flex;flex-wrap:wrap;gap:8px}
figure{margin:0;width:118px;font-size:11px;color:var(--muted)}
figure img,figure .ph{display:block;width:auto;height:auto;max-width:112px;max-height:96px;
 border:1px solid var(--line);background:var(--soft)}
figure .ph{width:96px;height:72px;display:flex;align-items:center;justify-content:center;
 color:#8a949f;font-size:10px;text-align:center}
figcaption{overflow-wrap:anywhere;line-height:1.25;margin-top:2px}
.pair,.group{display:flex;align-items:flex-start;gap:10px;padding:6px;border:1px solid var(--line);
 border-radius:6px;margin:6px 0;flex-wrap:wrap}
.pair{margin:0;width:auto}
.pair .d,.group .d{font-size:12px;color:var(--muted);align-self:center;min-width:90px}
.rep img{outline:3px solid #009E73}
.note{color:var(--muted);font-size:12.5px} .warn{color:var(--warn)} .bad{color:var(--bad)}
footer{margin-top:40px;color:var(--muted);font-size:12px;border-top:1px solid var(--line);
 padding-top:8px}
code{background:var(--soft);padding:0 3px;border-radius:3px}
"""


def esc(value: Any) -> str:
    """Text safe for HTML content and double- or single-quoted attributes.

    Lone surrogates (undecodable bytes of a file name, via ``os.fsdecode``) become ``?`` so the
    file stays valid UTF-8.
    """
    text = value if isinstance(value, str) else str(value)
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return html.escape(text, quote=True)


def fmt(value: Any, digits: int = 3) -> str:
    """Compact number formatting for tables and axes."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return esc(value)
    if math.isnan(v):
        return "–"
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.{digits}g}"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def fmt_bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Sequence[bool] | None = None,
    row_class: Sequence[str] | None = None,
    raw: bool = False,
) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then the caller escaped them)."""
    out = ["<table><thead><tr>"]
    out += [f"<th>{esc(h)}</th>" for h in headers]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        cls = row_class[i] if row_class and row_class[i] else ""
        out.append(f'<tr class="{cls}">' if cls else "<tr>")
        for j, cell in enumerate(row):
            text = cell if raw else (fmt(cell) if not isinstance(cell, str) else esc(cell))
            num = numeric[j] if numeric else not isinstance(cell, str)
            out.append(f'<td class="n">{text}</td>' if num else f"<td>{text}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def cards(items: Sequence[tuple[str, str]]) -> str:
    body = "".join(
        f'<div class="card"><b>{esc(v)}</b><span>{esc(k)}</span></div>' for k, v in items
    )
    return f'<div class="cards">{body}</div>'


def legend(names: Sequence[str]) -> str:
    spans = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{esc(n)}</span>'
        for i, n in enumerate(names)
    )
    return f'<div class="legend">{spans}</div>'


def _tick_label(x: float, log: bool, as_bytes: bool = False) -> str:
    value = 10**x if log else x
    return fmt_bytes(value) if as_bytes else fmt(value, 3)


def histogram_svg(
    title: str,
    edges: np.ndarray,
    series: Mapping[str, np.ndarray],
    log: bool = False,
    subtitle: str = "",
    width: int = 264,
    height: int = 140,
    as_bytes: bool = False,
) -> str:
    """One small histogram: filled bars for one series, step outlines for several.

    ``edges`` are the bin edges (in log10 units when ``log``); each series holds per-bin counts,
    drawn as shares of that series so splits of different sizes compare.
    """
    left, right, top, bottom = 34, 8, 6, 20
    pw, ph = width - left - right, height - top - bottom
    shares = {k: v / v.sum() if v.sum() > 0 else v.astype(float) for k, v in series.items()}
    ymax = max((float(s.max()) for s in shares.values() if s.size), default=0.0) or 1.0
    nb = len(edges) - 1
    lo, hi = float(edges[0]), float(edges[-1])
    span = (hi - lo) or 1.0

    def sx(x: float) -> float:
        return left + (x - lo) / span * pw

    def sy(y: float) -> float:
        return top + ph - y / ymax * ph

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{esc(title)} histogram">',
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fafbfc" stroke="#d8dde3"/>',
    ]
    for frac in (0.5, 1.0):
        y = sy(ymax * frac)
        parts.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e6e9ed"/>'
            f'<text x="{left - 3}" y="{y + 3:.1f}" font-size="9" text-anchor="end" '
            f'fill="#5b6470">{ymax * frac * 100:.0f}%</text>'
        )
    single = len(shares) == 1
    for i, (_name, s) in enumerate(shares.items()):
        color = PALETTE[i % len(PALETTE)]
        if single:
            bw = pw / nb
            rects = "".join(
                f'<rect x="{sx(edges[b]):.1f}" y="{sy(s[b]):.1f}" width="{max(bw - 0.6, 0.5):.1f}" '
                f'height="{sy(0) - sy(s[b]):.1f}"/>'
                for b in range(nb)
                if s[b] > 0
            )
            parts.append(f'<g fill="{color}" fill-opacity="0.85">{rects}</g>')
        else:
            pts = [f"{sx(edges[0]):.1f},{sy(0):.1f}"]
            for b in range(nb):
                pts.append(f"{sx(edges[b]):.1f},{sy(s[b]):.1f}")
                pts.append(f"{sx(edges[b + 1]):.1f},{sy(s[b]):.1f}")
            pts.append(f"{sx(edges[-1]):.1f},{sy(0):.1f}")
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
                f'points="{" ".join(pts)}"/>'
            )
    for frac, anchor in ((0.0, "start"), (0.5, "middle"), (1.0, "end")):
        x = lo + frac * span
        parts.append(
            f'<text x="{sx(x):.1f}" y="{height - 6}" font-size="10" text-anchor="{anchor}" '
            f'fill="#5b6470">{esc(_tick_label(x, log, as_bytes))}</text>'
        )
    parts.append("</svg>")
    sub = f'<div class="s">{esc(subtitle)}</div>' if subtitle else ""
    return f'<div class="hist"><div class="t">{esc(title)}</div>{sub}{"".join(parts)}</div>'


def heat_color(share: float) -> str:
    """White to blue by share (0-1), readable with dark text up to the darkest cell."""
    s = max(0.0, min(1.0, share)) ** 0.6
    r = round(255 - s * (255 - 66))
    g = round(255 - s * (255 - 146))
    b = round(255 - s * (255 - 198))
    return f"#{r:02x}{g:02x}{b:02x}"


def basename(path: Any, limit: int = 42) -> str:
    name = os.path.basename(str(path)) or str(path)
    return name if len(name) <= limit else name[: limit - 1] + "…"


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'


def note(text: str, cls: str = "note") -> str:
    return f'<p class="{cls}">{esc(text)}</p>'
