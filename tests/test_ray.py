"""`imgstats.ray.scan` on a local Ray cluster (2 CPUs) equals `imgstats.scan` of the same files,
row for row and with every path kept, for bytes (`read_binary_files`), Parquet image columns and
path-only datasets. The Arrow-level function is also checked without Ray."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import imgstats
import imgstats.ray
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image


@pytest.fixture(scope="module")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("ray-images")
    rng = np.random.default_rng(11)
    for i in range(24):
        fmt = ("png", "jpg", "webp")[i % 3]
        Image.fromarray(rng.integers(0, 256, (30 + i, 40, 3), dtype=np.uint8)).save(
            folder / f"{i:03d}.{fmt}"
        )
    (folder / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut")
    return folder


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[object]:
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    yield ray
    ray.shutdown()


def collect(ds: object) -> pl.DataFrame:
    """Every Arrow block of a Ray Dataset as one polars frame."""
    import ray

    frames = [pl.from_arrow(ray.get(ref)) for ref in ds.to_arrow_refs()]  # type: ignore[attr-defined]
    return pl.concat([f for f in frames if isinstance(f, pl.DataFrame)])


def by_path(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("path")


def test_read_binary_files_keeps_paths(ray_cluster: object, image_dir: Path) -> None:
    import ray

    ds = ray.data.read_binary_files(str(image_dir), include_paths=True)
    got = collect(imgstats.ray.scan(ds, batch_size=5))
    reference = imgstats.scan(image_dir)
    # read_binary_files names local files by their absolute path, exactly as scan does.
    assert by_path(got).equals(by_path(reference))
    assert got.filter(pl.col("error").is_not_null())["path"].to_list() == [
        str(image_dir / "broken.jpg")
    ]


def test_metrics_and_options_pass_through(ray_cluster: object, image_dir: Path) -> None:
    import ray

    ds = ray.data.read_binary_files(str(image_dir), include_paths=True)
    out = imgstats.ray.scan(ds, metrics=["phash", "blur"], analysis_size=32, num_cpus=2)
    got = collect(out)
    reference = imgstats.scan(image_dir, ["phash", "blur"], analysis_size=32)
    assert by_path(got).equals(by_path(reference))


def test_parquet_struct_column_and_paths_only(
    ray_cluster: object, image_dir: Path, tmp_path: Path
) -> None:
    import ray

    files = sorted(p for p in image_dir.iterdir() if p.name != "broken.jpg")
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    rows = [{"bytes": p.read_bytes(), "path": str(p)} for p in files]
    pq.write_table(pa.table({"image": pa.array(rows, struct)}), tmp_path / "hf.parquet")
    reference = by_path(imgstats.scan([str(p) for p in files]))

    ds = ray.data.read_parquet(str(tmp_path / "hf.parquet"))
    got = collect(imgstats.ray.scan(ds))
    assert by_path(got).equals(reference)

    paths = ray.data.from_items([{"path": str(p)} for p in files])
    got = collect(imgstats.ray.scan(paths))
    assert by_path(got).equals(reference)


def test_scan_table_without_ray(image_dir: Path) -> None:
    files = sorted(image_dir.iterdir())
    table = pa.table(
        {"path": [str(p) for p in files], "bytes": pa.array([p.read_bytes() for p in files])}
    )
    got = pl.from_arrow(imgstats.ray.scan_table(table, column=None, options={}, threads=2))
    assert isinstance(got, pl.DataFrame)
    assert got.equals(imgstats.scan([str(p) for p in files]))
    with pytest.raises(ValueError, match="no column 'img'"):
        imgstats.ray.scan_table(table, column="img", options={}, threads=1)


def test_missing_ray_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    monkeypatch.setitem(sys.modules, "ray.data", None)
    with pytest.raises(ImportError, match=r"pip install 'imgstats\[ray\]'"):
        imgstats.ray.scan(object())  # type: ignore[arg-type]


def test_thread_pool_sized_to_the_task(ray_cluster: object) -> None:
    import ray

    ds = ray.data.from_items([{"x": i} for i in range(4)])
    for cpus in (1, 2):
        seen = ds.map_batches(
            lambda b: {"cpus": [imgstats.ray._task_cpus()] * len(b["x"])},
            num_cpus=cpus,
            batch_size=2,
        ).take_all()
        assert {row["cpus"] for row in seen} == {cpus}


def test_read_is_fused_with_the_scan(ray_cluster: object, image_dir: Path) -> None:
    """With a block count of at most the number of files, Ray runs the read and the scan in
    one task: the image bytes never enter the object store (the benchmark's `ray-bytes`)."""
    import ray

    ds = ray.data.read_binary_files(str(image_dir), include_paths=True, override_num_blocks=2)
    out = imgstats.ray.scan(ds).materialize()
    assert "ReadBinary->MapBatches(scan_table)" in out.stats()
    assert by_path(collect(out)).equals(by_path(imgstats.scan(image_dir)))


def test_null_bytes_are_error_rows(ray_cluster: object, image_dir: Path) -> None:
    import ray

    files = sorted(image_dir.glob("*.png"))[:3]
    blobs = [files[0].read_bytes(), None, files[2].read_bytes()]
    names = [str(p) for p in files]
    table = pa.table({"bytes": pa.array(blobs, pa.large_binary()), "path": names})
    got = collect(imgstats.ray.scan(ray.data.from_arrow(table)))
    assert got["path"].to_list() == names
    assert got["error"].to_list() == [
        None,
        "null entry: this row of the Arrow column holds no image bytes",
        None,
    ]
    reference = imgstats.scan([names[0], names[2]])
    assert got.filter(pl.col("error").is_null()).equals(reference)
