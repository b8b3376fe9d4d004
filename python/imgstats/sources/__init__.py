"""Datasets as they are stored: encoded images inside Parquet files, polars/Arrow tables and
WebDataset tar shards, scanned batch by batch without extracting or loading everything.

`stored_batches(source, column, batch_size)` recognises such a source and yields `Batch`es of
(names, encoded bytes); `scan` measures each batch and names its rows after where the image
was stored (``file.parquet#row``, the Hugging Face struct's own ``path``, ``shard.tar/key.jpg``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from imgstats.sources.braces import expand_braces
from imgstats.sources.parquet import frame_batches, is_parquet_name, parquet_file_batches
from imgstats.sources.webdataset import is_tar_name, tar_batches

#: One native scan call: (paths, encoded images as `bytes` or a binary Series) -> rows.
Measure = Callable[[list[bytes], "list[bytes] | pl.Series"], pl.DataFrame]


@dataclass
class Batch:
    """One batch of a stored dataset, in dataset order.

    `items[i]` is the encoded image (bytes) or, for rows that point at a file instead of holding
    bytes (Hugging Face's layout allows both), that file's path (str). `failures` are rows that
    could not even be read (a corrupt shard, a missing file): (name, message), kept as error rows.
    `blobs`, when set instead of `items`, holds every row's encoded bytes as a binary Series the
    native scan reads in place (Arrow memory, no copy into Python `bytes`).
    """

    names: list[str]
    items: list[bytes | str] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    blobs: pl.Series | None = None


def stored_batches(source: object, column: str | None, batch_size: int) -> Iterator[Batch] | None:
    """Batches of `source` if it is a stored dataset, else None (a folder, files or bytes)."""
    if isinstance(source, pl.Series):
        return None
    if isinstance(source, pl.LazyFrame):
        return frame_batches(source, column, batch_size)
    if isinstance(source, pl.DataFrame):
        return frame_batches(source.lazy(), column, batch_size)
    if hasattr(source, "__arrow_c_stream__") or hasattr(source, "__arrow_c_array__"):
        arrow: Any = source  # an object of the Arrow PyCapsule interface
        try:  # a pyarrow Table / RecordBatch / RecordBatchReader, ...
            frame = pl.DataFrame(arrow)
        except (TypeError, ValueError, pl.exceptions.PolarsError):  # a bare Arrow array
            frame = pl.DataFrame({"bytes": pl.Series(arrow)})
        return frame_batches(frame.lazy(), column, batch_size)
    if isinstance(source, (list, tuple)) and source and _is_arrow_scalar(source[0]):
        # `list(batch["bytes"])` of a pyarrow batch: BinaryScalars, unwrapped once here.
        blobs = [x.as_py() for x in source]
        return frame_batches(pl.DataFrame({"bytes": blobs}).lazy(), column, batch_size)
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    if isinstance(source, (list, tuple)) and source:
        # Shard lists come from the shell too: `imgstats scan shard-{0..9}.tar` arrives expanded.
        if not all(isinstance(x, (str, os.PathLike)) for x in source):
            return None
        names = [os.fspath(x) for x in source]
        if all(is_parquet_name(n) for n in names):
            return parquet_file_batches(_expand_all(names), column, batch_size)
        if all(is_tar_name(n) for n in names):
            return tar_batches(_expand_all(names), batch_size)
    return None


def _is_arrow_scalar(x: object) -> bool:
    return type(x).__module__.startswith("pyarrow") and hasattr(x, "as_py")


def _expand_all(names: list[str]) -> list[str]:
    return [name for pattern in names for name in expand_braces(pattern)]


def scan_stored(
    batches: Iterator[Batch],
    measure: Measure,
    empty: pl.DataFrame,
) -> Iterator[pl.DataFrame]:
    """Measure each batch (`measure(paths, blobs)` is one native scan call) and name its rows."""
    for batch in batches:
        frames = []
        if batch.blobs is not None:
            frame = measure([], batch.blobs)
            frames.append(frame.with_columns(pl.Series("path", batch.names, dtype=pl.String)))
        elif batch.items:
            frames.append(_measure_batch(batch, measure))
        if batch.failures:
            names, messages = zip(*batch.failures)
            failed = pl.DataFrame({"path": list(names), "error": list(messages)})
            frames.append(pl.concat([empty, failed], how="diagonal_relaxed").select(empty.columns))
        yield pl.concat(frames).cast(empty.schema) if len(frames) > 1 else frames[0]


def _measure_batch(batch: Batch, measure: Measure) -> pl.DataFrame:
    # The core takes paths and blobs in two lists and returns paths first: keep dataset order.
    file_rows = [i for i, x in enumerate(batch.items) if isinstance(x, str)]
    blob_rows = [i for i, x in enumerate(batch.items) if not isinstance(x, str)]
    paths = [os.fsencode(batch.items[i]) for i in file_rows]
    blobs = [batch.items[i] for i in blob_rows]
    frame = measure(paths, blobs)  # type: ignore[arg-type]
    order = file_rows + blob_rows
    names = [batch.names[i] for i in order]
    frame = frame.with_columns(pl.Series("path", names, dtype=pl.String))
    if file_rows and blob_rows:
        frame = frame.with_columns(pl.Series("_row", order)).sort("_row").drop("_row")
    return frame


__all__ = ["Batch", "expand_braces", "scan_stored", "stored_batches"]
