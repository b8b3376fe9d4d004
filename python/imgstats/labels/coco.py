"""Read a COCO instances JSON (``images``, ``annotations`` with ``bbox`` = x, y, w, h in pixels
and ``iscrowd``, ``categories``).

Images with no annotation are kept as background (several tools drop them: supervision#188,
mmdetection#900). Image files are looked for under ``image_dir`` when given, else next to the
JSON, in ``images/`` beside it or one level up, and in ``../<name>/`` for COCO's own layout
(``annotations/instances_val2017.json`` → ``val2017/``). The split is read from the file name
(``train`` / ``val`` / ``test`` in it), else null.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import polars as pl

from imgstats.labels.model import RawDataset, box_digests

_SPLIT_RE = re.compile(r"(train|val|test)", re.IGNORECASE)


def _image_dir(json_path: Path, file_names: list[str], image_dir: str | None) -> Path:
    if image_dir is not None:
        return Path(image_dir)
    here = json_path.parent
    stem = json_path.stem
    bare = stem.split("_", 1)[1] if stem.startswith("instances_") else stem
    candidates = [here, here / "images", here.parent / "images", here.parent / bare, here / bare]
    probe = file_names[:20]
    for c in candidates:
        if probe and any((c / f).exists() for f in probe):
            return c
    return here


def _split_of(json_path: Path) -> str | None:
    m = _SPLIT_RE.search(json_path.stem)
    return m.group(1).lower() if m else None


def read_coco(source: Path, image_dir: str | None = None) -> RawDataset:
    """Read a COCO instances JSON (see the module docstring)."""
    try:
        data: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{source}: not valid JSON ({exc})") from exc
    if not isinstance(data, dict) or "images" not in data:
        raise ValueError(f"{source}: not a COCO instances file (no 'images' list)")
    label_file = str(source)
    split = _split_of(source)
    imgs = data.get("images") or []
    anns = data.get("annotations") or []
    cats = data.get("categories") or []
    # COCO category ids are arbitrary (1..90 with holes); class_id is the index in `names`,
    # ordered by category id, so it is dense and stable.
    cat_ids = sorted(int(c["id"]) for c in cats)
    cat_name = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    names = [cat_name[i] for i in cat_ids]
    index_of = {cid: i for i, cid in enumerate(cat_ids)}
    file_names = [str(im.get("file_name", "")) for im in imgs]
    folder = _image_dir(source, file_names, image_dir)
    paths = [os.path.normpath(str(folder / f)) for f in file_names]
    image_ids = [im.get("id") for im in imgs]
    path_of = dict(zip(image_ids, paths))
    problems: list[dict[str, Any]] = []
    rows: dict[str, list[Any]] = {
        k: []
        for k in ("path", "class_id", "x0", "y0", "x1", "y1", "line", "iscrowd", "_cat", "_poly")
    }
    for i, a in enumerate(anns):
        line = i + 1  # the annotation's 1-based index in the file's "annotations" list
        path = path_of.get(a.get("image_id"))
        bbox = a.get("bbox")
        if path is None:
            problems.append(
                {
                    "check": "parse_error",
                    "line": line,
                    "detail": f"annotation id {a.get('id')}: unknown image_id {a.get('image_id')}",
                }
            )
            continue
        try:
            x, y, w, h = (float(v) for v in bbox)
        except (TypeError, ValueError):
            problems.append(
                {
                    "check": "parse_error",
                    "path": path,
                    "line": line,
                    "detail": f"annotation id {a.get('id')}: bbox {bbox!r} is not 4 numbers",
                }
            )
            continue
        cat = a.get("category_id")
        rows["path"].append(path)
        rows["_cat"].append(cat)
        rows["class_id"].append(index_of.get(cat, -1) if isinstance(cat, int) else -1)
        rows["x0"].append(x)
        rows["y0"].append(y)
        rows["x1"].append(x + w)
        rows["y1"].append(y + h)
        rows["line"].append(line)
        rows["iscrowd"].append(bool(a.get("iscrowd", 0)))
        seg = a.get("segmentation")
        rows["_poly"].append(isinstance(seg, list) and len(seg) > 0)
    boxes = pl.DataFrame(
        rows,
        schema={
            "path": pl.Utf8,
            "class_id": pl.Int64,
            "x0": pl.Float64,
            "y0": pl.Float64,
            "x1": pl.Float64,
            "y1": pl.Float64,
            "line": pl.Int64,
            "iscrowd": pl.Boolean,
            "_cat": pl.Int64,
            "_poly": pl.Boolean,
        },
        strict=False,
    ).with_columns(
        pl.lit(split, pl.Utf8).alias("split"),
        # COCO stores a bbox with every polygon; the box is what a detector trains on.
        pl.lit(False).alias("is_polygon"),
        # An unknown category keeps its raw id so the problem can name it.
        pl.when(pl.col("class_id") < 0)
        .then(pl.col("_cat"))
        .otherwise(pl.col("class_id"))
        .alias("class_id"),
        (pl.col("class_id") < 0).alias("_unknown_category"),
    )
    counts = boxes.group_by("path").len()
    digests = box_digests(boxes)
    images = (
        pl.DataFrame({"path": paths}, schema={"path": pl.Utf8})
        .with_columns(pl.lit(split, pl.Utf8).alias("split"), pl.lit(label_file).alias("label_file"))
        .join(counts, on="path", how="left", maintain_order="left")
        .join(digests, on="path", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("len").fill_null(0) > 0)
            .then(pl.lit("labelled"))
            .otherwise(pl.lit("background"))
            .alias("status")
        )
        .drop("len")
    )
    problems_df = pl.DataFrame(
        problems,
        schema={"check": pl.Utf8, "path": pl.Utf8, "line": pl.Int64, "detail": pl.Utf8},
    ).with_columns(pl.lit(label_file).alias("label_file"), pl.lit(split, pl.Utf8).alias("split"))
    return RawDataset(
        format="coco",
        root=str(source.parent),
        names=names,
        names_known=True,
        images=images,
        boxes=boxes,
        problems=problems_df,
        normalized=False,
    )
