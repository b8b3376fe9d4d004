"""imgstats hashes against imagehash 4.3.2 and the LANCZOS resize against Pillow 13, bit for bit.

Every image case is one parametrised test id, so a failure names the image. Each case compares
all three hashes and reports which one differs, with both hex strings.
"""

from __future__ import annotations

import functools
import glob
import gzip
import os
from pathlib import Path
from typing import Callable

import imagehash
import numpy as np
import PIL
import pytest
from conftest import MISSING_DATA, main_thread_ran_during
from imgstats import _imgstats
from imgstats.hashes import ahash, dhash, hash_from_hex, hash_hex, hashes, phash
from PIL import Image, ImageDraw

# Pillow 13 changed the LANCZOS pass order for tall images; the reference must be the same major.
pytestmark = pytest.mark.skipif(
    int(PIL.__version__.split(".")[0]) != 13, reason="bit-exact reference is Pillow 13"
)


def _reference(im: Image.Image) -> tuple[str, str, str]:
    return str(imagehash.phash(im)), str(imagehash.dhash(im)), str(imagehash.average_hash(im))


def _assert_same(ours: tuple[int, int, int], im: Image.Image) -> None:
    ref = _reference(im)
    got = tuple(hash_hex(h) for h in ours)
    diffs = [
        f"{name}: ours {g} imagehash {r} ({bin(int(g, 16) ^ int(r, 16)).count('1')} bits)"
        for name, g, r in zip(("phash", "dhash", "ahash"), got, ref)
        if g != r
    ]
    assert not diffs, "; ".join(diffs)


# --------------------------------------------------------------------------- synthetic images


def _noise(seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 400, 2))
    return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))


def _gradient(kind: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(100 + seed)
    h, w = (int(v) for v in rng.integers(2, 300, 2))
    if kind == "h":
        a = np.tile(np.linspace(0, 255, w).astype(np.uint8), (h, 1))
    elif kind == "v":
        a = np.tile(np.linspace(0, 255, h).astype(np.uint8)[:, None], (1, w))
    else:
        a = ((np.arange(h)[:, None] * 3 + np.arange(w)[None, :] * 5) % 256).astype(np.uint8)
    return Image.fromarray(a)


def _shapes(seed: int) -> Image.Image:
    rng = np.random.default_rng(200 + seed)
    w, h = (int(v) for v in rng.integers(10, 300, 2))
    mode = ("L", "RGB")[seed % 2]

    def fill() -> int | tuple[int, ...]:
        if mode == "L":
            return int(rng.integers(256))
        return tuple(int(v) for v in rng.integers(0, 256, 3))

    im = Image.new(mode, (w, h), fill())
    d = ImageDraw.Draw(im)
    for i in range(3):
        x0, y0 = int(rng.integers(w)), int(rng.integers(h))
        box = [x0, y0, x0 + int(rng.integers(1, w)), y0 + int(rng.integers(1, h))]
        (d.ellipse, d.rectangle)[i % 2](box, fill=fill())
    return im


def _centred_disc(size: int) -> Image.Image:
    # Symmetric: many DCT coefficients are exactly zero, where ties decide phash bits.
    im = Image.new("L", (size, size), 0)
    ImageDraw.Draw(im).ellipse([size // 4, size // 4, 3 * size // 4 - 1, 3 * size // 4 - 1], 255)
    return im


def _sized_noise(w: int, h: int, seed: int = 7) -> Image.Image:
    rng = np.random.default_rng(seed * 1000 + w * 7 + h)
    return Image.fromarray(rng.integers(0, 256, (h, w), dtype=np.uint8))


def _rgb_noise(mode: str, seed: int) -> Image.Image:
    rng = np.random.default_rng(300 + seed)
    h, w = (int(v) for v in rng.integers(5, 200, 2))
    bands = len(mode)
    return Image.fromarray(rng.integers(0, 256, (h, w, bands), dtype=np.uint8), mode)


def _palette(seed: int) -> Image.Image:
    return _rgb_noise("RGB", seed).quantize(16)


def _bilevel(seed: int) -> Image.Image:
    return _noise(400 + seed).convert("1")


def _i16(seed: int) -> Image.Image:
    # 16-bit input: convert("L") clips at 255; whatever it does, we must match it.
    rng = np.random.default_rng(500 + seed)
    return Image.fromarray(rng.integers(0, 600, (50, 70), dtype=np.uint16))


SYNTHETIC: dict[str, Callable[[], Image.Image]] = {}
for _i in range(40):
    SYNTHETIC[f"noise{_i}"] = functools.partial(_noise, _i)
for _k in ("h", "v", "d"):
    for _i in range(20):
        SYNTHETIC[f"grad_{_k}{_i}"] = functools.partial(_gradient, _k, _i)
for _i in range(40):
    SYNTHETIC[f"shapes{_i}"] = functools.partial(_shapes, _i)
for _v in (0, 1, 127, 128, 255):
    SYNTHETIC[f"const{_v}"] = functools.partial(Image.new, "L", (61, 47), _v)
SYNTHETIC["const_rgb"] = functools.partial(Image.new, "RGB", (40, 30), (10, 200, 30))
for _s in (8, 32, 64, 101):
    SYNTHETIC[f"disc{_s}"] = functools.partial(_centred_disc, _s)
for _w, _h in [(1, 1), (2, 2), (9, 8), (8, 9), (8, 8), (7, 5), (5, 7), (32, 32), (31, 33),
               (1, 100), (100, 1), (3, 64)]:  # fmt: skip
    SYNTHETIC[f"tiny{_w}x{_h}"] = functools.partial(_sized_noise, _w, _h)
for _w, _h in [(37, 1000), (1000, 23), (13, 2000), (2000, 17), (64, 640), (640, 64), (300, 299)]:
    SYNTHETIC[f"long{_w}x{_h}"] = functools.partial(_sized_noise, _w, _h)
for _m in ("RGB", "RGBA"):
    for _i in range(6):
        SYNTHETIC[f"{_m.lower()}{_i}"] = functools.partial(_rgb_noise, _m, _i)
for _i in range(4):
    SYNTHETIC[f"palette{_i}"] = functools.partial(_palette, _i)
    SYNTHETIC[f"bilevel{_i}"] = functools.partial(_bilevel, _i)
SYNTHETIC["i16"] = functools.partial(_i16, 0)
SYNTHETIC["la"] = lambda: _rgb_noise("RGBA", 9).convert("LA")


@pytest.mark.parametrize("name", sorted(SYNTHETIC))
def test_synthetic_matches_imagehash(name: str) -> None:
    im = SYNTHETIC[name]()
    _assert_same(hashes(im), im)


# --------------------------------------------------------------------------- real images


def _photo_paths() -> list[str]:
    """The smallest file of each wallpaper theme and a few backgrounds (decode cost stays low)."""
    picks = []
    for theme in sorted(glob.glob("/usr/share/wallpapers/*/contents")):
        files = [
            f
            for f in glob.glob(os.path.join(theme, "**", "*"), recursive=True)
            if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))
        ]
        if files:
            picks.append(min(files, key=os.path.getsize))
    for folder in ("/usr/share/backgrounds/mate", "/usr/share/backgrounds/gnome"):
        files = sorted(
            f
            for f in glob.glob(os.path.join(folder, "**", "*"), recursive=True)
            if f.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))
        )
        picks.extend(files[:: max(1, len(files) // 5)][:5])
    return picks


PHOTOS = _photo_paths()


@pytest.mark.parametrize(
    "path", PHOTOS or [None], ids=lambda p: "missing" if p is None else p.split("/share/")[-1]
)
def test_photo_matches_imagehash(path: str | None) -> None:
    assert path is not None, MISSING_DATA
    with Image.open(path) as im:
        im.load()
        _assert_same(hashes(im), im)


def _fashion_mnist(n: int) -> list[np.ndarray]:
    path = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
    if not os.path.exists(path):
        return []
    with gzip.open(path, "rb") as f:
        raw = f.read(16 + 28 * 28 * n)
    return list(np.frombuffer(raw, np.uint8, offset=16).reshape(n, 28, 28))


MNIST = _fashion_mnist(40)


@pytest.mark.parametrize("index", range(len(MNIST)) or [-1])
def test_fashion_mnist_matches_imagehash(index: int) -> None:
    assert MNIST, MISSING_DATA
    arr = MNIST[index]
    _assert_same(hashes(arr), Image.fromarray(arr))


# --------------------------------------------------------------------------- input kinds


@pytest.mark.parametrize("shape", [(40, 30), (40, 30, 3), (40, 30, 4), (1, 1, 3)])
def test_numpy_inputs_are_fromarray_convert_l(shape: tuple[int, ...]) -> None:
    arr = np.random.default_rng(sum(shape)).integers(0, 256, shape, dtype=np.uint8)
    _assert_same((phash(arr), dhash(arr), ahash(arr)), Image.fromarray(arr))


def test_non_contiguous_array_is_accepted() -> None:
    arr = np.random.default_rng(1).integers(0, 256, (60, 80), dtype=np.uint8)[::2, ::3]
    assert not arr.flags.c_contiguous
    _assert_same(hashes(arr), Image.fromarray(np.ascontiguousarray(arr)))


@pytest.mark.parametrize("dtype", [np.float32, np.uint16, np.int64, np.bool_])
def test_other_dtypes_raise_type_error(dtype: type) -> None:
    with pytest.raises(TypeError, match="uint8"):
        phash(np.zeros((8, 8), dtype=dtype))


@pytest.mark.parametrize("shape", [(8,), (8, 8, 2), (8, 8, 5), (2, 8, 8, 3)])
def test_bad_shapes_raise(shape: tuple[int, ...]) -> None:
    with pytest.raises(TypeError, match="array"):
        dhash(np.zeros(shape, dtype=np.uint8))


def test_unsupported_input_type() -> None:
    with pytest.raises(TypeError, match="PIL image"):
        ahash(12345)  # type: ignore[arg-type]


def test_empty_array_raises_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        phash(np.zeros((0, 5), dtype=np.uint8))


def test_paths_ignore_exif_orientation(tmp_path: Path) -> None:
    """A JPEG tagged 'rotate 90°' hashes like imagehash on Image.open, not like the upright view."""
    rng = np.random.default_rng(3)
    im = Image.fromarray(rng.integers(0, 256, (60, 90, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    im.save(path, exif=exif, quality=90)
    with Image.open(path) as stored:
        stored.load()
        _assert_same(hashes(path), stored)
        _assert_same(hashes(str(path)), stored)
        upright = stored.transpose(Image.Transpose.ROTATE_270)
    assert hashes(path) != tuple(int(h, 16) for h in _reference(upright))


def test_png_path_matches_pil_image(tmp_path: Path) -> None:
    im = _palette(5)
    path = tmp_path / "p.png"
    im.save(path)
    with Image.open(path) as stored:
        assert stored.mode == "P"
        _assert_same((phash(path), dhash(path), ahash(path)), stored)


# --------------------------------------------------------------------------- golden behaviour


def test_constant_image_golden_values() -> None:
    gray = Image.new("L", (33, 21), 90)
    assert [hash_hex(h) for h in hashes(gray)] == [
        "8000000000000000",
        "0000000000000000",
        "0000000000000000",
    ]
    assert hashes(Image.new("L", (5, 5), 0)) == (0, 0, 0)


def test_phash_has_dc_bit_and_half_the_bits_on_noise() -> None:
    for seed in range(10):
        h = phash(_noise(seed))
        assert h >> 63 == 1
        assert bin(h).count("1") == 32


def test_hamming_distance_equals_imagehash_difference() -> None:
    a, b = _noise(1), _noise(2)
    assert bin(phash(a) ^ phash(b)).count("1") == imagehash.phash(a) - imagehash.phash(b)


def test_hash_hex_roundtrip_and_padding() -> None:
    assert hash_hex(1) == "0000000000000001"
    assert hash_hex(np.uint64(2**64 - 1)) == "ffffffffffffffff"
    assert hash_hex(0xBA8C84536BD3C366) == "ba8c84536bd3c366"
    for h in (0, 1, 0x8000000000000000, 0x0026273B2B19550E, 2**64 - 1):
        assert hash_from_hex(hash_hex(h)) == h
    assert hash_from_hex("FFD7918181C9FFFF") == 0xFFD7918181C9FFFF
    assert hash_from_hex(str(imagehash.hex_to_hash("ffd7918181c9ffff"))) == 0xFFD7918181C9FFFF


@pytest.mark.parametrize("bad", [-1, 2**64])
def test_hash_hex_range(bad: int) -> None:
    with pytest.raises(ValueError):
        hash_hex(bad)


@pytest.mark.parametrize("bad", ["", "0x12", "-1", "1_0", "g" * 16, "1" * 17])
def test_hash_from_hex_rejects(bad: str) -> None:
    with pytest.raises(ValueError):
        hash_from_hex(bad)


def test_batch_binding_matches_single() -> None:
    arrays = [np.asarray(SYNTHETIC[n]().convert("L")) for n in ("noise3", "grad_h2", "tiny7x5")]
    batch = _imgstats._hashes_l8_batch(arrays)
    assert batch.dtype == np.uint64 and batch.shape == (3, 3)
    assert [tuple(int(v) for v in row) for row in batch] == [
        _imgstats._hashes_l8(a) for a in arrays
    ]


# --------------------------------------------------------------------------- LANCZOS resize


def _resize_cases() -> list[tuple[int, int, int, int]]:
    rng = np.random.default_rng(11)
    cases = [
        (1, 1, 8, 8), (7, 5, 32, 32), (8, 8, 8, 8), (9, 8, 9, 8), (37, 1000, 32, 32),
        (1000, 23, 9, 8), (13, 2000, 8, 8), (2000, 17, 32, 32), (640, 480, 32, 32),
        (100, 300, 50, 40), (300, 100, 40, 50), (50, 50, 49, 51), (33, 200, 8, 8),
        (200, 33, 8, 8), (10, 10, 100, 37), (3, 300, 200, 5), (64, 64, 64, 8), (64, 64, 8, 64),
        (123, 457, 500, 7), (500, 375, 9, 8),
        # Either side of Pillow 13's pass-order rule (vertical first iff dH > 0 and dH > 2 dW);
        # each of these gives different pixels in the other order.
        (100, 100, 90, 80), (100, 100, 90, 79), (10, 100, 50, 90), (31, 97, 30, 94),
        (31, 97, 30, 95), (200, 100, 150, 1),
    ]  # fmt: skip
    for _ in range(100):
        sw, sh, dw, dh = (int(v) for v in rng.integers(1, 260, 4))
        cases.append((sw, sh, dw, dh))
    return cases


@pytest.mark.parametrize("sw,sh,dw,dh", _resize_cases())
def test_resize_matches_pillow(sw: int, sh: int, dw: int, dh: int) -> None:
    rng = np.random.default_rng(sw * 7919 + sh * 31 + dw * 7 + dh)
    kind = (sw + sh + dw + dh) % 3
    if kind == 0:
        src = rng.integers(0, 256, (sh, sw), dtype=np.uint8)
    elif kind == 1:  # hard edges: overshoot of the negative lobes gets clipped
        src = np.where(rng.random((sh, sw)) < 0.5, 0, 255).astype(np.uint8)
    else:
        src = (np.add.outer(np.arange(sh) * 3, np.arange(sw) * 5) % 256).astype(np.uint8)
    ours = _imgstats._resize_lanczos_l8(src, dw, dh)
    ref = np.asarray(Image.fromarray(src).resize((dw, dh), Image.Resampling.LANCZOS))
    assert ours.shape == ref.shape
    bad = np.argwhere(ours != ref)
    assert bad.size == 0, f"{len(bad)} pixels differ, first at {tuple(bad[0])}"


def test_gil_is_released_during_hashing() -> None:
    """While a worker thread hashes in Rust, this thread runs Python: proved by the order of
    events (see `main_thread_ran_during`), not by timing."""
    big = np.random.default_rng(0).integers(0, 256, (2000, 2000), dtype=np.uint8)
    ran_during, out = main_thread_ran_during(lambda: _imgstats._hashes_l8_batch([big] * 48))
    assert ran_during, "the main thread could only run after the batch call returned"
    assert out.shape == (48, 3) and len({tuple(r) for r in out.tolist()}) == 1
