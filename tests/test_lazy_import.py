"""`import imgstats` is lazy: a scan loads only the scan's modules, yet every public name is
the function or class it always was, in whatever order submodules get imported."""

from __future__ import annotations

import ast
import subprocess
import sys
import types
from pathlib import Path

import imgstats

INIT = Path(imgstats.__file__)


def run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_a_scan_does_not_import_the_analysis_modules() -> None:
    loaded = run(
        "import sys, imgstats\n"
        "imgstats.scan(['/nonexistent.png'])\n"
        "names = (m for m in sys.modules if m.startswith(('imgstats', 'PIL')))\n"
        "print(' '.join(sorted(names)))"
    ).split()
    assert "imgstats.scan" in loaded
    for heavy in ("imgstats.report", "imgstats.labels", "imgstats.drift", "imgstats.coverage"):
        assert heavy not in loaded, loaded
    assert "PIL" not in loaded


def test_every_public_name_is_the_exported_object_whatever_was_imported_first() -> None:
    # A submodule imported directly (the CLI imports imgstats.report.build) is bound on the
    # package by Python's import system; the package must still expose the function.
    code = (
        "import types, imgstats, imgstats.report.build, imgstats.drift, imgstats.labels.checks\n"
        "import imgstats.scan, imgstats.split\n"
        "values = {n: getattr(imgstats, n) for n in imgstats.__all__}\n"
        "bad = [n for n, v in values.items() if isinstance(v, types.ModuleType)]\n"
        "print(bad, imgstats.report.__module__, imgstats.scan.__module__, imgstats.split.__name__)"
    )
    assert run(code) == "[] imgstats.report.build imgstats.scan split"


def test_the_lazy_table_lists_exactly_all_and_matches_the_type_checking_imports() -> None:
    from imgstats import _EXPORTS  # type: ignore[attr-defined]

    assert set(_EXPORTS) | {"__version__"} == set(imgstats.__all__)
    # The TYPE_CHECKING block (what mypy sees) imports the same names from the same modules.
    tree = ast.parse(INIT.read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If))
    seen = {
        alias.name: node.module
        for node in block.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }
    assert seen == _EXPORTS
    for name, module in _EXPORTS.items():
        value = getattr(imgstats, name)
        assert not isinstance(value, types.ModuleType), name
        assert value is getattr(sys.modules[module], name)
    assert "scan" in dir(imgstats)


def test_the_package_pickles_by_name() -> None:
    """A task function that refers to `imgstats` (Ray, multiprocessing) pickles the package by
    name, as any module: the lazy package type must not make it unpicklable."""
    import pickle

    import cloudpickle

    assert pickle.loads(pickle.dumps(imgstats)) is imgstats

    def task(paths: list[str]) -> int:
        return imgstats.scan(paths).height

    restored = cloudpickle.loads(cloudpickle.dumps(task))
    assert restored(["/nonexistent.png"]) == 1
