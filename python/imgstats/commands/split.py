"""`imgstats split DATASET --ratios 80/10/10 -o split.csv`: a leak-free, stratified split.

DATASET is a folder (scanned), a Parquet scan table, or a YOLO ``data.yaml`` (read with
``imgstats.labels``; objects per class are balanced). ``--write DIR`` writes ``train.txt`` /
``val.txt`` / ``test.txt`` and, for a data.yaml, a new ``data.yaml`` pointing at them.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

import polars as pl

#: What a scan needs for the group reasons (hashes, exact keys, EXIF time and camera).
GROUP_METRICS = ["phash", "content_hash", "pixel_hash", "exif", "entropy", "contrast"]


def parse_ratios(text: str) -> dict[str, float]:
    """``80/10/10`` -> train/val/test; ``90/10`` -> train/val; ``train=70,val=15,test=15``."""
    if "=" in text:
        out = {}
        for part in text.split(","):
            name, _, value = part.partition("=")
            out[name.strip()] = float(value)
        return out
    values = [float(v) for v in text.split("/")]
    names = {1: ["train"], 2: ["train", "val"], 3: ["train", "val", "test"]}.get(len(values))
    if names is None:
        raise ValueError(f"--ratios {text!r}: give 2 or 3 numbers (80/10/10) or name=share pairs")
    return dict(zip(names, values))


def split_from_folders(paths: pl.Series, names: list[str]) -> pl.Series:
    """The split named by a folder in each path (``data/test/x.jpg`` -> ``test``), else null."""
    pattern = r"(?:^|[/\\])(" + "|".join(map(re.escape, names)) + r")(?:[/\\])"
    return paths.cast(pl.Utf8).str.extract(pattern, 1).alias("split")


def _summary(res: Any) -> None:
    from imgstats.split_report import given_up_subject

    for r in res.balance.filter(pl.col("kind") == "images").iter_rows(named=True):
        print(
            f"{r['split']:>8}: {r['count']:>8,} images  {r['achieved']:6.1%}  "
            f"(target {r['target']:.1%})"
        )
    strat = res.balance.filter(pl.col("kind") != "images")
    for kind in strat["kind"].unique(maintain_order=True).to_list():
        worst = strat.filter(pl.col("kind") == kind)["deviation"].abs().max()
        print(f"{kind}: largest share deviation {worst:.2%}")
    for r in res.given_up.iter_rows(named=True):
        print(f"gave up on {given_up_subject(r)}: {r['reason']}")
    top = res.largest_groups.head(3)
    for r in top.filter(pl.col("images") > 1).iter_rows(named=True):
        reasons = ", ".join(r["reasons"]) or "-"
        print(f"group {r['group']}: {r['images']:,} images ({r['share']:.1%}; {reasons})")
    for note in res.notes:
        print(f"note: {note}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from imgstats.commands.dataset import load_dataset
    from imgstats.split import split

    try:
        ratios = parse_ratios(args.ratios)
        # A coverage axis (--axis lighting) needs every metric, not only the group columns.
        loaded = load_dataset(args.dataset, metrics=GROUP_METRICS if args.axis is None else None)
        df, lab, data_yaml = loaded.frame, loaded.labels, loaded.data_yaml
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.labels:
        from imgstats.commands.report import join_labels

        base = args.dataset if os.path.isdir(args.dataset) else os.path.dirname(args.dataset)
        df = join_labels(df, args.labels, base or ".")
    if args.keep and "split" not in df.columns:
        df = df.with_columns(split_from_folders(df["path"], list(ratios)))
    stratify: str | None = args.stratify
    if stratify == "none":
        stratify = None
    elif stratify is None:
        stratify = "auto"
    groups: Any = None
    if args.group or args.no_near_copies or args.no_sequences or args.no_bursts:
        from imgstats.groups import find_groups

        groups, notes = find_groups(
            df,
            near_copies=not args.no_near_copies,
            sequences=not args.no_sequences,
            bursts=not args.no_bursts,
            group=args.group,
        )
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
    try:
        res = split(
            df,
            ratios,
            stratify=stratify,
            labels=lab,
            axis=args.axis,
            seed=args.seed,
            keep=args.keep,
            groups=groups,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = res.assignment
    if args.output.lower().endswith(".parquet"):
        out.write_parquet(args.output)
    else:
        out.write_csv(args.output)
    print(f"wrote {args.output} ({out.height:,} images, {out['group'].n_unique():,} groups)")
    _summary(res)
    if args.write:
        from imgstats.split_write import write_yolo

        files = write_yolo(out, args.write, data_yaml)
        print("wrote " + ", ".join(str(f) for f in files))
        if data_yaml is None:
            print("note: no data.yaml given as DATASET, so only the image lists were written")
    return 0


def add_parsers(sub: Any) -> None:
    p = sub.add_parser(
        "split",
        help="propose a leak-free, stratified train/val/test split",
        description="Group images that must stay together (near copies, video sequences, "
        "EXIF bursts, your own groups), then split by group so nothing leaks, with class "
        "shares as close to the ratios as the groups allow.",
    )
    p.add_argument("dataset", metavar="DATASET", help="folder, .parquet scan or YOLO data.yaml")
    p.add_argument("--ratios", default="80/10/10", help="80/10/10 (train/val/test), 90/10, ...")
    p.add_argument("-o", "--output", default="split.csv", help="path,group,split (.csv/.parquet)")
    p.add_argument("--labels", help="CSV with a 'path' column (relative to DATASET or absolute)")
    p.add_argument(
        "--stratify",
        help="class column to balance (default: 'class' when present; 'none' to switch off)",
    )
    p.add_argument("--axis", help="also balance a coverage axis (time_of_day, lighting, ...)")
    p.add_argument("--group", help="column of your own groups (site, recording_id, ...)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--keep", help="split whose current images stay fixed, e.g. test")
    p.add_argument("--no-near-copies", action="store_true", help="do not group near copies")
    p.add_argument("--no-sequences", action="store_true", help="do not group frame sequences")
    p.add_argument("--no-bursts", action="store_true", help="do not group EXIF bursts")
    p.add_argument(
        "--write",
        metavar="DIR",
        help="write train.txt/val.txt/test.txt (absolute paths) and, for a data.yaml, a new "
        "data.yaml pointing at them",
    )
    p.set_defaults(func=run)
