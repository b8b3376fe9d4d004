"""`imgstats report DIR -o audit.html`: scan, join labels, duplicates/leakage, write the page."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import polars as pl

from imgstats.duplicates import duplicates
from imgstats.leakage import LeakageReport, leakage
from imgstats.report import report
from imgstats.scan import scan

T = TypeVar("T")


def _scan(directory: str) -> pl.DataFrame:
    """The scan step, kept separate so tests can substitute a prepared frame."""
    return scan(directory)


def _labelled_scan(lab: Any, args: argparse.Namespace) -> pl.DataFrame:
    """The scan of a detection dataset's images, with its split (``report data.yaml``)."""
    from imgstats.report.labels import dataset_frame

    df = dataset_frame(lab)
    if args.split_column is None and df.get_column("split").drop_nulls().len():
        args.split_column = "split"
    if args.title is None:  # the dataset's folder, not "data.yaml"
        args.title = f"imgstats audit: {os.path.basename(os.path.abspath(lab.root))}"
    return df


def _normalise(path: str, base: str) -> str:
    """Absolute, normalised form of a path; relative ones are taken against ``base``."""
    if not os.path.isabs(path):
        path = os.path.join(base, path)
    return os.path.normpath(os.path.abspath(path))


def _scan_key(path: str, directory: str) -> str:
    # The scan may report paths relative to the working directory or to DIR; prefer the one
    # that exists so both layouts join.
    if os.path.isabs(path) or os.path.exists(path):
        return os.path.normpath(os.path.abspath(path))
    return _normalise(path, directory)


def join_labels(df: pl.DataFrame, labels_csv: str, directory: str) -> pl.DataFrame:
    """Left-join a labels CSV on ``path``; relative CSV paths are resolved against ``directory``.

    Every CSV column is read as text (class ids like ``007`` stay intact). Images missing from
    the CSV keep null labels; CSV rows with no scanned image are ignored.
    """
    labels = pl.read_csv(labels_csv, infer_schema=False)
    if "path" not in labels.columns:
        raise ValueError(f"{labels_csv}: needs a 'path' column, has {', '.join(labels.columns)}")
    base = os.path.abspath(directory)
    labels = labels.with_columns(
        pl.col("path")
        .map_elements(lambda p: _normalise(p, base), return_dtype=pl.Utf8)
        .alias("_key")
    ).drop("path")
    dupes = labels.filter(pl.col("_key").is_duplicated()).height
    if dupes:
        labels = labels.unique("_key", keep="first", maintain_order=True)
        print(f"warning: {dupes} duplicate paths in {labels_csv}; kept the first", file=sys.stderr)
    clash = [c for c in labels.columns if c != "_key" and c in df.columns]
    if clash:
        labels = labels.rename({c: f"{c}_label" for c in clash})
    keyed = df.with_columns(
        pl.col("path")
        .map_elements(lambda p: _scan_key(p, base), return_dtype=pl.Utf8)
        .alias("_key")
    )
    return keyed.join(labels, on="_key", how="left", maintain_order="left").drop("_key")


def _optional(name: str, func: Callable[[], T], notes: list[str]) -> T | None:
    """Run an analysis written elsewhere; a missing or failing one becomes a note, not a crash."""
    try:
        return func()
    except NotImplementedError:
        notes.append(f"{name}: not available in this build; section skipped.")
    except Exception as exc:  # the report is still useful without this section
        notes.append(f"{name} failed ({type(exc).__name__}: {exc}); section skipped.")
    return None


def run(args: argparse.Namespace) -> int:
    from imgstats.report.labels import dataset_labels

    try:
        lab = dataset_labels(args.directory)  # a YOLO / COCO / VOC dataset, else None
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if lab is None and not os.path.isdir(args.directory):
        print(f"error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    df = _scan(args.directory) if lab is None else _labelled_scan(lab, args)
    if args.labels:
        df = join_labels(df, args.labels, args.directory)
        # Conventional label columns are used without being named on the command line.
        if args.split_column is None and "split" in df.columns:
            args.split_column = "split"
        if args.by is None and "class" in df.columns:
            args.by = "class"
    for flag, col in (("--split-column", args.split_column), ("--by", args.by)):
        if col and col not in df.columns:
            print(
                f"error: {flag} {col!r} is not a column ({', '.join(df.columns)})", file=sys.stderr
            )
            return 2
    notes: list[str] = []
    dups: pl.DataFrame | None = None
    leaks: LeakageReport | None = None
    if not args.no_duplicates:
        dups = _optional("duplicates", lambda: duplicates(df), notes)
        if args.split_column:
            leaks = _optional("leakage", lambda: leakage(df, split=args.split_column), notes)
    reference = None
    if args.reference:
        from imgstats.commands.drift import load

        try:
            reference = load(args.reference)
        except (ValueError, OSError, pl.exceptions.PolarsError) as exc:
            print(f"error: --reference: {exc}", file=sys.stderr)
            return 2
    out = report(
        df,
        args.output,
        reference=reference,
        split=args.split_column,
        by=args.by,
        duplicates=dups,
        leakage=leaks,
        title=args.title or f"imgstats audit: {os.path.basename(os.path.abspath(args.directory))}",
        notes=notes,
        thumbnails=not args.no_thumbnails,
        labels=lab,
    )
    print(f"wrote {out} ({os.path.getsize(out) / 1024:.0f} KB, {df.height:,} images)")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML audit of an image folder",
        description="Scan DIR and write one offline HTML page: statistics, coverage and gaps, "
        "drift between splits, edge cases, duplicates and leakage.",
    )
    p.add_argument(
        "directory",
        metavar="DIR",
        help="folder of images (scanned recursively), or a detection dataset (data.yaml, COCO "
        ".json, VOC root): then its labelled images plus the labels section",
    )
    p.add_argument("--labels", help="CSV with a 'path' column (relative to DIR or absolute)")
    p.add_argument(
        "--split-column",
        help="label column holding train/val/test (default: 'split' when the labels have it)",
    )
    p.add_argument(
        "--by",
        help="label column for the coverage rows (default: 'class' when the labels have it)",
    )
    p.add_argument("-o", "--output", default="audit.html", help="output file (default audit.html)")
    p.add_argument("--title", help="page title")
    p.add_argument("--no-thumbnails", action="store_true", help="do not embed thumbnails")
    p.add_argument("--no-duplicates", action="store_true", help="skip duplicates and leakage")
    p.add_argument(
        "--reference",
        metavar="REF",
        help="training images to compare with (folder or .parquet scan): drift from REF and "
        "the 'can you tell which is which?' panel",
    )
    p.set_defaults(func=run)
