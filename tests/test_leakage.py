"""`leakage` on constructed splits with known leaks, against a brute-force reference, and on
folders copied from the committed `examples/images/` (a planted train->test leak) plus leaks
planted here."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.cli import main
from imgstats.leakage import LeakageReport, leakage
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def brute_nearest(base: np.ndarray, query: np.ndarray, k: int) -> dict[int, tuple[int, int]]:
    out = {}
    for q, x in enumerate(query):
        d = np.bitwise_count(base ^ x)
        j = int(np.argmin(d))  # first index among ties
        if d[j] <= k:
            out[q] = (j, int(d[j]))
    return out


def test_constructed_splits_match_brute_force() -> None:
    rng = np.random.default_rng(7)
    train = rng.integers(0, 2**63, size=3000, dtype=np.uint64)
    # val: 100 near copies of train (1..6 bits flipped), 400 unrelated.
    val = rng.integers(0, 2**63, size=500, dtype=np.uint64)
    val[:100] = train[:100] ^ (np.uint64(0b111111) >> rng.integers(0, 6, 100).astype(np.uint64))
    # test: 50 near copies of train, 30 of val's unrelated part, the rest unrelated.
    test = rng.integers(0, 2**63, size=400, dtype=np.uint64)
    test[:50] = train[1000:1050] ^ np.uint64(1 << 40)
    test[50:80] = val[200:230] ^ np.uint64(3)
    df = pl.DataFrame(
        {
            "path": [f"tr{i}" for i in range(3000)]
            + [f"va{i}" for i in range(500)]
            + [f"te{i}" for i in range(400)],
            # Deliberately unordered split labels: the order comes from the names.
            "split": ["train"] * 3000 + ["val"] * 500 + ["test"] * 400,
            "phash": np.concatenate([train, val, test]),
        }
    ).sample(fraction=1.0, shuffle=True, seed=1)
    report = leakage(df, threshold=8)
    assert isinstance(report, LeakageReport)
    assert report.order == ("train", "val", "test")
    pairs = report.pairs
    sp = {s: df.filter(pl.col("split") == s) for s in ("train", "val", "test")}
    for earlier, later in [("train", "val"), ("train", "test"), ("val", "test")]:
        base, query = sp[earlier]["phash"].to_numpy(), sp[later]["phash"].to_numpy()
        expected = {
            (sp[later]["path"][q], sp[earlier]["path"][j], d)
            for q, (j, d) in brute_nearest(base, query, 8).items()
        }
        got = pairs.filter((pl.col("earlier") == earlier) & (pl.col("later") == later))
        assert set(got.select("path", "matched_path", "distance").iter_rows()) == expected
    summary = {r["split"]: r for r in report.summary.iter_rows(named=True)}
    assert summary["train"]["leaking"] == 0
    assert summary["val"]["leaking"] == 100 and summary["val"]["images"] == 500
    assert summary["test"]["leaking"] == 80
    assert summary["test"]["share"] == pytest.approx(80 / 400)
    assert "test: 80 of 400" in repr(report)


def test_exact_matches_low_information_and_order() -> None:
    flat = 1 << 63
    df = pl.DataFrame(
        {
            "path": ["a", "b", "c", "d", "e"],
            "split": ["holdout", "holdout", "pool", "pool", "pool"],
            "phash": pl.Series([flat, 0xFF, flat, None, 0xFE], dtype=pl.UInt64),
            "content_hash": ["u", "v", "w", "v", "z"],
        }
    )
    report = leakage(df, order=["pool", "holdout"])
    got = set(report.pairs.select("path", "matched_path", "exact").iter_rows())
    # a and c are both constant images: same collapsed hash, different files -> no leak.
    # b has the same bytes as d (whose hash is missing) and a near hash to e: exact wins.
    assert got == {("b", "d", True)}
    assert report.pairs["distance"].to_list() == [None]
    with pytest.raises(ValueError, match="order does not mention"):
        leakage(df, order=["pool"])
    # Known names (holdout) come before unknown ones (pool).
    assert leakage(df).order == ("holdout", "pool")


@pytest.fixture()
def split_dirs(tmp_path: Path) -> dict[str, Path]:
    """train (19 images) and test (4) from examples/images, whose test/leaked_scene_03.jpg is a
    brighter re-save of train/scene_03.jpg; planted here: a smaller re-compressed copy of
    train/scene_00.jpg and a byte copy of train/scene_06.jpg."""
    dirs = {name: tmp_path / name for name in ("train", "test")}
    for name, d in dirs.items():
        shutil.copytree(EXAMPLES / name, d)
    Image.open(dirs["train"] / "scene_00.jpg").resize((320, 240)).save(
        dirs["test"] / "small_00.jpg", quality=70
    )
    shutil.copy(dirs["train"] / "scene_06.jpg", dirs["test"] / "copy_06.jpg")
    return dirs


def test_folders_and_cli(split_dirs: dict[str, Path], tmp_path: Path, capsys) -> None:
    report = leakage({k: str(v) for k, v in split_dirs.items()})
    got = {
        (Path(r["path"]).name, Path(r["matched_path"]).name, r["exact"], r["earlier"], r["later"])
        for r in report.pairs.iter_rows(named=True)
    }
    assert got == {
        ("leaked_scene_03.jpg", "scene_03.jpg", False, "train", "test"),
        ("small_00.jpg", "scene_00.jpg", False, "train", "test"),
        ("copy_06.jpg", "scene_06.jpg", True, "train", "test"),
    }
    summary = {r["split"]: r for r in report.summary.iter_rows(named=True)}
    assert summary["test"]["leaking"] == 3 and summary["test"]["images"] == 6
    assert summary["train"]["leaking"] == 0 and summary["train"]["images"] == 19
    out = tmp_path / "leaks.csv"
    args = [f"{k}={v}" for k, v in split_dirs.items()]
    assert main(["leakage", *args, "-o", str(out)]) == 0
    cli = pl.read_csv(out)
    assert sorted(Path(p).name for p in cli["path"]) == [
        "copy_06.jpg",
        "leaked_scene_03.jpg",
        "small_00.jpg",
    ]
    assert "test: 3 of 6 images (50.0%)" in capsys.readouterr().err
    assert main(["leakage", "train"]) == 2
    assert main(["leakage", f"train={split_dirs['train']}"]) == 2
