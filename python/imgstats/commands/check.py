"""`imgstats check DATASET`: read detection labels, print the findings, gate CI on them.

Exit codes: 0 when no finding reaches ``--fail-on`` (default ``error``), 1 when one does, 2 when
the dataset cannot be read at all (no such file, not a YOLO / COCO / VOC dataset, bad YAML).
``--json`` prints one JSON document (schema in docs/labels.md) instead of the table.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import polars as pl

#: --fail-on level → severities that fail.
FAIL_LEVELS: dict[str, tuple[str, ...]] = {
    "error": ("error",),
    "warning": ("error", "warning"),
    "info": ("error", "warning", "info"),
    "never": (),
}


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "check",
        help="check detection labels (YOLO data.yaml, COCO .json, VOC folder)",
        description="Read a detection dataset and list what is wrong with its labels: missing, "
        "empty and orphan label files, parse errors, boxes out of range or out of bounds, "
        "duplicates, tiny boxes, class balance. Exit 1 when a finding reaches --fail-on.",
    )
    p.add_argument(
        "dataset",
        help="data.yaml, a folder with images/ and labels/, a COCO "
        "instances .json, or a VOC root with Annotations/",
    )
    p.add_argument("--imgsz", type=int, default=640, help="training size (default 640)")
    p.add_argument("--image-dir", help="COCO: folder of the images (default: guessed)")
    p.add_argument(
        "--fail-on",
        choices=list(FAIL_LEVELS),
        default="error",
        help="exit 1 when a finding of this severity or worse exists (default: error)",
    )
    p.add_argument("--json", action="store_true", help="print JSON (findings and problems)")
    p.add_argument(
        "--problems",
        type=int,
        default=0,
        metavar="N",
        help="also print the first N problem rows (file, line, detail) on the terminal",
    )
    p.add_argument(
        "--table",
        nargs="?",
        const=",".join(TABLE_AXES),
        metavar="AXES",
        help="also scan the images and print the class x environment table (objects per class "
        f"and bucket); AXES is a comma list (default: {','.join(TABLE_AXES)}; unavailable axes "
        "are skipped)",
    )
    p.set_defaults(func=run)


#: Axes of the terminal table: the one-page audit's columns (weather when `buckets` has it).
TABLE_AXES: tuple[str, ...] = ("lighting", "atmosphere", "camera", "occlusion", "object_size")


def coverage_table(lab: Any, axes: list[str]) -> pl.DataFrame:
    """Objects per class (rows) and ``axis:bucket`` (columns) for the axes that exist, as text:
    ``·`` marks a cell that does not apply (object axes of the background row)."""
    from imgstats.buckets import BUILTIN_AXES
    from imgstats.coverage import coverage, coverage_wide
    from imgstats.labels.axes import OBJECT_AXES
    from imgstats.scan import scan

    df = scan(lab)
    assert isinstance(df, pl.DataFrame)
    usable = [a for a in axes if a in OBJECT_AXES or a in BUILTIN_AXES]
    cov = coverage(df, by="class", labels=lab, axes=usable)
    cov = cov.filter(pl.col("bucket") != "unknown")
    wide = coverage_wide(cov)
    return wide.with_columns(pl.exclude(wide.columns[0]).cast(pl.Utf8).fill_null("·"))


def _fails(findings: pl.DataFrame, level: str) -> bool:
    bad = FAIL_LEVELS[level]
    return bool(findings.filter(pl.col("severity").is_in(list(bad))).height)


def to_json(lab: Any, dataset: str, fail_on: str) -> dict[str, Any]:
    """The ``--json`` document (documented in docs/labels.md)."""
    status = dict(lab.images.group_by("status").len().iter_rows())
    sev = dict(lab.problems.group_by("severity").len().iter_rows())
    return {
        "dataset": dataset,
        "format": lab.format,
        "root": lab.root,
        "imgsz": lab.imgsz,
        "classes": list(lab.names),
        "images": {
            "total": lab.images.height,
            **{
                s: int(status.get(s, 0))
                for s in ("labelled", "background", "unlabelled", "unreadable")
            },
        },
        "boxes": lab.boxes.height,
        "problems_by_severity": {s: int(sev.get(s, 0)) for s in ("error", "warning", "info")},
        "fail_on": fail_on,
        "failed": _fails(lab.findings, fail_on),
        "findings": lab.findings.to_dicts(),
        "problems": lab.problems.to_dicts(),
    }


def _table(findings: pl.DataFrame) -> str:
    rows = [("severity", "check", "split", "count", "example")]
    for r in findings.iter_rows(named=True):
        ex = r["examples"][0] if r["examples"] else ""
        rows.append((r["severity"], r["check"], r["split"] or "-", f"{r['count']:,}", ex))
    widths = [max(len(str(row[i])) for row in rows) for i in range(4)]
    lines = []
    for row in rows:
        cells = [
            str(row[i]).ljust(widths[i]) if i != 3 else str(row[i]).rjust(widths[i])
            for i in range(4)
        ]
        lines.append("  ".join(cells + [row[4]]).rstrip())
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from imgstats.labels import labels

    try:
        lab = labels(args.dataset, imgsz=args.imgsz, image_dir=args.image_dir)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a YAML syntax error and the like: still a usage error
        print(f"error: cannot read {args.dataset}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    failed = _fails(lab.findings, args.fail_on)
    if args.json:
        print(json.dumps(to_json(lab, args.dataset, args.fail_on), indent=1, default=str))
        return 1 if failed else 0
    print(repr(lab))
    if lab.findings.height:
        print(_table(lab.findings))
    else:
        print("no findings")
    if args.problems:
        with pl.Config(tbl_rows=args.problems, fmt_str_lengths=120, tbl_width_chars=200):
            print(
                lab.problems.head(args.problems).select(
                    "check", "path", "label_file", "line", "detail"
                )
            )
    if args.table:
        axes = [a.strip() for a in args.table.split(",") if a.strip()]
        table = coverage_table(lab, axes)
        with pl.Config(
            tbl_rows=60,
            tbl_cols=40,
            tbl_width_chars=400,
            tbl_hide_dataframe_shape=True,
            tbl_hide_column_data_types=True,
        ):
            print(table)
    verdict = "FAIL" if failed else "ok"
    print(f"{verdict} (--fail-on {args.fail_on})")
    return 1 if failed else 0
