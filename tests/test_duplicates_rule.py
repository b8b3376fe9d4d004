"""The near rule (pHash alone, or a wider pHash radius confirmed by dHash and the colour
signature) is applied exactly: the groups and links equal a brute-force NumPy evaluation of the
whole rule, on random hashes and on real ones, for near and flip/rotation links; simple-but-
structured pictures match their own copies but not other layouts or colour schemes; uniform
ones stay exact-only."""

from __future__ import annotations

import io
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats import match_rule
from imgstats.duplicates import (
    DEFAULT_COLOR_THRESHOLD,
    DEFAULT_DHASH_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
    duplicates,
)
from imgstats.match_rule import (
    SIMPLE_ENTROPY_BITS,
    ColorCodes,
    NearRule,
    self_links,
    transformed_color_signature,
)
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter

DEFAULTS = (NEAR_PHASH_THRESHOLD, WIDE_PHASH_THRESHOLD, DEFAULT_DHASH_THRESHOLD)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"


def hamming(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """All-pairs Hamming distances of two uint64 arrays."""
    out: np.ndarray = np.bitwise_count(x[:, None] ^ y[None, :])
    return out


def rule_matrix(
    h: np.ndarray,
    d: np.ndarray,
    simple: np.ndarray,
    kp: int,
    wide: int,
    kd: int,
    color: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    kc: int | None = None,
    both: bool = True,
) -> np.ndarray:
    """The whole rule on all pairs, written out from docs/duplicates.md: the pHash-alone tier
    (closed when both pictures are simple, or either with ``both=False``) and the confirmed tier
    (wide pHash + dHash); with a colour signature both tiers need the colour check: signatures
    known and within `kc`, or a grayscale copy (one signature neutral, both hashes within `kp`,
    luma contrasts within 1.5x)."""
    pd, dd = hamming(h, h), hamming(d, d)
    guard = simple[:, None] & simple[None, :] if both else simple[:, None] | simple[None, :]
    alone = (pd <= kp) & ~guard
    confirmed = (pd <= wide) & (dd <= kd)
    if color is not None and kc is not None:
        codes, known, contrast = color
        neutral = codes == np.uint64(0x0F0F0F0F0F0F0F0F)
        hi = np.maximum(contrast[:, None], contrast[None, :])
        lo = np.minimum(contrast[:, None], contrast[None, :])
        gray_copy = (
            (neutral[:, None] | neutral[None, :]) & (hi <= 1.5 * lo) & (pd <= kp) & (dd <= kp)
        )
        color_ok = (hamming(codes, codes) <= kc) | gray_copy
        color_ok &= known[:, None] & known[None, :]
        alone &= color_ok
        confirmed &= color_ok
    out: np.ndarray = alone | confirmed
    return out


def brute_groups(hit: np.ndarray, low: np.ndarray) -> list[int]:
    """Union-find over an all-pairs rule matrix (NumPy), labels by first appearance."""
    hit = hit & ~low[:, None] & ~low[None, :]
    n = len(hit)
    parent = list(range(n))

    def find(x: int) -> int:
        while parent[x] != x:
            x = parent[x]
        return x

    for i, j in zip(*np.nonzero(np.triu(hit, 1))):
        a, b = find(int(i)), find(int(j))
        parent[max(a, b)] = min(a, b)
    seen: dict[int, int] = {}
    return [seen.setdefault(find(i), len(seen)) for i in range(n)]


def unary(levels: np.ndarray) -> np.ndarray:
    """Colour signatures from (n, 8) levels 0-8 (the encoding of ``color_signature``)."""
    codes = np.zeros(len(levels), dtype=np.uint64)
    for i in range(8):
        byte = (np.uint64(1) << levels[:, i].astype(np.uint64)) - np.uint64(1)
        codes |= byte << np.uint64(8 * i)
    return codes


def clustered_colors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour signatures for the rows of `clustered(n, seed)`: one colour per hash cluster, each
    member's levels within +-1 of it (so colour distances 0 to ~16 occur inside a cluster), a
    tenth of them unknown, a tenth neutral (grayscale); and a luma contrast per row (10-40)."""
    rng = np.random.default_rng(seed)  # replay `clustered` to get its cluster of each row
    m = n // 6
    rng.integers(0, 2**63, size=m, dtype=np.uint64)
    rng.integers(0, 2**63, size=m, dtype=np.uint64)
    pick = rng.integers(0, m, n)
    rng = np.random.default_rng(seed + 100)
    centres = rng.integers(1, 8, size=(m, 8))
    levels = np.clip(centres[pick] + rng.integers(-1, 2, (n, 8)), 0, 8)
    levels[rng.random(n) < 0.1] = 4  # grayscale copies
    return unary(levels), rng.random(n) > 0.1, rng.uniform(10, 40, n)


def clustered(n: int, seed: int, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """pHash / dHash pairs in clusters: members differ from the centre by up to `bits` flips
    in each hash independently, so every combination of the two conditions occurs."""
    rng = np.random.default_rng(seed)
    m = n // 6
    ch = rng.integers(0, 2**63, size=m, dtype=np.uint64) | np.uint64(1 << 62)
    cd = rng.integers(0, 2**63, size=m, dtype=np.uint64)
    pick = rng.integers(0, m, n)

    def noise() -> np.ndarray:
        flips = np.uint64(1) << rng.integers(0, 64, size=(n, bits)).astype(np.uint64)
        keep = rng.random((n, bits)) < 0.5
        return np.bitwise_xor.reduce(np.where(keep, flips, np.uint64(0)), axis=1)

    return ch[pick] ^ noise(), cd[pick] ^ noise()


@pytest.mark.parametrize("both", [True, False])
@pytest.mark.parametrize(
    ("seed", "kp", "wide", "kd", "kc"),
    [
        (0, 12, 16, 12, 6),
        (1, 8, 16, 6, None),
        (2, 4, 10, 14, 4),
        (3, 12, 12, 12, 10),
        (4, 0, 20, 10, 2),
        (5, 8, 16, 16, 6),
    ],
)
def test_groups_equal_brute_force_on_random_hashes(
    monkeypatch: pytest.MonkeyPatch,
    seed: int,
    kp: int,
    wide: int,
    kd: int,
    kc: int | None,
    both: bool,
) -> None:
    monkeypatch.setattr(match_rule, "SIMPLE_PAIRS_NEED_BOTH", both)
    h, d = clustered(900, seed, 20)
    codes, known, contrast = clustered_colors(900, seed)
    rng = np.random.default_rng(seed)
    entropy = np.where(rng.random(len(h)) < 0.3, 0.5, 6.0)  # some are simple pictures
    simple = entropy < SIMPLE_ENTROPY_BITS
    df = pl.DataFrame(
        {
            "phash": h,
            "dhash": d,
            "entropy": entropy,
            "contrast": contrast,
            "color_signature": pl.Series(codes).set(pl.Series(~known), None),
        }
    )
    got = duplicates(df, threshold=kp, wide_threshold=wide, dhash_threshold=kd, color_threshold=kc)
    color = (codes, known, contrast)
    hit = rule_matrix(h, d, simple, kp, wide, kd, color, kc, both)
    low = np.zeros(len(h), dtype=bool)
    assert got["group_id"].to_list() == brute_groups(hit, low)
    assert got["group_size"].max() > 1  # the clusters really link
    if kc is not None:
        # The colour check really removes links here (else the test would not see it).
        assert (rule_matrix(h, d, simple, kp, wide, kd, both=both) & ~hit).any()
    # The links themselves: exactly the brute-force pairs of the rule, with their distances.
    rows = np.arange(len(h))
    rule = NearRule(kp, kd, wide, color=kc)
    links = self_links(h, d, rows, rule, None, simple, ColorCodes(codes, known, contrast))
    want = np.argwhere(np.triu(hit, 1))
    assert sorted(zip(links["a"].to_list(), links["b"].to_list())) == [tuple(p) for p in want]
    links = links.sort("a", "b")
    a, b = want[:, 0], want[:, 1]
    assert (links["phash_distance"].to_numpy() == hamming(h, h)[a, b]).all()
    assert (links["dhash_distance"].to_numpy() == hamming(d, d)[a, b]).all()
    if kc is None:  # no colour check: no colour distance either
        assert links["color_distance"].null_count() == links.height
    else:  # null where a signature is unknown (those links come from the pHash-alone tier)
        cd = np.where(known[a] & known[b], hamming(codes, codes)[a, b].astype(np.int64), -1)
        assert (links["color_distance"].fill_null(-1).to_numpy().astype(np.int64) == cd).all()


def edited_copies(tmp: Path) -> list[Path]:
    """The example photos and Copydays-style edits of them (real hashes for the exactness test)."""
    out = []
    for k, src in enumerate(sorted((EXAMPLES / "train").glob("scene_0*.jpg"))[:6]):
        im = Image.open(src).convert("RGB")
        edits = {
            "q20.jpg": im,
            "half.png": im.resize((im.width // 2, im.height // 2)),
            "bright.png": ImageEnhance.Brightness(im).enhance(1.4),
            "blur.png": im.filter(ImageFilter.GaussianBlur(2)),
            "gray.png": im.convert("L"),
        }
        for name, e in edits.items():
            path = tmp / f"s{k}_{name}"
            e.save(path, quality=20) if name.endswith(".jpg") else e.save(path)
            out.append(path)
        out.append(src)
    return out


def test_groups_equal_brute_force_on_real_hashes(tmp_path: Path) -> None:
    paths = edited_copies(tmp_path)
    cols = ["path", "phash", "dhash", "color_signature", "contrast", "entropy"]
    df = imgstats.scan([str(p) for p in paths], cols[1:])
    # Mix in random hashes so the real ones sit among unrelated ones too.
    h0, d0 = clustered(300, 7, 12)
    c0, _, _ = clustered_colors(300, 7)
    extra = pl.DataFrame(
        {
            "path": [f"r{i}" for i in range(300)],
            "phash": h0,
            "dhash": d0,
            "color_signature": c0,
            "contrast": [50.0] * 300,
            "entropy": [0.5, 6.0] * 150,
        }
    )
    df = pl.concat([df.select(cols), extra], how="vertical_relaxed")
    got = duplicates(df)
    h = df["phash"].to_numpy().astype(np.uint64)
    d = df["dhash"].to_numpy().astype(np.uint64)
    c = df["color_signature"].to_numpy().astype(np.uint64)
    low = (df["contrast"] < 2).to_numpy() | np.isin(h, [0, 1 << 63, (1 << 64) - 1])
    simple = (df["entropy"] < SIMPLE_ENTROPY_BITS).to_numpy()
    known = np.ones(len(h), dtype=bool)
    color = (c, known, df["contrast"].to_numpy())
    hit = rule_matrix(h, d, simple, *DEFAULTS, color, DEFAULT_COLOR_THRESHOLD)
    assert got["group_id"].to_list() == brute_groups(hit, low)
    # Each photo's edits are in its group, brightness x1.4 included.
    names = [p.name for p in paths]
    gid = got["group_id"].to_list()
    for k in range(6):
        group = {names[r] for r in range(len(paths)) if gid[r] == gid[6 * k + 5]}
        edits = ("q20.jpg", "half.png", "bright.png", "blur.png", "gray.png")
        assert {f"s{k}_{e}" for e in edits} <= group
    # And the photos stay apart (two of the six files are one photo: 0 pHash bits apart).
    photos = [6 * k + 5 for k in range(6)]
    for x in photos:
        for y in photos:
            far = int(np.bitwise_count(h[x] ^ h[y])) > 16
            assert (gid[x] != gid[y]) == far, (names[x], names[y])


def two_tone(w: int, h: int, split: float, colours: tuple[object, object]) -> Image.Image:
    """A left/right two-tone picture with a small notch (a simple diagram); grey levels or RGB."""
    mode = "L" if isinstance(colours[0], int) else "RGB"
    im = Image.new(mode, (w, h), colours[0])  # type: ignore[arg-type]
    draw = ImageDraw.Draw(im)
    draw.rectangle((int(w * split), 0, w, h), fill=colours[1])  # type: ignore[arg-type]
    draw.rectangle((w // 10, h // 3, w // 5, h // 2), fill=colours[1])  # type: ignore[arg-type]
    return im


def logo(scheme: tuple[tuple[int, int, int], ...]) -> Image.Image:
    """A flat logo (a disc and a bar on a background) in one colour scheme."""
    bg, disc, bar = scheme
    im = Image.new("RGB", (480, 320), bg)
    draw = ImageDraw.Draw(im)
    draw.ellipse((60, 60, 260, 260), fill=disc)
    draw.rectangle((290, 130, 440, 190), fill=bar)
    return im


def save_jpeg(im: Image.Image, path: Path, quality: int) -> None:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    path.write_bytes(buf.getvalue())


def test_simple_pictures_match_their_copies_not_other_layouts_or_colours(tmp_path: Path) -> None:
    pictures = {
        "tone": two_tone(600, 400, 0.8, (20, 230)),  # entropy < 1 bit, but structured
        "other_layout": two_tone(600, 400, 0.3, (20, 230)),
        "bw": two_tone(600, 400, 0.5, ((0, 0, 0), (255, 255, 255))),  # a 50/50 split: 1 bit
        "navy_red": two_tone(600, 400, 0.5, ((0, 0, 128), (255, 0, 0))),
        "logo_a": logo(((255, 255, 255), (200, 20, 20), (20, 40, 160))),
        "logo_b": logo(((255, 255, 255), (20, 90, 200), (210, 120, 0))),
        "flat_a": Image.new("L", (300, 200), 128),
        "flat_b": Image.new("L", (300, 200), 131),
        "flat_c": Image.new("RGB", (200, 300), (40, 90, 200)),
    }
    for name, im in pictures.items():
        im.save(tmp_path / f"{name}.png")
        if name in ("tone", "navy_red", "logo_a"):
            save_jpeg(im, tmp_path / f"{name}_q75.jpg", 75)
            im.resize((im.width // 2, im.height // 2), Image.LANCZOS).save(
                tmp_path / f"{name}_half.png"
            )
    df = imgstats.scan(tmp_path, ["phash", "dhash", "color_signature", "entropy", "contrast"])
    got = {Path(r["path"]).name: r for r in duplicates(df).iter_rows(named=True)}
    # The luma hashes cannot tell these apart; the colour signature does.
    by = {Path(r["path"]).name: r for r in df.iter_rows(named=True)}
    assert by["bw.png"]["phash"] == by["navy_red.png"]["phash"]
    assert (by["logo_a.png"]["phash"] ^ by["logo_b.png"]["phash"]).bit_count() <= 8
    for name in ("tone", "navy_red", "logo_a"):
        group = {got[f"{name}{s}"]["group_id"] for s in (".png", "_q75.jpg", "_half.png")}
        assert len(group) == 1, name
        assert got[f"{name}_q75.jpg"]["match"] == "near"
        assert got[f"{name}_q75.jpg"]["color_distance"] <= DEFAULT_COLOR_THRESHOLD
    assert got["navy_red.png"]["group_id"] != got["bw.png"]["group_id"]
    assert got["logo_a.png"]["group_id"] != got["logo_b.png"]["group_id"]
    assert got["tone.png"]["group_id"] != got["other_layout.png"]["group_id"]
    for name in ("bw.png", "other_layout.png", "logo_b.png", "flat_a.png", "flat_b.png"):
        assert got[name]["group_size"] == 1, name
    for name in ("flat_a.png", "flat_b.png", "flat_c.png"):
        assert got[name]["low_information"], name  # uniform: exact-only
    assert not got["tone.png"]["low_information"] and not got["bw.png"]["low_information"]
    # Without the colour signature, the same layout in other colours merges (why it exists).
    luma_only = duplicates(df.drop("color_signature"))
    names = [Path(p).name for p in luma_only["path"]]
    gid = dict(zip(names, luma_only["group_id"]))
    assert gid["bw.png"] == gid["navy_red.png"] and gid["logo_a.png"] == gid["logo_b.png"]
    # pHash alone keeps the entropy floor (1 bit): the two-tone picture is exact-only there.
    alone = duplicates(df.drop("dhash"))
    flat = (df["entropy"] < 1) | (df["contrast"] < 2)
    assert alone["low_information"].to_list() == flat.to_list()
    assert flat.filter(df["path"].str.ends_with("/tone.png")).all()


def test_invariant_groups_equal_brute_force() -> None:
    """Flip/rotation links: pHash and dHash within the tight bounds and the colour signature
    within its bound, between a row's own codes and another row's seven transformed codes (from
    scan-style columns; the colour of a transform is the row's own with its cells moved)."""
    from imgstats.duplicates import TRANSFORMS

    rng = np.random.default_rng(11)
    n = 500
    h, d = clustered(n, 11, 14)
    codes, _, contrast = clustered_colors(n, 11)
    known = np.ones(n, dtype=bool)
    hv = [rng.integers(0, 2**63, n, dtype=np.uint64) for _ in TRANSFORMS]
    dv = [rng.integers(0, 2**63, n, dtype=np.uint64) for _ in TRANSFORMS]
    # Plant mirrored copies: row b's transform t lands a few bits from row a's own hashes.
    for a, b in rng.integers(0, n, (40, 2)):
        t = int(rng.integers(0, len(TRANSFORMS)))
        hv[t][b] = (
            h[a]
            ^ (np.uint64(1) << np.uint64(rng.integers(0, 64)))
            ^ np.uint64(rng.integers(0, 2) << 9)
        )
        dv[t][b] = d[a] ^ np.uint64(int(rng.integers(0, 2**18)))  # 0-18 bits: some fail dHash
        if rng.random() < 0.7:  # most are mirrored copies in colour too; the rest fail colour
            name = {"rot90": "rot270", "rot270": "rot90"}.get(TRANSFORMS[t], TRANSFORMS[t])
            codes[b] = transformed_color_signature(codes[a : a + 1], name)[0]
    cols = {f"phash_{t}": hv[k] for k, t in enumerate(TRANSFORMS)}
    cols |= {f"dhash_{t}": dv[k] for k, t in enumerate(TRANSFORMS)}
    df = pl.DataFrame(
        {"phash": h, "dhash": d, "color_signature": codes, "contrast": contrast, **cols}
    )
    got = duplicates(df, invariant=True)
    kp, kd, kc = NEAR_PHASH_THRESHOLD, DEFAULT_DHASH_THRESHOLD, DEFAULT_COLOR_THRESHOLD
    hit = rule_matrix(h, d, np.zeros(n, dtype=bool), *DEFAULTS, (codes, known, contrast), kc)
    flips = np.zeros_like(hit)
    neutral = codes == np.uint64(0x0F0F0F0F0F0F0F0F)
    hi = np.maximum(contrast[:, None], contrast[None, :])
    lo = np.minimum(contrast[:, None], contrast[None, :])
    for k, t in enumerate(TRANSFORMS):
        moved = transformed_color_signature(codes, t)
        pd, dd = hamming(h, hv[k]), hamming(d, dv[k])
        gray_copy = (neutral[:, None] | neutral[None, :]) & (hi <= 1.5 * lo) & (dd <= kp)
        flip = (pd <= kp) & (dd <= kd) & ((hamming(codes, moved) <= kc) | gray_copy)
        flips |= flip | flip.T
    expected = brute_groups(hit | flips, np.zeros(n, dtype=bool))
    assert got["group_id"].to_list() == expected
    assert (got["match"] == "flip_rotation").sum() > 5
    # The colour check removes some planted flips (else the test would not see it).
    assert expected != brute_groups(
        hit | flips | _flips_without_colour(h, d, hv, dv), np.zeros(n, dtype=bool)
    )
    assert got["group_size"].max() < 60  # no giant component: the groups say something


def _flips_without_colour(
    h: np.ndarray, d: np.ndarray, hv: list[np.ndarray], dv: list[np.ndarray]
) -> np.ndarray:
    out = np.zeros((len(h), len(h)), dtype=bool)
    for x, y in zip(hv, dv):
        flip = (hamming(h, x) <= NEAR_PHASH_THRESHOLD) & (hamming(d, y) <= DEFAULT_DHASH_THRESHOLD)
        out |= flip | flip.T
    return out


def test_dups_explain_shows_the_colour_distance(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`imgstats dups --explain` prints the colour distance of the link that decided a match,
    and keeps the same layout in another colour scheme out of the group."""
    from imgstats.cli import main

    logo(((255, 255, 255), (200, 20, 20), (20, 40, 160))).save(tmp_path / "a.png")
    save_jpeg(Image.open(tmp_path / "a.png"), tmp_path / "a_q50.jpg", 50)
    logo(((255, 255, 255), (20, 90, 200), (210, 120, 0))).save(tmp_path / "b.png")
    assert main(["dups", str(tmp_path), "--explain"]) == 0
    out = capsys.readouterr().out
    lines = [line for line in out.splitlines() if line.startswith("  ")]
    assert len(lines) == 2 and not any("b.png" in line for line in lines)
    df = imgstats.scan(tmp_path, ["phash", "dhash", "color_signature"])
    c = {Path(p).name: v for p, v in zip(df["path"], df["color_signature"])}
    bits = (c["a.png"] ^ c["a_q50.jpg"]).bit_count()
    assert all(f"color {bits})" in line and "near to" in line for line in lines), out


def test_default_wide_radius_narrows_past_the_pair_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default wide tier keeps its radius while fair-coin pairs within it fit the budget,
    narrows bit by bit past it (binomial counts, independent of the code), and says so."""
    import importlib
    from math import comb

    dup = importlib.import_module("imgstats.duplicates")  # the module, not the function

    def fair_pairs(n: int, r: int) -> float:
        return n * (n - 1) / 2 * sum(comb(64, k) for k in range(r + 1)) / 2.0**64

    for n in (1_000, 1_000_000, 2_000_000, 4_000_000, 10_000_000, 100_000_000):
        r = dup.default_wide_threshold(n)
        assert r == 16 or fair_pairs(n, r + 1) > dup.WIDE_PAIR_BUDGET
        assert r == dup.NEAR_PHASH_THRESHOLD or fair_pairs(n, r) <= dup.WIDE_PAIR_BUDGET
    assert dup.default_wide_threshold(1_000_000) == 16
    assert dup.default_wide_threshold(10_000_000) == 13

    rng = np.random.default_rng(3)
    df = pl.DataFrame(
        {
            "path": [f"{i}.png" for i in range(200)],
            "phash": rng.integers(0, 2**63, 200, dtype=np.int64).astype(np.uint64),
            "dhash": rng.integers(0, 2**63, 200, dtype=np.int64).astype(np.uint64),
        }
    )
    # A tiny budget narrows the default for 200 rows, with a warning naming the override.
    monkeypatch.setattr(dup, "WIDE_PAIR_BUDGET", 1e-3)
    with pytest.warns(UserWarning, match="wide_threshold=16 to force"):
        narrowed = dup.near_rule(df, "phash", None, 16, None)
    assert narrowed.wide < 16
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert dup.near_rule(df, "phash", None, 16, 16).wide == 16  # explicit: as given
