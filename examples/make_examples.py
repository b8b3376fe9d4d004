"""Regenerate `examples/images/`: a small synthetic capture set that exercises every audit.

Scenes are procedural (no third-party pictures). The set holds what real captures hold: two
cameras, day and night, a dark, an overexposed, a blurred and a noisy frame, near-duplicates
(resized and re-compressed), an exact copy, the same pixels in PNG and lossless WebP, an
EXIF-rotated photo, a grayscale frame, a train→test leak, and three broken files.
Run: python examples/make_examples.py
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

ROOT = Path(__file__).parent
OUT = ROOT / "images"
CLASSES = ["car", "person", "sign"]
CAMERAS = [("Canon", "EOS 80D"), ("Google", "Pixel 7")]


def scene(seed: int, w: int = 640, h: int = 480) -> Image.Image:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.zeros((h, w, 3), np.float32)
    top, bottom = rng.uniform(60, 220, 3), rng.uniform(20, 160, 3)
    t = (y / h)[..., None]
    img += top * (1 - t) + bottom * t
    for _ in range(rng.integers(4, 9)):
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        rx, ry = rng.uniform(20, 160), rng.uniform(20, 120)
        mask = ((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1
        img[mask] = rng.uniform(0, 255, 3)
    img += rng.normal(0, 3, img.shape)  # sensor grain
    im = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    return im.filter(ImageFilter.GaussianBlur(0.6))


def exif(camera: int, when: str, orientation: int = 1) -> Image.Exif:
    e = Image.Exif()
    e[0x010F], e[0x0110] = CAMERAS[camera]
    e[0x0112] = orientation
    e.get_ifd(0x8769)[0x9003] = when  # DateTimeOriginal
    return e


def main() -> None:
    shutil.rmtree(OUT, ignore_errors=True)
    rows: list[tuple[str, str, str]] = []

    def save(im: Image.Image, rel: str, cls: str, split: str, **kw) -> Path:
        p = OUT / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        im.save(p, **kw)
        rows.append((rel, cls, split))
        return p

    for i in range(12):
        split = "train" if i < 9 else "test"
        cam = i % 2
        hour = 13 if i % 3 else 21
        when = f"2024:0{1 + i % 6}:1{i % 10} {hour:02d}:1{i % 6}:00"
        im = scene(i)
        if hour == 21:
            im = Image.fromarray((np.asarray(im) * 0.35).astype(np.uint8))  # night
        save(im, f"{split}/scene_{i:02d}.jpg", CLASSES[i % 3], split, quality=90, exif=exif(cam, when))

    base = scene(100)
    e = exif(0, "2024:05:01 12:00:00")
    save(Image.fromarray((np.asarray(base) * 0.12).astype(np.uint8)), "train/dark.jpg", "car", "train", quality=90, exif=e)
    over = np.clip(np.asarray(base).astype(np.int32) + 150, 0, 255).astype(np.uint8)
    save(Image.fromarray(over), "train/overexposed.jpg", "car", "train", quality=90, exif=e)
    save(base.filter(ImageFilter.GaussianBlur(6)), "train/blurred.jpg", "person", "train", quality=90, exif=e)
    noisy = np.asarray(base).astype(np.float32) + np.random.default_rng(1).normal(0, 25, (480, 640, 3))
    save(Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8)), "train/noisy.jpg", "sign", "train", quality=90, exif=e)
    save(base.convert("L"), "train/grayscale.jpg", "sign", "train", quality=90)

    # Near-duplicates: a resized, re-compressed copy of scene 1; an exact byte copy of scene 2.
    src = OUT / "train/scene_01.jpg"
    save(Image.open(src).resize((320, 240), Image.LANCZOS), "train/scene_01_small.jpg", "person", "train", quality=70)
    (OUT / "train/copies").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(OUT / "train/scene_02.jpg", OUT / "train/copies/scene_02_copy.jpg")
    rows.append(("train/copies/scene_02_copy.jpg", "sign", "train"))
    # Same pixels in two lossless containers.
    px = scene(200, 320, 240)
    save(px, "train/export.png", "car", "train")
    save(px, "train/export.webp", "car", "train", lossless=True)
    # EXIF-rotated: pixels stored sideways, orientation 6 says rotate for display.
    save(scene(300).rotate(90, expand=True), "train/rotated.jpg", "person", "train", quality=90, exif=exif(1, "2024:06:01 08:00:00", 6))
    # Leak: a brighter re-save of train scene 3 in the test split.
    leak = Image.fromarray(np.clip(np.asarray(Image.open(OUT / "train/scene_03.jpg")) * 1.1, 0, 255).astype(np.uint8))
    save(leak, "test/leaked_scene_03.jpg", "car", "test", quality=85)

    # Broken files: each must become one row with an error, never stop the scan.
    data = (OUT / "train/scene_04.jpg").read_bytes()
    (OUT / "broken").mkdir()
    (OUT / "broken/truncated.jpg").write_bytes(data[: len(data) // 3])
    (OUT / "broken/empty.png").write_bytes(b"")
    (OUT / "broken/not_an_image.jpg").write_bytes(b"this is a text file with an image name\n")
    rows += [("broken/truncated.jpg", "car", "train"), ("broken/empty.png", "car", "train"), ("broken/not_an_image.jpg", "car", "train")]

    with open(ROOT / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "class", "split"])
        w.writerows(sorted(rows))


if __name__ == "__main__":
    main()
