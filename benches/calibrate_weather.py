"""Calibrate the weather bucket thresholds (`atmosphere`, `light_color`, `motion`) on real photos.

Not a test. ``python benches/calibrate_weather.py`` prints, for the Debian wallpapers at 512 px
(`tests/weather_photos.py`), the distribution of each statistic on the originals and under the
physical models (fog, white-balance gains, motion blur), computed with the NumPy reference
(`tests/reference_weather.py`, the definition the Rust kernels match), and the cut points chosen
from them. The chosen values are the defaults in ``python/imgstats/buckets.py`` and the table in
``docs/coverage.md``; re-run after a definition changes.

``contrast`` here is the population std of luma at 512 px (the scan's ``contrast`` is at native
resolution; downscaling removes a little fine-scale variance, so the scan reads slightly higher).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import reference_weather as ref  # noqa: E402
import weather_photos as wp  # noqa: E402

QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)


def describe(label: str, values: list[float]) -> None:
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    qs = " ".join(f"{q:>7.3f}" for q in np.quantile(v, QUANTILES))
    print(f"  {label:34s} n={v.size:3d}  q05/25/50/75/95: {qs}")


def share(label: str, values: list[float], test) -> None:
    v = np.asarray(values, dtype=np.float64)
    print(f"  {label:60s} {np.mean([bool(test(x)) for x in v]):6.1%}")


def contrast(rgb: np.ndarray) -> float:
    return float(ref.luma(rgb).astype(np.float64).std())


def main() -> None:
    everything = wp.photos()
    chosen = [p for p in everything if wp.photo_name(p[0]) in wp.PHOTOGRAPHS]
    for title, photos in (("all pictures", everything), ("photographs only", chosen)):
        print(f"==== {title}: {len(photos)} (Debian wallpapers, one file per picture, 512 px)\n")
        calibrate(photos)
        print()


def calibrate(photos) -> None:
    print("haze (dark channel, 0-1) and contrast (luma std) under uniform fog, A = 0.9*255:")
    haze: dict[float, list[float]] = {}
    con: dict[float, list[float]] = {}
    for t in (1.0, 0.8, 0.6, 0.4):
        fogged = [wp.fog(a, t) for _, a in photos]
        haze[t] = [ref.haze(f) for f in fogged]
        con[t] = [contrast(f) for f in fogged]
        describe(f"haze      t={t}", haze[t])
        describe(f"contrast  t={t}", con[t])
    # Cuts: "hazy" starts at about the level fog of t = 0.8 brings a typical photo to (1 - t =
    # 0.2 of airlight), "foggy" near t = 0.6; and fog must also have lowered the contrast, so a
    # bright but contrasty scene (snow, a white wall) is not foggy.
    cuts = {"hazy_above": 0.35, "foggy_above": 0.5, "foggy_contrast_below": 45.0}
    print(f"  chosen: {cuts}")
    for t in (1.0, 0.8, 0.6, 0.4):
        labels = [
            "foggy"
            if h >= cuts["foggy_above"] and c < cuts["foggy_contrast_below"]
            else "hazy"
            if h >= cuts["hazy_above"]
            else "clear"
            for h, c in zip(haze[t], con[t])
        ]
        counts = {k: labels.count(k) / len(labels) for k in ("clear", "hazy", "foggy")}
        print(f"  t={t}: " + "  ".join(f"{k} {v:5.1%}" for k, v in counts.items()))

    print("\nwarmth (mean b*) and tint (mean a*) under white-balance gains:")
    gains = {
        "original": (1.0, 1.0, 1.0),
        "warm R1.2 B0.8": (1.2, 1.0, 0.8),
        "warm R1.1 B0.9": (1.1, 1.0, 0.9),
        "cool R0.8 B1.2": (0.8, 1.0, 1.2),
        "cool R0.9 B1.1": (0.9, 1.0, 1.1),
        "green G1.15": (1.0, 1.15, 1.0),
    }
    warmth: dict[str, list[float]] = {}
    tint: dict[str, list[float]] = {}
    for name, g in gains.items():
        ms = [ref.all_metrics(wp.white_balance(a, g), ("warmth", "tint")) for _, a in photos]
        warmth[name] = [m["warmth"] for m in ms]
        tint[name] = [m["tint"] for m in ms]
        describe(f"warmth {name}", warmth[name])
        describe(f"tint   {name}", tint[name])
    lc = {"warm_above": 20.0, "cool_below": -20.0}
    cast = {"warmth": 60.0, "tint": 40.0}  # the color_cast edge case
    print(f"  chosen: {lc}")
    for name in gains:
        share(f"warm ({name})", warmth[name], lambda b: b >= lc["warm_above"])
        share(f"cool ({name})", warmth[name], lambda b: b <= lc["cool_below"])
        casts = [
            abs(b) >= cast["warmth"] or abs(a) >= cast["tint"]
            for b, a in zip(warmth[name], tint[name])
        ]
        share(
            f"color_cast edge case |b*|>={cast['warmth']:g} or |a*|>={cast['tint']:g} ({name})",
            casts,
            bool,
        )

    print("\nmotion_blur (fine/coarse tensor anisotropy, 0-1) under linear motion blur:")
    mb: dict[str, list[float]] = {"original": []}
    for length in (7, 15):
        mb[f"{length} px"] = []
    for _, a in photos:
        mb["original"].append(ref.motion_blur(a))
        for length in (7, 15):
            for angle in (0.0, 45.0, 90.0, 135.0):
                mb[f"{length} px"].append(ref.motion_blur(wp.motion_blur(a, angle, length)))
    for name, v in mb.items():
        describe(f"motion_blur {name}", v)
    for cut in (0.5, 0.6, 0.7):
        print(f"  cut motion_blur >= {cut}:")
        for name, v in mb.items():
            share(f"    motion_blurred ({name})", v, lambda x, c=cut: x >= c)


if __name__ == "__main__":
    main()
