"""`imgstats dups`, `imgstats leakage` and `imgstats undo`.

Nothing is ever deleted: `dups` lists the copies to drop, and with ``--move-to`` moves them into
a folder and writes a manifest that `imgstats undo MANIFEST` reverses.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from imgstats.duplicates import DEFAULT_THRESHOLD, dedupe, drop_list, duplicates

MANIFEST_VERSION = 1
#: What `dups` scans: the hash, exact-copy keys, the low-information signals, and sharpness for
#: ``--keep sharpest`` (width/height/file_size for ``largest`` are always in a scan).
DUPS_METRICS = ["phash", "content_hash", "pixel_hash", "entropy", "contrast", "sharpness"]


def add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "dups",
        help="find exact and near-duplicate images and choose which copy to keep",
        description="Group exact copies (same bytes or pixels) and near copies (pHash within "
        "--threshold bits), keep one image per group, and list the others. Nothing is deleted.",
    )
    p.add_argument("sources", nargs="+", help="directories (recursive), globs or files")
    p.add_argument(
        "-o",
        "--output",
        help="write the paths to drop, one per line (.txt), or "
        "the full group table (.csv / .parquet)",
    )
    p.add_argument(
        "--threshold",
        type=int,
        default=DEFAULT_THRESHOLD,
        help=f"pHash Hamming distance in bits (default {DEFAULT_THRESHOLD})",
    )
    p.add_argument(
        "--keep",
        choices=["sharpest", "largest", "first"],
        default="sharpest",
        help="which copy of a group to keep (default: sharpest)",
    )
    p.add_argument(
        "--invariant",
        action="store_true",
        help="also match mirrored / rotated copies (re-reads every image)",
    )
    p.add_argument(
        "--move-to",
        metavar="DIR",
        help="move the copies to drop into DIR (keeping their relative paths) and "
        "write DIR/imgstats-manifest-*.json; `imgstats undo MANIFEST` moves them back",
    )
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=run_dups)

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

    p = sub.add_parser(
        "undo",
        help="move files back as recorded in a manifest written by `dups --move-to`",
    )
    p.add_argument("manifest")
    p.set_defaults(func=run_undo)


def _scan(sources: list[str], threads: int | None) -> pl.DataFrame:
    import imgstats

    frames = []
    for source in sources:
        df = imgstats.scan(source, DUPS_METRICS, threads=threads)
        frames.append(df.collect() if isinstance(df, pl.LazyFrame) else df)
    return pl.concat(frames, how="diagonal_relaxed")


def _write_table(df: pl.DataFrame, path: str) -> None:
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        df.write_parquet(path)
    elif suffix in (".ndjson", ".jsonl"):
        df.write_ndjson(path)
    else:
        df.write_csv(path)


def _destination(src: str, roots: list[Path], target: Path) -> Path:
    """Where a dropped file goes: its path relative to the scanned root it came from, so two
    copies named the same in different folders cannot overwrite each other."""
    p = Path(src).resolve()
    for root in roots:
        try:
            return target / root.name / p.relative_to(root)
        except ValueError:
            continue
    return target / p.relative_to(p.anchor)


def _move(drop: list[str], sources: list[str], target: Path) -> Path:
    roots = [Path(s).resolve() for s in sources if Path(s).is_dir()]
    target.mkdir(parents=True, exist_ok=True)
    moves = []
    for src in drop:
        dst = _destination(src, roots, target)
        if dst.exists():
            raise FileExistsError(f"refusing to overwrite {dst}")
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(src, dst)
        moves.append({"from": str(Path(src).resolve()), "to": str(dst.resolve())})
    stamp = time.strftime("%Y%m%d-%H%M%S")
    manifest = target / f"imgstats-manifest-{stamp}-{os.getpid()}.json"
    manifest.write_text(
        json.dumps({"version": MANIFEST_VERSION, "tool": "imgstats dups", "moves": moves}, indent=1)
    )
    return manifest


def run_dups(args: argparse.Namespace) -> int:
    df = _scan(args.sources, args.threads)
    ok = df.filter(pl.col("error").is_null()) if "error" in df.columns else df
    failed = df.height - ok.height
    groups = duplicates(
        ok, threshold=args.threshold, invariant=args.invariant, threads=args.threads
    )
    kept = dedupe(ok, keep=args.keep, groups=groups)
    drop = drop_list(ok, kept)
    multi = groups.filter(pl.col("group_size") > 1)
    print(
        f"{df.height} files ({failed} unreadable, left alone), "
        f"{multi['group_id'].n_unique()} groups of copies covering {multi.height} images; "
        f"{len(drop)} to drop (keep={args.keep}, threshold={args.threshold})",
        file=sys.stderr,
    )
    if args.output:
        if Path(args.output).suffix.lower() in (".csv", ".parquet", ".ndjson", ".jsonl"):
            table = groups.with_columns(pl.col("path").is_in(drop).not_().alias("keep"))
            _write_table(table, args.output)
        else:
            Path(args.output).write_text("".join(p + "\n" for p in drop))
    elif not args.move_to:
        for p in drop:
            print(p)
    if args.move_to:
        manifest = _move(drop, args.sources, Path(args.move_to))
        print(f"moved {len(drop)} files; undo with: imgstats undo {manifest}", file=sys.stderr)
    return 0


def run_undo(args: argparse.Namespace) -> int:
    data = json.loads(Path(args.manifest).read_text())
    if data.get("version") != MANIFEST_VERSION:
        print(f"unknown manifest version {data.get('version')!r}", file=sys.stderr)
        return 2
    conflicts = [m["from"] for m in data["moves"] if Path(m["from"]).exists()]
    if conflicts:
        print(
            f"refusing to undo: {len(conflicts)} original paths exist again, e.g. {conflicts[0]}",
            file=sys.stderr,
        )
        return 1
    missing = [m["to"] for m in data["moves"] if not Path(m["to"]).exists()]
    if missing:
        print(
            f"refusing to undo: {len(missing)} moved files are gone, e.g. {missing[0]}",
            file=sys.stderr,
        )
        return 1
    for m in data["moves"]:
        Path(m["from"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(m["to"], m["from"])
    print(f"moved {len(data['moves'])} files back", file=sys.stderr)
    return 0


def run_leakage(args: argparse.Namespace) -> int:
    from imgstats.leakage import leakage

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
        _write_table(report.pairs, args.output)
    else:
        with pl.Config(tbl_rows=50, fmt_str_lengths=80):
            print(report.pairs)
    return 0
