"""Before/after for the small-file target: `imgstats.scan(folder)` in fresh processes from two or
more builds (Python trees with their compiled extension), alternated with the Pillow pool in one
run, so a change of load on a shared machine hits every case alike.

    python benches/bench_fresh_ab.py --repeats 7 main=/work/main/python branch=$PWD/python

Each case is `bench_scan.py`'s `imgstats-fresh` (interpreter start, import, walk, scan, frame)
with PYTHONPATH set to that tree; `pillow` is `pillow-fresh` (a 2-process pool decoding the same
files). Prints wall and CPU seconds (user + system, pool children included): medians, ranges,
and each case's ratios to Pillow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_scan  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("trees", nargs="+", help="NAME=PYTHON_TREE (the directory holding imgstats/)")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    trees = dict(t.split("=", 1) for t in args.trees)
    files = bench_scan.mnist_files()
    list_file = Path(tempfile.mkstemp(prefix="imgstats-ab-", suffix=".txt")[1])
    list_file.write_text("\n".join(files) + "\n")
    runs: dict[str, list[dict]] = {name: [] for name in [*trees, "pillow"]}
    env = os.environ.get("PYTHONPATH")
    try:
        for _ in range(args.repeats):
            for name in runs:
                if name in trees:
                    os.environ["PYTHONPATH"] = trees[name]
                case = "pillow-fresh" if name == "pillow" else "imgstats-fresh"
                runs[name].append(bench_scan.fresh_once(case, files, list_file, args.threads))
    finally:
        list_file.unlink()
        if env is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = env
    wall = {n: statistics.median(r["seconds"] for r in rs) for n, rs in runs.items()}
    cpu = {n: statistics.median(r["cpu_seconds"] for r in rs) for n, rs in runs.items()}
    print(f"{len(files)} files, {args.threads} threads, median of {args.repeats}")
    for name, rs in runs.items():
        w = [r["seconds"] for r in rs]
        c = [r["cpu_seconds"] for r in rs]
        print(
            f"  {name:10s} wall {wall[name]:6.3f} s ({min(w):.2f}-{max(w):.2f})"
            f"  cpu {cpu[name]:6.3f} s ({min(c):.2f}-{max(c):.2f})"
            f"  / pillow: wall {wall[name] / wall['pillow']:.2f}"
            f" cpu {cpu[name] / cpu['pillow']:.2f}"
        )


if __name__ == "__main__":
    main()
