"""`imgstats slices DATASET --results preds/`: where the model fails, per environment slice.

Exit codes: 0 done (nothing flagged, or no ``--fail-on``), 1 a slice is flagged and
``--fail-on drop`` was given (for CI), 2 a usage error (missing files, unknown metric or axis).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "slices",
        help="model performance per environment slice, with CIs and corrected tests",
        description="Score predictions (YOLO .txt folder or COCO results JSON, with --labels) or "
        "take per-image results (CSV/Parquet with path + correct/loss), then report the metric per "
        "bucket and pair of buckets, its confidence interval, the difference to the rest and a "
        "Benjamini-Hochberg corrected test. See docs/slices.md.",
    )
    p.add_argument("dataset", metavar="DATASET", help="image folder, or a saved scan table")
    p.add_argument(
        "--results", required=True, help="predictions folder / .json, or a results table"
    )
    p.add_argument("--labels", help="ground truth for detections (data.yaml, COCO JSON, ...)")
    p.add_argument(
        "--metric",
        default=None,
        help="recall, precision, accuracy, loss, fp or a results column "
        "(default: recall for detections, accuracy for classification)",
    )
    p.add_argument("--axes", help="comma-separated image axes or columns (default: all built-in)")
    p.add_argument("--object-axes", help="comma-separated object columns (default: known ones)")
    p.add_argument("--no-pairs", action="store_true", help="single buckets only")
    p.add_argument("--min-size", type=int, default=30, help="smallest slice tested (default 30)")
    p.add_argument("--alpha", type=float, default=0.05, help="false discovery rate (default 0.05)")
    p.add_argument("--min-drop", type=float, default=0.0, help="smallest drop worth flagging")
    p.add_argument("--iou", type=float, default=0.5, help="IoU for a match (default 0.5)")
    p.add_argument("--conf", type=float, default=None, help="drop predictions scored below this")
    p.add_argument("--fail-on", choices=["drop"], help="exit 1 when any slice is flagged (for CI)")
    p.add_argument("--json", metavar="FILE", help="write the full table and summary as JSON")
    p.add_argument("--to-label", type=int, metavar="N", help="print N images to label next")
    p.set_defaults(func=run)


def _error(message: str) -> int:
    print(f"imgstats slices: error: {message}", file=sys.stderr)
    return 2


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _print(sl: Any, problems: int) -> None:
    o = sl.overall
    print(
        f"{sl.metric} per {sl.unit}: {o['metric']:.3f} [{o['ci_low']:.3f}, {o['ci_high']:.3f}] "
        f"over {int(o['n']):,} {sl.unit}s; {sl.table.height:,} slices on {len(sl.axes)} axes, "
        f"{int(sl.table['test'].is_not_null().sum()):,} tested, {sl.flagged.height} flagged "
        f"(q <= {sl.alpha}), {int(sl.table['primary'].sum())} not explained by another"
    )
    for note in sl.notes:
        print(f"note: {note}", file=sys.stderr)
    if problems:
        print(f"note: {problems} prediction inputs could not be scored (Results.problems)")
    shown = sl.flagged.head(25)
    for r in shown.iter_rows(named=True):
        name = f"{r['axis']}={r['bucket']}"
        if r["axis2"] is not None:
            name += f" & {r['axis2']}={r['bucket2']}"
        why = "" if r["primary"] else f"  (explained by {r['explained_by']})"
        print(
            f"  {name}: {sl.metric} {_fmt(r['metric'])} [{_fmt(r['ci_low'])}, "
            f"{_fmt(r['ci_high'])}] vs {_fmt(r['rest'])} on the rest, n={r['n']:,}, "
            f"q={_fmt(r['q_value'])}{why}"
        )
    if sl.flagged.height > shown.height:
        print(f"  ... and {sl.flagged.height - shown.height} more flagged (--json for all)")


def run(args: argparse.Namespace) -> int:
    from imgstats.commands.dataset import load_dataset
    from imgstats.labels import labels
    from imgstats.results import results
    from imgstats.slices import slices

    if not Path(args.dataset).exists():
        return _error(f"{args.dataset} does not exist")
    if not Path(args.results).exists():
        return _error(f"results {args.results} do not exist")
    try:
        lab = labels(args.labels) if args.labels else None
        res = results(args.results, lab, iou=args.iou, conf=args.conf)
        # With labels, the scan covers exactly their image paths: the contract's join key.
        df = load_dataset(args.dataset, labels=lab, read_labels=False).frame
        sl = slices(
            df,
            res,
            metric=args.metric,
            axes=args.axes.split(",") if args.axes else None,
            object_axes=args.object_axes.split(",") if args.object_axes else None,
            pairs=not args.no_pairs,
            min_size=args.min_size,
            alpha=args.alpha,
            min_difference=args.min_drop,
        )
    except (ValueError, RuntimeError, FileNotFoundError, ImportError) as exc:
        return _error(str(exc))
    _print(sl, res.problems.height)
    if args.json:
        payload = {
            "metric": sl.metric,
            "unit": sl.unit,
            "kind": sl.kind,
            "higher_is_better": sl.higher_is_better,
            "overall": sl.overall,
            "alpha": sl.alpha,
            "min_size": sl.min_size,
            "notes": sl.notes,
            "results": res.summary(),
            "slices": sl.table.to_dicts(),
        }
        Path(args.json).write_text(json.dumps(payload, indent=1, default=str))
    if args.to_label:
        pick = sl.to_label(n=args.to_label)
        print(f"{pick.height} images to label next (never two near-duplicates):")
        for r in pick.iter_rows(named=True):
            print(r["path"])
    if args.fail_on == "drop" and sl.flagged.height:
        return 1
    return 0
