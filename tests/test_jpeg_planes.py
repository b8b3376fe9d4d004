"""Full-size YCbCr JPEGs are decoded to their Y/Cb/Cr planes (no RGB buffer) and every pixel
column is computed from exact libjpeg RGB rows made from them. The independent reference: Pillow
decodes the same JPEG to RGB, the pixels are saved losslessly as PNG (same EXIF orientation), and
the PNG goes through the plain RGB path. Every pixel statistic and hash must be identical, bit for
bit, on every chroma sampling Pillow writes, odd sizes, progressive and restart-marker files,
grayscale and CMYK (which keep their own paths), EXIF-rotated files and the Debian wallpapers.
(4:4:0 is covered by the Rust tests, which write it with libjpeg-turbo.)"""

from __future__ import annotations

import io
import math
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import photo_like, random_rgb, scan_paths_ok
from PIL import Image

# Columns that describe the file rather than its pixels.
FILE_COLUMNS = {"path", "format", "file_size", "content_hash", "jpeg_quality", "error", "channels"}


def colourful(h: int, w: int, seed: int) -> np.ndarray:
    """A photo-like picture with saturated patches (clamping in the YCbCr→RGB conversion) and
    noise (chroma edges everywhere)."""
    img = photo_like(h, w, seed=seed).astype(np.int32)
    img[: h // 3, : w // 3] = [255, 10, 0]
    img[h // 2 :, w // 2 :] = [0, 30, 250]
    img[h // 3 : h // 2] += random_rgb(h // 2 - h // 3, w, seed=seed)[..., :3] // 4
    return img.clip(0, 255).astype(np.uint8)


def write_pair(tmp: Path, name: str, im: Image.Image, **jpeg: Any) -> tuple[Path, Path]:
    """`name.jpg` saved with `jpeg` options, and `name.png`: Pillow's decode of that JPEG."""
    jpg = tmp / f"{name}.jpg"
    im.save(jpg, "JPEG", **jpeg)
    with Image.open(jpg) as decoded:
        decoded.load()
        exif = decoded.info.get("exif")
        pixels = decoded.convert("RGB") if decoded.mode == "CMYK" else decoded.copy()
    png = tmp / f"{name}.png"
    pixels.save(png, "PNG", compress_level=1, **({"exif": exif} if exif else {}))
    return jpg, png


def assert_same_pixels(pairs: list[tuple[Path, Path]]) -> None:
    paths = [p for pair in pairs for p in pair]
    rows = scan_paths_ok(paths)
    by_path = {r["path"]: r for r in rows}
    for jpg, png in pairs:
        a, b = by_path[str(jpg)], by_path[str(png)]
        assert a["format"] == "jpeg" and b["format"] == "png"
        diff = {
            k: (a[k], b[k])
            for k in a
            if k not in FILE_COLUMNS
            and a[k] != b[k]
            and not (isinstance(a[k], float) and math.isnan(a[k]) and math.isnan(b[k]))
        }
        # Everything else (size, bit depth, EXIF, every pixel column) must match.
        assert not diff, f"{jpg.name}: {diff}"


SAMPLINGS = {"444": "4:4:4", "422": "4:2:2", "420": "4:2:0"}


@pytest.mark.parametrize("sampling", list(SAMPLINGS))
@pytest.mark.parametrize("size", [(64, 48), (67, 45), (5, 7), (3, 9), (321, 203)])
def test_planar_jpeg_pixels_equal_pillows_rgb(
    tmp_path: Path, sampling: str, size: tuple[int, int]
) -> None:
    w, h = size
    im = Image.fromarray(colourful(h, w, seed=w * h))
    pairs = [
        write_pair(tmp_path, "base", im, subsampling=SAMPLINGS[sampling], quality=90),
        write_pair(tmp_path, "prog", im, subsampling=SAMPLINGS[sampling], progressive=True),
        write_pair(tmp_path, "rst", im, subsampling=SAMPLINGS[sampling], restart_marker_rows=1),
    ]
    assert_same_pixels(pairs)


def test_gray_cmyk_and_rotated_jpegs(tmp_path: Path) -> None:
    im = Image.fromarray(colourful(150, 233, seed=5))
    pairs = [
        write_pair(tmp_path, "gray", im.convert("L")),
        write_pair(tmp_path, "cmyk", im.convert("CMYK")),
        # Pixels with no colour at all: pixel_hash falls back to luma on both paths.
        write_pair(tmp_path, "neutral", im.convert("L").convert("RGB"), subsampling="4:4:4"),
    ]
    for orientation in (3, 6, 8):
        exif = Image.Exif()
        exif[0x0112] = orientation
        pairs.append(write_pair(tmp_path, f"rot{orientation}", im, exif=exif.tobytes()))
    assert_same_pixels(pairs)


WALLPAPERS = [Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds")]


def wallpaper_jpegs() -> list[Path]:
    """Debian wallpaper JPEGs: for each chroma sampling and progressive/baseline, the smallest
    file (400-px previews) and the smallest full-size one (over 2 megapixels)."""
    found: list[Path] = []
    for root in WALLPAPERS:
        for dirpath, _dirs, names in os.walk(root):
            found += [Path(dirpath) / n for n in names if n.lower().endswith((".jpg", ".jpeg"))]
    found = sorted({p.resolve() for p in found if p.is_file()}, key=lambda p: p.stat().st_size)
    chosen: dict[Any, Path] = {}
    for p in found:
        with Image.open(p) as im:
            sampling = tuple(tuple(x[1:3]) for x in getattr(im, "layer", []))
            big = im.width * im.height > 2_000_000
            chosen.setdefault((sampling, "progressive" in im.info, big), p)
    return list(chosen.values())


def test_debian_wallpapers(tmp_path: Path) -> None:
    jpegs = wallpaper_jpegs()
    if not jpegs:
        pytest.skip("no Debian wallpapers installed (see ../shared/DATA.md)")
    pairs = []
    for i, src in enumerate(jpegs):
        jpg = tmp_path / f"w{i}.jpg"
        jpg.write_bytes(src.read_bytes())
        with Image.open(jpg) as decoded:
            pixels = decoded.convert("RGB") if decoded.mode == "CMYK" else decoded.copy()
            exif = decoded.info.get("exif")
        png = tmp_path / f"w{i}.png"
        pixels.save(png, "PNG", compress_level=1, **({"exif": exif} if exif else {}))
        pairs.append((jpg, png))
    assert_same_pixels(pairs)


def test_jpeg_bytes_round_trip_through_memory() -> None:
    """Bytes input takes the same planar path as files (a smoke test of the in-memory source)."""
    import imgstats

    buf = io.BytesIO()
    Image.fromarray(colourful(40, 50, seed=9)).save(buf, "JPEG", subsampling="4:2:0")
    df = imgstats.scan([buf.getvalue()])
    assert df["error"][0] is None and df["colorfulness"][0] > 0
