"""Read a Pascal VOC dataset: one XML per image in ``Annotations/`` with ``filename`` and
``object`` elements (``name``, ``bndbox`` xmin/ymin/xmax/ymax, ``difficult``, ``truncated``,
``occluded``).

Images are looked for in ``JPEGImages/`` (VOC's layout), then ``images/``, then next to the XML;
images in that folder with no XML are unlabelled; an XML with no object is background. Splits
come from ``ImageSets/Main/{train,val,test}.txt`` when present. VOC coordinates are 1-based,
inclusive pixel indices (the devkit's convention, also supervision's): the box in continuous
0-based pixels is ``(xmin - 1, ymin - 1, xmax, ymax)``, so 1..W covers the whole width.
"""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import polars as pl

from imgstats.labels.model import RawDataset, box_digests
from imgstats.paths import IMAGE_EXTENSIONS, walk_images

_FLAGS = ("difficult", "truncated", "occluded")


def _flag(obj: ET.Element, name: str) -> bool | None:
    text = obj.findtext(name)
    if text is None or not text.strip():
        return None
    try:
        return bool(int(float(text)))
    except ValueError:
        return text.strip().lower() in ("true", "yes")


def _splits(root: Path) -> dict[str, str]:
    """Image stem → split from ``ImageSets/Main/<split>.txt``."""
    out: dict[str, str] = {}
    main = root / "ImageSets" / "Main"
    for split in ("train", "val", "test"):
        f = main / f"{split}.txt"
        if f.is_file():
            for line in f.read_text().splitlines():
                if line.strip():
                    out.setdefault(line.split()[0], split)
    return out


def _parse(
    xml_file: str, image_dir: Path
) -> tuple[str | None, list[dict[str, Any]], str | None, int | None]:
    """(image path, objects, error, error line) for one XML file."""
    try:
        tree = ET.parse(xml_file)
    except ET.ParseError as exc:
        return None, [], f"XML parse error: {exc}", int(exc.position[0])
    root = tree.getroot()
    filename = root.findtext("filename")
    stem = Path(xml_file).stem
    if filename:
        path = str(image_dir / filename.strip())
    else:
        path = str(image_dir / (stem + ".jpg"))
    objects = []
    for i, obj in enumerate(root.iter("object")):
        bb = obj.find("bndbox")
        row: dict[str, Any] = {"name": (obj.findtext("name") or "").strip(), "line": i + 1}
        for f in _FLAGS:
            row[f] = _flag(obj, f)
        try:
            if bb is None:
                raise ValueError("no bndbox")
            for k in ("xmin", "ymin", "xmax", "ymax"):
                row[k] = float(bb.findtext(k) or "")
        except ValueError as exc:
            row["error"] = f"object {i + 1} ({row['name'] or 'no name'}): bad bndbox ({exc})"
        objects.append(row)
    return os.path.normpath(path), objects, None, None


def read_voc(source: Path) -> RawDataset:
    """Read a VOC root (with ``Annotations/``) or an ``Annotations/`` folder itself."""
    ann_dir = source if source.name == "Annotations" else source / "Annotations"
    root = ann_dir.parent
    image_dir = next((d for d in (root / "JPEGImages", root / "images") if d.is_dir()), ann_dir)
    split_of = _splits(root)
    xml_files = sorted(str(ann_dir / n) for n in os.listdir(ann_dir) if n.endswith(".xml"))
    problems: list[dict[str, Any]] = []
    images: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    for xf in xml_files:
        path, objects, error, line = _parse(xf, image_dir)
        stem = Path(xf).stem
        split = split_of.get(stem)
        if error is not None:
            problems.append(
                {
                    "check": "parse_error",
                    "label_file": xf,
                    "line": line,
                    "detail": error,
                    "split": split,
                }
            )
            path = os.path.normpath(str(image_dir / (stem + ".jpg")))
            images.append({"path": path, "split": split, "label_file": xf, "status": "labelled"})
            continue
        good = [o for o in objects if "error" not in o]
        for o in objects:
            if "error" in o:
                problems.append(
                    {
                        "check": "parse_error",
                        "label_file": xf,
                        "line": o["line"],
                        "detail": o["error"],
                        "path": path,
                        "split": split,
                    }
                )
        status = "labelled" if objects else "background"
        images.append({"path": path, "split": split, "label_file": xf, "status": status})
        for o in good:
            rows.append({"path": path, "split": split, **o})
    known = {i["path"] for i in images}
    exts = {e.lower() for e in IMAGE_EXTENSIONS}
    if image_dir != ann_dir:
        for p in sorted(walk_images(str(image_dir), exts)):
            p = os.path.normpath(p)
            if p not in known:
                split = split_of.get(Path(p).stem)
                images.append(
                    {
                        "path": p,
                        "split": split,
                        "label_file": None,
                        "status": "unlabelled",
                        "expected_label": str(ann_dir / (Path(p).stem + ".xml")),
                    }
                )
    names = sorted({r["name"] for r in rows})
    index = {n: i for i, n in enumerate(names)}
    boxes = pl.DataFrame(
        rows,
        schema={
            "path": pl.Utf8,
            "split": pl.Utf8,
            "name": pl.Utf8,
            "line": pl.Int64,
            "difficult": pl.Boolean,
            "truncated": pl.Boolean,
            "occluded": pl.Boolean,
            "xmin": pl.Float64,
            "ymin": pl.Float64,
            "xmax": pl.Float64,
            "ymax": pl.Float64,
        },
    ).select(
        "path",
        "split",
        pl.col("name").replace_strict(index, return_dtype=pl.Int64).alias("class_id"),
        (pl.col("xmin") - 1).alias("x0"),
        (pl.col("ymin") - 1).alias("y0"),
        pl.col("xmax").alias("x1"),
        pl.col("ymax").alias("y1"),
        "line",
        pl.lit(False).alias("is_polygon"),
        "difficult",
        "truncated",
        "occluded",
    )
    img_df = pl.DataFrame(
        images,
        schema={
            "path": pl.Utf8,
            "split": pl.Utf8,
            "label_file": pl.Utf8,
            "status": pl.Utf8,
            "expected_label": pl.Utf8,
        },
    )
    digests = box_digests(boxes)
    img_df = img_df.join(digests, on="path", how="left", maintain_order="left")
    return RawDataset(
        format="voc",
        root=str(root),
        names=names,
        names_known=False,
        images=img_df,
        boxes=boxes,
        problems=pl.DataFrame(
            problems,
            schema={
                "check": pl.Utf8,
                "label_file": pl.Utf8,
                "line": pl.Int64,
                "detail": pl.Utf8,
                "path": pl.Utf8,
                "split": pl.Utf8,
            },
        ),
        normalized=False,
    )
