"""Encoded images in a column of a Parquet file or a polars/Arrow table, read in batches.

The column holds either the encoded bytes (Binary) or the Hugging Face `datasets` Image layout:
a struct ``{bytes: binary, path: string}`` where `bytes` may be null when the image lives in
the file at `path`. Rows are named after the struct's `path` when it is set, else
``file.parquet#row`` (``<table>#row`` for an in-memory or lazy table), row counted from 0.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from imgstats.sources import Batch

#: Tried in this order when `column=` is not given (Hugging Face names its image column "image").
DEFAULT_COLUMNS = ("image", "img", "bytes", "jpg", "png")


def is_parquet_name(name: str) -> bool:
    return name.lower().endswith((".parquet", ".parq"))


def image_column(schema: pl.Schema, column: str | None) -> str:
    """The column to read: the one asked for, else an obvious image column, else an error."""
    if column is not None:
        if column not in schema:
            raise ValueError(f"no column {column!r}; columns: {', '.join(schema.names())}")
        _check_dtype(column, schema[column])
        return column
    for name in DEFAULT_COLUMNS:
        if name in schema and _is_image_dtype(schema[name]):
            return name
    candidates = [n for n, dt in schema.items() if _is_image_dtype(dt)]
    if len(candidates) == 1:
        return candidates[0]
    raise ValueError(
        "pass column= to name the image column; "
        + (f"candidates: {', '.join(candidates)}" if candidates else "no binary column found")
    )


def _is_image_dtype(dtype: pl.DataType) -> bool:
    if dtype == pl.Binary:
        return True
    return isinstance(dtype, pl.Struct) and any(
        f.name == "bytes" and f.dtype == pl.Binary for f in dtype.fields
    )


def _check_dtype(column: str, dtype: pl.DataType) -> None:
    if not _is_image_dtype(dtype):
        raise TypeError(
            f"column {column!r} is {dtype}: expected encoded images (binary, or a struct with "
            "a binary 'bytes' field as Hugging Face datasets stores them)"
        )


def frame_batches(frame: pl.LazyFrame, column: str | None, batch_size: int) -> Iterator[Batch]:
    """Batches of a lazy table (polars' streaming engine: memory bounded by the batch)."""
    name = image_column(frame.collect_schema(), column)
    return _batches(frame, name, "<table>", batch_size)


def parquet_file_batches(files: list[str], column: str | None, batch_size: int) -> Iterator[Batch]:
    """Batches of Parquet files one after another; a file that cannot be read is an error row."""
    from imgstats.sources import Batch

    if files:  # check the column before any decoding: a typo must not cost a long scan
        try:
            image_column(pl.scan_parquet(files[0]).collect_schema(), column)
        except (OSError, pl.exceptions.ComputeError):
            pass  # unreadable first file: reported as its own error row below
    for path in files:
        try:
            lazy = pl.scan_parquet(path)
            name = image_column(lazy.collect_schema(), column)
            yield from _batches(lazy, name, path, batch_size)
        except (OSError, pl.exceptions.PolarsError) as e:
            yield Batch(names=[], failures=[(path, f"cannot read Parquet file: {e}")])


def _batches(frame: pl.LazyFrame, column: str, origin: str, batch_size: int) -> Iterator[Batch]:
    from imgstats.sources import Batch

    dtype = frame.collect_schema()[column]
    if isinstance(dtype, pl.Struct):
        has_path = any(f.name == "path" for f in dtype.fields)
        cols = [pl.col(column).struct.field("bytes").alias("b")]
        cols.append(
            pl.col(column).struct.field("path").cast(pl.String).alias("p")
            if has_path
            else pl.lit(None, pl.String).alias("p")
        )
    else:
        cols = [pl.col(column).alias("b"), pl.lit(None, pl.String).alias("p")]
    row = 0
    for chunk in frame.select(cols).collect_batches(chunk_size=batch_size, lazy=True):
        n = chunk.height
        given = pl.col("p")
        named = chunk.select(
            pl.when(given.is_not_null() & (given != ""))
            .then(given)
            .otherwise(
                pl.concat_str(pl.lit(f"{origin}#"), pl.int_range(row, row + n).cast(pl.String))
            )
        )
        names: list[str] = named.to_series().to_list()
        row += n
        if chunk["b"].null_count() == 0:
            # Every row holds its bytes: the binding reads them from Arrow memory, no copies.
            yield Batch(names=names, blobs=chunk["b"])
            continue
        blobs: list[bytes | None] = chunk["b"].to_list()
        paths: list[str | None] = chunk["p"].to_list()
        # Hugging Face keeps `bytes` null when the image is the file at `path`; a row with
        # neither becomes an error row through the core's "empty input" message.
        items: list[bytes | str] = [
            blob if blob is not None else (path if path else b"")
            for blob, path in zip(blobs, paths)
        ]
        yield Batch(names=names, items=items)
