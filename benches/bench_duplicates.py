"""Time `imgstats.duplicates(df)` end to end at 1M-10M images, per phase, with peak RSS.

    python benches/bench_duplicates.py [--images 1000000|10000000] [--kind realistic|uniform]
                                       [--repeats N] [--wide-threshold W] [--dhash-threshold D]

Each repeat runs in a fresh child process (so its peak RSS, ``ru_maxrss``, is its own); the frame
is built in the child before the clock starts, and only ``duplicates(df)`` is timed. The phase
times come from ``imgstats.duplicates.LAST_PHASES`` (filled by every call).

Frames (one row per image, the columns a scan gives ``duplicates``: ``path``, ``phash``,
``dhash``, ``color_signature``, ``content_hash``, ``pixel_hash``, ``entropy``, ``contrast``):

- *realistic*: the pHash and dHash of the 70,000 Fashion-MNIST images
  (``/usr/share/datasets/fashion-mnist``, ``apt-get install dataset-fashion-mnist``) tiled to N,
  each copy beyond the first 70,000 with 0-3 random bits flipped in each hash (the pHash DC bit,
  always 1, kept), entropy and contrast of the source image; a copy with no flip in either hash
  is a byte-identical copy (same ``content_hash`` and ``pixel_hash``). Small centred pictures on
  flat backgrounds chain: at 10M one group holds almost every image. ``color_signature`` is
  `NEUTRAL_SIGNATURE` on every row: the scan gives exactly that for these grayscale pictures
  (checked on 20 of them saved as PNG and scanned).
- *uniform*: uniform random 64-bit pHash and dHash, entropy 5, contrast 50, unique content, and
  colour signatures with uniform random chroma levels (each of the 8 bytes 0-8 set bits, the
  signature's unary encoding).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import polars as pl

FMNIST = Path("/usr/share/datasets/fashion-mnist")
#: `imgstats.match_rule.NEUTRAL_SIGNATURE` (not imported: the bench also runs older trees).
NEUTRAL_SIGNATURE = 0x0F0F0F0F0F0F0F0F


def _fashion_mnist() -> np.ndarray:
    parts = []
    for name in ("train", "t10k"):
        raw = gzip.open(FMNIST / f"{name}-images-idx3-ubyte.gz").read()
        parts.append(np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28))
    return np.concatenate(parts)


def _source_columns() -> dict[str, np.ndarray]:
    """pHash, dHash, entropy and contrast of the 70,000 Fashion-MNIST images."""
    from imgstats.hashes import hashes

    imgs = _fashion_mnist()
    ph = np.empty(len(imgs), np.uint64)
    dh = np.empty(len(imgs), np.uint64)
    for i, a in enumerate(imgs):
        p, d, _ = hashes(a)
        ph[i], dh[i] = p, d
    flat = imgs.reshape(len(imgs), -1)
    counts = np.apply_along_axis(np.bincount, 1, flat, minlength=256).astype(np.float64)
    prob = counts / flat.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        entropy = -np.nansum(np.where(prob > 0, prob * np.log2(prob), 0.0), axis=1)
    return {"phash": ph, "dhash": dh, "entropy": entropy, "contrast": flat.std(axis=1)}


def _flip(h: np.ndarray, nflips: np.ndarray, rng: np.random.Generator, bits: int) -> np.ndarray:
    h = h.copy()
    for f in range(int(nflips.max(initial=0))):
        rows = nflips > f
        pos = rng.integers(0, bits, int(rows.sum())).astype(np.uint64)
        h[rows] ^= np.uint64(1) << pos
    return h


def make_frame(kind: str, n: int, seed: int = 0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    paths = pl.select(
        pl.format("/data/fmnist/{}.png", pl.int_range(0, n).cast(pl.Utf8).str.zfill(8))
    ).to_series()
    if kind == "uniform":
        ph = rng.integers(0, 2**64, n, dtype=np.uint64)
        dh = rng.integers(0, 2**64, n, dtype=np.uint64)
        content = np.arange(n, dtype=np.uint64)
        entropy = np.full(n, 5.0)
        contrast = np.full(n, 50.0)
        levels = rng.integers(0, 9, (n, 8)).astype(np.uint64)
        colour = np.zeros(n, np.uint64)
        for cell in range(8):
            colour |= ((np.uint64(1) << levels[:, cell]) - np.uint64(1)) << np.uint64(8 * cell)
    else:
        src = _source_columns()
        m = len(src["phash"])
        idx = np.arange(n) % m
        pf = rng.integers(0, 4, n)
        df_ = rng.integers(0, 4, n)
        pf[: min(n, m)] = 0
        df_[: min(n, m)] = 0
        ph = _flip(src["phash"][idx], pf, rng, 63)
        dh = _flip(src["dhash"][idx], df_, rng, 64)
        # A copy with neither hash changed stands for a byte-identical file.
        content = np.where((pf == 0) & (df_ == 0), idx, np.arange(n) + m).astype(np.uint64)
        entropy = src["entropy"][idx]
        contrast = src["contrast"][idx]
        colour = np.full(n, NEUTRAL_SIGNATURE, np.uint64)  # grayscale pictures
    return pl.DataFrame(
        {
            "path": paths.alias("path"),
            "phash": pl.Series(ph, dtype=pl.UInt64),
            "dhash": pl.Series(dh, dtype=pl.UInt64),
            "color_signature": pl.Series(colour, dtype=pl.UInt64),
            "content_hash": pl.Series(content, dtype=pl.UInt64).hash(seed=7).cast(pl.Utf8),
            "pixel_hash": pl.Series(content, dtype=pl.UInt64).hash(seed=11),
            "entropy": pl.Series(entropy, dtype=pl.Float32),
            "contrast": pl.Series(contrast, dtype=pl.Float32),
        }
    )


def child(kind: str, n: int, rule: dict[str, int]) -> None:
    import resource
    import warnings

    import imgstats

    dup_mod = importlib.import_module("imgstats.duplicates")  # the module (imports are lazy)

    df = make_frame(kind, n)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    warnings.simplefilter("ignore")
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    out = imgstats.duplicates(df, **rule)
    total = time.perf_counter() - t0
    cpu = time.process_time() - cpu0
    sizes = out["group_size"].to_numpy()
    print(
        json.dumps(
            {
                "seconds": total,
                "cpu_seconds": cpu,
                "phases": dict(getattr(dup_mod, "LAST_PHASES", {})),
                "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "rss_before_mb": rss_before / 1024,
                "frame_mb": df.estimated_size() / 2**20,
                "groups": int(out["group_id"].n_unique()),
                "grouped_rows": int((sizes > 1).sum()),
                "largest": int(sizes.max()) if len(sizes) else 0,
                "explained": int(out["match"].is_not_null().sum()),
            }
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=1_000_000)
    ap.add_argument("--kind", choices=["realistic", "uniform"], default="realistic")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--wide-threshold", type=int, help="duplicates(wide_threshold=...) (default: its own)"
    )
    ap.add_argument(
        "--dhash-threshold", type=int, help="duplicates(dhash_threshold=...) (default: its own)"
    )
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    rule = {
        name: value
        for name, value in (
            ("wide_threshold", args.wide_threshold),
            ("dhash_threshold", args.dhash_threshold),
        )
        if value is not None
    }
    if args.child:
        child(args.kind, args.images, rule)
        return
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in subprocess.run(
                ["lscpu"], capture_output=True, text=True
            ).stdout.splitlines()
            if line.startswith("Model name")
        ),
        "?",
    )
    runs = []
    for r in range(args.repeats):
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--images",
            str(args.images),
            "--kind",
            args.kind,
        ]
        for name, value in rule.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
        if res.returncode != 0:
            sys.exit(f"child failed:\n{res.stderr}")
        run = json.loads(res.stdout.strip().splitlines()[-1])
        runs.append(run)
        phases = " ".join(f"{k}={v:.2f}" for k, v in run["phases"].items())
        print(
            f"run {r + 1}: {run['seconds']:.2f} s (CPU {run['cpu_seconds']:.2f} s), "
            f"peak RSS {run['peak_rss_mb']:.0f} MB "
            f"(frame built: {run['rss_before_mb']:.0f} MB); {phases}",
            flush=True,
        )
    med = statistics.median(r["seconds"] for r in runs)
    last = runs[-1]
    names = list(last["phases"])
    call = "".join(f", {k}={v}" for k, v in rule.items())
    print(
        f"\n{args.images:,} {args.kind} hashes, CPU {cpu}, {os.cpu_count()} CPUs: "
        f"duplicates(df{call}) median {med:.2f} s of {len(runs)} "
        f"(runs {', '.join(f'{t:.2f}' for t in (r['seconds'] for r in runs))}), "
        f"CPU median {statistics.median(r['cpu_seconds'] for r in runs):.2f} s, "
        f"peak RSS median {statistics.median(r['peak_rss_mb'] for r in runs):.0f} MB, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    for name in names:
        vals = [r["phases"].get(name, 0.0) for r in runs]
        print(f"  {name:<16} {statistics.median(vals):6.2f} s")
    print(
        f"  {last['groups']:,} groups, {last['grouped_rows']:,} rows in groups, largest "
        f"{last['largest']:,}, {last['explained']:,} rows explained"
    )


if __name__ == "__main__":
    main()
