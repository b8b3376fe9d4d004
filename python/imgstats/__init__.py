"""imgstats: audit image datasets before you train or label.

Per-image statistics and perceptual hashes from one decode (Rust core), near-duplicate groups,
leakage across splits, environment coverage and drift (polars).
"""

from imgstats._imgstats import __version__
from imgstats.coverage import coverage, coverage_wide, gaps
from imgstats.domain_gap import DomainGap, domain_gap
from imgstats.drift import drift
from imgstats.duplicates import dedupe, duplicates
from imgstats.edge_cases import edge_cases
from imgstats.exceptions import ImgstatsError, InternalError
from imgstats.find import find
from imgstats.groups import groups, largest_groups
from imgstats.hamming import DEFAULT_THRESHOLD, near_pairs
from imgstats.hashes import ahash, crop_resistant_hash, dhash, hash_from_hex, hash_hex, phash
from imgstats.labels import Labels, labels
from imgstats.leakage import LeakageReport, leakage
from imgstats.leakage_groups import GroupLeakage, group_leakage
from imgstats.report import report
from imgstats.results import Results, results
from imgstats.scan import METRICS, scan
from imgstats.slices import Slices, slices
from imgstats.split import SplitResult, split

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
