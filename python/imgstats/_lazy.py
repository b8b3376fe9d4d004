"""Heavy imports loaded on first use.

`import imgstats` sits on the path of every CLI call and of every pipeline that only scans; numpy
and Pillow serve the analysis helpers and the hash functions, and importing them costs ~60 ms, a
twentieth of scanning 70,000 small files. Modules bind `np = LazyModule("numpy")` at run time and
the real module under `TYPE_CHECKING`, so type checkers still see numpy's types.
"""

from __future__ import annotations

import importlib
import types
from typing import Any


class LazyModule(types.ModuleType):
    """Stands in for the module `name`; the first attribute access imports it and copies its
    namespace in, so later lookups are plain dictionary hits."""

    def __getattr__(self, attr: str) -> Any:
        module = importlib.import_module(self.__name__)
        self.__dict__.update(module.__dict__)
        return getattr(module, attr)
