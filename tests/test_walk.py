"""The Rust directory walk behind `scan(folder)` lists exactly what the Python walk it replaced
listed: `sorted(os.walk(root, followlinks=False))` filtered by `os.path.splitext` endings."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from imgstats.paths import IMAGE_EXTENSIONS, resolve_sources, walk_images, walk_sorted

scan_module = importlib.import_module("imgstats.scan")


def reference(root: str, exts: set[str] | None) -> list[bytes]:
    """The walk as it was written in Python (os.walk does not follow symlinked directories and
    lists them as directories, not files)."""
    found = []
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        for name in files:
            if exts is None or os.path.splitext(name)[1].lower() in exts:
                found.append(os.path.join(dirpath, name))
    return [os.fsencode(p) for p in sorted(found)]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    (root / "sub" / "deeper").mkdir(parents=True)
    (root / "empty").mkdir()
    names = [
        "b.png", "a.JPG", "c.txt", "noext", ".hidden.png", ".png", "..png", "x.tar.gz",
        "sub/d.png", "sub/deeper/e.WebP", "sub/deeper/f.jpeg", "sub/é.png", "sub/Ω.PNG",
        "sub/z\u00e9.Tif", "sub/a b.bmp", "sub/y.\u03a9",
    ]  # fmt: skip
    for n in names:
        (root / n).write_bytes(b"x")
    (root / "sub" / "loop").symlink_to(root)  # a link back to the root: never followed
    (root / "link.png").symlink_to(root / "b.png")  # a file link: listed
    (root / "dangling.png").symlink_to(root / "missing.png")  # listed (an error row in a scan)
    (root / "dirlink.png").symlink_to(root / "sub")  # a directory: neither listed nor walked
    os.mkfifo(root / "pipe.png")  # not a regular file: listed, refused by the scan
    # Names that are not UTF-8 (os.fsencode/os.fsdecode round-trip them by surrogateescape).
    for raw in (b"sub/raw\xff.png", b"raw\xe9.png", b"ab\xed.PNG"):
        with open(os.path.join(os.fsencode(root), raw), "wb") as f:
            f.write(b"x")
    return root


@pytest.mark.parametrize(
    "exts", [set(IMAGE_EXTENSIONS), None, {".png"}, {""}, {".gz"}, {".ω", ".png"}]
)
def test_walk_equals_the_python_walk(tree: Path, exts: set[str] | None) -> None:
    for root in (str(tree), str(tree) + "/", os.path.relpath(tree)):
        assert walk_sorted(root, exts) == reference(root, exts)
        assert list(walk_images(root, exts)) == [os.fsdecode(p) for p in reference(root, exts)]


def test_walk_lists_the_expected_files(tree: Path) -> None:
    got = [os.fsdecode(p)[len(str(tree)) + 1 :] for p in walk_sorted(str(tree), IMAGE_EXTENSIONS)]
    assert got == [
        ".hidden.png",
        "a.JPG",
        "ab\udced.PNG",
        "b.png",
        "dangling.png",
        "link.png",
        "pipe.png",
        "raw\udce9.png",
        "sub/a b.bmp",
        "sub/d.png",
        "sub/deeper/e.WebP",
        "sub/deeper/f.jpeg",
        "sub/raw\udcff.png",
        "sub/z\u00e9.Tif",
        "sub/\u00e9.png",
        "sub/\u03a9.PNG",
    ]


def test_mode_000_subdirectory_is_walked_like_os_walk(tree: Path) -> None:
    """A directory without permissions: unreadable for a user (os.walk skips it, and so must
    the walk), readable for root (both list it): either way the two agree."""
    locked = tree / "sub" / "deeper"
    locked.chmod(0)
    try:
        want = reference(str(tree), None)
        readable = os.access(locked, os.R_OK)
        assert any(b"/deeper/" in p for p in want) == readable
        assert walk_sorted(str(tree), None) == want
    finally:
        locked.chmod(0o755)


def test_folder_source_and_list_of_folders_use_the_walk(tree: Path) -> None:
    paths, blobs = resolve_sources(str(tree), IMAGE_EXTENSIONS)
    assert blobs == [] and paths == reference(str(tree), set(IMAGE_EXTENSIONS))
    paths, _ = resolve_sources([tree / "sub", str(tree / "b.png")], IMAGE_EXTENSIONS)
    assert paths == reference(str(tree / "sub"), set(IMAGE_EXTENSIONS)) + [
        os.fsencode(tree / "b.png")
    ]


def test_stored_endings_are_the_ones_sources_reads() -> None:
    # scan() skips imgstats.sources (and so polars) for paths not named like stored datasets.
    from imgstats.sources.parquet import is_parquet_name
    from imgstats.sources.webdataset import is_tar_name

    for ending in scan_module._STORED_ENDINGS:
        assert is_parquet_name("x" + ending.upper()) or is_tar_name("x" + ending.upper())
    from imgstats.sources import webdataset

    assert set(webdataset._TAR_ENDINGS) <= set(scan_module._STORED_ENDINGS)
    for name in ("x.png", "folder", "x.tar.zst", "x.parquet.bak"):
        assert not (is_parquet_name(name) or is_tar_name(name))
        assert not name.lower().endswith(scan_module._STORED_ENDINGS)


def test_a_fresh_folder_scan_imports_polars_alongside_and_returns_the_same_frame(
    tree: Path,
) -> None:
    # In a fresh process polars is imported on a helper thread while the scan runs; the frame
    # must be the one a process with polars already loaded returns.
    code = (
        "import sys, imgstats\n"
        "df = imgstats.scan(sys.argv[1])\n"
        "print(df.select('path', 'error', 'format', 'width', 'phash').write_json())\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", code, str(tree)], capture_output=True, text=True, check=True
    ).stdout
    preloaded = subprocess.run(
        [sys.executable, "-c", "import polars\n" + code, str(tree)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert fresh == preloaded and '"path"' in fresh
