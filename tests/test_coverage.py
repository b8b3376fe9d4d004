"""Coverage cross-tab and gaps on frames with known buckets."""

from __future__ import annotations

import datetime as dt
import itertools
import warnings

import polars as pl
import pytest
from imgstats.buckets import DEFAULT_THRESHOLDS, resolve_axes
from imgstats.coverage import coverage, coverage_wide, gaps


def _frame() -> pl.DataFrame:
    # Row by row, with the bucket each axis must give (checked below).
    rows = [
        # class, brightness, dark_f, bright_f, sharpness, noise, w, h, make, model, q, hour
        ("cat", 10.0, 0.0, 0.0, 5.0, 1.0, 640, 480, "Canon", "Canon EOS 5D", 90, 3),
        ("cat", 60.0, 0.1, 0.0, 30.0, 3.0, 480, 640, None, None, 90, 6),
        ("cat", 120.0, 0.7, 0.0, 120.0, 7.0, 100, 100, None, None, None, 12),
        ("dog", 200.0, 0.0, 0.0, 1000.0, 20.0, 4000, 3000, " Apple ", "iPhone 12", 95, 18),
        ("dog", 250.0, 0.0, 0.0, 500.0, 1.0, 3000, 4000, None, None, 95, 23),
        ("dog", 120.0, 0.0, 0.4, 49.9, 2.0, 1000, 1000, None, None, 95, None),
    ]
    cols = [
        "class",
        "brightness",
        "dark_fraction",
        "bright_fraction",
        "sharpness",
        "noise",
        "width",
        "height",
        "camera_make",
        "camera_model",
        "jpeg_quality",
        "hour",
    ]
    df = pl.DataFrame(rows, schema=cols, orient="row")
    return df.with_columns(
        pl.col("width", "height").cast(pl.UInt32),
        pl.col("jpeg_quality").cast(pl.UInt8),
        pl.when(pl.col("hour").is_null())
        .then(None)
        .otherwise(pl.datetime(2024, 1, 1) + pl.duration(hours=pl.col("hour")))
        .cast(pl.Datetime("us"))
        .alias("captured_at"),
    ).drop("hour")


EXPECTED = {
    "lighting": ["dark", "dim", "dark", "bright", "overexposed", "overexposed"],
    "sharpness": ["very_blurry", "blurry", "soft", "sharp", "sharp", "blurry"],
    "noise": ["clean", "low", "moderate", "high", "clean", "low"],
    "camera": [
        "Canon EOS 5D",
        "640x480 q90",
        "100x100",
        "Apple iPhone 12",
        "4000x3000 q95",
        "1000x1000 q95",
    ],
    "resolution": ["small", "small", "tiny", "huge", "huge", "medium"],
    "time_of_day": ["night", "morning", "afternoon", "evening", "night", "unknown"],
    "orientation": ["landscape", "portrait", "square", "landscape", "portrait", "square"],
}


def test_counts_match_brute_force_including_zero_cells() -> None:
    df = _frame()
    cov = coverage(df, by="class")
    assert cov.columns[:6] == ["class", "axis", "bucket", "count", "share", "by_total"]
    assert cov.get_column("axis").unique(maintain_order=True).to_list() == list(EXPECTED)
    classes = df.get_column("class").to_list()
    for axis, labels in EXPECTED.items():
        sub = cov.filter(pl.col("axis") == axis)
        levels = sub.filter(pl.col("class") == "cat").get_column("bucket").to_list()
        # Every class has every bucket: zero cells are rows.
        assert sub.height == 2 * len(levels)
        for cls, bucket in itertools.product(["cat", "dog"], levels):
            want = sum(1 for c, b in zip(classes, labels) if c == cls and b == bucket)
            got = sub.filter((pl.col("class") == cls) & (pl.col("bucket") == bucket))
            assert got.get_column("count").item() == want, (axis, cls, bucket)
            assert got.get_column("share").item() == pytest.approx(want / 3)
        fixed = {"lighting", "sharpness", "noise", "resolution", "time_of_day", "orientation"}
        if axis in fixed:
            # The fixed levels come first in their documented order.
            base = DEFAULT_THRESHOLDS.get(axis, {}).get("labels")
            if base:
                assert levels[: len(base)] == list(base)


def test_unknown_only_when_observed_and_levels_ordered() -> None:
    cov = coverage(_frame(), by="class")
    tod = cov.filter((pl.col("axis") == "time_of_day") & (pl.col("class") == "dog"))
    assert tod.get_column("bucket").to_list() == [
        "night",
        "morning",
        "afternoon",
        "evening",
        "unknown",
    ]
    light = cov.filter((pl.col("axis") == "lighting") & (pl.col("class") == "cat"))
    assert light.get_column("bucket").to_list() == [
        "dark",
        "dim",
        "normal",
        "bright",
        "overexposed",
    ]


def test_by_none_custom_axes_and_thresholds() -> None:
    df = _frame().with_columns(pl.Series("site", ["a", "a", "b", "b", "b", None]))
    cov = coverage(
        df,
        by=None,
        axes={"lighting": None, "site": "site", "big": pl.col("width") > 1000},
        thresholds={"lighting": {"dark_below": 5.0, "dark_fraction": 0.9}},
    )
    assert cov.columns[0] == "group"
    counts = dict(
        zip(
            cov.select(pl.concat_str("axis", "bucket", separator=":")).to_series().to_list(),
            cov.get_column("count").to_list(),
        )
    )
    # dark_below 5 and dark_fraction 0.9: the 10-luma image is now dim, the 0.7-dark one normal.
    assert counts["lighting:dark"] == 0 and counts["lighting:dim"] == 2
    assert counts["site:b"] == 3 and counts["site:a"] == 2 and counts["site:unknown"] == 1
    assert counts["big:true"] == 2 and counts["big:false"] == 4
    with pytest.raises(ValueError, match="unknown threshold"):
        coverage(df, by=None, thresholds={"lighting": {"nope": 1}})
    with pytest.raises(ValueError, match="neither a built-in axis nor a column"):
        coverage(df, by=None, axes=["weather"])


def test_sharpness_falls_back_to_blur_with_a_note() -> None:
    df = _frame().rename({"sharpness": "blur"})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cov = coverage(df, by="class", axes=["sharpness"])
    assert any("blur" in str(w.message) for w in caught)
    assert set(cov.get_column("source").to_list()) == {"blur"}
    assert cov.filter(pl.col("bucket") == "sharp").get_column("count").sum() == 2


def test_failed_rows_are_unknown_and_camera_capped() -> None:
    df = pl.concat(
        [_frame(), pl.DataFrame({"class": ["cat"]}).with_columns(pl.lit(None).alias("brightness"))],
        how="diagonal_relaxed",
    )
    cov = coverage(df, by="class", thresholds={"camera": {"top_n": 2}})
    cam = cov.filter((pl.col("axis") == "camera") & (pl.col("class") == "cat"))
    # Six distinct labels, top 2 kept (ties broken by name), the rest "other".
    assert set(cam.get_column("bucket")) == {"100x100", "1000x1000 q95", "other", "unknown"}
    light = cov.filter((pl.col("axis") == "lighting") & (pl.col("bucket") == "unknown"))
    assert light.filter(pl.col("class") == "cat").get_column("count").item() == 1


def test_gaps_are_empty_and_thin_cells_sorted_by_severity() -> None:
    df = _frame()
    cov = coverage(df, by="class")
    g = gaps(cov, min_count=2)
    assert set(g.get_column("status")) == {"empty", "thin"}
    assert (g.get_column("count") < 2).all()
    assert "unknown" not in g.get_column("bucket").to_list()
    # Empty cells first.
    statuses = g.get_column("status").to_list()
    assert statuses == sorted(statuses)  # "empty" < "thin"
    assert (g.get_column("needed") == 2 - g.get_column("count").cast(pl.Int64)).all()
    # Never-observed fixed level: nobody is "normal"-lit at all, so both classes need it.
    normal = g.filter((pl.col("axis") == "lighting") & (pl.col("bucket") == "normal"))
    assert sorted(normal.get_column("class").to_list()) == ["cat", "dog"]
    # A camera seen once in the dataset is not a collection target for the other class.
    assert g.filter(pl.col("axis") == "camera").height == 0
    # Exact count of candidate cells, brute force over the coverage rows.
    fixed = cov.filter(
        pl.col("axis").is_in(
            ["lighting", "sharpness", "noise", "resolution", "time_of_day", "orientation"]
        )
        & (pl.col("bucket") != "unknown")
        & (pl.col("count") < 2)
    )
    assert g.height == fixed.height


def test_axis_without_any_known_value_has_no_gaps() -> None:
    df = _frame().with_columns(pl.lit(None, pl.Datetime("us")).alias("captured_at"))
    cov = coverage(df, by="class", axes=["time_of_day", "orientation"])
    assert cov.filter(pl.col("axis") == "time_of_day").get_column("count").sum() == 6
    g = gaps(cov, min_count=2)
    assert g.filter(pl.col("axis") == "time_of_day").height == 0
    assert g.filter(pl.col("axis") == "orientation").height == 6


def test_wide_pivot() -> None:
    cov = coverage(_frame(), by="class", axes=["orientation"])
    wide = coverage_wide(cov)
    assert wide.columns == [
        "class",
        "orientation:landscape",
        "orientation:square",
        "orientation:portrait",
    ]
    assert wide.row(0) == ("cat", 1, 1, 1)
    assert wide.row(1) == ("dog", 1, 1, 1)


def test_builtin_axes_skip_missing_columns() -> None:
    df = pl.DataFrame({"brightness": [1.0], "captured_at": [dt.datetime(2024, 1, 1, 8)]})
    assert [s.name for s in resolve_axes(df.columns)] == ["lighting", "time_of_day"]
    with pytest.raises(ValueError, match="needs the 'noise' column"):
        resolve_axes(df.columns, ["noise"])
