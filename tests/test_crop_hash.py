"""imgstats' crop-resistant hash against imagehash 4.3.2's ``crop_resistant_hash``, bit for bit:
the same segment hashes, in the same order, on synthetic and real pictures (Pillow 13).

imagehash's segmentation is a pure-Python flood fill (about a second a picture), so the real
photos are a handful of small files; every case is its own test id.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Callable

import imagehash
import imgstats
import numpy as np
import PIL
import polars as pl
import pytest
from conftest import MISSING_DATA
from imgstats import _imgstats
from imgstats.hashes import crop_resistant_hash, hash_hex
from PIL import Image, ImageDraw, ImageFilter, ImageOps
from test_hashes import PHOTOS as HASH_PHOTOS

pytestmark = pytest.mark.skipif(
    int(PIL.__version__.split(".")[0]) != 13, reason="bit-exact reference is Pillow 13"
)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def _assert_same(ours: list[int], im: Image.Image) -> None:
    ref = [str(h) for h in imagehash.crop_resistant_hash(im).segment_hashes]
    got = [hash_hex(h) for h in ours]
    assert len(got) == len(ref), f"{len(got)} segments, imagehash has {len(ref)}"
    diffs = [f"#{i}: ours {g} imagehash {r}" for i, (g, r) in enumerate(zip(got, ref)) if g != r]
    assert not diffs, "; ".join(diffs)


# --------------------------------------------------------------------------- synthetic


def _blobs(seed: int) -> Image.Image:
    """Smooth random blobs: many hills and valleys of all sizes, some touching the border."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(150, 700, 2))
    noise = Image.fromarray(rng.integers(0, 256, (h // 16 + 2, w // 16 + 2), dtype=np.uint8))
    return noise.resize((w, h), Image.Resampling.BICUBIC).filter(ImageFilter.GaussianBlur(3))


def _shapes(seed: int) -> Image.Image:
    rng = np.random.default_rng(50 + seed)
    w, h = (int(v) for v in rng.integers(40, 500, 2))
    mode = ("L", "RGB", "RGBA")[seed % 3]
    im = Image.new(mode, (w, h), (0, 0, 0, 255)[: len(mode)] if mode != "L" else 0)
    d = ImageDraw.Draw(im)
    for i in range(6):
        x0, y0 = int(rng.integers(w)), int(rng.integers(h))
        box = [x0, y0, x0 + int(rng.integers(5, w)), y0 + int(rng.integers(5, h))]
        fill = tuple(int(v) for v in rng.integers(0, 256, len(mode)))
        (d.ellipse, d.rectangle)[i % 2](box, fill=fill if mode != "L" else fill[0])
    return im


def _noise(w: int, h: int) -> Image.Image:
    rng = np.random.default_rng(w * 1000 + h)
    return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))


def _band(rows: int) -> Image.Image:
    # A bright band leaving a thin dark strip at the bottom: imagehash stops before visiting it.
    a = np.full((300, 300), 10, np.uint8)
    a[100 : 300 - rows] = 240
    return Image.fromarray(a)


SYNTHETIC: dict[str, Callable[[], Image.Image]] = {}
for _i in range(8):
    SYNTHETIC[f"blobs{_i}"] = functools.partial(_blobs, _i)
for _i in range(9):
    SYNTHETIC[f"shapes{_i}"] = functools.partial(_shapes, _i)
for _w, _h in [(1, 1), (3, 2), (9, 8), (17, 300), (299, 13), (40, 40), (301, 300)]:
    SYNTHETIC[f"noise{_w}x{_h}"] = functools.partial(_noise, _w, _h)
for _v in (0, 128, 129, 255):
    SYNTHETIC[f"const{_v}"] = functools.partial(Image.new, "L", (120, 80), _v)
for _r in (2, 4, 8):
    SYNTHETIC[f"band{_r}"] = functools.partial(_band, _r)
SYNTHETIC["gray_of_rgb"] = lambda: _blobs(3).convert("RGB").convert("L")
SYNTHETIC["palette"] = lambda: _blobs(4).convert("RGB").quantize(8)


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_matches_imagehash(name: str) -> None:
    im = SYNTHETIC[name]()
    _assert_same(crop_resistant_hash(im), im)


# --------------------------------------------------------------------------- real pictures


# A third of test_hashes' photos (imagehash's Python segmentation takes ~1 s per picture).
PHOTOS = HASH_PHOTOS[::3]
EXAMPLE_FILES = sorted(
    str(p)
    for p in EXAMPLES.rglob("*")
    if p.suffix in (".jpg", ".png", ".webp") and "broken" not in p.parts
)


@pytest.mark.parametrize(
    "path", PHOTOS or [None], ids=lambda p: "missing" if p is None else p.split("/share/")[-1]
)
def test_photo_matches_imagehash(path: str | None) -> None:
    assert path is not None, MISSING_DATA
    with Image.open(path) as im:
        im.load()
        _assert_same(crop_resistant_hash(im), im)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: Path(p).name)
def test_example_matches_imagehash(path: str) -> None:
    with Image.open(path) as im:
        im.load()
        _assert_same(crop_resistant_hash(im), im)
        # The path form reads the same stored pixels.
        assert crop_resistant_hash(path) == crop_resistant_hash(im)


def test_exif_rotated_jpeg_hashes_the_stored_grid(tmp_path: Path) -> None:
    """Like imagehash on ``Image.open``: the stored pixels, not the upright view."""
    im = _blobs(11).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif, quality=90)
    with Image.open(path) as stored:
        stored.load()
        _assert_same(crop_resistant_hash(path), stored)
        upright = ImageOps.exif_transpose(stored)
    assert upright.size != stored.size
    _assert_same(crop_resistant_hash(upright), upright)


def test_boxes_are_the_segment_bounding_boxes() -> None:
    """Two bright squares on black: two hills with their exact boxes, then the valley."""
    a = np.zeros((300, 300), np.uint8)
    a[20:120, 30:100] = 255
    a[200:280, 150:290] = 255
    segs = _imgstats._crop_resistant_l8(a)
    boxes = [s[1:5] for s in segs]
    # The blur and median filter round the corners, never move straight edges by more than 2 px.
    assert len(boxes) == 3
    for got, want in zip(boxes, [(30, 20, 100, 120), (150, 200, 290, 280), (0, 0, 300, 300)]):
        assert all(abs(g - w) <= 2 for g, w in zip(got, want)), (got, want)
    assert segs[0][5] > 6000 and segs[2][5] > 60000


# --------------------------------------------------------------------------- the scan metric


def test_scan_column_is_imagehash_on_the_upright_picture(tmp_path: Path) -> None:
    """Pictures with a short side under 600 px are hashed natively: the scan's segments are
    imagehash's on the displayed (EXIF-upright) picture; crop_thumb is its 32×32 area average."""
    paths = []
    for i, mode in enumerate(("RGB", "L", "RGBA")):
        im = _blobs(20 + i).convert(mode)
        path = tmp_path / f"p{i}.png"
        im.save(path)
        paths.append(path)
    rotated = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 8
    _blobs(30).convert("RGB").save(rotated, exif=exif, quality=92)
    paths.append(rotated)
    df = imgstats.scan([str(p) for p in paths], ["crop_hash"])
    assert df["error"].is_null().all()
    for path, hs, boxes, thumb in df.select(
        "path", "crop_hash", "crop_boxes", "crop_thumb"
    ).iter_rows():
        with Image.open(path) as im:
            upright = ImageOps.exif_transpose(im)
        _assert_same(hs, upright)
        assert len(boxes) == 4 * len(hs)
        segs = _imgstats._crop_resistant_l8(np.asarray(upright.convert("L")))
        assert boxes == [v for s in segs for v in s[1:5]]
        luma = np.asarray(upright.convert("L"), dtype=np.float64)
        ref = _area_weights(luma.shape[0]) @ luma @ _area_weights(luma.shape[1]).T
        assert np.abs(np.array(thumb).reshape(32, 32) - ref).max() <= 0.5 + 1e-3


def _area_weights(n: int, out: int = 32) -> np.ndarray:
    """(out, n) matrix: row i averages the source interval [i·n/out, (i+1)·n/out) exactly."""
    w = np.zeros((out, n))
    for i in range(out):
        lo, hi = i * n / out, (i + 1) * n / out
        for y in range(int(lo), min(n, int(np.ceil(hi)))):
            w[i, y] = min(hi, y + 1) - max(lo, y)
    return w / (n / out)


def test_crop_hash_is_opt_in() -> None:
    assert "crop_hash" in imgstats.METRICS
    assert "crop_hash" in _imgstats.OPT_IN_METRICS
    df = imgstats.scan(str(EXAMPLES / "train" / "scene_01.jpg"))
    assert not {"crop_hash", "crop_boxes", "crop_thumb"} & set(df.columns)
    assert "phash" in df.columns


def test_unreadable_file_gives_null_lists() -> None:
    df = imgstats.scan(
        [str(EXAMPLES / "broken" / "truncated.jpg"), str(EXAMPLES / "train" / "dark.jpg")],
        ["crop_hash"],
    )
    assert df.schema["crop_hash"] == pl.List(pl.UInt64)
    broken = df.filter(pl.col("error").is_not_null())
    assert broken["crop_hash"].is_null().all()
    assert df.filter(pl.col("error").is_null())["crop_hash"].list.len().min() >= 1  # type: ignore[operator]
