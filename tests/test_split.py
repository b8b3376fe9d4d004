"""`imgstats.split`: no group ever straddles splits (10,000 random trials), stratification at
least as good as scikit-learn's StratifiedGroupKFold, determinism, keep=, detection labels
(objects per class), a coverage axis, what is given up, and the real-video leak check."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import imgstats
import numpy as np
import polars as pl
import pytest
from conftest import MISSING_DATA
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
    import sklearn.model_selection as sklearn

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
    # The kept test (60 recordings) misses its 10 % target; the reason given is the kept split.
    test_share = np.mean(got == "test")
    assert abs(test_share - 0.1) > 0.02
    sizes = res.given_up.filter(pl.col("kind") == "images")
    assert "kept split(s) test did not move" in sizes["reason"].item()


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
def test_real_video_frames_random_split_leaks_and_split_does_not() -> None:
    assert VISP.exists(), MISSING_DATA
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


# --------------------------------------------------------------------------------------------
# The command line: `imgstats split`
# --------------------------------------------------------------------------------------------


def _capture_set(root: Path) -> None:
    """A 10-frame video run plus 30 unrelated pictures, in train/ and test/ folders."""
    from conftest import photo_like, random_rgb
    from PIL import Image

    scene = photo_like(120, 200, seed=8)
    for i in range(10):
        p = root / "train" / "run" / f"cam3_{i:06d}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(scene[:, i : i + 160]).save(p)
    for i in range(30):
        split = "test" if i < 4 else "train"
        p = root / split / f"noise_{chr(97 + i % 26)}{i // 26}.png"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_rgb(48, 64, seed=i)).save(p)
    # The classic leak: a frame of the run copied into test.
    (root / "test" / "leaked.png").write_bytes((root / "train/run/cam3_000004.png").read_bytes())


def test_cli_split_folder_writes_a_leak_free_csv(tmp_path: Path, capsys: Any) -> None:
    from imgstats.cli import main

    _capture_set(tmp_path / "data")
    out = tmp_path / "split.csv"
    assert main(["split", str(tmp_path / "data"), "--ratios", "80/10/10", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "wrote" in printed and "41 images" in printed
    got = pl.read_csv(out)
    assert got.columns == ["path", "group", "split"] and got.height == 41
    run = got.filter(
        pl.col("path").str.contains("/run/") | pl.col("path").str.ends_with("leaked.png")
    )
    assert run.height == 11 and run["split"].n_unique() == 1 and run["group"].n_unique() == 1
    scanned = imgstats.scan(str(tmp_path / "data"), metrics=["phash", "content_hash"])
    leak = imgstats.leakage(scanned.join(got, on="path"), split="split")
    assert leak.pairs.height == 0
    # Same seed, same file; --seed changes it.
    out2 = tmp_path / "split2.csv"
    main(["split", str(tmp_path / "data"), "-o", str(out2)])
    assert pl.read_csv(out2).equals(got)


def test_cli_split_keep_test_uses_the_folder_split(tmp_path: Path, capsys: Any) -> None:
    from imgstats.cli import main

    _capture_set(tmp_path / "data")
    out = tmp_path / "split.csv"
    rc = main(["split", str(tmp_path / "data"), "--keep", "test", "-o", str(out)])
    assert rc == 0
    got = pl.read_csv(out)
    in_test = got.filter(pl.col("path").str.contains("/test/"))
    assert (in_test["split"] == "test").all() and in_test.height == 5
    # leaked.png is in test and in the run's group: the whole run follows it into test.
    assert (got.filter(pl.col("path").str.contains("/run/"))["split"] == "test").all()
    assert "10 images not in the kept split(s)" in capsys.readouterr().err


def test_cli_split_errors_are_exit_2(tmp_path: Path, capsys: Any) -> None:
    from imgstats.cli import main

    assert main(["split", str(tmp_path / "missing"), "-o", str(tmp_path / "x.csv")]) == 2
    assert "not a folder" in capsys.readouterr().err
    (tmp_path / "d").mkdir()
    assert main(["split", str(tmp_path / "d"), "--ratios", "1/2/3/4"]) == 2
    assert "2 or 3 numbers" in capsys.readouterr().err


def _yolo_dataset(root: Path) -> Path:
    """A tiny YOLO dataset: images/ + labels/ (one box per line) and its data.yaml."""
    from conftest import random_rgb
    from PIL import Image

    rng = np.random.default_rng(1)
    for i in range(40):
        img = root / "images" / f"im{i:02d}.png"
        img.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(random_rgb(32, 32, seed=100 + i)).save(img)
        lab = root / "labels" / f"im{i:02d}.txt"
        lab.parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{rng.choice(3, p=[0.6, 0.3, 0.1])} 0.5 0.5 0.2 0.2" for _ in range(i % 4)]
        lab.write_text("\n".join(lines))
    data = root / "data.yaml"
    data.write_text(
        "path: .\ntrain: images\nval: images\nnames:\n  0: car\n  1: person\n  2: bus\nnc: 3\n",
        encoding="utf-8",
    )
    return data


def _fake_labels(source: str) -> FakeLabels:
    """What imgstats.labels returns for `_yolo_dataset`, read independently here."""
    root = Path(source).parent
    names = ["car", "person", "bus"]
    paths, boxes = [], []
    for img in sorted((root / "images").glob("*.png")):
        paths.append(str(img))
        for line in (root / "labels" / f"{img.stem}.txt").read_text().splitlines():
            boxes.append({"path": str(img), "class": names[int(line.split()[0])]})
    return FakeLabels(
        images=pl.DataFrame(
            {"path": paths, "split": [None] * len(paths)}, schema_overrides={"split": pl.Utf8}
        ),
        boxes=pl.DataFrame(boxes),
    )


def test_cli_split_yolo_write(tmp_path: Path, capsys: Any) -> None:
    import yaml
    from imgstats import labels
    from imgstats.cli import main

    data = _yolo_dataset(tmp_path / "ds")
    # The command reads the dataset with the real parser: its boxes agree with an independent
    # read (train and val both list images/, so each split holds every box once).
    real = labels(str(data)).boxes.filter(pl.col("split") == "train")
    independent = _fake_labels(str(data)).boxes
    key = ["path", "class"]
    assert real.select(key).sort(key).equals(independent.select(key).sort(key))
    out_dir = tmp_path / "out"
    rc = main(["split", str(data), "-o", str(tmp_path / "s.csv"), "--write", str(out_dir)])
    assert rc == 0
    assert "objects: largest share deviation" in capsys.readouterr().out
    assignment = pl.read_csv(tmp_path / "s.csv")
    written = yaml.safe_load((out_dir / "data.yaml").read_text())
    assert written["names"] == {0: "car", 1: "person", 2: "bus"} and written["nc"] == 3
    for name in ("train", "val", "test"):
        listed = Path(written[name])
        assert listed == (out_dir / f"{name}.txt").resolve()
        lines = listed.read_text().splitlines()
        expect = assignment.filter(pl.col("split") == name)["path"].to_list()
        assert lines == [str(Path(p).resolve()) for p in expect]
        assert all(Path(line).is_absolute() and Path(line).exists() for line in lines)
    assert (
        sum(len((out_dir / f"{n}.txt").read_text().splitlines()) for n in written if n in RATIOS)
        == 40
    )
    assert written["path"] == str(out_dir.resolve())


def test_write_yolo_refuses_to_overwrite_the_original(tmp_path: Path) -> None:
    from imgstats.split_write import write_yolo

    data = _yolo_dataset(tmp_path / "ds")
    a = pl.DataFrame({"path": [str(tmp_path / "ds/images/im00.png")], "split": ["train"]})
    with pytest.raises(ValueError, match="refusing to overwrite"):
        write_yolo(a, tmp_path / "ds", data)
    assert "path: ." in data.read_text()
    assert not (tmp_path / "ds" / "train.txt").exists()


def test_cli_split_parquet_scan_equals_folder_and_axis_scans_more(tmp_path: Path) -> None:
    from imgstats.cli import main
    from imgstats.commands.split import GROUP_METRICS

    _capture_set(tmp_path / "data")
    scan = imgstats.scan(str(tmp_path / "data"), metrics=GROUP_METRICS)
    scan.write_parquet(tmp_path / "scan.parquet")
    main(["split", str(tmp_path / "scan.parquet"), "-o", str(tmp_path / "a.csv")])
    main(["split", str(tmp_path / "data"), "-o", str(tmp_path / "b.csv")])
    assert pl.read_csv(tmp_path / "a.csv").equals(pl.read_csv(tmp_path / "b.csv"))
    # --axis lighting needs brightness, which the group metrics do not include.
    rc = main(
        ["split", str(tmp_path / "data"), "--axis", "lighting", "-o", str(tmp_path / "c.csv")]
    )
    assert rc == 0 and pl.read_csv(tmp_path / "c.csv").height == 41


def test_keep_reads_the_split_from_labels() -> None:
    n = 60
    df = pl.DataFrame({"path": [f"im{i}.jpg" for i in range(n)], "rec": np.arange(n) // 3})
    images = df.select("path").with_columns(
        pl.Series("split", ["test" if i < 9 else "train" for i in range(n)])
    )
    boxes = pl.DataFrame({"path": df["path"], "class": ["car", "bus"] * (n // 2)})
    res = imgstats.split(
        df, RATIOS, labels=FakeLabels(images=images, boxes=boxes), keep="test", groups="rec"
    )
    got = res.assignment["split"].to_list()
    assert got[:9] == ["test"] * 9 and "test" not in got[9:]


def test_cli_split_write_lists_for_a_folder(tmp_path: Path, capsys: Any) -> None:
    from imgstats.cli import main

    _capture_set(tmp_path / "data")
    out = tmp_path / "lists"
    rc = main(["split", str(tmp_path / "data"), "-o", str(tmp_path / "s.csv"), "--write", str(out)])
    assert rc == 0
    assert "only the image lists were written" in capsys.readouterr().out
    assert not (out / "data.yaml").exists()
    got = pl.read_csv(tmp_path / "s.csv")
    for name in ("train", "val", "test"):
        lines = (out / f"{name}.txt").read_text().splitlines()
        assert lines == [
            str(Path(p).resolve()) for p in got.filter(pl.col("split") == name)["path"]
        ]
