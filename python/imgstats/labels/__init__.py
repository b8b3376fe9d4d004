"""Detection labels: read YOLO, COCO and Pascal VOC datasets, check them, describe them.

``imgstats.labels("data.yaml")`` returns a `Labels` object (images, boxes, problems, findings as
polars frames); see ``docs/labels.md`` for every check, threshold and statistic.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from imgstats.labels.checks import (
    THRESHOLDS,
    box_checks,
    dataset_checks,
    findings,
    image_checks,
    merged,
)
from imgstats.labels.model import (
    BOXES_SCHEMA,
    IMAGES_SCHEMA,
    PROBLEMS_SCHEMA,
    Labels,
    RawDataset,
    conform,
)

__all__ = ["Labels", "THRESHOLDS", "detect_format", "labels"]


def detect_format(source: str | os.PathLike[str]) -> str:
    """``"yolo"``, ``"coco"`` or ``"voc"`` for a dataset path; ValueError when it is none."""
    p = Path(source)
    if p.is_file():
        if p.suffix.lower() in (".yaml", ".yml"):
            return "yolo"
        if p.suffix.lower() == ".json":
            return "coco"
        raise ValueError(f"{p}: expected a data.yaml, a COCO .json or a dataset folder")
    if not p.is_dir():
        raise FileNotFoundError(f"no such file or folder: {p}")
    if p.name == "Annotations" or (p / "Annotations").is_dir():
        return "voc"
    from imgstats.labels.yolo import find_yaml

    if find_yaml(p) is not None or (p / "images").is_dir():
        return "yolo"
    raise ValueError(
        f"{p}: no data.yaml, no images/ + labels/ folders and no Annotations/ folder; "
        "pass a data.yaml, a COCO .json or a VOC root"
    )


def is_label_source(source: str | os.PathLike[str]) -> bool:
    """Whether ``source`` looks like a detection dataset (used by the CLI to pick a mode)."""
    try:
        detect_format(source)
    except (ValueError, FileNotFoundError):
        return False
    return True


def labels(
    source: str | os.PathLike[str],
    *,
    imgsz: int = 640,
    image_dir: str | os.PathLike[str] | None = None,
    thresholds: Mapping[str, float] | None = None,
) -> Labels:
    """Read a detection dataset and check it.

    Args:
        source: a YOLO ``data.yaml`` (or a folder with one, or a folder with ``images/`` and
            ``labels/``), a COCO instances ``.json``, or a Pascal VOC root / ``Annotations/``.
        imgsz: the training size: box sizes "at imgsz" scale the image's long side to it, as
            letterboxing does (Ultralytics' default 640).
        image_dir: COCO only: the folder holding the ``file_name`` paths (default: guessed).
        thresholds: overrides of `imgstats.labels.THRESHOLDS` (see ``docs/labels.md``).

    Returns:
        A `Labels` object. Nothing is dropped: a line that cannot be parsed is a ``problems``
        row (file and line) and the rest of its file is still read; an image that cannot be read
        keeps its row with ``status == "unreadable"``.
    """
    if imgsz < 1:
        raise ValueError("imgsz must be >= 1")
    t = merged(thresholds)
    fmt = detect_format(source)
    p = Path(source)
    if fmt == "yolo":
        from imgstats.labels.yolo import read_yolo

        raw = read_yolo(p)
    elif fmt == "coco":
        from imgstats.labels.coco import read_coco

        raw = read_coco(p, None if image_dir is None else os.fspath(image_dir))
    else:
        from imgstats.labels.voc import read_voc

        raw = read_voc(p)
    return _assemble(raw, imgsz, t)


def _assemble(raw: RawDataset, imgsz: int, t: dict[str, float]) -> Labels:
    from imgstats.labels.image_size import image_sizes

    sizes = image_sizes(raw.images.get_column("path").to_list())
    images = raw.images
    for col, default in (("expected_label", None), ("label_digest", None)):
        if col not in images.columns:
            images = images.with_columns(pl.lit(default, pl.Utf8).alias(col))
    images = images.join(sizes, on="path", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("error").is_not_null() | pl.col("width").is_null())
        .then(pl.lit("unreadable"))
        .otherwise(pl.col("status"))
        .alias("status")
    )
    names = list(raw.names)
    # Empty frames can lose their types on the way (an empty join); pin the shared columns.
    boxes = raw.boxes.with_columns(
        [pl.col(c).cast(t) for c, t in BOXES_SCHEMA.items() if c in raw.boxes.columns]
    )
    for col, dtype in (
        ("_not_normalized", pl.Boolean),
        ("_unknown_category", pl.Boolean),
        ("_raw_max", pl.Float64),
    ):
        if col not in boxes.columns:
            boxes = boxes.with_columns(pl.lit(None, dtype).alias(col))
    if not raw.names_known:
        # Names from ids (YOLO without names) or from the names seen (VOC, already dense).
        top = boxes.get_column("class_id").max()
        if raw.format == "yolo" and top is not None and int(top) + 1 > len(names):  # type: ignore[arg-type]
            names = names + [str(i) for i in range(len(names), int(top) + 1)]  # type: ignore[arg-type]
    geom = images.select("path", "width", "height").unique("path", keep="first")
    boxes = boxes.join(geom, on="path", how="left", maintain_order="left")
    if raw.normalized:
        W, H = pl.col("width").cast(pl.Float64), pl.col("height").cast(pl.Float64)
        boxes = boxes.with_columns(
            pl.col("x0") * W, pl.col("y0") * H, pl.col("x1") * W, pl.col("y1") * H
        )
    n = len(names)
    in_range = (pl.col("class_id") >= 0) & (pl.col("class_id") < n)
    boxes = boxes.with_columns(
        pl.when(in_range & ~pl.col("_unknown_category").fill_null(False))
        .then(
            pl.col("class_id").replace_strict(
                dict(enumerate(names)), default=None, return_dtype=pl.Utf8
            )
        )
        .otherwise(pl.col("class_id").cast(pl.Utf8))
        .alias("class")
    )
    counts = boxes.group_by("path", "split").len("n_boxes")
    images = images.join(
        counts, on=["path", "split"], how="left", nulls_equal=True, maintain_order="left"
    ).with_columns(pl.col("n_boxes").fill_null(0).cast(pl.UInt32))
    boxes = boxes.join(
        images.select("path", "split", "label_file").unique(["path", "split"]),
        on=["path", "split"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    parts = [
        conform(raw.problems, PROBLEMS_SCHEMA).with_columns(
            pl.col("check").replace_strict(_severity_map(), default="error").alias("severity")
        )
    ]
    parts += image_checks(images)
    parts += box_checks(boxes, n if (raw.names_known or raw.format == "yolo") else None, imgsz, t)
    parts += dataset_checks(images, boxes, names, t)
    problems = _sorted(pl.concat(parts, how="vertical_relaxed"))
    return Labels(
        names=names,
        imgsz=imgsz,
        root=raw.root,
        format=raw.format,
        images=conform(images, IMAGES_SCHEMA),
        boxes=conform(boxes, BOXES_SCHEMA),
        problems=problems,
        findings=findings(problems),
        thresholds=t,
    )


def _sorted(problems: pl.DataFrame) -> pl.DataFrame:
    """Severity, then check order (`CHECKS`), then split, file and line: stable output."""
    from imgstats.labels.checks import CHECKS
    from imgstats.labels.model import SEVERITIES

    sev = {s: i for i, s in enumerate(SEVERITIES)}
    order = {c: i for i, c in enumerate(CHECKS)}
    return problems.sort(
        pl.col("severity").replace_strict(sev, default=9, return_dtype=pl.Int32),
        pl.col("check").replace_strict(order, default=99, return_dtype=pl.Int32),
        "split",
        "path",
        "label_file",
        "line",
        nulls_last=True,
        maintain_order=True,
    )


def _severity_map() -> dict[str, str]:
    from imgstats.labels.checks import CHECKS

    return CHECKS
