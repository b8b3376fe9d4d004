"""The binding layer: the stub matches the binary, panics become exceptions, Arrow export."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import imgstats
import polars as pl
import pytest
from imgstats import _imgstats

STUB = Path(imgstats.__file__).with_name("_imgstats.pyi")


def stub_names() -> set[str]:
    tree = ast.parse(STUB.read_text())
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            if any(getattr(d, "id", None) == "type_check_only" for d in node.decorator_list):
                continue  # a typing-only helper (a Protocol), not a name of the binary
            names.add(node.name)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def test_stub_lists_exactly_the_native_names() -> None:
    native = {n for n in dir(_imgstats) if not n.startswith("__") or n == "__version__"}
    assert stub_names() == native


def test_rust_panic_is_an_exception_not_an_abort() -> None:
    with pytest.raises(imgstats.InternalError, match="deliberate panic"):
        _imgstats._panic_for_tests()
    # The interpreter is still fine, and so is the next call.
    assert len(imgstats.scan([b"not an image"])) == 1


def test_panic_in_a_fresh_interpreter_exits_cleanly() -> None:
    code = (
        "import imgstats\n"
        "try:\n"
        "    imgstats._imgstats._panic_for_tests()\n"
        "except imgstats.InternalError:\n"
        "    print('caught')\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "caught", r.stderr


def test_arrow_batch_is_consumed_once() -> None:
    batch = _imgstats._scan_batch(
        [], [b"xx"], metrics=["brightness"], threads=1, max_pixels=1000, max_file_size=1000
    )
    assert len(batch) == 1
    df = pl.DataFrame(batch)
    assert df.columns[:2] == ["path", "error"] and df["error"][0].startswith("not a recognised")
    with pytest.raises(ValueError, match="already consumed"):
        pl.DataFrame(batch)


def test_import_and_scan_leave_numpy_and_pillow_unloaded() -> None:
    """`import imgstats` and a scan are on every CLI call's path: numpy and Pillow (~60 ms of
    imports) load only when a helper that needs them runs, and then work as usual."""
    code = (
        "import sys, imgstats\n"
        "df = imgstats.scan([b'not an image'])\n"
        "print(sorted(m for m in ('numpy', 'PIL') if m in sys.modules))\n"
        "print(imgstats.phash(imgstats.hashes.np.zeros((8, 8), dtype=imgstats.hashes.np.uint8)))\n"
        "print(sorted(m for m in ('numpy', 'PIL') if m in sys.modules))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    before, value, after = r.stdout.split("\n")[:3]
    assert before == "[]"
    assert value == "0"
    assert after == "['numpy']"  # an array needs no Pillow
