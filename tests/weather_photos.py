"""Real photos for the weather physics checks, and the physical models applied to them.

Photos: the Debian wallpapers (``../shared/DATA.md``: plasma-workspace-wallpapers, mate- and
gnome-backgrounds), one file per picture (plasma ships each picture in many sizes; mate ships some
twice), each reduced to 512 px on the long side with Pillow. Models, all in float on that plane
and rounded back to uint8:

- fog by the atmospheric scattering model I = J t + A (1 - t) (Koschmieder; He et al. 2009),
  uniform or with a depth gradient (far at the top: t(y) = t ** (1.5 - y / (H - 1)));
- white-balance gains per channel (clipped at 255);
- linear motion blur: a 15-px line kernel rotated with OpenCV (counter-clockwise on screen).
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from reference_weather import analysis_rgb

PLASMA = Path("/usr/share/wallpapers")
BACKGROUNDS = Path("/usr/share/backgrounds")
RASTER = {".jpg", ".jpeg", ".png", ".webp"}
#: Airlight of the synthetic fog (0-255).
AIRLIGHT = 0.9 * 255
MOTION_LENGTH = 15


#: Wallpapers that are camera photographs (judged by eye on a contact sheet; file stems or
#: plasma folder names, see `photo_name`). Everything else in the corpus is artwork or a rendering.
PHOTOGRAPHS = frozenset(
    """Autumn BytheWater ColdRipple ColorfulCups DarkestHour EveningGlow FallenLeaf Grey Kite
    MilkyWay OneStandsOut Path Volna summer_1am Aqua Blinds Dune FreshFlower Garden GreenMeadow
    LadyBird RainDrops Storm TwoWings Wood YellowFlower""".split()
)


def photo_name(path: str) -> str:
    """Plasma folder name (``Autumn``) or file stem (``Aqua``) of a corpus path."""
    p = Path(path)
    return p.parents[2].name if "wallpapers" in p.parts else p.stem


def _size_key(path: Path) -> int:
    m = re.match(r"(\d+)x(\d+)", path.stem)
    return int(m.group(1)) * int(m.group(2)) if m else 0


def photo_paths() -> list[Path]:
    """One file per distinct picture, sorted: for plasma the smallest size with a long side of at
    least 1024 px (else the largest), for the other backgrounds every raster file whose name is
    not a ``_WxH`` resize of another."""
    out: list[Path] = []
    for folder in sorted(PLASMA.glob("*/contents/images")):
        files = sorted((p for p in folder.iterdir() if p.suffix.lower() in RASTER), key=_size_key)
        big = [p for p in files if _size_key(p) and max(map(int, p.stem.split("x"))) >= 1024]
        if files:
            out.append(big[0] if big else files[-1])
    seen: set[str] = set()
    for p in sorted(BACKGROUNDS.rglob("*")):
        if p.suffix.lower() not in RASTER or not p.is_file():
            continue
        key = str(p.parent / re.sub(r"_\d+x\d+$", "", p.stem))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


@functools.cache
def photos() -> tuple[tuple[str, np.ndarray], ...]:
    """(name, 512-px RGB uint8 array) for every photo; cached for the session."""
    out = []
    for p in photo_paths():
        with Image.open(p) as img:
            img.draft("RGB", (1024, 1024))  # JPEG: decode at a reduced DCT scale, still > 512 px
            out.append((str(p), analysis_rgb(img)))
    return tuple(out)


def _to_u8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def fog(rgb: np.ndarray, t: float, depth_gradient: bool = False) -> np.ndarray:
    """I = J t + A (1 - t); with ``depth_gradient`` t varies from t**1.5 (top) to t**0.5."""
    j = rgb.astype(np.float64)
    if depth_gradient:
        h = rgb.shape[0]
        y = np.arange(h, dtype=np.float64) / max(h - 1, 1)
        tm = (t ** (1.5 - y))[:, None, None]
    else:
        tm = t
    return _to_u8(j * tm + AIRLIGHT * (1 - tm))


def white_balance(rgb: np.ndarray, gains: tuple[float, float, float]) -> np.ndarray:
    return _to_u8(rgb.astype(np.float64) * np.asarray(gains))


def motion_kernel(angle_deg: float, length: int = MOTION_LENGTH) -> np.ndarray:
    """A normalised line of ``length`` px through the centre, along ``angle_deg`` counter-clockwise
    on screen (OpenCV's rotation convention), built by rotating a horizontal line."""
    size = length + 4 if length % 2 else length + 5
    k = np.zeros((size, size), np.float32)
    c = size // 2
    k[c, c - length // 2 : c + length // 2 + 1] = 1.0
    rot = cv2.getRotationMatrix2D((float(c), float(c)), angle_deg, 1.0)
    k = cv2.warpAffine(k, rot, (size, size), flags=cv2.INTER_LINEAR)
    return k / k.sum()


def motion_blur(rgb: np.ndarray, angle_deg: float, length: int = MOTION_LENGTH) -> np.ndarray:
    out = cv2.filter2D(rgb.astype(np.float32), -1, motion_kernel(angle_deg, length))
    return _to_u8(out)


def angle_error(a: float, b: float) -> float:
    """Distance between two undirected angles in degrees (0-90)."""
    d = (a - b) % 180.0
    return min(d, 180.0 - d)
