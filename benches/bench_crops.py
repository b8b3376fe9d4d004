"""Crops and small rotations: recall per edit and merges of distinct pictures for one pHash,
imagehash's own crop-resistant matching (1 and 3 regions) and imgstats' crop rule
(``imgstats.crop_match``: segment hashes joined exactly, then verified).

The originals are ``benches/bench_near_dups.py``'s (one per distinct Debian wallpaper, 1024-px
long side); the edits of each original:

- ``crop 10% centre``: the centre 90 % of width and height (5 % off every side);
- ``crop 25% off-centre``: 75 % of width and height, anchored at one corner (cycling over the
  four corners from picture to picture);
- ``rotate 3deg``: rotated 3° (bicubic), then the centre 90 % kept so no black corner remains
  (a straightened photo);
- controls that are near copies, not crops: ``jpeg q50``, ``scale 1/2``, ``brightness x1.4``.

*Recall* of an edit is the share of pictures whose edited copy the method links to its original
(the pair itself). *Distinct pairs* are pairs of files of different pictures the method links
(every file against every other picture's), counted apart for recolourings of one design (the
near-duplicate bench's families). Uniform originals (contrast < 2) are left out of the recall.

imagehash's matching is ``ImageMultiHash.matches(other, region_cutoff=m)`` with its default
cutoff (25 % of the bits: 16), either way round. It is evaluated (all pairs, NumPy) on the
segment hashes of ``imgstats.hashes.crop_resistant_hash`` of every file at full resolution,
which are imagehash's own bit for bit (asserted on a subset with ``imagehash.crop_resistant_hash``
itself, whose time per image is reported). The scan's ``crop_hash`` column, which the crop rule
reads, is computed on the picture box-reduced to a short side of at least 300 px (natively
below 600 px), like the scan's other hashes.

Run: ``.venv/bin/python benches/bench_crops.py [--workdir DIR]`` (a few minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import imagehash
import imgstats
import numpy as np
import polars as pl
from imgstats import _imgstats
from imgstats.crop_match import CropRule, crop_links, segment_pairs, segment_table
from imgstats.duplicates import duplicates
from imgstats.hashes import hash_hex
from PIL import Image, ImageEnhance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_near_dups import LONG_SIDE, join_scan, originals, recolour_family  # noqa: E402

EDITS = [
    "crop 10% centre",
    "crop 25% off-centre",
    "rotate 3deg",
    "jpeg q50",
    "scale 1/2",
    "brightness x1.4",
]
METRICS = ["phash", "dhash", "contrast", "entropy", "crop_hash"]


def edit(im: Image.Image, which: str, i: int) -> tuple[Image.Image, dict[str, int]]:
    """The edited picture and its save options (PNG unless JPEG)."""
    w, h = im.size
    if which == "crop 10% centre":
        return im.crop((round(0.05 * w), round(0.05 * h), round(0.95 * w), round(0.95 * h))), {}
    if which == "crop 25% off-centre":
        x, y = ((0.0, 0.0), (0.25, 0.0), (0.0, 0.25), (0.25, 0.25))[i % 4]
        return im.crop(
            (round(x * w), round(y * h), round((x + 0.75) * w), round((y + 0.75) * h))
        ), {}
    if which == "rotate 3deg":
        r = im.rotate(3, Image.Resampling.BICUBIC)
        return r.crop((round(0.05 * w), round(0.05 * h), round(0.95 * w), round(0.95 * h))), {}
    if which == "jpeg q50":
        return im, {"quality": 50}
    if which == "scale 1/2":
        return im.resize((w // 2, h // 2), Image.Resampling.LANCZOS), {}
    if which == "brightness x1.4":
        return ImageEnhance.Brightness(im).enhance(1.4), {}
    raise ValueError(which)


def build(work: Path) -> pl.DataFrame:
    """Write the originals and their edits; (path, picture, name, family, edit) rows."""
    rows = []
    for i, (name, src) in enumerate(originals()):
        with Image.open(src) as im0:
            rgba = im0.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (128, 128, 128, 255)), rgba)
            im = im.convert("RGB")
        im.thumbnail((LONG_SIDE, LONG_SIDE), Image.Resampling.LANCZOS)
        pic = f"p{i:03d}"
        fam = recolour_family(name)
        path = work / f"{pic}_original.png"
        im.save(path, compress_level=1)
        rows.append((str(path), pic, name, fam, "original"))
        for which in EDITS:
            out, opts = edit(im, which, i)
            ext = "jpg" if opts else "png"
            path = work / f"{pic}_{which.replace(' ', '_').replace('/', '-')}.{ext}"
            out.save(path, **(opts or {"compress_level": 1}))
            rows.append((str(path), pic, name, fam, which))
    return pl.DataFrame(rows, schema=["path", "picture", "name", "family", "edit"], orient="row")


def segment_matrix(lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Segment hashes padded to one row per image (and a validity mask), for the brute-force
    reading of imagehash's matching."""
    width = max(len(x) for x in lists)
    h = np.zeros((len(lists), width), dtype=np.uint64)
    ok = np.zeros((len(lists), width), dtype=bool)
    for r, x in enumerate(lists):
        h[r, : len(x)] = x
        ok[r, : len(x)] = True
    return h, ok


def imagehash_matches(lists: list[list[int]], regions: int, cutoff: int = 16) -> np.ndarray:
    """All-pairs matrix of ``a.matches(b, region_cutoff=regions) or b.matches(a, ...)``:
    segments of a whose nearest segment of b is within `cutoff` bits, at least `regions` of them."""
    h, ok = segment_matrix(lists)
    n, s = h.shape
    count = np.zeros((n, n), dtype=np.int32)
    for i in range(s):  # segments of a
        best = np.full((n, n), 255, dtype=np.int32)
        for j in range(s):  # segments of b
            d = np.bitwise_count(h[:, i][:, None] ^ h[:, j][None, :]).astype(np.int32)
            d[:, ~ok[:, j]] = 255
            best = np.minimum(best, d)
        count += (best <= cutoff) & ok[:, i][:, None]
    hit = count >= regions
    return hit | hit.T


def pair_matrix(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    hit = np.zeros((n, n), dtype=bool)
    hit[a, b] = True
    return hit | hit.T


def score(df: pl.DataFrame, hit: np.ndarray) -> dict[str, object]:
    pic = df["picture"].to_numpy()
    fam = df["family"].to_numpy()
    uniform = df["uniform"].to_numpy()
    orig_row = {p: i for i, (p, e) in enumerate(zip(pic, df["edit"])) if e == "original"}
    out: dict[str, object] = {}
    for which in EDITS:
        rows = np.flatnonzero((df["edit"] == which).to_numpy() & ~uniform)
        out[which] = float(np.mean([hit[r, orig_row[pic[r]]] for r in rows]))
    upper = np.triu(np.ones_like(hit), 1)
    other = pic[:, None] != pic[None, :]
    same_family = fam[:, None] == fam[None, :]
    out["distinct pairs"] = int((hit & upper & other & ~same_family).sum())
    out["recolour pairs"] = int((hit & upper & other & same_family).sum())
    return out


def median_time(f, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="where to write the set (default: a temporary folder)")
    ap.add_argument("--subset", type=int, default=12, help="files imagehash itself hashes")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="crops_"))
    work.mkdir(parents=True, exist_ok=True)
    cached = work / "set.parquet"
    meta = pl.read_parquet(cached) if cached.exists() else build(work)
    meta.write_parquet(cached)
    paths = meta["path"].to_list()

    base = ["phash", "dhash", "contrast", "entropy"]
    t_base = median_time(lambda: imgstats.scan(paths, base))
    t_crop = median_time(lambda: imgstats.scan(paths, METRICS))
    scanned = imgstats.scan(paths, METRICS)
    df, _ = join_scan(meta, scanned)
    n = df.height
    print(
        f"{df['picture'].n_unique()} pictures, {n} files; scan {t_base:.2f} s without crop_hash, "
        f"{t_crop:.2f} s with it (medians of 3; "
        f"{np.mean([len(x) for x in df['crop_hash'].to_list()]):.1f} segments per image)"
    )

    # Every file's segment hashes at full resolution (imagehash's bits), and the Rust kernel's
    # time per image on the decoded luma.
    full: list[list[int]] = []
    t_kernel = []
    for path in df["path"].to_list():
        with Image.open(path) as im:
            luma = np.asarray(im.convert("L"))
        t = time.perf_counter()
        segs = _imgstats._crop_resistant_l8(luma)
        t_kernel.append(time.perf_counter() - t)
        full.append([s[0] for s in segs])
    # imagehash itself on a subset: the same segment hashes, and its time per image.
    picks = list(range(0, n, max(1, n // args.subset)))[: args.subset]
    t_ih = []
    for r in picks:
        with Image.open(df["path"][r]) as im:
            im.load()
            t = time.perf_counter()
            ref = imagehash.crop_resistant_hash(im)
            t_ih.append(time.perf_counter() - t)
        assert [str(x) for x in ref.segment_hashes] == [hash_hex(x) for x in full[r]], r
    print(
        f"segment hashes at full resolution: imgstats {statistics.median(t_kernel) * 1000:.1f} ms "
        f"per image (median, Rust kernel on the luma); imagehash.crop_resistant_hash on "
        f"{len(picks)} of them: the same hashes, median {statistics.median(t_ih) * 1000:.0f} ms"
    )

    rows: list[dict[str, object]] = []
    p = df["phash"].to_numpy().astype(np.uint64)
    t = time.perf_counter()
    hit = np.bitwise_count(p[:, None] ^ p[None, :]) <= 8
    np.fill_diagonal(hit, False)
    rows.append({"method": "pHash <= 8", "seconds": time.perf_counter() - t, **score(df, hit)})
    for regions in (1, 3):
        t = time.perf_counter()
        hit = imagehash_matches(full, regions)
        np.fill_diagonal(hit, False)
        sec = time.perf_counter() - t
        rows.append(
            {"method": f"imagehash matches, {regions} region(s)", "seconds": sec, **score(df, hit)}
        )
    rule = CropRule()
    segments = segment_table(df)
    t_join = median_time(lambda: segment_pairs(segments, rule.dhash))
    n_cand = segment_pairs(segments, rule.dhash).height
    t_rule = median_time(lambda: crop_links(df, rule))
    links = crop_links(df, rule)
    hit = pair_matrix(n, links["a"].to_numpy(), links["b"].to_numpy())
    rows.append({"method": "imgstats crop rule (verified)", "seconds": t_rule, **score(df, hit)})
    # End to end: duplicates() groups (near copies + crops, chaining included).
    t_dup = median_time(lambda: duplicates(df, exact=False))
    gid = duplicates(df, exact=False)["group_id"].to_numpy()
    hit = gid[:, None] == gid[None, :]
    np.fill_diagonal(hit, False)
    rows.append(
        {"method": "duplicates(df) groups, near + crop", "seconds": t_dup, **score(df, hit)}
    )
    table = pl.DataFrame(rows)
    with pl.Config(
        tbl_rows=20, tbl_cols=20, tbl_width_chars=250, float_precision=3, fmt_str_lengths=60
    ):
        print(table)
    print(
        f"crop rule: {rule.describe()}; {segments.height} informative regions, "
        f"{n_cand} candidate region pairs from the exact join ({t_join * 1000:.0f} ms), "
        f"verification included: {t_rule * 1000:.0f} ms for {n} images"
    )
    if not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
