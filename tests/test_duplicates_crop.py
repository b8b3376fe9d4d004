"""Crop matching (`imgstats.crop_match`) and its links in `duplicates`: the segment join is
exactly brute force, the per-pair counts are imagehash's ``hash_diff``, the verified links are
exactly what a brute-force check of the rule finds, and on real photos crops join their original
while distinct pictures stay apart."""

from __future__ import annotations

import itertools
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
    THUMB_SIDE,
    CropRule,
    _aligned_distance,
    _patch_phash,
    _sample,
    _thumbs,
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
    hashes, boxes, sizes = [], [], []
    for i in range(n):
        m = int(rng.integers(0, 8))
        hs, bs = [], []
        for _ in range(m):
            if i and rng.random() < 0.5:
                j = int(rng.integers(i))
                if hashes[j]:
                    s = int(rng.integers(len(hashes[j])))
                    flips = [1 << int(b) for b in rng.integers(0, 64, 2)]
                    hs.append(hashes[j][s] ^ flips[0] ^ flips[1])
                    x0, y0, x1, y1 = boxes[j][4 * s : 4 * s + 4]
                    dx, dy = (int(v) for v in rng.integers(-3, 4, 2))
                    bs += [max(0, x0 + dx), max(0, y0 + dy), min(GRID, x1 + dx), min(GRID, y1 + dy)]
                    continue
            hs.append(int(rng.integers(0, 2**63)) * 2 + 1)
            x0, y0 = (int(v) for v in rng.integers(0, 200, 2))
            bs += [x0, y0, x0 + int(rng.integers(20, 100)), y0 + int(rng.integers(20, 100))]
        hashes.append(hs)
        boxes.append(bs)
        sizes.append((640, 480))
    return pl.DataFrame(
        {
            "crop_hash": pl.Series(hashes, dtype=pl.List(pl.UInt64)),
            "crop_thumb": pl.Series(
                [rng.integers(0, 256, THUMB_SIDE**2).tolist() for _ in range(n)],
                dtype=pl.List(pl.UInt8),
            ),
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


def _rule_brute(df: pl.DataFrame, rule: CropRule) -> set[tuple[int, int, int, int, int]]:
    """The crop rule checked image pair by image pair, region by region, without the index or
    the joins: ``(a, b, regions verified, smallest region pHash, smallest dHash distance)``."""
    seg = segment_table(df)
    by_row: dict[int, list[dict[str, float]]] = {}
    for r in seg.iter_rows(named=True):
        by_row.setdefault(r["row"], []).append(r)
    w = df["width"].to_list()
    h = df["height"].to_list()
    thumbs = _thumbs(df)
    out = set()
    for a, b in itertools.combinations(sorted(by_row), 2):
        maps, ids = [], []
        for i, sa in enumerate(by_row[a]):
            for j, sb in enumerate(by_row[b]):
                dd = bin(sa["dhash"] ^ sb["dhash"]).count("1")
                if dd > rule.dhash:
                    continue
                with np.errstate(divide="ignore", invalid="ignore"):
                    sx = (sa["x1"] - sa["x0"]) / (sb["x1"] - sb["x0"])
                    sy = (sa["y1"] - sa["y0"]) / (sb["y1"] - sb["y0"])
                maps.append((sx, sy, sa["x0"] - sx * sb["x0"], sa["y0"] - sy * sb["y0"], dd))
                px, py = w[b] / w[a], h[b] / h[a]
                cx = (sa["x0"] + sa["x1"]) / 2 - px * (sb["x0"] + sb["x1"]) / 2
                cy = (sa["y0"] + sa["y1"]) / 2 - py * (sb["y0"] + sb["y1"]) / 2
                maps.append((px, py, cx, cy, dd))
                ids += [(i, j), (i, j)]
        if not maps:
            continue
        one = pl.DataFrame(
            [(a, b, *m[:4]) for m in maps],
            schema=["row_a", "row_b", "sx", "sy", "tx", "ty"],
            orient="row",
        )
        pd = _aligned_distance(one, thumbs, rule.tolerance)
        good = [k for k in range(len(maps)) if pd[k] <= rule.region_phash]
        if good:
            out.add(
                (
                    a,
                    b,
                    len({ids[k] for k in good}),
                    int(min(pd[k] for k in good)),
                    int(min(maps[k][4] for k in good)),
                )
            )
    return out


def test_region_phash_is_imagehash_phash_of_the_patch() -> None:
    """The verification's pHash of a 32×32 patch is imagehash's phash of that patch."""
    rng = np.random.default_rng(5)
    for _ in range(20):
        patch = rng.integers(0, 256, (THUMB_SIDE, THUMB_SIDE)).astype(np.float32)
        ours = _patch_phash(patch[None])[0]
        ref = imagehash.phash(Image.fromarray(patch.astype(np.uint8))).hash.reshape(-1)
        assert (ours == ref).all()


def test_sampling_is_bilinear_interpolation() -> None:
    """The aligned patch equals scipy's order-1 map_coordinates at the mapped pixel centres."""
    ndimage = pytest.importorskip("scipy.ndimage")
    rng = np.random.default_rng(6)
    thumbs = rng.integers(0, 256, (3, THUMB_SIDE, THUMB_SIDE)).astype(np.float32)
    sx, sy, tx, ty = (
        np.array(v, dtype=np.float32) for v in ([0.9, 0.75], [0.8, 1.0], [0.05, 0.2], [0.1, 0.0])
    )
    got = _sample(thumbs, np.array([2, 0]), sx, sy, tx, ty)
    u = (np.arange(THUMB_SIDE) + 0.5) / THUMB_SIDE
    for n, src in enumerate((2, 0)):
        px = np.clip((tx[n] + sx[n] * u) * THUMB_SIDE - 0.5, 0, THUMB_SIDE - 1)
        py = np.clip((ty[n] + sy[n] * u) * THUMB_SIDE - 0.5, 0, THUMB_SIDE - 1)
        yy, xx = np.meshgrid(py, px, indexing="ij")
        ref = ndimage.map_coordinates(thumbs[src], [yy, xx], order=1)
        np.testing.assert_allclose(got[n], ref, atol=1e-3)


def test_flat_segments_are_not_candidates() -> None:
    df = _frame(3)
    seg = segment_table(df)
    flat = sorted(COLLAPSED_HASHES)
    assert not seg["dhash"].is_in(flat).any()
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


@pytest.mark.parametrize("rule", [CropRule(), CropRule(dhash=16, region_phash=14)])
def test_crop_links_equal_brute_force_rule(crops: pl.DataFrame, rule: CropRule) -> None:
    links = crop_links(crops, rule)
    got = set(links.select("a", "b", "segments", "phash_distance", "dhash_distance").iter_rows())
    assert got == _rule_brute(crops, rule)
    assert len(got) >= 6 and (links["kind"] == 4).all()


def test_planted_crops_found_exactly(crops: pl.DataFrame) -> None:
    """The verified crop links on the six wallpapers: every link joins one picture's files
    (centre crops of p0-p4 and corner crops of p2-p4 found; p5, a dark forest, lies wholly
    below imagehash's brightness threshold of 128, so its only region is the whole frame, whose
    hash a crop changes), and no link joins two pictures."""
    links = crop_links(crops)
    names = [f"{p}/{k}" for p, k in zip(crops["picture"], crops["kind"])]
    got = {(names[a], names[b]) for a, b in links.select("a", "b").iter_rows()}
    assert got == {
        ("p0/original", "p0/crop10"),
        ("p1/original", "p1/crop10"),
        ("p2/original", "p2/crop10"),
        ("p2/original", "p2/crop25"),
        ("p3/original", "p3/crop10"),
        ("p3/original", "p3/crop25"),
        ("p3/crop10", "p3/crop25"),
        ("p4/original", "p4/crop10"),
        ("p4/original", "p4/crop25"),
    }


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
    assert (linked["crop_segments"] >= 1).all()
    assert groups.filter(pl.col("match") != "crop")["crop_segments"].is_null().all()
    found = sum(
        gid[i] == gid[pic.index(pic[i])] for i in range(len(pic)) if crops["kind"][i] == "crop10"
    )
    assert found >= 5, f"only {found} of 6 centre crops found"


def test_without_crop_columns_nothing_changes(crops: pl.DataFrame) -> None:
    plain = crops.drop("crop_hash", "crop_boxes", "crop_thumb")
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
