"""`imgstats.split`: no group ever straddles splits (10,000 random trials), stratification at
least as good as scikit-learn's StratifiedGroupKFold, determinism, keep=, detection labels
(objects per class), a coverage axis, what is given up, and the real-video leak check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.split import assign_rows

VISP = Path("/usr/share/visp-images-data/ViSP-images")
RATIOS = {"train": 0.8, "val": 0.1, "test": 0.1}


@dataclass
class FakeLabels:
    """The shape of `imgstats.labels(...)` that `split` consumes (issue 10's contract)."""

    images: pl.DataFrame
    boxes: pl.DataFrame


def grouped_data(n: int, n_classes: int = 12, seed: int = 0) -> pl.DataFrame:
    """Recordings of log-normal length; 85 % of a recording's frames show its dominant class."""
    rng = np.random.default_rng(seed)
    sizes = np.maximum(1, rng.lognormal(1.2, 1.0, n).astype(np.int64))
    sizes = sizes[: np.searchsorted(np.cumsum(sizes), n) + 1]
    sizes[-1] -= sizes.sum() - n
    sizes = sizes[sizes > 0]
    group = np.repeat(np.arange(len(sizes)), sizes)
    p = 1.0 / np.arange(1, n_classes + 1) ** 1.1
    p /= p.sum()
    dominant = rng.choice(n_classes, len(sizes), p=p)[group]
    cls = np.where(rng.random(n) < 0.85, dominant, rng.choice(n_classes, n, p=p))
    return pl.DataFrame(
        {"path": [f"f{i}.jpg" for i in range(n)], "class": [f"c{c}" for c in cls], "rec": group}
    )


def straddling(groups: np.ndarray, splits: np.ndarray) -> int:
    """Number of groups whose rows are in more than one split (brute force with NumPy)."""
    g = np.unique(groups, return_inverse=True)[1].astype(np.int64)
    s = np.unique(splits, return_inverse=True)[1].astype(np.int64)
    return len(np.unique(g * (s.max() + 1) + s)) - len(np.unique(g))


def class_deviation(df: pl.DataFrame, split: pl.Series | np.ndarray) -> tuple[float, float]:
    """Max and mean over (class, split) of |share of the class's images in the split - ratio|."""
    t = df.select("class").with_columns(pl.Series("split", split, dtype=pl.Utf8))
    grid = (
        pl.DataFrame({"split": list(RATIOS)})
        .join(t.select("class").unique(), how="cross")
        .join(t.group_by("class", "split").len(), on=["class", "split"], how="left")
        .with_columns(pl.col("len").fill_null(0))
        .with_columns(
            (
                pl.col("len") / pl.col("len").sum().over("class")
                - pl.col("split").replace_strict(RATIOS, return_dtype=pl.Float64)
            )
            .abs()
            .alias("dev")
        )
    )
    return float(grid["dev"].max()), float(grid["dev"].mean())


def test_no_group_straddles_splits_in_10000_random_trials() -> None:
    rng = np.random.default_rng(12)
    for trial in range(10_000):
        n = int(rng.integers(1, 80))
        n_groups = int(rng.integers(1, n + 1))
        gid = np.unique(rng.integers(0, n_groups, n), return_inverse=True)[1]
        n_groups = int(gid.max()) + 1
        n_dims = int(rng.integers(0, 5))
        counts = np.zeros((n_groups, n_dims))
        if n_dims:
            np.add.at(counts, (gid, rng.integers(0, n_dims, n)), 1)
        names = ["train", "val", "test", "extra"][: int(rng.integers(1, 5))]
        weights = rng.random(len(names)) + 0.01
        target = dict(zip(names, weights / weights.sum()))
        keep = current = None
        if len(names) > 1 and rng.random() < 0.3:
            keep = names[-1]
            current = rng.choice([*names, None], n)
        choice = assign_rows(gid, counts, target, trial, current, keep)
        assert choice.shape == (n,) and choice.min() >= 0 and choice.max() < len(names)
        assert straddling(gid, choice) == 0, trial
        if keep is not None:
            assert (choice[current == keep] == len(names) - 1).all(), trial


def test_public_split_never_straddles_on_random_frames() -> None:
    rng = np.random.default_rng(3)
    for trial in range(150):
        n = int(rng.integers(2, 200))
        df = pl.DataFrame(
            {
                "path": [f"p{i}" for i in range(n)],
                "class": rng.choice(["a", "b", "c", None], n).tolist(),
                "rec": rng.integers(0, max(1, n // 3), n),
                "split": rng.choice(["train", "val", "test"], n).tolist(),
            }
        )
        keep = "test" if trial % 3 == 0 else None
        res = imgstats.split(df, RATIOS, seed=trial, groups="rec", keep=keep)
        a = res.assignment.with_columns(df["rec"])
        assert a.height == n and a["split"].null_count() == 0
        assert a.group_by("rec").agg(pl.col("split").n_unique())["split"].max() == 1
        assert a.group_by("group").agg(pl.col("split").n_unique())["split"].max() == 1
        if keep:
            assert (a.filter(df["split"] == "test")["split"] == "test").all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_class_shares_at_least_as_good_as_sklearn_stratified_group_kfold(seed: int) -> None:
    sklearn = pytest.importorskip("sklearn.model_selection")
    df = grouped_data(10_000, seed=seed)
    res = imgstats.split(df, RATIOS, stratify="class", seed=seed, groups="rec")
    assert straddling(df["rec"].to_numpy(), res.assignment["split"].to_numpy()) == 0

    cv = sklearn.StratifiedGroupKFold(n_splits=10, shuffle=True, random_state=seed)
    ref = np.full(df.height, "train", dtype=object)
    for fold, (_, idx) in enumerate(cv.split(np.zeros(df.height), df["class"], df["rec"])):
        if fold < 2:
            ref[idx] = ("test", "val")[fold]
    ours, theirs = class_deviation(df, res.assignment["split"]), class_deviation(df, ref)
    assert ours[0] <= theirs[0] and ours[1] <= theirs[1], (ours, theirs)
    # And the balance table reports the same numbers.
    cls = res.balance.filter(pl.col("kind") == "class")
    assert cls["deviation"].abs().max() == pytest.approx(ours[0])
    sizes = res.balance.filter(pl.col("kind") == "images")
    assert sizes["deviation"].abs().max() < 0.005


def test_deterministic_for_a_seed() -> None:
    df = grouped_data(3_000, seed=5)
    a = imgstats.split(df, RATIOS, seed=11, groups="rec").assignment
    b = imgstats.split(df, RATIOS, seed=11, groups="rec").assignment
    c = imgstats.split(df, RATIOS, seed=12, groups="rec").assignment
    assert a.equals(b)
    assert not a["split"].equals(c["split"])


def test_keep_test_fixed_and_rest_resplit() -> None:
    df = grouped_data(4_000, seed=2)
    rng = np.random.default_rng(0)
    # The existing test split: whole recordings plus one frame of a training recording.
    test_recs = rng.choice(df["rec"].unique().to_numpy(), 60, replace=False)
    current = np.where(np.isin(df["rec"].to_numpy(), test_recs), "test", "train")
    stray = int(np.flatnonzero(current == "train")[0])
    current[stray] = "test"
    df = df.with_columns(pl.Series("split", current))
    res = imgstats.split(df, RATIOS, seed=0, groups="rec", keep="test")
    got = res.assignment["split"].to_numpy()
    assert (got[current == "test"] == "test").all()
    # The stray frame's recording follows it into test; nothing else joins test.
    stray_rec = df["rec"][stray]
    moved = (df["rec"].to_numpy() == stray_rec) & (current != "test")
    assert (got[moved] == "test").all()
    assert set(np.flatnonzero(got == "test")) == set(np.flatnonzero((current == "test") | moved))
    assert any(f"{int(moved.sum())} images not in the kept split" in n for n in res.notes)
    # The rest is split train:val = 8:1.
    rest = got[got != "test"]
    assert np.mean(rest == "val") == pytest.approx(1 / 9, abs=0.01)
    assert straddling(df["rec"].to_numpy(), got) == 0


def test_detection_labels_balance_objects_per_class() -> None:
    rng = np.random.default_rng(4)
    n = 2_000
    df = pl.DataFrame({"path": [f"img{i}.jpg" for i in range(n)], "rec": np.arange(n) // 4})
    # Every image has 0-5 boxes; "bus" is rare (about 1 in 40 boxes).
    k = rng.integers(0, 6, n)
    paths = np.repeat(df["path"].to_numpy(), k)
    cls = rng.choice(["car", "person", "sign", "bus"], len(paths), p=[0.5, 0.3, 0.175, 0.025])
    boxes = pl.DataFrame({"path": paths, "class": cls, "class_id": 0})
    labels = FakeLabels(images=df.select("path"), boxes=boxes)
    res = imgstats.split(df, RATIOS, labels=labels, seed=0, groups="rec")
    obj = res.balance.filter(pl.col("kind") == "objects")
    assert sorted(obj["value"].unique()) == ["bus", "car", "person", "sign"]
    assert obj["total"].to_list()[::3] == [
        int((cls == c).sum()) for c in sorted(["bus", "car", "person", "sign"])
    ]
    assert obj["deviation"].abs().max() < 0.02
    # Reference: object counts per split recomputed from the assignment.
    per = boxes.join(res.assignment, on="path").group_by("split", "class").len()
    bus_test = per.filter((pl.col("split") == "test") & (pl.col("class") == "bus"))["len"].sum()
    assert (
        bus_test
        == obj.filter((pl.col("split") == "test") & (pl.col("value") == "bus"))["count"].item()
    )
    assert bus_test > 0


def test_coverage_axis_sends_night_images_to_test() -> None:
    rng = np.random.default_rng(9)
    n = 3_000
    night = rng.random(n) < 0.04
    hours = np.where(night, 23, rng.integers(8, 18, n))
    t0 = dt.datetime(2024, 6, 1)
    df = pl.DataFrame(
        {
            "path": [f"p{i}" for i in range(n)],
            "captured_at": [
                t0 + dt.timedelta(days=int(i), hours=int(h)) for i, h in enumerate(hours)
            ],
            "rec": np.arange(n) // 3,
        }
    )
    res = imgstats.split(df, RATIOS, axis="time_of_day", seed=0, groups="rec")
    tod = res.balance.filter(pl.col("kind") == "time_of_day")
    row = tod.filter((pl.col("value") == "night") & (pl.col("split") == "test"))
    assert row["total"].item() == int(night.sum())
    assert abs(row["deviation"].item()) < 0.02
    got = res.assignment["split"].to_numpy()
    assert np.mean(got[night] == "test") == pytest.approx(row["achieved"].item())


def test_given_up_and_giant_group_are_reported() -> None:
    n = 400
    rec = np.arange(n)
    rec[:10] = 0  # the rare class lives in one recording
    rec[10:300] = 1  # a giant recording: 72 % of the images
    cls = np.array(["common"] * n, dtype=object)
    cls[:10] = "rare"
    df = pl.DataFrame({"path": [f"p{i}" for i in range(n)], "class": cls, "rec": rec})
    res = imgstats.split(df, {"train": 0.6, "val": 0.2, "test": 0.2}, seed=0, groups="rec")
    rare = res.given_up.filter(pl.col("value") == "rare")
    assert rare.height == 1
    assert rare["groups"].item() == 1
    assert "only 1 group(s) hold it" in rare["reason"].item()
    assert any("bigger than the largest split's target" in n for n in res.notes)
    top = res.largest_groups
    assert top["images"].to_list()[:2] == [290, 10]
    assert "gave up on class 'rare'" in repr(res)


def test_bad_input_is_a_clear_error() -> None:
    df = pl.DataFrame({"path": ["a", "b"], "class": ["x", "y"]})
    with pytest.raises(ValueError, match="non-negative"):
        imgstats.split(df, {"train": -1, "test": 1}, groups=pl.col("path"))
    with pytest.raises(ValueError, match="'split' column"):
        imgstats.split(df, RATIOS, keep="test", groups=pl.col("path"))
    with pytest.raises(ValueError, match="not one of the ratios"):
        imgstats.split(
            df.with_columns(split=pl.lit("test")), RATIOS, keep="holdout", groups=pl.col("path")
        )
    with pytest.raises(ValueError, match="stratify column 'label'"):
        imgstats.split(df, RATIOS, stratify="label", groups=pl.col("path"))
    with pytest.raises(ValueError, match="'path' column"):
        imgstats.split(pl.DataFrame({"x": [1]}))


def test_groups_frame_from_groups_is_accepted() -> None:
    df = grouped_data(500, seed=1)
    g = imgstats.groups(df, group="rec", near_copies=False, sequences=False, bursts=False)
    a = imgstats.split(df, RATIOS, groups=g, seed=3).assignment
    b = imgstats.split(df, RATIOS, groups="rec", seed=3).assignment
    assert a["split"].equals(b["split"])


@pytest.mark.filterwarnings("ignore:one group holds")
@pytest.mark.skipif(not VISP.exists(), reason="visp-images-data not installed")
def test_real_video_frames_random_split_leaks_and_split_does_not() -> None:
    folders = ["cube", "mbt/cube", "ellipse-1", "line", "mbt-depth/Castle-simu/Images"]
    folders += ["mbt-depth/castel/castel", "mire-2"]
    # Every other frame keeps the test quick and still leaves consecutive kept frames similar.
    paths = sorted(str(p) for f in folders for p in sorted((VISP / f).glob("*.pgm"))[::2])
    df = imgstats.scan(paths, metrics=["phash", "content_hash", "pixel_hash", "entropy", "exif"])
    assert isinstance(df, pl.DataFrame) and df["error"].null_count() == df.height
    rng = np.random.default_rng(0)
    naive = df.with_columns(
        pl.Series("split", rng.choice(list(RATIOS), df.height, p=list(RATIOS.values())))
    )
    before = imgstats.leakage(naive, split="split", groups="auto")
    test_row = before.summary.filter(pl.col("split") == "test")
    assert test_row["share"].item() > 0.9  # almost every test frame has a near copy in train
    assert before.groups.summary.filter(pl.col("split") == "test")["share"].item() > 0.9

    res = imgstats.split(df, RATIOS, seed=0)
    after = imgstats.leakage(df.join(res.assignment, on="path"), split="split", groups="auto")
    assert after.pairs.height == 0
    assert after.groups.straddling.height == 0
    sizes = res.balance.filter(pl.col("kind") == "images")
    assert sizes["deviation"].abs().max() < 0.03
