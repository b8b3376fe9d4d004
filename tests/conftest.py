"""Shared fixtures for the `imgstats.scan` tests: synthetic images with known content, written with
Pillow in every container `scan` reads, and the references the columns are checked against.

Synthetic images are generated from fixed seeds so a failure reproduces exactly; the
references (Pillow's decode and `convert("L")`, OpenCV, imagehash, numpy formulas) are
independent of the Rust core.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import imgstats
import numpy as np
import polars as pl
import pytest
from PIL import Image, ImageDraw

#: What a test says when the Debian test data are missing. They are required, not optional: a
#: missing package fails the tests that need it (CI installs them), it never skips them.
MISSING_DATA = (
    "install the test data with `sudo scripts/system-deps.sh --test` (Debian packages "
    "plasma-workspace-wallpapers mate-backgrounds gnome-backgrounds dataset-fashion-mnist "
    "visp-images-data)"
)
FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
WALLPAPER_DIRS = (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"))


# --------------------------------------------------------------------------------------------
# Pixel generators (numpy arrays, uint8). Each is deterministic in its arguments.
# --------------------------------------------------------------------------------------------


def random_rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Uniform noise: every pixel independent, the worst case for any approximation."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def gradient_rgb(h: int, w: int) -> np.ndarray:
    """Smooth ramps in three directions (exact symmetries stress phash's DCT ties)."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 255 * (x + y) / max(w + h - 2, 1)
    return np.dstack([r, g, b]).round().astype(np.uint8)


def text_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Black glyph-like strokes on white: hard edges, the blur metric's typical input."""
    img = Image.new("RGB", (w, h), "white")
    d = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    for row in range(0, h, 12):
        d.text((2 + int(rng.integers(0, 6)), row), "Lorem ipsum 0123 QWxyz" * 3, fill=(0, 0, 0))
    return np.asarray(img)


def photo_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth structure at several scales plus mild sensor noise: stands in for a photo."""
    rng = np.random.default_rng(seed)
    out = np.zeros((h, w, 3), np.float64)
    for cells, weight in ((3, 90.0), (9, 45.0), (40, 20.0)):
        coarse = rng.normal(0, 1, (cells, cells, 3))
        small = Image.fromarray(((coarse - coarse.min()) / np.ptp(coarse) * 255).astype(np.uint8))
        out += weight * (np.asarray(small.resize((w, h), Image.BICUBIC), np.float64) / 255 - 0.5)
    y, x = np.mgrid[0:h, 0:w]
    disc = (x - 0.6 * w) ** 2 + (y - 0.4 * h) ** 2 < (0.15 * min(w, h)) ** 2
    out[disc] += 60
    out += 128 + rng.normal(0, 3, out.shape)
    return np.clip(out, 0, 255).round().astype(np.uint8)


def flat_noise(h: int, w: int, sigma: float, seed: int = 0, level: float = 128.0) -> np.ndarray:
    """Mid-grey plane plus Gaussian noise of a known sigma (Immerkær's ground truth)."""
    rng = np.random.default_rng(seed)
    return np.clip(np.round(level + rng.normal(0, sigma, (h, w))), 0, 255).astype(np.uint8)


def fashion_mnist(n: int) -> list[np.ndarray]:
    """The first `n` Fashion-MNIST test images (28x28 L), or [] when the dataset is absent."""
    if not FASHION_MNIST.exists():
        return []
    with gzip.open(FASHION_MNIST, "rb") as f:
        magic, count, rows, cols = struct.unpack(">IIII", f.read(16))
        assert magic == 2051
        data = f.read(min(n, count) * rows * cols)
    return list(np.frombuffer(data, np.uint8).reshape(-1, rows, cols))


def real_photos(max_count: int, max_bytes: int = 700_000) -> list[Path]:
    """Distinct real JPEG/PNG wallpapers installed on this machine (smallest first)."""
    seen: dict[int, Path] = {}
    for root in WALLPAPER_DIRS:
        if not root.exists():
            continue
        for p in sorted(root.rglob("*")):
            if p.suffix.lower() not in {".jpg", ".jpeg", ".png"} or not p.is_file():
                continue
            size = p.stat().st_size
            if not 20_000 < size <= max_bytes or size in seen:
                continue
            with Image.open(p) as im:
                # imagehash drops alpha while the scan composites it: not comparable.
                if "A" in im.mode or "transparency" in im.info:
                    continue
            seen[size] = p.resolve()
    return [seen[s] for s in sorted(seen)][:max_count]


# --------------------------------------------------------------------------------------------
# References
# --------------------------------------------------------------------------------------------


def pillow_luma(path: os.PathLike[str] | str) -> np.ndarray:
    """Pillow's decode + `convert("L")`: the luma plane every reference is computed on."""
    with Image.open(path) as im:
        return np.asarray(im.convert("L"))


def luma_from_rgb(rgb: np.ndarray) -> np.ndarray:
    """Pillow's `convert("L")` formula, for pixels we composite ourselves."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


class ImageWriter:
    """Writes images into one directory; every method returns the written path."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, name: str) -> Path:
        p = self.root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        return p

    def save(self, name: str, pixels: np.ndarray | Image.Image, **save_kw: Any) -> Path:
        """Save with Pillow; the format comes from `format=` or the file name."""
        img = pixels if isinstance(pixels, Image.Image) else Image.fromarray(pixels)
        p = self.path(name)
        img.save(p, **save_kw)
        return p

    def write_bytes(self, name: str, data: bytes) -> Path:
        p = self.path(name)
        p.write_bytes(data)
        return p


@pytest.fixture
def images(tmp_path: Path) -> ImageWriter:
    return ImageWriter(tmp_path)


def scan_rows(source: Any, **kw: Any) -> list[dict[str, Any]]:
    """Scan and return the rows as dicts, in input order."""
    df = imgstats.scan(source, **kw)
    assert isinstance(df, pl.DataFrame)
    return df.to_dicts()


def scan_ok(path: Any, **kw: Any) -> dict[str, Any]:
    """Scan one input that must succeed; returns its row."""
    rows = scan_rows([path] if isinstance(path, (str, os.PathLike)) else path, **kw)
    assert len(rows) == 1, rows
    assert rows[0]["error"] is None, rows[0]["error"]
    return rows[0]


def scan_paths_ok(paths: Sequence[os.PathLike[str] | str], **kw: Any) -> list[dict[str, Any]]:
    """Scan many files in one call (one pool start); all must succeed; rows in input order."""
    rows = scan_rows([str(p) for p in paths], **kw)
    assert [r["path"] for r in rows] == [str(p) for p in paths]
    bad = [(r["path"], r["error"]) for r in rows if r["error"] is not None]
    assert not bad, bad
    return rows


def main_thread_ran_during(call: Callable[[], Any]) -> tuple[bool, Any]:
    """Run `call` on a worker thread and report whether this (main) thread ran Python code while
    the call was still in progress; returns (ran_during, call's result). An event, not a timing:
    with the interpreter's switch interval set to 1000 s no thread is ever preempted for the GIL,
    so this thread gets the GIL back from the worker only when the worker releases it itself
    (entering native code that detaches, or blocking). A call that held the GIL from start to end
    would let this thread run only after it returned and set `finished`."""
    entered, finished = threading.Event(), threading.Event()
    result: list[Any] = []

    def work() -> None:
        entered.set()  # wakes this thread, which then waits for the GIL
        result.append(call())
        finished.set()

    worker = threading.Thread(target=work)
    with no_preemption():
        worker.start()
        entered.wait()
        ran_during = not finished.is_set()
        worker.join()
    return ran_during, result[0]


@contextlib.contextmanager
def no_preemption() -> Iterator[None]:
    """Set the switch interval to 1000 s: a thread then gives up the GIL only by itself (native
    code that releases it, blocking I/O, sleep), which turns "ran concurrently" into an order of
    events that does not depend on the machine's speed."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1000.0)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


def hex64(h: int | None) -> str | None:
    """A UInt64 hash column value in imagehash's `str(hash)` form."""
    return None if h is None else format(h, "016x")


def hamming(a: str, b: str) -> int:
    return bin(int(a, 16) ^ int(b, 16)).count("1")
