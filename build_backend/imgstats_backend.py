"""PEP 517 build backend: maturin, after a check that the tools the native build needs are on
PATH, so `pip install .` without them fails with one line saying what to install instead of
deep inside libjpeg-turbo's build script (turbojpeg-sys runs cmake and nasm long before
imgstats' own code compiles, so a check in a build.rs would come too late).

Wheels (`pip install imgstats` from an index, or `make wheel`) need none of these tools.
Building an sdist needs none either, so only the wheel and editable hooks check.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from typing import Any

import maturin
from maturin import build_sdist, get_requires_for_build_sdist

#: What the source build runs: cmake builds the bundled libjpeg-turbo 3 (turbojpeg-sys), nasm
#: assembles its SIMD decoders, cargo compiles the Rust extension.
TOOLS = ("cmake", "nasm", "cargo")


def missing_tools() -> list[str]:
    """The tools the source build needs that are not on PATH. A missing cargo is not counted
    when maturin may install Rust itself (it does unless MATURIN_NO_INSTALL_RUST is set)."""
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if "cargo" in missing and not os.environ.get("MATURIN_NO_INSTALL_RUST"):
        missing.remove("cargo")
    return missing


def check_tools() -> None:
    """Exit with one line naming what to install when a build tool is missing (SystemExit:
    pip shows its message as the build's only output line, no traceback)."""
    missing = missing_tools()
    if not missing:
        return
    installs = []
    system = [tool for tool in missing if tool != "cargo"]
    if system:
        names = " ".join(system)
        installs.append(
            f"{' and '.join(system)} (Debian/Ubuntu: apt-get install {names}; "
            f"macOS: brew install {names})"
        )
    if "cargo" in missing:
        installs.append("Rust (https://rustup.rs)")
    raise SystemExit(
        f"imgstats: building from source needs {', '.join(missing)} on PATH; install "
        f"{' and '.join(installs)}, or install a prebuilt imgstats wheel"
    )


def get_requires_for_build_wheel(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    check_tools()
    return list(maturin.get_requires_for_build_wheel(config_settings))


def get_requires_for_build_editable(config_settings: Mapping[str, Any] | None = None) -> list[str]:
    check_tools()
    return list(maturin.get_requires_for_build_editable(config_settings))


def prepare_metadata_for_build_wheel(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    check_tools()
    return str(maturin.prepare_metadata_for_build_wheel(metadata_directory, config_settings))


def prepare_metadata_for_build_editable(
    metadata_directory: str, config_settings: Mapping[str, Any] | None = None
) -> str:
    check_tools()
    return str(maturin.prepare_metadata_for_build_editable(metadata_directory, config_settings))


def build_wheel(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    check_tools()
    return str(maturin.build_wheel(wheel_directory, config_settings, metadata_directory))


def build_editable(
    wheel_directory: str,
    config_settings: Mapping[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    check_tools()
    return str(maturin.build_editable(wheel_directory, config_settings, metadata_directory))


__all__ = [
    "build_editable",
    "build_sdist",
    "build_wheel",
    "get_requires_for_build_editable",
    "get_requires_for_build_sdist",
    "get_requires_for_build_wheel",
    "prepare_metadata_for_build_editable",
    "prepare_metadata_for_build_wheel",
]
