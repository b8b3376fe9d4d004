"""The weather axes (atmosphere, light_color, motion) and edge cases (foggy, motion_blurred,
color_cast) on synthetic scan frames carrying the weather columns."""

from __future__ import annotations

import math

import imgstats
import polars as pl
import pytest
from imgstats.buckets import BUILTIN_AXES, builtin_axis, resolve_axes
from imgstats.edge_cases import edge_cases

NAN = math.nan


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "path": [f"img{i}.jpg" for i in range(9)],
            "haze": [0.05, 0.34, 0.35, 0.49, 0.5, 0.7, 0.8, None, NAN],
            "contrast": [60.0, 50.0, 50.0, 30.0, 30.0, 20.0, 80.0, 40.0, 40.0],
            "warmth": [0.0, 19.9, 20.0, -20.0, -19.9, 65.0, -61.0, None, 5.0],
            "tint": [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -45.0, 39.9],
            "motion_blur": [0.1, 0.49, 0.5, 0.59, 0.6, 0.9, None, NAN, 0.2],
            "blur_angle": [10.0, 20.0, 30.0, 40.0, 50.0, 135.0, None, None, 0.0],
        }
    )


def _labels(name: str, df: pl.DataFrame) -> list[str]:
    return builtin_axis(name, df.columns).evaluate(df).to_list()


def test_new_axes_are_builtin_and_found_when_columns_exist() -> None:
    assert {"atmosphere", "light_color", "motion"} <= set(BUILTIN_AXES)
    names = [s.name for s in resolve_axes(_frame().columns)]
    assert {"atmosphere", "light_color", "motion"} <= set(names)
    assert "atmosphere" not in [s.name for s in resolve_axes(["path", "brightness"])]


def test_atmosphere_buckets_with_contrast_veto() -> None:
    # haze 0.8 with contrast 80: bright and contrasty (snow, a white wall), so hazy, not foggy.
    assert _labels("atmosphere", _frame()) == [
        "clear", "clear", "hazy", "hazy", "foggy", "foggy", "hazy", "unknown", "unknown",
    ]  # fmt: skip
    no_contrast = _frame().drop("contrast")
    assert _labels("atmosphere", no_contrast)[6] == "foggy"
    spec = builtin_axis("atmosphere", _frame().columns)
    assert spec.levels == ("clear", "hazy", "foggy") and spec.source == "haze,contrast"


def test_light_color_and_motion_buckets() -> None:
    assert _labels("light_color", _frame()) == [
        "neutral", "neutral", "warm", "cool", "neutral", "warm", "cool", "unknown", "neutral",
    ]  # fmt: skip
    assert _labels("motion", _frame()) == [
        "steady", "steady", "motion_blurred", "motion_blurred", "motion_blurred",
        "motion_blurred", "unknown", "unknown", "steady",
    ]  # fmt: skip


def test_thresholds_override_and_typos_are_errors() -> None:
    spec = builtin_axis("motion", _frame().columns, {"motion": {"motion_blurred_above": 0.95}})
    assert set(spec.evaluate(_frame()).to_list()) == {"steady", "unknown"}
    with pytest.raises(ValueError, match="unknown threshold motion.cut"):
        builtin_axis("motion", _frame().columns, {"motion": {"cut": 0.1}})


def test_coverage_counts_every_weather_bucket() -> None:
    df = _frame().with_columns(pl.Series("class", ["a"] * 5 + ["b"] * 4))
    cov = imgstats.coverage(df, by="class", axes=["atmosphere", "motion"])
    got = {(r["class"], r["axis"], r["bucket"]): r["count"] for r in cov.iter_rows(named=True)}
    assert got[("a", "atmosphere", "foggy")] == 1
    assert got[("b", "atmosphere", "foggy")] == 1
    assert got[("b", "atmosphere", "clear")] == 0  # a gap: class b never seen in clear air
    assert got[("a", "motion", "motion_blurred")] == 3
    gaps = imgstats.gaps(cov, min_count=1)
    assert ("b", "atmosphere", "clear") in {
        (r["class"], r["axis"], r["bucket"]) for r in gaps.iter_rows(named=True)
    }


def test_drift_flags_a_foggy_production_set() -> None:
    n = 400
    ref = pl.DataFrame({"haze": [0.1 + 0.2 * (i % 10) / 10 for i in range(n)]})
    cur = pl.DataFrame({"haze": [0.55 + 0.2 * (i % 10) / 10 for i in range(n)]})
    res = imgstats.drift(ref, cur, columns=["haze"], axes=["atmosphere"])
    row = res.filter((pl.col("kind") == "bucket") & (pl.col("bucket") == "foggy")).row(
        0, named=True
    )
    assert row["reference_share"] == 0 and row["current_share"] == 1 and row["flag"]
    assert res.filter(pl.col("kind") == "statistic")["flag"].to_list() == [True]


def test_edge_cases_foggy_motion_blurred_color_cast() -> None:
    out = edge_cases(_frame())
    reasons = {r["path"]: r["reasons"] for r in out.iter_rows(named=True)}
    assert reasons == {
        "img4.jpg": ["foggy", "motion_blurred"],
        "img5.jpg": ["foggy", "motion_blurred", "color_cast"],
        "img6.jpg": ["color_cast"],
        "img7.jpg": ["color_cast"],
    }
    # The motion-blurred rows carry their direction.
    assert out.filter(pl.col("path") == "img5.jpg")["blur_angle"].item() == 135.0
    for col in ("haze", "contrast", "motion_blur", "blur_angle", "warmth", "tint"):
        assert col in out.columns


def test_edge_case_thresholds_can_be_overridden() -> None:
    out = edge_cases(_frame(), {"motion_blurred": 0.45, "cast_tint": 100, "cast_warmth": 100})
    flagged = {r["path"] for r in out.iter_rows(named=True) if "motion_blurred" in r["reasons"]}
    assert flagged == {"img1.jpg", "img2.jpg", "img3.jpg", "img4.jpg", "img5.jpg"}
    assert not any("color_cast" in r for r in out["reasons"].to_list())
