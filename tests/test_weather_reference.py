"""The weather statistics against their NumPy/OpenCV reference (``reference_weather.py``).

The Rust kernels are checked twice: by their unit tests (``src/stats/{atmosphere,illuminant,
motion}.rs``, values pasted from ``python -m tests.reference_weather``) and here, through
``imgstats.scan``, to 1e-4 relative on images at or under the 512-px analysis size.
"""

from __future__ import annotations

import os
import tempfile

import cv2
import imgstats
import numpy as np
import pytest
import reference_weather as ref
from PIL import Image

WEATHER = ("haze", "airlight", "saturation", "warmth", "tint", "motion_blur", "blur_angle")


def _images() -> list[np.ndarray]:
    rng = np.random.default_rng(11)
    y, x = np.mgrid[0:300, 0:410]
    smooth = np.stack([x * 0.5, y * 0.7, (x + y) * 0.3], axis=-1) % 256
    out = [
        rng.integers(0, 256, (64, 80, 3), dtype=np.uint8),
        smooth.astype(np.uint8),
        np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8),
        np.full((50, 60, 3), (200, 120, 180), np.uint8),
        ref.fixture_rgb(24, 17),  # < 40 px: motion is NaN
        ref.fogged_fixture(64, 48),
    ]
    return out


def test_reference_lab_agrees_with_opencv() -> None:
    """OpenCV's float Lab (gamma by table/spline, rounded constants, outputs seen in 1/64 steps)
    is within 0.5 of the exact formulas per pixel and 0.25 on the mean: the reference's colour
    science is the usual one, and the exact formulas are the ones the kernels must match."""
    for rgb in _images():
        exact, cv = ref.lab(rgb), ref.lab_opencv(rgb)
        assert np.abs(exact - cv).max() < 0.5
        assert np.abs(exact[..., 1:].mean(axis=(0, 1)) - cv[..., 1:].mean(axis=(0, 1))).max() < 0.25


def test_reference_definitions_by_hand() -> None:
    grey = np.full((40, 40, 3), 77, np.uint8)
    m = ref.all_metrics(grey)
    assert m["haze"] == pytest.approx(77 / 255) and m["airlight"] == pytest.approx(77 / 255)
    assert m["saturation"] == 0 and abs(m["warmth"]) < 1e-9 and abs(m["tint"]) < 1e-9
    assert np.isnan(m["motion_blur"]) and np.isnan(m["blur_angle"])  # flat: no detail
    # Clipped 15x15 window: one dark pixel darkens an 8x8 corner region of a 20x20 image.
    img = np.full((20, 20, 3), 200, np.uint8)
    img[0, 0] = 0
    assert ref.haze(img) == pytest.approx((64 * 0 + (400 - 64) * 200) / 400 / 255)


def test_blur_angle_convention_matches_opencv_rotation() -> None:
    """A kernel rotated counter-clockwise by cv2.getRotationMatrix2D reads as that angle."""
    rng = np.random.default_rng(3)
    tex = rng.integers(0, 256, (240, 320, 3)).astype(np.float32)
    for angle in (0, 45, 90, 135):
        size = 19
        k = np.zeros((size, size), np.float32)
        k[size // 2, 2:-2] = 1
        rot = cv2.getRotationMatrix2D((size // 2, size // 2), angle, 1.0)
        k = cv2.warpAffine(k, rot, (size, size))
        blurred = np.clip(cv2.filter2D(tex, -1, k / k.sum()), 0, 255).astype(np.uint8)
        got = ref.blur_angle(blurred)
        assert min((got - angle) % 180, (angle - got) % 180) < 5, (angle, got)


def test_scan_matches_reference() -> None:
    images = _images()
    with tempfile.TemporaryDirectory() as tmp:
        for i, a in enumerate(images):
            Image.fromarray(a).save(os.path.join(tmp, f"{i:03d}.png"))
        df = imgstats.scan(tmp, metrics=list(WEATHER)).sort("path")
    for row, a in zip(df.to_dicts(), images):
        want = ref.all_metrics(a)
        for name in WEATHER:
            if np.isnan(want[name]):
                assert row[name] is None or np.isnan(row[name]), name
            else:
                assert row[name] == pytest.approx(want[name], rel=1e-4, abs=1e-9), name
