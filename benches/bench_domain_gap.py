"""Time `imgstats.domain_gap` on N reference vs N current synthetic scan rows (not a test).

``python benches/bench_domain_gap.py [N] [REPEATS]`` (default 100,000 and 3). Rows mimic a scan:
the default statistic columns plus the weather columns, with 5 % nulls, and a small shift in
``haze`` and ``brightness`` for the current frame, so the classifier has something to find.
Prints the median wall time of REPEATS runs, the AUC and the CPU.
"""

from __future__ import annotations

import platform
import statistics
import subprocess
import sys
import time

import imgstats
import numpy as np
import polars as pl


def frame(n: int, shift: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    cols = {
        "path": [f"{seed}/{i}.jpg" for i in range(n)],
        "brightness": rng.normal(120 + 5 * shift, 30, n),
        "contrast": rng.normal(45, 12, n),
        "dark_fraction": rng.beta(1, 20, n),
        "bright_fraction": rng.beta(1, 30, n),
        "sharpness": rng.lognormal(5.5, 1.0, n),
        "noise": rng.lognormal(0.0, 0.6, n),
        "entropy": rng.normal(7.2, 0.4, n),
        "colorfulness": rng.normal(40, 15, n),
        "width": rng.choice([1920, 4032, 1280], n).astype(np.float64),
        "height": rng.choice([1080, 3024, 720], n).astype(np.float64),
        "haze": rng.beta(2, 8, n) + 0.05 * shift,
        "saturation": rng.beta(3, 5, n),
        "warmth": rng.normal(5, 15, n),
        "tint": rng.normal(1, 8, n),
        "motion_blur": rng.beta(2, 6, n),
    }
    df = pl.DataFrame(cols)
    mask = rng.random(n) < 0.05
    return df.with_columns(
        pl.when(pl.lit(pl.Series(mask))).then(None).otherwise(pl.col("haze")).alias("haze")
    )


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    ref, cur = frame(n, 0.0, 1), frame(n, 1.0, 2)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        gap = imgstats.domain_gap(ref, cur)
        times.append(time.perf_counter() - t)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next(
        (ln.split(":", 1)[1].strip() for ln in cpu.splitlines() if "Model name" in ln),
        platform.processor(),
    )
    print(
        f"{n:,} vs {n:,} rows, {len(gap.columns)} features: "
        f"median {statistics.median(times):.1f} s over {repeats} runs "
        f"({', '.join(f'{x:.1f}' for x in times)}); CPU {model}"
    )
    print(gap.summary())


if __name__ == "__main__":
    main()
