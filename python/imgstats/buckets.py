"""Environment buckets shared by `coverage`, `drift`, `edge_cases` and the report.

Each *axis* turns one or more scan columns into a string bucket label per image. Built-in axes
(thresholds in `DEFAULT_THRESHOLDS`, documented in ``docs/coverage.md``):

- ``lighting``: dark / dim / normal / bright / overexposed, from mean luma (``brightness``, 0-255)
  and the clipped shares ``dark_fraction`` / ``bright_fraction``.
- ``sharpness``: very_blurry / blurry / soft / sharp from ``sharpness`` (variance of the
  Laplacian on luma resized to a 640 px long side, so cameras compare); falls back to ``blur``
  (native resolution) with a warning when ``sharpness`` is absent.
- ``noise``: clean / low / moderate / high from the Immerkær sigma.
- ``camera``: EXIF make + model, else a proxy ``"LONGxSHORT qNN"`` from the resolution and the
  JPEG quality; capped to the ``top_n`` most frequent labels, the rest is ``"other"``.
- ``resolution``: tiny / small / medium / large / huge by megapixels.
- ``time_of_day``: night / morning / afternoon / evening from ``captured_at`` (EXIF local time).
- ``orientation``: landscape / portrait / square from the (EXIF-rotated) width and height.
- ``atmosphere``: clear / hazy / foggy from ``haze`` (dark channel prior, 0-1) and ``contrast``.
- ``light_color``: warm / neutral / cool from ``warmth`` (gray-world mean CIELAB b*).
- ``motion``: steady / motion_blurred from ``motion_blur`` (structure-tensor anisotropy, 0-1).

Missing values (failed reads, a null capture time) land in ``"unknown"``. Thresholds are plain
dictionaries: pass ``thresholds={"noise": {"edges": (3, 6, 12)}}`` to override part of one axis.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

import polars as pl

if TYPE_CHECKING:
    from polars.expr.whenthen import ChainedThen, Then

UNKNOWN = "unknown"
OTHER = "other"

#: Mean-luma cut points (0-255) and clipped-pixel shares for the lighting axis. Checked in this
#: order: brightness < dark_below -> dark; brightness > overexposed_above -> overexposed;
#: dark_fraction >= dark_fraction -> dark; bright_fraction >= bright_fraction -> overexposed;
#: brightness < dim_below -> dim; brightness > bright_above -> bright; else normal.
LIGHTING_THRESHOLDS: dict[str, float] = {
    "dark_below": 40.0,
    "dim_below": 85.0,
    "bright_above": 170.0,
    "overexposed_above": 215.0,
    "dark_fraction": 0.5,
    "bright_fraction": 0.25,
}
#: Variance of the Laplacian at the 640 px analysis size; bucket i holds edges[i-1] <= v < edges[i].
#: Calibrated with the real scan on 56 wallpapers/photos: originals median 310 (quartiles 126 and
#: 640); the same images Gaussian-blurred with sigma 1 px at 640 px: median 13 (q75 48); sigma 2:
#: median 3.3.
SHARPNESS_THRESHOLDS: dict[str, Any] = {
    "edges": (10.0, 50.0, 200.0),
    "labels": ("very_blurry", "blurry", "soft", "sharp"),
}
#: Immerkær noise sigma in luma levels (0-255). Measured with the real scan on 20 photos (PNG):
#: clean originals median 0.65, q95 5.0 (texture leaks into the estimate); independent Gaussian
#: RGB noise of sigma 2 / 5 / 10 / 20 reads 1.5 / 3.4 / 6.7 / 13.3 (luma averages the channels).
NOISE_THRESHOLDS: dict[str, Any] = {
    "edges": (2.0, 5.0, 10.0),
    "labels": ("clean", "low", "moderate", "high"),
}
#: Megapixels (width * height / 1e6).
RESOLUTION_THRESHOLDS: dict[str, Any] = {
    "edges": (0.1, 0.5, 2.0, 8.0),
    "labels": ("tiny", "small", "medium", "large", "huge"),
}
#: Hour (0-23, EXIF local time) at which each period starts; night wraps around midnight.
TIME_OF_DAY_THRESHOLDS: dict[str, int] = {"morning": 5, "afternoon": 12, "evening": 17, "night": 22}
#: An image is square when long side / short side <= 1 + square_tolerance.
ORIENTATION_THRESHOLDS: dict[str, float] = {"square_tolerance": 0.05}
#: Keep the top_n most frequent camera labels, fold the rest into "other".
CAMERA_THRESHOLDS: dict[str, int] = {"top_n": 20}

#: Dark-channel haze (0-1) and luma std. Calibrated with ``benches/calibrate_weather.py`` on the
#: 74 Debian wallpapers at 512 px: originals median 0.155 (q75 0.27, q95 0.49); under uniform fog
#: I = J t + 0.9*255 (1 - t) the median is 0.30 / 0.45 / 0.60 at t = 0.8 / 0.6 / 0.4, and the
#: contrast falls from median 37 to 30 / 22 / 15. foggy: haze >= foggy_above and (when the column
#: exists) contrast < foggy_contrast_below -- a bright but contrasty scene is not fog; hazy: haze
#: >= hazy_above. Originals: 82 % clear, 12 % hazy, 5 % foggy; t = 0.6: 0 % clear; t = 0.4: 100 %
#: foggy.
ATMOSPHERE_THRESHOLDS: dict[str, float] = {
    "hazy_above": 0.35,
    "foggy_above": 0.5,
    "foggy_contrast_below": 45.0,
}
#: Gray-world mean CIELAB b* (warmth). Wallpapers at 512 px: originals median 0.0 (q25 -13, q75
#: +15); a white-balance gain R x1.2, B x0.8 moves the median by +12, the reverse by -10. With
#: +-20: originals 19 % warm and 19 % cool (colourful artwork); after R x1.2, B x0.8, 34 % warm.
LIGHT_COLOR_THRESHOLDS: dict[str, float] = {"warm_above": 20.0, "cool_below": -20.0}
#: Fine-to-coarse structure-tensor anisotropy (0-1). Wallpapers at 512 px: originals median 0.18
#: (q95 0.75); with a 7 px / 15 px linear motion blur median 0.70 / 0.74. At 0.5: 13.5 % of the
#: originals, 84.5 % / 83.4 % of the blurred (photographs only: 11.5 %, 89 % / 93 %).
MOTION_THRESHOLDS: dict[str, float] = {"motion_blurred_above": 0.5}

DEFAULT_THRESHOLDS: dict[str, dict[str, Any]] = {
    "lighting": LIGHTING_THRESHOLDS,
    "sharpness": SHARPNESS_THRESHOLDS,
    "noise": NOISE_THRESHOLDS,
    "camera": CAMERA_THRESHOLDS,
    "resolution": RESOLUTION_THRESHOLDS,
    "time_of_day": TIME_OF_DAY_THRESHOLDS,
    "orientation": ORIENTATION_THRESHOLDS,
    "atmosphere": ATMOSPHERE_THRESHOLDS,
    "light_color": LIGHT_COLOR_THRESHOLDS,
    "motion": MOTION_THRESHOLDS,
}

#: Built-in axes in display order.
BUILTIN_AXES: tuple[str, ...] = tuple(DEFAULT_THRESHOLDS)

AxisDef = Union[str, pl.Expr, None]
AxesArg = Union[Sequence[str], Mapping[str, AxisDef], None]


@dataclass(frozen=True)
class AxisSpec:
    """One bucket axis: a Utf8 expression (never null) and its ordered levels.

    ``levels`` are the buckets that should exist (so a zero count is a gap); ``None`` means the
    levels are whatever values occur (camera, user axes). ``source`` names the columns used;
    ``note`` explains a fallback.
    """

    name: str
    expr: pl.Expr
    levels: tuple[str, ...] | None
    source: str
    note: str | None = None
    top_n: int | None = None
    #: Input columns of ``expr`` when it is cheaper to evaluate on their distinct combinations
    #: (string building for the camera label) and join back.
    distinct_on: tuple[str, ...] | None = None

    def evaluate(self, df: pl.DataFrame) -> pl.Series:
        """The bucket label of every row of ``df`` (Utf8, never null)."""
        if not self.distinct_on:
            return df.select(self.expr.alias(self.name)).to_series()
        keys = list(self.distinct_on)
        distinct = df.select(keys).unique().with_columns(self.expr.alias(self.name))
        joined = df.select(keys).join(
            distinct, on=keys, how="left", nulls_equal=True, maintain_order="left"
        )
        return joined.get_column(self.name)


def merged_thresholds(
    thresholds: Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """Defaults with the user's per-axis overrides applied (unknown keys are errors)."""
    out = copy.deepcopy(DEFAULT_THRESHOLDS)
    for axis, params in (thresholds or {}).items():
        if axis not in out:
            raise ValueError(f"unknown threshold axis {axis!r}; known: {', '.join(out)}")
        for key, value in params.items():
            if key not in out[axis]:
                raise ValueError(f"unknown threshold {axis}.{key}; known: {', '.join(out[axis])}")
            out[axis][key] = value
    return out


def _finite(col: str) -> pl.Expr:
    c = pl.col(col).cast(pl.Float64)
    # NaN is treated like null: a failed metric, never a bucket boundary case.
    return pl.when(c.is_nan()).then(None).otherwise(c)


def _binned(value: pl.Expr, edges: Sequence[float], labels: Sequence[str]) -> pl.Expr:
    if len(labels) != len(edges) + 1:
        raise ValueError(f"{len(edges)} edges need {len(edges) + 1} labels, got {len(labels)}")
    if list(edges) != sorted(edges):
        raise ValueError(f"edges must be increasing: {edges}")
    expr: Then | ChainedThen = pl.when(value.is_null()).then(pl.lit(UNKNOWN))
    for edge, label in zip(edges, labels):
        expr = expr.when(value < edge).then(pl.lit(label))
    return expr.otherwise(pl.lit(labels[-1]))


def _lighting(cols: set[str], t: Mapping[str, float]) -> AxisSpec:
    b = _finite("brightness")
    dark_f = _finite("dark_fraction") if "dark_fraction" in cols else pl.lit(None, pl.Float64)
    bright_f = _finite("bright_fraction") if "bright_fraction" in cols else pl.lit(None, pl.Float64)
    expr = (
        pl.when(b.is_null())
        .then(pl.lit(UNKNOWN))
        .when(b < t["dark_below"])
        .then(pl.lit("dark"))
        .when(b > t["overexposed_above"])
        .then(pl.lit("overexposed"))
        .when(dark_f >= t["dark_fraction"])
        .then(pl.lit("dark"))
        .when(bright_f >= t["bright_fraction"])
        .then(pl.lit("overexposed"))
        .when(b < t["dim_below"])
        .then(pl.lit("dim"))
        .when(b > t["bright_above"])
        .then(pl.lit("bright"))
        .otherwise(pl.lit("normal"))
    )
    used = [c for c in ("brightness", "dark_fraction", "bright_fraction") if c in cols]
    levels = ("dark", "dim", "normal", "bright", "overexposed")
    return AxisSpec("lighting", expr, levels, ",".join(used))


def _camera(cols: set[str], t: Mapping[str, int]) -> AxisSpec:
    def clean(c: str) -> pl.Expr:
        if c not in cols:
            return pl.lit(None, pl.Utf8)
        s = pl.col(c).cast(pl.Utf8).str.strip_chars().str.replace_all(r"\s+", " ")
        return pl.when(s == "").then(None).otherwise(s)

    make, model = clean("camera_make"), clean("camera_model")
    # "Canon" + "Canon EOS 5D" should read "Canon EOS 5D", not "Canon Canon EOS 5D".
    exif = (
        pl.when(model.is_null())
        .then(make)
        .when(make.is_null())
        .then(model)
        .when(model.str.to_lowercase().str.starts_with(make.str.to_lowercase()))
        .then(model)
        .otherwise(pl.concat_str([make, model], separator=" "))
    )
    if {"width", "height"} <= cols:
        w, h = pl.col("width").cast(pl.Int64), pl.col("height").cast(pl.Int64)
        # Long x short so the same camera held in portrait gives the same proxy.
        size = pl.concat_str(
            [pl.max_horizontal(w, h).cast(pl.Utf8), pl.min_horizontal(w, h).cast(pl.Utf8)],
            separator="x",
        )
        if "jpeg_quality" in cols:
            q = pl.col("jpeg_quality")
            proxy = (
                pl.when(q.is_null())
                .then(size)
                .otherwise(pl.concat_str([size, pl.lit(" q"), q.cast(pl.Utf8)]))
            )
        else:
            proxy = size
    else:
        proxy = pl.lit(None, pl.Utf8)
    expr = pl.coalesce(exif, proxy, pl.lit(UNKNOWN))
    used = [
        c for c in ("camera_make", "camera_model", "width", "height", "jpeg_quality") if c in cols
    ]
    return AxisSpec(
        "camera", expr, None, ",".join(used), top_n=int(t["top_n"]), distinct_on=tuple(used)
    )


def _time_of_day(t: Mapping[str, int]) -> AxisSpec:
    h = pl.col("captured_at").dt.hour().cast(pl.Int32)
    night, morning = t["night"], t["morning"]
    expr = (
        pl.when(h.is_null())
        .then(pl.lit(UNKNOWN))
        .when((h >= night) | (h < morning))
        .then(pl.lit("night"))
        .when(h < t["afternoon"])
        .then(pl.lit("morning"))
        .when(h < t["evening"])
        .then(pl.lit("afternoon"))
        .otherwise(pl.lit("evening"))
    )
    return AxisSpec(
        "time_of_day", expr, ("night", "morning", "afternoon", "evening"), "captured_at"
    )


def _orientation(t: Mapping[str, float]) -> AxisSpec:
    w, h = pl.col("width").cast(pl.Float64), pl.col("height").cast(pl.Float64)
    ratio = 1.0 + t["square_tolerance"]
    expr = (
        pl.when(w.is_null() | h.is_null() | (w <= 0) | (h <= 0))
        .then(pl.lit(UNKNOWN))
        .when(w > h * ratio)
        .then(pl.lit("landscape"))
        .when(h > w * ratio)
        .then(pl.lit("portrait"))
        .otherwise(pl.lit("square"))
    )
    return AxisSpec("orientation", expr, ("landscape", "square", "portrait"), "width,height")


def _atmosphere(cols: set[str], t: Mapping[str, float]) -> AxisSpec:
    h = _finite("haze")
    thick = h >= t["foggy_above"]
    if "contrast" in cols:
        # A null contrast does not veto fog: the haze alone decides then.
        thick = thick & (_finite("contrast") < t["foggy_contrast_below"]).fill_null(True)
    expr = (
        pl.when(h.is_null())
        .then(pl.lit(UNKNOWN))
        .when(thick)
        .then(pl.lit("foggy"))
        .when(h >= t["hazy_above"])
        .then(pl.lit("hazy"))
        .otherwise(pl.lit("clear"))
    )
    used = [c for c in ("haze", "contrast") if c in cols]
    return AxisSpec("atmosphere", expr, ("clear", "hazy", "foggy"), ",".join(used))


def _light_color(t: Mapping[str, float]) -> AxisSpec:
    b = _finite("warmth")
    expr = (
        pl.when(b.is_null())
        .then(pl.lit(UNKNOWN))
        .when(b >= t["warm_above"])
        .then(pl.lit("warm"))
        .when(b <= t["cool_below"])
        .then(pl.lit("cool"))
        .otherwise(pl.lit("neutral"))
    )
    return AxisSpec("light_color", expr, ("warm", "neutral", "cool"), "warmth")


def _motion(t: Mapping[str, float]) -> AxisSpec:
    m = _finite("motion_blur")
    expr = (
        pl.when(m.is_null())
        .then(pl.lit(UNKNOWN))
        .when(m >= t["motion_blurred_above"])
        .then(pl.lit("motion_blurred"))
        .otherwise(pl.lit("steady"))
    )
    return AxisSpec("motion", expr, ("steady", "motion_blurred"), "motion_blur")


def builtin_axis(
    name: str, columns: Sequence[str], thresholds: Mapping[str, Mapping[str, Any]] | None = None
) -> AxisSpec:
    """The built-in axis ``name`` for a frame with ``columns``; ValueError if inputs are absent."""
    t = merged_thresholds(thresholds)
    cols = set(columns)
    if name == "lighting":
        if "brightness" not in cols:
            raise ValueError("axis 'lighting' needs the 'brightness' column")
        return _lighting(cols, t["lighting"])
    if name == "sharpness":
        s = t["sharpness"]
        if "sharpness" in cols:
            return AxisSpec(
                "sharpness",
                _binned(_finite("sharpness"), s["edges"], s["labels"]),
                tuple(s["labels"]),
                "sharpness",
            )
        if "blur" in cols:
            note = (
                "'sharpness' column absent: bucketed the native-resolution 'blur' instead, which "
                "grows with resolution, so cameras do not compare"
            )
            return AxisSpec(
                "sharpness",
                _binned(_finite("blur"), s["edges"], s["labels"]),
                tuple(s["labels"]),
                "blur",
                note,
            )
        raise ValueError("axis 'sharpness' needs the 'sharpness' or 'blur' column")
    if name == "noise":
        if "noise" not in cols:
            raise ValueError("axis 'noise' needs the 'noise' column")
        n = t["noise"]
        return AxisSpec(
            "noise", _binned(_finite("noise"), n["edges"], n["labels"]), tuple(n["labels"]), "noise"
        )
    if name == "camera":
        if not ({"camera_make", "camera_model"} & cols or {"width", "height"} <= cols):
            raise ValueError("axis 'camera' needs camera_make/camera_model or width/height")
        return _camera(cols, t["camera"])
    if name == "resolution":
        if not {"width", "height"} <= cols:
            raise ValueError("axis 'resolution' needs the 'width' and 'height' columns")
        r = t["resolution"]
        mp = pl.col("width").cast(pl.Float64) * pl.col("height").cast(pl.Float64) / 1e6
        return AxisSpec(
            "resolution", _binned(mp, r["edges"], r["labels"]), tuple(r["labels"]), "width,height"
        )
    if name == "time_of_day":
        if "captured_at" not in cols:
            raise ValueError("axis 'time_of_day' needs the 'captured_at' column")
        return _time_of_day(t["time_of_day"])
    if name == "orientation":
        if not {"width", "height"} <= cols:
            raise ValueError("axis 'orientation' needs the 'width' and 'height' columns")
        return _orientation(t["orientation"])
    if name == "atmosphere":
        if "haze" not in cols:
            raise ValueError("axis 'atmosphere' needs the 'haze' column")
        return _atmosphere(cols, t["atmosphere"])
    if name == "light_color":
        if "warmth" not in cols:
            raise ValueError("axis 'light_color' needs the 'warmth' column")
        return _light_color(t["light_color"])
    if name == "motion":
        if "motion_blur" not in cols:
            raise ValueError("axis 'motion' needs the 'motion_blur' column")
        return _motion(t["motion"])
    raise ValueError(f"unknown built-in axis {name!r}; known: {', '.join(BUILTIN_AXES)}")


def _user_axis(name: str, definition: str | pl.Expr) -> AxisSpec:
    expr = pl.col(definition) if isinstance(definition, str) else definition
    source = definition if isinstance(definition, str) else "expression"
    return AxisSpec(name, expr.cast(pl.Utf8).fill_null(UNKNOWN), None, source)


def resolve_axes(
    columns: Sequence[str],
    axes: AxesArg = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[AxisSpec]:
    """Turn the ``axes`` argument into axis specs.

    ``None``: every built-in axis whose input columns are present. A sequence of names: built-in
    axis names get the built-in definition, other names are columns used as-is. A mapping
    ``name -> column name | polars expression | None`` (None = built-in) defines named axes, e.g.
    ``{"lighting": None, "weather": pl.col("site").replace({...})}``.
    """
    merged_thresholds(thresholds)  # a typo in a threshold name is an error, never ignored
    if axes is None:
        specs = []
        for name in BUILTIN_AXES:
            try:
                specs.append(builtin_axis(name, columns, thresholds))
            except ValueError:
                continue
        items: list[tuple[str, AxisDef]] = []
    elif isinstance(axes, Mapping):
        specs, items = [], list(axes.items())
    elif isinstance(axes, str):
        raise TypeError("axes must be a sequence or mapping of axis names, not a string")
    else:
        specs, items = [], [(a, None) for a in axes]
    for name, definition in items:
        if definition is None and name in BUILTIN_AXES:
            specs.append(builtin_axis(name, columns, thresholds))
        elif definition is None:
            if name not in columns:
                raise ValueError(f"axis {name!r} is neither a built-in axis nor a column")
            specs.append(_user_axis(name, name))
        else:
            specs.append(_user_axis(name, definition))
    for spec in specs:
        if spec.note:
            warnings.warn(spec.note, stacklevel=3)
    return specs


def label_frame(frames: Sequence[pl.DataFrame], specs: Sequence[AxisSpec]) -> list[pl.DataFrame]:
    """Bucket labels (one Utf8 column per axis) for each frame, with shared top-n capping.

    Several frames (reference and current in drift) share one capping so a camera is "other" in
    both or in neither.
    """
    labelled = [
        f.select([s.expr.alias(s.name) for s in specs if not s.distinct_on])
        .with_columns([s.evaluate(f) for s in specs if s.distinct_on])
        .select([s.name for s in specs])
        for f in frames
    ]
    for spec in specs:
        if spec.top_n is None:
            continue
        counts = (
            pl.concat([f.select(spec.name) for f in labelled])
            .filter(pl.col(spec.name) != UNKNOWN)
            .group_by(spec.name)
            .len()
            .sort(["len", spec.name], descending=[True, False])
        )
        if counts.height <= spec.top_n:
            continue
        keep = counts.head(spec.top_n)[spec.name]
        capped = (
            pl.when(pl.col(spec.name).is_in(keep.implode()) | (pl.col(spec.name) == UNKNOWN))
            .then(pl.col(spec.name))
            .otherwise(pl.lit(OTHER))
        )
        labelled = [f.with_columns(capped.alias(spec.name)) for f in labelled]
    return labelled


def ordered_levels(spec: AxisSpec, observed: Sequence[str], counts: Mapping[str, int]) -> list[str]:
    """Fixed levels first (in their order), then observed extras by count, other/unknown last."""
    fixed = list(spec.levels or ())
    extras = [v for v in observed if v not in fixed and v not in (OTHER, UNKNOWN)]
    extras.sort(key=lambda v: (-counts.get(v, 0), v))
    tail = [v for v in (OTHER, UNKNOWN) if v in observed and v not in fixed]
    return fixed + extras + tail
