"""Exceptions raised by imgstats.

Per-file failures are data (the `error` column of `scan`), not exceptions.
"""

from imgstats._imgstats import ImgstatsError, InternalError

__all__ = ["ImgstatsError", "InternalError"]
