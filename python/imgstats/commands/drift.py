"""`imgstats drift REFERENCE CURRENT`: has production drifted from training?

Each side is an image folder (scanned) or a saved scan (``.parquet``, e.g. from ``imgstats scan
DIR -o scan.parquet``). Prints the flagged rows of `imgstats.drift` (per statistic and per bucket
share) and the domain-gap AUC of `imgstats.domain_gap` (can a classifier tell the two apart?).

**What counts as drift** (``--fail-on drift`` exits 1, for a monitoring job on daily samples):

- any row `imgstats.drift` flags: a statistic whose PSI > 0.2, KS D > 0.1 or Wasserstein-1 >
  0.25 reference IQR *and* KS p < 0.01; a bucket share that moved by more than 5 points with
  z-test p < 0.01; an axis whose PSI over buckets > 0.2 with a flagged bucket; or
- the domain-gap AUC is credibly above ``--auc-threshold`` (default 0.6): the lower end of its
  95 % confidence interval exceeds it.

Exit codes: 0 no drift (or ``--fail-on`` not given), 1 drift with ``--fail-on drift``, 2 bad
input (a missing path, an unreadable scan, too few images).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import polars as pl

#: Default AUC above which (CI lower bound) the domain gap counts as drift.
AUC_THRESHOLD = 0.6


def load(source: str) -> pl.DataFrame:
    """A scan frame from a folder (scanned now) or a saved scan table; see `commands.dataset`.
    Drift compares images, so a detection dataset is scanned as a plain folder."""
    from imgstats.commands.dataset import load_dataset

    return load_dataset(source, read_labels=False).frame


def drift_reasons(table: pl.DataFrame, gap: Any, auc_threshold: float) -> list[str]:
    """Why the comparison counts as drift (empty: it does not); see the module docstring."""
    reasons = []
    for row in table.filter(pl.col("flag")).iter_rows(named=True):
        what = row["column"] if row["bucket"] is None else f"{row['column']}={row['bucket']}"
        reasons.append(f"{row['kind']} {what}: {', '.join(row['reasons'])}")
    if gap is not None and gap.auc_ci[0] > auc_threshold:
        reasons.append(
            f"domain gap: AUC {gap.auc:.3f}, CI low {gap.auc_ci[0]:.3f} > {auc_threshold}"
        )
    return reasons


def _fmt(v: Any, spec: str = ".3g") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return format(v, spec)


def render(table: pl.DataFrame, gap: Any, show_all: bool) -> list[str]:
    """Text lines: statistics (all, or flagged only), flagged buckets, the gap."""
    lines = []
    stats = table.filter(pl.col("kind") == "statistic")
    if not show_all:
        stats = stats.filter(pl.col("flag"))
    lines.append(
        f"{'statistic':18s} {'ref mean':>10s} {'cur mean':>10s} {'PSI':>7s} "
        f"{'KS D':>6s} {'W1/IQR':>7s}  flag"
    )
    for r in stats.iter_rows(named=True):
        lines.append(
            f"{r['column']:18s} {_fmt(r['reference_mean'], '10.4g')} "
            f"{_fmt(r['current_mean'], '10.4g')} {_fmt(r['psi'], '7.3f')} "
            f"{_fmt(r['ks_statistic'], '6.3f')} {_fmt(r['wasserstein_norm'], '7.3f')}  "
            f"{'DRIFT ' + ','.join(r['reasons']) if r['flag'] else ''}"
        )
    buckets = table.filter((pl.col("kind") == "bucket") & (show_all | pl.col("flag")))
    if buckets.height:
        lines.append("")
        lines.append(f"{'bucket':34s} {'reference':>9s} {'current':>9s}  flag")
        for r in buckets.iter_rows(named=True):
            name = f"{r['column']}={r['bucket']}"
            lines.append(
                f"{name:34s} {r['reference_share']:9.1%} {r['current_share']:9.1%}  "
                f"{'DRIFT' if r['flag'] else ''}"
            )
    lines.append("")
    lines.append(gap.summary() if gap is not None else "domain gap: not computed")
    return lines


def report_json(table: pl.DataFrame, gap: Any, reasons: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "drift_detected": bool(reasons),
        "reasons": reasons,
        "drift": table.to_dicts(),
        "domain_gap": None,
    }
    if gap is not None:
        out["domain_gap"] = {
            "auc": gap.auc,
            "auc_ci": list(gap.auc_ci),
            "n_reference": gap.n_reference,
            "n_current": gap.n_current,
            "features": gap.features.to_dicts(),
            "scores": gap.scores.head(100).to_dicts(),
        }
    return out


def run(args: argparse.Namespace) -> int:
    from imgstats.drift import drift

    try:
        ref, cur = load(args.reference), load(args.current)
    except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if "error" in ref.columns:
        ref = ref.filter(pl.col("error").is_null())
    if "error" in cur.columns:
        cur = cur.filter(pl.col("error").is_null())
    if ref.height == 0 or cur.height == 0:
        print("error: no readable images on one side", file=sys.stderr)
        return 2
    table = drift(ref, cur)
    gap = None
    if not args.no_gap:
        from imgstats.domain_gap import domain_gap

        try:
            gap = domain_gap(ref, cur, folds=args.folds)
        except ImportError as exc:
            print(f"note: {exc}; domain gap skipped", file=sys.stderr)
        except ValueError as exc:
            print(f"note: domain gap skipped: {exc}", file=sys.stderr)
    reasons = drift_reasons(table, gap, args.auc_threshold)
    print(
        f"reference: {args.reference} ({ref.height:,} images)  "
        f"current: {args.current} ({cur.height:,} images)"
    )
    print("\n".join(render(table, gap, args.all)))
    print(f"\nDRIFT: {len(reasons)} reason(s)" if reasons else "\nno drift")
    for reason in reasons:
        print(f"  - {reason}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report_json(table, gap, reasons), f, indent=1, default=str)
    return 1 if args.fail_on == "drift" and reasons else 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "drift",
        help="compare a current image set (production) with a reference (training)",
        description="Drift per statistic and bucket share, plus the domain-gap AUC of a "
        "classifier trained to tell the two sets apart. REFERENCE and CURRENT are image "
        "folders or .parquet scans.",
    )
    p.add_argument("reference", metavar="REFERENCE", help="folder or .parquet scan (training)")
    p.add_argument("current", metavar="CURRENT", help="folder or .parquet scan (production)")
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    p.add_argument(
        "--fail-on",
        choices=["drift"],
        help="exit 1 when drift is detected (a flagged drift row, or the domain-gap AUC's "
        "CI lower bound above --auc-threshold)",
    )
    p.add_argument(
        "--auc-threshold",
        type=float,
        default=AUC_THRESHOLD,
        help=f"domain-gap AUC counted as drift (default {AUC_THRESHOLD})",
    )
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--no-gap", action="store_true", help="skip the domain-gap classifier")
    p.add_argument("--all", action="store_true", help="print every row, not only flagged ones")
    p.set_defaults(func=run)
