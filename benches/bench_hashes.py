"""Time pHash + dHash + aHash: imgstats (Rust, Pillow-exact) against imagehash 4.3.2.

Run: ``python benches/bench_hashes.py [--repeat N]``. Inputs are already-decoded luma images, so
this measures hashing only (resize + DCT), not decoding. Reports the median and the minimum of N
runs per size, single call at a time (``_hashes_l8`` itself is single-threaded), and checks that
both libraries agree on every image it times.
"""

from __future__ import annotations

import argparse
import statistics
import time

import imagehash
import numpy as np
from imgstats import _imgstats
from imgstats.hashes import hash_hex
from PIL import Image

SIZES = [(4000, 3000), (1920, 1080), (500, 375), (28, 28)]


def _time(fn, repeat: int) -> tuple[float, float]:
    fn()  # warm-up: coefficient tables, page faults
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs) * 1e3, min(runs) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'size':>10} | {'imgstats ms (med/min)':>22} | {'imagehash ms (med/min)':>23} | x")
    for w, h in SIZES:
        luma = rng.integers(0, 256, (h, w), dtype=np.uint8)
        im = Image.fromarray(luma)
        ours = _time(lambda luma=luma: _imgstats._hashes_l8(luma), args.repeat)
        ref = _time(
            lambda im=im: (imagehash.phash(im), imagehash.dhash(im), imagehash.average_hash(im)),
            max(3, args.repeat // 3),
        )
        got = [hash_hex(v) for v in _imgstats._hashes_l8(luma)]
        want = [str(imagehash.phash(im)), str(imagehash.dhash(im)), str(imagehash.average_hash(im))]
        assert got == want, (w, h, got, want)
        cols = f"{ours[0]:>10.2f} / {ours[1]:<9.2f} | {ref[0]:>10.2f} / {ref[1]:<10.2f}"
        print(f"{w:>5}x{h:<4} | {cols} | {ref[0] / ours[0]:.1f}")


if __name__ == "__main__":
    main()
