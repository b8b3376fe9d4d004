"""`pip install .` without cmake / nasm fails with one line naming what to install: the
in-tree PEP 517 backend (build_backend/imgstats_backend.py) checks PATH before maturin starts
the Rust build. Checked by calling the hooks in a child process with a PATH that lacks the
tools, and end to end through pip itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BACKEND = ROOT / "build_backend"
HOOKS = [
    "b.get_requires_for_build_wheel()",
    "b.get_requires_for_build_editable()",
    "b.prepare_metadata_for_build_wheel('.')",
    "b.prepare_metadata_for_build_editable('.')",
    "b.build_wheel('.')",
    "b.build_editable('.')",
]


def fake_path(tmp_path: Path, tools: list[str]) -> str:
    """A PATH with only `tools` on it (scripts that would fail if the build really ran)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    for tool in tools:
        exe = bin_dir / tool
        exe.write_text("#!/bin/sh\nexit 99\n")
        exe.chmod(0o755)
    return str(bin_dir)


def run_hook(statement: str, path: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `statement` with the backend imported as `b`, in a child whose PATH is `path`."""
    code = f"import sys; sys.path.insert(0, {str(BACKEND)!r}); import imgstats_backend as b; "
    code += statement
    return subprocess.run(
        [sys.executable, "-c", code],
        env={"PATH": path, "HOME": os.environ.get("HOME", "/tmp"), **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
    )


def test_pyproject_uses_the_checking_backend() -> None:
    tomllib = pytest.importorskip("tomllib")
    build = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]
    assert build["build-backend"] == "imgstats_backend"
    assert build["backend-path"] == ["build_backend"]


@pytest.mark.parametrize("hook", HOOKS)
def test_missing_cmake_and_nasm_is_one_line(tmp_path: Path, hook: str) -> None:
    done = run_hook(hook, fake_path(tmp_path, ["cargo"]))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "imgstats: building from source needs cmake, nasm on PATH; install cmake and nasm "
        "(Debian/Ubuntu: apt-get install cmake nasm; macOS: brew install cmake nasm), "
        "or install a prebuilt imgstats wheel"
    ]


def test_names_only_what_is_missing(tmp_path: Path) -> None:
    done = run_hook("b.build_wheel('.')", fake_path(tmp_path, ["cargo", "cmake"]))
    assert done.returncode == 1
    (line,) = done.stderr.splitlines()
    assert line.startswith("imgstats: building from source needs nasm on PATH; install nasm ")
    assert "cmake" not in line


def test_cargo_is_required_only_when_maturin_may_not_install_rust(tmp_path: Path) -> None:
    path = fake_path(tmp_path, ["cmake", "nasm"])
    done = run_hook("b.build_wheel('.')", path, MATURIN_NO_INSTALL_RUST="1")
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "imgstats: building from source needs cargo on PATH; install Rust (https://rustup.rs), "
        "or install a prebuilt imgstats wheel"
    ]
    # Without the variable maturin installs Rust itself: the check lets the build go on and
    # maturin asks for its Rust installer.
    done = run_hook("print(b.get_requires_for_build_wheel())", path)
    assert (done.returncode, done.stdout.strip()) == (0, "['puccinialin']"), done.stderr


def test_all_tools_present_delegates_to_maturin(tmp_path: Path) -> None:
    path = fake_path(tmp_path, ["cargo", "cmake", "nasm"])
    done = run_hook("print(b.get_requires_for_build_wheel())", path)
    assert (done.returncode, done.stdout.strip(), done.stderr) == (0, "[]", "")


def test_pip_shows_the_one_line(tmp_path: Path) -> None:
    """The real thing: pip's metadata step on a PATH with cargo but no cmake or nasm (no build
    isolation, so nothing is downloaded; pip calls the same hooks either way)."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q"]
        + ["-w", str(tmp_path / "dist"), str(ROOT)],
        env={"PATH": fake_path(tmp_path, ["cargo"]), "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "[1 lines of output]" in output
    assert "imgstats: building from source needs cmake, nasm on PATH; install cmake and" in output
    assert "libjpeg" not in output and "Traceback" not in output
    assert not (tmp_path / "dist").exists() or not any((tmp_path / "dist").iterdir())
