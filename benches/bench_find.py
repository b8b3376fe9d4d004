"""Time `imgstats.find` against 1,000,000 reference images (a saved scan in Parquet).

Reference: 1,000,000 rows with ``path``, ``phash``, ``dhash`` (uniform random hashes; 10 % of
them near copies of others, as in a real collection). Queries: half edited copies of references
(a few bits moved in each hash), half unrelated. The search index is built inside every call from
the reference hashes, so a call's time includes it; we report the whole call and per query.

Run: ``python benches/bench_find.py [--refs 1000000] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from imgstats.find import find


def noise(rng: np.random.Generator, n: int, bits: int) -> np.ndarray:
    f = np.uint64(1) << rng.integers(0, 64, (n, bits)).astype(np.uint64)
    return np.bitwise_xor.reduce(np.where(rng.random((n, bits)) < 0.5, f, np.uint64(0)), axis=1)


def make(n: int, nq: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    d = rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)
    k = n // 10
    src = rng.integers(0, n - k, k)
    h[-k:], d[-k:] = h[src] ^ noise(rng, k, 6), d[src] ^ noise(rng, k, 6)
    ref = pl.DataFrame({"path": [f"/ref/{i:07d}.jpg" for i in range(n)], "phash": h, "dhash": d})
    pick = rng.integers(0, n, nq // 2)
    qh = np.concatenate([h[pick] ^ noise(rng, nq // 2, 8), rng.integers(0, 2**63, nq - nq // 2)])
    qd = np.concatenate([d[pick] ^ noise(rng, nq // 2, 8), rng.integers(0, 2**63, nq - nq // 2)])
    q = pl.DataFrame(
        {"path": [f"/new/{i}.jpg" for i in range(nq)], "phash": qh.astype(np.uint64), "dhash": qd}
    )
    return ref, q


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    times: list[float] = []
    out: object = None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--refs", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    ref, q = make(args.refs, 1000)
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "ref.parquet"
        ref.write_parquet(saved)
        for nq in (1, 10, 1000):
            qs = q.head(nq)
            t, out = timed(lambda qs=qs: find(qs, ref, threads=args.threads), args.repeats)
            assert isinstance(out, pl.DataFrame)
            found = out.filter(pl.col("match").is_not_null())["path"].n_unique()
            print(
                f"{nq:5d} queries vs {args.refs:,} refs (frame):   {t * 1e3:8.1f} ms per call, "
                f"{t * 1e3 / nq:8.2f} ms per query; {found} matched"
            )
        t, _ = timed(lambda: find(q, saved, threads=args.threads), args.repeats)
        print(
            f" 1000 queries vs {args.refs:,} refs (Parquet): {t * 1e3:8.1f} ms per call "
            f"(reading the file included), {t * 1e3 / 1000:8.2f} ms per query"
        )


if __name__ == "__main__":
    main()
