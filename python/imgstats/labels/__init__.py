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
    CHECKS,
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
    """Image sizes, pixel boxes, class names, then every check."""
    images = _with_sizes(raw.images)
    names = _names(raw)
    boxes = _pixel_boxes(raw, images, names)
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
            pl.col("check").replace_strict(CHECKS, default="error").alias("severity")
        )
    ]
    parts += image_checks(images)
    # Ids can be out of range only against a given list of names (YOLO ids, COCO categories).
    n_names = len(names) if (raw.names_known or raw.format == "yolo") else None
    parts += box_checks(boxes, n_names, imgsz, t)
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


def _with_sizes(images: pl.DataFrame) -> pl.DataFrame:
    """Upright width / height and EXIF orientation from the headers; ``unreadable`` status for
    images whose header cannot be read (their label state stays in label_file / n_boxes)."""
    from imgstats.labels.image_size import image_sizes

    sizes = image_sizes(images.get_column("path").to_list())
    for col in ("expected_label", "label_digest"):
        if col not in images.columns:
            images = images.with_columns(pl.lit(None, pl.Utf8).alias(col))
    return images.join(sizes, on="path", how="left", maintain_order="left").with_columns(
        pl.when(pl.col("error").is_not_null() | pl.col("width").is_null())
        .then(pl.lit("unreadable"))
        .otherwise(pl.col("status"))
        .alias("status")
    )


def _names(raw: RawDataset) -> list[str]:
    """The dataset's names; a YOLO set without names gets one per id seen ("0", "1", ...)."""
    names = list(raw.names)
    if raw.format == "yolo" and not raw.names_known and raw.boxes.height:
        top = int(raw.boxes.get_column("class_id").cast(pl.Int64).max())  # type: ignore[arg-type]
        names += [str(i) for i in range(len(names), top + 1)]
    return names


def _pixel_boxes(raw: RawDataset, images: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """Boxes in pixels of the upright image, with the class name (the id as text when out of
    range) and the private parser columns the checks read."""
    # Empty frames can lose their types on the way (an empty join); pin the shared columns.
    boxes = raw.boxes.with_columns(
        [pl.col(c).cast(dtype) for c, dtype in BOXES_SCHEMA.items() if c in raw.boxes.columns]
    )
    for col, dtype in (
        ("_not_normalized", pl.Boolean),
        ("_unknown_category", pl.Boolean),
        ("_raw_max", pl.Float64),
    ):
        if col not in boxes.columns:
            boxes = boxes.with_columns(pl.lit(None, dtype).alias(col))
    geom = images.select("path", "width", "height").unique("path", keep="first")
    boxes = boxes.join(geom, on="path", how="left", maintain_order="left")
    if raw.normalized:
        W, H = pl.col("width").cast(pl.Float64), pl.col("height").cast(pl.Float64)
        boxes = boxes.with_columns(
            pl.col("x0") * W, pl.col("y0") * H, pl.col("x1") * W, pl.col("y1") * H
        )
    known = (
        (pl.col("class_id") >= 0)
        & (pl.col("class_id") < len(names))
        & ~pl.col("_unknown_category").fill_null(False)
    )
    return boxes.with_columns(
        pl.when(known)
        .then(
            pl.col("class_id").replace_strict(
                dict(enumerate(names)), default=None, return_dtype=pl.Utf8
            )
        )
        .otherwise(pl.col("class_id").cast(pl.Utf8))
        .alias("class")
    )


def _sorted(problems: pl.DataFrame) -> pl.DataFrame:
    """Severity, then check order (`CHECKS`), then split, file and line: stable output."""
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
