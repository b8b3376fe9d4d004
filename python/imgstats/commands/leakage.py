"""`imgstats leakage`: test images with a near copy in train (and val), from the command line."""

from __future__ import annotations

import argparse
import sys

import polars as pl

from imgstats.commands.output import write_table
from imgstats.hamming import DEFAULT_THRESHOLD
from imgstats.leakage import leakage


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "leakage",
        help="find test images with a near copy in train (and val)",
        description="Compare splits given as NAME=DIR (earlier splits first, e.g. train=data/train "
        "val=data/val test=data/test): every image of a later split with a near copy in an "
        "earlier one is reported with its match and distance.",
    )
    p.add_argument("splits", nargs="+", metavar="NAME=DIR")
    p.add_argument("-o", "--output", help="write the leaking pairs (.csv / .parquet / .ndjson)")
    p.add_argument("--threshold", type=int, default=DEFAULT_THRESHOLD)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=run_leakage)


def run_leakage(args: argparse.Namespace) -> int:
    splits: dict[str, str] = {}
    for item in args.splits:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            print(f"expected NAME=DIR, got {item!r}", file=sys.stderr)
            return 2
        splits[name] = path
    if len(splits) < 2:
        print("give at least two splits, e.g. train=data/train test=data/test", file=sys.stderr)
        return 2
    report = leakage(splits, threshold=args.threshold, threads=args.threads)
    print(report, file=sys.stderr)
    if args.output:
        write_table(report.pairs, args.output)
    else:
        with pl.Config(tbl_rows=50, fmt_str_lengths=80):
            print(report.pairs)
    return 0
