"""Benchmark `imgstats.results` (matching) and `imgstats.slices` at 1,000,000 objects x 20 axes.

A synthetic dataset: ``--images`` images (default 100,000) with 10 objects each on average, a
scan-like frame with the columns of 7 built-in image axes plus 8 user columns, 5 object-level
columns, and a model that finds each object with a probability that depends on two axes. Prints
the median of ``--repeat`` runs of each step.

    PYTHONPATH=python python benches/bench_slices.py --images 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from imgstats.buckets import BUILTIN_AXES
from imgstats.results import results
from imgstats.slices import slices

#: 7 built-in image axes + 8 user columns here, + 5 object axes found in the objects = 20.
AXES = [*BUILTIN_AXES, *(f"user{j}" for j in range(8))]


@dataclass
class Labels:
    images: pl.DataFrame
    boxes: pl.DataFrame
    names: list[str] = field(default_factory=lambda: [f"c{i}" for i in range(10)])


def dataset(n_img: int, seed: int = 0) -> tuple[pl.DataFrame, Labels, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    paths = [f"/data/img{i:07d}.jpg" for i in range(n_img)]
    df = pl.DataFrame(
        {
            "path": paths,
            "brightness": rng.uniform(0, 255, n_img),
            "dark_fraction": rng.uniform(0, 0.3, n_img),
            "bright_fraction": rng.uniform(0, 0.1, n_img),
            "sharpness": rng.lognormal(4, 1.5, n_img),
            "noise": rng.uniform(0, 12, n_img),
            "width": rng.choice([640, 1280, 1920, 4000], n_img),
            "height": rng.choice([480, 720, 1080, 3000], n_img),
            "captured_at": pl.Series(rng.integers(0, 86400 * 365, n_img) * 1_000_000).cast(
                pl.Datetime("us")
            ),
            **{f"user{j}": rng.choice([f"v{k}" for k in range(2 + j)], n_img) for j in range(8)},
        }
    )
    per = rng.poisson(10, n_img)
    n_obj = int(per.sum())
    img = np.repeat(np.arange(n_img), per)
    slot = np.concatenate([np.arange(k) for k in per])
    x0 = (slot % 8) * 80.0 + rng.uniform(0, 10, n_obj)
    y0 = (slot // 8) * 80.0 + rng.uniform(0, 10, n_obj)
    w, h = rng.uniform(10, 60, n_obj), rng.uniform(10, 60, n_obj)
    cls = rng.integers(0, 10, n_obj)
    boxes = pl.DataFrame(
        {
            "path": pl.Series(paths).gather(img),
            "class_id": cls,
            "class": pl.Series([f"c{i}" for i in range(10)]).gather(cls),
            "x0": x0,
            "y0": y0,
            "x1": x0 + w,
            "y1": y0 + h,
            "object_size": rng.choice(["small", "medium", "large"], n_obj),
            "occlusion": rng.choice(["none", "partial", "heavy"], n_obj),
            "truncation": rng.choice(["none", "truncated"], n_obj),
            "crowding": rng.choice(["alone", "crowded"], n_obj),
        }
    )
    dark = (df["brightness"].to_numpy() < 40)[img]
    p = np.where(dark, 0.5, 0.85) - 0.3 * (boxes["object_size"] == "small").to_numpy()
    hit = rng.random(n_obj) < p
    j = rng.normal(0, 1.5, (n_obj, 4))
    preds = boxes.filter(pl.Series(hit)).select(
        "path",
        "class_id",
        pl.col("x0") + pl.Series(j[hit, 0]),
        pl.col("y0") + pl.Series(j[hit, 1]),
        pl.col("x1") + pl.Series(j[hit, 2]),
        pl.col("y1") + pl.Series(j[hit, 3]),
        pl.Series("score", rng.uniform(0.25, 1, int(hit.sum()))),
    )
    images = pl.DataFrame(
        {"path": paths, "status": ["labelled"] * n_img, "width": [640] * n_img}
    ).with_columns(pl.col("width").alias("height"))
    return df, Labels(images, boxes), preds


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--images", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    df, lab, preds = dataset(args.images)
    print(f"{args.images:,} images, {lab.boxes.height:,} objects, {preds.height:,} predictions")
    t_res, res = timed(lambda: results(preds, lab), args.repeat)
    print(f"results (matching):            {t_res:6.2f} s   {res}")
    for pairs in (False, True):
        t_sl, sl = timed(lambda p=pairs: slices(df, res, axes=AXES, pairs=p), args.repeat)
        print(
            f"slices recall, pairs={pairs!s:5}: {t_sl:6.2f} s   {len(sl.axes)} axes, "
            f"{sl.table.height:,} slices, {sl.flagged.height} flagged, "
            f"{int(sl.table['primary'].sum())} primary"
        )
    t_tl, pick = timed(lambda: sl.to_label(n=200), args.repeat)
    print(f"to_label(200):                 {t_tl:6.2f} s   {pick.height} images")


if __name__ == "__main__":
    main()
