"""What a command's DATASET argument names, read one way for every command.

A DATASET is one of:

- a saved scan table (``.parquet``, ``.csv``, ``.ndjson``, ``.jsonl``): read, not re-scanned;
- a detection dataset (a YOLO ``data.yaml``, a COCO ``.json``, a VOC folder, or a folder with
  ``data.yaml`` or both ``images/`` and ``labels/``): its labels are read and exactly the images
  they list are scanned, with their ``split`` — the same frame ``imgstats report data.yaml``
  shows;
- any other folder: scanned recursively.

``drift``, ``split``, ``slices`` and ``report --reference`` used to each carry a copy of this
with small differences (a ``.csv`` scan was a table for one command and an error for another);
one loader keeps them agreeing.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

#: File types read as a saved scan table.
TABLE_TYPES: tuple[str, ...] = (".parquet", ".csv", ".ndjson", ".jsonl")


@dataclass(frozen=True)
class Dataset:
    """A loaded DATASET: the scan frame, its labels (detection datasets) and its data.yaml."""

    frame: pl.DataFrame
    labels: Any | None = None
    data_yaml: str | None = None


def is_table(source: str) -> bool:
    """Whether ``source`` is a saved scan table (by its extension, and it is a file)."""
    return source.lower().endswith(TABLE_TYPES) and os.path.isfile(source)


def read_table(source: str) -> pl.DataFrame:
    """A saved scan table, by its extension."""
    lower = source.lower()
    if lower.endswith(".parquet"):
        return pl.read_parquet(source)
    if lower.endswith(".csv"):
        return pl.read_csv(source)
    return pl.read_ndjson(source)


def _data_yaml(source: str) -> str | None:
    """The data.yaml a YOLO dataset is described by (`split --write` rewrites it), if any."""
    if source.lower().endswith((".yaml", ".yml")):
        return source
    for name in ("data.yaml", "dataset.yaml"):
        candidate = os.path.join(source, name)
        if os.path.isfile(candidate):
            return candidate
    return None


def load_dataset(
    source: str,
    *,
    metrics: Sequence[str] | None = None,
    labels: Any | None = None,
    read_labels: bool = True,
) -> Dataset:
    """Load DATASET as described in the module docstring.

    ``labels``: labels read from elsewhere (``slices --labels``); the scan then covers exactly
    their images. ``read_labels=False`` treats a detection dataset as a plain folder (``drift``
    compares images and needs no labels). Raises ValueError naming what is accepted.
    """
    from imgstats.report.labels import dataset_frame, dataset_labels
    from imgstats.scan import scan

    if is_table(source):
        return Dataset(read_table(source), labels)
    lab = labels
    if lab is None and read_labels:
        lab = dataset_labels(source)
    if lab is not None:
        return Dataset(dataset_frame(lab, metrics=metrics), lab, _data_yaml(source))
    if os.path.isdir(source):
        df = scan(source, metrics=metrics)
        assert isinstance(df, pl.DataFrame)
        return Dataset(df)
    raise ValueError(
        f"{source}: not a folder, a scan table ({', '.join(TABLE_TYPES)}) or a detection "
        "dataset (data.yaml, COCO .json, VOC folder)"
    )
