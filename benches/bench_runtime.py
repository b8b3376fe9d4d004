"""Runtime figures the tests prove by events but do not time: how soon Ctrl-C ends a scan, and
how long `report()` takes on a million rows.

    .venv/bin/python benches/bench_runtime.py [--repeats 7] [--threads 2]

ctrl-c:  a child process scans 300 hard links of one JPEG of --size pixels (`tests/conftest.py`'s
         `photo_like`, upscaled) with a progress callback; once 3 files are done the parent sends
         SIGINT. Reported: the time from the signal to the child's `except KeyboardInterrupt`
         (both read CLOCK_MONOTONIC; it includes finishing the images in flight, so small images
         show the polling delay itself), and how many files the child read after the signal
         (from /proc/self/io). Median and range over --repeats runs.
report:  `imgstats.report()` on the 1,000,000-row synthetic scan of `tests/test_report.py`
         (13 histograms, coverage, drift, edge cases), median of --repeats runs, and the file size.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

CHILD = textwrap.dedent(
    """
    import json, os, sys, time
    import imgstats

    def rchar():
        with open("/proc/self/io") as f:
            return int(next(l for l in f if l.startswith("rchar:")).split()[1])

    folder, threads = sys.argv[1], int(sys.argv[2])
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    told = []

    def progress(done, total):
        if done >= 3 and not told:
            told.append(rchar())
            print("go", flush=True)  # the parent sends SIGINT now

    try:
        imgstats.scan(paths, threads=threads, progress=progress, batch_size=len(paths))
    except KeyboardInterrupt:
        t = time.monotonic()
        print(json.dumps({"caught": t, "read_after": rchar() - told[0]}), flush=True)
        sys.exit(3)
    print(json.dumps({"caught": None}), flush=True)
    """
)


def ctrl_c(repeats: int, threads: int, size: tuple[int, int]) -> None:
    from conftest import photo_like
    from PIL import Image

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "photo.jpg"
        Image.fromarray(photo_like(750, 1000, seed=2)).resize(size).save(src, quality=90)
        folder = Path(tmp) / "many"
        folder.mkdir()
        for i in range(300):
            os.link(src, folder / f"img{i:05d}.jpg")
        nbytes = src.stat().st_size
        latencies, files_after = [], []
        for _ in range(repeats):
            proc = subprocess.Popen(
                [sys.executable, "-c", CHILD, str(folder), str(threads)],
                stdout=subprocess.PIPE,
                text=True,
            )
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "go"
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            out = json.loads(proc.stdout.readline())
            proc.wait()
            latencies.append(out["caught"] - sent)
            files_after.append(out["read_after"] / nbytes)
    ms = sorted(1000 * x for x in latencies)
    print(
        f"ctrl-c ({threads} threads, {size[0]}x{size[1]} JPEGs): "
        f"SIGINT -> KeyboardInterrupt median {statistics.median(ms):.0f} ms "
        f"(range {ms[0]:.0f}-{ms[-1]:.0f} ms, {repeats} runs); "
        f"files read after the signal: max {max(files_after):.1f}"
    )


def report(repeats: int) -> None:
    from imgstats.report import report as make_report
    from test_report import synthetic_scan

    df = synthetic_scan(1_000_000, seed=7)
    times = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "big.html"
        for _ in range(repeats):
            t = time.perf_counter()
            make_report(df, out, split="split", by="class")
            times.append(time.perf_counter() - t)
        size = out.stat().st_size
    print(
        f"report() on 1,000,000 rows: median {statistics.median(times):.2f} s "
        f"(range {min(times):.2f}-{max(times):.2f} s, {repeats} runs), {size / 1024:.0f} KB"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=["ctrl-c", "report"])
    ap.add_argument("--size", default="1632x1224", help="ctrl-c: image size WxH (default 2 MP)")
    args = ap.parse_args()
    if args.only in (None, "ctrl-c"):
        w, h = (int(v) for v in args.size.split("x"))
        ctrl_c(args.repeats, args.threads, (w, h))
    if args.only in (None, "report"):
        report(args.repeats)


if __name__ == "__main__":
    main()
