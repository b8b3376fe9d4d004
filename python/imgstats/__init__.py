"""imgstats: audit image datasets before you train or label.

Per-image statistics and perceptual hashes from one decode (Rust core), near-duplicate groups,
leakage across splits, environment coverage and drift (polars).
"""

import copyreg
import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from imgstats._imgstats import __version__

if TYPE_CHECKING:
    from imgstats.coverage import coverage, coverage_wide, gaps
    from imgstats.domain_gap import DomainGap, domain_gap
    from imgstats.drift import drift
    from imgstats.duplicates import dedupe, duplicates
    from imgstats.edge_cases import edge_cases
    from imgstats.exceptions import ImgstatsError, InternalError
    from imgstats.find import find
    from imgstats.groups import groups, largest_groups
    from imgstats.hamming import DEFAULT_THRESHOLD, near_pairs
    from imgstats.hashes import (
        ahash,
        crop_resistant_hash,
        dhash,
        hash_from_hex,
        hash_hex,
        phash,
    )
    from imgstats.labels import Labels, labels
    from imgstats.leakage import LeakageReport, leakage
    from imgstats.leakage_groups import GroupLeakage, group_leakage
    from imgstats.report import report
    from imgstats.results import Results, results
    from imgstats.scan import METRICS, scan
    from imgstats.slices import Slices, slices
    from imgstats.split import SplitResult, split

# `import imgstats` loads only the compiled core: each public name is imported from its module on
# first use (PEP 562), so `imgstats.scan(folder)` in a fresh process does not pay for the report,
# labels, drift... modules (their imports are a tenth of a 70,000-file scan's CPU time).
_EXPORTS: dict[str, str] = {
    "coverage": "imgstats.coverage",
    "coverage_wide": "imgstats.coverage",
    "gaps": "imgstats.coverage",
    "DomainGap": "imgstats.domain_gap",
    "domain_gap": "imgstats.domain_gap",
    "drift": "imgstats.drift",
    "dedupe": "imgstats.duplicates",
    "duplicates": "imgstats.duplicates",
    "edge_cases": "imgstats.edge_cases",
    "ImgstatsError": "imgstats.exceptions",
    "InternalError": "imgstats.exceptions",
    "find": "imgstats.find",
    "groups": "imgstats.groups",
    "largest_groups": "imgstats.groups",
    "DEFAULT_THRESHOLD": "imgstats.hamming",
    "near_pairs": "imgstats.hamming",
    "ahash": "imgstats.hashes",
    "crop_resistant_hash": "imgstats.hashes",
    "dhash": "imgstats.hashes",
    "hash_from_hex": "imgstats.hashes",
    "hash_hex": "imgstats.hashes",
    "phash": "imgstats.hashes",
    "Labels": "imgstats.labels",
    "labels": "imgstats.labels",
    "LeakageReport": "imgstats.leakage",
    "leakage": "imgstats.leakage",
    "GroupLeakage": "imgstats.leakage_groups",
    "group_leakage": "imgstats.leakage_groups",
    "report": "imgstats.report",
    "Results": "imgstats.results",
    "results": "imgstats.results",
    "METRICS": "imgstats.scan",
    "scan": "imgstats.scan",
    "Slices": "imgstats.slices",
    "slices": "imgstats.slices",
    "SplitResult": "imgstats.split",
    "split": "imgstats.split",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'imgstats' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


class _Package(types.ModuleType):
    """The package's module type. When a submodule is first imported, Python binds it as an
    attribute of the package (`imgstats.report` = the module); where the package exports a
    function of the same name (`report`, `scan`, `drift`, ...), the function is bound instead,
    as the eager imports used to leave it."""

    def __setattr__(self, name: str, value: object) -> None:
        if (
            isinstance(value, types.ModuleType)
            and _EXPORTS.get(name) == value.__name__
            and hasattr(value, name)
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


# Pickle finds reducers by exact type, so a ModuleType subclass would be pickled by value and
# fail ("cannot pickle '_Package' object"): a Ray or multiprocessing task whose function refers
# to `imgstats` must carry the package by name, as any module is.
def _package_by_name(module: _Package) -> tuple[Any, tuple[str]]:
    return importlib.import_module, (module.__name__,)


copyreg.pickle(_Package, _package_by_name)

__all__ = [
    "DEFAULT_THRESHOLD",
    "GroupLeakage",
    "Labels",
    "DomainGap",
    "LeakageReport",
    "METRICS",
    "SplitResult",
    "ImgstatsError",
    "InternalError",
    "__version__",
    "ahash",
    "coverage",
    "coverage_wide",
    "crop_resistant_hash",
    "dedupe",
    "dhash",
    "domain_gap",
    "drift",
    "duplicates",
    "edge_cases",
    "find",
    "gaps",
    "group_leakage",
    "groups",
    "hash_from_hex",
    "hash_hex",
    "largest_groups",
    "labels",
    "leakage",
    "near_pairs",
    "phash",
    "report",
    "Results",
    "results",
    "scan",
    "split",
    "Slices",
    "slices",
]
