"""`imgstats.results`: detections scored against labels, checked prediction by prediction against
pycocotools' COCOeval (IoU 0.5, one area range covering everything, no detection cap), plus the
YOLO / COCO readers and the classification path.

The labels are small `Labels`-like objects (``.images``, ``.boxes``, ``.names``) built here, as
the shared contract allows, so these tests do not depend on the labels parser.
"""

from __future__ import annotations

import contextlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.matching import Matches, match_boxes
from imgstats.results import results

pycocotools = pytest.importorskip("pycocotools")
from pycocotools.coco import COCO  # noqa: E402
from pycocotools.cocoeval import COCOeval  # noqa: E402

NAMES = ["car", "person", "bike"]
SIZE = 100  # every synthetic image is SIZE x SIZE pixels


@dataclass
class FakeLabels:
    """The shared Labels contract, nothing more."""

    images: pl.DataFrame
    boxes: pl.DataFrame
    names: list[str] = field(default_factory=lambda: list(NAMES))
    imgsz: int = 640
    root: str = ""


def random_scene(
    seed: int, n_img: int = 150, crowded: bool = False
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Ground truth and predictions with crowd and difficult boxes. ``crowded``: boxes overlap
    and several predictions chase each object, so the greedy order matters."""
    rng = np.random.default_rng(seed)
    gts, preds = [], []
    spread, jitter = (25, 2.5) if crowded else (80, 4.0)
    for img in range(n_img):
        for _ in range(int(rng.integers(0, 9))):
            x, y = rng.uniform(0, spread, 2)
            w, h = rng.uniform(5, 30, 2)
            c = int(rng.integers(0, 3))
            crowd, difficult = bool(rng.random() < 0.1), bool(rng.random() < 0.1)
            gts.append((img, c, x, y, x + w, y + h, crowd, difficult))
            for _ in range(int(rng.integers(0, 4 if crowded else 3))):
                j = rng.normal(0, jitter, 4)
                cls = c if rng.random() < 0.85 else int(rng.integers(0, 3))
                box = sorted((x + j[0], x + w + j[2])) + sorted((y + j[1], y + h + j[3]))
                preds.append((img, cls, box[0], box[2], box[1], box[3], float(rng.random())))
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.uniform(0, 80, 2)
            w, h = rng.uniform(5, 20, 2)
            preds.append((img, int(rng.integers(0, 3)), x, y, x + w, y + h, float(rng.random())))
    gt = pl.DataFrame(
        gts,
        schema=["image", "class_id", "x0", "y0", "x1", "y1", "iscrowd", "difficult"],
        orient="row",
    )
    pred = pl.DataFrame(
        preds, schema=["image", "class_id", "x0", "y0", "x1", "y1", "score"], orient="row"
    )
    return gt, pred


def coco_reference(
    gt: pl.DataFrame, pred: pl.DataFrame, n_img: int, iou: float = 0.5
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """COCOeval's decisions: per prediction status and matched gt row; per gt matched/ignored.

    Difficult (non-crowd ignore) boxes are expressed COCO's way: an ``area`` outside the area
    range marks ground truth ignored without making it a crowd region.
    """
    anns = []
    for i, r in enumerate(gt.iter_rows(named=True)):
        w, h = r["x1"] - r["x0"], r["y1"] - r["y0"]
        hidden = r["difficult"] and not r["iscrowd"]
        anns.append(
            {
                "id": i + 1,
                "image_id": r["image"],
                "category_id": r["class_id"],
                "bbox": [r["x0"], r["y0"], w, h],
                "area": 1e12 if hidden else w * h,
                "iscrowd": int(r["iscrowd"]),
            }
        )
    dataset = {
        "images": [{"id": i} for i in range(n_img)],
        "categories": [{"id": c} for c in range(len(NAMES))],
        "annotations": anns,
    }
    dets = [
        {
            "image_id": r["image"],
            "category_id": r["class_id"],
            "bbox": [r["x0"], r["y0"], r["x1"] - r["x0"], r["y1"] - r["y0"]],
            "score": r["score"],
        }
        for r in pred.iter_rows(named=True)
    ]
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = dataset
        coco.createIndex()
        ev = COCOeval(coco, coco.loadRes(dets), "bbox")
        ev.params.iouThrs = np.array([iou])
        ev.params.maxDets = [10**6]
        ev.params.areaRng = [[0, 1e11]]
        ev.params.areaRngLbl = ["all"]
        ev.evaluate()
    status = np.full(pred.height, "?", dtype=object)
    pred_gt = np.full(pred.height, -1)
    gt_hit = np.zeros(gt.height, dtype=bool)
    gt_ignored = np.zeros(gt.height, dtype=bool)
    for e in ev.evalImgs:
        if e is None:
            continue
        # loadRes numbers detections 1..n in input order; annotation ids are rows + 1.
        for j, d in enumerate(e["dtIds"]):
            m = int(e["dtMatches"][0, j])
            status[d - 1] = "ignored" if e["dtIgnore"][0, j] else ("tp" if m else "fp")
            pred_gt[d - 1] = m - 1 if m else -1
        for j, g in enumerate(e["gtIds"]):
            gt_hit[g - 1] = e["gtMatches"][0, j] > 0
            gt_ignored[g - 1] = bool(e["gtIgnore"][j])
    return status, pred_gt, gt_hit, gt_ignored


def as_labels(gt: pl.DataFrame, n_img: int) -> FakeLabels:
    paths = [f"/data/images/val/img{i:04d}.jpg" for i in range(n_img)]
    images = pl.DataFrame(
        {
            "path": paths,
            "split": ["val"] * n_img,
            "label_file": [p.replace("images", "labels")[:-4] + ".txt" for p in paths],
            "status": ["labelled"] * n_img,
            "n_boxes": [0] * n_img,
            "width": [SIZE] * n_img,
            "height": [SIZE] * n_img,
        }
    )
    boxes = gt.with_columns(
        pl.col("image").map_elements(lambda i: paths[i], return_dtype=pl.Utf8).alias("path"),
        pl.lit("val").alias("split"),
        pl.col("class_id").replace_strict(list(range(3)), NAMES).alias("class"),
        pl.int_range(pl.len()).alias("line"),
        pl.lit(False).alias("is_polygon"),
        pl.lit(None, pl.Boolean).alias("occluded"),
        pl.lit(None, pl.Boolean).alias("truncated"),
    ).drop("image")
    return FakeLabels(images, boxes)


def write_yolo(pred: pl.DataFrame, directory: Path, stems: list[str]) -> None:
    """Ultralytics ``save_txt save_conf`` layout: one file per image with detections."""
    directory.mkdir(parents=True, exist_ok=True)
    for (img,), rows in pred.with_row_index("_i").group_by("image", maintain_order=True):
        lines = []
        for r in rows.sort("_i").iter_rows(named=True):
            cx, cy = (r["x0"] + r["x1"]) / 2 / SIZE, (r["y0"] + r["y1"]) / 2 / SIZE
            w, h = (r["x1"] - r["x0"]) / SIZE, (r["y1"] - r["y0"]) / SIZE
            lines.append(f"{r['class_id']} {cx!r} {cy!r} {w!r} {h!r} {r['score']!r}")
        (directory / f"{stems[img]}.txt").write_text("\n".join(lines) + "\n")


def match(gt: pl.DataFrame, pred: pl.DataFrame, iou: float) -> Matches:
    """`match_boxes` on a scene: crowd and difficult boxes are the ignored ones."""
    ignore = (pl.col("iscrowd") | pl.col("difficult")).alias("ignore")
    cols = ["image", "class_id", "x0", "y0", "x1", "y1"]
    return match_boxes(gt.select(*cols, ignore, pl.col("iscrowd").alias("crowd")), pred, iou)


@pytest.mark.parametrize("crowded", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matching_equals_cocoeval(seed: int, crowded: bool) -> None:
    gt, pred = random_scene(seed, crowded=crowded)
    m = match(gt, pred, 0.5)
    status, pred_gt, gt_hit, gt_ignored = coco_reference(gt, pred, 150)
    assert set(status) <= {"tp", "fp", "ignored"}
    np.testing.assert_array_equal(m.pred_status, status)
    np.testing.assert_array_equal(m.pred_gt, pred_gt)
    np.testing.assert_array_equal((m.gt_pred >= 0)[~gt_ignored], gt_hit[~gt_ignored])
    # The scene exercises every branch: matches, misses, crowd and difficult absorptions.
    counts = dict(zip(*np.unique(status, return_counts=True)))
    assert min(counts.values()) > 20, counts


@pytest.mark.parametrize("iou", [0.3, 0.75])
def test_matching_other_thresholds(iou: float) -> None:
    gt, pred = random_scene(5, crowded=True)
    m = match(gt, pred, iou)
    status, pred_gt, _, _ = coco_reference(gt, pred, 150, iou=iou)
    np.testing.assert_array_equal(m.pred_status, status)
    np.testing.assert_array_equal(m.pred_gt, pred_gt)


def test_yolo_folder_scored_like_cocoeval(tmp_path: Path) -> None:
    gt, pred = random_scene(3)
    lab = as_labels(gt, 150)
    stems = [Path(p).stem for p in lab.images["path"]]
    write_yolo(pred, tmp_path / "predict" / "labels", stems)
    res = results(tmp_path / "predict", lab)
    status, _, gt_hit, gt_ignored = coco_reference(gt, pred, 150)
    assert res.kind == "detection" and res.problems.height == 0
    # Files are read in image order and lines in file order: the same row order as `pred`.
    order = pred.with_row_index("_i").sort("image", maintain_order=True)["_i"].to_numpy()
    np.testing.assert_array_equal(res.predictions["status"].to_numpy(), status[order])
    np.testing.assert_array_equal(res.objects["ignored"].to_numpy(), gt_ignored)
    np.testing.assert_array_equal(
        res.objects["matched"].to_numpy()[~gt_ignored], gt_hit[~gt_ignored]
    )
    # Per image counts are the per-object / per-prediction counts grouped by image.
    img = res.images.sort("path")
    exp_missed = res.objects.filter(~pl.col("ignored") & ~pl.col("matched")).group_by("path").len()
    joined = img.join(exp_missed, on="path", how="left").with_columns(pl.col("len").fill_null(0))
    assert (joined["n_missed"] == joined["len"]).all()
    s = res.summary()
    assert s["tp"] == int((status == "tp").sum()) and s["fp"] == int((status == "fp").sum())
    assert s["objects"] == int((~gt_ignored).sum())
    assert s["recall"] == pytest.approx(gt_hit[~gt_ignored].mean())
    assert img["n_fp"].sum() == s["fp"] and img["n_matched"].sum() == s["matched"]


def test_yolo_bad_input_becomes_problem_rows(tmp_path: Path) -> None:
    gt, pred = random_scene(4, n_img=6)
    lab = as_labels(gt, 6)
    stems = [Path(p).stem for p in lab.images["path"]]
    d = tmp_path / "labels"
    write_yolo(pred, d, stems)
    good = results(d, lab).predictions.height
    (d / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    with open(d / f"{stems[0]}.txt", "a") as f:
        f.write("0 0.5 0.5 0.1\n")  # line: too short
        f.write("1 0.5 0.5 0.1 0.1\n")  # no confidence column
        f.write("x 0.5 0.5 0.1 0.1 0.9\n")  # not a number
        f.write("0 0.5 0.5 0.0 0.1 0.9\n")  # no area
        f.write("\n")
    res = results(d, lab)
    assert res.predictions.height == good
    probs = res.problems.sort("problem")
    assert probs.height == 5
    text = " | ".join(probs["problem"].to_list())
    for expected in (
        "box has no area",
        "expected 'class cx cy w h conf', got 4 values",
        "no confidence column",
        "not a number",
        "prediction file without image: no labelled image with stem 'orphan'",
    ):
        assert expected in text
    # Problem rows name the file and the 1-based line.
    n_lines = len((d / f"{stems[0]}.txt").read_text().splitlines())
    lines = sorted(probs.filter(pl.col("line").is_not_null())["line"].to_list())
    assert lines == [n_lines - 4, n_lines - 3, n_lines - 2, n_lines - 1]


def test_yolo_repeated_stems_match_by_relative_path(tmp_path: Path) -> None:
    images = pl.DataFrame(
        {
            "path": ["/d/images/train/a.jpg", "/d/images/val/a.jpg"],
            "split": ["train", "val"],
            "status": ["labelled", "labelled"],
            "width": [100, 100],
            "height": [100, 100],
        }
    )
    boxes = pl.DataFrame(
        {
            "path": ["/d/images/train/a.jpg", "/d/images/val/a.jpg"],
            "class_id": [0, 0],
            "class": ["car", "car"],
            "x0": [10.0, 60.0],
            "y0": [10.0, 60.0],
            "x1": [30.0, 80.0],
            "y1": [30.0, 80.0],
        }
    )
    lab = FakeLabels(images, boxes)
    (tmp_path / "val").mkdir()
    (tmp_path / "train").mkdir()
    (tmp_path / "val" / "a.txt").write_text("0 0.7 0.7 0.2 0.2 0.9\n")
    (tmp_path / "train" / "a.txt").write_text("0 0.7 0.7 0.2 0.2 0.9\n")
    (tmp_path / "a.txt").write_text("0 0.7 0.7 0.2 0.2 0.9\n")
    res = results(tmp_path, lab)
    by_path = dict(res.predictions.select("path", "status").iter_rows())
    assert by_path == {"/d/images/val/a.jpg": "tp", "/d/images/train/a.jpg": "fp"}
    assert res.problems["problem"].to_list() == [
        "prediction file without image: ambiguous: 2 images share the stem 'a'"
    ]


def test_coco_results_json(tmp_path: Path) -> None:
    gt, pred = random_scene(6, n_img=40)
    lab = as_labels(gt, 40)
    # COCO ids are not row numbers; category ids are not class indices.
    ids = {i: 1000 + 7 * i for i in range(40)}
    cat_ids = {0: 3, 1: 1, 2: 18}
    gt_json = {
        "images": [
            {"id": ids[i], "file_name": Path(p).name} for i, p in enumerate(lab.images["path"])
        ],
        "categories": [{"id": cat_ids[c], "name": NAMES[c]} for c in range(3)],
        "annotations": [],
    }
    (tmp_path / "gt.json").write_text(json.dumps(gt_json))
    dets = [
        {
            "image_id": ids[r["image"]],
            "category_id": cat_ids[r["class_id"]],
            "bbox": [r["x0"], r["y0"], r["x1"] - r["x0"], r["y1"] - r["y0"]],
            "score": r["score"],
        }
        for r in pred.iter_rows(named=True)
    ]
    dets.append({"image_id": 5, "category_id": 3, "bbox": [1, 1, 5, 5], "score": 0.5})
    dets.append({"image_id": ids[0], "category_id": 99, "bbox": [1, 1, 5, 5], "score": 0.5})
    dets.append({"image_id": ids[0], "category_id": 3, "bbox": [1, 1], "score": 0.5})
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    res = results(tmp_path / "dets.json", lab, image_ids=tmp_path / "gt.json")
    status, _, _, _ = coco_reference(gt, pred, 40)
    np.testing.assert_array_equal(res.predictions["status"].to_numpy(), status)
    assert res.problems.height == 3
    assert res.problems["line"].to_list() == [len(dets) - 2, len(dets) - 1, len(dets)]


def test_conf_threshold_and_frames(tmp_path: Path) -> None:
    gt, pred = random_scene(7, n_img=30)
    lab = as_labels(gt, 30)
    paths = lab.images["path"].to_list()
    frame = pred.with_columns(
        pl.col("image").map_elements(lambda i: paths[i], return_dtype=pl.Utf8).alias("path")
    ).drop("image")
    res = results(frame, lab, conf=0.5)
    assert res.predictions["score"].min() >= 0.5
    kept = pred.filter(pl.col("score") >= 0.5)
    status, _, _, _ = coco_reference(gt, kept, 30)
    np.testing.assert_array_equal(res.predictions["status"].to_numpy(), status)


def test_unlabelled_and_background_images() -> None:
    images = pl.DataFrame(
        {
            "path": ["bg.jpg", "none.jpg", "broken.jpg"],
            "status": ["background", "unlabelled", "unreadable"],
            "width": [100, 100, None],
            "height": [100, 100, None],
        }
    )
    boxes = pl.DataFrame(
        schema={"path": pl.Utf8, "class_id": pl.Int64, "class": pl.Utf8}
        | {c: pl.Float64 for c in ("x0", "y0", "x1", "y1")}
    )
    lab = FakeLabels(images, boxes)
    frame = pl.DataFrame(
        {
            "path": ["bg.jpg", "none.jpg", "elsewhere.jpg"],
            "class_id": [0, 0, 0],
            "x0": [1.0] * 3,
            "y0": [1.0] * 3,
            "x1": [9.0] * 3,
            "y1": [9.0] * 3,
            "score": [0.9] * 3,
        }
    )
    res = results(frame, lab)
    assert res.predictions["status"].to_list() == ["fp"]  # a background image's box is an FP
    assert res.images["path"].to_list() == ["bg.jpg"]
    assert res.images["recall"].to_list() == [None] and res.images["n_fp"].to_list() == [1]
    assert sorted(res.problems["problem"].to_list()) == [
        "prediction for an image that is not in the labels",
        "prediction on an image whose labels are unlabelled: not scored",
    ]


def test_classification_frames(tmp_path: Path) -> None:
    csv = tmp_path / "res.csv"
    csv.write_text("path,correct,loss\na.jpg,1,0.1\nb.jpg,0,2.0\nb.jpg,1,0.3\nc.jpg,maybe,0.2\n")
    with pytest.raises(ValueError, match="true/false or 1/0"):
        results(csv)
    csv.write_text("path,correct,loss\na.jpg,1,0.1\nb.jpg,0,2.0\nb.jpg,1,0.3\nc.jpg,TRUE,0.2\n")
    res = results(csv)
    assert res.kind == "classification"
    assert res.images["correct"].to_list() == [True, False, True]
    assert res.problems["problem"].to_list() == ["duplicate path: kept the first row"]
    assert res.summary()["accuracy"] == pytest.approx(2 / 3)


def test_detections_need_labels(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("0 0.5 0.5 0.1 0.1 0.9\n")
    with pytest.raises(ValueError, match="needs the ground truth"):
        results(tmp_path)
    with pytest.raises(FileNotFoundError):
        results(tmp_path / "missing")


def test_no_predictions_at_all(tmp_path: Path) -> None:
    gt, _ = random_scene(8, n_img=10)
    lab = as_labels(gt, 10)
    (tmp_path / "preds").mkdir()
    (tmp_path / "empty.json").write_text("[]")
    for source in (tmp_path / "preds", tmp_path / "empty.json"):
        res = results(source, lab)
        assert res.predictions.height == 0 and res.problems.height == 0
        assert not res.objects["matched"].any()
        assert res.images["n_missed"].sum() == int((~res.objects["ignored"]).sum())
