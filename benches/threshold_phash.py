"""Choose the default pHash threshold from a measurement, not a guess.

Recall: the share of benign edits of real photos (re-compression, resizing, brightness, mild
blur/noise, grayscale) whose pHash stays within k of the original. False pairs: the share (and
count) of pairs of *distinct* images within k — among the real wallpapers (one file per
wallpaper) and among 10,000 Fashion-MNIST images (small, centred, similar-looking objects: a hard
case for any hash). Run: ``.venv/bin/python benches/threshold_phash.py`` (about a minute);
``--skip-constant`` leaves the constant images out of the recall table too (their pHash bits are
decided by noise, and `duplicates` matches them only exactly).
"""

from __future__ import annotations

import argparse
import gzip
import io
import itertools
from pathlib import Path

import imgstats
import numpy as np
from PIL import Image, ImageEnhance, ImageFilter

KS = [0, 2, 4, 6, 8, 10, 12, 14, 16]


def wallpapers() -> list[Path]:
    """One file per distinct picture: the size closest to 1920 px wide in each wallpaper dir."""
    out: list[Path] = []
    for d in sorted(Path("/usr/share/wallpapers").glob("*/contents")):
        files = [p for p in d.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]
        if files:

            def width(p: Path) -> int:
                try:
                    return abs(int(p.stem.split("x")[0]) - 1920)
                except ValueError:
                    return 10**6

            out.append(min(files, key=width))
    for d in ["/usr/share/backgrounds/mate", "/usr/share/backgrounds/gnome"]:
        for p in sorted(Path(d).rglob("*")):
            # gnome ships -l/-d (light/dark) variants of one design: keep one of each.
            if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} and not p.stem.endswith("-d"):
                out.append(p)
    return out


def edits(im: Image.Image, rng: np.random.Generator) -> dict[str, Image.Image]:
    def jpeg(q: int) -> Image.Image:
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=q)
        return Image.open(io.BytesIO(buf.getvalue())).convert("RGB")

    arr = np.asarray(im).astype(np.float32)
    noisy = np.clip(arr + rng.normal(0, 8, arr.shape), 0, 255).astype(np.uint8)
    return {
        "jpeg q=90": jpeg(90),
        "jpeg q=70": jpeg(70),
        "jpeg q=50": jpeg(50),
        "resize 50%": im.resize((im.width // 2, im.height // 2), Image.LANCZOS),
        "brightness +20%": ImageEnhance.Brightness(im).enhance(1.2),
        "brightness -20%": ImageEnhance.Brightness(im).enhance(0.8),
        "blur r=1.5": im.filter(ImageFilter.GaussianBlur(1.5)),
        "noise sigma=8": Image.fromarray(noisy),
        "grayscale": im.convert("L"),
        "crop 5% border": im.crop(
            (im.width // 20, im.height // 20, im.width * 19 // 20, im.height * 19 // 20)
        ),
    }


def fashion_mnist(n: int) -> np.ndarray:
    raw = gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").read()
    return np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:n]


def pair_rate(hashes: np.ndarray, k: int) -> tuple[int, int]:
    h = hashes.astype(np.uint64)
    count = 0
    for i in range(len(h) - 1):
        d = np.bitwise_count(h[i] ^ h[i + 1 :])
        count += int((d <= k).sum())
    return count, len(h) * (len(h) - 1) // 2


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-constant", action="store_true", help="recall on non-constant images")
    args = ap.parse_args()
    flat = {0, 1 << 63}
    rng = np.random.default_rng(0)
    files = wallpapers()
    originals: list[int] = []
    dist: dict[str, list[int]] = {}
    for p in files:
        with Image.open(p) as im0:
            im = im0.convert("RGB")
        # Work at <= 1920 px: edits of 5K images cost minutes and change nothing in a pHash.
        im.thumbnail((1920, 1920), Image.LANCZOS)
        h0 = imgstats.phash(im)
        originals.append(h0)
        edited = edits(im, rng)  # drawn for every image: the noise is the same either way
        if args.skip_constant and h0 in flat:
            continue
        for name, e in edited.items():
            dist.setdefault(name, []).append((h0 ^ imgstats.phash(e)).bit_count())
    print(f"{len(files)} distinct real images (wallpapers + backgrounds)", end="")
    n_flat = sum(h in flat for h in originals)
    print(
        f"; recall on the {len(files) - n_flat} non-constant ones\n" if args.skip_constant else "\n"
    )
    print("| edit | " + " | ".join(f"k={k}" for k in KS) + " | max d |")
    print("|---|" + "---|" * (len(KS) + 1))
    all_d = []
    for name, ds in dist.items():
        arr = np.array(ds)
        if not name.startswith("crop"):
            # Cropping moves content: not a benign edit pHash claims to survive (shown apart).
            all_d.extend(ds)
        cells = " | ".join(f"{(arr <= k).mean():.0%}" for k in KS)
        print(f"| {name} | {cells} | {arr.max()} |")
    arr = np.array(all_d)
    print(
        "| **all benign edits (no crop)** | "
        + " | ".join(f"**{(arr <= k).mean():.1%}**" for k in KS)
        + " | |"
    )
    # Constant images (pHash 0x8000000000000000) are matched only exactly by imgstats: leave
    # them out of the false-pair count, as `duplicates` does.
    print(f"\n{sum(h in flat for h in originals)} constant images left out of the false pairs")
    names = [str(p.relative_to(p.parents[2])) for p, h in zip(files, originals) if h not in flat]
    originals = [h for h in originals if h not in flat]
    real = np.array(originals, dtype=np.uint64)
    fm = np.array([imgstats.phash(a) for a in fashion_mnist(10_000)], dtype=np.uint64)
    print("\nFalse pairs among distinct images (pairs within k / all pairs):\n")
    print("| set | " + " | ".join(f"k={k}" for k in KS) + " |")
    print("|---|" + "---|" * len(KS))
    for name, h in [(f"{len(real)} wallpapers", real), ("10,000 Fashion-MNIST", fm)]:
        cells = []
        for k in KS:
            c, total = pair_rate(h, k)
            cells.append(f"{c} ({c / total:.2e})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nSingle linkage on 10,000 Fashion-MNIST: largest group, rows in groups of >1:\n")
    print("| k | largest group | rows grouped |")
    print("|---|---|---|")
    for k in KS:
        labels, sizes = imgstats._imgstats._groups(fm, k)
        grouped = int(sizes[sizes > 1].sum())
        print(f"| {k} | {int(sizes.max())} | {grouped} ({grouped / len(fm):.1%}) |")
    close = [
        (names[i], names[j], (int(a) ^ int(b)).bit_count())
        for (i, a), (j, b) in itertools.combinations(enumerate(originals), 2)
        if (int(a) ^ int(b)).bit_count() <= 16
    ]
    print("\nDistinct files whose pHashes are within 16 bits (inspect: same design?):", close)
    print("\nDistance between every pair of distinct wallpapers (min, 1st percentile):")
    d = np.array([(int(a) ^ int(b)).bit_count() for a, b in itertools.combinations(originals, 2)])
    print(f"min {d.min()}, p1 {np.percentile(d, 1):.0f}, median {np.median(d):.0f}")


if __name__ == "__main__":
    main()
