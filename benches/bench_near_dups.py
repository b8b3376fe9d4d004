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

The grid crosses the pHash-alone radius, the wide pHash radius, the confirming dHash radius and
the colour-signature radius (``color_signature`` metric; None = no colour check). The default is
picked by a fixed criterion, not by hand: among rules with no pair of distinct pictures within the
rule, no merge of distinct pictures, and at most 1,000 random pairs at 1M (fair-coin pHash/dHash
bits; the colour check only removes pairs), the highest minimum recall over the edits, then the
highest mean recall, then the fewest merged recolourings, then the cheapest search (smallest
dHash radius, then smallest wide radius), then the most tolerant colour radius.

``--narrowed`` evaluates only the default rule with its wide pHash radius or its dHash radius
narrowed one bit at a time (what the faster searches at 10M images give up).

Run: ``.venv/bin/python benches/bench_near_dups.py [--workdir DIR] [--keep] [--invariant]
[--narrowed]`` (a
few minutes on 2 cores, most of it encoding the edits; with ``--workdir`` the set is kept and
reused, and every rule's numbers are written to ``DIR/grid.csv``).
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
from imgstats import match_rule
from imgstats.duplicates import (
    DEFAULT_COLOR_THRESHOLD,
    DEFAULT_DHASH_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
    duplicates,
)
from imgstats.hamming import LOW_CONTRAST, low_information
from imgstats.match_rule import simple_pictures
from PIL import Image, ImageEnhance, ImageFilter

LONG_SIDE = 1024
METRICS = ["phash", "dhash", "color_signature", "content_hash", "pixel_hash", "entropy", "contrast"]
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
#: A rule: (pHash alone, wide pHash radius, confirming dHash bits, confirming colour bits).
Rule = tuple[int, "int | None", "int | None", "int | None"]
#: pHash alone at 8 bits (the first default) and pHash <= 8 | pHash <= 14 & dHash <= 10 (the
#: second, before the colour signature).
PHASH_ALONE: Rule = (8, None, None, None)
OLD_DEFAULT: Rule = (8, 14, 10, None)
#: The grid of rules.
RULES: list[Rule] = (
    [(k, None, None, None) for k in (8, 10, 12)]
    + [(8, w, kd, None) for w in (14, 16, 18) for kd in (10, 12)]
    + [
        (k, w, kd, kc)
        for k in (4, 8)
        for w in (14, 16, 18, 20)
        for kd in (10, 12, 14, 16)
        for kc in (4, 6, 8, 10)
    ]
)
#: The guards crossed with every colour rule: (entropy bits below which a picture is simple,
#: whether the pHash-alone tier closes only when both pictures are simple, whether the
#: pHash-alone tier needs the colour check too).
GUARDS: list[tuple[float, bool, bool]] = [
    (1.0, False, False),
    (1.0, True, False),
    (1.2, True, False),
    (1.2, True, True),
    (2.0, False, True),
    (2.0, True, False),
    (2.0, True, True),
]
#: The guard before the colour signature.
OLD_GUARD: tuple[float, bool, bool] = (1.0, False, False)


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
        "old default (flips: both hashes)": {
            "threshold": OLD_DEFAULT[0],
            "wide_threshold": OLD_DEFAULT[1],
            "dhash_threshold": OLD_DEFAULT[2],
            "color_threshold": None,
        },
        "new default (flips: both hashes and colour)": {},
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


#: The copies made of each planted simple picture.
SIMPLE_EDITS = ["jpeg q10", "jpeg q30", "jpeg q75", "scale 1/2", "scale 1/8"]
#: The recall column for them (a pseudo-edit: own copies of simple pictures).
SIMPLE_COPIES = "simple copies"


def simple_pictures_set() -> dict[str, Image.Image]:
    """Planted simple pictures the luma hashes confuse: two-tone splits of one layout in other
    colours, one colour pair in other layouts, a logo in two colour schemes."""
    from PIL import ImageDraw

    def split(at: float, left: tuple[int, int, int], right: tuple[int, int, int]) -> Image.Image:
        im = Image.new("RGB", (600, 400), left)
        draw = ImageDraw.Draw(im)
        draw.rectangle((int(600 * at), 0, 600, 400), fill=right)
        draw.rectangle((60, 133, 120, 200), fill=right)  # a notch: a simple diagram
        return im

    def logo(bg: tuple[int, int, int], disc: tuple[int, int, int], bar: tuple[int, int, int]):
        im = Image.new("RGB", (480, 320), bg)
        draw = ImageDraw.Draw(im)
        draw.ellipse((60, 60, 260, 260), fill=disc)
        draw.rectangle((290, 130, 440, 190), fill=bar)
        return im

    white, black = (255, 255, 255), (0, 0, 0)
    return {
        "split-black-white": split(0.5, black, white),
        "split-navy-red": split(0.5, (0, 0, 128), (255, 0, 0)),
        "split-grey-80": split(0.8, (20, 20, 20), (230, 230, 230)),
        "split-grey-30": split(0.3, (20, 20, 20), (230, 230, 230)),
        "logo-red-blue": logo(white, (200, 20, 20), (20, 40, 160)),
        "logo-blue-orange": logo(white, (20, 90, 200), (210, 120, 0)),
    }


def build_simple(work: Path) -> pl.DataFrame:
    """Write the planted simple pictures and their copies (family = their own name: every pair
    of them is distinct)."""
    rows = []
    for k, (name, im) in enumerate(simple_pictures_set().items()):
        pic = f"s{k:02d}"
        path = work / f"{pic}_original.png"
        im.save(path)
        rows.append((str(path), pic, name, name, "original"))
        for which in SIMPLE_EDITS:
            out, fmt, opts = edit(im, which, np.random.default_rng(0))
            ext = {"JPEG": "jpg", "PNG": "png"}[fmt]
            path = work / f"{pic}_{which.replace(' ', '_').replace('/', '-')}.{ext}"
            out.save(path, fmt, **opts)
            rows.append((str(path), pic, name, name, which))
    return pl.DataFrame(rows, schema=["path", "picture", "name", "family", "edit"], orient="row")


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
    dist: dict[str, np.ndarray],
    simple: np.ndarray,
    rule: Rule,
    both: bool = False,
    alone_color: bool = False,
) -> np.ndarray:
    """All-pairs boolean matrix of the rule (brute force, from the all-pairs matrices
    ``dist['p' | 'd' | 'c']`` and ``dist['gray_ok']``, the neutral-signature exemption): with
    dHash, pairs with a simple picture (both simple, with `both`) need the confirmed tier (wide
    pHash, dHash and, when set, colour); with `alone_color` the pHash-alone tier needs the colour
    check too."""
    kp, wide, kd, kc = rule
    pd = dist["p"]
    hit = pd <= kp
    if kd is not None and wide is not None:
        if both:
            hit &= ~(simple[:, None] & simple[None, :])
        else:
            hit &= ~simple[:, None] & ~simple[None, :]
        confirmed = (pd <= wide) & (dist["d"] <= kd)
        if kc is not None:
            copy_luma = (pd <= kp) & (dist["d"] <= kp)
            color_ok = (dist["c"] <= kc) | (dist["gray_ok"] & copy_luma)
            confirmed &= color_ok
            if alone_color:
                hit &= color_ok
        hit |= confirmed
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


def distances(df: pl.DataFrame) -> dict[str, np.ndarray]:
    """All-pairs Hamming distances of pHash, dHash and the colour signature."""
    out = {}
    for key, col in (("p", "phash"), ("d", "dhash"), ("c", "color_signature")):
        x = df[col].to_numpy().astype(np.uint64)
        out[key] = np.bitwise_count(x[:, None] ^ x[None, :])
    # A grayscale (neutral) picture passes the colour check against one with the same contrast
    # (and, in `rule_hits`, a copy's luma structure).
    neutral = df["color_signature"].to_numpy() == match_rule.NEUTRAL_SIGNATURE
    k = df["contrast"].to_numpy().astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):  # uniform pictures: contrast 0
        ratio = np.maximum(k[:, None], k[None, :]) / np.minimum(k[:, None], k[None, :])
    same = ~(ratio > match_rule.GRAY_COPY_CONTRAST_RATIO)
    out["gray_ok"] = (neutral[:, None] | neutral[None, :]) & same
    return out


def rule_name(rule: Rule) -> str:
    kp, wide, kd, kc = rule
    name = f"pHash<={kp}"
    if kd is not None:
        name += f" | pHash<={wide} & dHash<={kd}"
        if kc is not None:
            name += f" & colour<={kc}"
    return name


def guard_name(guard: tuple[float, bool, bool]) -> str:
    bits, both, alone_color = guard
    return f" [simple<{bits:g}{' both' if both else ''}{' alone+colour' if alone_color else ''}]"


def evaluate(
    df: pl.DataFrame,
    dist: dict[str, np.ndarray],
    rule: Rule,
    guard: tuple[float, bool, bool] = OLD_GUARD,
) -> dict[str, object]:
    kp, wide, kd, kc = rule
    # The guard duplicates applies: with a confirming dHash only uniform pictures are exact-only.
    low = low_information(df, "phash", entropy=kd is None)
    # duplicates() reads the simple-picture guard from match_rule's module settings.
    (
        match_rule.SIMPLE_ENTROPY_BITS,
        match_rule.SIMPLE_PAIRS_NEED_BOTH,
        match_rule.ALONE_NEEDS_COLOR,
    ) = guard
    simple = simple_pictures(df)
    hit = rule_hits(dist, simple, rule, guard[1], guard[2]) & ~low[:, None] & ~low[None, :]
    pic = df["picture"].to_numpy()
    fam = df["family"].to_numpy()
    orig_row = {p: i for i, (p, e) in enumerate(zip(pic, df["edit"])) if e == "original"}
    uniform = df["uniform"].to_numpy()
    planted = df["picture"].str.starts_with("s").to_numpy()
    recall = {}
    for which in EDITS:
        # Uniform originals are exact-only by design: they are not counted.
        rows = np.flatnonzero((df["edit"] == which).to_numpy() & ~uniform & ~planted)
        recall[which] = float(np.mean([hit[r, orig_row[pic[r]]] for r in rows]))
    rows = np.flatnonzero((df["edit"] != "original").to_numpy() & planted)
    recall[SIMPLE_COPIES] = float(np.mean([hit[r, orig_row[pic[r]]] for r in rows]))
    other = pic[:, None] != pic[None, :]
    upper = np.triu(np.ones_like(hit), 1)
    same_family = fam[:, None] == fam[None, :]
    distinct_pairs = int((hit & other & upper & ~same_family).sum())
    recolour_pairs = int((hit & other & upper & same_family).sum())
    frame = df if kc is not None else df.drop("color_signature")
    groups = duplicates(
        frame,
        threshold=kp,
        dhash_threshold=kd,
        wide_threshold=wide,
        color_threshold=kc,
        exact=False,
    )["group_id"].to_numpy()
    merged: set[tuple[str, str]] = set()
    for g in np.unique(groups):
        names = sorted(set(pic[groups == g]))
        merged.update(itertools.combinations(names, 2))
    fam_of = dict(zip(pic, fam))
    name_of = dict(zip(pic, df["name"]))
    merged_distinct = sorted((name_of[a], name_of[b]) for a, b in merged if fam_of[a] != fam_of[b])
    merged_recolour = sorted((name_of[a], name_of[b]) for a, b in merged if fam_of[a] == fam_of[b])
    benign = [recall[e] for e in [*EDITS, SIMPLE_COPIES]]
    return {
        "rule": rule_name(rule) + guard_name(guard),
        "simple_bits": guard[0],
        "simple_both": guard[1],
        "alone_color": guard[2],
        "kp": kp,
        "wide": wide,
        "kd": kd,
        "kc": kc,
        "random_pairs_1M": round(random_pairs(kp, wide, kd)),
        "mean_recall": float(np.mean(benign)),
        "min_recall": float(np.min(benign)),
        "distinct_pairs": distinct_pairs,
        "recolour_pairs": recolour_pairs,
        "merged_distinct": merged_distinct,
        "merged_recolour": merged_recolour,
        **recall,
    }


def choose(grid: pl.DataFrame) -> pl.DataFrame:
    """The admissible rules (no pair or merge of distinct pictures, <= 1000 random pairs at 1M),
    best first by the documented criterion."""
    ok = grid.filter(
        (pl.col("merged_distinct") == 0)
        & (pl.col("distinct_pairs") == 0)
        & (pl.col("random_pairs_1M") <= 1000)
    )
    return ok.sort(
        [
            "min_recall",
            "mean_recall",
            "merged_recolour",
            "kd",
            "wide",
            "kc",
            "kp",
            "simple_both",
            "simple_bits",
            "alone_color",
        ],
        descending=[True, True, False, False, False, True, True, False, True, True],
        nulls_last=True,
    )


def join_scan(meta: pl.DataFrame, scanned: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The set's table joined with its scan (any failed file stops the bench), plus the
    ``uniform`` flag per picture: a picture is uniform when its original is (contrast < 2
    levels), exact-only by design. Returns (table, per-picture flags)."""
    df = meta.join(scanned, on="path", how="left")
    bad = df.filter(pl.col("error").is_not_null())
    if bad.height:
        raise SystemExit(f"{bad.height} files failed to scan: {bad['error'][0]}")
    flat = df.filter(pl.col("edit") == "original").select(
        "picture", (pl.col("contrast") < LOW_CONTRAST).alias("uniform")
    )
    return df.join(flat, on="picture"), flat


def narrowed(df: pl.DataFrame, dist: dict[str, np.ndarray], work: Path) -> None:
    """The default rule and guards with the wide pHash radius, or the dHash radius, below its
    default: the recall each step gives up (`duplicates(df, wide_threshold=W)` /
    `dhash_threshold=D`; their search costs at 10M hashes are in docs/duplicates.md)."""
    kp, wide, kd, kc = (
        NEAR_PHASH_THRESHOLD,
        WIDE_PHASH_THRESHOLD,
        DEFAULT_DHASH_THRESHOLD,
        DEFAULT_COLOR_THRESHOLD,
    )
    guard = (
        match_rule.SIMPLE_ENTROPY_BITS,
        match_rule.SIMPLE_PAIRS_NEED_BOTH,
        match_rule.ALONE_NEEDS_COLOR,
    )
    rules: list[Rule] = [(kp, w, kd, kc) for w in range(wide, kp, -1)] + [
        (kp, wide, d, kc) for d in range(kd - 1, kp, -1)
    ]
    rows = [evaluate(df, dist, rule, guard) for rule in rules]
    grid = pl.DataFrame(
        {
            "wide_threshold": [r["wide"] for r in rows],
            "dhash_threshold": [r["kd"] for r in rows],
            "min_recall": [r["min_recall"] for r in rows],
            "mean_recall": [r["mean_recall"] for r in rows],
            "distinct_pairs": [r["distinct_pairs"] for r in rows],
            "merged_distinct": [len(r["merged_distinct"]) for r in rows],  # type: ignore[arg-type]
            "random_pairs_1M": [r["random_pairs_1M"] for r in rows],
        }
    )
    grid.write_csv(work / "narrowed.csv")
    with pl.Config(tbl_rows=40, float_precision=3):
        print(grid)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workdir", help="where to write the set (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the written set")
    ap.add_argument(
        "--invariant",
        action="store_true",
        help="also measure duplicates(invariant=True) on mirrored / rotated copies",
    )
    ap.add_argument(
        "--narrowed",
        action="store_true",
        help="only the default rule with its wide pHash radius or its dHash radius narrowed one "
        "bit at a time (what a faster search at 10M images costs in recall)",
    )
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="near_dups_"))
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    cached = work / "set.parquet"
    meta = pl.read_parquet(cached) if cached.exists() else build(work)
    meta.write_parquet(cached)
    planted_cache = work / "simple.parquet"
    planted = pl.read_parquet(planted_cache) if planted_cache.exists() else build_simple(work)
    planted.write_parquet(planted_cache)
    meta = pl.concat([meta, planted])
    t1 = time.perf_counter()
    scanned = imgstats.scan(meta["path"].to_list(), METRICS)
    t2 = time.perf_counter()
    df, flat = join_scan(meta, scanned)
    n_pics = df["picture"].n_unique()
    print(
        f"{n_pics} pictures ({df['family'].n_unique()} designs), {df.height} files; "
        f"built in {t1 - t0:.0f} s, scanned in {t2 - t1:.1f} s; "
        f"{int(flat['uniform'].sum())} uniform pictures (exact-only, not in the recall)"
    )
    dist = distances(df)
    default_guard = (
        match_rule.SIMPLE_ENTROPY_BITS,
        match_rule.SIMPLE_PAIRS_NEED_BOTH,
        match_rule.ALONE_NEEDS_COLOR,
    )
    if args.narrowed:
        narrowed(df, dist, work)
        return
    results = [
        evaluate(df, dist, rule, guard)
        for rule in RULES
        for guard in (GUARDS if rule[3] is not None else [OLD_GUARD])
    ]
    (
        match_rule.SIMPLE_ENTROPY_BITS,
        match_rule.SIMPLE_PAIRS_NEED_BOTH,
        match_rule.ALONE_NEEDS_COLOR,
    ) = default_guard
    grid = pl.DataFrame(
        [{k: v for k, v in r.items() if not k.startswith("merged")} for r in results]
    ).with_columns(
        pl.Series("merged_distinct", [len(r["merged_distinct"]) for r in results]),  # type: ignore[arg-type]
        pl.Series("merged_recolour", [len(r["merged_recolour"]) for r in results]),  # type: ignore[arg-type]
    )
    grid.write_csv(work / "grid.csv")  # every rule, every column (the table below truncates)
    summary = [
        "rule",
        "mean_recall",
        "min_recall",
        "random_pairs_1M",
        "distinct_pairs",
        "merged_distinct",
        "recolour_pairs",
        "merged_recolour",
    ]
    with pl.Config(
        tbl_rows=400, tbl_cols=30, tbl_width_chars=250, float_precision=3, fmt_str_lengths=60
    ):
        print("\nEvery rule (recall: edited copy vs its original; pairs/merges: distinct pictures)")
        print(grid.select(summary))
        chosen = choose(grid)
        print(
            "\nBest rules by the criterion (no distinct pair or merge, <= 1000 random pairs at "
            "1M; then min recall, mean recall, fewest recolour merges, cheapest search, widest "
            "colour radius):"
        )
        print(chosen.head(10).select(summary))
        new_default = (
            NEAR_PHASH_THRESHOLD,
            WIDE_PHASH_THRESHOLD,
            DEFAULT_DHASH_THRESHOLD,
            DEFAULT_COLOR_THRESHOLD,
        )
        top = chosen.row(0, named=True)
        top_rule = (top["kp"], top["wide"], top["kd"], top["kc"])
        top_guard = (top["simple_bits"], top["simple_both"], top["alone_color"])
        same = top_rule == new_default and top_guard == default_guard
        print(
            f"\ncriterion picks: {top['rule']}; imgstats default: {rule_name(new_default)}"
            f"{guard_name(default_guard)}"
            + ("" if same else "  <-- DIFFERENT: update the defaults")
        )
        shown = [PHASH_ALONE, OLD_DEFAULT, new_default]
        by_rule = {
            (r["kp"], r["wide"], r["kd"], r["kc"]): r
            for r in results
            if (r["simple_bits"], r["simple_both"], r["alone_color"])
            == (default_guard if r["kc"] is not None else OLD_GUARD)
        }
        print("\nRecall per edit: pHash alone at 8 bits, the old default, the new default")
        per_edit = pl.DataFrame(
            {"edit": [*EDITS, SIMPLE_COPIES, "mean", "min"]}
            | {
                by_rule[s]["rule"]: [by_rule[s][e] for e in [*EDITS, SIMPLE_COPIES]]
                + [by_rule[s]["mean_recall"], by_rule[s]["min_recall"]]
                for s in shown
            }
        )
        print(per_edit)
        for s in shown:
            r = by_rule[s]
            print(
                f"{r['rule']}: {r['distinct_pairs']} pairs of distinct pictures within the rule, "
                f"merged pictures {r['merged_distinct']}; {r['recolour_pairs']} recolouring "
                f"pairs within the rule, recolourings merged: {r['merged_recolour']}"
            )
    if args.invariant:
        invariance(work, meta)
    if not args.keep and not args.workdir:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
