"""Arrow binary columns go into the native scan in place (Arrow PyCapsule interface + arrow-rs
FFI): every Arrow layout gives exactly the rows the same blobs give as Python `bytes` (all
columns), slices honour their offset, a null entry is an error row that says so (nothing
dropped), and no blob is copied into a Python object on the way."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import imgstats
import imgstats.ray
import polars as pl
import pyarrow as pa
import pytest
from conftest import main_thread_ran_during
from imgstats import _imgstats
from test_fuzz import seed_images

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "images"


@pytest.fixture(scope="module")
def blobs() -> list[bytes]:
    """Every format and variant the scan reads, the example photos and the broken examples
    (empty, truncated, not an image): valid rows and error rows alike."""
    files = sorted(p for p in EXAMPLES.rglob("*") if p.is_file())
    return list(seed_images().values()) + [p.read_bytes() for p in files]


@pytest.fixture(scope="module")
def reference(blobs: list[bytes]) -> pl.DataFrame:
    return pl.DataFrame(_imgstats._scan_batch([], blobs, threads=2))


def scan_arrow(column: object) -> pl.DataFrame:
    return pl.DataFrame(_imgstats._scan_batch([], column, threads=2))  # type: ignore[arg-type]


def renamed(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with the names a scan of its rows alone would give (`<bytes #i>` from 0)."""
    names = [f"<bytes #{i}>" for i in range(frame.height)]
    return frame.with_columns(pl.Series("path", names))


def test_reference_has_valid_and_error_rows(reference: pl.DataFrame) -> None:
    errors = reference["error"].null_count()
    assert 20 < errors < reference.height  # both kinds are compared below


@pytest.mark.parametrize("dtype", [pa.binary(), pa.large_binary(), pa.binary_view()])
def test_every_binary_layout_equals_bytes(
    blobs: list[bytes], reference: pl.DataFrame, dtype: pa.DataType
) -> None:
    assert scan_arrow(pa.array(blobs, dtype)).equals(reference)


def test_chunked_array_and_polars_series(blobs: list[bytes], reference: pl.DataFrame) -> None:
    chunks = [blobs[:5], [], blobs[5:17], blobs[17:]]
    assert scan_arrow(pa.chunked_array(chunks, pa.binary())).equals(reference)
    assert scan_arrow(pa.chunked_array(chunks, pa.large_binary())).equals(reference)
    assert scan_arrow(pl.Series(blobs, dtype=pl.Binary)).equals(reference)


def test_sliced_arrays_honour_their_offset(blobs: list[bytes], reference: pl.DataFrame) -> None:
    for dtype in (pa.binary(), pa.large_binary(), pa.binary_view()):
        whole = pa.array(blobs, dtype)
        got = scan_arrow(whole.slice(7, 11))
        assert got.equals(renamed(reference.slice(7, 11))), dtype
    chunked = pa.chunked_array([blobs[:10], blobs[10:]], pa.binary()).slice(4, 15)
    assert scan_arrow(chunked).equals(renamed(reference.slice(4, 15)))


def test_null_entries_are_error_rows(blobs: list[bytes], reference: pl.DataFrame) -> None:
    with_nulls = blobs[:3] + [None] + blobs[3:8] + [None]
    for dtype in (pa.binary(), pa.large_binary(), pa.binary_view()):
        got = scan_arrow(pa.array(with_nulls, dtype))
        assert got.height == len(with_nulls)
        nulls = got.filter(pl.col("path").is_in(["<bytes #3>", "<bytes #9>"]))
        assert (
            nulls["error"].to_list()
            == ["null entry: this row of the Arrow column holds no image bytes"] * 2
        )
        assert nulls.drop("path", "error").null_count().sum_horizontal().item() == (
            2 * (got.width - 2)
        )
        rest = got.filter(~pl.col("path").is_in(["<bytes #3>", "<bytes #9>"]))
        assert rest.drop("path").equals(reference.head(8).drop("path"))


def test_not_binary_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="expected an Arrow binary.*got Utf8"):
        _imgstats._scan_batch([], pa.array(["a.jpg"]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="expected an Arrow binary.*got Int64"):
        _imgstats._scan_batch([], pa.chunked_array([[1, 2]]))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="list of bytes or an Arrow binary array"):
        _imgstats._scan_batch([], ["a.jpg"])  # type: ignore[list-item]


def test_no_blob_is_copied_into_python() -> None:
    """tracemalloc sees Python's allocations (a `bytes` per blob would be one), not Rust's."""
    blob = bytes(range(256)) * 1024  # 256 KiB, not an image: content_hash needs no decode
    column = pa.array([blob] * 80, pa.binary())  # 20 MiB
    tracemalloc.start()
    try:
        _imgstats._scan_batch([], column, metrics=["content_hash"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20, peak  # under 1 MiB of Python objects for 20 MiB of images
    # The same check catches the copying route:
    tracemalloc.start()
    try:
        _imgstats._scan_batch([], column.to_pylist(), metrics=["content_hash"])
        _, copied = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert copied > 20 << 20


def test_tables_and_ray_batches_use_the_arrow_route(
    blobs: list[bytes], reference: pl.DataFrame
) -> None:
    table = pa.table({"image": pa.array(blobs, pa.large_binary())})
    expected = reference.with_columns(
        pl.format("<table>#{}", pl.int_range(len(blobs))).alias("path")
    )
    assert imgstats.scan(table, batch_size=9).equals(expected)
    got = pl.from_arrow(imgstats.ray.scan_table(table, column=None, options={}, threads=2))
    assert isinstance(got, pl.DataFrame) and got.equals(expected)
    # A Hugging Face struct whose rows all hold bytes: names from the struct's path.
    struct = pa.StructArray.from_arrays(
        [pa.array(blobs, pa.binary()), pa.array([f"img/{i}.bin" for i in range(len(blobs))])],
        names=["bytes", "path"],
    )
    got = pl.from_arrow(
        imgstats.ray.scan_table(
            pa.table({"image": struct}).slice(2), column="image", options={}, threads=1
        )
    )
    assert isinstance(got, pl.DataFrame)
    assert got["path"].to_list() == [f"img/{i}.bin" for i in range(2, len(blobs))]
    assert got.drop("path").equals(reference.slice(2).drop("path"))


def test_gil_is_released_while_an_arrow_column_is_scanned(blobs: list[bytes]) -> None:
    column = pa.chunked_array([blobs, blobs], pa.large_binary())
    ran, batch = main_thread_ran_during(lambda: _imgstats._scan_batch([], column, threads=1))
    assert ran
    assert len(batch) == 2 * len(blobs)
