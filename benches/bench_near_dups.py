"""Recall on benign edits vs merges of distinct pictures, for the near-copy rules of
`imgstats.duplicates`: the measurement behind its defaults (``docs/duplicates.md``).

The set is Copydays-style, built from the Debian wallpapers: one original per distinct picture
(``/usr/share/wallpapers/*/contents/images/*``: the size nearest 1920 px wide; ``/usr/share/
backgrounds/**`` raster files, one resolution of each picture), resized to a 1024-px long side,
and twelve edits of each: JPEG q10/q30/q50/q75, ½ and ⅛ scale, brightness ×0.5 and ×1.4,
Gaussian blur σ2, noise σ12, grayscale, WebP q50. Everything goes through ``imgstats.scan`` (so
the hashes are the scan's, reduced JPEG decodes included), then:

- *recall* of an edit: the share of pictures whose edited copy satisfies the rule with its
  original (the pair itself, no chaining);
- *distinct pairs*: pairs of files of different pictures that satisfy the rule (every original
  and edit against every other picture's);
- *merged pictures*: pairs of distinct pictures that ``duplicates`` puts in one group (chaining
  included) on the whole set;
- *random pairs at 1M*: the pairs the rule would accept among 1,000,000 unrelated images if hash
  bits were fair coins (binomial tails) — how the false-pair rate scales beyond this small set.

Recolourings of one design (gnome's ``-l``/``-d`` light and dark variants, MATE's Stripes Light /
Dark, Ubuntu MATE's Warm / Cold / Dark / Radioactive) are distinct pictures for a user, but have
the same luma layout; they are counted apart ("recolourings") so the table shows both.

Run: ``.venv/bin/python benches/bench_near_dups.py [--workdir DIR] [--keep]`` (a few minutes on 2
cores, most of it encoding the edits).
"""

from __future__ import annotations

import argparse
import io
import itertools
import math
import re
import shutil
import tempfile
import time
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
from imgstats.duplicates import (
    DEFAULT_DHASH_THRESHOLD,
    DEFAULT_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
    duplicates,
)
from imgstats.hamming import LOW_CONTRAST, low_information
from imgstats.match_rule import simple_pictures
from PIL import Image, ImageEnhance, ImageFilter

LONG_SIDE = 1024
METRICS = ["phash", "dhash", "content_hash", "pixel_hash", "entropy", "contrast"]
EDITS = [
    "jpeg q10",
    "jpeg q30",
    "jpeg q50",
    "jpeg q75",
    "scale 1/2",
    "scale 1/8",
    "brightness x0.5",
    "brightness x1.4",
    "blur sigma2",
    "noise sigma12",
    "grayscale",
    "webp q50",
]
#: The grid of rules (pHash alone, wide pHash radius, confirming dHash bits); pHash alone at 8
#: bits is the old default.
RULES: list[tuple[int, int | None, int | None]] = [(k, None, None) for k in (8, 10, 12, 14, 16)] + [
    (k, w, kd) for k in (8, 10, 12, 14) for w in (14, 16, 18, 20) for kd in (8, 10, 12, 14) if w > k
]


def originals() -> list[tuple[str, Path]]:
    """(picture name, file): one file per distinct picture."""
    out: list[tuple[str, Path]] = []
    for d in sorted(Path("/usr/share/wallpapers").glob("*/contents/images")):
        files = [p for p in d.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]

        def width(p: Path) -> int:
            m = re.match(r"(\d+)x(\d+)", p.stem)
            return abs(int(m.group(1)) - 1920) if m else 10**6

        if files:
            out.append((d.parts[-3], min(files, key=width)))
    seen: set[str] = set()
    for p in sorted(Path("/usr/share/backgrounds").rglob("*")):
        if p.suffix.lower() not in {".jpg", ".jpeg", ".png", ".webp"}:
            continue
        base = re.sub(r"_\d+x\d+$", "", p.stem)  # Elephants_3840x2160 = Elephants
        if base in seen:
            continue
        seen.add(base)
        out.append((base, p))
    return out


def recolour_family(name: str) -> str:
    """Pictures that are one design in other colours share a family name."""
    name = re.sub(r"-[ld]$", "", name)  # gnome light / dark
    name = re.sub(r"^MATE-Stripes-(Light|Dark)$", "MATE-Stripes", name)
    return re.sub(r"^Ubuntu-Mate-\w+-no-logo$", "Ubuntu-Mate-no-logo", name)


def edit(im: Image.Image, which: str, rng: np.random.Generator) -> tuple[Image.Image, str, dict]:
    """The edited image, the format to save it in and the save options."""
    if which.startswith("jpeg"):
        return im, "JPEG", {"quality": int(which[6:])}
    if which == "webp q50":
        return im, "WEBP", {"quality": 50}
    if which.startswith("scale"):
        f = int(which.split("/")[1])
        return im.resize((max(1, im.width // f), max(1, im.height // f)), Image.LANCZOS), "PNG", {}
    if which.startswith("brightness"):
        return ImageEnhance.Brightness(im).enhance(float(which[12:])), "PNG", {}
    if which == "blur sigma2":
        return im.filter(ImageFilter.GaussianBlur(2)), "PNG", {}
    if which == "noise sigma12":
        arr = np.asarray(im).astype(np.float32)
        return (
            Image.fromarray(np.clip(arr + rng.normal(0, 12, arr.shape), 0, 255).astype(np.uint8)),
            "PNG",
            {},
        )
    if which == "grayscale":
        return im.convert("L"), "PNG", {}
    raise ValueError(which)


FLIP_EDITS = ["hflip", "rot90", "transpose", "hflip + jpeg q50"]


def build_flips(work: Path, originals_meta: pl.DataFrame) -> pl.DataFrame:
    """Mirrored / rotated copies of every original (for ``invariant=True``)."""
    ops = {
        "hflip": Image.Transpose.FLIP_LEFT_RIGHT,
        "rot90": Image.Transpose.ROTATE_90,
        "transpose": Image.Transpose.TRANSPOSE,
    }
    rows = []
    for r in originals_meta.filter(pl.col("edit") == "original").iter_rows(named=True):
        im = Image.open(r["path"]).convert("RGB")
        for which in FLIP_EDITS:
            op = ops[which.split(" ")[0]]
            moved = im.transpose(op)
            if which.endswith("jpeg q50"):
                path = work / f"{r['picture']}_hflip_q50.jpg"
                moved.save(path, quality=50)
            else:
                path = work / f"{r['picture']}_{which}.png"
                moved.save(path, compress_level=1)
            rows.append((str(path), r["picture"], r["name"], r["family"], which))
    return pl.DataFrame(rows, schema=["path", "picture", "name", "family", "edit"], orient="row")


def invariance(work: Path, meta: pl.DataFrame) -> None:
    """Recall of flipped / rotated copies and merges of distinct pictures with
    ``duplicates(invariant=True)`` on the scan's dihedral hashes (group level: same group)."""
    cached = work / "flips.parquet"
    flips = pl.read_parquet(cached) if cached.exists() else build_flips(work, meta)
    flips.write_parquet(cached)
    every = pl.concat([meta, flips])
    scanned = imgstats.scan(every["path"].to_list(), [*METRICS, "phash_dihedral", "dhash_dihedral"])
    df = every.join(scanned, on="path", how="left")
    flat = df.filter(pl.col("edit") == "original").select(
        "picture", (pl.col("contrast") < LOW_CONTRAST).alias("uniform")
    )
    df = df.join(flat, on="picture")
    pic, fam = df["picture"].to_numpy(), df["family"].to_numpy()
    rules = {
        "pHash<=8 (flips too)": {"dhash_threshold": None},
        "new default (flips: both hashes)": {},
    }
    print("\ninvariant=True (dihedral hashes from the scan; recall = same group as the original)")
    for label, kw in rules.items():
        groups = duplicates(df, invariant=True, exact=False, **kw)["group_id"].to_numpy()
        orig = {p: groups[i] for i, (p, e) in enumerate(zip(pic, df["edit"])) if e == "original"}
        uniform = df["uniform"].to_numpy()
        recall = {}
        for which in FLIP_EDITS + ["jpeg q10", "brightness x1.4"]:
            rows = np.flatnonzero((df["edit"] == which).to_numpy() & ~uniform)
            recall[which] = float(np.mean([groups[r] == orig[pic[r]] for r in rows]))
        merged = set()
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            fams = sorted(set(fam[members]))
            merged.update(itertools.combinations(fams, 2))
        text = ", ".join(f"{k} {v:.3f}" for k, v in recall.items())
        print(f"{label}: {text}; distinct designs merged: {len(merged)} {sorted(merged)[:6]}")


def build(work: Path) -> pl.DataFrame:
    """Write originals and edits; return (path, picture id, name, family, edit) rows."""
    rng = np.random.default_rng(0)
    rows = []
    for i, (name, src) in enumerate(originals()):
        with Image.open(src) as im0:
            # Transparent wallpapers are a pattern in alpha: show them over mid-grey, as a
            # desktop would over its background colour (RGB alone is often constant there).
            rgba = im0.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (128, 128, 128, 255)), rgba)
            im = im.convert("RGB")
        im.thumbnail((LONG_SIDE, LONG_SIDE), Image.LANCZOS)
        pic = f"p{i:03d}"
        path = work / f"{pic}_original.png"
        im.save(path, compress_level=1)
        rows.append((str(path), pic, name, recolour_family(name), "original"))
        for which in EDITS:
            out, fmt, opts = edit(im, which, rng)
            ext = {"JPEG": "jpg", "WEBP": "webp", "PNG": "png"}[fmt]
            path = work / f"{pic}_{which.replace(' ', '_').replace('/', '-')}.{ext}"
            buf = io.BytesIO()
            out.save(buf, fmt, **({"compress_level": 1} if fmt == "PNG" else opts))
            path.write_bytes(buf.getvalue())
            rows.append((str(path), pic, name, recolour_family(name), which))
    return pl.DataFrame(rows, schema=["path", "picture", "name", "family", "edit"], orient="row")


def rule_hits(
    h: np.ndarray, d: np.ndarray, simple: np.ndarray, kp: int, wide: int | None, kd: int | None
) -> np.ndarray:
    """All-pairs boolean matrix of the rule (brute force): with dHash, simple pictures (entropy
    < 1 bit) need both hashes."""
    pd = np.bitwise_count(h[:, None] ^ h[None, :])
    hit = pd <= kp
    if kd is not None and wide is not None:
        hit &= ~simple[:, None] & ~simple[None, :]
        hit |= (pd <= wide) & (np.bitwise_count(d[:, None] ^ d[None, :]) <= kd)
    return hit


def tail(k: int) -> float:
    """P(Hamming distance <= k) between two independent uniform 64-bit hashes."""
    return sum(math.comb(64, i) for i in range(k + 1)) / 2.0**64


def random_pairs(kp: int, wide: int | None, kd: int | None, n: int = 1_000_000) -> float:
    """Expected pairs within the rule among `n` unrelated images whose hash bits were fair coins:
    how the rule scales (a small bench cannot see a 1e-7 false-pair rate, a million images do)."""
    p = tail(kp)
    if wide is not None and kd is not None and wide > kp:
        p += (tail(wide) - tail(kp)) * tail(kd)
    return n * (n - 1) / 2 * p


def evaluate(df: pl.DataFrame, kp: int, wide: int | None, kd: int | None) -> dict[str, object]:
    h = df["phash"].to_numpy().astype(np.uint64)
    d = df["dhash"].to_numpy().astype(np.uint64)
    # The guard duplicates applies: with a confirming dHash only uniform pictures are exact-only.
    low = low_information(df, "phash", entropy=kd is None)
    simple = simple_pictures(df)
    hit = rule_hits(h, d, simple, kp, wide, kd) & ~low[:, None] & ~low[None, :]
    pic = df["picture"].to_numpy()
    fam = df["family"].to_numpy()
    orig_row = {p: i for i, (p, e) in enumerate(zip(pic, df["edit"])) if e == "original"}
    uniform = df["uniform"].to_numpy()
    recall = {}
    for which in EDITS:
        # Uniform originals are exact-only by design: they are not counted.
        rows = np.flatnonzero((df["edit"] == which).to_numpy() & ~uniform)
        recall[which] = float(np.mean([hit[r, orig_row[pic[r]]] for r in rows]))
    other = pic[:, None] != pic[None, :]
    upper = np.triu(np.ones_like(hit), 1)
    same_family = fam[:, None] == fam[None, :]
    distinct_pairs = int((hit & other & upper & ~same_family).sum())
    recolour_pairs = int((hit & other & upper & same_family).sum())
    groups = duplicates(df, threshold=kp, dhash_threshold=kd, wide_threshold=wide, exact=False)[
        "group_id"
    ].to_numpy()
    merged: set[tuple[str, str]] = set()
    for g in np.unique(groups):
        names = sorted(set(pic[groups == g]))
        merged.update(itertools.combinations(names, 2))
    fam_of = dict(zip(pic, fam))
    name_of = dict(zip(pic, df["name"]))
    merged_distinct = sorted((name_of[a], name_of[b]) for a, b in merged if fam_of[a] != fam_of[b])
    merged_recolour = sorted((name_of[a], name_of[b]) for a, b in merged if fam_of[a] == fam_of[b])
    benign = [recall[e] for e in EDITS]
    return {
        "rule": f"pHash<={kp}" + (f" | pHash<={wide} & dHash<={kd}" if kd is not None else ""),
        "kp": kp,
        "wide": wide,
        "kd": kd,
        "random_pairs_1M": round(random_pairs(kp, wide, kd)),
        "mean_recall": float(np.mean(benign)),
        "min_recall": float(np.min(benign)),
        "distinct_pairs": distinct_pairs,
        "recolour_pairs": recolour_pairs,
        "merged_distinct": merged_distinct,
        "merged_recolour": merged_recolour,
        **recall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="where to write the set (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the written set")
    ap.add_argument(
        "--invariant",
        action="store_true",
        help="also measure duplicates(invariant=True) on mirrored / rotated copies",
    )
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="near_dups_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cached = work / "set.parquet"
    meta = pl.read_parquet(cached) if cached.exists() else build(work)
    meta.write_parquet(cached)
    t1 = time.perf_counter()
    scanned = imgstats.scan(meta["path"].to_list(), METRICS)
    t2 = time.perf_counter()
    df = meta.join(scanned, on="path", how="left")
    bad = df.filter(pl.col("error").is_not_null())
    if bad.height:
        raise SystemExit(f"{bad.height} files failed to scan: {bad['error'][0]}")
    # A picture is uniform when its original is (contrast < 2 levels): exact-only by design.
    flat = df.filter(pl.col("edit") == "original").select(
        "picture", (pl.col("contrast") < LOW_CONTRAST).alias("uniform")
    )
    df = df.join(flat, on="picture")
    n_pics = df["picture"].n_unique()
    print(
        f"{n_pics} pictures ({df['family'].n_unique()} designs), {df.height} files; "
        f"built in {t1 - t0:.0f} s, scanned in {t2 - t1:.1f} s; "
        f"{int(flat['uniform'].sum())} uniform pictures (exact-only, not in the recall)"
    )
    results = [evaluate(df, kp, w, kd) for kp, w, kd in RULES]
    grid = pl.DataFrame(
        [{k: v for k, v in r.items() if not k.startswith("merged")} for r in results]
    ).with_columns(
        pl.Series("merged_distinct", [len(r["merged_distinct"]) for r in results]),  # type: ignore[arg-type]
        pl.Series("merged_recolour", [len(r["merged_recolour"]) for r in results]),  # type: ignore[arg-type]
    )
    with pl.Config(
        tbl_rows=200, tbl_cols=30, tbl_width_chars=250, float_precision=3, fmt_str_lengths=60
    ):
        print("\nEvery rule (recall: edited copy vs its original; pairs/merges: distinct pictures)")
        print(
            grid.select(
                "rule",
                "mean_recall",
                "min_recall",
                "random_pairs_1M",
                "distinct_pairs",
                "merged_distinct",
                "recolour_pairs",
                "merged_recolour",
            )
        )
        ok = grid.filter(
            (pl.col("merged_distinct") == 0)
            & (pl.col("distinct_pairs") == 0)
            & (pl.col("random_pairs_1M") <= 1000)
        )
        best = ok.sort(["mean_recall", "min_recall", "kp"], descending=[True, True, False]).head(8)
        print(
            "\nBest rules with zero distinct pairs, zero merges and <= 1000 random pairs at 1M "
            "(pHash alone at 8 bits: ~280):"
        )
        print(best.select("rule", "mean_recall", "min_recall", "random_pairs_1M"))
        shown = [
            (DEFAULT_THRESHOLD, None, None),
            (NEAR_PHASH_THRESHOLD, WIDE_PHASH_THRESHOLD, DEFAULT_DHASH_THRESHOLD),
        ]
        print("\nRecall per edit: pHash alone at 8 bits vs the new default")
        per_edit = pl.DataFrame(
            {"edit": EDITS}
            | {
                next(r["rule"] for r in results if (r["kp"], r["wide"], r["kd"]) == s): [
                    next(r[e] for r in results if (r["kp"], r["wide"], r["kd"]) == s) for e in EDITS
                ]
                for s in shown
            }
        )
        print(per_edit)
        for s in shown:
            r = next(r for r in results if (r["kp"], r["wide"], r["kd"]) == s)
            print(
                f"{r['rule']}: {r['distinct_pairs']} pairs of distinct pictures within the rule, "
                f"merged pictures {r['merged_distinct']}; "
                f"recolourings merged: {r['merged_recolour']}"
            )
    if args.invariant:
        invariance(work, meta)
    if not args.keep and not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
