"""Read a YOLO dataset in the Ultralytics layout.

- ``data.yaml``: ``path`` (the root; relative to the YAML's folder; default: that folder),
  ``train`` / ``val`` / ``test`` (each a folder searched recursively, a ``.txt`` list of image
  paths, or a list of those) and ``names`` (a list, or a dict id → name).
- A folder with ``images/`` and ``labels/`` and no YAML works too: the split is the first folder
  under ``images/`` when it is named like one (train, val, valid, test ...), class names come
  from ``classes.txt`` (LabelImg) when present, else from the ids.
- Label files follow Ultralytics' ``img2label_paths`` rule: the last ``/images/`` in the image
  path becomes ``/labels/`` and the extension becomes ``.txt``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import polars as pl

from imgstats.labels.model import RawDataset
from imgstats.labels.yolo_parse import parse_lines, read_texts
from imgstats.paths import IMAGE_EXTENSIONS, walk_images

SPLIT_KEYS: tuple[str, ...] = ("train", "val", "test")
#: Folder names read as a split when there is no YAML.
SPLIT_NAMES: frozenset[str] = frozenset(
    {"train", "training", "val", "valid", "validation", "test", "testing"}
)
#: Files in a labels folder that are not per-image labels (LabelImg writes classes.txt).
NOT_LABEL_FILES: frozenset[str] = frozenset({"classes.txt"})
YAML_NAMES: tuple[str, ...] = ("data.yaml", "dataset.yaml", "data.yml", "dataset.yml")


#: (root, names, names given?, (split, image path) pairs, problems) from a YAML or a folder.
_Layout = tuple[Path, list[str], bool, list[tuple[Optional[str], str]], list[dict[str, Any]]]


def label_path(image: str) -> str:
    """Ultralytics' ``img2label_paths`` for one path: last ``/images/`` → ``/labels/``, ``.txt``."""
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    return sb.join(image.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"


def find_yaml(folder: Path) -> Path | None:
    """The data.yaml (or dataset.yaml, .yml) in ``folder``, if any."""
    for name in YAML_NAMES:
        if (folder / name).is_file():
            return folder / name
    return None


def _problem(check: str, label_file: str, detail: str) -> dict[str, Any]:
    return {"check": check, "label_file": label_file, "detail": detail}


def _resolve_entry(root: Path, entry: str) -> Path:
    p = Path(entry)
    if p.is_absolute():
        return p
    x = root / p
    # Ultralytics retries "../x" as "x" under the root (Roboflow exports write "../train/images").
    if not x.exists() and entry.startswith("../"):
        x = root / entry[3:]
    return Path(os.path.normpath(x))


def _images_of(entry: Path, yaml_file: str, problems: list[dict[str, Any]]) -> list[str]:
    exts = {e.lower() for e in IMAGE_EXTENSIONS}
    if entry.is_dir():
        found = sorted(walk_images(str(entry), exts))
        if not found:
            problems.append(_problem("parse_error", yaml_file, f"no images in {entry}"))
        return found
    if entry.is_file() and entry.suffix == ".txt":
        parent = str(entry.parent) + os.sep
        out = []
        for raw in entry.read_text(encoding="utf-8", errors="replace").splitlines():
            x = raw.strip()
            if not x:
                continue
            # "./x" is relative to the list's folder (as in Ultralytics); other relative lines
            # are taken relative to it too, which is what people who write them mean.
            x = parent + x[2:] if x.startswith("./") else x
            out.append(os.path.normpath(x if os.path.isabs(x) else parent + x))
        return out
    problems.append(_problem("parse_error", yaml_file, f"split source not found: {entry}"))
    return []


def _names(raw: Any) -> list[str]:
    if isinstance(raw, dict):
        ids = {int(k): str(v) for k, v in raw.items()}
        n = max(ids) + 1 if ids else 0
        return [ids.get(i, str(i)) for i in range(n)]
    if isinstance(raw, (list, tuple)):
        return [str(v) for v in raw]
    return []


def _from_yaml(path: Path) -> _Layout:
    import yaml

    problems: list[dict[str, Any]] = []
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(cfg, dict):
        raise ValueError(f"{path}: not a YOLO data YAML (expected a mapping)")
    base = path.parent
    root = Path(cfg["path"]) if cfg.get("path") else base
    if not root.is_absolute():
        root = base / root
        if not root.exists() and Path(cfg["path"]).exists():
            root = Path(cfg["path"]).resolve()
    root = Path(os.path.normpath(root))
    names_raw = cfg.get("names")
    names = _names(names_raw)
    if names_raw is None and isinstance(cfg.get("nc"), int):
        names_raw, names = cfg["nc"], [str(i) for i in range(cfg["nc"])]
    images: list[tuple[str | None, str]] = []
    for key in SPLIT_KEYS:
        value = cfg.get(key)
        if not value:
            continue
        for entry in value if isinstance(value, (list, tuple)) else [value]:
            for img in _images_of(_resolve_entry(root, str(entry)), str(path), problems):
                images.append((key, img))
    if not any(cfg.get(k) for k in SPLIT_KEYS):
        problems.append(_problem("parse_error", str(path), "no train, val or test entry"))
    return root, names, names_raw is not None, images, problems


def _from_folder(folder: Path) -> _Layout:
    img_root = folder / "images"
    if not img_root.is_dir():
        raise ValueError(
            f"{folder}: no data.yaml and no images/ folder; pass a data.yaml, a COCO .json or "
            "a VOC folder with Annotations/"
        )
    exts = {e.lower() for e in IMAGE_EXTENSIONS}
    images: list[tuple[str | None, str]] = []
    for p in sorted(walk_images(str(img_root), exts)):
        first = Path(os.path.relpath(p, img_root)).parts[0]
        split = first if first.lower() in SPLIT_NAMES and first != Path(p).name else None
        images.append((split, p))
    names: list[str] = []
    for candidate in (folder / "labels" / "classes.txt", folder / "classes.txt"):
        if candidate.is_file():
            names = [n.strip() for n in candidate.read_text().splitlines() if n.strip()]
            break
    return folder, names, bool(names), images, []


def _box_values(yaml_file: Path | None) -> int:
    """Values per box row: 5, or 5 + K * D for a pose dataset (``kpt_shape: [K, D]``), whose
    keypoints follow the box on the same row."""
    if yaml_file is None:
        return 5
    import yaml

    cfg = yaml.safe_load(yaml_file.read_text(encoding="utf-8")) or {}
    kpt = cfg.get("kpt_shape") if isinstance(cfg, dict) else None
    if isinstance(kpt, (list, tuple)) and len(kpt) == 2 and all(isinstance(k, int) for k in kpt):
        return 5 + int(kpt[0]) * int(kpt[1])
    return 5


def read_yolo(source: Path) -> RawDataset:
    """Read a YOLO dataset from a ``data.yaml`` or a folder (see the module docstring)."""
    yaml_file = source if source.is_file() else find_yaml(source)
    if yaml_file is not None:
        root, names, names_known, pairs, problems = _from_yaml(yaml_file)
    else:
        root, names, names_known, pairs, problems = _from_folder(source)
    paths = [p for _, p in pairs]
    label_files = [label_path(p) for p in paths]
    listing = _list_label_dirs(label_files)
    has_label = [
        name in listing.get(d, ()) for d, _, name in (lf.rpartition(os.sep) for lf in label_files)
    ]
    wanted = sorted({lf for lf, ok in zip(label_files, has_label) if ok})
    texts = read_texts(wanted)
    file_map = pl.DataFrame(
        {"file": pl.Series(range(len(wanted)), dtype=pl.UInt32), "label_file": wanted},
        schema={"file": pl.UInt32, "label_file": pl.Utf8},
    )
    text_df = pl.DataFrame(
        {"file": pl.Series(range(len(wanted)), dtype=pl.UInt32), "text": texts},
        schema={"file": pl.UInt32, "text": pl.Utf8},
    )
    for lf, t in zip(wanted, texts):
        if t is None:
            problems.append(_problem("parse_error", lf, "label file cannot be read"))
    rows, errors = parse_lines(
        text_df.filter(pl.col("text").is_not_null()), box_values=_box_values(yaml_file)
    )
    # Empty (or whitespace-only) files are background: deliberate negatives.
    content = text_df.with_columns(
        pl.col("text").str.strip_chars().alias("text"),
        pl.Series("label_file", wanted, dtype=pl.Utf8),
    ).with_columns(
        pl.when(pl.col("text").is_null())
        .then(pl.lit("labelled"))  # unreadable label file: not a negative; a parse_error
        .when(pl.col("text") == "")
        .then(pl.lit("background"))
        .otherwise(pl.lit("labelled"))
        .alias("status"),
        pl.when(pl.col("text").is_null() | (pl.col("text") == ""))
        .then(None)
        .otherwise(pl.col("text").hash())
        .alias("label_digest"),
    )
    images = (
        pl.DataFrame(
            {
                "path": paths,
                "split": [s for s, _ in pairs],
                "_lf": label_files,
                "_has": has_label,
            },
            schema={"path": pl.Utf8, "split": pl.Utf8, "_lf": pl.Utf8, "_has": pl.Boolean},
        )
        .join(
            content.select("label_file", "status", "label_digest"),
            left_on="_lf",
            right_on="label_file",
            how="left",
            maintain_order="left",
        )
        .select(
            "path",
            "split",
            pl.when(pl.col("_has")).then(pl.col("_lf")).alias("label_file"),
            pl.col("_lf").alias("expected_label"),
            pl.col("status").fill_null("unlabelled"),
            "label_digest",
        )
    )
    # One box row per (image, line): a label file shared by two splits' entries repeats.
    file_to_images = images.join(file_map, on="label_file", how="inner").select(
        "file", "path", "split"
    )
    boxes = file_to_images.join(rows, on="file", how="inner").select(
        "path",
        "split",
        "class_id",
        "x0",
        "y0",
        "x1",
        "y1",
        "line",
        "is_polygon",
        # Ultralytics rejects a whole label file whose values exceed 1 ("non-normalized or out
        # of bounds coordinates"): the file was most likely written in pixels.
        (pl.col("raw_max") > 1.0).alias("_not_normalized"),
        pl.col("raw_max").alias("_raw_max"),
    )
    problem_rows = [{**p, "path": None, "line": None, "split": None} for p in problems]
    parse_problems = errors.join(file_map, on="file").select(
        pl.lit("parse_error").alias("check"), "label_file", "line", "detail"
    )
    problems_df = pl.concat(
        [
            pl.DataFrame(
                problem_rows,
                schema={
                    "check": pl.Utf8,
                    "label_file": pl.Utf8,
                    "detail": pl.Utf8,
                    "path": pl.Utf8,
                    "line": pl.Int64,
                    "split": pl.Utf8,
                },
            ),
            _attach_images(parse_problems, images),
            _orphans(listing, label_files),
        ],
        how="diagonal_relaxed",
    )
    return RawDataset(
        format="yolo",
        root=str(root),
        names=names,
        names_known=names_known,
        images=images,
        boxes=boxes,
        problems=problems_df,
        normalized=True,
    )


def _attach_images(problems: pl.DataFrame, images: pl.DataFrame) -> pl.DataFrame:
    """Add ``path`` and ``split`` of the image(s) a label file belongs to."""
    owners = images.filter(pl.col("label_file").is_not_null()).select("label_file", "path", "split")
    return problems.join(owners, on="label_file", how="left")


def _list_label_dirs(label_files: list[str]) -> dict[str, set[str]]:
    """Folder → names of the ``.txt`` files in it, for every folder where labels are expected:
    one listing per folder instead of a stat per image."""
    out: dict[str, set[str]] = {}
    for folder in {lf.rpartition(os.sep)[0] for lf in label_files}:
        try:
            out[folder] = {n for n in os.listdir(folder) if n.endswith(".txt")}
        except OSError:
            out[folder] = set()
    return out


def _orphans(listing: dict[str, set[str]], label_files: list[str]) -> pl.DataFrame:
    """Label files in those folders that no image maps to (LabelImg's classes.txt excepted)."""
    expected: dict[str, set[str]] = {}
    for lf in label_files:
        folder, _, name = lf.rpartition(os.sep)
        expected.setdefault(folder, set()).add(name)
    orphans = sorted(
        os.path.join(folder, n)
        for folder, names in listing.items()
        for n in names - expected.get(folder, set()) - NOT_LABEL_FILES
    )
    return pl.DataFrame(
        {
            "check": ["orphan_label"] * len(orphans),
            "label_file": orphans,
            "detail": ["label file without an image (no image of any known type with this name)"]
            * len(orphans),
        },
        schema={"check": pl.Utf8, "label_file": pl.Utf8, "detail": pl.Utf8},
    )
