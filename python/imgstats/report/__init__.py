"""The HTML audit page."""

from imgstats.report.build import report

__all__ = ["report"]
