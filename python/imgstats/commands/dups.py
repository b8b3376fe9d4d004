"""`imgstats dups` and `imgstats undo`.

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

from imgstats.commands.output import write_table
from imgstats.duplicates import DEFAULT_THRESHOLD, dedupe, drop_list, duplicates
from imgstats.scan import scan

MANIFEST_VERSION = 1
#: What `dups` scans: the hash, exact-copy keys, the low-information signals, and sharpness for
#: ``--keep sharpest`` (width/height/file_size for ``largest`` are always in a scan).
DUPS_METRICS = ["phash", "content_hash", "pixel_hash", "entropy", "contrast", "sharpness"]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        "undo",
        help="move files back as recorded in a manifest written by `dups --move-to`",
    )
    p.add_argument("manifest")
    p.set_defaults(func=run_undo)


def _scan(sources: list[str], threads: int | None) -> pl.DataFrame:
    frames = [scan(source, DUPS_METRICS, threads=threads) for source in sources]
    return pl.concat(frames, how="diagonal_relaxed")


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
            write_table(table, args.output)
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
