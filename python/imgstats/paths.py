"""Path discovery: what `scan` reads, from a directory, a glob, a list of paths or bytes.

Directories are walked without following symlinked directories (a link loop cannot hang the
walk) and filtered by file ending; files named explicitly are always taken, whatever their
ending, because the format comes from the bytes. A missing file named explicitly becomes an
error row in the scan, not an exception here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Container, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Union

from imgstats import _imgstats
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import glob

    import polars as pl
else:
    glob = LazyModule("glob")  # a folder scan needs neither it nor `re`, which it imports

#: File endings picked up when scanning a directory or a glob (case-insensitive). Files named
#: explicitly are always scanned, whatever their ending: the format comes from the bytes.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    ".jpg .jpeg .jpe .jfif .png .webp .gif .bmp .dib .tif .tiff .pbm .pgm .ppm .pnm .pam".split()
)

_IMAGE_ENDINGS = tuple(IMAGE_EXTENSIONS)

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, Sequence[PathLike], Sequence[bytes], "pl.Series"]

__all__ = [
    "IMAGE_EXTENSIONS",
    "PathLike",
    "Source",
    "resolve_sources",
    "walk_images",
    "walk_sorted",
]


def resolve_sources(
    source: Source, extensions: Iterable[str] | None
) -> tuple[list[bytes], list[bytes]]:
    """Inputs → (paths as os.fsencode bytes, in-memory blobs).

    `extensions` filters what directories and globs yield (``None``: every file).
    """
    exts = None if extensions is None else {e.lower() for e in extensions}
    # polars is imported only when something needs it (a scan of a folder imports it on another
    # thread while the files are being measured), so it is not imported to test for a Series.
    if type(source).__module__.startswith("polars"):
        import polars as pl

        if isinstance(source, pl.Series):
            source = source.to_list()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return [], [bytes(source)]
    if isinstance(source, (str, os.PathLike)):
        return _expand(os.fspath(source), exts), []
    items = list(source)
    if items and all(isinstance(x, (bytes, bytearray, memoryview)) for x in items):
        return [], [bytes(x) for x in items]
    paths: list[bytes] = []
    enc, errors = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()
    for x in items:
        # The common case first, in as few operations as possible (lists of millions of paths):
        # an image-named str without glob characters, encoded as os.fsencode does.
        if (
            type(x) is str
            and x.lower().endswith(_IMAGE_ENDINGS)
            and not ("*" in x or "?" in x or "[" in x)
        ):
            paths.append(x.encode(enc, errors))
            continue
        if isinstance(x, (bytes, bytearray, memoryview)):
            raise TypeError("mix of paths and bytes: pass either paths or encoded images")
        if not isinstance(x, (str, os.PathLike)):
            raise TypeError(f"expected a path or bytes, got {type(x).__name__}")
        p = os.fspath(x)
        # Image-named entries are taken as files without a stat each (millions of paths); a
        # directory so named still becomes an error row, never a hang.
        if _wanted(p, IMAGE_EXTENSIONS) and not glob.has_magic(p):
            paths.append(os.fsencode(p))
        elif os.path.isdir(p) or (glob.has_magic(p) and not os.path.lexists(p)):
            paths.extend(_expand(p, exts))
        else:
            paths.append(os.fsencode(p))  # a file named explicitly; missing → an error row
    return paths, []


def _expand(source: str, exts: set[str] | None) -> list[bytes]:
    """A folder, a file or a glob → paths as ``os.fsencode`` bytes."""
    if os.path.isdir(source):
        return walk_sorted(source, exts)
    if os.path.lexists(source):
        return [os.fsencode(source)]  # a file named explicitly is scanned whatever its ending
    if glob.has_magic(source):
        return [os.fsencode(p) for p in sorted(_glob_no_follow(source)) if _wanted(p, exts)]
    raise FileNotFoundError(f"no such file, directory or glob match: {source!r}")


def _glob_no_follow(pattern: str) -> Iterator[str]:
    """`glob.glob(pattern, recursive=True)` minus matches reached through a symlinked directory
    (Python's `**` follows them, so a link back to an ancestor would repeat every file)."""
    for p in glob.glob(pattern, recursive=True):
        if os.path.isdir(p):
            continue
        parent = os.path.dirname(p)
        if any(os.path.islink(d) for d in _ancestors(parent, _glob_root(pattern))):
            continue
        yield p


def _glob_root(pattern: str) -> str:
    parts = pattern.split(os.sep)
    fixed = []
    for part in parts:
        if glob.has_magic(part):
            break
        fixed.append(part)
    return os.sep.join(fixed) or "."


def _ancestors(path: str, stop: str) -> Iterator[str]:
    stop = os.path.normpath(stop)
    path = os.path.normpath(path)
    while path and path != stop and len(path) > len(stop):
        yield path
        path = os.path.dirname(path)


def walk_sorted(root: str, exts: Iterable[str] | None) -> list[bytes]:
    """Every file under `root` whose lower-cased ending (``os.path.splitext``) is in `exts`
    (lower case; ``None``: every file), as ``os.fsencode`` bytes, sorted as the decoded paths
    sort. Symlinked directories are not descended into (a link loop cannot hang the walk);
    symlinked files are listed and measured (a dangling one becomes an error row). The walk runs
    in Rust, as ``os.walk(root, followlinks=False)`` would list the files."""
    return _imgstats._walk_files(os.fsencode(root), None if exts is None else sorted(exts))


def walk_images(root: str, exts: set[str] | None) -> Iterator[str]:
    """The files of `walk_sorted` as ``str`` paths (``os.fsdecode``), in sorted order."""
    return (os.fsdecode(p) for p in walk_sorted(root, exts))


def _wanted(name: str, exts: Container[str] | None) -> bool:
    return exts is None or os.path.splitext(name)[1].lower() in exts
