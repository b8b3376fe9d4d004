"""Is a scan bit-identical to a reference scan? For speed work on the scan: every column, every
row, floats compared by their bits (NaN and -0.0 included), nulls where the reference has them.

    # with the reference build (e.g. main) first on PYTHONPATH:
    python benches/compare_scan.py --write /tmp/ref-mnist.parquet benches/.data/fashion-mnist-png
    # then with the changed build:
    python benches/compare_scan.py --against /tmp/ref-mnist.parquet benches/.data/fashion-mnist-png

Exits 1 and names the first differing column and rows when the scans differ.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import polars as pl


def differences(got: pl.DataFrame, want: pl.DataFrame) -> list[str]:
    """Human-readable differences between two scans (empty: bit-identical)."""
    if got.columns != want.columns:
        return [f"columns differ: {got.columns} vs {want.columns}"]
    if got.schema != want.schema:
        return [f"schema differs: {got.schema} vs {want.schema}"]
    if got.height != want.height:
        return [f"row count differs: {got.height} vs {want.height}"]
    out = []
    for name in got.columns:
        a, b = got.get_column(name), want.get_column(name)
        nulls = (a.is_null() != b.is_null()).to_numpy()
        if a.dtype.is_float():
            bits = np.uint64 if a.dtype == pl.Float64 else np.uint32
            # Fill nulls with the same value on both sides; the null masks are compared above.
            av = a.fill_null(0).to_numpy().view(bits)
            bv = b.fill_null(0).to_numpy().view(bits)
            values = av != bv
        else:
            values = (a != b).fill_null(False).to_numpy()
        bad = np.flatnonzero(nulls | values)
        if bad.size:
            rows = ", ".join(
                f"{got['path'][int(i)]}: {a[int(i)]!r} vs {b[int(i)]!r}" for i in bad[:3]
            )
            out.append(f"{name}: {bad.size} rows differ ({rows})")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="folder (or anything imgstats.scan accepts)")
    group = ap.add_mutually_exclusive_group(required=True)
    group.add_argument("--write", help="scan and save the reference here (.parquet)")
    group.add_argument("--against", help="scan and compare with this reference (.parquet)")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    import imgstats

    df = imgstats.scan(args.source, threads=args.threads)
    if args.write:
        df.write_parquet(args.write)
        print(f"{df.height} rows written to {args.write} by {imgstats.__file__}")
        return
    diffs = differences(df, pl.read_parquet(args.against))
    for d in diffs:
        print(d)
    if diffs:
        sys.exit(1)
    print(f"bit-identical: {df.height} rows x {df.width} columns ({imgstats.__file__})")


if __name__ == "__main__":
    main()
