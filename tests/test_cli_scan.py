"""`imgstats scan` from a shell: the table it writes equals `imgstats.scan`, failures are rows,
progress appears only on a terminal, and bad arguments fail before any decoding."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import imagehash
import imgstats
import polars as pl
import pytest
from conftest import photo_like
from imgstats.cli import main
from PIL import Image
from polars.testing import assert_frame_equal


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Five photos in two sizes and formats, one nested, plus one corrupt file."""
    root = tmp_path_factory.mktemp("captures")
    (root / "day2").mkdir()
    for i in range(5):
        h, w = (48, 64) if i < 3 else (60, 90)
        target = root / ("day2" if i == 4 else "") / f"img_{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray(photo_like(h, w, seed=i)).save(target)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return root


def by_path(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort("path")


def test_parquet_output_equals_the_python_scan(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "stats.parquet"
    assert main(["scan", str(folder), "-o", str(out)]) == 0
    written = pl.read_parquet(out)
    assert_frame_equal(by_path(written), by_path(imgstats.scan(str(folder))))
    assert written.height == 6
    assert written.filter(pl.col("error").is_not_null())["path"].to_list() == [
        str(folder / "broken.jpg")
    ]
    printed = capsys.readouterr()
    assert "imgstats: 6 files in" in printed.out and "1 failed" in printed.out
    assert "formats: png 3, jpeg 2" in printed.out
    assert "sizes: 2 distinct, most common 64×48 (60 %)" in printed.out
    assert f"FAILED {folder / 'broken.jpg'}:" in printed.out
    assert "wrote 6 rows to" in printed.out
    assert printed.err == ""  # not a terminal: no progress line


def test_csv_writes_hashes_as_imagehash_hex(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "nested" / "stats.csv"
    assert main(["scan", str(folder), "-o", str(out), "--metrics", "phash,dhash,brightness"]) == 0
    csv = by_path(pl.read_csv(out))
    expected = by_path(imgstats.scan(str(folder), metrics=["phash", "dhash", "brightness"]))
    assert csv.columns == expected.columns
    for col in ("phash", "dhash"):
        want = [None if v is None else imgstats.hash_hex(v) for v in expected[col]]
        assert csv[col].to_list() == want
    # The strings are what imagehash stores: they parse back to the same 64 bits.
    first = csv.filter(pl.col("error").is_null()).row(0, named=True)
    assert str(imagehash.hex_to_hash(first["phash"])) == first["phash"]
    assert "blur" not in csv.columns  # only what was asked for
    capsys.readouterr()


def test_ndjson_output(folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "stats.ndjson"
    assert main(["scan", str(folder), "-o", str(out), "--metrics", "brightness"]) == 0
    rows = pl.read_ndjson(out)
    assert rows.height == 6 and rows["brightness"].null_count() == 1
    capsys.readouterr()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metrics", "phash,sharpnes"], "unknown metrics sharpnes"),
        (["-o", "stats.xlsx"], "unsupported output type '.xlsx'"),
    ],
)
def test_bad_arguments_fail_before_scanning(
    folder: Path, tmp_path: Path, capsys, monkeypatch, extra: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)

    def no_scan(*args: object, **kwargs: object) -> None:
        raise AssertionError("scanned despite bad arguments")

    monkeypatch.setattr("imgstats.commands.scan.scan", no_scan)
    assert main(["scan", str(folder), *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("imgstats scan: error: ") and message in err
    assert list(tmp_path.iterdir()) == []


def test_progress_flag_draws_on_stderr(folder: Path, capsys) -> None:
    assert main(["scan", str(folder), "--metrics", "brightness", "--progress"]) == 0
    err = capsys.readouterr().err
    assert "6/6 files" in err


def test_console_script_piped(folder: Path, tmp_path: Path) -> None:
    """The installed command, as a pipeline runs it: exit 0, table written, stderr quiet."""
    exe = Path(sys.executable).with_name("imgstats")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "imgstats.cli"]
    out = tmp_path / "stats.parquet"
    proc = subprocess.run(
        [*cmd, "scan", str(folder), "-o", str(out), "--threads", "2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert pl.read_parquet(out).height == 6
    assert "wrote 6 rows" in proc.stdout
