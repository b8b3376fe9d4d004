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

Peer (``--only faiss``): FAISS's exact binary multi-index (``pip install faiss-cpu``; optional,
"faiss not installed" otherwise), ``IndexBinaryMultiHash(64, nhash, b)`` with ``nflip = k // nhash``
(pigeonhole: exact), ``range_search(x, k + 1)`` (its radius is exclusive), self-pairs dropped
and each unordered pair kept once, against ``imgstats.near_pairs`` in the same process, 2 threads
each, every repeat of both interleaved. Both timings include building the index and producing
the pair arrays; the pair sets are asserted equal before a ratio is printed. Wall time and the
process's CPU time (all threads) are both recorded: on a shared machine the CPU ratio is steadier.
So is the time the process's threads spent runnable but waiting for a core (Linux schedstat), which
shows when a wall time was set by the scheduler rather than by the work. ``--fifo`` runs every
child under ``chrt -f 10`` (SCHED_FIFO; needs root or CAP_SYS_NICE): both libraries then get a core
whenever a thread is runnable, as on an idle machine, while other jobs share the cores.
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


# (nhash, b): nhash 3 and 4 at the widest sub-hashes that fit in 64 bits (narrower ones were
# slower: more candidates per probe).
FAISS_LAYOUTS = [(3, 19), (3, 20), (3, 21), (4, 16)]


def sched_ms() -> tuple[float, float]:
    """(run, run-queue wait) in ms summed over this process's threads (Linux schedstat).

    Threads that ended in between are missed; the pools of both libraries live for the whole run.
    """
    run = wait = 0.0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 0.0, 0.0
    for tid in tasks:
        try:
            with open(f"/proc/self/task/{tid}/schedstat") as f:
                r, w, _ = f.read().split()
        except (OSError, ValueError):
            continue
        run += int(r) / 1e6
        wait += int(w) / 1e6
    return run, wait


def run_faiss(kind: str, n: int, k: int, reps: int) -> dict:
    """imgstats.near_pairs vs faiss.IndexBinaryMultiHash, interleaved in one process."""
    try:
        import faiss
    except ImportError:
        return {"missing": True}
    import imgstats

    faiss.omp_set_num_threads(2)
    h = make(kind, n, 1)
    # Popcount of XOR does not depend on the byte or bit order, so the native bytes will do.
    codes = np.ascontiguousarray(h).view(np.uint8).reshape(n, 8)

    def ours() -> tuple[np.ndarray, np.ndarray]:
        df = imgstats.near_pairs(h, k=k, threads=2)
        return df["i"].to_numpy(), df["j"].to_numpy()

    def theirs(nhash: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        index = faiss.IndexBinaryMultiHash(64, nhash, b)
        index.nflip = k // nhash  # a pair within k agrees within k // nhash bits on some hash
        index.add(codes)
        lims, _, ids = index.range_search(codes, k + 1)  # distances < radius
        q = np.repeat(np.arange(n, dtype=np.int64), np.diff(lims).astype(np.int64))
        keep = q < ids  # drops self-pairs, keeps each unordered pair once
        return q[keep], ids[keep]

    def key(i: np.ndarray, j: np.ndarray) -> np.ndarray:
        return np.sort(i.astype(np.int64) * n + j.astype(np.int64))

    want = key(*ours())
    for nhash, b in FAISS_LAYOUTS:
        got = key(*theirs(nhash, b))
        assert len(got) == len(want), (nhash, b, len(got), len(want))
        assert np.array_equal(got, want), (nhash, b)
    # Wall time, and CPU time of the whole process (every thread of either library): the
    # machine is shared, so the CPU-time ratio is the steadier one.
    t_ours: list[float] = []
    c_ours: list[float] = []
    w_ours: list[float] = []
    t_theirs: dict[tuple[int, int], list[float]] = {lay: [] for lay in FAISS_LAYOUTS}
    c_theirs: dict[tuple[int, int], list[float]] = {lay: [] for lay in FAISS_LAYOUTS}
    w_theirs: dict[tuple[int, int], list[float]] = {lay: [] for lay in FAISS_LAYOUTS}
    for _ in range(reps):
        w0 = sched_ms()[1]
        t, c = time.perf_counter(), time.process_time()
        ours()
        t_ours.append(time.perf_counter() - t)
        c_ours.append(time.process_time() - c)
        w_ours.append(sched_ms()[1] - w0)
        for lay in FAISS_LAYOUTS:
            w0 = sched_ms()[1]
            t, c = time.perf_counter(), time.process_time()
            theirs(*lay)
            t_theirs[lay].append(time.perf_counter() - t)
            c_theirs[lay].append(time.process_time() - c)
            w_theirs[lay].append(sched_ms()[1] - w0)
    med = {lay: statistics.median(v) for lay, v in t_theirs.items()}
    best = min(med, key=med.__getitem__)
    return {
        "imgstats_s": statistics.median(t_ours),
        "imgstats_range": [min(t_ours), max(t_ours)],
        "imgstats_cpu_s": statistics.median(c_ours),
        "imgstats_wait_ms": statistics.median(w_ours),
        "faiss_s": med[best],
        "faiss_range": [min(t_theirs[best]), max(t_theirs[best])],
        "faiss_cpu_s": statistics.median(c_theirs[best]),
        "faiss_wait_ms": statistics.median(w_theirs[best]),
        "best": list(best),
        "layouts": {f"{a},{b}": round(m, 4) for (a, b), m in med.items()},
        "pairs": len(want),
        "faiss_version": faiss.__version__,
    }


def run_case(method: str, kind: str, n: int, k: int, reps: int) -> dict:
    """Runs in the child process: build inputs, time `reps` runs, report."""
    if method == "faiss":
        return run_faiss(kind, n, k, reps)
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
FAISS_CASES = [
    ("faiss", "uniform", 100_000, 8, 5),
    # Eleven: our call is ~9 ms there, and single calls ranged 8.4-11.5 ms in one run of five.
    ("faiss", "realistic", 20_000, 8, 11),
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
    ap.add_argument(
        "--fifo",
        action="store_true",
        help="run every child under `chrt -f 10` (SCHED_FIFO) so other jobs cannot delay it",
    )
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
    faiss_cases = FAISS_CASES if not args.only or args.only in "faiss" else []
    if cases:
        print("| method | hashes | N | k | median s | min s | result | peak RSS MB |")
        print("|---|---|---|---|---|---|---|---|")
    for case in cases:
        proc, res, rss = child(case, args.fifo)
        if res is None:
            continue
        m, kind, n, k, _ = case
        what = {"leakage": f"{n:,} vs {n // 10:,}"}.get(m, f"{n:,}")
        print(
            f"| {m} | {kind} | {what} | {k} | {res['median_s']:.3f} | {res['min_s']:.3f} "
            f"| {res['result']:,} | {rss:.0f} |",
            flush=True,
        )
    if faiss_cases:
        print()
        print(
            "| hashes | N | k | pairs | imgstats.near_pairs median s (min–max) "
            "| FAISS best median s (min–max) | FAISS layout (nhash, b) | FAISS / imgstats "
            "| CPU s imgstats / FAISS | CPU ratio | run-queue wait ms imgstats / FAISS |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|---|")
    for case in faiss_cases:
        _, kind, n, k, _ = case
        proc, res, _ = child(case, args.fifo)
        if res is None:
            continue
        if res.get("missing"):
            print(f"| {kind} | {n:,} | {k} | faiss not installed | | | | | | | |", flush=True)
            continue
        lo, hi = res["imgstats_range"]
        flo, fhi = res["faiss_range"]
        print(
            f"| {kind} | {n:,} | {k} | {res['pairs']:,} | {res['imgstats_s']:.4f} "
            f"({lo:.4f}–{hi:.4f}) | {res['faiss_s']:.3f} ({flo:.3f}–{fhi:.3f}) "
            f"| {tuple(res['best'])} | **{res['faiss_s'] / res['imgstats_s']:.1f}×** "
            f"| {res['imgstats_cpu_s']:.4f} / {res['faiss_cpu_s']:.3f} "
            f"| {res['faiss_cpu_s'] / res['imgstats_cpu_s']:.1f}× "
            f"| {res['imgstats_wait_ms']:.1f} / {res['faiss_wait_ms']:.1f} |",
            flush=True,
        )
        print(f"<!-- faiss {res['faiss_version']}, medians by layout: {res['layouts']} -->")


def child(
    case: tuple, fifo: bool = False
) -> tuple[subprocess.CompletedProcess, dict | None, float]:
    cmd = ["/usr/bin/time", "-f", "RSS %M"] + (["chrt", "-f", "10"] if fifo else [])
    cmd += [sys.executable, __file__, "--case"]
    cmd += [str(x) for x in case]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode:
        print(f"| {case} failed: {proc.stderr.strip()[-300:]} |", flush=True)
        return proc, None, 0.0
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    return proc, res, int(proc.stderr.strip().split("RSS ")[-1]) / 1024


if __name__ == "__main__":
    main()
