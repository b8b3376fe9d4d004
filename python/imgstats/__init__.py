"""imgstats: audit image datasets before you train or label.

Per-image statistics and perceptual hashes from one decode (Rust core), near-duplicate groups,
leakage across splits, environment coverage and drift (polars).
"""

from imgstats._imgstats import __version__
from imgstats.coverage import coverage, gaps
from imgstats.drift import drift
from imgstats.duplicates import dedupe, duplicates, near_pairs
from imgstats.edge_cases import edge_cases
from imgstats.exceptions import ImgstatsError, InternalError
from imgstats.hashes import ahash, dhash, hash_hex, phash
from imgstats.leakage import leakage
from imgstats.report import report
from imgstats.scan import METRICS, scan

__all__ = [
    "METRICS",
    "ImgstatsError",
    "InternalError",
    "__version__",
    "ahash",
    "coverage",
    "dedupe",
    "dhash",
    "drift",
    "duplicates",
    "edge_cases",
    "gaps",
    "hash_hex",
    "leakage",
    "near_pairs",
    "phash",
    "report",
    "scan",
]
