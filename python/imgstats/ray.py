"""Past one machine: `imgstats.ray.scan(ds)` measures a Ray Dataset of images where it lives.

Arrow batches in, Arrow batches out: each Ray task scans one batch with imgstats' own thread
pool sized to the CPUs Ray gave that task (``num_cpus``), so Ray's tasks and imgstats' threads
never oversubscribe the machine. Each row keeps its name (the dataset's ``path`` column, the
Hugging Face struct's ``path``, else ``<table>#row``).

The near-duplicate and leakage steps then run on one machine from the collected hashes (8 bytes
per hash: 100 million images are 800 MB per hash column)::

    import ray, imgstats, imgstats.ray
    cpus = int(ray.cluster_resources()["CPU"])
    ds = ray.data.read_binary_files(  # a few blocks per CPU: see `scan`'s batch_size
        "s3://bucket/captures/", include_paths=True, override_num_blocks=4 * cpus
    )
    stats = imgstats.ray.scan(ds, metrics=["phash", "dhash", "blur", "brightness"])
    stats.write_parquet("s3://bucket/stats/")          # or, for the hashes alone:
    df = pl.from_arrow(stats.select_columns(["path", "phash", "dhash"]).to_arrow_refs() ...)

Ray is an optional extra (``pip install 'imgstats[ray]'``); the rest of imgstats never imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import polars as pl

from imgstats import _imgstats
from imgstats.scan import scan as _scan

if TYPE_CHECKING:
    import pyarrow
    import ray.data

#: Columns tried, in order, when `column=` is not given: `read_binary_files` gives "bytes",
#: Hugging Face datasets "image"; a dataset with only "path" is scanned from those files.
DEFAULT_COLUMNS = ("bytes", "image", "path")


def _require_ray() -> Any:
    try:
        import ray.data
    except ImportError:
        raise ImportError("imgstats.ray needs Ray Data: pip install 'imgstats[ray]'") from None
    return ray


def scan(
    ds: ray.data.Dataset,
    *,
    column: str | None = None,
    metrics: Sequence[str] | None = None,
    num_cpus: int = 1,
    batch_size: int | None = None,
    **scan_options: Any,
) -> ray.data.Dataset:
    """A Ray Dataset with one row of `imgstats.scan` columns per image of `ds`.

    Args:
        ds: a Ray Dataset with encoded images in a binary column (``read_binary_files(...,
            include_paths=True)`` gives ``bytes`` and ``path``; ``read_parquet`` of an image
            column, including Hugging Face's ``{bytes, path}`` struct) or only a ``path``
            column of files every worker can read.
        column: the image column (default: ``bytes``, then ``image``, then ``path``).
        metrics: as for `imgstats.scan` (default: all).
        num_cpus: CPUs each Ray task reserves; imgstats scans its batch with that many threads.
        batch_size: images per task call; None (default) scans each Ray block as it is, which
            lets Ray fuse the read with the scan in one task, so the image bytes never pass
            through the object store (a number re-batches them there). Ray also declines to
            fuse when it splits the read's blocks, which it does by default when there are
            fewer files than ``DataContext.read_op_min_num_blocks`` (200): read with
            ``override_num_blocks=`` (a few blocks per CPU) to keep the bytes in the task.
        scan_options: further keyword arguments of `imgstats.scan` (``analysis_size``,
            ``max_pixels``, ``max_file_size``).

    Returns:
        A lazy Ray Dataset of Arrow batches; ``path`` names each image as the input did.
    """
    _require_ray()
    if num_cpus < 1:
        raise ValueError("num_cpus must be at least 1")
    bad = {"threads", "output", "progress", "incremental", "column"} & set(scan_options)
    if bad:
        raise TypeError(f"not an option of imgstats.ray.scan: {', '.join(sorted(bad))}")
    options = {"metrics": list(metrics) if metrics is not None else None, **scan_options}
    udf: Any = scan_table  # Ray's stub wants a one-argument callable; kwargs go in fn_kwargs
    return ds.map_batches(
        udf,
        batch_format="pyarrow",
        batch_size=batch_size,
        num_cpus=num_cpus,
        fn_kwargs={"column": column, "options": options},
        zero_copy_batch=True,
    )


def scan_table(
    table: pyarrow.Table, *, column: str | None, options: dict[str, Any], threads: int | None = None
) -> pyarrow.Table:
    """Scan one Arrow batch (the function each Ray task runs; usable without Ray too)."""
    if threads is None:
        threads = _task_cpus()
    name = _pick_column(table.column_names, column)
    blobs = _arrow_blobs(table.column(name))
    if blobs is not None:
        # The binding reads the Arrow buffers in place: no blob is copied into a Python object.
        kwargs = {k: v for k, v in options.items() if k in _BINDING_OPTIONS}
        unknown = set(options) - set(kwargs) - {"extensions"}
        if unknown:
            raise TypeError(f"unknown scan options: {', '.join(sorted(unknown))}")
        result = pl.DataFrame(_imgstats._scan_batch([], blobs, threads=threads, **kwargs))
        result = result.with_columns(_row_names(table, name))
    else:
        frame = pl.DataFrame(table)  # zero-copy where Arrow and polars share a layout
        batch_size = max(frame.height, 1)
        if frame.schema[name] == pl.String:  # paths to files the worker reads itself
            result = _scan(frame[name].to_list(), threads=threads, batch_size=batch_size, **options)
        else:  # a Hugging Face struct whose bytes are null where the image is the file at path
            result = _scan(frame, column=name, threads=threads, batch_size=batch_size, **options)
        assert isinstance(result, pl.DataFrame)
        if "path" in frame.columns and name != "path" and frame.schema["path"] == pl.String:
            result = result.with_columns(frame["path"].alias("path"))
    # Plain Arrow types (string, not string_view): every Ray block concatenates with every other.
    return result.to_arrow(compat_level=pl.CompatLevel.oldest())


#: Keyword arguments `imgstats.scan` shares with the native batch call.
_BINDING_OPTIONS = ("metrics", "analysis_size", "max_pixels", "max_file_size")


def _arrow_blobs(col: pyarrow.ChunkedArray) -> pyarrow.ChunkedArray | None:
    """The encoded images of `col` as Arrow binary chunks the binding reads in place, or None
    when the column needs the general route (paths, or a struct with rows that are files)."""
    import pyarrow as pa

    def is_binary(t: pa.DataType) -> bool:
        return bool(pa.types.is_binary(t) or pa.types.is_large_binary(t))

    if is_binary(col.type) or str(col.type) == "binary_view":
        return col
    if pa.types.is_struct(col.type):
        index = col.type.get_field_index("bytes")
        if index < 0 or not is_binary(col.type.field(index).type):
            return None
        # flatten() applies the struct's offset and validity to its children, without copying
        # the values buffers.
        blobs = pa.chunked_array([c.flatten()[index] for c in col.chunks], col.type[index].type)
        return blobs if blobs.null_count == 0 else None
    return None


def _row_names(table: pyarrow.Table, name: str) -> pl.Expr:
    """The `path` of each row: the table's `path` column, the Hugging Face struct's `path`, or
    ``<table>#row`` where neither names it."""
    fallback = pl.format("<table>#{}", pl.int_range(table.num_rows))
    given: pl.Series | None = None
    if "path" in table.column_names and name != "path":
        given = pl.Series(table.column("path"))
    else:
        col = table.column(name)
        if str(col.type).startswith("struct") and col.type.get_field_index("path") >= 0:
            given = pl.Series(col).struct.field("path")
    if given is None or given.dtype != pl.String:
        return fallback.alias("path")
    return (
        pl.when(pl.lit(given).is_not_null() & (pl.lit(given) != ""))
        .then(pl.lit(given))
        .otherwise(fallback)
        .alias("path")
    )


def _pick_column(columns: list[str], column: str | None) -> str:
    if column is not None:
        if column not in columns:
            raise ValueError(f"no column {column!r}; columns: {', '.join(columns)}")
        return column
    for name in DEFAULT_COLUMNS:
        if name in columns:
            return name
    raise ValueError(f"pass column= (columns: {', '.join(columns)})")


def _task_cpus() -> int:
    """CPUs Ray assigned to the running task (1 outside Ray)."""
    try:
        import ray

        resources = ray.get_runtime_context().get_assigned_resources()  # type: ignore[no-untyped-call]
        cpus = resources.get("CPU", 1)
    except Exception:  # not inside a Ray worker
        return 1
    return max(1, int(cpus))
