"""Per-image edge cases: the images worth looking at before training or labelling.

Checks (thresholds in `DEFAULT_EDGE_THRESHOLDS`, documented in ``docs/coverage.md``):

- ``unreadable``: ``error`` is not null (the scan could not decode it).
- ``dark``: brightness < ``dark_brightness`` or dark_fraction >= ``dark_fraction``.
- ``overexposed``: brightness > ``overexposed_brightness`` or
  bright_fraction >= ``bright_fraction``.
- ``blurry``: sharpness < ``blurry_sharpness`` AND < ``blurry_relative`` x the dataset median.
- ``noisy``: noise >= ``noisy_sigma`` AND >= ``noisy_relative`` x the dataset median.
- ``low_information``: entropy of the 256-bin luma histogram < ``low_entropy_bits``.
- ``odd_size``: |ln(area) - median ln(area)| > max(ln(``odd_size_ratio``), 3 x 1.4826 x MAD).
- ``odd_aspect``: the same fence on ln(long side / short side) with floor
  ln(``odd_aspect_ratio``); portrait vs landscape is the coverage axis, not an oddity.
- ``tiny``: short side < ``tiny_side`` px AND < ``tiny_relative`` x the median short side.
- ``grayscale``: ``is_grayscale`` (by content) while grayscale images are a minority
  (share < ``grayscale_minority``).
- ``foggy``: haze >= ``foggy_haze`` and (when scanned) contrast < ``foggy_contrast`` -- the
  ``atmosphere`` axis's foggy bucket.
- ``motion_blurred``: motion_blur >= ``motion_blurred`` (stricter than the ``motion`` axis's 0.5,
  so the list holds the clear cases); the row carries ``blur_angle``, the motion direction.
- ``color_cast``: |warmth| >= ``cast_warmth`` or |tint| >= ``cast_tint`` (gray-world mean CIELAB
  b* / a*): a strong colour cast from the light (sodium, tungsten, green fluorescent, underwater).

How this fixes CleanVision's flaws:

- *Grayscale by mode only*: CleanVision flags ``L`` images and misses an RGB file whose three
  channels are equal. The scan's ``is_grayscale`` is judged on the pixels, and a dataset that is
  mostly grayscale (X-rays) does not get every image flagged.
- *Mode-dependent entropy*: ``PIL.Image.entropy()`` pools 768 bins for RGB and 256 for L, so the
  same picture scores differently by container. ``entropy`` here is always the luma histogram.
- *Blur border artefact*: CleanVision's FIND_EDGES at 64 px sees the unfiltered image border as
  an edge, so small or flat images look sharp. ``sharpness`` is the variance of a Laplacian with a
  reflected border (no artificial edge) at a fixed 640 px analysis size, and the rule is relative
  to the dataset so a soft-by-nature dataset does not flag every image.
- *Odd size when most images share one size*: an IQR of zero makes every other size an outlier.
  Here the spread has a floor (a factor ``odd_size_ratio`` in area), so only images far from the
  dominant size are flagged.
- *16-bit brightness*: CleanVision's brightness on 16-bit input is nonsense; the scan's
  ``brightness`` is on the 0-255 scale for every bit depth, so one threshold fits all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

import polars as pl

from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

DEFAULT_EDGE_THRESHOLDS: dict[str, float] = {
    "dark_brightness": 30.0,
    "dark_fraction": 0.6,
    "overexposed_brightness": 225.0,
    "bright_fraction": 0.3,
    "blurry_sharpness": 50.0,
    "blurry_relative": 0.25,
    "noisy_sigma": 8.0,
    "noisy_relative": 2.0,
    "low_entropy_bits": 4.0,
    "odd_size_ratio": 4.0,
    "odd_aspect_ratio": 1.5,
    "tiny_side": 32.0,
    "tiny_relative": 0.5,
    "grayscale_minority": 0.5,
    "foggy_haze": 0.5,
    "foggy_contrast": 45.0,
    "motion_blurred": 0.6,
    "cast_warmth": 60.0,
    "cast_tint": 40.0,
}

#: Reasons in the order they are checked and listed.
REASONS: tuple[str, ...] = (
    "unreadable",
    "dark",
    "overexposed",
    "blurry",
    "noisy",
    "low_information",
    "odd_size",
    "odd_aspect",
    "tiny",
    "grayscale",
    "foggy",
    "motion_blurred",
    "color_cast",
)

_VALUE_COLUMNS = (
    "error",
    "width",
    "height",
    "brightness",
    "dark_fraction",
    "bright_fraction",
    "sharpness",
    "noise",
    "entropy",
    "is_grayscale",
    "haze",
    "contrast",
    "motion_blur",
    "blur_angle",
    "warmth",
    "tint",
)

# 1.4826 x MAD estimates sigma for normal data; 3 sigma is the usual robust outlier fence.
_MAD_SIGMA = 1.4826
_FENCE = 3.0


def _num(df: pl.DataFrame, col: str) -> pl.Expr:
    c = pl.col(col).cast(pl.Float64)
    return pl.when(c.is_nan()).then(None).otherwise(c)


def _median(df: pl.DataFrame, expr: pl.Expr) -> float | None:
    value = df.select(expr.drop_nulls().median()).item()
    return None if value is None or not math.isfinite(value) else float(value)


def _robust_fence(df: pl.DataFrame, expr: pl.Expr, floor: float) -> tuple[float, float] | None:
    values = df.select(expr.drop_nulls().alias("v")).get_column("v").to_numpy()
    values = values[np.isfinite(values)]
    if values.size == 0:
        return None
    med = float(np.median(values))
    mad = float(np.median(np.abs(values - med)))
    return med, max(floor, _FENCE * _MAD_SIGMA * mad)


def _weather_checks(df: pl.DataFrame, cols: set[str], t: Mapping[str, float]) -> dict[str, pl.Expr]:
    """The weather and light reasons (absolute thresholds: fog and casts are not relative to the
    dataset -- a dataset that is all fog should list all of it)."""
    checks: dict[str, pl.Expr] = {}
    if "haze" in cols:
        foggy = _num(df, "haze") >= t["foggy_haze"]
        if "contrast" in cols:
            foggy = foggy & (_num(df, "contrast") < t["foggy_contrast"]).fill_null(True)
        checks["foggy"] = foggy
    if "motion_blur" in cols:
        checks["motion_blurred"] = _num(df, "motion_blur") >= t["motion_blurred"]
    cast = [
        _num(df, c).abs() >= t[key]
        for c, key in (("warmth", "cast_warmth"), ("tint", "cast_tint"))
        if c in cols
    ]
    if cast:
        checks["color_cast"] = pl.any_horizontal(cast)
    return checks


def edge_cases(
    df: pl.DataFrame | pl.LazyFrame, thresholds: Mapping[str, float] | None = None
) -> pl.DataFrame:
    """One row per flagged image: ``path``, ``reasons`` (list of str, in `REASONS` order) and the
    values that were judged (error, width, height, brightness, dark/bright fractions, sharpness,
    noise, entropy, is_grayscale -- those present). Checks whose columns are absent are skipped.

    ``thresholds`` overrides entries of `DEFAULT_EDGE_THRESHOLDS`. Dataset-relative rules
    (blurry, noisy, odd size/aspect, tiny, grayscale) use the readable rows of ``df`` itself.
    """
    df = df.collect() if isinstance(df, pl.LazyFrame) else df
    t = dict(DEFAULT_EDGE_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in t:
            raise ValueError(f"unknown edge-case threshold {key!r}; known: {', '.join(t)}")
        t[key] = float(value)
    cols = set(df.columns)
    if "path" not in cols:
        raise ValueError("edge_cases needs a 'path' column")
    ok = df.filter(pl.col("error").is_null()) if "error" in cols else df
    checks: dict[str, pl.Expr] = {}
    if "error" in cols:
        checks["unreadable"] = pl.col("error").is_not_null()
    if "brightness" in cols:
        b = _num(df, "brightness")
        dark = b < t["dark_brightness"]
        bright = b > t["overexposed_brightness"]
        if "dark_fraction" in cols:
            dark = dark | (_num(df, "dark_fraction") >= t["dark_fraction"])
        if "bright_fraction" in cols:
            bright = bright | (_num(df, "bright_fraction") >= t["bright_fraction"])
        checks["dark"] = dark
        checks["overexposed"] = bright
    if "sharpness" in cols:
        med = _median(ok, _num(ok, "sharpness"))
        if med is not None:
            s = _num(df, "sharpness")
            checks["blurry"] = (s < t["blurry_sharpness"]) & (s < t["blurry_relative"] * med)
    if "noise" in cols:
        med = _median(ok, _num(ok, "noise"))
        if med is not None:
            n = _num(df, "noise")
            checks["noisy"] = (n >= t["noisy_sigma"]) & (n >= t["noisy_relative"] * med)
    if "entropy" in cols:
        checks["low_information"] = _num(df, "entropy") < t["low_entropy_bits"]
    if {"width", "height"} <= cols:
        w, h = _num(df, "width"), _num(df, "height")
        valid = (w > 0) & (h > 0)
        log_area = pl.when(valid).then((w * h).log())
        fence = _robust_fence(ok, log_area, math.log(t["odd_size_ratio"]))
        if fence is not None:
            checks["odd_size"] = (log_area - fence[0]).abs() > fence[1]
        elong = pl.when(valid).then((pl.max_horizontal(w, h) / pl.min_horizontal(w, h)).log())
        fence = _robust_fence(ok, elong, math.log(t["odd_aspect_ratio"]))
        if fence is not None:
            checks["odd_aspect"] = (elong - fence[0]).abs() > fence[1]
        short = pl.when(valid).then(pl.min_horizontal(w, h))
        med = _median(ok, short)
        if med is not None:
            checks["tiny"] = (short < t["tiny_side"]) & (short < t["tiny_relative"] * med)
    if "is_grayscale" in cols:
        share = ok.select(pl.col("is_grayscale").cast(pl.Float64).mean()).item()
        if share is not None and share < t["grayscale_minority"]:
            checks["grayscale"] = pl.col("is_grayscale")
    checks.update(_weather_checks(df, cols, t))

    names = [r for r in REASONS if r in checks]
    values = [c for c in _VALUE_COLUMNS if c in cols]
    if not names:
        flagged = df.select("path", *values).clear()
        return flagged.insert_column(1, pl.Series("reasons", [], pl.List(pl.Utf8)))
    # Null comparisons (a missing metric) mean "not flagged", never "flagged". Reasons are packed
    # into a bit mask and expanded through a small lookup table of the distinct masks: building
    # a list per row with concat_list costs seconds at a million rows.
    mask = pl.sum_horizontal(
        [checks[r].fill_null(False).cast(pl.UInt32) * (1 << i) for i, r in enumerate(names)]
    ).alias("_mask")
    hits = df.select("path", *values, mask).filter(pl.col("_mask") > 0)
    distinct = hits.get_column("_mask").unique().sort().to_list()
    table = pl.DataFrame(
        {
            "_mask": distinct,
            "reasons": [[r for i, r in enumerate(names) if m >> i & 1] for m in distinct],
        },
        schema={"_mask": hits.schema["_mask"], "reasons": pl.List(pl.Utf8)},
    )
    return hits.join(table, on="_mask", how="left", maintain_order="left").select(
        "path", "reasons", *values
    )
