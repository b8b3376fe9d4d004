"""`scan(..., output=, incremental=True)`: unchanged files are not decoded again, new and changed
files are, deleted files leave the output, and a cache written under other settings is rescanned.

Decodes are counted by wrapping the native `_scan_batch` (every path sent to the decoder), and
every output is compared with a fresh in-memory `scan` of the same folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats import _imgstats, incremental
from PIL import Image


def write_pngs(folder: Path, names: list[str], seed: int = 0) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in names:
        Image.fromarray(rng.integers(0, 256, (20, 24), dtype=np.uint8)).save(folder / name)


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every path handed to the native decoder during the test."""
    seen: list[str] = []
    original = _imgstats._scan_batch

    def counting(paths: list[bytes], *args: object, **kw: object) -> object:
        seen.extend(os.fsdecode(p) for p in paths)
        return original(paths, *args, **kw)

    monkeypatch.setattr(_imgstats, "_scan_batch", counting)
    return seen


def rescan(folder: Path, out: Path, **kw: object) -> pl.DataFrame:
    return imgstats.scan(folder, output=out, incremental=True, batch_size=4, **kw).collect()


def fresh(folder: Path, **kw: object) -> pl.DataFrame:
    return imgstats.scan(folder, **kw)


def test_unchanged_folder_decodes_nothing(tmp_path: Path, decoded: list[str]) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, [f"{i:02d}.png" for i in range(10)])
    first = rescan(folder, out)
    assert len(decoded) == 10
    assert first.drop(incremental.MTIME_COLUMN).equals(fresh(folder))
    decoded.clear()
    second = rescan(folder, out)
    assert decoded == []
    assert second.equals(first)
    assert not (tmp_path / ".stats.parquet.parts").exists()


def test_new_changed_and_deleted_files(tmp_path: Path, decoded: list[str]) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, [f"{i:02d}.png" for i in range(12)])
    rescan(folder, out)
    decoded.clear()
    write_pngs(folder, ["new_a.png", "05x.png"], seed=1)  # two new files
    write_pngs(folder, ["03.png"], seed=2)  # rewritten: other pixels (and mtime)
    (folder / "07.png").unlink()  # deleted
    st = os.stat(folder / "09.png")
    os.utime(folder / "09.png", ns=(st.st_atime_ns, st.st_mtime_ns + 1))  # touched only
    result = rescan(folder, out)
    assert sorted(Path(p).name for p in decoded) == ["03.png", "05x.png", "09.png", "new_a.png"]
    assert result.drop(incremental.MTIME_COLUMN).equals(fresh(folder))
    assert str(folder / "07.png") not in result["path"].to_list()
    assert result.height == 13


def test_mtime_column_is_the_files_mtime(tmp_path: Path) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png", "b.png"])
    result = rescan(folder, out)
    expected = [os.stat(p).st_mtime_ns for p in result["path"]]
    assert result[incremental.MTIME_COLUMN].to_list() == expected


def test_broken_files_are_cached_unreadable_ones_retried(
    tmp_path: Path, decoded: list[str]
) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png"])
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    missing = str(folder / "gone.png")
    sources = [str(folder / "a.png"), str(folder / "broken.png"), missing]
    first = imgstats.scan(sources, output=out, incremental=True).collect()
    assert first["error"].is_null().to_list() == [True, False, False]
    decoded.clear()
    imgstats.scan(sources, output=out, incremental=True).collect()
    # The decode error is a fact about the bytes (cached); a missing file may appear later.
    assert decoded == [missing]


def test_settings_are_recorded_in_parquet_metadata(tmp_path: Path) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png"])
    imgstats.scan(folder, ["phash", "blur"], output=out, incremental=True, analysis_size=64)
    stored = json.loads(pl.read_parquet_metadata(out)[incremental.METADATA_KEY])
    assert stored["metrics"] == ["blur", "phash"]
    assert stored["analysis_size"] == 64
    assert stored["version"] == imgstats.__version__
    assert stored["definitions"] == incremental.DEFINITIONS_VERSION
    assert incremental.read_settings(out) == stored


@pytest.mark.parametrize(
    "change",
    [
        {"metrics": ["phash"]},
        {"metrics": ["phash", "blur", "noise"]},
        {"analysis_size": 32},
        {"max_pixels": 10_000},
    ],
)
def test_cache_with_other_settings_is_refreshed(
    tmp_path: Path, decoded: list[str], change: dict[str, object]
) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, [f"{i}.png" for i in range(5)])
    base: dict[str, object] = {"metrics": ["phash", "blur"]}
    rescan(folder, out, **base)
    decoded.clear()
    settings = {**base, **change}
    with pytest.warns(UserWarning, match="other settings"):
        result = rescan(folder, out, **settings)
    assert len(decoded) == 5
    assert result.drop(incremental.MTIME_COLUMN).equals(fresh(folder, **settings))


def test_older_definitions_are_refreshed(
    tmp_path: Path, decoded: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png", "b.png"])
    rescan(folder, out)
    decoded.clear()
    monkeypatch.setattr(incremental, "DEFINITIONS_VERSION", incremental.DEFINITIONS_VERSION + 1)
    with pytest.warns(UserWarning, match="definitions"):
        rescan(folder, out)
    assert len(decoded) == 2


def test_output_of_a_plain_scan_is_not_trusted(tmp_path: Path, decoded: list[str]) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png", "b.png"])
    plain = imgstats.scan(folder, output=out).collect()
    assert incremental.MTIME_COLUMN not in plain.columns
    assert plain.equals(fresh(folder))
    decoded.clear()
    with pytest.warns(UserWarning, match="rescanning every file"):
        rescan(folder, out)
    assert len(decoded) == 2
    decoded.clear()
    pl.DataFrame({"path": ["x"]}).write_parquet(out)  # someone else's file
    with pytest.warns(UserWarning, match="no imgstats settings"):
        rescan(folder, out)
    assert len(decoded) == 2


def test_listed_twice_is_measured_once(tmp_path: Path, decoded: list[str]) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, ["a.png", "b.png"])
    a, b = str(folder / "a.png"), str(folder / "b.png")
    result = imgstats.scan([b, a, b], output=out, incremental=True).collect()
    assert result["path"].to_list() == [b, a]
    assert sorted(decoded) == [a, b]


def test_empty_folder(tmp_path: Path) -> None:
    (tmp_path / "img").mkdir()
    out = tmp_path / "stats.parquet"
    result = rescan(tmp_path / "img", out)
    assert result.height == 0
    assert incremental.MTIME_COLUMN in result.columns
    assert set(fresh(tmp_path / "img").columns) < set(result.columns)


def test_incremental_needs_files_and_an_output(tmp_path: Path) -> None:
    write_pngs(tmp_path, ["a.png"])
    with pytest.raises(ValueError, match="needs output="):
        imgstats.scan(tmp_path, incremental=True)
    with pytest.raises(ValueError, match="needs output="):
        imgstats.scan([b"\x89PNG"], output=tmp_path / "o.parquet", incremental=True)


def test_cli_incremental(tmp_path: Path) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_pngs(folder, [f"{i}.png" for i in range(6)])
    cmd = [sys.executable, "-m", "imgstats.cli", "scan", str(folder), "-o", str(out)]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.run([*cmd, "--incremental"], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "decoded 6 of 6" in first.stdout
    write_pngs(folder, ["new.png"], seed=3)
    second = subprocess.run([*cmd, "--incremental"], capture_output=True, text=True, env=env)
    assert second.returncode == 0, second.stderr
    assert "decoded 1 of 7" in second.stdout
    assert pl.read_parquet(out).drop(incremental.MTIME_COLUMN).equals(fresh(folder))
    bad = subprocess.run([*cmd[:-2], "--incremental"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert "--incremental needs -o" in bad.stderr
