"""Time `imgstats.groups` at 1,000,000 images with every reason active.

Synthetic scan table: 20,000 videos of 50 frames (``/data/vNNNNN/frame_NNNNNN.jpg``) whose
pHashes differ from the video's base hash by one bit, two cameras, random EXIF times over ~30
years (so a few unrelated shots land within the burst window, as in real collections).

Run: ``python benches/bench_groups.py [--images 1000000] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import imgstats
import numpy as np
import polars as pl


def make_scan(n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    vid = np.arange(n) // 50
    base = rng.integers(0, 2**63, vid.max() + 1, dtype=np.int64).astype(np.uint64)
    flips = rng.integers(0, 64, n).astype(np.uint64)
    h = base[vid] ^ ((np.uint64(1) << flips) * (np.arange(n) % 50 > 0))
    return pl.DataFrame(
        {
            "path": [f"/data/v{v:05d}/frame_{i % 50:06d}.jpg" for i, v in enumerate(vid)],
            "phash": pl.Series(h, dtype=pl.UInt64),
            "camera_make": rng.choice(["Canon", "Sony"], n),
            "camera_model": "X",
            "captured_at": pl.Series(
                rng.integers(0, 10**9, n) * 1_000_000, dtype=pl.Datetime("us")
            ),
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    df = make_scan(args.images)
    warnings.simplefilter("ignore")
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        g = imgstats.groups(df)
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    s = imgstats.split(df, groups=g)
    t_split = time.perf_counter() - t0
    print(
        f"{args.images:,} images: groups() median {statistics.median(times):.2f} s "
        f"(runs {', '.join(f'{t:.2f}' for t in times)}); {g['group'].n_unique():,} groups, "
        f"largest {g['group_size'].max()}; split(groups=g) {t_split:.2f} s"
    )
    print(s)


if __name__ == "__main__":
    main()
