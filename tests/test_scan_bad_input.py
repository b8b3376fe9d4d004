"""Bad input never stops a scan: each bad file is one row with a clear `error`, every good file
in the same scan is still measured, and nothing hangs, crashes or allocates a bomb's pixels."""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import zlib
from pathlib import Path
from typing import Any

import imgstats
import numpy as np
import pytest
from conftest import photo_like, pillow_luma, random_rgb, scan_rows
from PIL import Image

HANG_TIMEOUT_S = 30.0


def scan_within(source: Any, timeout: float = HANG_TIMEOUT_S, **kw: Any) -> list[dict[str, Any]]:
    """Scan in a daemon thread so that a hang fails the test instead of freezing the suite."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["rows"] = scan_rows(source, **kw)
        except BaseException as e:  # re-raised in the test thread
            out["exc"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        pytest.fail(f"scan did not finish within {timeout} s (hang)")
    if "exc" in out:
        raise out["exc"]
    return out["rows"]


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming(width: int, height: int) -> bytes:
    """A tiny, well-formed PNG whose header claims `width`×`height` RGB pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_claiming(width: int, height: int) -> bytes:
    """A real small JPEG with its frame header (SOF0) patched to claim another size."""
    buf = io.BytesIO()
    Image.fromarray(random_rgb(16, 16, seed=1)).save(buf, "JPEG", quality=90)
    data = bytearray(buf.getvalue())
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(random_rgb(4, 4, seed=2)).save(buf, "GIF")
    data = bytearray(buf.getvalue())
    data[6:10] = struct.pack("<HH", width, height)  # logical screen size
    return bytes(data)


def encoded(fmt: str, **kw: Any) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo_like(64, 80, seed=3)).save(buf, fmt, **kw)
    return buf.getvalue()


# name -> expected error substrings (all must appear); None = measured fine.
EXPECTED: dict[str, tuple[str, ...] | None] = {
    "good1.png": None,
    "good2.jpg": None,
    "png_named.jpg": None,
    "truncated.jpg": ("corrupt or truncated jpeg",),
    "truncated.png": ("corrupt or truncated png",),
    "header_only.png": ("corrupt or truncated png",),
    "truncated.webp": ("webp",),
    "truncated.gif": ("gif",),
    "empty.jpg": ("empty file (0 bytes)",),
    "garbage.jpg": ("not a recognised image format",),
    "text.png": ("not a recognised image format", "48 65 6c 6c 6f"),
    "svg.png": ("not a recognised image format",),
    "icon.bmp": ("unsupported",),
    "dangling.jpg": ("cannot read file", "No such file"),
    "loop_a.jpg": ("cannot read file", "symbolic links"),
    "loop_b.jpg": ("cannot read file", "symbolic links"),
    "fifo.jpg": ("cannot read file", "not a regular file"),
    "bomb.png": ("60000x60000", "over the limit", "decompression bomb"),
    "bomb.jpg": ("60000x60000", "over the limit", "decompression bomb"),
    "bomb.gif": ("65535x65535", "over the limit"),
    "zero.png": ("png", "dimensions"),
}


@pytest.fixture(scope="module")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad")
    good_png = encoded("PNG")
    jpg = encoded("JPEG", quality=90)
    files: dict[str, bytes] = {
        "good1.png": good_png,
        "good2.jpg": jpg,
        "png_named.jpg": good_png,
        "truncated.jpg": jpg[: len(jpg) // 2],
        "truncated.png": good_png[: len(good_png) // 2],
        "header_only.png": good_png[:60],
        "truncated.webp": encoded("WEBP")[:100],
        "truncated.gif": encoded("GIF")[:200],
        "empty.jpg": b"",
        "garbage.jpg": np.random.default_rng(4).integers(0, 256, 5000, np.uint8).tobytes(),
        "text.png": b"Hello, this is not a PNG\n",
        "svg.png": b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>',
        "icon.bmp": encoded("ICO"),  # a real image, in a format scan does not read
        "bomb.png": png_claiming(60000, 60000),
        "bomb.jpg": jpeg_claiming(60000, 60000),
        "bomb.gif": gif_claiming(65535, 65535),
        "zero.png": png_claiming(0, 10),
    }
    for name, data in files.items():
        (root / name).write_bytes(data)
    os.symlink(root / "does-not-exist.jpg", root / "dangling.jpg")
    os.symlink(root / "loop_b.jpg", root / "loop_a.jpg")
    os.symlink(root / "loop_a.jpg", root / "loop_b.jpg")
    os.mkfifo(root / "fifo.jpg")
    # A directory symlink loop: following it would recurse forever.
    os.mkdir(root / "sub")
    (root / "sub" / "good3.png").write_bytes(good_png)
    os.symlink(root, root / "sub" / "back_to_root")
    # A valid PNG whose name is not UTF-8.
    fd = os.open(os.path.join(os.fsencode(root), b"\xff\xfe.png"), os.O_WRONLY | os.O_CREAT)
    os.write(fd, good_png)
    os.close(fd)
    return root


@pytest.fixture(scope="module")
def dir_rows(bad_dir: Path) -> dict[str, dict[str, Any]]:
    rows = scan_within(str(bad_dir))
    return {os.path.relpath(r["path"], str(bad_dir)): r for r in rows}


def test_directory_scan_has_one_row_per_file_and_nothing_else(
    bad_dir: Path, dir_rows: dict[str, dict[str, Any]]
) -> None:
    expected = set(EXPECTED) | {"sub/good3.png", "\ufffd\ufffd.png"}
    assert set(dir_rows) == expected  # the symlinked directory was not descended into


@pytest.mark.parametrize("name", list(EXPECTED))
def test_each_bad_file_is_an_error_row(dir_rows: dict[str, dict[str, Any]], name: str) -> None:
    row = dir_rows[name]
    want = EXPECTED[name]
    if want is None:
        assert row["error"] is None
        assert row["brightness"] is not None and row["phash"] is not None
        return
    assert row["error"] is not None, row
    for part in want:
        assert part.lower() in row["error"].lower(), row["error"]
    # A failed row has its error and null statistics, never half-made-up numbers. (Header
    # columns such as width may survive when the header parsed before the pixels failed.)
    for col in ("brightness", "blur", "noise", "phash", "pixel_hash", "is_grayscale"):
        assert row[col] is None, (col, row[col])


def test_good_files_in_a_bad_scan_are_measured_exactly(
    bad_dir: Path, dir_rows: dict[str, dict[str, Any]]
) -> None:
    for name in ("good1.png", "good2.jpg", "png_named.jpg", "sub/good3.png"):
        row = dir_rows[name]
        assert row["brightness"] == pytest.approx(pillow_luma(bad_dir / name).mean(), rel=1e-6)
    assert dir_rows["png_named.jpg"]["format"] == "png"


def test_non_utf8_name_is_measured(bad_dir: Path, dir_rows: dict[str, dict[str, Any]]) -> None:
    row = dir_rows["\ufffd\ufffd.png"]
    assert row["error"] is None
    assert row["content_hash"] == dir_rows["good1.png"]["content_hash"]
    # Named explicitly, as bytes or as the str os.fsdecode gives, it opens too.
    raw = os.path.join(os.fsencode(bad_dir), b"\xff\xfe.png")
    rows = scan_within([os.fsdecode(raw)])
    assert rows[0]["error"] is None


def test_bad_files_named_explicitly(bad_dir: Path) -> None:
    names = list(EXPECTED)
    rows = scan_within([str(bad_dir / n) for n in names])
    assert [r["path"] for r in rows] == [str(bad_dir / n) for n in names]
    for name, row in zip(names, rows):
        assert (row["error"] is None) == (EXPECTED[name] is None), (name, row["error"])


def test_fifo_does_not_hang(bad_dir: Path) -> None:
    rows = scan_within([str(bad_dir / "fifo.jpg")], timeout=10)
    assert "not a regular file" in rows[0]["error"]


def test_glob_over_a_symlink_loop_does_not_hang(bad_dir: Path) -> None:
    rows = scan_within(str(bad_dir / "**" / "*.png"), timeout=20)
    assert rows  # finishes (Python's glob stops at ELOOP)


def test_glob_does_not_follow_directory_symlinks(bad_dir: Path) -> None:
    rows = scan_within(str(bad_dir / "**" / "*.png"), timeout=20)
    names = sorted(os.path.relpath(r["path"], str(bad_dir)) for r in rows)
    assert "good1.png" in names and "sub/good3.png" in names
    assert len(names) == len(set(names)) <= 20


def test_bad_bytes_in_memory() -> None:
    good = encoded("PNG")
    rows = scan_within([b"", b"garbage!", good[:100], png_claiming(60000, 60000), good])
    errors = [r["error"] for r in rows]
    assert errors[0] == "empty file (0 bytes)"
    assert "not a recognised image format" in errors[1]
    assert "corrupt or truncated png" in errors[2]
    assert "decompression bomb" in errors[3]
    assert errors[4] is None


def test_max_pixels_on_a_normal_image(tmp_path: Path) -> None:
    p = tmp_path / "normal.png"
    Image.fromarray(random_rgb(40, 50, seed=5)).save(p)  # 2,000 pixels
    (row,) = scan_within([str(p)], max_pixels=1000)
    assert "50x40" in row["error"] and "over the limit" in row["error"]
    assert row["width"] is None
    (row,) = scan_within([str(p)], max_pixels=2000)
    assert row["error"] is None  # the limit is inclusive


def test_max_file_size(tmp_path: Path) -> None:
    small = tmp_path / "small.png"
    big = tmp_path / "big.png"
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(small)
    Image.fromarray(random_rgb(64, 64, seed=6)).save(big)
    limit = small.stat().st_size
    rows = scan_within([str(small), str(big)], max_file_size=limit)
    assert rows[0]["error"] is None
    assert "larger than max_file_size" in rows[1]["error"]
    assert f"{big.stat().st_size} > {limit}" in rows[1]["error"]


AS_NOBODY = """
import os, sys, imgstats
imgstats.scan([open(sys.argv[2], "rb").read()])  # load every module while still root
os.setgroups([]); os.setgid(65534); os.setuid(65534)  # every thread, the scan pool's too
print(imgstats.scan([sys.argv[1]])["error"][0])
"""


def test_unreadable_file(tmp_path: Path) -> None:
    """A file with mode 000 is one row with the OS's message. Root reads anything, so as root
    the scan runs in a child that drops to the `nobody` user first (no skip either way)."""
    if os.geteuid() != 0:
        p = tmp_path / "secret.png"
        p.write_bytes(encoded("PNG"))
        p.chmod(0)
        (row,) = scan_within([str(p)])
        error = row["error"]
    else:
        folder = Path(tempfile.mkdtemp(prefix="imgstats-000-"))  # /tmp: nobody may enter
        try:
            folder.chmod(0o755)
            p = folder / "secret.png"
            p.write_bytes(encoded("PNG"))
            p.chmod(0)
            readable = folder / "ok.png"
            readable.write_bytes(encoded("PNG"))
            proc = subprocess.run(
                [sys.executable, "-c", AS_NOBODY, str(p), str(readable)],
                capture_output=True,
                text=True,
                timeout=HANG_TIMEOUT_S,
            )
            assert proc.returncode == 0, proc.stderr
            error = proc.stdout.strip()
        finally:
            shutil.rmtree(folder)
    assert "Permission denied" in error, error


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError):
        imgstats.scan([b"x"], threads=0)
    with pytest.raises(ValueError):
        imgstats.scan([b"x"], batch_size=0)
    with pytest.raises(TypeError):
        imgstats.scan([1, 2, 3])
