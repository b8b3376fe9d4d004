"""`imgstats.scan` header and metadata columns for every container and mode, EXIF orientation,
`metrics=` selection, and every kind of input (directory, glob, file, list, bytes, Series,
streaming to Parquet)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any, Callable

import cv2
import imagehash
import imgstats
import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from conftest import (
    ImageWriter,
    hamming,
    hex64,
    photo_like,
    pillow_luma,
    random_rgb,
    scan_ok,
    scan_paths_ok,
    scan_rows,
)
from imgstats.scan import DEFAULT_METRICS
from PIL import Image, ImageOps
from polars.testing import assert_frame_equal

HEADER_COLUMNS = [
    "path",
    "error",
    "format",
    "width",
    "height",
    "channels",
    "bit_depth",
    "has_alpha",
    "file_size",
]


# --------------------------------------------------------------------------------------------
# Header columns per container and mode
# --------------------------------------------------------------------------------------------

PHOTO = photo_like(45, 70, seed=1)  # 70 wide, 45 high: width and height cannot be swapped


def _img(mode: str) -> Image.Image:
    return Image.fromarray(PHOTO).convert(mode)


def _with_alpha() -> Image.Image:
    rgba = _img("RGBA")
    rgba.putalpha(Image.fromarray(random_rgb(45, 70, seed=2)[..., 0]))
    return rgba


def _p_transparent() -> Image.Image:
    p = _img("P")
    p.info["transparency"] = 0
    return p


def _i16() -> Image.Image:
    return Image.fromarray(PHOTO[..., 0].astype(np.uint16) * 257)


# (name, file name, image factory, save kwargs, format, channels, bit_depth, has_alpha)
FORMAT_CASES: list[tuple[str, str, Callable[[], Image.Image], dict, str, int, int, bool]] = [
    ("png-L", "a.png", lambda: _img("L"), {}, "png", 1, 8, False),
    ("png-LA", "a.png", lambda: _img("LA"), {}, "png", 2, 8, True),
    ("png-RGB", "a.png", lambda: _img("RGB"), {}, "png", 3, 8, False),
    ("png-RGBA", "a.png", _with_alpha, {}, "png", 4, 8, True),
    # Palette images are reported as what they expand to (RGB, or RGBA with a tRNS chunk).
    ("png-P", "a.png", lambda: _img("P"), {}, "png", 3, 8, False),
    ("png-P-tRNS", "a.png", _p_transparent, {}, "png", 4, 8, True),
    ("png-I;16", "a.png", _i16, {}, "png", 1, 16, False),
    # Sub-byte gray is reported as stored, though decoded (and measured) as 8-bit.
    ("png-1bit", "a.png", lambda: _img("1"), {}, "png", 1, 1, False),
    ("png-L-4bit", "a.png", lambda: _img("L"), {"bits": 4}, "png", 1, 4, False),
    ("jpeg-RGB", "a.jpg", lambda: _img("RGB"), {"quality": 90}, "jpeg", 3, 8, False),
    ("jpeg-L", "a.jpg", lambda: _img("L"), {"quality": 90}, "jpeg", 1, 8, False),
    ("jpeg-CMYK", "a.jpg", lambda: _img("CMYK"), {"quality": 90}, "jpeg", 4, 8, False),
    ("jpeg-progressive", "a.jpg", lambda: _img("RGB"), {"progressive": True}, "jpeg", 3, 8, False),
    (
        "jpeg-444-q100",
        "a.jpg",
        lambda: _img("RGB"),
        {"quality": 100, "subsampling": 0},
        "jpeg",
        3,
        8,
        False,
    ),
    ("webp-lossy", "a.webp", lambda: _img("RGB"), {"quality": 80}, "webp", 3, 8, False),
    ("webp-lossless", "a.webp", lambda: _img("RGB"), {"lossless": True}, "webp", 3, 8, False),
    ("webp-lossless-RGBA", "a.webp", _with_alpha, {"lossless": True}, "webp", 4, 8, True),
    ("bmp-RGB", "a.bmp", lambda: _img("RGB"), {}, "bmp", 3, 8, False),
    ("tiff-RGB", "a.tif", lambda: _img("RGB"), {}, "tiff", 3, 8, False),
    ("tiff-RGBA", "a.tiff", _with_alpha, {}, "tiff", 4, 8, True),
    ("tiff-L", "a.tif", lambda: _img("L"), {}, "tiff", 1, 8, False),
    ("tiff-I;16", "a.tif", _i16, {}, "tiff", 1, 16, False),
    (
        "tiff-deflate",
        "a.tif",
        lambda: _img("RGB"),
        {"compression": "tiff_adobe_deflate"},
        "tiff",
        3,
        8,
        False,
    ),
    # GIF: RGB, or RGBA when the first frame has a transparent index.
    ("gif-P", "a.gif", lambda: _img("P"), {}, "gif", 3, 8, False),
    # (optimize=False, else Pillow remaps the palette and drops the transparent index)
    (
        "gif-P-transparent",
        "a.gif",
        lambda: _img("P"),
        {"transparency": 0, "optimize": False},
        "gif",
        4,
        8,
        True,
    ),
    ("pgm", "a.pgm", lambda: _img("L"), {}, "pnm", 1, 8, False),
    ("ppm", "a.ppm", lambda: _img("RGB"), {}, "pnm", 3, 8, False),
    ("pbm", "a.pbm", lambda: _img("1"), {}, "pnm", 1, 1, False),
]


@pytest.mark.parametrize(
    ("name", "make", "kw", "fmt", "channels", "bit_depth", "has_alpha"),
    [c[1:] for c in FORMAT_CASES],
    ids=[c[0] for c in FORMAT_CASES],
)
def test_header_columns_per_format_and_mode(
    images: ImageWriter,
    name: str,
    make: Callable[[], Image.Image],
    kw: dict,
    fmt: str,
    channels: int,
    bit_depth: int,
    has_alpha: bool,
) -> None:
    p = images.save(name, make(), **kw)
    row = scan_ok(p)
    got = (row["format"], row["width"], row["height"], row["channels"], row["bit_depth"])
    assert got == (fmt, 70, 45, channels, bit_depth)
    assert row["has_alpha"] is has_alpha
    assert row["file_size"] == os.path.getsize(p)
    if not has_alpha and Image.open(p).mode != "I;16":
        # Same decode as Pillow (libjpeg-turbo, libwebp, ...): statistics agree exactly.
        luma = pillow_luma(p)
        assert row["brightness"] == pytest.approx(float(luma.mean()), rel=1e-6)
        assert row["blur"] == pytest.approx(float(cv2.Laplacian(luma, cv2.CV_64F).var()), rel=1e-6)


def test_png_bytes_named_jpg_are_measured_as_png(images: ImageWriter) -> None:
    p = images.save("really_a_png.jpg", PHOTO, format="PNG")
    row = scan_ok(p)
    assert row["format"] == "png" and row["jpeg_quality"] is None


# --------------------------------------------------------------------------------------------
# EXIF: camera, capture time, orientation
# --------------------------------------------------------------------------------------------


def exif(orientation: int | None = None, **tags: Any) -> Image.Exif:
    ex = Image.Exif()
    if "make" in tags:
        ex[0x010F] = tags["make"]
    if "model" in tags:
        ex[0x0110] = tags["model"]
    if orientation is not None:
        ex[0x0112] = orientation
    if "taken" in tags:
        ex[0x8769] = {0x9003: tags["taken"]}  # Exif sub-IFD, DateTimeOriginal
    return ex


@pytest.mark.parametrize(
    ("ext", "kw"), [("jpg", {"quality": 90}), ("png", {}), ("webp", {"lossless": True})]
)
def test_exif_fields(images: ImageWriter, ext: str, kw: dict) -> None:
    ex = exif(3, make="Canon", model="EOS 5D Mark IV", taken="2021:05:06 07:08:09")
    p = images.save(f"cam.{ext}", PHOTO, exif=ex, **kw)
    plain = images.save(f"plain.{ext}", PHOTO, **kw)
    df = imgstats.scan([str(p), str(plain)])
    assert df.schema["captured_at"] == pl.Datetime("us")
    assert df.schema["orientation"] == pl.UInt8
    cam, no_exif = df.to_dicts()
    assert cam["camera_make"] == "Canon"
    assert cam["camera_model"] == "EOS 5D Mark IV"
    assert cam["captured_at"] == dt.datetime(2021, 5, 6, 7, 8, 9)
    assert cam["orientation"] == 3
    for k in ("camera_make", "camera_model", "captured_at", "orientation"):
        assert no_exif[k] is None


def test_placeholder_capture_time_is_null(images: ImageWriter) -> None:
    p = images.save("zero.jpg", PHOTO, exif=exif(1, taken="0000:00:00 00:00:00"))
    assert scan_ok(p)["captured_at"] is None


@pytest.mark.parametrize("bad", [0, 9, 300])
def test_out_of_range_orientation_is_ignored(images: ImageWriter, bad: int) -> None:
    row = scan_ok(images.save("odd.jpg", PHOTO, exif=exif(bad, make="X")))
    assert row["orientation"] is None and row["camera_make"] == "X"
    assert (row["width"], row["height"]) == (70, 45)


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_orientation_swaps_size_and_hashes_like_the_displayed_picture(
    images: ImageWriter, ext: str, orientation: int
) -> None:
    """Hashes describe the picture as displayed: equal to imagehash of Pillow's exif_transpose
    (bit-exact here: short side < 128, no reduced decode)."""
    p = images.save(f"o{orientation}.{ext}", PHOTO, exif=exif(orientation), quality=95)
    row = scan_ok(p)
    assert row["orientation"] == orientation
    expected_size = (45, 70) if orientation >= 5 else (70, 45)
    assert (row["width"], row["height"]) == expected_size
    with Image.open(p) as im:
        shown = ImageOps.exif_transpose(im)
        assert shown.size == expected_size
        assert hex64(row["phash"]) == str(imagehash.phash(shown))
        assert hex64(row["dhash"]) == str(imagehash.dhash(shown))
        assert hex64(row["ahash"]) == str(imagehash.average_hash(shown))


@pytest.mark.parametrize(
    "size", [(60, 80), (300, 400), (768, 1024)], ids=["small", "medium", "large"]
)
@pytest.mark.parametrize("orientation", [6, 8, 3])
def test_photo_and_its_rotated_resave_measure_alike(
    images: ImageWriter, size: tuple[int, int], orientation: int
) -> None:
    """A lossless photo tagged with an orientation vs the same photo rotated physically and
    saved without the tag: every statistic equal; hashes equal up to 2 bits when the hash
    plane is box-reduced (the reduction blocks fall differently after rotation)."""
    h, w = size
    tagged = images.save("tagged.png", photo_like(h, w, seed=7), exif=exif(orientation))
    with Image.open(tagged) as im:
        rotated = images.save("rotated.png", ImageOps.exif_transpose(im))
    a, b = scan_paths_ok([tagged, rotated])
    assert (a["width"], a["height"]) == (b["width"], b["height"])
    for k in ("blur", "noise", "brightness", "contrast", "entropy", "colorfulness", "sharpness"):
        assert a[k] == pytest.approx(b[k], rel=1e-6), k
    reduced = min(size) >= 128
    for k in ("phash", "dhash", "ahash"):
        d = hamming(hex64(a[k]), hex64(b[k]))
        assert d <= (2 if reduced else 0), (k, d)


def test_jpeg_and_its_rotated_resave_hash_alike(images: ImageWriter) -> None:
    # JPEG re-encoding is lossy, so only the robust quantities are compared.
    tagged = images.save("t.jpg", photo_like(768, 1024, seed=8), exif=exif(6), quality=95)
    with Image.open(tagged) as im:
        rotated = images.save("r.jpg", ImageOps.exif_transpose(im), quality=95)
    a, b = scan_paths_ok([tagged, rotated])
    assert (a["width"], a["height"]) == (b["width"], b["height"]) == (768, 1024)
    assert a["brightness"] == pytest.approx(b["brightness"], abs=0.5)
    for k in ("phash", "dhash", "ahash"):
        assert hamming(hex64(a[k]), hex64(b[k])) <= 2, k


def test_pixel_hash_follows_orientation(images: ImageWriter) -> None:
    tagged = images.save("tagged.png", photo_like(60, 80, seed=9), exif=exif(6))
    with Image.open(tagged) as im:
        rotated = images.save("rotated.png", ImageOps.exif_transpose(im))
    a, b = scan_paths_ok([tagged, rotated], metrics=["pixel_hash"])
    assert a["pixel_hash"] == b["pixel_hash"]


def test_tiff_orientation_is_applied(images: ImageWriter) -> None:
    p = images.save("o6.tif", PHOTO, exif=exif(6, make="Canon"))
    row = scan_ok(p)
    assert (row["orientation"], row["width"], row["height"]) == (6, 45, 70)


# --------------------------------------------------------------------------------------------
# metrics=
# --------------------------------------------------------------------------------------------

METRIC_COLUMNS = {
    "exif": ["orientation", "camera_make", "camera_model", "captured_at"],
    "phash_dihedral": [
        f"phash_{t}"
        for t in ("hflip", "vflip", "rot90", "rot180", "rot270", "transpose", "transverse")
    ],
    "dhash_dihedral": [
        f"dhash_{t}"
        for t in ("hflip", "vflip", "rot90", "rot180", "rot270", "transpose", "transverse")
    ],
    "crop_hash": ["crop_hash", "crop_boxes", "crop_thumb"],
}


def columns_for(metrics: list[str]) -> list[str]:
    cols = list(HEADER_COLUMNS)
    for m in imgstats.METRICS:  # column order follows METRICS, not the request
        if m in metrics:
            cols += METRIC_COLUMNS.get(m, [m])
    return cols


@pytest.mark.parametrize(
    "metrics",
    [
        [],
        ["brightness"],
        ["phash", "dhash"],
        ["exif"],
        ["blur", "noise", "jpeg_quality"],
        ["ahash", "content_hash", "pixel_hash", "is_grayscale"],
        list(imgstats.METRICS),
    ],
    ids=lambda m: "+".join(m) or "none",
)
def test_only_requested_columns_appear(images: ImageWriter, metrics: list[str]) -> None:
    p = images.save("a.jpg", PHOTO, exif=exif(6, make="X"))
    df = imgstats.scan([str(p)], metrics=metrics)
    assert df.columns == columns_for(metrics)
    row = df.row(0, named=True)
    assert row["error"] is None
    assert all(
        row[c] is not None for c in df.columns if c not in {"error", "camera_model", "captured_at"}
    )


def test_default_is_every_metric_but_the_opt_in_ones(images: ImageWriter) -> None:
    p = images.save("a.png", PHOTO)
    assert imgstats.scan(str(p)).columns == columns_for(list(DEFAULT_METRICS))
    assert set(imgstats.METRICS) - set(DEFAULT_METRICS) == {"crop_hash"}


@pytest.mark.parametrize("bad", [["brightnes"], ["phash", "md5"], ["width"]])
def test_unknown_metric_raises(images: ImageWriter, bad: list[str]) -> None:
    p = images.save("a.png", PHOTO)
    with pytest.raises(ValueError, match="unknown metric"):
        imgstats.scan(str(p), metrics=bad)


def test_brightness_only_scan_of_large_jpeg_is_close(images: ImageWriter) -> None:
    """brightness alone decodes JPEG at 1/8 scale (block means): within 1 level of native."""
    paths = [
        images.save(f"big{i}.jpg", photo_like(900, 1200, seed=20 + i), quality=85) for i in range(3)
    ]
    paths.append(
        images.save("gray.jpg", Image.fromarray(photo_like(800, 1000, seed=30)).convert("L"))
    )
    full = scan_paths_ok(paths, metrics=None)
    fast = scan_paths_ok(paths, metrics=["brightness"])
    for f, q, p in zip(full, fast, paths):
        assert abs(f["brightness"] - q["brightness"]) <= 1.0, p
        assert f["brightness"] == pytest.approx(float(pillow_luma(p).mean()), rel=1e-6)


def test_analysis_size_changes_blur_resolution(images: ImageWriter) -> None:
    p = images.save("big.png", photo_like(960, 1280, seed=40))
    native = scan_ok(p, metrics=["blur", "sharpness"])
    at640 = scan_ok(p, metrics=["blur"], analysis_size=640)
    # sharpness is by definition blur at a 640-px long side.
    assert at640["blur"] == pytest.approx(native["sharpness"], rel=1e-9)
    assert at640["blur"] != pytest.approx(native["blur"], rel=0.05)
    with pytest.raises(ValueError):
        imgstats.scan(str(p), metrics=["blur"], analysis_size=0)


# --------------------------------------------------------------------------------------------
# Kinds of input
# --------------------------------------------------------------------------------------------


@pytest.fixture
def tree(images: ImageWriter) -> dict[str, Path]:
    """A small nested folder: images in several formats and cases, and non-image files."""
    files = {
        "a": images.save("data/a.png", random_rgb(10, 12, seed=1)),
        "b": images.save("data/sub/b.JPG", random_rgb(10, 12, seed=2)),
        "c": images.save("data/sub/deeper/c.webp", random_rgb(10, 12, seed=3), lossless=True),
        "d": images.save("data/sub/d.gif", random_rgb(10, 12, seed=4)),
        "e": images.save("data/z/e.tiff", random_rgb(10, 12, seed=5)),
        "f": images.save("data/f.jpeg", random_rgb(10, 12, seed=6)),
        "txt": images.write_bytes("data/notes.txt", b"not an image"),
        "json": images.write_bytes("data/sub/labels.json", b"{}"),
        "noext": images.write_bytes("data/README", b"readme"),
    }
    return files


IMAGE_KEYS = ["a", "b", "c", "d", "e", "f"]


def test_directory_is_recursive_filtered_and_sorted(tree: dict[str, Path]) -> None:
    root = tree["a"].parent
    rows = scan_rows(str(root))
    expected = sorted(str(tree[k]) for k in IMAGE_KEYS)
    assert [r["path"] for r in rows] == expected
    assert all(r["error"] is None for r in rows)
    assert scan_rows(root) == rows  # a pathlib.Path works the same


def test_directory_with_extensions_none_takes_every_file(tree: dict[str, Path]) -> None:
    rows = scan_rows(str(tree["a"].parent), extensions=None)
    assert len(rows) == len(tree)
    errors = {Path(r["path"]).name: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"notes.txt", "labels.json", "README"}
    assert all("not a recognised image format" in e for e in errors.values())


def test_glob(tree: dict[str, Path]) -> None:
    root = tree["a"].parent
    rows = scan_rows(str(root / "**" / "*.png"))
    assert [r["path"] for r in rows] == [str(tree["a"])]
    rows = scan_rows(str(root / "sub" / "*"))  # non-recursive; images only
    assert [r["path"] for r in rows] == sorted([str(tree["b"]), str(tree["d"])])


def test_single_file_and_list_keep_the_given_order(tree: dict[str, Path]) -> None:
    row = scan_rows(str(tree["c"]))
    assert [r["path"] for r in row] == [str(tree["c"])]
    order = [tree[k] for k in ("f", "a", "d")]
    rows = scan_rows([str(p) for p in order])
    assert [r["path"] for r in rows] == [str(p) for p in order]
    assert scan_rows(order) == rows  # pathlib.Path items


def test_list_with_a_directory_expands_it(tree: dict[str, Path]) -> None:
    rows = scan_rows([str(tree["a"]), str(tree["b"].parent / "deeper")])
    assert [r["path"] for r in rows] == [str(tree["a"]), str(tree["c"])]


def test_missing_source(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        imgstats.scan(str(tmp_path / "nope"))
    # Named in a list, a missing file is an error row, not an exception.
    rows = scan_rows([str(tmp_path / "nope.jpg")])
    assert rows[0]["error"].startswith("cannot read file")


def test_empty_directory_gives_an_empty_frame_with_the_schema(tmp_path: Path) -> None:
    df = imgstats.scan(str(tmp_path))
    assert df.height == 0
    assert df.columns == columns_for(list(DEFAULT_METRICS))
    assert imgstats.scan(str(tmp_path), metrics=["phash"]).columns == columns_for(["phash"])


def _drop_path(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("path")


def test_bytes_list_and_series_equal_path_scan(tree: dict[str, Path]) -> None:
    paths = [tree[k] for k in IMAGE_KEYS]
    blobs = [p.read_bytes() for p in paths]
    by_path = imgstats.scan([str(p) for p in paths])
    by_bytes = imgstats.scan(blobs)
    assert by_bytes["path"].to_list() == [f"<bytes #{i}>" for i in range(len(blobs))]
    assert_frame_equal(_drop_path(by_bytes), _drop_path(by_path))
    by_series = imgstats.scan(pl.Series("img", blobs, dtype=pl.Binary))
    assert_frame_equal(by_series, by_bytes)
    # Names stay global across batches.
    batched = imgstats.scan(blobs, batch_size=4)
    assert_frame_equal(batched, by_bytes)


def test_mixing_paths_and_bytes_is_refused(tree: dict[str, Path]) -> None:
    with pytest.raises(TypeError):
        imgstats.scan([str(tree["a"]), tree["a"].read_bytes()])


def test_output_parquet_streams_batches(images: ImageWriter) -> None:
    paths = [
        images.save(f"set/{i:02d}.{ext}", photo_like(20 + i, 30, seed=i), **kw)
        for i, (ext, kw) in enumerate([("png", {}), ("jpg", {"quality": 80}), ("webp", {})] * 10)
    ]
    paths.append(images.write_bytes("set/broken.png", b"\x89PNG\r\n\x1a\n garbage"))
    root = paths[0].parent
    in_memory = imgstats.scan(str(root))
    out = images.root / "out" / "stats.parquet"
    lazy = imgstats.scan(str(root), output=str(out), batch_size=7)
    assert isinstance(lazy, pl.LazyFrame)
    assert out.is_file()
    assert pq.ParquetFile(out).metadata.num_rows == len(paths) == 31  # a real Parquet file
    assert_frame_equal(lazy.collect(), in_memory)
    assert_frame_equal(pl.read_parquet(out), in_memory)
    # No temporary part files are left next to the output.
    assert sorted(x.name for x in out.parent.iterdir()) == ["stats.parquet"]


def test_output_parquet_with_no_inputs(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    out = tmp_path / "s.parquet"
    lazy = imgstats.scan(str(tmp_path / "empty"), output=out)
    assert lazy.collect().height == 0
    assert "phash" in lazy.collect_schema().names()
