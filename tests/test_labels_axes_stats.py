"""Object axes against brute force (occlusion share by pixel rasterisation), statistics against
hand counts, and `coverage(..., labels=)` counting objects with background as its own row."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.labels.axes import covered_share
from test_labels_data import THRESHOLDS, make_yolo


def _brute_share(boxes: np.ndarray, size: int) -> np.ndarray:
    """Share of each integer box's pixels covered by the union of the other boxes."""
    out = np.zeros(len(boxes))
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        canvas = np.zeros((size, size), bool)
        for j, (a0, b0, a1, b1) in enumerate(boxes):
            if j != i:
                canvas[b0:b1, a0:a1] = True
        out[i] = canvas[y0:y1, x0:x1].mean()
    return out


def test_occlusion_share_matches_rasterisation() -> None:
    rng = np.random.default_rng(0)
    rows, want = [], []
    for img in range(40):
        n = int(rng.integers(1, 9))
        x0 = rng.integers(0, 180, n)
        y0 = rng.integers(0, 180, n)
        w = rng.integers(1, 100, n)
        h = rng.integers(1, 100, n)
        b = np.stack([x0, y0, x0 + w, y0 + h], 1)
        want.append(_brute_share(b, 300))
        rows += [
            {"path": f"i{img}", "split": None, "x0": a, "y0": c, "x1": e, "y1": d}
            for a, c, e, d in b.tolist()
        ]
    df = pl.DataFrame(rows, schema_overrides={"split": pl.Utf8}).with_columns(
        pl.col(c).cast(pl.Float64) for c in ("x0", "y0", "x1", "y1")
    )
    got = covered_share(df)
    ref = np.concatenate(want)
    assert (ref > 0).sum() > 30 and (ref == 1).sum() > 0  # the test covers partial and full
    # A 32 x 32 sample grid: the error is bounded by the grid rows/columns an edge crosses
    # (measured here: max 0.028, mean 0.004 over 60 images of random boxes).
    np.testing.assert_allclose(got, ref, atol=0.05)
    assert np.abs(got - ref).mean() < 0.01


def test_occlusion_share_exact_cases() -> None:
    df = pl.DataFrame(
        {
            "path": ["a"] * 4 + ["b"],
            "split": [None] * 5,
            "x0": [0.0, 0.0, 50.0, 200.0, 0.0],
            "y0": [0.0, 0.0, 0.0, 200.0, 0.0],
            "x1": [100.0, 50.0, 100.0, 210.0, 100.0],
            "y1": [100.0, 100.0, 100.0, 210.0, 100.0],
        },
        schema_overrides={"split": pl.Utf8},
    )
    # Box 0 is covered by the union of boxes 1 and 2 (each half): 1.0, though neither alone
    # covers more than half -- the union, not the largest single overlap. Box 3 is alone;
    # box 4 is in another image.
    np.testing.assert_allclose(covered_share(df), [1.0, 1.0, 1.0, 0.0, 0.0])


@dataclass
class FakeLabels:
    """A Labels-like object: the axes accept anything with these frames (the shared contract)."""

    images: pl.DataFrame
    boxes: pl.DataFrame
    names: list[str]
    imgsz: int = 640


def _fake() -> FakeLabels:
    images = pl.DataFrame(
        {
            "path": ["a.jpg", "b.jpg", "c.jpg"],
            "split": ["train", "train", "val"],
            "status": ["labelled", "labelled", "background"],
            "n_boxes": [2, 1, 0],
            "width": [1280, 320, 640],
            "height": [640, 320, 480],
        },
        schema_overrides={"n_boxes": pl.UInt32, "width": pl.UInt32, "height": pl.UInt32},
    )
    boxes = pl.DataFrame(
        {
            "path": ["a.jpg", "a.jpg", "b.jpg"],
            "split": ["train", "train", "train"],
            "class": ["car", "car", "dog"],
            "class_id": [0, 0, 1],
            # a.jpg: scale 0.5 at 640; box 0 is 20x20 px -> 10 px (small); box 1 (0..1280 wide)
            # touches the border and covers box 0 fully; b.jpg: scale 2: 3x3 px -> 6 px (tiny).
            "x0": [100.0, 0.0, 10.0],
            "y0": [100.0, 50.0, 10.0],
            "x1": [120.0, 1280.0, 13.0],
            "y1": [120.0, 200.0, 13.0],
            "line": [1, 2, 1],
            "is_polygon": [False] * 3,
            "occluded": [None, None, True],
            "truncated": [None] * 3,
            "difficult": [None] * 3,
            "iscrowd": [None] * 3,
        },
        schema_overrides={c: pl.Boolean for c in ("occluded", "truncated", "difficult", "iscrowd")},
    )
    return FakeLabels(images, boxes, ["car", "dog"])


def test_object_axes_on_a_labels_like_object() -> None:
    from imgstats.labels.axes import object_axes

    obj = object_axes(_fake())
    assert obj.get_column("box_size").to_list() == pytest.approx(
        [10.0, np.sqrt(1280 * 150) * 0.5, 6.0]
    )
    assert obj.get_column("object_size").to_list() == ["small", "large", "tiny"]
    # Box 0 fully covered (heavy); box 1 has 400 of 192,000 px covered (none); the dog has no
    # neighbour but the dataset flags it occluded (partial).
    assert obj.get_column("occlusion").to_list() == ["heavy", "none", "partial"]
    assert obj.get_column("truncation").to_list() == ["none", "truncated", "none"]
    assert obj.get_column("crowding").to_list() == ["2-5", "2-5", "1"]


def test_class_and_split_stats_by_hand(tmp_path: Path) -> None:
    lab = imgstats.labels(make_yolo(tmp_path), thresholds=THRESHOLDS)
    cs = lab.class_stats()
    # Every named class in every split, zeros included.
    assert (
        cs.filter(pl.col("split") == "val", pl.col("class") == "dog").row(0, named=True)["objects"]
        == 0
    )
    for r in cs.iter_rows(named=True):
        sub = lab.boxes.filter(pl.col("split") == r["split"], pl.col("class") == r["class"])
        assert r["objects"] == sub.height
        assert r["images"] == sub.get_column("path").n_unique()
    ss = lab.split_stats()
    train = ss.filter(pl.col("split") == "train").row(0, named=True)
    assert (train["labelled"], train["background"], train["unlabelled"], train["unreadable"]) == (
        13,
        1,
        1,
        1,
    )
    assert train["background_share"] == pytest.approx(1 / 14)
    per_class = lab.boxes.filter(pl.col("split") == "train").group_by("class").len()
    counts = per_class.get_column("len")
    assert train["imbalance_ratio"] == pytest.approx(counts.max() / counts.min())
    bs = lab.box_stats()
    car = bs.filter(pl.col("split") == "val", pl.col("class") == "car").row(0, named=True)
    # Val cars are 0.2 x 0.2 of a 200 x 150 image: 40 x 30 px, x3.2 at imgsz 640.
    assert car["w_p50"] == pytest.approx(128.0) and car["h_p50"] == pytest.approx(96.0)
    assert car["aspect_p50"] == pytest.approx(40 / 30)


def test_coverage_counts_objects_with_background_row(tmp_path: Path) -> None:
    lab = imgstats.labels(make_yolo(tmp_path), thresholds=THRESHOLDS)
    df = imgstats.scan(lab, metrics=["exif", "brightness"])
    cov = imgstats.coverage(df, by="class", labels=lab)
    totals = dict(cov.select("class", "by_total").unique().iter_rows())
    objects = dict(lab.boxes.group_by("class").len().iter_rows())
    assert totals["(background)"] == 1
    for cls, n in objects.items():
        assert totals[cls] == n
    axes = cov.get_column("axis").unique().to_list()
    assert {"object_size", "occlusion", "truncation", "crowding", "lighting"} <= set(axes)
    # Background has no object axes (so gaps never asks to collect "background x tiny").
    bg = cov.filter(pl.col("class") == "(background)")
    assert not set(bg.get_column("axis")) & {"object_size", "occlusion", "truncation", "crowding"}
    sizes = cov.filter(pl.col("axis") == "object_size", pl.col("class") == "person")
    assert sizes.get_column("count").sum() == objects["person"]
    g = imgstats.gaps(cov, min_count=2)
    assert g.filter(pl.col("class") == "(background)", pl.col("axis") == "object_size").height == 0
    # Only the object axes asked for.
    cov2 = imgstats.coverage(df, by="class", labels=lab, axes=["occlusion", "lighting"])
    assert cov2.get_column("axis").unique().sort().to_list() == ["lighting", "occlusion"]


def test_coverage_joins_a_scan_spelled_differently(tmp_path: Path, monkeypatch) -> None:
    data = make_yolo(tmp_path / "ds", planted=False)
    data.write_text("path: .\ntrain: images/train\nval: images/val\nnames: [car, person]\n")
    monkeypatch.chdir(tmp_path)
    lab = imgstats.labels("ds/data.yaml")  # relative paths
    assert not lab.images.get_column("path")[0].startswith("/")
    df = imgstats.scan(str(tmp_path / "ds" / "images"), metrics=["brightness"])  # absolute
    cov = imgstats.coverage(df, by="class", labels=lab, axes=["lighting"])
    assert cov.filter(pl.col("bucket") == "unknown").get_column("count").sum() == 0
    assert cov.get_column("count").sum() == lab.boxes.height


def test_image_stats_by_hand() -> None:
    from imgstats.labels.stats import image_stats

    st = {r["path"]: r for r in image_stats(_fake()).iter_rows(named=True)}
    # a.jpg: box 0 (20 x 20 = 400 px) lies inside box 1 (1280 x 150): IoU 400 / 192,000.
    assert st["a.jpg"]["max_iou"] == pytest.approx(400 / 192_000)
    assert st["a.jpg"]["overlapping_pairs"] == 1 and st["a.jpg"]["classes"] == 1
    assert st["a.jpg"]["max_occlusion"] == pytest.approx(1.0)
    assert st["a.jpg"]["truncated"] == 1
    assert st["b.jpg"]["max_iou"] is None and st["b.jpg"]["n_boxes"] == 1
    assert st["c.jpg"]["status"] == "background" and st["c.jpg"]["n_boxes"] == 0
    assert st["c.jpg"]["classes"] == 0 and st["c.jpg"]["max_occlusion"] is None
