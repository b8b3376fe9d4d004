"""What an incremental re-scan costs, against listing the folder and against a full scan.

Corpus: the 70,000 Fashion-MNIST images as PNG files (train + test, written once under
benches/.data/ by bench_scan.py's `mnist_files`; needs `apt-get install dataset-fashion-mnist`).

Cases (median of --repeats runs each, all in this process after one warm-up, --threads threads):
  list            the directory walk `scan` does (imgstats.scan._resolve)
  list+stat       the walk plus one os.stat per file (what an incremental scan must do at least)
  full            scan(folder, output=, incremental=True) into a fresh output
  unchanged       the same call again: nothing new, nothing decoded
  +1% new         700 new PNGs added to the folder, scan again from a copy of the full output

Run: python benches/bench_incremental.py [--repeats 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_scan import DATA, mnist_files  # noqa: E402


def timed(
    fn: Callable[[], object], repeats: int, before: Callable[[], object] | None = None
) -> float:
    times = []
    for _ in range(repeats):
        if before is not None:
            before()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import numpy as np
    from imgstats import incremental
    from imgstats.scan import IMAGE_EXTENSIONS, _resolve, scan
    from PIL import Image

    files = mnist_files()
    folder = DATA / "fashion-mnist-png"
    n = len(files)
    work = Path(tempfile.mkdtemp(prefix="imgstats-bench-incr-"))
    new_dir = folder / "new"
    shutil.rmtree(new_dir, ignore_errors=True)
    try:
        out = work / "stats.parquet"

        def full() -> None:
            scan(folder, output=out, incremental=True, threads=args.threads).collect()

        def fresh_output() -> None:
            out.unlink(missing_ok=True)

        def listing() -> None:
            _resolve(folder, IMAGE_EXTENSIONS)

        def list_stat() -> None:
            paths, _ = _resolve(folder, IMAGE_EXTENSIONS)
            incremental.stat_files(paths)

        listing()  # warm the directory cache: every case below reads a warm tree
        t_list = timed(listing, args.repeats)
        t_stat = timed(list_stat, args.repeats)
        t_full = timed(full, max(3, args.repeats // 2), before=fresh_output)
        full()
        t_same = timed(full, args.repeats)

        n_new = n // 100
        rng = np.random.default_rng(0)
        base = work / "base.parquet"
        shutil.copy(out, base)
        added = work / "added.parquet"

        def add_new() -> None:
            shutil.rmtree(new_dir, ignore_errors=True)
            new_dir.mkdir()
            for i in range(n_new):
                img = rng.integers(0, 256, (28, 28), dtype=np.uint8)
                Image.fromarray(img).save(new_dir / f"{i:05d}.png")
            shutil.copy(base, added)
            subprocess.run(["sync"], check=False)

        def scan_added() -> None:
            scan(folder, output=added, incremental=True, threads=args.threads).collect()

        t_new = timed(scan_added, max(3, args.repeats // 2), before=add_new)
    finally:
        shutil.rmtree(new_dir, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)

    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in open("/proc/cpuinfo")
            if ln.startswith("model name")
        ),
        "?",
    )
    print(f"{n:,} Fashion-MNIST PNGs, {args.threads} threads, {cpu}, medians of {args.repeats}")
    rows = [
        ("list", t_list, ""),
        ("list+stat", t_stat, ""),
        ("full", t_full, f"{n / t_full:,.0f} files/s"),
        (
            "unchanged",
            t_same,
            f"{t_same / t_list:.1f}x list, {100 * t_same / t_full:.1f} % of full",
        ),
        (
            f"+1% new ({n_new})",
            t_new,
            f"{100 * t_new / t_full:.1f} % of full, "
            f"{(t_new - t_same) / t_full * 100:.1f} % of full above unchanged",
        ),
    ]
    for name, t, note in rows:
        print(f"  {name:<18} {t:8.3f} s   {note}")
    print(f"(python {sys.version.split()[0]}, pid {os.getpid()})")


if __name__ == "__main__":
    main()
