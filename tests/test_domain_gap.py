"""`imgstats.domain_gap`: the classifier two-sample test, validated on real photos.

- photos (quadrant crops of the wallpapers) vs the same photos fogged (I = J t + A (1 - t),
  t = 0.6): AUC >= 0.95 with haze or
  contrast among the top features (scan columns from `imgstats.scan`, the weather columns from
  the NumPy reference until the Rust kernels are registered);
- a random half split of one real set (Fashion-MNIST test images): AUC within 0.4-0.6;
- DeLong's AUC and variance against scikit-learn and a brute-force O(mn) computation;
- planted outliers get the top ranks of ``scores``; nulls are kept; a missing scikit-learn is a
  one-line ImportError naming the extra.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
import weather_photos as wp
from conftest import fashion_mnist
from imgstats.domain_gap import delong_auc
from PIL import Image
from sklearn.metrics import roc_auc_score


def _scan_arrays(arrays: list[np.ndarray], folder: Path) -> pl.DataFrame:
    folder.mkdir(parents=True)
    for i, a in enumerate(arrays):
        Image.fromarray(a).save(folder / f"{i:05d}.png")
    df = imgstats.scan(str(folder)).sort("path")
    assert df["error"].null_count() == df.height
    return df


def _quadrants(a: np.ndarray) -> list[np.ndarray]:
    h, w = a.shape[0] // 2, a.shape[1] // 2
    return [a[:h, :w], a[:h, w:], a[h:, :w], a[h:, w:]]


@pytest.fixture(scope="module")
def photos_and_fog(tmp_path_factory: pytest.TempPathFactory) -> tuple[pl.DataFrame, pl.DataFrame]:
    root = tmp_path_factory.mktemp("gap")
    # The four quadrants of each 512-px picture: 296 real photo crops. With the 74 whole
    # pictures alone the classifier is data-starved (AUC 0.93 at t = 0.6; 0.96 at t = 0.5).
    clear = [q for _, a in wp.photos() for q in _quadrants(a)]
    fogged = [wp.fog(a, 0.6) for a in clear]
    # The scan computes every statistic, the weather ones (haze, ...) included.
    return _scan_arrays(clear, root / "clear"), _scan_arrays(fogged, root / "fog")


def test_fogged_photos_are_told_apart_by_haze_or_contrast(photos_and_fog) -> None:
    clear, fog = photos_and_fog
    gap = imgstats.domain_gap(clear, fog)
    top = gap.features.head(3)["feature"].to_list()
    assert gap.auc >= 0.95, gap.summary()
    assert {"haze", "contrast"} & set(top), gap.features.head(8)
    lo, hi = gap.auc_ci
    assert lo <= gap.auc <= hi and lo > 0.8
    # Every fogged image is scored once, ranked 1..n.
    assert sorted(gap.scores["path"].to_list()) == sorted(fog["path"].to_list())
    assert gap.scores["rank"].to_list() == list(range(1, fog.height + 1))


def test_random_half_split_shows_no_gap(tmp_path: Path) -> None:
    images = fashion_mnist(2000)
    df = _scan_arrays(images, tmp_path / "fmnist")
    order = np.random.default_rng(5).permutation(df.height)
    a, b = df[order[: df.height // 2]], df[order[df.height // 2 :]]
    gap = imgstats.domain_gap(a, b)
    assert 0.4 <= gap.auc <= 0.6, gap.summary()
    assert gap.auc_ci[0] <= 0.5 + 0.05  # the interval reaches (nearly) no-gap


def _brute_delong(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return float(psi.mean()), float(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)


def test_delong_matches_sklearn_and_brute_force() -> None:
    rng = np.random.default_rng(0)
    for n0, n1 in ((30, 50), (200, 120)):
        y = np.r_[np.zeros(n0, int), np.ones(n1, int)]
        s = np.round(rng.normal(y * 0.7, 1.0), 1)  # rounded: plenty of ties
        auc, var = delong_auc(y, s)
        assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        b_auc, b_var = _brute_delong(y, s)
        assert auc == pytest.approx(b_auc, abs=1e-12) and var == pytest.approx(b_var, rel=1e-9)


def test_planted_outliers_rank_first_and_nulls_are_kept() -> None:
    rng = np.random.default_rng(1)
    n = 300
    ref_df = pl.DataFrame(
        {"path": [f"r{i}" for i in range(n)], "brightness": rng.normal(120, 10, n)}
    )
    cur_b = rng.normal(120, 10, n)
    cur_b[:30] = 250.0  # planted: 30 overexposed production images
    contrast = rng.normal(40, 5, n)
    contrast[::7] = np.nan
    cur_df = pl.DataFrame(
        {"path": [f"c{i}" for i in range(n)], "brightness": cur_b, "contrast": contrast}
    ).with_columns(pl.col("contrast").fill_nan(None))
    # Nulls in both frames alike (missingness only on one side would itself be a gap).
    ref_contrast = rng.normal(40, 5, n)
    ref_contrast[3::7] = np.nan
    ref_df = ref_df.with_columns(pl.Series("contrast", ref_contrast).fill_nan(None))
    gap = imgstats.domain_gap(ref_df, cur_df, columns=["brightness", "contrast"])
    assert gap.scores.height == n
    planted = gap.scores.filter(pl.col("path").is_in([f"c{i}" for i in range(30)]))
    others = gap.scores.filter(~pl.col("path").is_in([f"c{i}" for i in range(30)]))
    # The planted rows fill the top of the ranking (a fold's tree may also admit one or two
    # bright ordinary rows above its split, hence 32, not 30).
    assert planted["rank"].max() <= 32
    assert planted["score"].min() > 0.7 > others["score"].median()
    assert gap.features["feature"][0] == "brightness"


def test_bad_input_and_missing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    df = pl.DataFrame({"brightness": [1.0, 2.0, 3.0]})
    with pytest.raises(ValueError, match="at least 5 images on each side"):
        imgstats.domain_gap(df, df)
    with pytest.raises(ValueError, match="columns missing"):
        imgstats.domain_gap(df, df, columns=["haze"], folds=2)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(ImportError, match=r"pip install 'imgstats\[ml\]'"):
        imgstats.domain_gap(df, df)


def test_result_prints_a_summary(photos_and_fog) -> None:
    clear, fog = photos_and_fog
    gap = imgstats.domain_gap(clear.head(20), fog.head(20), columns=["haze"], folds=4)
    assert gap.summary().startswith("domain gap AUC") and "haze" in repr(gap)
    assert os.path.basename(gap.scores["path"][0]).endswith(".png")
