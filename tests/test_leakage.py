"""`leakage` on constructed splits with known leaks, against a brute-force reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.cli import main
from imgstats.leakage import LeakageReport, leakage
from PIL import Image

PHOTOS = sorted(Path("/usr/share/wallpapers").glob("*/contents/images/1280x1024.*"))[:4]


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
    if len(PHOTOS) < 3:
        pytest.skip("system wallpapers not installed")
    dirs = {name: tmp_path / name for name in ("train", "test")}
    for d in dirs.values():
        d.mkdir()
    for i, p in enumerate(PHOTOS):
        Image.open(p).convert("RGB").save(dirs["train"] / f"{i}.png")
    # test: a re-compressed, smaller copy of train photo 0 and one photo train does not have.
    Image.open(PHOTOS[0]).convert("RGB").resize((640, 512)).save(
        dirs["test"] / "leak.jpg", quality=70
    )
    Image.open("/usr/share/backgrounds/gnome/wood-l.webp").convert("RGB").save(
        dirs["test"] / "new.jpg"
    )
    return dirs


def test_folders_and_cli(split_dirs: dict[str, Path], tmp_path: Path) -> None:
    report = leakage({k: str(v) for k, v in split_dirs.items()})
    assert report.pairs.height == 1
    row = report.pairs.row(0, named=True)
    assert Path(row["path"]).name == "leak.jpg" and Path(row["matched_path"]).name == "0.png"
    assert not row["exact"]
    out = tmp_path / "leaks.csv"
    args = [f"{k}={v}" for k, v in split_dirs.items()]
    assert main(["leakage", *args, "-o", str(out)]) == 0
    assert pl.read_csv(out)["path"].str.ends_with("leak.jpg").to_list() == [True]
    assert main(["leakage", "train"]) == 2
