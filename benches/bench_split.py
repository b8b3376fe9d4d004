"""`imgstats.split` against scikit-learn's `StratifiedGroupKFold` on the same grouped data.

Synthetic but shaped like real captures: groups (videos / bursts) of log-normally distributed
size, each with a dominant class drawn from a Zipf-like class distribution plus some frames of
other classes. Both methods get the same groups and classes; scikit-learn's 80/10/10 split is
fold 0 = test, fold 1 = val, the other eight folds = train (``n_splits=10``, shuffled, seeded).

Quality: for every class c and split s, ``|share of c's images in s - ratio of s|``; the table
gives the max and the mean over (class, split), and the split sizes. Lower is better.

Run: ``python benches/bench_split.py [--sizes 10000,100000,1000000] [--sklearn-max 100000]``
(``pip install -e .[test]`` brings scikit-learn).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import polars as pl
from imgstats.split import split

RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


def make_data(n: int, n_classes: int = 20, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, rng.lognormal(1.2, 1.0, n).astype(np.int64))
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    sizes = sizes[sizes > 0]
    group = np.repeat(np.arange(len(sizes)), sizes)
    p = 1.0 / np.arange(1, n_classes + 1) ** 1.1
    dominant = rng.choice(n_classes, len(sizes), p=p / p.sum())[group]
    other = rng.choice(n_classes, n, p=p / p.sum())
    cls = np.where(rng.random(n) < 0.85, dominant, other)
    return pl.DataFrame(
        {
            "path": [f"img{i:07d}.jpg" for i in range(n)],
            "class": [f"c{c:02d}" for c in cls],
            "recording": group,
        }
    )


def deviation(df: pl.DataFrame, split_col: pl.Series) -> tuple[float, float, str]:
    t = df.select("class").with_columns(split_col.alias("split"))
    shares = (
        t.group_by("class", "split")
        .len()
        .with_columns((pl.col("len") / pl.col("len").sum().over("class")).alias("share"))
    )
    grid = (
        pl.DataFrame({"split": list(RATIOS)})
        .join(t.select("class").unique(), how="cross")
        .join(shares, on=["class", "split"], how="left")
        .with_columns(pl.col("share").fill_null(0.0))
        .with_columns(
            (pl.col("share") - pl.col("split").replace_strict(RATIOS, return_dtype=pl.Float64))
            .abs()
            .alias("dev")
        )
    )
    sizes = t.group_by("split").len()
    size_txt = "/".join(
        f"{sizes.filter(pl.col('split') == s)['len'].sum() / t.height:.1%}" for s in RATIOS
    )
    return float(grid["dev"].max()), float(grid["dev"].mean()), size_txt


def run_imgstats(df: pl.DataFrame, seed: int) -> pl.Series:
    res = split(df, RATIOS, stratify="class", seed=seed, groups="recording")
    return res.assignment["split"]


def run_sklearn(df: pl.DataFrame, seed: int) -> pl.Series:
    from sklearn.model_selection import StratifiedGroupKFold

    cv = StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
    y = df["class"].to_numpy()
    groups = df["recording"].to_numpy()
    out = np.full(df.height, "train", dtype=object)
    for fold, (_, test_idx) in enumerate(cv.split(np.zeros(df.height), y, groups)):
        if fold == 0:
            out[test_idx] = "test"
        elif fold == 1:
            out[test_idx] = "val"
    return pl.Series(out.astype(str))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--sklearn-max", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rows = []
    for n in (int(s) for s in args.sizes.split(",")):
        df = make_data(n)
        groups = df["recording"].n_unique()
        for name, fn in (("imgstats.split", run_imgstats), ("sklearn SGKF", run_sklearn)):
            if name.startswith("sklearn") and n > args.sklearn_max:
                continue
            times, devs = [], []
            for seed in range(args.repeats):
                t0 = time.perf_counter()
                assigned = fn(df, seed)
                times.append(time.perf_counter() - t0)
                devs.append(deviation(df, assigned))
            rows.append(
                {
                    "images": n,
                    "groups": groups,
                    "method": name,
                    "median_s": round(statistics.median(times), 3),
                    "max_dev": round(statistics.median(d[0] for d in devs), 6),
                    "mean_dev": round(statistics.median(d[1] for d in devs), 6),
                    "sizes (seed 0)": devs[0][2],
                }
            )
            print(rows[-1], flush=True)
    with pl.Config(tbl_rows=50, tbl_width_chars=200):
        print(pl.DataFrame(rows))


if __name__ == "__main__":
    main()
