"""COCO and VOC labels: planted problems found exactly, clean sets silent, boxes equal to
pycocotools' and supervision's readers, dataset flags (iscrowd, difficult, truncated, occluded)
carried to the boxes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from test_labels_data import THRESHOLDS, make_coco, make_voc, stem


def _by_check(lab: imgstats.Labels) -> dict[str, set[tuple[str, int | None]]]:
    out: dict[str, set[tuple[str, int | None]]] = {}
    for r in lab.problems.iter_rows(named=True):
        key = r["split"] if r["check"] == "background_share" else stem(r["path"])
        out.setdefault(r["check"], set()).add((key, r["line"]))
    return out


# ------------------------------------------------------------------------------------------ COCO


@pytest.fixture(scope="module")
def coco_planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_coco(tmp_path_factory.mktemp("coco_planted"))


def _line_of(json_path: Path, pred) -> int:
    anns = json.loads(json_path.read_text())["annotations"]
    return next(i + 1 for i, a in enumerate(anns) if pred(a))


def test_coco_planted_problems(coco_planted: Path) -> None:
    lab = imgstats.labels(coco_planted, thresholds=THRESHOLDS)
    assert lab.format == "coco" and lab.names == ["car", "person"]
    dup_line = max(
        i + 1
        for i, a in enumerate(json.loads(coco_planted.read_text())["annotations"])
        if a["image_id"] == 107 and a["category_id"] == 3
    )
    expected = {
        "empty_label_file": {("c01", None)},
        "unreadable_image": {("c02", None)},
        "parse_error": {("c05", 3), ("", 4)},
        "class_out_of_range": {("c03", _line_of(coco_planted, lambda a: a["category_id"] == 99))},
        "degenerate_box": {("c04", _line_of(coco_planted, lambda a: a["bbox"][2:] == [0, 10]))},
        "out_of_bounds": {("c05", _line_of(coco_planted, lambda a: a["bbox"][0] == 180))},
        "duplicate_box": {("c07", dup_line)},
        "background_share": {("train", None)},
    }
    assert _by_check(lab) == expected
    st = dict(lab.images.select(pl.col("path").map_elements(stem, pl.Utf8), "status").iter_rows())
    assert st["c01"] == "background" and st["c02"] == "unreadable" and st["c00"] == "labelled"
    oob = lab.problems.filter(pl.col("check") == "out_of_bounds").get_column("detail")[0]
    assert oob == "extends 10.0 px past the right edge"
    crowd = lab.boxes.filter(pl.col("iscrowd"))
    assert crowd.height == 1 and crowd.get_column("path")[0].endswith("c06.jpg")


def test_coco_clean_matches_pycocotools(tmp_path: Path) -> None:
    coco_mod = pytest.importorskip("pycocotools.coco")
    path = make_coco(tmp_path, planted=False)
    lab = imgstats.labels(path, thresholds=THRESHOLDS)
    assert lab.problems.height == 0, lab.problems
    ref = coco_mod.COCO(str(path))
    cat_names = {c["id"]: c["name"] for c in ref.loadCats(ref.getCatIds())}
    n = 0
    for img in ref.loadImgs(ref.getImgIds()):
        anns = ref.loadAnns(ref.getAnnIds(imgIds=img["id"]))
        mine = lab.boxes.filter(pl.col("path").str.ends_with(img["file_name"])).sort("line")
        want = np.array([[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)])
        np.testing.assert_allclose(mine.select("x0", "y0", "x1", "y1").to_numpy(), want)
        assert mine.get_column("class").to_list() == [cat_names[a["category_id"]] for a in anns]
        n += len(anns)
    assert lab.boxes.height == n


def test_coco_matches_supervision(tmp_path: Path) -> None:
    sv = pytest.importorskip("supervision")
    path = make_coco(tmp_path, planted=False)
    lab = imgstats.labels(path)
    ds = sv.DetectionDataset.from_coco(str(tmp_path / "train"), str(path))
    assert ds.classes == lab.names
    for img_path, _image, det in ds:
        mine = lab.boxes.filter(pl.col("path") == os.path.normpath(img_path)).sort("line")
        np.testing.assert_allclose(
            mine.select("x0", "y0", "x1", "y1").to_numpy(), det.xyxy, atol=1e-3
        )
        assert mine.get_column("class_id").to_list() == det.class_id.tolist()


def test_coco_not_json_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        imgstats.labels(bad)
    bad.write_text('{"foo": 1}')
    with pytest.raises(ValueError, match="not a COCO"):
        imgstats.labels(bad)


# ------------------------------------------------------------------------------------------- VOC


def test_voc_planted_problems(tmp_path: Path) -> None:
    lab = imgstats.labels(make_voc(tmp_path), thresholds=THRESHOLDS)
    assert lab.format == "voc" and lab.names == ["car", "person"]
    expected = {
        "missing_label_file": {("v01", None)},
        "empty_label_file": {("v02", None)},
        "parse_error": {("", 3), ("v04", 3)},
        "background_share": {("train", None)},
    }
    assert _by_check(lab) == expected
    v03 = lab.problems.filter(pl.col("line") == 3, pl.col("path").is_null()).row(0, named=True)
    assert v03["label_file"].endswith("v03.xml") and "unclosed token" in v03["detail"]
    # v04's two good objects are still read.
    assert lab.boxes.filter(pl.col("path").str.ends_with("v04.jpg")).height == 2
    v05 = lab.boxes.filter(pl.col("path").str.ends_with("v05.jpg")).sort("line")
    assert v05.select("difficult", "truncated", "occluded").rows() == [
        (True, True, True),
        (False, False, False),
    ]
    splits = dict(
        lab.images.select(pl.col("path").map_elements(stem, pl.Utf8), "split").iter_rows()
    )
    assert splits["v00"] == "train" and splits["v07"] == "val"


def test_voc_clean_matches_supervision(tmp_path: Path) -> None:
    sv = pytest.importorskip("supervision")
    root = make_voc(tmp_path, planted=False)
    lab = imgstats.labels(root, thresholds=THRESHOLDS)
    assert lab.problems.height == 0, lab.problems
    ds = sv.DetectionDataset.from_pascal_voc(str(root / "JPEGImages"), str(root / "Annotations"))
    assert sorted(ds.classes) == lab.names
    n = 0
    for img_path, _image, det in ds:
        mine = lab.boxes.filter(pl.col("path") == os.path.normpath(img_path)).sort("line")
        np.testing.assert_allclose(mine.select("x0", "y0", "x1", "y1").to_numpy(), det.xyxy)
        assert mine.get_column("class").to_list() == [ds.classes[c] for c in det.class_id]
        n += len(det)
    assert lab.boxes.height == n


def test_empty_datasets_do_not_crash(tmp_path: Path) -> None:
    (tmp_path / "y" / "images" / "train").mkdir(parents=True)
    (tmp_path / "y" / "data.yaml").write_text("train: images/train\nnames: [a]\n")
    (tmp_path / "c.json").write_text('{"images": [], "annotations": [], "categories": []}')
    (tmp_path / "v" / "Annotations").mkdir(parents=True)
    for src in (tmp_path / "y" / "data.yaml", tmp_path / "c.json", tmp_path / "v"):
        lab = imgstats.labels(src)
        assert lab.images.height == 0 and lab.boxes.height == 0
        lab.class_stats(), lab.box_stats(), lab.split_stats(), lab.objects()
        assert imgstats.scan(lab).height == 0
    yolo = imgstats.labels(tmp_path / "y" / "data.yaml")
    assert (
        yolo.problems.filter(pl.col("check") == "parse_error")
        .get_column("detail")[0]
        .startswith("no images in")
    )
