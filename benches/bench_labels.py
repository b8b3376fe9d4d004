"""Benchmark `imgstats.labels` on a generated YOLO dataset (default: 200,000 label files with
1,000,000 boxes), reporting wall seconds and peak RSS, medians of several runs.

Each run is a fresh Python process (peak RSS is per process). Images are one small JPEG's bytes
written under every name (sizes come from the headers; the pixels do not matter here). CPU seconds
are reported beside wall seconds because a shared machine's wall time mostly measures the others.
`--data data.yaml` reads an existing dataset instead of generating one.

    python benches/bench_labels.py [--images 200000] [--boxes-per-image 5] [--runs 3] [--dir D]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_dataset(root: str, n_images: int, per_image: int, seed: int = 0) -> str:
    from PIL import Image

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(buf, "JPEG")
    jpeg = buf.getvalue()
    for split in ("train", "val"):
        os.makedirs(f"{root}/images/{split}")
        os.makedirs(f"{root}/labels/{split}")
    n_train = int(n_images * 0.8)
    cx = rng.uniform(0.1, 0.9, (n_images, per_image))
    cy = rng.uniform(0.1, 0.9, (n_images, per_image))
    wh = rng.uniform(0.02, 0.2, (n_images, per_image, 2))
    cls = rng.integers(0, 80, (n_images, per_image))
    for i in range(n_images):
        split = "train" if i < n_train else "val"
        with open(f"{root}/images/{split}/{i:07d}.jpg", "wb") as f:
            f.write(jpeg)
        lines = "".join(
            f"{cls[i, j]} {cx[i, j]:.6f} {cy[i, j]:.6f} {wh[i, j, 0]:.6f} {wh[i, j, 1]:.6f}\n"
            for j in range(per_image)
        )
        with open(f"{root}/labels/{split}/{i:07d}.txt", "w") as f:
            f.write(lines)
    names = "\n".join(f"  {k}: c{k}" for k in range(80))
    with open(f"{root}/data.yaml", "w") as f:
        f.write(f"path: .\ntrain: images/train\nval: images/val\nnames:\n{names}\n")
    return f"{root}/data.yaml"


CHILD = """
import json, os, resource, sys, time
import imgstats
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
load = os.getloadavg()[0]
t, c = time.perf_counter(), cpu()
lab = imgstats.labels(sys.argv[1])
elapsed, used = time.perf_counter() - t, cpu() - c
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": elapsed, "cpu_seconds": used, "peak_rss_mb": rss,
                  "load_before": load, "boxes": lab.boxes.height,
                  "images": lab.images.height, "problems": lab.problems.height}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=200_000)
    ap.add_argument("--boxes-per-image", type=int, default=5)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None, help="where to generate (default: the temp dir)")
    ap.add_argument("--data", default=None, help="an existing data.yaml to read instead")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-labels-", dir=args.dir) as root:
        if args.data:
            data = args.data
        else:
            t = time.perf_counter()
            data = make_dataset(root, args.images, args.boxes_per_image)
            took = time.perf_counter() - t
            print(f"generated {args.images:,} images / label files in {took:.1f} s")
        runs = []
        for _ in range(args.runs):
            out = subprocess.run(
                [sys.executable, "-c", CHILD, data], capture_output=True, text=True, check=True
            )
            runs.append(json.loads(out.stdout))
            print(runs[-1])
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    sec = statistics.median(r["seconds"] for r in runs)
    cpu_s = statistics.median(r["cpu_seconds"] for r in runs)
    load = statistics.median(r["load_before"] for r in runs)
    rss = statistics.median(r["peak_rss_mb"] for r in runs)
    print(
        f"imgstats.labels: {runs[0]['boxes']:,} boxes in {runs[0]['images']:,} images: "
        f"median {sec:.2f} s wall, {cpu_s:.2f} s CPU (user+sys, all threads), peak RSS "
        f"{rss:.0f} MB ({args.runs} runs, {cpu}, {os.cpu_count()} CPUs, load average "
        f"{load:.1f} before the runs)"
    )


if __name__ == "__main__":
    main()
