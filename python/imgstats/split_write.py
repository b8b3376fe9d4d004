"""Write a split for Ultralytics YOLO: one image list per split and a ``data.yaml`` that points
at them.

Ultralytics reads a ``.txt`` file of image paths wherever ``data.yaml`` names a folder
(``train: /abs/train.txt``) and finds each image's label by replacing ``/images/`` with
``/labels/`` in the image path, so absolute image paths keep the labels where they are: nothing
is copied or moved.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import polars as pl

__all__ = ["write_yolo"]


def write_yolo(
    assignment: pl.DataFrame,
    out_dir: str | os.PathLike[str],
    data_yaml: str | os.PathLike[str] | None = None,
    *,
    base: str | os.PathLike[str] | None = None,
) -> list[Path]:
    """Write ``<split>.txt`` (absolute image paths, one per line, in assignment order) for every
    split in `assignment`, and, given the original `data_yaml`, a new ``data.yaml`` in `out_dir`
    with the same keys (``names``, ``nc``, ``kpt_shape``, ...) whose ``train`` / ``val`` /
    ``test`` point at those lists.

    Args:
        assignment: ``path`` and ``split`` columns (``SplitResult.assignment``).
        out_dir: created if needed.
        data_yaml: the dataset's original ``data.yaml`` (needs pyyaml).
        base: folder that relative image paths are relative to (default: the working directory).

    Returns:
        The files written.
    """
    out = Path(out_dir)
    if data_yaml is not None and (out / "data.yaml").resolve() == Path(data_yaml).resolve():
        raise ValueError(f"refusing to overwrite the original {data_yaml}; choose another DIR")
    out.mkdir(parents=True, exist_ok=True)
    root = Path(base) if base is not None else Path.cwd()
    written: list[Path] = []
    lists: dict[str, Path] = {}
    for name in assignment["split"].unique(maintain_order=True).drop_nulls().to_list():
        paths = assignment.filter(pl.col("split") == name)["path"].to_list()
        target = out / f"{name}.txt"
        lines = [os.path.normpath(p if os.path.isabs(p) else root / p) for p in paths]
        target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        lists[name] = target.resolve()
        written.append(target)
    if data_yaml is not None:
        written.append(_write_data_yaml(Path(data_yaml), out, lists))
    return written


def _write_data_yaml(source: Path, out: Path, lists: dict[str, Path]) -> Path:
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a runtime dependency
        raise ImportError("writing data.yaml needs pyyaml: pip install pyyaml") from exc
    with open(source, encoding="utf-8") as f:
        original: Any = yaml.safe_load(f) or {}
    if not isinstance(original, dict):
        raise ValueError(f"{source}: expected a mapping at the top level")
    data = {k: v for k, v in original.items() if k not in ("path", "train", "val", "test")}
    # Ultralytics resolves relative entries against `path`; absolute list paths need neither.
    data = {"path": str(out.resolve()), **{k: str(v) for k, v in lists.items()}, **data}
    target = out / "data.yaml"
    with open(target, "w", encoding="utf-8") as f:
        yaml.safe_dump(data, f, sort_keys=False, allow_unicode=True)
    return target
