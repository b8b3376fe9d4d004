"""`scan`: per-image statistics and hashes from one decode, as a polars DataFrame."""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Callable, Union

import polars as pl

from imgstats import _imgstats

#: Every metric `scan` can compute; header columns (format, size, ...) are always present.
METRICS: tuple[str, ...] = tuple(_imgstats.METRIC_NAMES)

#: File endings picked up when scanning a directory or a glob (case-insensitive). Files named
#: explicitly are always scanned, whatever their ending: the format comes from the bytes.
IMAGE_EXTENSIONS: frozenset[str] = frozenset(
    ".jpg .jpeg .jpe .jfif .png .webp .gif .bmp .dib .tif .tiff .pbm .pgm .ppm .pnm .pam".split()
)

_IMAGE_ENDINGS = tuple(IMAGE_EXTENSIONS)

DEFAULT_MAX_PIXELS: int = _imgstats.DEFAULT_MAX_PIXELS
DEFAULT_MAX_FILE_SIZE: int = _imgstats.DEFAULT_MAX_FILE_SIZE

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, Sequence[PathLike], Sequence[bytes], "pl.Series"]


def scan(
    source: Source | pl.DataFrame | pl.LazyFrame,
    metrics: Sequence[str] | None = None,
    *,
    threads: int | None = None,
    output: PathLike | None = None,
    analysis_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    extensions: Iterable[str] | None = IMAGE_EXTENSIONS,
    batch_size: int = 20_000,
    progress: bool | Callable[[int, int], None] = False,
    incremental: bool = False,
    column: str | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Measure every image in `source`; one row per input, failures included.

    Args:
        source: a directory (searched recursively; symlinked directories are not followed, so
            link loops cannot hang the walk), a glob pattern (``"data/**/*.jpg"``), one file, a
            list of paths, or a list / polars Series of encoded images already in memory (bytes).
        metrics: names from `METRICS` (default: all). Only what is asked is computed, and the
            decode happens at the smallest scale that serves it: a hash- or brightness-only scan
            of JPEGs decodes at 1/8 scale in the DCT domain.
        threads: worker threads (default: the CPUs this process may use). The GIL is released.
        output: a ``.parquet`` path: results stream to it in batches of `batch_size` rows, so
            memory does not grow with the number of files; returns a `LazyFrame` over the file.
        analysis_size: compute ``blur`` and ``noise`` with the long side resized to this many
            pixels (e.g. 640, "what the model sees") so different cameras compare; default:
            native resolution, matching ``cv2.Laplacian(gray, cv2.CV_64F).var()``.
        max_pixels: images with more pixels are refused before any allocation (an error row).
        max_file_size: files larger than this many bytes are refused (an error row).
        extensions: endings picked up from directories and globs; ``None`` takes every file.
        batch_size: rows per batch (memory bound for `output=`; progress granularity).
        progress: ``True`` draws a progress line on stderr; a callable gets ``(done, total)``.
        incremental: with `output`, reuse the rows of the existing output for files whose
            (path, size, mtime) are unchanged and decode only new and changed files; deleted
            files are dropped. A scan of files into `output` is always resumable: rerun after
            a crash or kill and only unfinished batches are decoded (see docs/scale.md).
        column: the image column when `source` is a stored dataset: a polars DataFrame or
            LazyFrame (``pl.scan_parquet("train-*.parquet")``), an Arrow table, or Parquet file
            names; binary, or Hugging Face's ``{bytes, path}`` struct (default: ``image`` or the
            only binary column). WebDataset shards (``"shard-{000000..000099}.tar"``) are read
            member by member. Rows are named ``file.parquet#row`` / ``shard.tar/key.jpg``.

    Returns:
        A polars DataFrame (see the README for every column's definition, unit and resolution),
        or a LazyFrame over `output` when it is given.
    """
    if metrics is not None:
        metrics = list(metrics)
        unknown = sorted(set(metrics) - set(METRICS))
        if unknown:
            raise ValueError(f"unknown metrics {unknown}; known metrics: {', '.join(METRICS)}")
    if threads is None:
        threads = _default_threads()
    if threads < 1:
        raise ValueError("threads must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    # --- hook: imgstats.sources (Parquet / Arrow image columns, WebDataset shards) ---
    from imgstats.sources import scan_stored, stored_batches

    stored = stored_batches(source, column, batch_size)
    if stored is not None:
        if incremental:
            raise ValueError("incremental=True needs files; a stored dataset is scanned whole")
        empty = _empty_frame(metrics)
        stored_iter = scan_stored(
            stored,
            lambda paths, blobs: pl.DataFrame(
                _imgstats._scan_batch(
                    paths,
                    blobs,
                    metrics=metrics,
                    threads=threads,
                    max_pixels=max_pixels,
                    max_file_size=max_file_size,
                    analysis_size=analysis_size,
                )
            ),
            empty,
        )
        if output is not None:
            return _stream_to_parquet(stored_iter, Path(output))
        stored_frames = list(stored_iter)
        return pl.concat(stored_frames) if stored_frames else empty
    if column is not None or isinstance(source, (pl.DataFrame, pl.LazyFrame)):
        raise ValueError("column= is for tables and Parquet files of encoded images")
    # --- end hook ---
    paths, blobs = _resolve(source, extensions)
    # --- hook: imgstats.incremental (resumable, incremental Parquet output) ---
    if output is not None and not blobs:
        from imgstats.incremental import write_scan

        return write_scan(
            paths,
            Path(output),
            empty=_empty_frame(metrics),
            analysis_size=analysis_size,
            max_pixels=max_pixels,
            max_file_size=max_file_size,
            incremental=incremental,
            run_batches=lambda todo, report: _run_batches(
                todo,
                [],
                metrics,
                threads,
                max_pixels,
                max_file_size,
                analysis_size,
                batch_size,
                report,
            ),
            make_reporter=lambda n: _progress_reporter(progress, n),
        )
    if incremental:
        raise ValueError("incremental=True needs output= (a .parquet path) and files, not bytes")
    # --- end hook ---
    total = len(paths) + len(blobs)
    report = _progress_reporter(progress, total)
    batches = _run_batches(
        paths, blobs, metrics, threads, max_pixels, max_file_size, analysis_size, batch_size, report
    )
    try:
        if output is not None:
            return _stream_to_parquet(batches, Path(output))
        frames = list(batches)
    finally:
        if report is not None:
            report(total, total, final=True)
    if not frames:
        return _empty_frame(metrics)
    return pl.concat(frames, rechunk=True) if len(frames) > 1 else frames[0]


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _resolve(source: Source, extensions: Iterable[str] | None) -> tuple[list[bytes], list[bytes]]:
    """Inputs → (paths as os.fsencode bytes, in-memory blobs)."""
    exts = None if extensions is None else {e.lower() for e in extensions}
    if isinstance(source, pl.Series):
        source = source.to_list()
    if isinstance(source, (bytes, bytearray, memoryview)):
        return [], [bytes(source)]
    if isinstance(source, (str, os.PathLike)):
        return [os.fsencode(p) for p in _expand(os.fspath(source), exts)], []
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
            paths.extend(os.fsencode(q) for q in _expand(p, exts))
        else:
            paths.append(os.fsencode(p))  # a file named explicitly; missing → an error row
    return paths, []


def _expand(source: str, exts: set[str] | None) -> list[str]:
    if os.path.isdir(source):
        return sorted(_walk(source, exts))
    if os.path.lexists(source):
        return [source]  # a file named explicitly is scanned whatever its ending
    if glob.has_magic(source):
        return sorted(p for p in _glob_no_follow(source) if _wanted(p, exts))
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


def _walk(root: str, exts: set[str] | None) -> Iterator[str]:
    # followlinks=False: a symlinked directory (possibly a loop) is not descended into;
    # symlinked files are listed and measured (a dangling one becomes an error row).
    # For endings like ".png", `endswith` decides as `_wanted` does except for names starting
    # with a dot (splitext keeps a leading dot in the stem), which take the exact test; this
    # halves the walk of a folder of 70,000 files.
    simple = exts is not None and all(e.startswith(".") and e.count(".") == 1 for e in exts)
    ends = tuple(exts) if simple and exts is not None else ()
    for dirpath, _dirs, files in os.walk(root, followlinks=False):
        prefix = os.path.join(dirpath, "")
        if simple:
            for name in files:
                if name.lower().endswith(ends) and (name[0] != "." or _wanted(name, exts)):
                    yield prefix + name
        else:
            for name in files:
                if _wanted(name, exts):
                    yield prefix + name


def _wanted(name: str, exts: set[str] | None) -> bool:
    return exts is None or os.path.splitext(name)[1].lower() in exts


def _run_batches(
    paths: list[bytes],
    blobs: list[bytes],
    metrics: list[str] | None,
    threads: int,
    max_pixels: int,
    max_file_size: int,
    analysis_size: int | None,
    batch_size: int,
    report: Callable[..., None] | None,
) -> Iterator[pl.DataFrame]:
    done = 0
    for kind, items in (("paths", paths), ("blobs", blobs)):
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            base = done

            def on_progress(n: int, base: int = base) -> None:
                if report is not None:
                    report(base + n, None)

            batch = _imgstats._scan_batch(
                chunk if kind == "paths" else [],
                chunk if kind == "blobs" else [],
                metrics,
                threads,
                max_pixels,
                max_file_size,
                analysis_size,
                on_progress if report is not None else None,
            )
            frame = pl.DataFrame(batch)
            if kind == "blobs" and start:
                # Blob names count from the start of each batch; make them global.
                frame = frame.with_columns(
                    pl.format("<bytes #{}>", pl.int_range(start, start + len(chunk))).alias("path")
                )
            done += len(chunk)
            yield frame


def _stream_to_parquet(batches: Iterator[pl.DataFrame], output: Path) -> pl.LazyFrame:
    """Write each batch as a Parquet part, then merge the parts with polars' streaming engine
    into one file: peak memory is one batch, whatever the number of images."""
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".imgstats-", dir=output.parent))
    try:
        parts = []
        for i, frame in enumerate(batches):
            part = tmp / f"part-{i:06d}.parquet"
            frame.write_parquet(part)
            parts.append(part)
        if not parts:
            _empty_frame(None).write_parquet(output)
        else:
            pl.scan_parquet([str(p) for p in parts]).sink_parquet(output)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return pl.scan_parquet(output)


def _empty_frame(metrics: list[str] | None) -> pl.DataFrame:
    batch = _imgstats._scan_batch(
        [], [], metrics, 1, DEFAULT_MAX_PIXELS, DEFAULT_MAX_FILE_SIZE, None, None
    )
    return pl.DataFrame(batch)


def _progress_reporter(
    progress: bool | Callable[[int, int], None], total: int
) -> Callable[..., None] | None:
    if callable(progress):
        user = progress

        def call_user(done: int, _total: int | None, final: bool = False) -> None:
            user(done, total)

        return call_user
    if not progress:
        return None
    start = time.monotonic()
    last = [0.0]

    def draw(done: int, _total: int | None, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - last[0] < 0.2:
            return
        last[0] = now
        elapsed = max(now - start, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / total) if total else width
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} files "
            f"{rate:,.0f} files/s "
            + (f"ETA {_fmt_time(eta)}" if not final else f"in {_fmt_time(elapsed)}")
        )
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()

    return draw


def _fmt_time(seconds: float) -> str:
    if seconds == float("inf"):
        return "--"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
