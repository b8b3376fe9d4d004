"""The `Labels` object: a detection dataset's images, boxes, findings and problems as frames.

The schemas below are a contract shared with `imgstats.split` and `imgstats.slices`: consumers
accept any object with ``.images`` and ``.boxes`` frames of these columns.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

#: Image states, never merged: a label file with content, an empty label file (a deliberate
#: negative), no label file at all (usually forgotten), and an image whose header cannot be read.
STATUSES: tuple[str, ...] = ("labelled", "background", "unlabelled", "unreadable")

IMAGES_SCHEMA: dict[str, Any] = {
    "path": pl.Utf8,
    "split": pl.Utf8,
    "label_file": pl.Utf8,
    "status": pl.Utf8,
    "n_boxes": pl.UInt32,
    "width": pl.UInt32,
    "height": pl.UInt32,
    "exif_orientation": pl.UInt8,
}

BOXES_SCHEMA: dict[str, Any] = {
    "path": pl.Utf8,
    "split": pl.Utf8,
    "class": pl.Utf8,
    "class_id": pl.Int64,
    "x0": pl.Float64,
    "y0": pl.Float64,
    "x1": pl.Float64,
    "y1": pl.Float64,
    "line": pl.Int64,
    "is_polygon": pl.Boolean,
    "occluded": pl.Boolean,
    "truncated": pl.Boolean,
    "difficult": pl.Boolean,
    "iscrowd": pl.Boolean,
}

PROBLEMS_SCHEMA: dict[str, Any] = {
    "check": pl.Utf8,
    "severity": pl.Utf8,
    "split": pl.Utf8,
    "path": pl.Utf8,
    "label_file": pl.Utf8,
    "line": pl.Int64,
    "detail": pl.Utf8,
}

FINDINGS_SCHEMA: dict[str, Any] = {
    "check": pl.Utf8,
    "severity": pl.Utf8,
    "split": pl.Utf8,
    "count": pl.UInt32,
    "examples": pl.List(pl.Utf8),
}

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


def empty(schema: dict[str, Any]) -> pl.DataFrame:
    """A zero-row frame with ``schema``."""
    return pl.DataFrame(schema=schema)


def box_digests(boxes: pl.DataFrame) -> pl.DataFrame:
    """``path`` → ``label_digest``: a hash of the image's sorted (class, corners) list, so two
    images with the same labels (COCO, VOC: no per-image file to compare bytes of) match."""
    cols = ("class_id", "x0", "y0", "x1", "y1")
    return (
        boxes.sort("path", *cols)
        .group_by("path")
        .agg(
            pl.concat_str([pl.col(c).cast(pl.Utf8) for c in cols], separator=",")
            .str.join(";")
            .hash()
            .alias("label_digest")
        )
    )


def conform(df: pl.DataFrame, schema: dict[str, Any]) -> pl.DataFrame:
    """``df`` with exactly the columns of ``schema``, in order and cast (absent ones null)."""
    return df.select(
        [
            (pl.col(c) if c in df.columns else pl.lit(None)).cast(t).alias(c)
            for c, t in schema.items()
        ]
    )


@dataclass
class Labels:
    """A detection dataset read by `imgstats.labels`.

    Attributes:
        names: class names by id.
        imgsz: the training size used for "at imgsz" statistics and checks (long side).
        root: the dataset root (the folder of ``data.yaml``, of the COCO JSON, or the VOC root).
        format: ``"yolo"``, ``"coco"`` or ``"voc"``.
        images: one row per image (see ``IMAGES_SCHEMA``): ``path`` (as `imgstats.scan` reports
            it), ``split``, ``label_file``, ``status`` (labelled / background / unlabelled /
            unreadable), ``n_boxes``, upright ``width`` / ``height`` and ``exif_orientation``.
        boxes: one row per object (see ``BOXES_SCHEMA``), pixel corners in the upright image.
        problems: one row per problem: check, severity, split, path, label_file, line, detail.
        findings: one row per (check, severity, split): count and up to five examples.
    """

    names: list[str]
    imgsz: int
    root: str
    format: str
    images: pl.DataFrame
    boxes: pl.DataFrame
    problems: pl.DataFrame
    findings: pl.DataFrame
    thresholds: dict[str, float] = field(default_factory=dict)
    _objects: pl.DataFrame | None = field(default=None, repr=False, compare=False)

    def class_stats(self) -> pl.DataFrame:
        """Per class and split: objects, images containing it, objects per such image, share of
        the split's objects, median box size at ``imgsz`` and the size-bucket counts."""
        from imgstats.labels.stats import class_stats

        return class_stats(self)

    def box_stats(self) -> pl.DataFrame:
        """Per class and split: box width / height / size at ``imgsz`` percentiles
        (0, 5, 25, 50, 75, 95, 100) and aspect-ratio quartiles."""
        from imgstats.labels.stats import box_stats

        return box_stats(self)

    def split_stats(self) -> pl.DataFrame:
        """Per split: images by status, background share, objects, objects per labelled image,
        classes present and the class imbalance ratio (most / fewest objects, present classes)."""
        from imgstats.labels.stats import split_stats

        return split_stats(self)

    def image_stats(self) -> pl.DataFrame:
        """Per image: boxes, distinct classes, max / mean IoU between its boxes, overlapping
        pairs, the largest occlusion share and boxes touching the border (occlusion and
        crowding proxies)."""
        from imgstats.labels.stats import image_stats

        return image_stats(self)

    def objects(self) -> pl.DataFrame:
        """`boxes` with the derived per-object columns: image size, box width / height / size at
        ``imgsz``, ``object_size``, ``occlusion``, ``truncation`` and ``crowding`` buckets."""
        from imgstats.labels.axes import object_axes

        # Computed once (the occlusion share is the costly part): stats, coverage and the report
        # all start from it.
        if self._objects is None:
            self._objects = object_axes(self)
        return self._objects

    def __repr__(self) -> str:
        counts = dict(self.images.group_by("status").len().iter_rows())
        states = ", ".join(f"{counts.get(s, 0):,} {s}" for s in STATUSES)
        sev = dict(self.problems.group_by("severity").len().iter_rows())
        issues = ", ".join(f"{sev.get(s, 0):,} {s}s" for s in SEVERITIES)
        return (
            f"Labels({self.format}, {len(self.names)} classes, {self.images.height:,} images "
            f"({states}), {self.boxes.height:,} boxes, problems: {issues})"
        )


@dataclass
class RawDataset:
    """What a format reader hands to `imgstats.labels`: before image sizes and checks.

    ``images`` has path, split, label_file, status (labelled / background / unlabelled) and an
    optional ``label_digest`` (equal digests = identical labels). ``boxes`` has the
    ``BOXES_SCHEMA`` columns except ``class``; when ``normalized`` the corners are fractions of
    the image size (YOLO) and become pixels once sizes are known. Private ``_``-columns carry
    parser facts to the checks (``_not_normalized``).
    """

    format: str
    root: str
    names: list[str]
    names_known: bool
    images: pl.DataFrame
    boxes: pl.DataFrame
    problems: pl.DataFrame
    normalized: bool
