"""Benchmark the Hamming index against brute force and BK-trees (results: README_neighbors.md).

    .venv/bin/python benches/bench_neighbors.py --dump /tmp/imgstats_real_phashes.txt
    .venv/bin/python benches/bench_neighbors.py [--big] [--only METHOD]

Every case runs in a fresh child process under ``/usr/bin/time`` so its peak memory (max RSS)
is its own. Hashes: *uniform* random 64-bit values, and *realistic*: the real pHashes of the
system wallpapers and of the 70,000 Fashion-MNIST images, tiled to N with 0..20 random AC bits
flipped per copy (the DC bit, always 1 in a pHash, is kept) — clusters of near copies with real
bit correlations. Leakage: N train hashes vs N/10 test hashes, a third of them near copies.
Baselines: `pybktree` (the BK-tree czkawka-style tools use), imagededup's pure-Python BKTree
(`pip install --no-deps imagededup`; its retrieval module needs scikit-learn, so the tree is
driven directly), NumPy brute force, and the index forced into brute force (same SIMD kernel).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# Generated, not committed (1.2 MB): `--dump` writes it.
REAL = Path(os.environ.get("IMGSTATS_REAL_PHASHES", "/tmp/imgstats_real_phashes.txt"))


def dump_real(path: Path) -> None:
    import imgstats

    hashes = []
    for p in sorted(Path("/usr/share/wallpapers").rglob("*")) + sorted(
        Path("/usr/share/backgrounds").rglob("*")
    ):
        if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"}:
            hashes.append(imgstats.phash(p))
    for name in ("train", "t10k"):
        f = f"/usr/share/datasets/fashion-mnist/{name}-images-idx3-ubyte.gz"
        imgs = np.frombuffer(gzip.open(f).read(), np.uint8, offset=16).reshape(-1, 28, 28)
        hashes.extend(imgstats.phash(a) for a in imgs)
    path.write_text("".join(f"{h:016x}\n" for h in hashes))
    print(f"wrote {len(hashes)} real pHashes to {path}")


def make(kind: str, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return rng.integers(0, 2**64, size=n, dtype=np.uint64)
    real = np.array([int(x, 16) for x in REAL.read_text().split()], dtype=np.uint64)
    h = real[np.arange(n) % len(real)].copy()
    nflips = rng.integers(0, 21, size=n)
    nflips[: min(n, len(real))] = 0
    for f in range(20):
        rows = nflips > f
        bits = rng.integers(0, 63, size=int(rows.sum())).astype(np.uint64)
        h[rows] ^= np.uint64(1) << bits
    return h


def leak_query(train: np.ndarray, kind: str) -> np.ndarray:
    rng = np.random.default_rng(99)
    q = make(kind, len(train) // 10, 2)
    idx = np.arange(0, len(q), 3)
    q[idx] = train[rng.integers(0, len(train), len(idx))] ^ (
        np.uint64(1) << rng.integers(0, 63, len(idx)).astype(np.uint64)
    )
    return q


def run_case(method: str, kind: str, n: int, k: int, reps: int) -> dict:
    """Runs in the child process: build inputs, time `reps` runs, report."""
    from imgstats import _imgstats

    h = make(kind, n, 1)
    query = leak_query(h, kind) if method == "leakage" else None
    times, size = [], 0
    for _ in range(reps):
        t = time.perf_counter()
        if method == "groups":
            size = len(_imgstats._groups(h, k)[1])
        elif method == "pairs":
            size = len(_imgstats._self_pairs(h, k)[0])
        elif method == "leakage":
            size = len(_imgstats._cross_pairs(h, query, k, True)[0])
        elif method == "index-brute":
            os.environ["IMGSTATS_FORCE_BRUTE"] = "1"
            size = len(_imgstats._self_pairs(h, k)[0])
        elif method == "numpy-brute":
            size = 0
            for i in range(n - 1):
                size += int((np.bitwise_count(h[i] ^ h[i + 1 :]) <= k).sum())
        elif method == "pybktree":
            import pybktree

            def dist(a: int, b: int) -> int:
                return (a ^ b).bit_count()

            items = [int(x) for x in h]
            tree = pybktree.BKTree(dist, items)
            # All pairs: every item queries the tree (each pair is seen twice, plus itself).
            size = (sum(len(tree.find(x, k)) for x in items) - n) // 2
        elif method == "imagededup-bktree":
            from imagededup.handlers.search.bktree import BKTree

            # imagededup's own Hashing.hamming_distance on hex strings (its module pulls torch).
            def hamming(a: str, b: str) -> int:
                return (int(a, 16) ^ int(b, 16)).bit_count()

            hd = {str(i): f"{int(x):016x}" for i, x in enumerate(h)}
            tree = BKTree(hd, hamming)
            size = (sum(len(tree.search(v, tol=k)) for v in hd.values()) - n) // 2
        else:
            raise ValueError(method)
        times.append(time.perf_counter() - t)
    return {"median_s": statistics.median(times), "min_s": min(times), "result": size}


CASES = [
    # (method, kind, n, k, reps)
    ("groups", "uniform", 1_000_000, 8, 3),
    ("pairs", "uniform", 1_000_000, 8, 3),
    ("groups", "realistic", 1_000_000, 8, 3),
    ("leakage", "uniform", 1_000_000, 8, 3),
    ("leakage", "realistic", 1_000_000, 8, 3),
    ("groups", "uniform", 100_000, 8, 3),
    ("index-brute", "uniform", 100_000, 8, 3),
    ("numpy-brute", "uniform", 20_000, 8, 1),
    ("groups", "uniform", 20_000, 8, 3),
    ("pybktree", "uniform", 5_000, 8, 1),
    ("pybktree", "realistic", 5_000, 8, 1),
    ("imagededup-bktree", "uniform", 5_000, 8, 1),
    ("groups", "uniform", 5_000, 8, 3),
    ("groups", "realistic", 5_000, 8, 3),
]
BIG = [
    ("groups", "uniform", 10_000_000, 8, 3),
    ("groups", "realistic", 10_000_000, 8, 3),
    ("pairs", "uniform", 10_000_000, 8, 3),
    ("index-brute", "uniform", 1_000_000, 8, 1),
]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", type=Path)
    ap.add_argument("--case", nargs=5)
    ap.add_argument("--big", action="store_true", help="also 10M cases and 1M brute force")
    ap.add_argument("--only", help="run only cases whose method contains this")
    args = ap.parse_args()
    if args.dump:
        dump_real(args.dump)
        return
    if args.case:
        m, kind, n, k, reps = args.case
        print(json.dumps(run_case(m, kind, int(n), int(k), int(reps))))
        return
    if not REAL.exists():
        dump_real(REAL)
    cases = CASES + (BIG if args.big else [])
    if args.only:
        cases = [c for c in cases if args.only in c[0]]
    print("| method | hashes | N | k | median s | min s | result | peak RSS MB |")
    print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        cmd = ["/usr/bin/time", "-f", "RSS %M", sys.executable, __file__, "--case"]
        cmd += [str(x) for x in case]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if proc.returncode:
            print(f"| {case} failed: {proc.stderr.strip()[-300:]} |")
            continue
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        rss = int(proc.stderr.strip().split("RSS ")[-1]) / 1024
        m, kind, n, k, _ = case
        what = {"leakage": f"{n:,} vs {n // 10:,}"}.get(m, f"{n:,}")
        print(
            f"| {m} | {kind} | {what} | {k} | {res['median_s']:.3f} | {res['min_s']:.3f} "
            f"| {res['result']:,} | {rss:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
