"""Runtime contract of `imgstats.scan`: the GIL is released while it works, Ctrl-C stops it
promptly, progress is reported, and results do not depend on threads or batch size."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from conftest import no_preemption, photo_like, random_rgb
from imgstats import _imgstats
from PIL import Image
from polars.testing import assert_frame_equal


@pytest.fixture(scope="module")
def photo_2mp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 2-megapixel JPEG (1632×1224): about 20–60 ms of full-scan work per copy."""
    p = tmp_path_factory.mktemp("photo") / "photo.jpg"
    Image.fromarray(photo_like(1224, 1632, seed=1)).save(p, quality=90)
    return p


@pytest.fixture(scope="module")
def photo_12mp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One 12-megapixel JPEG (4000×3000): a file takes long enough that few start per poll."""
    p = tmp_path_factory.mktemp("photo12") / "photo.jpg"
    small = Image.fromarray(photo_like(750, 1000, seed=2))
    small.resize((4000, 3000), Image.BICUBIC).save(p, quality=90)
    return p


def copies(src: Path, folder: Path, n: int) -> Path:
    """`n` hard links to `src` in `folder` (cheap; a copy where links are not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        dst = folder / f"img{i:05d}.jpg"
        try:
            os.link(src, dst)
        except OSError:
            dst.write_bytes(src.read_bytes())
    return folder


def test_gil_is_released_during_a_scan(photo_2mp: Path, tmp_path: Path) -> None:
    """A Python thread runs *between two progress reports of an unfinished scan*: an order of
    events, not a speed. Preemption is off (`no_preemption`) and the batch call gets a builtin
    progress callback (``list.append``, no Python bytecode), so the other thread can only run
    meanwhile if the call releases the GIL."""
    folder = copies(photo_2mp, tmp_path / "many", 40)
    paths = [os.fsencode(p) for p in sorted(folder.iterdir())]
    events: list[object] = []
    scanning = threading.Event()
    scanning.set()

    def python_thread() -> None:
        while scanning.is_set():
            events.append("python")
            time.sleep(0.002)  # gives the GIL back; the scan's poller may take it

    other = threading.Thread(target=python_thread)
    with no_preemption():
        other.start()
        try:
            batch = _imgstats._scan_batch(
                paths, [], metrics=None, threads=1, progress=events.append
            )
        finally:
            scanning.clear()
            other.join()
    assert pl.DataFrame(batch)["error"].null_count() == 40
    reports = [(i, e) for i, e in enumerate(events) if isinstance(e, int)]
    gaps = [(a, b) for (a, n1), (b, n2) in zip(reports, reports[1:]) if n1 < n2 < len(paths)]
    assert any("python" in events[a + 1 : b] for a, b in gaps), (
        f"no Python ran between two progress reports of the running scan: {events}"
    )


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys, threading
    import imgstats

    def rchar():
        # Bytes this process has read with read(): the scan reads each file whole, first.
        with open("/proc/self/io") as f:
            return int(next(l for l in f if l.startswith("rchar:")).split()[1])

    folder, threads = sys.argv[1], int(sys.argv[2])
    paths = sorted(os.path.join(folder, n) for n in os.listdir(folder))
    reached, at_signal = threading.Event(), []

    def progress(done, total):
        if done >= 3:
            reached.set()

    def press_ctrl_c():
        reached.wait()
        at_signal.append(rchar())
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=press_ctrl_c, daemon=True).start()
    start = rchar()
    try:
        df = imgstats.scan(paths, threads=threads, progress=progress, batch_size=len(paths))
    except KeyboardInterrupt:
        after, before = rchar() - at_signal[0], at_signal[0] - start
        print(json.dumps({"interrupted": True, "read_before": before, "read_after": after}))
        sys.exit(3)
    print(json.dumps({"interrupted": False, "rows": df.height}))
    """
)


def test_ctrl_c_stops_a_long_scan_within_a_few_files(photo_12mp: Path, tmp_path: Path) -> None:
    """SIGINT once 3 of 300 files are done: the scan raises KeyboardInterrupt after reading at
    most a few more files (those the workers start before the next poll sees the signal), not
    the remaining ~300. Counted from the bytes the process read after the signal."""
    folder = copies(photo_12mp, tmp_path / "many", 300)
    size = photo_12mp.stat().st_size
    threads = 2
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(threads)],
        capture_output=True,
        text=True,
        timeout=600,  # a hang guard, not a measurement
    )
    assert proc.returncode == 3, (proc.returncode, proc.stdout, proc.stderr)
    out = json.loads(proc.stdout)
    # The counter sees the scan's reads: the 3 finished files at least were read before.
    assert out["read_before"] >= 3 * size, out
    files_after = out["read_after"] / size
    assert files_after < 2 * threads + 2, f"{files_after:.1f} files read after SIGINT"


def test_progress_callable_counts_up_to_total(photo_2mp: Path, tmp_path: Path) -> None:
    folder = copies(photo_2mp, tmp_path / "many", 12)
    calls: list[tuple[int, int]] = []
    df = imgstats.scan(
        str(folder), threads=1, batch_size=5, progress=lambda d, t: calls.append((d, t))
    )
    assert df.height == 12
    done = [d for d, _ in calls]
    assert {t for _, t in calls} == {12}
    assert done == sorted(done), done  # never goes backwards, across batches too
    assert done[-1] == 12 and all(0 <= d <= 12 for d in done)
    assert len(set(done)) >= 3, done  # reported while working, not only at the end


def test_progress_true_draws_on_stderr(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for i in range(5):
        Image.fromarray(random_rgb(8, 8, seed=i)).save(tmp_path / f"{i}.png")
    imgstats.scan(str(tmp_path), progress=True)
    err = capsys.readouterr().err
    assert "5/5 files" in err and err.endswith("\n")


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Varied small inputs, good and bad, so ordering or sharing bugs would show."""
    root = tmp_path_factory.mktemp("mixed")
    for i in range(24):
        px = photo_like(30 + 3 * i, 50 + 2 * i, seed=i)
        ext, kw = [("png", {}), ("jpg", {"quality": 70 + i}), ("webp", {}), ("bmp", {})][i % 4]
        Image.fromarray(px).save(root / f"{i:02d}.{ext}", **kw)
    (root / "bad.jpg").write_bytes(b"\xff\xd8\xff\xe0 nope")
    (root / "empty.png").write_bytes(b"")
    return root


def test_thread_count_does_not_change_results(mixed_folder: Path) -> None:
    one = imgstats.scan(str(mixed_folder), threads=1)
    two = imgstats.scan(str(mixed_folder), threads=2)
    assert one.height == 26 and one["error"].null_count() == 24
    assert_frame_equal(one, two)
    assert_frame_equal(one, imgstats.scan(str(mixed_folder), threads=3, batch_size=4))


_WORKER_CPUS = """
import json, os, sys
import imgstats
import numpy as np
if sys.argv[2] == "near_pairs":  # a call with the default thread count
    imgstats.near_pairs(np.arange(5_000, dtype=np.uint64), k=2)
else:
    imgstats.scan(sys.argv[1], threads=int(sys.argv[2]))
cpus = {}
for tid in os.listdir("/proc/self/task"):
    try:  # other threads (the scan's polars import) may end meanwhile
        with open(f"/proc/self/task/{tid}/comm") as f:
            name = f.read().strip()
        if name.startswith("imgstats-") and name[9:].isdigit():  # pool workers only
            cpus[name] = sorted(os.sched_getaffinity(int(tid)))
    except (FileNotFoundError, ProcessLookupError):
        pass
print(json.dumps(cpus))
"""


def _worker_cpus(folder: Path, threads: int | str, **env: str) -> dict[str, list[int]]:
    """The CPUs each imgstats worker may use after a scan with `threads` (or, for
    ``"near_pairs"``, a `near_pairs` call with the default) in a fresh process (pools are built
    once per process), with `env` on top of this process's environment minus any
    IMGSTATS_PIN_THREADS."""
    base = {k: v for k, v in os.environ.items() if k != "IMGSTATS_PIN_THREADS"}
    proc = subprocess.run(
        [sys.executable, "-c", _WORKER_CPUS, str(folder), str(threads)],
        capture_output=True,
        text=True,
        env={**base, **env},
    )
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout.splitlines()[-1]))


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="Linux affinity calls")
def test_a_pool_of_one_worker_per_cpu_pins_each_worker(mixed_folder: Path) -> None:
    # What a user's scan does with the default thread count: each worker on its own CPU (so a
    # VM's scheduler cannot stack them on one vCPU), any other count left to the scheduler.
    allowed = sorted(os.sched_getaffinity(0))
    assert _imgstats._default_threads() == len(allowed)  # what scan(threads=None) uses
    for call in (len(allowed), "near_pairs"):
        pinned = _worker_cpus(mixed_folder, call)
        assert len(pinned) == len(allowed)
        assert sorted(c for cpus in pinned.values() for c in cpus) == allowed
        assert all(len(cpus) == 1 for cpus in pinned.values())
    free = _worker_cpus(mixed_folder, len(allowed) + 1)
    assert len(free) == len(allowed) + 1
    assert all(cpus == allowed for cpus in free.values())
    off = _worker_cpus(mixed_folder, len(allowed), IMGSTATS_PIN_THREADS="0")
    assert len(off) == len(allowed)
    assert all(cpus == allowed for cpus in off.values())


def test_concurrent_scans_from_python_threads(mixed_folder: Path) -> None:
    expected = imgstats.scan(str(mixed_folder), threads=1)
    results: list[pl.DataFrame] = []

    def work() -> None:
        results.append(imgstats.scan(str(mixed_folder), threads=2, batch_size=5))

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 3
    for r in results:
        assert_frame_equal(r, expected)


def test_many_tiny_files_in_one_scan(tmp_path: Path) -> None:
    """Fashion-MNIST-sized images: a few thousand rows, all measured, in input order."""
    rng = np.random.default_rng(0)
    blobs = []
    for _ in range(2000):
        buf = io.BytesIO()
        Image.fromarray(rng.integers(0, 256, (28, 28), np.uint8)).save(buf, "PNG")
        blobs.append(buf.getvalue())
    df = imgstats.scan(blobs, metrics=["phash", "brightness"])
    assert df.height == 2000 and df["error"].null_count() == 2000
    assert df["path"][1999] == "<bytes #1999>"
