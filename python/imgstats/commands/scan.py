"""`imgstats scan`: measure a folder, write the table, print a short audit."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import cast

import polars as pl

from imgstats.scan import DEFAULT_MAX_PIXELS, METRICS, scan


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "scan",
        help="per-image statistics and hashes for a folder, glob or files",
        description="Measure every image (one decode each) and write one row per file, "
        "failures included. Without -o, prints an audit summary and the table.",
    )
    p.add_argument("sources", nargs="+", help="directories (recursive), globs or files")
    p.add_argument("-o", "--output", help="write the table: .parquet (streamed), .csv or .ndjson")
    p.add_argument(
        "--metrics",
        help=f"comma-separated subset of: {','.join(METRICS)} (default: all but crop_hash)",
    )
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: all CPUs)")
    p.add_argument(
        "--analysis-size",
        type=int,
        default=None,
        help="compute blur and noise at this long side in pixels (default: native resolution)",
    )
    p.add_argument("--max-pixels", type=int, default=DEFAULT_MAX_PIXELS)
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress line on stderr (default: only when stderr is a terminal)",
    )
    p.add_argument(
        "--incremental",
        action="store_true",
        help="with -o x.parquet: decode only files that are new or changed since x.parquet was "
        "written (same path, size and mtime are reused); deleted files are dropped",
    )
    p.add_argument(
        "--column",
        help="image column of Parquet sources (default: 'image' or the only binary column)",
    )
    p.set_defaults(func=run)


OUTPUT_TYPES = (".parquet", ".csv", ".ndjson", ".jsonl")


def run(args: argparse.Namespace) -> int:
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    # Check the arguments before the scan: a typo must not cost an hour of decoding.
    unknown = sorted(set(metrics or ()) - set(METRICS))
    if unknown:
        known = ",".join(METRICS)
        return _usage_error(f"unknown metrics {', '.join(unknown)}; choose from {known}")
    if args.output and Path(args.output).suffix not in OUTPUT_TYPES:
        return _usage_error(
            f"unsupported output type {Path(args.output).suffix!r}: use {', '.join(OUTPUT_TYPES)}"
        )
    if args.incremental and (not args.output or Path(args.output).suffix != ".parquet"):
        return _usage_error("--incremental needs -o/--output with a .parquet file")
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    sources: list[str] = args.sources
    start = time.monotonic()
    out = Path(args.output) if args.output else None
    kwargs = dict(
        metrics=metrics,
        threads=args.threads,
        analysis_size=args.analysis_size,
        max_pixels=args.max_pixels,
        progress=progress,
    )
    if args.column:
        kwargs["column"] = args.column
    decoded: list[int] = []  # files actually decoded, when --incremental without a progress bar
    if args.incremental and not progress:
        kwargs["progress"] = lambda done, total: decoded.append(total)
    if out is not None and out.suffix == ".parquet":
        df = scan(sources, output=out, incremental=args.incremental, **kwargs).collect()
    else:
        df = scan(sources, **kwargs)
        if out is not None:
            write_table(df, out)
    elapsed = time.monotonic() - start
    print(summary(df, elapsed))
    if out is None:
        with pl.Config(tbl_rows=40, tbl_cols=12, fmt_str_lengths=48, tbl_width_chars=160):
            print(_display(df))
    else:
        print(f"wrote {len(df):,} rows to {out}")
        if decoded:
            print(f"decoded {decoded[-1]:,} of {len(df):,} files (the others were unchanged)")
    return 0


def _usage_error(message: str) -> int:
    print(f"imgstats scan: error: {message}", file=sys.stderr)
    return 2


def write_table(df: pl.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        # CSV has no unsigned 64-bit hashes convention: write them as imagehash hex strings.
        hashes = [c for c in ("phash", "dhash", "ahash", "pixel_hash") if c in df.columns]
        df.with_columns(
            pl.col(c).map_elements(_hex, return_dtype=pl.String) for c in hashes
        ).write_csv(out)
    elif out.suffix in (".ndjson", ".jsonl"):
        df.write_ndjson(out)
    else:
        raise SystemExit(f"unsupported output type {out.suffix!r}: use .parquet, .csv or .ndjson")


def _hex(v: int | None) -> str | None:
    return None if v is None else f"{v:016x}"


def summary(df: pl.DataFrame, elapsed: float) -> str:
    n = len(df)
    failed = df.filter(pl.col("error").is_not_null())
    ok = df.filter(pl.col("error").is_null())
    lines = [
        f"imgstats: {n:,} files in {elapsed:.2f} s ({n / max(elapsed, 1e-9):,.0f} files/s), "
        f"{len(failed):,} failed"
    ]
    if len(ok):
        fmts = ok.group_by("format").len().sort("len", descending=True)
        parts = [f"{r['format']} {r['len']}" for r in fmts.iter_rows(named=True)]
        lines.append("  formats: " + ", ".join(parts))
        lines.append("  " + _size_line(ok))
        for col, label in (
            ("brightness", "brightness"),
            ("blur", "blur (var. of Laplacian)"),
            ("noise", "noise σ"),
        ):
            if col in ok.columns:
                s = ok[col].drop_nulls()
                if len(s):
                    lines.append(
                        f"  {label}: median {_median(s):.1f}, 5%–95% "
                        f"{s.quantile(0.05):.1f}–{s.quantile(0.95):.1f}"
                    )
    lines.extend(_audit_lines(df))
    for row in failed.head(10).iter_rows(named=True):
        lines.append(f"  FAILED {row['path']}: {row['error']}")
    if len(failed) > 10:
        lines.append(f"  ... and {len(failed) - 10:,} more failures")
    return "\n".join(lines)


def _audit_lines(df: pl.DataFrame) -> list[str]:
    """Duplicates and edge cases, when the columns they need were measured."""
    lines: list[str] = []
    try:
        from imgstats.duplicates import duplicates

        if "phash" in df.columns:
            groups = duplicates(df)
            multi = groups.filter(pl.col("group_size") > 1)
            if len(multi):
                n_groups = multi["group_id"].n_unique()
                extra = len(multi) - n_groups
                lines.append(
                    f"  near-duplicates: {n_groups:,} groups holding {len(multi):,} images "
                    f"({extra:,} redundant)"
                )
            else:
                lines.append("  near-duplicates: none")
    except NotImplementedError:
        pass
    try:
        from imgstats.edge_cases import edge_cases

        edge = edge_cases(df)
        if len(edge):
            counts: dict[str, int] = {}
            for reasons in edge["reasons"].to_list():
                for r in reasons:
                    counts[r] = counts.get(r, 0) + 1
            lines.append(
                "  edge cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            )
    except NotImplementedError:
        pass
    return lines


def _display(df: pl.DataFrame) -> pl.DataFrame:
    cols = [
        c
        for c in (
            "path",
            "error",
            "format",
            "width",
            "height",
            "brightness",
            "contrast",
            "blur",
            "noise",
            "entropy",
            "colorfulness",
            "phash",
        )
        if c in df.columns
    ]
    out = df.select(cols)
    if "phash" in out.columns:
        out = out.with_columns(pl.col("phash").map_elements(_hex, return_dtype=pl.String))
    return out.with_columns(pl.col("path").str.split("/").list.last())


def _size_line(ok: pl.DataFrame) -> str:
    """Most common width×height and the median megapixels: small datasets have one size."""
    sizes = ok.group_by("width", "height").len().sort("len", "width", "height", descending=True)
    w, h, n = sizes.row(0)
    mp = _median(ok["width"].cast(pl.Float64) * ok["height"].cast(pl.Float64) / 1e6)
    mp_text = f"{mp:.2f}" if mp >= 0.01 else f"{mp:.4f}"
    return (
        f"sizes: {sizes.height:,} distinct, most common {w}×{h} ({100 * n / len(ok):.0f} %),"
        f" median {mp_text} MP"
    )


def _median(values: pl.Series) -> float:
    """The median of a numeric Series (polars types a median as any Python value)."""
    return cast(float, values.median())
