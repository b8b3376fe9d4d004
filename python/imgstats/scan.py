"""`scan`: per-image statistics and hashes from one decode, as a polars DataFrame."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, cast, overload

from imgstats import _imgstats
from imgstats.paths import IMAGE_EXTENSIONS, PathLike, Source, resolve_sources
from imgstats.progress import ProgressArg, Reporter, progress_reporter

if TYPE_CHECKING:
    from pathlib import Path

    import polars as pl

    from imgstats.sources import Batch

#: Every metric `scan` can compute; header columns (format, size, ...) are always present.
METRICS: tuple[str, ...] = tuple(_imgstats.METRIC_NAMES)
#: What `scan` computes when no metrics are named: every metric but the costly opt-in ones
#: (``crop_hash``).
DEFAULT_METRICS: tuple[str, ...] = tuple(m for m in METRICS if m not in _imgstats.OPT_IN_METRICS)

DEFAULT_MAX_PIXELS: int = _imgstats.DEFAULT_MAX_PIXELS
DEFAULT_MAX_FILE_SIZE: int = _imgstats.DEFAULT_MAX_FILE_SIZE

__all__ = [
    "DEFAULT_MAX_FILE_SIZE",
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_METRICS",
    "IMAGE_EXTENSIONS",
    "METRICS",
    "PathLike",
    "Source",
    "scan",
]


# The overloads tell a type checker what `scan` returns: a LazyFrame over the Parquet file with
# `output=`, a DataFrame without.
@overload
def scan(
    source: Source | pl.DataFrame | pl.LazyFrame,
    metrics: Sequence[str] | None = None,
    *,
    threads: int | None = None,
    output: None = None,
    analysis_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    extensions: Iterable[str] | None = IMAGE_EXTENSIONS,
    batch_size: int = 20_000,
    progress: ProgressArg = False,
    incremental: bool = False,
    column: str | None = None,
) -> pl.DataFrame: ...
@overload
def scan(
    source: Source | pl.DataFrame | pl.LazyFrame,
    metrics: Sequence[str] | None = None,
    *,
    threads: int | None = None,
    output: PathLike,
    analysis_size: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
    extensions: Iterable[str] | None = IMAGE_EXTENSIONS,
    batch_size: int = 20_000,
    progress: ProgressArg = False,
    incremental: bool = False,
    column: str | None = None,
) -> pl.LazyFrame: ...
@overload
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
    progress: ProgressArg = False,
    incremental: bool = False,
    column: str | None = None,
) -> pl.DataFrame | pl.LazyFrame: ...


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
    progress: ProgressArg = False,
    incremental: bool = False,
    column: str | None = None,
) -> pl.DataFrame | pl.LazyFrame:
    """Measure every image in `source`; one row per input, failures included.

    Args:
        source: a directory (searched recursively; symlinked directories are not followed, so
            link loops cannot hang the walk), a glob pattern (``"data/**/*.jpg"``), one file, a
            list of paths, or a list / polars Series of encoded images already in memory (bytes).
            An `imgstats.labels` result (anything with an ``.images`` frame with ``path``) scans
            exactly the images its labels refer to.
        metrics: names from `METRICS` (default: `DEFAULT_METRICS`, all but ``crop_hash``,
            which is computed only when named: imagehash's crop-resistant segment hashes, for
            finding crops of a picture with ``duplicates``). Only what is asked is computed, and the
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
        threads = _imgstats._default_threads()  # the pool every call uses by default
    if threads < 1:
        raise ValueError("threads must be at least 1")
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    images = getattr(source, "images", None)
    if images is not None:
        import polars as pl

        if isinstance(images, pl.DataFrame) and "path" in images.columns:
            source = images.get_column("path").unique(maintain_order=True)
    # --- hook: imgstats.sources (Parquet / Arrow image columns, WebDataset shards) ---
    stored = None if _plain_path(source) else _stored(source, column, batch_size)
    if stored is not None:
        if incremental:
            raise ValueError("incremental=True needs files; a stored dataset is scanned whole")
        import polars as pl

        from imgstats.sources import scan_stored

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
            return _stream_to_parquet(stored_iter, _path(output))
        stored_frames = list(stored_iter)
        return pl.concat(stored_frames) if stored_frames else empty
    if column is not None:
        raise ValueError("column= is for tables and Parquet files of encoded images")
    # --- end hook ---
    # Polars frames were read by the hook above (stored_batches takes every frame).
    if isinstance(source, (str, os.PathLike)) and _plain_path(source) and os.path.isdir(source):
        _import_polars_meanwhile()  # the folder walk runs in Rust without the GIL meanwhile
    paths, blobs = resolve_sources(cast("Source", source), extensions)
    # --- hook: imgstats.incremental (resumable, incremental Parquet output) ---
    if output is not None and not blobs:
        from imgstats.incremental import write_scan

        return write_scan(
            paths,
            _path(output),
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
            make_reporter=lambda n: progress_reporter(progress, n),
        )
    if incremental:
        raise ValueError("incremental=True needs output= (a .parquet path) and files, not bytes")
    # --- end hook ---
    total = len(paths) + len(blobs)
    report = progress_reporter(progress, total)
    batches = _run_batches(
        paths, blobs, metrics, threads, max_pixels, max_file_size, analysis_size, batch_size, report
    )
    try:
        if output is not None:
            return _stream_to_parquet(batches, _path(output))
        frames = list(batches)
    finally:
        if report is not None:
            report(total, total, final=True)
    if not frames:
        return _empty_frame(metrics)
    if len(frames) == 1:
        return frames[0].rechunk()  # one chunk per column, whatever the native batches were
    import polars as pl

    return pl.concat(frames, rechunk=True)


# Endings `imgstats.sources` reads as stored datasets (is_parquet_name, is_tar_name; a test
# keeps the two in step): any other path names files, a folder or a glob.
_STORED_ENDINGS = (".parquet", ".parq", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz")


def _plain_path(source: object) -> bool:
    """`source` is one path that `imgstats.sources` would not read as a stored dataset, so the
    scan can start without loading polars (which `imgstats.sources` imports)."""
    if not isinstance(source, (str, os.PathLike)):
        return False
    name = os.fspath(source)
    return isinstance(name, str) and not name.lower().endswith(_STORED_ENDINGS)


def _stored(source: object, column: str | None, batch_size: int) -> Iterator[Batch] | None:
    from imgstats.sources import stored_batches

    return stored_batches(source, column, batch_size)


def _import_polars_meanwhile() -> None:
    """Start importing polars on a helper thread unless it is loaded. Its import costs about
    0.15 s of CPU, as much as scanning 10,000 small images: a scan of paths needs polars only for
    the frame, so the import runs while the files are measured (the GIL released), instead of
    before. A folder's import starts before its walk, which runs in Rust without the GIL while a
    core is otherwise idle (70,000 small files, the whole fresh process: 0.827 / 0.831 / 0.857 s
    → 0.812 / 0.804 / 0.816 s in three `benches/bench_fresh_ab.py` runs); other sources start
    it after they are resolved, because resolving a list of paths or a glob is Python work that
    would take turns with the import on the GIL while the workers wait for the file list. The
    thread is not a daemon: the interpreter never exits half-way through an import; the frame's
    own `import polars` waits for it (or raises its error)."""
    global _polars_import_started
    if _polars_import_started or "polars" in sys.modules:
        return
    _polars_import_started = True
    threading.Thread(target=_import_polars_quietly, name="imgstats-import-polars").start()


# Set by the first `_import_polars_meanwhile`: its thread may not have reached the import (and put
# polars in sys.modules) when the second call, after the walk, looks.
_polars_import_started = False


def _import_polars_quietly() -> None:
    try:
        import polars  # noqa: F401
    except BaseException:  # the import where polars is used raises it again, on that thread
        pass


def _path(output: PathLike) -> Path:
    # pathlib, tempfile and shutil are imported only for output= (a scan without it, in a fresh
    # process, does not pay for them).
    from pathlib import Path

    return Path(output)


def _run_batches(
    paths: list[bytes],
    blobs: list[bytes],
    metrics: list[str] | None,
    threads: int,
    max_pixels: int,
    max_file_size: int,
    analysis_size: int | None,
    batch_size: int,
    report: Reporter | None,
) -> Iterator[pl.DataFrame]:
    _import_polars_meanwhile()
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
                metrics=metrics,
                threads=threads,
                max_pixels=max_pixels,
                max_file_size=max_file_size,
                analysis_size=analysis_size,
                progress=on_progress if report is not None else None,
            )
            import polars as pl  # here, after the first batch: see `_import_polars_meanwhile`

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
    import shutil
    import tempfile
    from pathlib import Path

    import polars as pl

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
    import polars as pl

    batch = _imgstats._scan_batch([], [], metrics=metrics)
    return pl.DataFrame(batch)
