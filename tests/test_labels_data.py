"""Detection datasets on disk for the labels tests: YOLO, COCO and VOC built from real photos
(Debian wallpapers, downscaled) and synthetic images, clean or with every problem planted.

`PLANTED` lists exactly what each planted dataset contains: ``check -> {(image stem or label
file name, line)}``; the tests assert the checks find that and nothing else.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

W, H = 200, 150
WALLPAPERS = (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"))


@functools.lru_cache(maxsize=1)
def _photo_files() -> tuple[Path, ...]:
    """One JPEG per folder: the wallpaper packages hold many sizes of each picture."""
    by_folder: dict[Path, Path] = {}
    for root in WALLPAPERS:
        if root.is_dir():
            for p in sorted(root.rglob("*.jpg")):
                if p.is_file() and not p.is_symlink() and "screenshot" not in p.name:
                    by_folder.setdefault(p.parent, p)
    return tuple(by_folder.values())


@functools.lru_cache(maxsize=64)
def photo(i: int) -> np.ndarray:
    """The i-th real photo, decoded at reduced scale and cropped/resized to W x H; a synthetic
    gradient when no wallpaper package is installed (the tests still run, on fewer real pixels)."""
    files = _photo_files()
    if not files:
        y, x = np.mgrid[0:H, 0:W]
        return np.dstack([x * 255 // W, y * 255 // H, (x + y + 37 * i) % 256]).astype(np.uint8)
    with Image.open(files[i % len(files)]) as im:
        im.draft("RGB", (W * 2, H * 2))
        im = im.convert("RGB")
        # Centre crop to 4:3, then resize: every test image has the same size.
        w, h = im.size
        cw, ch = min(w, h * 4 // 3), min(h, w * 3 // 4)
        left, top = (w - cw) // 2, (h - ch) // 2
        im = im.crop((left, top, left + cw, top + ch)).resize((W, H), Image.BILINEAR)
        return np.asarray(im)


def synthetic(i: int) -> np.ndarray:
    rng = np.random.default_rng(i)
    base = rng.integers(0, 256, (1, 1, 3))
    noise = rng.integers(0, 40, (H, W, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def image_for(k: int) -> np.ndarray:
    """Real photos for most images, a synthetic one every fourth."""
    return synthetic(k) if k % 4 == 3 else photo(k)


def save_rotated(path: Path, pixels: np.ndarray) -> None:
    """Store the upright ``pixels`` rotated, with EXIF orientation 6 (rotate 90° CW to view):
    the stored image is H x W, the upright one W x H."""
    stored = Image.fromarray(pixels).transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    stored.save(path, "JPEG", quality=90, exif=exif.tobytes())


def base_boxes(k: int) -> list[tuple[int, float, float, float, float]]:
    """Two non-overlapping boxes (car, person) whose position depends on k: no two images share
    labels unless a test plants it."""
    return [(0, 0.2 + 0.01 * k, 0.3, 0.2, 0.2), (1, 0.7, 0.6 + 0.005 * k, 0.15, 0.3)]


def yolo_line(c: int, cx: float, cy: float, w: float, h: float) -> str:
    return f"{c} {cx:.6f} {cy:.6f} {w:.6f} {h:.6f}"


# Extra rows planted in train images (appended after the two base rows: line 3 onwards).
_EXTRA: dict[str, list[str]] = {
    "t03": ["1 0.5 abc 0.1 0.1", "0 0.5 0.5 0.1"],
    "t04": ["7 0.5 0.8 0.1 0.1"],
    "t05": ["0 100 75 20 20"],
    "t06": ["1 0.95 0.85 0.2 0.2"],
    "t07": ["0 0.5 0.9 0 0.1"],
    "t08": [],  # a duplicate of line 1, written below
    "t09": ["1 0.5 0.9 0.004 0.05"],
    "t10": ["1 0.5 0.95 0.9 0.02"],
    "t11": ["0 0.45 0.05 0.55 0.05 0.55 0.15 0.45 0.15"],
    "t15": ["2 0.5 0.85 0.1 0.1"],
}

#: What the planted YOLO dataset holds: check -> {(name, line)}. ``name`` is the image stem,
#: or the label file name for orphans, or the class / split for dataset-level checks.
PLANTED_YOLO: dict[str, set[tuple[str, int | None]]] = {
    "missing_label_file": {("t00", None)},
    "empty_label_file": {("t01", None)},
    "orphan_label": {("ghost.txt", None)},
    "unreadable_image": {("t02", None)},
    "parse_error": {("t03", 3), ("t03", 4)},
    "class_out_of_range": {("t04", 3)},
    "not_normalized": {("t05", 3)},
    "out_of_bounds": {("t06", 3)},
    "degenerate_box": {("t07", 3)},
    "duplicate_box": {("t08", 3)},
    "tiny_box": {("t09", 3)},
    "extreme_aspect": {("t10", 3)},
    "mixed_polygons": {("t11", 3)},
    "identical_label_files": {("t12", None), ("t13", None)},
    "exif_rotated": {("t14", None)},
    "rare_class": {("dog", None)},
    "class_missing_in_split": {("dog", None)},
    "background_share": {("train", None)},
}

#: Thresholds the planted and clean datasets are checked with (small datasets).
THRESHOLDS = {"rare_class_min": 3, "background_share_max": 0.05}

N_TRAIN, N_VAL = 16, 6


def make_yolo(root: Path, planted: bool = True) -> Path:
    """An Ultralytics-layout dataset under ``root``; returns its data.yaml."""
    k = 0
    for split, n in (("train", N_TRAIN), ("val", N_VAL)):
        (root / "images" / split).mkdir(parents=True)
        (root / "labels" / split).mkdir(parents=True)
        for j in range(n):
            stem = f"{split[0]}{j:02d}"
            img_path = root / "images" / split / f"{stem}.jpg"
            lbl_path = root / "labels" / split / f"{stem}.txt"
            pixels = image_for(k)
            rows = [yolo_line(*b) for b in base_boxes(k)]
            k += 1
            if planted and stem == "t14":
                save_rotated(img_path, pixels)
            elif planted and stem == "t02":
                img_path.write_bytes(b"this is not an image")
            else:
                Image.fromarray(pixels).save(img_path, "JPEG", quality=85)
            if planted and stem == "t00":
                continue  # unlabelled
            if planted and stem == "t01":
                lbl_path.write_text("")
                continue
            if planted and stem in _EXTRA:
                rows += _EXTRA[stem]
            if planted and stem == "t08":
                c, cx, cy, w, h = base_boxes(k - 1)[0]
                rows.append(yolo_line(c, cx + 0.002, cy, w, h))
            lbl_path.write_text("\n".join(rows) + "\n")
    if planted:
        (root / "labels" / "train" / "t13.txt").write_bytes(
            (root / "labels" / "train" / "t12.txt").read_bytes()
        )
        (root / "labels" / "train" / "ghost.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    names = "[car, person, dog]" if planted else "[car, person]"
    (root / "data.yaml").write_text(
        f"path: {root}\ntrain: images/train\nval: images/val\nnames: {names}\n"
    )
    return root / "data.yaml"


def make_coco(root: Path, planted: bool = True) -> Path:
    """COCO layout: ``root/annotations/instances_train.json`` and ``root/train/*.jpg``.

    Planted: c01 has no annotation (background); c02's file is missing (unreadable); an
    annotation with category 99 (out of range) on c03; a zero-width box on c04; a box past the
    right edge on c05; a duplicate on c06; a bbox that is not 4 numbers and one with an unknown
    image id (parse errors, annotations 3 and 4 of the list).
    """
    img_dir = root / "train"
    img_dir.mkdir(parents=True)
    (root / "annotations").mkdir()
    images, anns = [], []
    cats = [{"id": 1, "name": "car"}, {"id": 3, "name": "person"}]
    n = 8
    for k in range(n):
        stem = f"c{k:02d}"
        if not (planted and stem == "c02"):
            Image.fromarray(image_for(k)).save(img_dir / f"{stem}.jpg", "JPEG", quality=85)
        images.append({"id": 100 + k, "file_name": f"{stem}.jpg", "width": W, "height": H})
        if planted and stem == "c01":
            continue
        for c, cx, cy, w, h in base_boxes(k):
            bw, bh = w * W, h * H
            anns.append(
                {
                    "image_id": 100 + k,
                    "category_id": cats[c]["id"],
                    "bbox": [cx * W - bw / 2, cy * H - bh / 2, bw, bh],
                    "iscrowd": 0,
                }
            )
    if planted:
        anns.insert(2, {"image_id": 105, "category_id": 1, "bbox": [1, 2, "x"], "iscrowd": 0})
        anns.insert(3, {"image_id": 999, "category_id": 1, "bbox": [1, 2, 3, 4], "iscrowd": 0})
        anns += [
            {"image_id": 103, "category_id": 99, "bbox": [10, 110, 20, 20], "iscrowd": 0},
            {"image_id": 104, "category_id": 1, "bbox": [90, 120, 0, 10], "iscrowd": 0},
            {"image_id": 105, "category_id": 3, "bbox": [180, 110, 30, 20], "iscrowd": 0},
            {**anns[-1], "bbox": [a + 0.3 for a in anns[-1]["bbox"]]},  # dup of c07's last
        ]
        # The duplicate above belongs to c07 (the last image); c06 gets a crowd annotation.
        anns.append({"image_id": 106, "category_id": 3, "bbox": [5, 5, 40, 30], "iscrowd": 1})
    for i, a in enumerate(anns):
        a["id"] = i + 1
    path = root / "annotations" / "instances_train.json"
    path.write_text(json.dumps({"images": images, "annotations": anns, "categories": cats}))
    return path


def make_voc(root: Path, planted: bool = True) -> Path:
    """VOC layout: Annotations/, JPEGImages/, ImageSets/Main/{train,val}.txt.

    Planted: v01 has no XML (unlabelled); v02's XML has no object (background); v03's XML is
    malformed (parse error at line 3); v04 has an object whose bndbox has a non-number (parse
    error, object 3) besides two good ones; v05's first object is flagged difficult, truncated
    and occluded.
    """
    ann, jpg, sets = root / "Annotations", root / "JPEGImages", root / "ImageSets" / "Main"
    for d in (ann, jpg, sets):
        d.mkdir(parents=True)
    names = ("car", "person")
    n = 8
    for k in range(n):
        stem = f"v{k:02d}"
        Image.fromarray(image_for(k)).save(jpg / f"{stem}.jpg", "JPEG", quality=85)
        if planted and stem == "v01":
            continue
        if planted and stem == "v03":
            (ann / f"{stem}.xml").write_text("<annotation>\n<filename>v03.jpg</filename>\n<obj\n")
            continue
        objs = []
        if not (planted and stem == "v02"):
            for j, (c, cx, cy, w, h) in enumerate(base_boxes(k)):
                flags = (1, 1, 1) if planted and stem == "v05" and j == 0 else (0, 0, 0)
                x0, y0 = round((cx - w / 2) * W) + 1, round((cy - h / 2) * H) + 1
                x1, y1 = round((cx + w / 2) * W), round((cy + h / 2) * H)
                objs.append(
                    f"<object><name>{names[c]}</name><difficult>{flags[0]}</difficult>"
                    f"<truncated>{flags[1]}</truncated><occluded>{flags[2]}</occluded>"
                    f"<bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin><xmax>{x1}</xmax>"
                    f"<ymax>{y1}</ymax></bndbox></object>"
                )
        if planted and stem == "v04":
            objs.append(
                "<object><name>car</name><bndbox><xmin>1</xmin><ymin>oops</ymin>"
                "<xmax>5</xmax><ymax>9</ymax></bndbox></object>"
            )
        (ann / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><size><width>{W}</width>"
            f"<height>{H}</height><depth>3</depth></size>{''.join(objs)}</annotation>"
        )
    (sets / "train.txt").write_text("\n".join(f"v{k:02d}" for k in range(6)) + "\n")
    (sets / "val.txt").write_text("\n".join(f"v{k:02d}" for k in range(6, n)) + "\n")
    return root


def stem(path: str | None) -> str:
    return "" if path is None else os.path.splitext(os.path.basename(path))[0]


@pytest.fixture(scope="module")
def yolo_planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("yolo_planted"))


def test_photos_are_real_and_distinct() -> None:
    if not _photo_files():
        pytest.skip("no wallpaper package installed")
    a, b = photo(0), photo(1)
    assert a.shape == (H, W, 3) and b.shape == (H, W, 3)
    assert not np.array_equal(a, b)
