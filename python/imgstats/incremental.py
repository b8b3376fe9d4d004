"""Incremental, resumable Parquet output for `scan(..., output=...)`.

Two ways a scan avoids decoding a file again, both keyed by (path, file_size, mtime_ns) and both
refused when the settings differ (metrics, options, column schema or `DEFINITIONS_VERSION`):

* **resume** (always on for a list of files with ``output=``): rows of the parts a killed run
  had finished (see `imgstats.resume`) are reused;
* **incremental** (``incremental=True``): rows of the existing output file are reused too, so a
  re-scan of a grown folder decodes only new and changed files.

Deleted files are dropped: the output always describes exactly the files of this scan, in the
order a fresh scan lists them. Rows whose file could not be read at all (``file_size`` null:
missing, no permission) never match, so they are retried on every run; files that were read but
failed to decode are cached like any other row (re-touch them or scan without `incremental`).

The settings are written to the Parquet key-value metadata under the key ``imgstats``
(`read_settings` reads them back), together with the imgstats version that wrote the file.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import polars as pl

from imgstats import _imgstats
from imgstats.resume import PartStore, work_dir_for

#: Bump whenever the value of any scan column changes for the same input (a metric's formula,
#: a decoder fix, a hash's resampling): cached rows written under another number are rescanned
#: instead of being mixed with new ones. The imgstats version is recorded as well but does not by
#: itself invalidate a cache, so an upgrade that changes nothing measured costs no rescan.
DEFINITIONS_VERSION = 1

#: Parquet key-value metadata key holding the JSON settings.
METADATA_KEY = "imgstats"

#: Column added to incremental outputs: the file's modification time (ns since the epoch) as
#: seen *before* it was read, so an edit during the scan makes the next run read it again.
MTIME_COLUMN = "mtime_ns"

#: What identifies a file's state: a row is reused only when all three match.
KEY = ["path", "file_size", MTIME_COLUMN]

BatchRunner = Callable[[list[bytes], Callable[..., None] | None], Iterator[pl.DataFrame]]


def scan_settings(
    empty: pl.DataFrame,
    analysis_size: int | None,
    max_pixels: int,
    max_file_size: int,
) -> dict[str, Any]:
    """Everything that decides the values of a row: two outputs share rows only if these match."""
    return {
        "definitions": DEFINITIONS_VERSION,
        "metrics": sorted(c for c in empty.columns if c in _imgstats.METRIC_NAMES),
        "columns": [[name, str(dtype)] for name, dtype in empty.schema.items()],
        "analysis_size": analysis_size,
        "max_pixels": max_pixels,
        "max_file_size": max_file_size,
    }


def read_settings(output: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The settings stored in an imgstats Parquet output (None if absent or not one of ours)."""
    try:
        meta = pl.read_parquet_metadata(Path(output))
    except Exception:  # missing or not Parquet: nothing to reuse
        return None
    try:
        data = json.loads(meta.get(METADATA_KEY, "null"))
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _output_is_current(output: Path, files: pl.DataFrame, store: PartStore) -> bool:
    """True when `output` already lists exactly `files`, in order (and no part is pending)."""
    if store.parts:
        return False
    listed = pl.scan_parquet(output).select("path").collect()["path"]
    return listed.equals(files["path"])


def _metadata(settings: dict[str, Any]) -> dict[str, str]:
    return {METADATA_KEY: json.dumps({**settings, "version": _imgstats.__version__})}


def stat_files(paths: list[bytes]) -> pl.DataFrame:
    """(path, file_size, mtime_ns, order) for every input path; nulls where stat fails.

    `path` is decoded as the core decodes it (UTF-8, invalid bytes replaced), so it joins with
    the scan's `path` column.
    """
    sizes: list[int | None] = []
    mtimes: list[int | None] = []
    for p in paths:
        try:
            st = os.stat(p)
        except OSError:
            sizes.append(None)
            mtimes.append(None)
        else:
            sizes.append(st.st_size)
            mtimes.append(st.st_mtime_ns)
    return pl.DataFrame(
        {
            "path": pl.Series([p.decode("utf-8", "replace") for p in paths], dtype=pl.String),
            "file_size": pl.Series(sizes, dtype=pl.UInt64),
            MTIME_COLUMN: pl.Series(mtimes, dtype=pl.Int64),
            "order": pl.int_range(len(paths), dtype=pl.UInt64, eager=True),
        }
    )


def _cached_output(output: Path, settings: dict[str, Any]) -> pl.LazyFrame | None:
    """The rows of an existing output, if it was written with the same settings."""
    if not output.exists():
        return None
    stored = read_settings(output)
    if stored is None or MTIME_COLUMN not in pl.read_parquet_schema(output):
        warnings.warn(
            f"{output} has no imgstats settings in its metadata (written without "
            "incremental=True or by another tool): rescanning every file",
            stacklevel=4,
        )
        return None
    version = stored.pop("version", "?")
    if stored != settings:
        changed = sorted(k for k in settings if stored.get(k) != settings[k])
        warnings.warn(
            f"{output} was written with other settings ({', '.join(changed)} differ; written by "
            f"imgstats {version}): rescanning every file",
            stacklevel=4,
        )
        return None
    return pl.scan_parquet(output)


def write_scan(
    paths: list[bytes],
    output: Path,
    *,
    empty: pl.DataFrame,
    analysis_size: int | None,
    max_pixels: int,
    max_file_size: int,
    incremental: bool,
    run_batches: BatchRunner,
    make_reporter: Callable[[int], Callable[..., None] | None],
) -> pl.LazyFrame:
    """Scan `paths` into `output`, reusing every row that a finished part (and, when
    `incremental`, the existing output) already holds for an unchanged file.

    `run_batches(paths, reporter)` yields scan frames in input order (one batch each);
    `make_reporter(total)` builds the progress reporter for the files that are decoded.
    """
    settings = scan_settings(empty, analysis_size, max_pixels, max_file_size)
    output.parent.mkdir(parents=True, exist_ok=True)
    # One row per path: a path listed twice is one file, measured once.
    unique = list(dict.fromkeys(paths))
    files = stat_files(unique)
    keys = files.lazy().drop("order")
    with PartStore(output, settings) as store:
        cached = _cached_output(output, settings) if incremental else None
        sources = [lf for lf in (store.rows(), cached) if lf is not None]
        # Match on the key columns only (a small read); whole rows are copied lazily at the end.
        reused: list[tuple[pl.LazyFrame, pl.DataFrame]] = []
        taken = files.clear().drop("order")
        for lf in sources:
            matched = (
                lf.select(KEY)
                .join(keys, on=KEY, how="semi")
                .unique("path", maintain_order=True)
                .collect()
                .join(taken, on="path", how="anti")  # earlier sources (newer parts) win
            )
            reused.append((lf, matched))
            taken = pl.concat([taken, matched])
        todo = files.join(taken, on="path", how="anti").sort("order")
        if cached is not None and not todo.height and _output_is_current(output, files, store):
            store.remove()
            return pl.scan_parquet(output)  # nothing new, changed or deleted: keep the file
        first_new = len(store.parts)
        report = make_reporter(todo.height)
        todo_paths = [unique[i] for i in todo["order"].to_list()]
        mtimes = todo[MTIME_COLUMN]
        done = 0
        try:
            for frame in run_batches(todo_paths, report):
                n = frame.height
                store.add(frame.with_columns(mtimes.slice(done, n).alias(MTIME_COLUMN)))
                done += n
        finally:
            if report is not None:
                report(todo.height, todo.height, final=True)
        new = [pl.scan_parquet(store.dir / p["file"]) for p in store.parts[first_new:]]
        # Semi-join on the whole key: parts of earlier runs may also hold stale rows of a path.
        parts = [lf.join(m.lazy(), on=KEY, how="semi") for lf, m in reused if m.height] + new
        if not parts:  # nothing to scan: an empty table with every column
            parts = [empty.lazy().with_columns(pl.lit(None, pl.Int64).alias(MTIME_COLUMN))]
        result = (
            pl.concat(parts)
            .join(files.lazy().select("path", "order"), on="path")
            .sort("order")
            .drop("order")
        )
        if not incremental:
            result = result.drop(MTIME_COLUMN)
        tmp = output.with_name(output.name + ".tmp")
        # Written beside the output and renamed over it: a kill here leaves the old output and
        # every part intact, and the next run only merges again.
        result.sink_parquet(tmp, metadata=_metadata(settings))
        os.replace(tmp, output)
        store.remove()
    return pl.scan_parquet(output)


__all__ = [
    "DEFINITIONS_VERSION",
    "METADATA_KEY",
    "MTIME_COLUMN",
    "read_settings",
    "scan_settings",
    "work_dir_for",
    "write_scan",
]
