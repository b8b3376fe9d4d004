"""Short parallel calls with and without pinned workers (`src/pool.rs`).

    .venv/bin/python benches/bench_pinning.py [--repeats 3] [--calls 21]

Each repeat starts two fresh processes in turn, one as a user gets it (the default pool, one
worker per allowed CPU, pinned one to a CPU) and one with ``IMGSTATS_PIN_THREADS=0``. Each process
makes `--calls` ``imgstats.near_pairs(h, k=8)`` calls on the FAISS bench's hash sets (20,000
realistic, 100,000 uniform: ``bench_neighbors.make``), sleeping 50 ms before each so the workers
are idle when the call starts, as between a user's calls. Reported per process: the median wall
time of a call, its CPU time (all threads) and the time its threads spent runnable but waiting
for a CPU (Linux schedstat), then the medians over the repeats.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

CHILD = """
import json, os, statistics, sys, time
sys.path.insert(0, sys.argv[1])
from bench_neighbors import make, sched_ms
import imgstats

out = {}
for kind, n in (("realistic", 20_000), ("uniform", 100_000)):
    h = make(kind, n, 1)
    imgstats.near_pairs(h, k=8)  # builds the pool (the default: one worker per allowed CPU)
    walls, cpus, waits = [], [], []
    for _ in range(int(sys.argv[2])):
        time.sleep(0.05)
        run0, wait0 = sched_ms()
        t0, c0 = time.perf_counter(), time.process_time()
        imgstats.near_pairs(h, k=8)
        walls.append((time.perf_counter() - t0) * 1e3)
        cpus.append((time.process_time() - c0) * 1e3)
        waits.append(sched_ms()[1] - wait0)
    out[f"{kind} {n:,}"] = [statistics.median(x) for x in (walls, cpus, waits)]
print(json.dumps(out))
"""


def child(pinned: bool, calls: int) -> dict[str, list[float]]:
    env = {k: v for k, v in os.environ.items() if k != "IMGSTATS_PIN_THREADS"}
    if not pinned:
        env["IMGSTATS_PIN_THREADS"] = "0"
    here = str(Path(__file__).resolve().parent)
    out = subprocess.run(
        [sys.executable, "-c", CHILD, here, str(calls)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout
    return dict(json.loads(out.splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--calls", type=int, default=21)
    args = ap.parse_args()
    runs: dict[bool, list[dict[str, list[float]]]] = {True: [], False: []}
    for _ in range(args.repeats):
        for pinned in (True, False):
            runs[pinned].append(child(pinned, args.calls))
    cpu = "unknown CPU"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        cpu = next(x.split(":", 1)[1].strip() for x in out.splitlines() if "Model name" in x)
    except (OSError, StopIteration):
        pass
    print(f"{cpu}, {len(os.sched_getaffinity(0))} CPUs, near_pairs k = 8, {args.calls} calls")
    print("(medians per process; runs in brackets)\n")
    print("| hashes | workers | wall ms | CPU ms | run-queue wait ms |")
    print("|---|---|---|---|---|")
    for case in runs[True][0]:
        for pinned in (True, False):
            cols = []
            for m in range(3):
                xs = [r[case][m] for r in runs[pinned]]
                each = ", ".join(f"{x:.1f}" for x in xs)
                cols.append(f"{statistics.median(xs):.1f} ({each})")
            label = "pinned (default)" if pinned else "IMGSTATS_PIN_THREADS=0"
            print(f"| {case} | {label} | " + " | ".join(cols) + " |")


if __name__ == "__main__":
    main()
