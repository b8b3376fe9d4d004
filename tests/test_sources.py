"""Datasets as they are stored: Parquet image columns (plain binary and the Hugging Face
`datasets` layout) and WebDataset tar shards, written here with the real libraries (pyarrow,
`datasets` when installed, Python's `tarfile`), must measure exactly like the same images
scanned from files, row for row, named after where each image was stored.
"""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from imgstats import _imgstats
from imgstats.sources import expand_braces
from PIL import Image

FORMATS = ("png", "jpg", "webp", "bmp", "gif")


@pytest.fixture
def image_files(tmp_path: Path) -> list[Path]:
    """Eleven small images in several formats, written as files (the reference)."""
    folder = tmp_path / "files"
    folder.mkdir()
    rng = np.random.default_rng(3)
    out = []
    for i in range(11):
        fmt = FORMATS[i % len(FORMATS)]
        pixels = rng.integers(0, 256, (16 + i, 20, 3), dtype=np.uint8)
        path = folder / f"{i:03d}.{fmt}"
        Image.fromarray(pixels).save(path)
        out.append(path)
    return out


def measured(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop("path")


@pytest.fixture
def batch_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sizes: list[int] = []
    original = _imgstats._scan_batch

    def recording(paths: list[bytes], blobs: object, *a: object, **k: object) -> object:
        n = len(paths) + len(blobs)  # type: ignore[arg-type]  # bytes or an Arrow column
        if n:
            sizes.append(n)
        return original(paths, blobs, *a, **k)

    monkeypatch.setattr(_imgstats, "_scan_batch", recording)
    return sizes


def test_parquet_binary_column_in_batches(
    tmp_path: Path, image_files: list[Path], batch_sizes: list[int]
) -> None:
    table = pa.table(
        {
            "label": list(range(len(image_files))),
            "image": pa.array([p.read_bytes() for p in image_files], pa.binary()),
        }
    )
    pq.write_table(table, tmp_path / "train.parquet", row_group_size=4)
    reference = imgstats.scan([str(p) for p in image_files])
    batch_sizes.clear()
    got = imgstats.scan(pl.scan_parquet(tmp_path / "train.parquet"), column="image", batch_size=3)
    assert batch_sizes == [3, 3, 3, 2]  # never more than a batch of images in memory
    assert measured(got).equals(measured(reference))
    assert got["path"].to_list() == [f"<table>#{i}" for i in range(len(image_files))]
    # The file name itself: rows are named file#row; column found without column=.
    named = imgstats.scan(str(tmp_path / "train.parquet"), batch_size=5)
    assert named["path"].to_list() == [
        f"{tmp_path / 'train.parquet'}#{i}" for i in range(len(image_files))
    ]
    assert measured(named).equals(measured(reference))


def test_several_parquet_files_by_glob_and_braces(tmp_path: Path, image_files: list[Path]) -> None:
    blobs = [p.read_bytes() for p in image_files]
    for k, part in enumerate((blobs[:4], blobs[4:9], blobs[9:])):
        pq.write_table(pa.table({"png": pa.array(part, pa.binary())}), tmp_path / f"t-{k}.parquet")
    reference = imgstats.scan([str(p) for p in image_files])
    expected_names = [f"{tmp_path}/t-0.parquet#{i}" for i in range(4)]
    expected_names += [f"{tmp_path}/t-1.parquet#{i}" for i in range(5)]
    expected_names += [f"{tmp_path}/t-2.parquet#{i}" for i in range(2)]
    for source in (f"{tmp_path}/t-*.parquet", f"{tmp_path}/t-{{0..2}}.parquet"):
        got = imgstats.scan(source, column="png", batch_size=2)
        assert got["path"].to_list() == expected_names
        assert measured(got).equals(measured(reference))
    lazy = imgstats.scan(pl.scan_parquet(f"{tmp_path}/t-*.parquet"), column="png")
    assert measured(lazy).equals(measured(reference))


def test_hugging_face_struct_layout(tmp_path: Path, image_files: list[Path]) -> None:
    """{bytes, path} structs: the struct's path names the row; bytes null means 'read the file
    at path'; neither is an error row, never a silent drop."""
    rows = [{"bytes": p.read_bytes(), "path": p.name} for p in image_files[:5]]
    rows.append({"bytes": None, "path": str(image_files[5])})  # image kept as a file
    rows.append({"bytes": image_files[6].read_bytes(), "path": None})  # decoded from an array
    rows.append({"bytes": None, "path": None})
    struct = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    pq.write_table(
        pa.table({"image": pa.array(rows, struct), "y": list(range(8))}), tmp_path / "d.parquet"
    )
    got = imgstats.scan(pl.scan_parquet(tmp_path / "d.parquet"), column="image", batch_size=3)
    assert got["path"].to_list() == [p.name for p in image_files[:5]] + [
        str(image_files[5]),
        "<table>#6",
        "<table>#7",
    ]
    reference = imgstats.scan([str(p) for p in image_files[:7]])
    assert measured(got.head(7)).equals(measured(reference))
    assert got["error"].to_list()[:7] == [None] * 7
    assert got["error"][7] is not None


def test_hugging_face_datasets_written_parquet(tmp_path: Path, image_files: list[Path]) -> None:
    datasets = pytest.importorskip("datasets")
    pngs = [p for p in image_files if p.suffix in (".png", ".jpg")]
    ds = datasets.Dataset.from_dict({"image": [str(p) for p in pngs]}).cast_column(
        "image", datasets.Image()
    )
    ds = ds.cast_column("image", datasets.Image(decode=True))
    ds.to_parquet(str(tmp_path / "hf.parquet"))
    got = imgstats.scan(pl.scan_parquet(tmp_path / "hf.parquet"), column="image")
    reference = imgstats.scan([str(p) for p in pngs])
    assert measured(got).equals(measured(reference))
    # datasets stores the file name (or full path) it read each image from
    assert [Path(p).name for p in got["path"]] == [p.name for p in pngs]


def test_arrow_table_and_polars_frame(image_files: list[Path]) -> None:
    blobs = [p.read_bytes() for p in image_files]
    reference = imgstats.scan([str(p) for p in image_files])
    table = pa.table({"image": pa.array(blobs, pa.large_binary())})
    assert measured(imgstats.scan(table)).equals(measured(reference))
    assert measured(imgstats.scan(pl.DataFrame({"image": blobs}))).equals(measured(reference))


def write_shard(path: Path, samples: list[tuple[str, Path]]) -> None:
    """A shard in WebDataset's layout: per sample `key.<ext>` followed by `key.cls`."""
    with tarfile.open(path, "w") as tar:
        for key, image in samples:
            for name, data in ((f"{key}{image.suffix}", image.read_bytes()), (f"{key}.cls", b"3")):
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))


def test_webdataset_shards(tmp_path: Path, image_files: list[Path], batch_sizes: list[int]) -> None:
    shards = [image_files[:4], image_files[4:8], image_files[8:]]
    expected = []
    for s, files in enumerate(shards):
        shard = tmp_path / f"shard-{s:06d}.tar"
        samples = [(f"sample{s}_{i:04d}", f) for i, f in enumerate(files)]
        write_shard(shard, samples)
        expected += [f"{shard}/{key}{f.suffix}" for key, f in samples]
    batch_sizes.clear()
    got = imgstats.scan(f"{tmp_path}/shard-{{000000..000002}}.tar", batch_size=5)
    assert got["path"].to_list() == expected
    assert batch_sizes == [5, 5, 1]
    assert measured(got).equals(measured(imgstats.scan([str(p) for p in image_files])))


def test_webdataset_missing_and_truncated_shards(tmp_path: Path, image_files: list[Path]) -> None:
    write_shard(tmp_path / "s-0.tar", [(f"k{i}", f) for i, f in enumerate(image_files[:6])])
    data = (tmp_path / "s-0.tar").read_bytes()
    (tmp_path / "s-1.tar").write_bytes(data[: len(data) // 2])  # cut mid-member
    got = imgstats.scan(f"{tmp_path}/s-{{0..2}}.tar")
    by_path = dict(zip(got["path"], got["error"]))
    assert sum(p.startswith(f"{tmp_path}/s-0.tar/") for p in by_path) == 6
    assert (
        f"{tmp_path}/s-1.tar" in by_path
        and "cannot read tar shard" in by_path[f"{tmp_path}/s-1.tar"]
    )
    assert f"{tmp_path}/s-2.tar" in by_path and "No such file" in by_path[f"{tmp_path}/s-2.tar"]
    # The members wholly before the cut are measured like the files, each once, in order.
    cut = got.filter(pl.col("path").str.starts_with(f"{tmp_path}/s-1.tar/"))
    assert 1 <= cut.height < 6
    assert cut["path"].to_list() == [
        f"{tmp_path}/s-1.tar/k{i}{f.suffix}" for i, f in enumerate(image_files[: cut.height])
    ]
    assert measured(cut).equals(
        measured(imgstats.scan([str(p) for p in image_files[: cut.height]]))
    )
    assert got["path"].to_list()[-2:] == [f"{tmp_path}/s-1.tar", f"{tmp_path}/s-2.tar"]


def test_stored_dataset_streams_to_parquet_output(tmp_path: Path, image_files: list[Path]) -> None:
    write_shard(tmp_path / "a.tar", [(f"k{i}", f) for i, f in enumerate(image_files)])
    direct = imgstats.scan(str(tmp_path / "a.tar"))
    lazy = imgstats.scan(str(tmp_path / "a.tar"), output=tmp_path / "o.parquet", batch_size=4)
    assert lazy.collect().equals(direct)


def test_usage_errors(tmp_path: Path, image_files: list[Path]) -> None:
    frame = pl.DataFrame({"a": [1], "b": [b"x"], "c": [b"y"]})
    with pytest.raises(ValueError, match="no column 'image'"):
        imgstats.scan(frame, column="image")
    with pytest.raises(ValueError, match="candidates: b, c"):
        imgstats.scan(frame)
    with pytest.raises(TypeError, match="expected encoded images"):
        imgstats.scan(frame, column="a")
    with pytest.raises(ValueError, match="column= is for tables"):
        imgstats.scan(image_files[0].parent, column="image")
    with pytest.raises(ValueError, match="incremental=True needs files"):
        imgstats.scan(frame, column="b", output=tmp_path / "x.parquet", incremental=True)


def test_brace_expansion() -> None:
    assert expand_braces("s-{000008..000010}.tar") == [
        "s-000008.tar",
        "s-000009.tar",
        "s-000010.tar",
    ]
    assert expand_braces("{train,val}-{0..1}.parquet") == [
        "train-0.parquet",
        "train-1.parquet",
        "val-0.parquet",
        "val-1.parquet",
    ]
    assert expand_braces("x{y}.tar") == ["x{y}.tar"]
    assert os.path.basename(expand_braces("/a/b-{9..10}.tar")[1]) == "b-10.tar"


def test_lists_of_shards_and_the_cli(tmp_path: Path, image_files: list[Path]) -> None:
    import subprocess
    import sys

    write_shard(tmp_path / "s-0.tar", [(f"a{i}", f) for i, f in enumerate(image_files[:5])])
    write_shard(tmp_path / "s-1.tar", [(f"b{i}", f) for i, f in enumerate(image_files[5:])])
    reference = imgstats.scan([str(p) for p in image_files])
    shards = [str(tmp_path / "s-0.tar"), str(tmp_path / "s-1.tar")]  # as the shell expands them
    assert measured(imgstats.scan(shards)).equals(measured(reference))
    blobs = pa.array([p.read_bytes() for p in image_files], pa.binary())
    pq.write_table(pa.table({"pixels": blobs}), tmp_path / "t.parquet")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    for args in (shards, [str(tmp_path / "t.parquet"), "--column", "pixels"]):
        out = tmp_path / "out.parquet"
        cmd = [sys.executable, "-m", "imgstats.cli", "scan", *args, "-o", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        assert measured(pl.read_parquet(out)).equals(measured(reference))


def test_arrow_arrays_and_scalars(image_files: list[Path]) -> None:
    """The README's old Ray pattern passed `list(batch["bytes"])`: pyarrow BinaryScalars."""
    table = pa.table({"bytes": pa.array([p.read_bytes() for p in image_files])})
    reference = measured(imgstats.scan([str(p) for p in image_files]))
    for source in (table["bytes"], table["bytes"].combine_chunks(), list(table["bytes"])):
        got = imgstats.scan(source)
        assert measured(got).equals(reference)
        assert got["path"].to_list() == [f"<table>#{i}" for i in range(len(image_files))]
