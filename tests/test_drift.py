"""Drift statistics against scipy (a test-only dependency) and hand-computed PSI."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from imgstats.drift import (
    PSI_EPSILON,
    drift,
    kolmogorov_sf,
    ks_2samp,
    psi,
    psi_bins,
    reference_scale,
    wasserstein,
)
from scipy import stats

CASES = [
    # n, m, shift, rounding (ties), distribution
    (50, 60, 0.0, None, "normal"),
    (200, 300, 0.3, None, "normal"),
    (1000, 800, 0.1, 1, "normal"),
    (5000, 7000, 0.05, None, "lognormal"),
    (20000, 30000, 0.02, 2, "normal"),
    (100, 100, 1.0, None, "normal"),
    (37, 41, 0.5, 0, "lognormal"),
]


def _samples(n, m, shift, rounding, dist, seed):
    rng = np.random.default_rng(seed)
    draw = rng.normal if dist == "normal" else rng.lognormal
    a, b = draw(0.0, 1.0, n), draw(shift, 1.0, m)
    if rounding is not None:
        a, b = a.round(rounding), b.round(rounding)
    return a, b


def _check_pvalue(p: float, ref: float) -> None:
    # scipy's asymptotic p uses the exact one-sample law at n = round(nm/(n+m)); ours uses
    # Stephens' corrected limiting law. Measured over 300 random cases: within 4.2 % of
    # max(p, 0.2) in the body, within 0.75 decades in the far tail (p < 1e-4).
    if ref > 1e-4:
        assert abs(p - ref) <= 0.05 * max(ref, 0.2)
    else:
        assert p < 1e-3 and abs(math.log10(max(p, 1e-300)) - math.log10(max(ref, 1e-300))) < 1.0


@pytest.mark.parametrize("index", range(len(CASES)))
def test_ks_and_wasserstein_match_scipy(index: int) -> None:
    a, b = _samples(*CASES[index], seed=index)
    d, p = ks_2samp(a, b)
    ref = stats.ks_2samp(a, b, method="asymp")
    assert d == pytest.approx(ref.statistic, abs=1e-12)
    _check_pvalue(p, ref.pvalue)
    assert wasserstein(a, b) == pytest.approx(stats.wasserstein_distance(a, b), rel=1e-9, abs=1e-12)


def test_ks_random_sweep_against_scipy() -> None:
    for seed in range(60):
        rng = np.random.default_rng(1000 + seed)
        n, m = rng.integers(20, 3000, 2)
        a, b = rng.normal(size=n), rng.normal(rng.uniform(0, 0.6), size=m)
        if seed % 3 == 0:
            a, b = a.round(1), b.round(1)  # ties
        d, p = ks_2samp(a, b)
        ref = stats.ks_2samp(a, b, method="asymp")
        assert d == pytest.approx(ref.statistic, abs=1e-12)
        _check_pvalue(p, ref.pvalue)


def test_kolmogorov_sf_matches_kstwobign() -> None:
    for x in [0.05, 0.3, 0.6, 0.9, 1.0, 1.17, 1.18, 1.2, 1.5, 2.0, 3.0]:
        assert kolmogorov_sf(x) == pytest.approx(stats.kstwobign.sf(x), abs=1e-9)
    assert kolmogorov_sf(0.0) == 1.0


def test_psi_hand_computed() -> None:
    # Reference 0..99: deciles 9.9, 19.8, ...; no point masses. Current all in the lowest bin.
    ref = np.arange(100, dtype=float)
    cur = np.zeros(50)
    edges, point = psi_bins(ref)
    assert edges.size == 9 and not point.any()
    r = np.full(10, 0.1)
    c = np.array([1.0] + [0.0] * 9)
    c_eps = np.maximum(c, PSI_EPSILON)
    want = float(np.sum((c_eps - r) * np.log(c_eps / r)))
    assert psi(ref, cur) == pytest.approx(want)
    assert psi(ref, ref) == pytest.approx(0.0, abs=1e-12)


def test_psi_discrete_values_get_point_bins() -> None:
    # 90 % of widths are 640: quantile bins collapse; the point bin keeps the shift visible.
    ref = np.array([640.0] * 90 + [1024.0] * 10)
    cur = np.array([640.0] * 50 + [1024.0] * 50)
    edges, point = psi_bins(ref)
    # Deciles 0.1..0.8 all equal 640 (one point bin); the 0.9 decile interpolates to 678.4.
    assert edges.tolist() == pytest.approx([640.0, 678.4]) and point.tolist() == [True, False]
    want = (0.5 - 0.9) * math.log(0.5 / 0.9) + (0.5 - 0.1) * math.log(0.5 / 0.1)
    assert psi(ref, cur) == pytest.approx(want)
    # A value between the two is its own interval bin, empty in the reference.
    assert psi(ref, np.array([800.0] * 10)) > 5


def test_reference_scale_fallbacks() -> None:
    assert reference_scale(np.arange(101.0)) == pytest.approx(50.0)
    assert reference_scale(np.array([1.0] * 90 + [5.0] * 10)) == pytest.approx(
        np.std([1.0] * 90 + [5.0] * 10)
    )
    assert reference_scale(np.full(10, 640.0)) == 640.0
    assert reference_scale(np.zeros(10)) == 1.0


def _scan_like(n, seed, brightness_shift=0.0, dark_share=0.05):
    rng = np.random.default_rng(seed)
    b = rng.normal(120 + brightness_shift, 30, n)
    dark = rng.random(n) < dark_share
    b[dark] = rng.uniform(0, 30, dark.sum())
    return pl.DataFrame(
        {
            "brightness": b.astype(np.float32),
            "noise": rng.lognormal(1, 0.5, n).astype(np.float32),
            "width": np.full(n, 640, np.uint32),
            "height": np.full(n, 480, np.uint32),
        }
    )


def test_drift_flags_what_moved_and_only_that() -> None:
    ref = _scan_like(20000, 1)
    same = _scan_like(20000, 2)
    moved = _scan_like(20000, 3, brightness_shift=-25, dark_share=0.25)
    quiet = drift(ref, same)
    assert not quiet.filter(pl.col("flag")).height, quiet.filter(pl.col("flag"))
    res = drift(ref, moved)
    stat = res.filter(pl.col("kind") == "statistic")
    assert stat.get_column("column").to_list() == ["brightness", "noise", "width", "height"]
    b = stat.filter(pl.col("column") == "brightness").row(0, named=True)
    assert b["flag"] and b["psi"] > 0.2 and b["ks_statistic"] > 0.1
    assert set(b["reasons"]) == {"psi>0.2", "ks>0.1", "wasserstein>0.25"}
    assert b["ks_statistic"] == pytest.approx(
        stats.ks_2samp(ref["brightness"].to_numpy(), moved["brightness"].to_numpy()).statistic
    )
    assert not stat.filter(pl.col("column") != "brightness").get_column("flag").any()
    dark = res.filter((pl.col("kind") == "bucket") & (pl.col("bucket") == "dark")).row(
        0, named=True
    )
    assert dark["column"] == "lighting" and dark["flag"]
    assert dark["share_shift"] == pytest.approx(dark["current_share"] - dark["reference_share"])
    assert 0.15 < dark["share_shift"] < 0.25
    axis = res.filter((pl.col("kind") == "axis") & (pl.col("column") == "lighting"))
    assert axis.get_column("flag").item()
    # Shares of each axis sum to one on both sides.
    sums = (
        res.filter(pl.col("kind") == "bucket")
        .group_by("column")
        .agg(pl.col("reference_share").sum(), pl.col("current_share").sum())
    )
    assert np.allclose(sums.get_column("reference_share").to_numpy(), 1.0)
    assert np.allclose(sums.get_column("current_share").to_numpy(), 1.0)


def test_small_samples_need_significance() -> None:
    # Two small draws from one distribution: PSI over 10 bins is large by chance alone
    # (expected ~ 9 * (1/27 + 1/12) ~ 1.1), yet nothing may be flagged.
    ref, cur = _scan_like(27, 11), _scan_like(12, 12)
    res = drift(ref, cur)
    b = res.filter(pl.col("column") == "brightness").row(0, named=True)
    assert b["psi"] > 0.2 and not b["flag"]
    assert b["reasons"][-1].startswith("not significant")
    assert not res.get_column("flag").any()


def test_share_pvalue_matches_chi_square() -> None:
    from imgstats.drift import share_pvalue

    for x1, n1, x2, n2 in [(10, 100, 25, 120), (500, 10000, 560, 9000), (3, 30, 1, 12)]:
        table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
        ref = stats.chi2_contingency(table, correction=False).pvalue
        assert share_pvalue(x1 / n1, n1, x2 / n2, n2) == pytest.approx(ref, rel=1e-9)
    assert share_pvalue(0.0, 10, 0.0, 10) == 1.0


def test_drift_thresholds_overridable_and_nulls_dropped() -> None:
    ref = _scan_like(2000, 1)
    cur = _scan_like(2000, 2, brightness_shift=-8).with_columns(
        pl.when(pl.int_range(pl.len()) < 100)
        .then(None)
        .otherwise(pl.col("brightness"))
        .alias("brightness")
    )
    strict = drift(ref, cur, columns=["brightness"], axes=[], wasserstein_threshold=0.05)
    row = strict.row(0, named=True)
    assert row["n_current"] == 1900
    assert row["flag"] and "wasserstein>0.05" in row["reasons"]
    assert strict.height == 1  # axes=[] skips the bucket comparison
    with pytest.raises(ValueError, match="missing"):
        drift(ref, cur, columns=["sharpness"])
