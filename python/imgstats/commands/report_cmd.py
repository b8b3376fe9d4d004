"""`imgstats report DIR -o audit.html`: scan, join labels, duplicates/leakage, write the page."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable
from typing import Any

import polars as pl


def _scan(directory: str) -> pl.DataFrame:
    """The scan step, kept separate so tests can substitute a prepared frame."""
    from imgstats.scan import scan

    return scan(directory)


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


def _optional(name: str, func: Callable[[], Any], notes: list[str]) -> Any:
    """Run an analysis written elsewhere; a missing or failing one becomes a note, not a crash."""
    try:
        return func()
    except NotImplementedError:
        notes.append(f"{name}: not available in this build; section skipped.")
    except Exception as exc:  # the report is still useful without this section
        notes.append(f"{name} failed ({type(exc).__name__}: {exc}); section skipped.")
    return None


def run(args: argparse.Namespace) -> int:
    from imgstats.report import report

    if not os.path.isdir(args.directory):
        print(f"error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    df = _scan(args.directory)
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
    dups = leaks = None
    if not args.no_duplicates:
        # import_module: `imgstats.duplicates` the attribute is the function, not the module.
        dup_mod = importlib.import_module("imgstats.duplicates")
        dups = _optional("duplicates", lambda: dup_mod.duplicates(df), notes)
        if args.split_column:
            leak_mod = importlib.import_module("imgstats.leakage")
            leaks = _optional(
                "leakage", lambda: leak_mod.leakage(df, split=args.split_column), notes
            )
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
    )
    print(f"wrote {out} ({os.path.getsize(out) / 1024:.0f} KB, {df.height:,} images)")
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "report",
        help="write a self-contained HTML audit of an image folder",
        description="Scan DIR and write one offline HTML page: statistics, coverage and gaps, "
        "drift between splits, edge cases, duplicates and leakage.",
    )
    p.add_argument("directory", metavar="DIR", help="folder of images (scanned recursively)")
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
