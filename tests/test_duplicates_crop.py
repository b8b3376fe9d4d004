"""Crop matching (`imgstats.crop_match`) and its links in `duplicates`: the segment join is
exactly brute force, the per-pair counts are imagehash's ``hash_diff``, the verified links are
exactly what a brute-force check of the rule finds, and on real photos crops join their original
while distinct pictures stay apart."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import imagehash
import imgstats
import numpy as np
import polars as pl
import pytest
from conftest import MISSING_DATA
from imgstats.cli import main
from imgstats.crop_match import (
    GRID,
    CropRule,
    crop_links,
    region_matches,
    segment_pairs,
    segment_table,
)
from imgstats.duplicates import duplicates
from imgstats.hamming import COLLAPSED_HASHES
from imgstats.hashes import hash_hex
from PIL import Image

WALLPAPERS = sorted(Path("/usr/share/wallpapers").glob("*/contents/images/*.jpg"))


def _frame(seed: int, n: int = 40) -> pl.DataFrame:
    """A scan-like frame of random segment lists: some images share noisy copies of earlier
    images' segments with shifted boxes, so the rule has real work."""
    rng = np.random.default_rng(seed)
    hashes, phashes, boxes, sizes = [], [], [], []
    for i in range(n):
        m = int(rng.integers(0, 8))
        hs, ps, bs = [], [], []
        for _ in range(m):
            if i and rng.random() < 0.5:
                j = int(rng.integers(i))
                if hashes[j]:
                    s = int(rng.integers(len(hashes[j])))
                    flips = [1 << int(b) for b in rng.integers(0, 64, 3)]
                    hs.append(hashes[j][s] ^ flips[0])
                    ps.append(phashes[j][s] ^ flips[1] ^ flips[2])
                    x0, y0, x1, y1 = boxes[j][4 * s : 4 * s + 4]
                    dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
                    bs += [max(0, x0 + dx), max(0, y0 + dy), min(GRID, x1 + dx), min(GRID, y1 + dy)]
                    continue
            hs.append(int(rng.integers(0, 2**63)) * 2 + 1)
            ps.append(int(rng.integers(0, 2**63)))
            x0, y0 = (int(v) for v in rng.integers(0, 200, 2))
            bs += [x0, y0, x0 + int(rng.integers(20, 100)), y0 + int(rng.integers(20, 100))]
        hashes.append(hs)
        phashes.append(ps)
        boxes.append(bs)
        sizes.append((640, 480))
    return pl.DataFrame(
        {
            "crop_hash": pl.Series(hashes, dtype=pl.List(pl.UInt64)),
            "crop_phash": pl.Series(phashes, dtype=pl.List(pl.UInt64)),
            "crop_boxes": pl.Series(boxes, dtype=pl.List(pl.UInt16)),
            "width": [w for w, _ in sizes],
            "height": [h for _, h in sizes],
        }
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("k", [0, 3, 8, 16])
def test_segment_pairs_equal_brute_force(seed: int, k: int) -> None:
    seg = segment_table(_frame(seed))
    got = segment_pairs(seg, k)
    h = seg["dhash"].to_numpy().astype(np.uint64)
    owner = seg["row"].to_numpy()
    d = np.bitwise_count(h[:, None] ^ h[None, :])
    s, t = np.nonzero((d <= k) & (owner[:, None] < owner[None, :]))
    want = sorted(zip(s.tolist(), t.tolist(), d[s, t].tolist()))
    assert sorted(got.iter_rows()) == want
    assert len(want) > 0 or k == 0


def _rule_brute(df: pl.DataFrame, rule: CropRule) -> set[tuple[int, int, int]]:
    """The crop rule checked pair by pair, segment by segment (no index, no joins)."""
    seg = segment_table(df)
    by_row: dict[int, list[dict[str, float]]] = {}
    for r in seg.iter_rows(named=True):
        by_row.setdefault(r["row"], []).append(r)
    w = df["width"].to_list()
    h = df["height"].to_list()
    tol = rule.tolerance
    out = set()
    for a, b in itertools.combinations(sorted(by_row), 2):
        maps = []
        for sa in by_row[a]:
            for sb in by_row[b]:
                if bin(sa["dhash"] ^ sb["dhash"]).count("1") > rule.dhash:
                    continue
                if bin(sa["phash"] ^ sb["phash"]).count("1") > rule.phash:
                    continue
                sx = (sa["x1"] - sa["x0"]) / (sb["x1"] - sb["x0"])
                sy = (sa["y1"] - sa["y0"]) / (sb["y1"] - sb["y0"])
                tx, ty = sa["x0"] - sx * sb["x0"], sa["y0"] - sy * sb["y0"]
                if abs(math.log((sx * w[a] / w[b]) / (sy * h[a] / h[b]))) > 2 * tol:
                    continue
                b_in_a = tx >= -tol and tx + sx <= 1 + tol and ty >= -tol and ty + sy <= 1 + tol
                a_in_b = (
                    -tx / sx >= -tol
                    and (1 - tx) / sx <= 1 + tol
                    and -ty / sy >= -tol
                    and (1 - ty) / sy <= 1 + tol
                )
                if b_in_a or a_in_b:
                    maps.append((sx, sy, tx, ty))
        best = 0
        for m in maps:
            best = max(
                best,
                sum(
                    abs(math.log(m[0] / o[0])) <= tol
                    and abs(math.log(m[1] / o[1])) <= tol
                    and abs(m[2] - o[2]) <= tol
                    and abs(m[3] - o[3]) <= tol
                    for o in maps
                ),
            )
        if best >= rule.min_segments:
            out.add((a, b, best))
    return out


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("min_segments", [1, 2])
def test_crop_links_equal_brute_force_rule(seed: int, min_segments: int) -> None:
    df = _frame(10 + seed, 30)
    rule = CropRule(dhash=4, phash=6, min_segments=min_segments, tolerance=0.04)
    links = crop_links(df, rule)
    got = {(a, b, s) for a, b, s in links.select("a", "b", "segments").iter_rows()}
    assert got == _rule_brute(df, rule)
    assert (links["kind"] == 4).all()


def test_flat_segments_are_not_candidates() -> None:
    df = _frame(3)
    seg = segment_table(df)
    flat = sorted(COLLAPSED_HASHES)
    assert not seg["dhash"].is_in(flat).any() and not seg["phash"].is_in(flat).any()
    assert segment_table(df, informative=False).height >= seg.height


# --------------------------------------------------------------------------- real pictures


@pytest.fixture(scope="module")
def crops(tmp_path_factory: pytest.TempPathFactory) -> pl.DataFrame:
    """Six wallpapers at 640 px, each with a 10 % centre crop and a 25 % corner crop."""
    assert len(WALLPAPERS) >= 6, MISSING_DATA
    work = tmp_path_factory.mktemp("crops")
    picks = WALLPAPERS[:: max(1, len(WALLPAPERS) // 6)][:6]
    rows = []
    for i, src in enumerate(picks):
        with Image.open(src) as im0:
            im = im0.convert("RGB")
        im.thumbnail((640, 640), Image.Resampling.LANCZOS)
        w, h = im.size
        variants = {
            "original": im,
            "crop10": im.crop((round(0.05 * w), round(0.05 * h), round(0.95 * w), round(0.95 * h))),
            "crop25": im.crop((0, 0, round(0.75 * w), round(0.75 * h))),
        }
        for kind, v in variants.items():
            path = work / f"p{i}_{kind}.png"
            v.save(path)
            rows.append((str(path), f"p{i}", kind))
    meta = pl.DataFrame(rows, schema=["path", "picture", "kind"], orient="row")
    scanned = imgstats.scan(meta["path"].to_list(), ["phash", "dhash", "contrast", "crop_hash"])
    return meta.join(scanned, on="path")


def test_region_matches_are_imagehash_hash_diff(crops: pl.DataFrame) -> None:
    """Counts for every pair at once equal imagehash's pair-by-pair ``hash_diff``."""
    k = 12
    got = {(a, b): (ma, mb) for a, b, ma, mb, _ in region_matches(crops, k).iter_rows()}
    multi = [
        imagehash.ImageMultiHash([imagehash.hex_to_hash(hash_hex(x)) for x in hs])
        for hs in crops["crop_hash"].to_list()
    ]
    for a, b in itertools.combinations(range(crops.height), 2):
        ma = multi[a].hash_diff(multi[b], hamming_cutoff=k)[0]
        mb = multi[b].hash_diff(multi[a], hamming_cutoff=k)[0]
        assert got.get((a, b), (0, 0)) == (ma, mb), (a, b)


def test_crops_join_their_original_and_distinct_pictures_stay_apart(crops: pl.DataFrame) -> None:
    groups = duplicates(crops, exact=False)
    assert "crop_segments" in groups.columns
    pic = crops["picture"].to_list()
    gid = groups["group_id"].to_list()
    for g in set(gid):
        members = {pic[i] for i in range(len(pic)) if gid[i] == g}
        assert len(members) == 1, f"distinct pictures merged: {members}"
    linked = groups.filter(pl.col("match") == "crop")
    assert linked.height > 0
    assert (linked["crop_segments"] >= CropRule().min_segments).all()
    assert groups.filter(pl.col("match") != "crop")["crop_segments"].is_null().all()
    found = sum(
        gid[i] == gid[pic.index(pic[i])] for i in range(len(pic)) if crops["kind"][i] == "crop10"
    )
    assert found >= 5, f"only {found} of 6 centre crops found"


def test_without_crop_columns_nothing_changes(crops: pl.DataFrame) -> None:
    plain = crops.drop("crop_hash", "crop_phash", "crop_boxes")
    groups = duplicates(plain, exact=False)
    assert "crop_segments" not in groups.columns
    assert "crop" not in groups["match"].to_list()


def test_cli_explain_shows_crop(crops: pl.DataFrame, capsys: pytest.CaptureFixture[str]) -> None:
    folder = str(Path(crops["path"][0]).parent)
    assert main(["dups", folder, "--crops", "--explain"]) == 0
    out = capsys.readouterr().out
    assert " crop to " in out and "regions agree" in out
    assert main(["dups", folder, "--explain"]) == 0
    assert " crop to " not in capsys.readouterr().out
