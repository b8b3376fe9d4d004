"""Drift between two scans: per numeric statistic (PSI, Kolmogorov-Smirnov, Wasserstein-1) and per
environment bucket share. "Are my training images visually like production?"

Definitions (also in ``docs/coverage.md``):

- **PSI** (population stability index) = sum over bins of (c - r) * ln(c / r), r and c the
  reference and current shares. Bins come from the reference: its deciles (numpy's linear
  quantiles, ``PSI_BINS`` = 10 bins) cut the line into right-closed intervals; a decile value that
  holds at least half a bin of the reference (``>= 1 / (2 * bins)``) also gets its own point bin,
  so discrete columns (width, jpeg_quality) are binned by value instead of collapsing. Empty bins
  get a share of ``PSI_EPSILON`` so the log stays finite.
- **KS**: the two-sample statistic D = max |F_ref - F_cur| (exactly scipy's ``ks_2samp``) and the
  asymptotic p-value Q_KS((sqrt(e) + 0.12 + 0.11 / sqrt(e)) * D), e = n*m / (n+m), with
  Q_KS(x) = 2 sum_{j>=1} (-1)^(j-1) exp(-2 j^2 x^2) (Stephens' small-sample correction, as in
  Numerical Recipes).
- **Wasserstein-1** = integral of |F_ref - F_cur| (scipy's ``wasserstein_distance``), reported raw
  and normalised by the reference IQR (then its std, then |median|, then 1 when all are zero) so
  one threshold fits every statistic.
- **Bucket shares**: per axis of `imgstats.buckets` (lighting, sharpness, ...), the share of images
  in each bucket for both frames, their difference with a two-proportion z-test p-value, and one
  PSI over the buckets per axis.

**Flags need a large effect and significance.** A statistic is flagged when PSI, KS D or the
normalised Wasserstein distance exceeds its threshold *and* the KS p-value is below ``KS_ALPHA``;
a bucket when its share moved by more than ``SHARE_SHIFT_THRESHOLD`` *and* the z-test p-value is
below ``KS_ALPHA``; an axis when its PSI exceeds ``PSI_THRESHOLD`` and one of its buckets is
flagged. With millions of images every difference is significant and the effect sizes decide;
with a few dozen (a small test split) PSI is noisy -- its expected value with no drift at all is
about (bins - 1) (1/n + 1/m) -- and significance keeps noise from being flagged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from imgstats._lazy import LazyModule
from imgstats.buckets import AxesArg, AxisSpec, label_frame, resolve_axes

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import ArrayLike
else:
    np = LazyModule("numpy")

PSI_BINS = 10
PSI_EPSILON = 1e-4
#: PSI above this flags a statistic or a bucket axis (0.1-0.2 is the usual "moderate" band).
PSI_THRESHOLD = 0.2
#: KS effect threshold on D; KS_ALPHA is the significance level every flag requires.
KS_THRESHOLD = 0.1
KS_ALPHA = 0.01
#: Wasserstein-1 in units of the reference IQR (0.25 IQR ~ a 0.34 sigma shift of a normal).
WASSERSTEIN_THRESHOLD = 0.25
#: A bucket whose share moved by more than this many share points (0.05 = 5 %) is flagged.
SHARE_SHIFT_THRESHOLD = 0.05

#: Statistics compared by default (those present in both frames).
DEFAULT_COLUMNS: tuple[str, ...] = (
    "brightness",
    "contrast",
    "dark_fraction",
    "bright_fraction",
    "sharpness",
    "blur",
    "noise",
    "entropy",
    "colorfulness",
    "haze",
    "airlight",
    "saturation",
    "warmth",
    "tint",
    "motion_blur",
    "width",
    "height",
    "file_size",
    "jpeg_quality",
)


def _clean(values: ArrayLike) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64).ravel()
    return a[np.isfinite(a)]


def kolmogorov_sf(x: float) -> float:
    """Survival function of the Kolmogorov distribution, P(K > x)."""
    if x <= 0.0:
        return 1.0
    if x < 1.18:
        # The alternating series converges slowly for small x; use the Jacobi-theta form instead.
        y = math.exp(-(math.pi**2) / (8.0 * x * x))
        cdf = math.sqrt(2.0 * math.pi) / x * sum(y ** ((2 * j - 1) ** 2) for j in range(1, 8))
        return min(1.0, max(0.0, 1.0 - cdf))
    total, sign = 0.0, 1.0
    for j in range(1, 101):
        term = math.exp(-2.0 * j * j * x * x)
        total += sign * term
        if term < 1e-17:
            break
        sign = -sign
    return min(1.0, max(0.0, 2.0 * total))


def _merged_cdfs(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both empirical CDFs on the merged sorted sample (a and b sorted).

    A stable argsort of two concatenated sorted runs is a linear merge (timsort finds the runs),
    several times faster than searchsorted at a million values.
    """
    merged = np.concatenate([a, b])
    order = np.argsort(merged, kind="stable")
    values = merged[order]
    from_a = order < a.size
    cdf_a = np.cumsum(from_a) / a.size
    cdf_b = np.cumsum(~from_a) / b.size
    return values, cdf_a, cdf_b


def _ks_from_cdfs(values: np.ndarray, cdf_a: np.ndarray, cdf_b: np.ndarray) -> float:
    # Within a run of tied values only the last position is a CDF value (F is right-continuous).
    last = np.empty(values.size, dtype=bool)
    last[:-1] = values[1:] != values[:-1]
    last[-1] = True
    return float(np.max(np.abs(cdf_a[last] - cdf_b[last])))


def _w1_from_cdfs(values: np.ndarray, cdf_a: np.ndarray, cdf_b: np.ndarray) -> float:
    # Tied values have zero width, so no tie handling is needed here.
    return float(np.sum(np.abs(cdf_a[:-1] - cdf_b[:-1]) * np.diff(values)))


def _ks_pvalue(d: float, n: int, m: int) -> float:
    en = math.sqrt(n * m / (n + m))
    return kolmogorov_sf((en + 0.12 + 0.11 / en) * d)


def ks_2samp(reference: ArrayLike, current: ArrayLike) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov statistic and asymptotic two-sided p-value (NaN dropped)."""
    a, b = np.sort(_clean(reference)), np.sort(_clean(current))
    if a.size == 0 or b.size == 0:
        return math.nan, math.nan
    d = _ks_from_cdfs(*_merged_cdfs(a, b))
    return d, _ks_pvalue(d, a.size, b.size)


def wasserstein(reference: ArrayLike, current: ArrayLike) -> float:
    """Wasserstein-1 (earth mover's) distance between two 1-D samples: integral of |F_a - F_b|."""
    a, b = np.sort(_clean(reference)), np.sort(_clean(current))
    if a.size == 0 or b.size == 0:
        return math.nan
    return _w1_from_cdfs(*_merged_cdfs(a, b))


def reference_scale(reference: ArrayLike) -> float:
    """The unit for normalised Wasserstein: IQR, else std, else |median|, else 1."""
    a = _clean(reference)
    if a.size == 0:
        return math.nan
    q1, med, q3 = np.quantile(a, [0.25, 0.5, 0.75])
    for scale in (q3 - q1, float(np.std(a)), abs(med)):
        if scale > 0:
            return float(scale)
    return 1.0


def psi_bins(reference: ArrayLike, bins: int = PSI_BINS) -> tuple[np.ndarray, np.ndarray]:
    """Bin edges (distinct reference quantiles) and which edges are point-mass bins."""
    return _psi_bins_sorted(np.sort(_clean(reference)), bins)


def _psi_bins_sorted(a: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    if a.size == 0:
        return np.empty(0), np.empty(0, dtype=bool)
    edges = np.unique(np.quantile(a, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    mass = (np.searchsorted(a, edges, "right") - np.searchsorted(a, edges, "left")) / a.size
    return edges, mass >= 0.5 / bins


def _bin_shares(x: np.ndarray, edges: np.ndarray, point: np.ndarray) -> np.ndarray:
    # Even index 2k: interval (edges[k-1], edges[k]]; odd 2k+1: the point edges[k] when it is a
    # point-mass bin. Non-point odd bins stay empty in both samples and add nothing to the PSI.
    left = np.searchsorted(edges, x, side="left")
    at_edge = np.zeros(x.size, dtype=bool)
    inside = left < edges.size
    at_edge[inside] = (x[inside] == edges[left[inside]]) & point[left[inside]]
    idx = 2 * left + at_edge
    return np.bincount(idx, minlength=2 * edges.size + 1) / max(x.size, 1)


def share_pvalue(p_ref: float, n_ref: int, p_cur: float, n_cur: int) -> float:
    """Two-sided two-proportion z-test p-value (pooled; equals a 2x2 chi-square test)."""
    if n_ref == 0 or n_cur == 0:
        return math.nan
    pooled = (p_ref * n_ref + p_cur * n_cur) / (n_ref + n_cur)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_ref + 1.0 / n_cur))
    if se == 0.0:
        return 1.0
    return math.erfc(abs(p_cur - p_ref) / se / math.sqrt(2.0))


def psi_from_shares(ref: np.ndarray, cur: np.ndarray, eps: float = PSI_EPSILON) -> float:
    r, c = np.maximum(ref, eps), np.maximum(cur, eps)
    return float(np.sum((c - r) * np.log(c / r)))


def psi(
    reference: ArrayLike, current: ArrayLike, bins: int = PSI_BINS, eps: float = PSI_EPSILON
) -> float:
    """Population stability index of ``current`` against ``reference`` (see module docstring)."""
    a, b = _clean(reference), _clean(current)
    if a.size == 0 or b.size == 0:
        return math.nan
    edges, point = psi_bins(a, bins)
    return psi_from_shares(_bin_shares(a, edges, point), _bin_shares(b, edges, point), eps)


def _numeric_columns(
    ref: pl.DataFrame, cur: pl.DataFrame, columns: Sequence[str] | None
) -> list[str]:
    if columns is None:
        return [c for c in DEFAULT_COLUMNS if c in ref.columns and c in cur.columns]
    missing = [c for c in columns if c not in ref.columns or c not in cur.columns]
    if missing:
        raise ValueError(f"columns missing from one of the frames: {', '.join(missing)}")
    return list(columns)


#: Columns of the `drift` result, in order; a row leaves out what does not apply to its kind.
DRIFT_SCHEMA: dict[str, pl.DataType] = {
    "kind": pl.Utf8(),
    "column": pl.Utf8(),
    "bucket": pl.Utf8(),
    "n_reference": pl.Int64(),
    "n_current": pl.Int64(),
    "reference_mean": pl.Float64(),
    "current_mean": pl.Float64(),
    "psi": pl.Float64(),
    "ks_statistic": pl.Float64(),
    "ks_pvalue": pl.Float64(),
    "wasserstein": pl.Float64(),
    "wasserstein_norm": pl.Float64(),
    "reference_share": pl.Float64(),
    "current_share": pl.Float64(),
    "share_shift": pl.Float64(),
    "share_pvalue": pl.Float64(),
    "flag": pl.Boolean(),
    "reasons": pl.List(pl.Utf8()),
}

#: One row of the result: column name -> value (missing keys become nulls).
Row = dict[str, Any]


@dataclass(frozen=True)
class DriftLimits:
    """When a difference is flagged: the effect thresholds and the significance level (the
    `drift` keyword arguments of the same names; defaults are the module constants)."""

    bins: int = PSI_BINS
    psi_threshold: float = PSI_THRESHOLD
    ks_threshold: float = KS_THRESHOLD
    ks_alpha: float = KS_ALPHA
    wasserstein_threshold: float = WASSERSTEIN_THRESHOLD
    share_threshold: float = SHARE_SHIFT_THRESHOLD


def drift(
    reference_df: pl.DataFrame | pl.LazyFrame,
    current_df: pl.DataFrame | pl.LazyFrame,
    columns: Sequence[str] | None = None,
    axes: AxesArg = None,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    bins: int = PSI_BINS,
    psi_threshold: float = PSI_THRESHOLD,
    ks_threshold: float = KS_THRESHOLD,
    ks_alpha: float = KS_ALPHA,
    wasserstein_threshold: float = WASSERSTEIN_THRESHOLD,
    share_threshold: float = SHARE_SHIFT_THRESHOLD,
) -> pl.DataFrame:
    """Compare ``current_df`` against ``reference_df`` per statistic and per bucket share.

    Args:
        reference_df, current_df: scan frames (e.g. train and production).
        columns: numeric statistics; default `DEFAULT_COLUMNS` present in both.
        axes, thresholds: bucket axes for the share comparison (see `imgstats.coverage`);
            ``axes=[]`` skips it.
        bins, psi_threshold, ks_threshold, ks_alpha, wasserstein_threshold, share_threshold:
            override the module constants of the same (upper-case) name.

    Returns:
        One row per statistic (``kind="statistic"``), per bucket axis (``kind="axis"``: PSI over
        the bucket shares) and per bucket (``kind="bucket"``). Columns: ``kind``, ``column``,
        ``bucket``, ``n_reference``, ``n_current``, ``reference_mean``, ``current_mean``, ``psi``,
        ``ks_statistic``, ``ks_pvalue``, ``wasserstein``, ``wasserstein_norm``,
        ``reference_share``, ``current_share``, ``share_shift`` (current - reference),
        ``share_pvalue``, ``flag`` and ``reasons`` (which effect thresholds were crossed, and
        "not significant (p=...)" when the flag was withheld for lack of evidence).
    """
    ref = reference_df.collect() if isinstance(reference_df, pl.LazyFrame) else reference_df
    cur = current_df.collect() if isinstance(current_df, pl.LazyFrame) else current_df
    limits = DriftLimits(
        bins, psi_threshold, ks_threshold, ks_alpha, wasserstein_threshold, share_threshold
    )
    rows = [
        _statistic_row(col, ref.get_column(col), cur.get_column(col), limits)
        for col in _numeric_columns(ref, cur, columns)
    ]
    specs = resolve_axes([c for c in ref.columns if c in cur.columns], axes, thresholds)
    if specs and ref.height and cur.height:
        ref_l, cur_l = label_frame([ref, cur], specs)
        for spec in specs:
            rows.extend(
                _axis_rows(spec, ref_l.get_column(spec.name), cur_l.get_column(spec.name), limits)
            )
    full = [{k: row.get(k) for k in DRIFT_SCHEMA} for row in rows]
    return pl.DataFrame(full, schema=DRIFT_SCHEMA)


def _statistic_row(column: str, ref: pl.Series, cur: pl.Series, limits: DriftLimits) -> Row:
    """PSI, KS and Wasserstein-1 of one numeric column, and whether they flag it."""
    a = _clean(ref.cast(pl.Float64).to_numpy())
    b = _clean(cur.cast(pl.Float64).to_numpy())
    row: Row = {"kind": "statistic", "column": column, "n_reference": a.size}
    row["n_current"] = b.size
    if not (a.size and b.size):
        return {**row, "flag": False, "reasons": ["no data"]}
    a.sort()
    b.sort()
    cdfs = _merged_cdfs(a, b)
    d = _ks_from_cdfs(*cdfs)
    p = _ks_pvalue(d, a.size, b.size)
    w = _w1_from_cdfs(*cdfs)
    w_norm = w / reference_scale(a)
    edges, point = _psi_bins_sorted(a, limits.bins)
    value = psi_from_shares(_bin_shares(a, edges, point), _bin_shares(b, edges, point))
    row.update(
        reference_mean=float(a.mean()),
        current_mean=float(b.mean()),
        psi=value,
        ks_statistic=d,
        ks_pvalue=p,
        wasserstein=w,
        wasserstein_norm=w_norm,
    )
    reasons: list[str] = []
    if value > limits.psi_threshold:
        reasons.append(f"psi>{limits.psi_threshold:g}")
    if d > limits.ks_threshold:
        reasons.append(f"ks>{limits.ks_threshold:g}")
    if w_norm > limits.wasserstein_threshold:
        reasons.append(f"wasserstein>{limits.wasserstein_threshold:g}")
    row["flag"] = bool(reasons) and p < limits.ks_alpha
    if reasons and not row["flag"]:
        reasons.append(f"not significant (p={p:.2g})")
    row["reasons"] = reasons
    return row


def _bucket_shares(
    spec: AxisSpec, ref: pl.Series, cur: pl.Series
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The buckets of one axis (its declared levels first, then the others by total share) and
    each one's share in the reference and the current frame."""
    r = ref.value_counts(normalize=True, name="share")
    c = cur.value_counts(normalize=True, name="share")
    r_map = dict(zip(r[spec.name].to_list(), r["share"].to_list()))
    c_map = dict(zip(c[spec.name].to_list(), c["share"].to_list()))
    buckets = list(spec.levels or ()) + sorted(
        (set(r_map) | set(c_map)) - set(spec.levels or ()),
        key=lambda v: (-(r_map.get(v, 0.0) + c_map.get(v, 0.0)), v),
    )
    rs = np.array([r_map.get(v, 0.0) for v in buckets])
    cs = np.array([c_map.get(v, 0.0) for v in buckets])
    return buckets, rs, cs


def _axis_rows(spec: AxisSpec, ref: pl.Series, cur: pl.Series, limits: DriftLimits) -> list[Row]:
    """One row for the axis (PSI over its bucket shares) followed by one row per bucket."""
    n_ref, n_cur = ref.len(), cur.len()
    buckets, rs, cs = _bucket_shares(spec, ref, cur)
    axis_psi = psi_from_shares(rs, cs)
    axis_row: Row = {
        "kind": "axis",
        "column": spec.name,
        "n_reference": n_ref,
        "n_current": n_cur,
        "psi": axis_psi,
    }
    bucket_rows = [
        _bucket_row(
            spec.name,
            v,
            share_ref=float(rv),
            share_cur=float(cv),
            n_ref=n_ref,
            n_cur=n_cur,
            limits=limits,
        )
        for v, rv, cv in zip(buckets, rs, cs)
    ]
    axis_flag = axis_psi > limits.psi_threshold and any(r["flag"] for r in bucket_rows)
    axis_row["flag"] = axis_flag
    axis_row["reasons"] = [f"psi>{limits.psi_threshold:g}"] if axis_flag else []
    return [axis_row, *bucket_rows]


def _bucket_row(
    axis: str,
    bucket: str,
    *,
    share_ref: float,
    share_cur: float,
    n_ref: int,
    n_cur: int,
    limits: DriftLimits,
) -> Row:
    """How far one bucket's share moved, and whether that is flagged."""
    shift = share_cur - share_ref
    pval = share_pvalue(share_ref, n_ref, share_cur, n_cur)
    reasons = (
        [f"share shift>{limits.share_threshold:g}"] if abs(shift) > limits.share_threshold else []
    )
    flagged = bool(reasons) and pval < limits.ks_alpha
    if reasons and not flagged:
        reasons.append(f"not significant (p={pval:.2g})")
    return {
        "kind": "bucket",
        "column": axis,
        "bucket": bucket,
        "n_reference": n_ref,
        "n_current": n_cur,
        "reference_share": share_ref,
        "current_share": share_cur,
        "share_shift": shift,
        "share_pvalue": pval,
        "flag": flagged,
        "reasons": reasons,
    }
