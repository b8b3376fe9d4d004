"""Regenerate `examples/detection/`: a small YOLO dataset made from real photos.

Backgrounds are real photos (Debian's wallpaper packages, downscaled to 320 x 240, ≤ 50 KB each).
The objects are drawn by this script onto the photos -- discs, signs and poles -- so every box is
exact and some objects really hide others (occlusion) or leave the frame (truncation). Four
photos are darkened to a night exposure (5.6 stops less light), and two
cameras are written in EXIF, so the class × environment table has real structure.

Planted problems, for `imgstats check`: an image without a label file, a background image (empty
label file), a line written in pixels, a duplicated box, an orphan label file and a rare class.

Run: python examples/make_detection_example.py   (needs plasma-workspace-wallpapers or
mate-backgrounds; see DATA in the README)
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).parent / "detection"
W, H = 320, 240
NAMES = ["disc", "sign", "pole", "kite"]
CAMERAS = [("Canon", "EOS 80D"), ("Google", "Pixel 7")]
WALLPAPERS = (Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds"))


def photos() -> list[Path]:
    """One JPEG per wallpaper folder (the packages hold several sizes of each picture)."""
    seen: dict[Path, Path] = {}
    for root in WALLPAPERS:
        for p in sorted(root.rglob("*.jpg")) if root.is_dir() else []:
            if p.is_file() and not p.is_symlink() and "screenshot" not in p.name:
                seen.setdefault(p.parent, p)
    if len(seen) < 16:
        raise SystemExit("needs the Debian wallpaper packages (plasma-workspace-wallpapers)")
    return list(seen.values())


def background(path: Path) -> Image.Image:
    with Image.open(path) as im:
        im.draft("RGB", (W * 2, H * 2))
        im = im.convert("RGB")
        w, h = im.size
        cw, ch = min(w, h * 4 // 3), min(h, w * 3 // 4)
        left, top = (w - cw) // 2, (h - ch) // 2
        return im.crop((left, top, left + cw, top + ch)).resize((W, H), Image.LANCZOS)


def to_night(im: Image.Image) -> Image.Image:
    """Night: the exposure cut by 5.6 stops (linear light times 0.02), re-encoded with gamma
    2.2, which scales sRGB values by 0.02 ** (1 / 2.2) = 0.17."""
    lin = (np.asarray(im, np.float32) / 255) ** 2.2 * 0.02
    return Image.fromarray((np.clip(lin ** (1 / 2.2), 0, 1) * 255).round().astype(np.uint8))


def draw_object(d: ImageDraw.ImageDraw, cls: int, box: tuple[int, int, int, int], rng) -> None:
    color = tuple(int(c) for c in rng.integers(30, 230, 3))
    if cls == 0:
        d.ellipse(box, fill=color, outline=(0, 0, 0), width=2)
    elif cls == 1:
        d.rectangle(box, fill=(240, 240, 240), outline=(200, 20, 20), width=4)
    elif cls == 2:
        d.rectangle(box, fill=color, outline=(20, 20, 20), width=1)
    else:
        x0, y0, x1, y1 = box
        d.polygon(
            [
                ((x0 + x1) // 2, y0),
                (x1, (y0 + y1) // 2),
                ((x0 + x1) // 2, y1),
                (x0, (y0 + y1) // 2),
            ],
            fill=color,
        )


def objects(rng, k: int) -> list[tuple[int, tuple[int, int, int, int]]]:
    out = []
    n = int(rng.integers(2, 6)) if k % 5 else int(rng.integers(7, 10))  # some crowded frames
    for j in range(n):
        cls = int(rng.choice([0, 0, 1, 2]))
        size = int(rng.choice([10, 24, 48, 90]))
        w, h = (size, size) if cls != 2 else (max(6, size // 4), size)
        x0 = int(rng.integers(-w // 3, W - w + w // 3)) if j == 0 else int(rng.integers(0, W - w))
        y0 = int(rng.integers(0, H - h))
        out.append((cls, (x0, y0, x0 + w, y0 + h)))
    return out


def yolo(cls: int, box: tuple[int, int, int, int]) -> str:
    x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], W), min(box[3], H)
    return (
        f"{cls} {(x0 + x1) / 2 / W:.6f} {(y0 + y1) / 2 / H:.6f} {(x1 - x0) / W:.6f} "
        f"{(y1 - y0) / H:.6f}"
    )


def main() -> None:
    shutil.rmtree(ROOT, ignore_errors=True)
    files = photos()
    rng = np.random.default_rng(7)
    splits = [("train", 12), ("val", 4)]
    k = 0
    for split, n in splits:
        (ROOT / "images" / split).mkdir(parents=True)
        (ROOT / "labels" / split).mkdir(parents=True)
        for j in range(n):
            night = k % 4 == 1
            im = background(files[(k * 5) % len(files)])
            d = ImageDraw.Draw(im)
            objs = objects(rng, k)
            for cls, box in objs:  # later objects are drawn over earlier ones: real occlusion
                draw_object(d, cls, box, rng)
            if split == "train" and j == 3:
                objs.append((3, (200, 20, 236, 56)))  # the one kite: a rare class
                draw_object(d, 3, (200, 20, 236, 56), rng)
            if night:  # the whole scene, objects included, is dark
                im = to_night(im)
            stem = f"{split}_{j:02d}"
            exif = Image.Exif()
            exif[0x010F], exif[0x0110] = CAMERAS[k % 2]
            exif.get_ifd(0x8769)[0x9003] = f"2024:06:0{1 + k % 7} {'22' if night else '14'}:10:00"
            im.save(
                ROOT / "images" / split / f"{stem}.jpg", "JPEG", quality=80, exif=exif.tobytes()
            )
            lines = [yolo(c, b) for c, b in objs]
            if split == "train" and j == 5:
                lines = []  # a background image (hard negative) -- but the photo has objects
            if split == "train" and j == 7:
                c, (x0, y0, x1, y1) = objs[0]  # written in pixels by mistake
                lines[0] = f"{c} {(x0 + x1) / 2:.1f} {(y0 + y1) / 2:.1f} {x1 - x0} {y1 - y0}"
            if split == "train" and j == 8:
                lines.append(lines[0])  # a duplicated box
            if not (split == "val" and j == 2):  # an image nobody labelled
                text = "\n".join(lines) + ("\n" if lines else "")
                (ROOT / "labels" / split / f"{stem}.txt").write_text(text)
            k += 1
    (ROOT / "labels" / "train" / "train_99.txt").write_text("0 0.5 0.5 0.1 0.1\n")  # orphan
    (ROOT / "data.yaml").write_text(
        "# A small detection set made by examples/make_detection_example.py\n"
        "path: .\ntrain: images/train\nval: images/val\n"
        "names:\n" + "".join(f"  {i}: {n}\n" for i, n in enumerate(NAMES))
    )
    sizes = [p.stat().st_size for p in ROOT.rglob("*.jpg")]
    print(f"wrote {ROOT}: {len(sizes)} images, largest {max(sizes) / 1024:.0f} KB")


if __name__ == "__main__":
    main()
