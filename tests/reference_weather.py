"""Independent NumPy / SciPy / OpenCV reference for the weather and light statistics.

Written from the definitions (issue 11), not from the Rust code, so the Rust kernels in
``src/stats/{atmosphere,illuminant,motion}.rs`` can be checked against it:

- ``haze``: dark channel prior (He, Sun & Tang 2009): min over R, G, B, then the minimum over a
  15x15 window clipped at the border (``scipy.ndimage.minimum_filter(mode="nearest")``: replicating
  the edge equals clipping for a minimum), mean / 255.
- ``airlight``: mean (R+G+B)/3/255 of the input pixels under the top k = max(1, round(0.001 n))
  dark-channel values (descending, ties in raster order).
- ``saturation``: mean HSV S = (max-min)/max, 0 where max = 0.
- ``warmth`` / ``tint``: per-pixel CIELAB b* / a* averaged; sRGB decoded exactly, IEC 61966-2-1
  matrix, white = the matrix applied to (1, 1, 1) so greys are exactly neutral.
- ``motion_blur`` / ``blur_angle``: structure tensors of 3x3 Sobel (``cv2.Sobel``) gradients of
  the Laplacian (``cv2.Laplacian``) of luma, interior pixels, at two scales: the analysis plane
  (fine) and its 8x8 block means (coarse). With the generalised eigenvalues l1 >= l2 of
  J_fine v = l J_coarse v (``scipy.linalg.eigh``), motion_blur = (l1 - l2) / (l1 + l2) and the
  eigenvector of l2 is the motion direction, in degrees in [0, 180), 0 = horizontal,
  counter-clockwise on screen (y up). NaN below 40 px a side or without detail.

All functions take an ``(H, W, 3)`` uint8 RGB array at the analysis size (``analysis_rgb`` makes
it: Pillow's reduce-free BOX resize to 512 px on the long side) and return plain floats.
``python -m tests.reference_weather`` prints the values the Rust unit tests paste in.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np
from PIL import Image
from scipy import linalg, ndimage

#: Long side of the analysis plane every weather statistic is defined on.
ANALYSIS_LONG_SIDE = 512
PATCH = 15
AIRLIGHT_TOP_SHARE = 0.001
MOTION_COARSE_BLOCK = 8
#: det(J_coarse) <= this x trace(J_coarse)^2 counts as singular (motion undefined).
DEGENERATE = 1e-9

_M = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)


def flatten_alpha(img: Image.Image) -> Image.Image:
    """RGB with transparency composited like the scan: over black when the visible content is
    light (alpha-weighted mean luma > 128), else over white, so pictures kept in the alpha
    channel of a constant-colour layer stay visible."""
    if img.mode not in ("RGBA", "LA", "PA") and "transparency" not in img.info:
        return img.convert("RGB")
    rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
    alpha = rgba[..., 3:] / 255.0
    lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
    weight = alpha[..., 0].sum()
    bg = 0.0 if weight > 0 and (lum * alpha[..., 0]).sum() > 128 * weight else 255.0
    out = rgba[..., :3] * alpha + bg * (1 - alpha)
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), "RGB")


def analysis_rgb(img: Image.Image, long_side: int = ANALYSIS_LONG_SIDE) -> np.ndarray:
    """RGB uint8 array with the long side scaled to ``long_side`` (area/box average, never up)."""
    img = flatten_alpha(img)
    w, h = img.size
    scale = long_side / max(w, h)
    if scale < 1:
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        img = img.resize(size, Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def luma(rgb: np.ndarray) -> np.ndarray:
    """Pillow's ``convert("L")`` (ITU-R 601-2, 16-bit fixed point, rounded), as the scan's luma."""
    r, g, b = (rgb[..., i].astype(np.uint32) for i in range(3))
    return ((r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16).astype(np.uint8)


def dark_channel(rgb: np.ndarray) -> np.ndarray:
    return ndimage.minimum_filter(rgb.min(axis=2), size=PATCH, mode="nearest")


def haze(rgb: np.ndarray) -> float:
    return float(dark_channel(rgb).astype(np.float64).mean() / 255.0)


def airlight(rgb: np.ndarray) -> float:
    dark = dark_channel(rgb).ravel()
    k = max(1, round(AIRLIGHT_TOP_SHARE * dark.size))
    order = np.argsort(-dark.astype(np.int16), kind="stable")[:k]
    px = rgb.reshape(-1, 3)[order].astype(np.float64)
    return float(px.mean() / 255.0)


def saturation(rgb: np.ndarray) -> float:
    x = rgb.astype(np.float64)
    mx, mn = x.max(axis=2), x.min(axis=2)
    s = np.divide(mx - mn, mx, out=np.zeros_like(mx), where=mx > 0)
    return float(s.mean())


def lab(rgb: np.ndarray) -> np.ndarray:
    """Per-pixel CIELAB (L*, a*, b*) from the exact formulas, float64."""
    c = rgb.astype(np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = lin @ _M.T / _M.sum(axis=1)
    eps = (6 / 29) ** 3
    f = np.where(xyz > eps, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack(
        [116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])],
        axis=-1,
    )


def lab_opencv(rgb: np.ndarray) -> np.ndarray:
    """OpenCV's CIELAB for a cross-check: float32 input in 0-1 gives L in 0-100, a/b unscaled."""
    return cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2Lab).astype(np.float64)


def warmth(rgb: np.ndarray) -> float:
    return float(lab(rgb)[..., 2].mean())


def tint(rgb: np.ndarray) -> float:
    return float(lab(rgb)[..., 1].mean())


def _tensor(plane: np.ndarray) -> np.ndarray:
    """[[Sxx, Sxy], [Sxy, Syy]] of Sobel(Laplacian(plane)), both on interior pixels only."""
    lap = cv2.Laplacian(plane.astype(np.float64), cv2.CV_64F, ksize=1)
    gx = cv2.Sobel(lap, cv2.CV_64F, 1, 0, ksize=3)[2:-2, 2:-2]
    gy = cv2.Sobel(lap, cv2.CV_64F, 0, 1, ksize=3)[2:-2, 2:-2]
    sxy = float((gx * gy).sum())
    return np.array([[float((gx * gx).sum()), sxy], [sxy, float((gy * gy).sum())]])


def _motion(rgb: np.ndarray) -> tuple[float, float]:
    gray = luma(rgb).astype(np.float64)
    h, w = gray.shape
    b = MOTION_COARSE_BLOCK
    if min(h, w) < 5 * b:
        return math.nan, math.nan
    coarse = gray[: h // b * b, : w // b * b].reshape(h // b, b, w // b, b).mean(axis=(1, 3))
    fine_t, coarse_t = _tensor(gray), _tensor(coarse)
    # No coarse structure in some direction (flat, or a perfect 1-D pattern): no reference scale.
    if np.trace(fine_t) <= 0 or np.linalg.det(coarse_t) <= DEGENERATE * np.trace(coarse_t) ** 2:
        return math.nan, math.nan
    lam, vec = linalg.eigh(fine_t, coarse_t)  # ascending generalised eigenvalues
    if lam.sum() <= 0:
        return math.nan, math.nan
    anis = float((lam[1] - lam[0]) / (lam[1] + lam[0]))
    vx, vy = vec[:, 0]  # the direction whose fine detail is most missing = the motion
    angle = math.degrees(math.atan2(-vy, vx)) % 180.0  # screen: y up
    return min(anis, 1.0), angle


def motion_blur(rgb: np.ndarray) -> float:
    return _motion(rgb)[0]


def blur_angle(rgb: np.ndarray) -> float:
    return _motion(rgb)[1]


#: metric name -> function of an (H, W, 3) uint8 array at the analysis size.
METRICS: dict[str, Callable[[np.ndarray], float]] = {
    "haze": haze,
    "airlight": airlight,
    "saturation": saturation,
    "warmth": warmth,
    "tint": tint,
    "motion_blur": motion_blur,
    "blur_angle": blur_angle,
}


def all_metrics(rgb: np.ndarray, names: Sequence[str] = tuple(METRICS)) -> dict[str, float]:
    """The reference statistics ``names`` of one analysis-size RGB array (Lab and the tensors are
    computed once for the metrics that share them)."""
    out: dict[str, float] = {}
    if {"warmth", "tint"} & set(names):
        lab_px = lab(rgb)
        out["warmth"] = float(lab_px[..., 2].mean())
        out["tint"] = float(lab_px[..., 1].mean())
    if {"motion_blur", "blur_angle"} & set(names):
        out["motion_blur"], out["blur_angle"] = _motion(rgb)
    for name in ("haze", "airlight", "saturation"):
        if name in names:
            out[name] = METRICS[name](rgb)
    return {n: out[n] for n in names}


def fixture_rgb(w: int, h: int) -> np.ndarray:
    """The synthetic image the Rust unit tests use (same integer formula)."""
    y, x, c = np.meshgrid(np.arange(h), np.arange(w), np.arange(3), indexing="ij")
    v = (x * 9 + y * 5 + c * 60 + (x * y * 7) % 31 + ((x ^ y) * 13) % 29) % 256
    return v.astype(np.uint8)


def fogged_fixture(w: int, h: int) -> np.ndarray:
    """`fixture_rgb` under integer fog: (3 v + 2 * 230) // 5 (t = 0.6, A = 230)."""
    return ((fixture_rgb(w, h).astype(np.int32) * 3 + 460) // 5).astype(np.uint8)


if __name__ == "__main__":
    rgb = fixture_rgb(24, 17)
    print("fixture 24x17:")
    for name, value in all_metrics(rgb).items():
        print(f"{name:12s} {value!r}")
    fog = fogged_fixture(24, 17)
    print("fogged haze", repr(haze(fog)), "airlight", repr(airlight(fog)))
    # motion on the green channel of a 64x48 fixture as the luma plane, like the Rust test.
    g = np.repeat(fixture_rgb(64, 48)[..., 1:2], 3, axis=2)
    print("motion (green plane):", _motion(g))
