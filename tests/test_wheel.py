"""The package installs like any Python package: `make wheel` builds an abi3 manylinux wheel
(libjpeg-turbo and libwebp linked statically), and that wheel, installed into a fresh venv, scans
the example folder on a PATH with no cargo, cmake or nasm -- the build tools are not runtime
dependencies. (Slow-ish: one venv and a pip install; the wheel build reuses target/.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD_TOOLS = ("cargo", "rustc", "cmake", "nasm")


def _maturin() -> list[str]:
    exe = Path(sys.executable).with_name("maturin")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "maturin"]


def test_wheel_installs_and_scans_without_build_tools(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [*_maturin(), "build", "--release", "-o", str(dist)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = dist.glob("imgstats-*.whl")
    assert "-abi3-" in wheel.name and "manylinux" in wheel.name, wheel.name
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
    # The native module is the only binary: no shared libjpeg/libwebp shipped beside it.
    assert [n for n in names if n.endswith(".so")] == ["imgstats/_imgstats.abi3.so"], names
    assert "imgstats/py.typed" in names and "imgstats/_imgstats.pyi" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheel)], check=True, capture_output=True)

    path = str(venv / "bin")  # nothing else: no cargo, cmake or nasm reachable
    assert all(shutil.which(tool, path=path) is None for tool in BUILD_TOOLS)
    env = {"PATH": path, "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    out = tmp_path / "stats.parquet"
    run = subprocess.run(
        ["imgstats", "scan", str(ROOT / "examples" / "images"), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    check = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sys, polars as pl, imgstats; df = pl.read_parquet(sys.argv[1]); "
            "print(df.height, df['error'].null_count(), imgstats.__file__)",
            str(out),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows, measured, location = check.stdout.split()
    images = [p for p in (ROOT / "examples" / "images").rglob("*") if p.is_file()]
    assert int(rows) == len(images) and 0 < int(measured) < int(rows)  # broken/ files are rows
    assert location.startswith(str(venv)), location  # the installed wheel, not the source tree
