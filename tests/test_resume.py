"""A scan into a Parquet output survives ``kill -9`` at any moment: run it again and the output
holds every file exactly once, equal to an uninterrupted scan, and only unfinished work is
decoded again.

The killed scans run in child processes that log, around every call into the native decoder,
how many files they sent (``start n``) and whether the call returned (``end n``); the test kills
them with SIGKILL at random points (fixed seed) and checks the accounting from those logs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.resume import MANIFEST, PartStore, ScanInProgressError, work_dir_for
from PIL import Image

N_FILES = 150
BATCH = 5
KILLS = 20

CHILD = """
import os, sys, time
import imgstats
from imgstats import _imgstats
log = open(sys.argv[3], "a", buffering=1)
original = _imgstats._scan_batch
def logged(paths, *args, **kw):
    log.write(f"start {len(paths)}\\n")
    time.sleep(0.02)  # a decode of real size: the parent's kill lands mid-scan, on any machine
    out = original(paths, *args, **kw)
    log.write(f"end {len(paths)}\\n")
    return out
_imgstats._scan_batch = logged
imgstats.scan(sys.argv[1], output=sys.argv[2], batch_size=int(sys.argv[4]),
              incremental=sys.argv[5] == "1", threads=1).collect()
log.write("done\\n")
"""


def write_images(folder: Path, n: int) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(7)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (24, 24, 3), dtype=np.uint8)).save(
            folder / f"{i:04d}.png"
        )


def read_log(path: Path) -> tuple[int, int, bool]:
    """(files sent to the decoder, files whose decode call returned, finished) for one run."""
    started = ended = 0
    done = False
    for line in path.read_text().splitlines():
        word, _, n = line.partition(" ")
        if word == "start":
            started += int(n)
        elif word == "end":
            ended += int(n)
        elif word == "done":
            done = True
    return started, ended, done


def wait_for_starts(log: Path, count: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and log.read_text().count("start") >= count:
            return
        time.sleep(0.002)


@pytest.mark.parametrize("incremental", [False, True])
def test_sigkill_at_random_points_then_resume(tmp_path: Path, incremental: bool) -> None:
    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_images(folder, N_FILES)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    rng = np.random.default_rng(20240 + incremental)
    finished_before = 0  # files whose decode call returned in some earlier run (upper bound)
    total_sent = kills = 0
    for run in range(KILLS + 1):
        log = tmp_path / f"run{run}.log"
        args = [str(folder), str(out), str(log), str(BATCH), "1" if incremental else "0"]
        proc = subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env)
        if run < KILLS:
            # Kill after a random number of batches have started, plus up to 30 ms: lands in
            # a decode, in a part write, in the manifest update or in the final merge.
            remaining_batches = max(1, -(-(N_FILES - finished_before) // BATCH))
            wait_for_starts(log, int(rng.integers(1, remaining_batches + 1)), proc, 60)
            time.sleep(float(rng.uniform(0, 0.03)))
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                kills += 1
        proc.wait(timeout=120)
        sent, ended, done = read_log(log) if log.exists() else (0, 0, False)
        if done:  # the finishing run skips only files some earlier run really decoded
            assert sent >= N_FILES - finished_before
        total_sent += sent
        finished_before = min(N_FILES, finished_before + ended)
        if done:
            break
    assert kills >= KILLS // 2, "the scans finished before they could be killed"
    assert read_log(log)[2], "the last run did not finish"
    # At most the batch in flight at each kill is decoded twice (a scan that restarted from
    # zero would decode about half the files again at every kill).
    assert total_sent <= N_FILES + kills * BATCH
    result = pl.read_parquet(out)
    if incremental:
        result = result.drop("mtime_ns")
    assert result["path"].n_unique() == N_FILES == result.height
    assert result.equals(imgstats.scan(folder, threads=1))
    assert not work_dir_for(out).exists()


def test_unrecorded_and_torn_parts_are_discarded(tmp_path: Path) -> None:
    out = tmp_path / "stats.parquet"
    settings = {"definitions": 1, "metrics": ["phash"]}
    frame = pl.DataFrame({"path": ["a.png"], "file_size": [1], "mtime_ns": [2]})
    with PartStore(out, settings) as store:
        store.add(frame)
        store.add(frame)
    work = work_dir_for(out)
    (work / "part-000002.parquet").write_bytes(b"PAR1 torn")  # renamed but never recorded
    (work / "part-000003.parquet.tmp").write_bytes(b"PAR1")  # killed mid-write
    with PartStore(out, settings) as store:
        assert [p["file"] for p in store.parts] == ["part-000000.parquet", "part-000001.parquet"]
        assert store.rows() is not None
    assert sorted(os.listdir(work)) == [
        ".lock",
        MANIFEST,
        "part-000000.parquet",
        "part-000001.parquet",
    ]
    # A part whose row count disagrees with the manifest (truncated on disk) is redone.
    (work / "part-000001.parquet").write_bytes(b"junk")
    with PartStore(out, settings) as store:
        assert [p["file"] for p in store.parts] == ["part-000000.parquet"]
    # Parts written under other settings are never mixed in.
    with PartStore(out, {**settings, "metrics": ["blur"]}) as store:
        assert store.parts == [] and store.rows() is None


def test_two_scans_into_one_output_are_refused(tmp_path: Path) -> None:
    out = tmp_path / "stats.parquet"
    with PartStore(out, {}), pytest.raises(ScanInProgressError, match="another imgstats scan"):
        with PartStore(out, {}):
            pass


def test_stale_and_fresh_parts_of_one_file_give_one_row(tmp_path: Path) -> None:
    """Run 1 (killed) measured x; x changed; run 2 (killed) measured it again: both parts are
    listed, only the row matching the file as it is now may reach the output."""
    from imgstats import incremental
    from imgstats.scan import DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PIXELS, _empty_frame

    folder, out = tmp_path / "img", tmp_path / "stats.parquet"
    write_images(folder, 3)
    x = folder / "0001.png"
    settings = incremental.scan_settings(
        _empty_frame(None), None, DEFAULT_MAX_PIXELS, DEFAULT_MAX_FILE_SIZE
    )

    def part_row(path: Path) -> pl.DataFrame:
        row = imgstats.scan([str(path)])
        return row.with_columns(pl.lit(os.stat(path).st_mtime_ns).alias("mtime_ns"))

    stale = part_row(x)
    Image.new("RGB", (31, 17), (1, 2, 3)).save(x)
    os.utime(x, ns=(1, os.stat(x).st_mtime_ns + 10**9))
    fresh = part_row(x)
    with PartStore(out, settings) as store:
        store.add(stale)
        store.add(fresh)
    result = imgstats.scan(folder, output=out).collect()
    assert result.equals(imgstats.scan(folder))
    assert result.filter(pl.col("path") == str(x))["width"].to_list() == [31]
