"""`imgstats.slices`: the issue's validation (a synthetic model with planted failures is found
exactly, a model with random misses flags nothing), the statistics against SciPy, `to_label`,
the report section and the `imgstats slices` command.

The planted model: recall 0.5 for every object at night, and in daylight 0.3 for small occluded
objects and 0.9 for the rest. The cells that must stand on their own (``primary``) are exactly
``lighting=dark`` and ``object_size=small & occlusion=occluded``; every other flagged slice must
say which of those explains it.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import polars as pl
import pytest
from imgstats.results import results
from imgstats.slices import slices
from scipy import stats

NAMES = ["car", "person"]
SIZES = {"small": 8, "medium": 20, "large": 34}
W, H, CELL = 160, 120, 40
PLANTED = {("lighting", "dark", None, None), ("object_size", "small", "occlusion", "occluded")}


def labels_like(images: pl.DataFrame, boxes: pl.DataFrame) -> SimpleNamespace:
    """Any object with the Labels contract's attributes will do (issue 10's object axes are
    columns of ``boxes`` here)."""
    return SimpleNamespace(images=images, boxes=boxes, names=list(NAMES), imgsz=640, root="")


def recall_of(night: bool, size: str, occluded: bool, model: str) -> float:
    if model == "random":
        return 0.7
    if night:
        return 0.5
    return 0.3 if (size == "small" and occluded) else 0.9


def world(
    seed: int,
    n_img: int = 600,
    model: str = "planted",
    paths: list[str] | None = None,
    night: np.ndarray | None = None,
) -> tuple[pl.DataFrame, SimpleNamespace, pl.DataFrame, np.ndarray]:
    """A scan-like frame, labels, detections of a synthetic model, and each object's true recall.

    Objects sit in a 4x3 grid of 40 px cells (so boxes never overlap); a detected object gets a
    box within half a pixel of the truth; about 30% of images get one false positive in an empty
    cell. ``site`` is a user axis with no effect.
    """
    rng = np.random.default_rng(seed)
    paths = paths or [f"/virtual/img{i:04d}.png" for i in range(n_img)]
    n_img = len(paths)
    night = rng.random(n_img) < 0.5 if night is None else night
    df = pl.DataFrame(
        {
            "path": paths,
            "brightness": np.where(night, 20.0, 120.0) + rng.normal(0, 5, n_img),
            "width": [W] * n_img,
            "height": [H] * n_img,
            "site": rng.choice(["a", "b", "c"], n_img),
        }
    )
    gts, preds, truth = [], [], []
    for i in range(n_img):
        cells = rng.choice(12, int(rng.integers(3, 8)), replace=False)
        for c in cells:
            size = str(rng.choice(list(SIZES)))
            occ = bool(rng.random() < 0.5)
            cls = int(rng.integers(0, 2))
            half = SIZES[size] / 2
            cx, cy = (c % 4) * CELL + CELL / 2, (c // 4) * CELL + CELL / 2
            box = (cx - half, cy - half, cx + half, cy + half)
            p = recall_of(bool(night[i]), size, occ, model)
            gts.append(
                (paths[i], cls, NAMES[cls], *box, size, "occluded" if occ else "visible", occ)
            )
            truth.append(p)
            if rng.random() < p:
                j = rng.uniform(-0.5, 0.5, 4)
                preds.append(
                    (paths[i], cls, *(b + d for b, d in zip(box, j)), float(rng.uniform(0.3, 1)))
                )
        free = sorted(set(range(12)) - set(cells.tolist()))
        if rng.random() < 0.3 and free:
            cx, cy = (free[0] % 4) * CELL + CELL / 2, (free[0] // 4) * CELL + CELL / 2
            preds.append((paths[i], int(rng.integers(0, 2)), cx - 5, cy - 5, cx + 5, cy + 5, 0.5))
    boxes = pl.DataFrame(
        gts,
        schema=["path", "class_id", "class", "x0", "y0", "x1", "y1"]
        + ["object_size", "occlusion", "occluded"],
        orient="row",
    )
    images = pl.DataFrame(
        {
            "path": paths,
            "split": ["val"] * n_img,
            "status": ["labelled"] * n_img,
            "width": [W] * n_img,
            "height": [H] * n_img,
        }
    )
    pred = pl.DataFrame(
        preds, schema=["path", "class_id", "x0", "y0", "x1", "y1", "score"], orient="row"
    )
    return df, labels_like(images, boxes), pred, np.array(truth)


def with_truth(sl, truth: np.ndarray) -> pl.DataFrame:
    """The table plus each slice's true recall and true drop (rest minus slice) given the
    realised objects."""
    units = sl.unit_table().with_columns(pl.Series("p", truth))
    total, n_all = truth.sum(), truth.size
    t, t_rest = [], []
    for r in sl.table.iter_rows(named=True):
        cond = pl.col(r["axis"]) == r["bucket"]
        if r["axis2"] is not None:
            cond &= pl.col(r["axis2"]) == r["bucket2"]
        sub = units.filter(cond)["p"]
        t.append(sub.mean())
        t_rest.append((total - sub.sum()) / (n_all - sub.len()) if n_all > sub.len() else None)
    return sl.table.with_columns(
        pl.Series("truth", t), pl.Series("truth_rest", t_rest, dtype=pl.Float64)
    ).with_columns((pl.col("truth_rest") - pl.col("truth")).alias("true_drop"))


def cells(table: pl.DataFrame) -> set[tuple]:
    return set(table.select("axis", "bucket", "axis2", "bucket2").rows())


# ------------------------------------------------------------------------------- validation


def planted_table(seed: int) -> pl.DataFrame:
    df, lab, pred, truth = world(seed)
    res = results(pred, lab)
    assert res.problems.height == 0
    sl = slices(df, res, metric="recall", axes=["lighting", "site"])
    assert sl.unit == "object" and sl.kind == "proportion"
    assert set(sl.axes) == {"lighting", "site", "object_size", "occlusion", "class"}
    return with_truth(sl, truth)


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_planted_failures_are_found(seed: int) -> None:
    tab = planted_table(seed)
    primary = tab.filter("primary")
    # The two planted cells stand on their own; anything else standing on its own is a chance
    # fluctuation with a tiny true drop (BH bounds the false discovery *rate*, not the count),
    # never a planted effect showing up under another name.
    assert cells(primary) >= PLANTED
    extra = primary.filter(
        ~pl.struct("axis", "bucket", "axis2", "bucket2").is_in(
            [dict(zip(("axis", "bucket", "axis2", "bucket2"), c)) for c in PLANTED]
        )
    )
    assert extra.height <= 1 and (extra["true_drop"] < 0.05).all(), extra
    # Every slice that is truly >= 15 points worse than the rest is flagged (power; the pair
    # cells hold ~300 objects, where a 10-point drop is not always significant) ...
    strong = tab.filter((pl.col("true_drop") >= 0.15) & pl.col("test").is_not_null())
    assert strong["flagged"].all(), strong.filter(~pl.col("flagged"))
    # ... nothing truly better is flagged, and flagged slices that are not primary say what
    # explains them.
    assert tab.filter(pl.col("flagged") & (pl.col("true_drop") <= 0)).height == 0
    flagged = tab.filter(pl.col("flagged") & ~pl.col("primary"))
    assert flagged.height > 10 and flagged["explained_by"].is_not_null().all()
    night = tab.filter(
        (pl.col("axis") == "lighting") & (pl.col("bucket") == "dark") & pl.col("axis2").is_null()
    )
    assert night["truth"].item() == 0.5 and abs(night["metric"].item() - 0.5) < 0.05
    # (95% intervals cover the truth 95% of the time, not always: checked in aggregate below.)


def test_planted_failures_exactly_over_many_worlds() -> None:
    """Measured: the primary cells are exactly the planted two in 11 of 12 worlds (seed 1 adds
    site=c, a 2.7-sigma dip inside night); at most one flag on a < 2-point true drop overall."""
    exact, noise = 0, 0
    for seed in range(12):
        tab = planted_table(seed)
        exact += cells(tab.filter("primary")) == PLANTED
        noise += tab.filter(pl.col("flagged") & (pl.col("true_drop") < 0.02)).height
    assert exact >= 11 and noise <= 1, (exact, noise)


def test_intervals_cover_the_truth_at_their_level() -> None:
    """Wilson 95% intervals of every slice over eight worlds cover the true recall ~95% of the
    time (the truth is each slice's mean of the objects' true recall)."""
    covered, total, planted_cover = 0, 0, 0
    for seed in range(8):
        df, lab, pred, truth = world(seed)
        tab = with_truth(slices(df, results(pred, lab), axes=["lighting", "site"]), truth)
        ok = (pl.col("ci_low") <= pl.col("truth")) & (pl.col("truth") <= pl.col("ci_high"))
        covered += tab.filter(ok).height
        total += tab.height
        planted = tab.filter(pl.col("primary"))
        planted_cover += planted.filter(ok).height
    assert total > 500 and planted_cover >= 14  # of 16 planted-cell intervals
    assert 0.92 <= covered / total <= 0.99, covered / total


@pytest.mark.parametrize("seed", [0, 1, 2, 3, 4])
def test_random_misses_flag_nothing(seed: int) -> None:
    df, lab, pred, _ = world(seed, model="random")
    sl = slices(df, results(pred, lab), axes=["lighting", "site"])
    assert sl.table["test"].is_not_null().sum() > 60
    assert sl.flagged.height == 0, sl.flagged


def test_random_misses_false_alarm_rate() -> None:
    """Under the null, BH at 5% makes a run with any flag rare: measured over 30 worlds
    (documented in docs/slices.md)."""
    runs = [
        slices(df, results(pred, lab), axes=["lighting", "site"]).flagged.height
        for df, lab, pred, _ in (world(100 + s, n_img=300, model="random") for s in range(30))
    ]
    assert sum(r > 0 for r in runs) <= 4, runs


# ------------------------------------------------------------------------------- statistics


def _classification(seed: int, n: int = 800) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    paths = [f"img{i}.jpg" for i in range(n)]
    site = rng.choice(["a", "b", "c", "rare"], n, p=[0.4, 0.35, 0.24, 0.01])
    cam = rng.choice(["x", "y"], n)
    acc = np.where(site == "b", 0.6, 0.8)
    correct = rng.random(n) < acc
    loss = rng.exponential(np.where(site == "b", 1.5, 1.0))
    df = pl.DataFrame({"path": paths, "site": site, "cam": cam})
    res = pl.DataFrame({"path": paths, "correct": correct, "loss": loss})
    return df, res


def test_proportion_statistics_match_scipy() -> None:
    df, res = _classification(0)
    sl = slices(df, res, metric="accuracy", axes=["site", "cam"], min_size=5)
    assert sl.metric == "correct" and sl.unit == "image"
    merged = df.join(res, on="path")
    n_all, k_all = merged.height, int(merged["correct"].sum())
    for r in sl.table.iter_rows(named=True):
        cond = pl.col(r["axis"]) == r["bucket"]
        if r["axis2"] is not None:
            cond &= pl.col(r["axis2"]) == r["bucket2"]
        sub = merged.filter(cond)
        n, k = sub.height, int(sub["correct"].sum())
        assert r["n"] == n and r["metric"] == pytest.approx(k / n)
        ci = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
        assert (r["ci_low"], r["ci_high"]) == pytest.approx((ci.low, ci.high), abs=1e-9)
        if r["test"] is None:
            assert n < 5 or n_all - n < 5
            continue
        table = np.array([[k, n - k], [k_all - k, n_all - n - (k_all - k)]])
        if r["test"] == "fisher":
            expected = stats.contingency.expected_freq(table)
            assert expected.min() < 5
            assert r["p_value"] == pytest.approx(stats.fisher_exact(table).pvalue)
        else:
            chi2 = stats.chi2_contingency(table, correction=False)
            assert chi2.expected_freq.min() >= 5
            assert r["p_value"] == pytest.approx(chi2.pvalue, rel=1e-6)
    tested = sl.table.filter(pl.col("test").is_not_null())
    assert "fisher" in tested["test"].to_list()  # the rare site is tested exactly
    q = stats.false_discovery_control(tested["p_value"].to_numpy(), method="bh")
    np.testing.assert_allclose(tested["q_value"].to_numpy(), q)
    flagged = sl.flagged
    assert ("site", "b", None, None) in cells(flagged)
    assert all(d < 0 for d in flagged["difference"])


def test_mean_statistics_match_scipy() -> None:
    df, res = _classification(1)
    sl = slices(df, res, metric="loss", axes=["site", "cam"], pairs=False, bootstrap_below=50)
    assert sl.kind == "mean" and not sl.higher_is_better
    merged = df.join(res, on="path")
    for r in sl.table.iter_rows(named=True):
        inside = merged.filter(pl.col(r["axis"]) == r["bucket"])["loss"].to_numpy()
        outside = merged.filter(pl.col(r["axis"]) != r["bucket"])["loss"].to_numpy()
        assert r["metric"] == pytest.approx(inside.mean())
        if inside.size >= 50:
            lo, hi = stats.t.interval(0.95, inside.size - 1, inside.mean(), stats.sem(inside))
            assert (r["ci_low"], r["ci_high"]) == pytest.approx((lo, hi))
        else:  # bootstrap: a percentile interval around the mean, inside the data's range
            assert inside.min() <= r["ci_low"] < inside.mean() < r["ci_high"] <= inside.max()
        if r["test"] is not None:
            welch = stats.ttest_ind(inside, outside, equal_var=False)
            assert r["p_value"] == pytest.approx(welch.pvalue, rel=1e-6)
    assert cells(sl.flagged) == {("site", "b", None, None)}  # higher loss is worse


def test_min_size_and_bad_arguments() -> None:
    df, res = _classification(2)
    sl = slices(df, res, metric="correct", axes=["site"], pairs=False, min_size=30)
    rare = sl.table.filter(pl.col("bucket") == "rare").row(0, named=True)
    assert rare["n"] < 30 and rare["test"] is None and not rare["flagged"]
    assert rare["ci_low"] is not None  # still reported with its interval
    with pytest.raises(ValueError, match="unknown metric 'recall'"):
        slices(df, res, metric="recall")
    with pytest.raises(ValueError, match="neither a built-in axis nor a column"):
        slices(df, res, metric="correct", axes=["nope"])


def test_relative_result_paths_join_the_scan(tmp_path: Path) -> None:
    df, res = _classification(3, n=200)
    df = df.with_columns((str(tmp_path) + "/" + pl.col("path")).alias("path"))
    sl = slices(df, res, metric="correct", axes=["site"], pairs=False)
    assert sl.table["n"].sum() == 200  # every result joined to its scanned image
    assert sl.table.filter(pl.col("bucket") == "unknown").height == 0


# --------------------------------------------------------------------------------- to_label


def test_to_label_samples_flagged_slices_across_groups() -> None:
    df, lab, pred, _ = world(0)
    # Near-duplicate groups of three consecutive images.
    groups = df.select("path", (pl.int_range(pl.len()) // 3).alias("group_id"))
    sl = slices(df.join(groups, on="path"), results(pred, lab), axes=["lighting", "site"])
    pick = sl.to_label(n=120, seed=0)
    assert pick.height == 120
    assert pick["path"].n_unique() == 120 and pick["group_id"].n_unique() == 120
    # Sampled from the slices that stand on their own, taking turns, worst first.
    primary = sl.table.filter("primary").select("axis", "bucket", "axis2", "bucket2").rows()
    assert set(pick.select("axis", "bucket", "axis2", "bucket2").rows()) == set(primary)
    first = pick.head(len(primary)).select("axis", "bucket", "axis2", "bucket2").rows()
    assert first == primary
    # Images where the model failed come first.
    assert (pick["failures"] > 0).mean() > 0.9
    # Every picked image really belongs to its slice.
    for r in pick.head(20).iter_rows(named=True):
        members = sl.members(r)
        assert r["path"] in set(members["path"].to_list())
    assert pick.equals(sl.to_label(n=120, seed=0))
    assert not pick.equals(sl.to_label(n=120, seed=1))
    rdf, rlab, rpred, _ = world(0, model="random")
    assert slices(rdf, results(rpred, rlab), axes=["lighting", "site"]).to_label().height == 0


# ------------------------------------------------------------- real images: scan, report, CLI


def _write_images(directory: Path, night: np.ndarray, seed: int) -> list[str]:
    from PIL import Image

    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, dark in enumerate(night):
        base = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        img = Image.fromarray(base).resize((W, H), Image.BICUBIC)
        arr = np.asarray(img, dtype=np.float64)
        arr = arr * (0.12 if dark else 1.0)
        p = directory / f"frame{i:03d}.png"
        Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(p)
        paths.append(str(p))
    return paths


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import imgstats

    root = tmp_path_factory.mktemp("slices")
    night = np.random.default_rng(11).random(240) < 0.5
    paths = _write_images(root / "images", night, 11)
    df = imgstats.scan(paths)
    _, lab, pred, truth = world(11, paths=paths, night=night)
    # YOLO prediction files, as Ultralytics writes them.
    out = root / "predict" / "labels"
    out.mkdir(parents=True)
    for (path,), rows in pred.group_by("path", maintain_order=True):
        lines = [
            f"{r['class_id']} {(r['x0'] + r['x1']) / 2 / W} {(r['y0'] + r['y1']) / 2 / H} "
            f"{(r['x1'] - r['x0']) / W} {(r['y1'] - r['y0']) / H} {r['score']}"
            for r in rows.iter_rows(named=True)
        ]
        (out / (Path(path).stem + ".txt")).write_text("\n".join(lines) + "\n")
    return {"root": root, "df": df, "lab": lab, "truth": truth, "preds": root / "predict"}


def test_scanned_images_and_yolo_files(scanned: dict) -> None:
    df, lab = scanned["df"], scanned["lab"]
    assert df["path"].to_list() == lab.images["path"].to_list()  # the contract's join key
    night = lab.boxes.group_by("path").len().height  # every image has objects
    assert night == 240
    res = results(scanned["preds"], scanned["lab"])
    assert res.problems.height == 0
    sl = slices(df, res, axes=["lighting"])
    assert ("lighting", "dark", None, None) in cells(sl.table.filter("primary"))
    assert ("object_size", "small", "occlusion", "occluded") in cells(sl.table.filter("primary"))


def test_report_has_where_the_model_fails(scanned: dict, tmp_path: Path) -> None:
    import imgstats

    res = results(scanned["preds"], scanned["lab"])
    out = imgstats.report(scanned["df"], tmp_path / "audit.html", results=res)
    html = out.read_text()
    assert 'id="slices"' in html and "Where the model fails" in html
    assert "lighting=dark" in html
    gallery = html[html.index('id="slices"') :]
    assert gallery.count("data:image/jpeg;base64") >= 6  # thumbnails of misses


def test_cli_classification_fail_on_drop(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from imgstats.cli import main

    night = np.random.default_rng(5).random(120) < 0.5
    paths = _write_images(tmp_path / "data", night, 5)
    rng = np.random.default_rng(5)
    correct = rng.random(120) < np.where(night, 0.3, 0.95)
    rel = [str(Path(p).relative_to(tmp_path / "data")) for p in paths]
    pl.DataFrame({"path": rel, "correct": correct}).write_csv(tmp_path / "res.csv")
    args = [
        "slices",
        str(tmp_path / "data"),
        "--results",
        str(tmp_path / "res.csv"),
        "--metric",
        "accuracy",
        "--json",
        str(tmp_path / "out.json"),
    ]
    assert main(args) == 0
    assert main([*args, "--fail-on", "drop"]) == 1
    text = capsys.readouterr().out
    assert "lighting=dark" in text
    data = json.loads((tmp_path / "out.json").read_text())
    assert data["metric"] == "correct" and data["overall"]["n"] == 120
    dark = [s for s in data["slices"] if s["axis"] == "lighting" and s["bucket"] == "dark"]
    assert dark and dark[0]["flagged"] and dark[0]["n"] == int(night.sum())
    # Random answers: nothing flagged, exit 0 even with --fail-on drop.
    fair = rng.random(120) < 0.7
    pl.DataFrame({"path": rel, "correct": fair}).write_csv(tmp_path / "res.csv")
    assert main([*args, "--fail-on", "drop"]) == 0
    # A missing results file is a usage error.
    assert main(["slices", str(tmp_path / "data"), "--results", str(tmp_path / "no.csv")]) == 2


def test_cli_detections_with_labels(
    scanned: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`--labels` goes through `imgstats.labels` (issue 10), replaced here by a stand-in module
    that returns the Labels-like object, so the YOLO path of the command runs end to end."""
    import sys
    import types

    from imgstats.cli import main

    fake = types.ModuleType("imgstats.labels")
    fake.labels = lambda source, **kw: scanned["lab"]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "imgstats.labels", fake)
    out = tmp_path / "s.json"
    args = ["slices", str(scanned["root"] / "images"), "--results", str(scanned["preds"])]
    args += ["--labels", "data.yaml", "--axes", "lighting", "--json", str(out)]
    assert main([*args, "--fail-on", "drop"]) == 1
    data = json.loads(out.read_text())
    assert data["metric"] == "recall" and data["results"]["objects"] == scanned["lab"].boxes.height
    primary = {
        (s["axis"], s["bucket"], s["axis2"], s["bucket2"]) for s in data["slices"] if s["primary"]
    }
    assert PLANTED <= primary
    assert "lighting=dark" in capsys.readouterr().out


def test_precision_and_false_positives_per_image(scanned: dict, tmp_path: Path) -> None:
    import imgstats

    res = results(scanned["preds"], scanned["lab"])
    prec = slices(scanned["df"], res, metric="precision", axes=["lighting"])
    s = res.summary()
    assert prec.unit == "prediction" and prec.kind == "proportion"
    assert prec.overall["n"] == s["predictions"]
    assert prec.overall["metric"] == pytest.approx(s["precision"])
    # Predictions carry no object_size/occlusion: only their class is an object axis.
    assert set(prec.axes) == {"lighting", "class"}
    assert prec.table.filter(pl.col("axis2").is_null())["n"].sum() == 2 * s["predictions"]
    fp = slices(scanned["df"], res, metric="fp", axes=["lighting"], pairs=False)
    assert fp.metric == "n_fp" and fp.kind == "mean" and not fp.higher_is_better
    assert fp.overall["metric"] == pytest.approx(s["fp"] / 240)
    # A classification frame in the report: the section renders without boxes.
    frame = pl.DataFrame({"path": scanned["df"]["path"], "correct": [True, False] * 120})
    html = imgstats.report(scanned["df"], tmp_path / "c.html", results=frame).read_text()
    assert "Where the model fails" in html and "correct per image" in html
