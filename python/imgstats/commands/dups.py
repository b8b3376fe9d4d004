"""`imgstats dups` and `imgstats undo`.

Nothing is ever deleted: `dups` lists the copies to drop, and with ``--move-to`` moves them into
a folder and writes a manifest that `imgstats undo MANIFEST` reverses.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

import polars as pl

from imgstats.commands.moves import MoveError, move_files, undo
from imgstats.commands.output import write_table
from imgstats.duplicates import (
    DEFAULT_COLOR_THRESHOLD,
    DEFAULT_DHASH_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
    dedupe,
    drop_list,
    duplicates,
    near_rule,
)
from imgstats.match_rule import RULE_METRICS
from imgstats.scan import scan

#: What `dups` scans: what the match rule reads, and sharpness for ``--keep sharpest``
#: (width/height/file_size for ``largest`` are always in a scan).
DUPS_METRICS = [*RULE_METRICS, "sharpness"]


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "dups",
        help="find exact and near-duplicate images and choose which copy to keep",
        description="Group exact copies (same bytes or pixels) and near copies (pHash, dHash and "
        "a colour signature agreeing), keep one image per group, and list the others. Nothing "
        "is deleted.",
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
        default=None,
        help=f"pHash bits that make a near copy on their own (default {NEAR_PHASH_THRESHOLD}; "
        f"up to {WIDE_PHASH_THRESHOLD} bits when dHash agrees within {DEFAULT_DHASH_THRESHOLD} "
        f"and the colour signature within {DEFAULT_COLOR_THRESHOLD}; see docs/duplicates.md)",
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
        help="also match mirrored / 90°-rotated copies (pHash of each flip and rotation, "
        "computed in the scan)",
    )
    p.add_argument(
        "--crops",
        action="store_true",
        help="also match cropped copies (crop-resistant segment hashes, computed in the scan; "
        "costs a few ms per image, see docs/duplicates.md)",
    )
    p.add_argument(
        "--explain",
        action="store_true",
        help="print every group: each image, why it matched (same_bytes, same_pixels, near, "
        "flip_rotation, crop), the image it matched and the hash and colour distances",
    )
    p.add_argument(
        "--not-duplicates",
        metavar="FILE",
        help="CSV of path pairs (two columns) a person marked as distinct: "
        "they are never put in one group",
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


def _scan(
    sources: list[str], threads: int | None, invariant: bool = False, crops: bool = False
) -> pl.DataFrame:
    # The mirrored / rotated pHashes come from the scan's own DCT (no second decode).
    metrics = DUPS_METRICS + (["phash_dihedral", "dhash_dihedral"] if invariant else [])
    metrics += ["crop_hash"] if crops else []
    frames = [scan(source, metrics, threads=threads) for source in sources]
    return pl.concat(frames, how="diagonal_relaxed")


def run_dups(args: argparse.Namespace) -> int:
    df = _scan(args.sources, args.threads, args.invariant, args.crops)
    ok = df.filter(pl.col("error").is_null()) if "error" in df.columns else df
    failed = df.height - ok.height
    groups = duplicates(
        ok,
        threshold=args.threshold,
        invariant=args.invariant,
        not_duplicates=args.not_duplicates,
        threads=args.threads,
    )
    kept = dedupe(ok, keep=args.keep, groups=groups)
    drop = drop_list(ok, kept)
    multi = groups.filter(pl.col("group_size") > 1)
    print(
        f"{df.height} files ({failed} unreadable, left alone), "
        f"{multi['group_id'].n_unique()} groups of copies covering {multi.height} images; "
        f"{len(drop)} to drop (keep={args.keep}; near copies: "
        f"{near_rule(ok, 'phash', args.threshold, DEFAULT_DHASH_THRESHOLD, None).describe()})",
        file=sys.stderr,
    )
    if args.explain:
        explain(groups, drop, sys.stdout)
    if args.output:
        if Path(args.output).suffix.lower() in (".csv", ".parquet", ".ndjson", ".jsonl"):
            table = groups.with_columns(pl.col("path").is_in(drop).not_().alias("keep"))
            write_table(table, args.output)
        else:
            Path(args.output).write_text("".join(p + "\n" for p in drop))
    elif not args.move_to and not args.explain:
        for p in drop:
            print(p)
    if args.move_to:
        return _move(drop, args.sources, Path(args.move_to))
    return 0


def explain(
    groups: pl.DataFrame,
    drop: list[str],
    out: TextIO,
    color_threshold: int = DEFAULT_COLOR_THRESHOLD,
) -> None:
    """Each group of copies: its images, the reason each one matched and the distances. A near
    link whose colour distance exceeds `color_threshold` passed the colour check as a grayscale
    copy (`imgstats.match_rule`), and says so: otherwise the distance would look like a miss."""
    dist_cols = [c for c in groups.columns if c.endswith("_distance")]
    dropped = set(drop)
    multi = groups.filter(pl.col("group_size") > 1)
    for part in multi.partition_by("group_id", maintain_order=True):
        rep = part["representative"][0]
        out.write(f"group {part['group_id'][0]}: {part.height} images, representative {rep}\n")
        for r in part.iter_rows(named=True):
            dists = ", ".join(
                f"{c.removesuffix('_distance')} {r[c]}" for c in dist_cols if r[c] is not None
            )
            if r.get("crop_segments") is not None:
                dists += f", {r['crop_segments']} regions agree"
            colour = r.get("color_distance")
            if r["match"] in ("near", "flip_rotation") and colour is not None:
                if colour > color_threshold:
                    dists += ", grayscale copy"
            action = "drop" if r["path"] in dropped else "keep"
            out.write(
                f"  {action}  {r['path']}  {r['match']} to {r['matched_path']}"
                + (f" ({dists})" if dists else "")
                + "\n"
            )


def _move(drop: list[str], sources: list[str], target: Path) -> int:
    """`--move-to`: exit 0 when every file moved (or vanished since the scan), 1 otherwise."""
    try:
        res = move_files(drop, sources, target)
    except MoveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"moved {len(res.moved)} files; undo with: imgstats undo {res.manifest}", file=sys.stderr)
    if res.vanished:
        print(
            f"{len(res.vanished)} files vanished since the scan and were skipped, "
            f"e.g. {res.vanished[0]}",
            file=sys.stderr,
        )
    if res.failed:
        path, reason = res.failed[0]
        print(
            f"error: stopped at {path}: {reason}; {len(res.not_tried)} files not tried. "
            "Every file is intact at its original path or at the destination the manifest names.",
            file=sys.stderr,
        )
        return 1
    return 0


def run_undo(args: argparse.Namespace) -> int:
    try:
        n = undo(Path(args.manifest))
    except MoveError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(f"moved {n} files back", file=sys.stderr)
    return 0
