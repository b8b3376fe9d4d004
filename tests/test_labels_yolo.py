"""YOLO labels: every planted problem found exactly, nothing on a clean dataset, boxes equal to
supervision's independent reader, the layouts Ultralytics accepts."""

from __future__ import annotations

import os
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from PIL import Image
from test_labels_data import (
    PLANTED_YOLO,
    THRESHOLDS,
    H,
    W,
    base_boxes,
    make_yolo,
    stem,
)


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> imgstats.Labels:
    return imgstats.labels(make_yolo(tmp_path_factory.mktemp("planted")), thresholds=THRESHOLDS)


@pytest.fixture(scope="module")
def clean_yaml(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("clean"), planted=False)


def _found(lab: imgstats.Labels) -> dict[str, set[tuple[str, int | None]]]:
    out: dict[str, set[tuple[str, int | None]]] = {}
    for r in lab.problems.iter_rows(named=True):
        if r["check"] == "orphan_label":
            key = os.path.basename(r["label_file"])
        elif r["check"] in ("rare_class", "class_missing_in_split"):
            key = r["detail"].split("'")[1]
        elif r["check"] == "background_share":
            key = r["split"]
        else:
            key = stem(r["path"])
        line = r["line"] if r["check"] not in ("mixed_polygons",) else r["line"]
        out.setdefault(r["check"], set()).add((key, line))
    return out


def test_every_planted_problem_is_found_exactly(planted: imgstats.Labels) -> None:
    assert _found(planted) == PLANTED_YOLO
    # One problem row per planted item (no duplicate rows either).
    counts = dict(planted.problems.group_by("check").len().iter_rows())
    assert counts == {k: len(v) for k, v in PLANTED_YOLO.items()}


def test_findings_summarise_problems(planted: imgstats.Labels) -> None:
    f = planted.findings
    total = f.group_by("check").agg(pl.col("count").sum())
    assert dict(total.iter_rows()) == {k: len(v) for k, v in PLANTED_YOLO.items()}
    sev = dict(f.select("check", "severity").unique().iter_rows())
    assert sev["parse_error"] == "error" and sev["empty_label_file"] == "info"
    assert sev["missing_label_file"] == "warning"
    parse = f.filter(pl.col("check") == "parse_error").row(0, named=True)
    assert parse["split"] == "train"
    assert parse["examples"][0].endswith("labels/train/t03.txt:3")
    # Ordered errors, then warnings, then info.
    order = {"error": 0, "warning": 1, "info": 2}
    ranks = [order[s] for s in f.get_column("severity")]
    assert ranks == sorted(ranks)


def test_clean_dataset_has_no_problem(clean_yaml: Path) -> None:
    lab = imgstats.labels(clean_yaml, thresholds=THRESHOLDS)
    assert lab.problems.height == 0, lab.problems
    assert lab.findings.height == 0
    assert set(lab.images.get_column("status")) == {"labelled"}


def test_three_image_states_and_unreadable(planted: imgstats.Labels) -> None:
    st = dict(
        planted.images.select(pl.col("path").map_elements(stem, pl.Utf8), "status").iter_rows()
    )
    assert st["t00"] == "unlabelled" and st["t01"] == "background"
    assert st["t02"] == "unreadable" and st["t03"] == "labelled"
    img = planted.images.filter(pl.col("path").str.ends_with("t00.jpg")).row(0, named=True)
    assert img["label_file"] is None and img["n_boxes"] == 0
    # The unreadable image keeps its label file and its boxes: nothing is dropped.
    bad = planted.images.filter(pl.col("path").str.ends_with("t02.jpg")).row(0, named=True)
    assert bad["label_file"].endswith("t02.txt") and bad["n_boxes"] == 2
    assert bad["width"] is None


def test_bad_lines_do_not_stop_the_file(planted: imgstats.Labels) -> None:
    t03 = planted.boxes.filter(pl.col("path").str.ends_with("t03.jpg"))
    assert t03.get_column("line").to_list() == [1, 2]


def test_pixel_boxes_and_polygon(planted: imgstats.Labels) -> None:
    b = planted.boxes.filter(pl.col("path").str.ends_with("t11.jpg")).sort("line")
    (c, cx, cy, w, h) = base_boxes(11)[0]
    r = b.row(0, named=True)
    assert r["class"] == "car" and r["class_id"] == 0 and not r["is_polygon"]
    np.testing.assert_allclose(
        [r["x0"], r["y0"], r["x1"], r["y1"]],
        [(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H],
        atol=1e-6,
    )
    poly = b.row(2, named=True)
    assert poly["is_polygon"] and poly["line"] == 3
    np.testing.assert_allclose(
        [poly["x0"], poly["y0"], poly["x1"], poly["y1"]], [0.45 * W, 0.05 * H, 0.55 * W, 0.15 * H]
    )


def test_exif_rotated_image_has_upright_size(planted: imgstats.Labels) -> None:
    r = planted.images.filter(pl.col("path").str.ends_with("t14.jpg")).row(0, named=True)
    with Image.open(r["path"]) as im:
        assert im.size == (H, W)  # stored rotated
    assert (r["width"], r["height"], r["exif_orientation"]) == (W, H, 6)


def test_same_boxes_as_supervision(clean_yaml: Path) -> None:
    sv = pytest.importorskip("supervision")
    lab = imgstats.labels(clean_yaml)
    root = clean_yaml.parent
    for split in ("train", "val"):
        ds = sv.DetectionDataset.from_yolo(
            images_directory_path=str(root / "images" / split),
            annotations_directory_path=str(root / "labels" / split),
            data_yaml_path=str(clean_yaml),
        )
        assert ds.classes == lab.names
        ours = lab.boxes.filter(pl.col("split") == split)
        assert ours.height == sum(len(d) for _, _, d in ds)
        for path, _image, det in ds:
            mine = ours.filter(pl.col("path") == os.path.normpath(path)).sort("line")
            np.testing.assert_allclose(
                mine.select("x0", "y0", "x1", "y1").to_numpy(), det.xyxy, atol=1e-3
            )
            assert mine.get_column("class_id").to_list() == det.class_id.tolist()


def test_folder_without_yaml_and_txt_list(tmp_path: Path, clean_yaml: Path) -> None:
    root = clean_yaml.parent
    # A folder with images/ and labels/ and no YAML: names from ids, split from the folder.
    bare = tmp_path / "bare"
    os.symlink(root / "images", tmp_path / "images_link")
    (bare).mkdir()
    os.symlink(root / "images", bare / "images")
    os.symlink(root / "labels", bare / "labels")
    lab = imgstats.labels(bare)
    assert lab.names == ["0", "1"]
    assert set(lab.images.get_column("split")) == {"train", "val"}
    assert lab.boxes.height == imgstats.labels(clean_yaml).boxes.height
    # A .txt list of images (./ relative to the list) and names as a dict.
    lst = root / "val_list.txt"
    lst.write_text("./images/val/v00.jpg\n./images/val/v01.jpg\n")
    yaml = tmp_path / "list.yaml"
    yaml.write_text(
        f"path: {root}\ntrain: images/train\nval: val_list.txt\nnames: {{0: car, 1: person}}\n"
    )
    lab2 = imgstats.labels(yaml)
    assert lab2.names == ["car", "person"]
    assert lab2.images.filter(pl.col("split") == "val").height == 2
    # A list of folders for one split.
    yaml.write_text(f"path: {root}\ntrain: [images/train, images/val]\nnames: [car, person]\n")
    lab3 = imgstats.labels(yaml)
    assert lab3.images.height == 22 and set(lab3.images.get_column("split")) == {"train"}


def test_missing_split_folder_is_a_problem_not_a_crash(tmp_path: Path, clean_yaml: Path) -> None:
    root = clean_yaml.parent
    yaml = tmp_path / "d.yaml"
    yaml.write_text(f"path: {root}\ntrain: images/train\nval: images/nope\nnames: [car, person]\n")
    lab = imgstats.labels(yaml)
    p = lab.problems.filter(pl.col("check") == "parse_error")
    assert p.height == 1 and "images/nope" in p.get_column("detail")[0]


def test_not_a_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="data.yaml"):
        imgstats.labels(tmp_path)
    with pytest.raises(FileNotFoundError):
        imgstats.labels(tmp_path / "missing.yaml")
    with pytest.raises(ValueError, match="unknown label threshold"):
        imgstats.labels(tmp_path, thresholds={"tiny": 3})


def test_scan_of_labels_scans_exactly_the_labelled_images(planted: imgstats.Labels) -> None:
    df = imgstats.scan(planted, metrics=["exif"])
    assert sorted(df.get_column("path")) == sorted(planted.images.get_column("path"))
    assert df.filter(pl.col("error").is_not_null()).get_column("path").to_list() == [
        p for p in planted.images.get_column("path") if p.endswith("t02.jpg")
    ]


def test_pose_rows_and_nc_without_names(tmp_path: Path) -> None:
    (tmp_path / "images" / "train").mkdir(parents=True)
    (tmp_path / "labels" / "train").mkdir(parents=True)
    Image.new("RGB", (W, H), (90, 90, 90)).save(tmp_path / "images" / "train" / "p.jpg")
    # kpt_shape [2, 3]: class cx cy w h + 2 keypoints of (x, y, visible) = 11 values.
    (tmp_path / "labels" / "train" / "p.txt").write_text(
        "0 0.5 0.5 0.2 0.4 0.45 0.4 2 0.55 0.4 2\n1 0.5 0.5 0.2 0.4\n"
    )
    (tmp_path / "data.yaml").write_text("train: images/train\nnc: 1\nkpt_shape: [2, 3]\n")
    lab = imgstats.labels(tmp_path / "data.yaml")
    assert lab.names == ["0"]
    r = lab.boxes.row(0, named=True)
    assert (r["class"], r["line"], r["is_polygon"]) == ("0", 1, False)
    np.testing.assert_allclose([r["x0"], r["x1"]], [0.4 * W, 0.6 * W])
    bad = lab.problems.filter(pl.col("check") == "parse_error").row(0, named=True)
    assert bad["line"] == 2 and bad["detail"].startswith("5 values: expected 11")
