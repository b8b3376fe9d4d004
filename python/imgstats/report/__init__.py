"""The HTML audit page: `report` writes one self-contained file (see `imgstats.report.build`).

One module per part of the page: `build` assembles it; `overview` (summary, histograms),
`heatmap` (coverage and gaps), `drift_table`, `edge_gallery` and `pairs` (duplicates, leakage)
each draw one section; `html` holds the building blocks (escaping, tables, SVG, CSS) and `thumbs`
the embedded thumbnails.
"""

from __future__ import annotations

from imgstats.report.build import report

__all__ = ["report"]
