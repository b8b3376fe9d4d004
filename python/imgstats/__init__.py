"""imgstats: audit image datasets before you train or label.

Per-image statistics and perceptual hashes from one decode (Rust core), near-duplicate groups,
leakage across splits, environment coverage and drift (polars).
"""

from imgstats._imgstats import __version__
from imgstats.coverage import coverage, coverage_wide, gaps
from imgstats.domain_gap import DomainGap, domain_gap
from imgstats.drift import drift
from imgstats.duplicates import DEFAULT_THRESHOLD, dedupe, duplicates, near_pairs
from imgstats.edge_cases import edge_cases
from imgstats.exceptions import ImgstatsError, InternalError
from imgstats.hashes import ahash, dhash, hash_from_hex, hash_hex, phash
from imgstats.leakage import LeakageReport, leakage
from imgstats.report import report
from imgstats.scan import METRICS, scan

__all__ = [
    "DEFAULT_THRESHOLD",
    "DomainGap",
    "LeakageReport",
    "METRICS",
    "ImgstatsError",
    "InternalError",
    "__version__",
    "ahash",
    "coverage",
    "coverage_wide",
    "dedupe",
    "dhash",
    "domain_gap",
    "drift",
    "duplicates",
    "edge_cases",
    "gaps",
    "hash_from_hex",
    "hash_hex",
    "leakage",
    "near_pairs",
    "phash",
    "report",
    "scan",
]
