"""`imgstats.find`: new images against a saved scan — planted copies of real photos (exact,
same pixels, near, none, unreadable) and a brute-force NumPy reference of the rule and ranking."""

from __future__ import annotations

import shutil
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.duplicates import (
    DEFAULT_DHASH_THRESHOLD,
    NEAR_PHASH_THRESHOLD,
    WIDE_PHASH_THRESHOLD,
)
from imgstats.find import FIND_METRICS, find
from PIL import Image, ImageEnhance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images" / "train"


@pytest.fixture()
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    ref, new = tmp_path / "ref", tmp_path / "new"
    ref.mkdir()
    new.mkdir()
    for src in sorted(EXAMPLES.glob("scene_0[0-5].jpg")):
        shutil.copy(src, ref / src.name)
    shutil.copy(EXAMPLES / "scene_01.jpg", new / "copy_of_01.jpg")
    Image.open(EXAMPLES / "scene_02.jpg").save(new / "pixels_of_02.png")
    im = Image.open(EXAMPLES / "scene_03.jpg").convert("RGB")
    ImageEnhance.Brightness(im.resize((im.width // 2, im.height // 2))).enhance(1.3).save(
        new / "edited_03.jpg", quality=60
    )
    shutil.copy(EXAMPLES / "scene_07.jpg", new / "unrelated_07.jpg")
    (new / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    return ref, new


def test_new_images_against_a_saved_scan(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    ref, new = dirs
    saved = tmp_path / "ref.parquet"
    ref_scan = imgstats.scan(ref, FIND_METRICS)
    ref_scan.write_parquet(saved)
    got = find(new, saved)
    first = {Path(r["path"]).name: r for r in got.filter(pl.col("rank") <= 1).iter_rows(named=True)}
    assert first["copy_of_01.jpg"]["match"] == "same_bytes"
    assert Path(first["copy_of_01.jpg"]["matched_path"]).name == "scene_01.jpg"
    assert first["pixels_of_02.png"]["match"] == "same_pixels"
    assert Path(first["pixels_of_02.png"]["matched_path"]).name == "scene_02.jpg"
    edited = first["edited_03.jpg"]
    assert edited["match"] == "near" and Path(edited["matched_path"]).name == "scene_03.jpg"
    # Its distances are those of the two scans' hashes.
    mine = imgstats.scan(new / "edited_03.jpg", FIND_METRICS).row(0, named=True)
    theirs = ref_scan.filter(pl.col("path").str.ends_with("scene_03.jpg")).row(0, named=True)
    assert edited["phash_distance"] == (mine["phash"] ^ theirs["phash"]).bit_count()
    assert edited["dhash_distance"] == (mine["dhash"] ^ theirs["dhash"]).bit_count()
    # Every new image is answered: unmatched and unreadable ones with a null match.
    rows = {Path(p).name: n for p, n in got.group_by("path").len().iter_rows()}
    assert rows["unrelated_07.jpg"] == 1 and rows["broken.jpg"] == 1
    lone = got.filter(pl.col("path").str.ends_with("unrelated_07.jpg")).row(0, named=True)
    assert lone["match"] is None and lone["rank"] is None and lone["error"] is None
    broken = got.filter(pl.col("path").str.ends_with("broken.jpg")).row(0, named=True)
    assert broken["match"] is None and broken["error"]
    # A frame or LazyFrame reference gives the same answer as the Parquet file.
    assert find(new, ref_scan).equals(got)
    assert find(imgstats.scan(new, FIND_METRICS), ref_scan.lazy()).equals(got)
    with pytest.raises(FileNotFoundError):
        find(new, tmp_path / "nope.parquet")


def test_ranking_equals_brute_force() -> None:
    rng = np.random.default_rng(3)
    nref, nq, limit = 3000, 400, 3
    rh = rng.integers(0, 2**63, nref, dtype=np.uint64)
    rd = rng.integers(0, 2**63, nref, dtype=np.uint64)
    src = rng.integers(0, nref, nq)

    def noise(bits: int) -> np.ndarray:
        f = np.uint64(1) << rng.integers(0, 64, (nq, bits)).astype(np.uint64)
        keep = rng.random((nq, bits)) < 0.5
        return np.bitwise_xor.reduce(np.where(keep, f, np.uint64(0)), axis=1)

    qh, qd = rh[src] ^ noise(24), rd[src] ^ noise(20)
    # Three near copies of some references inside the reference set: several candidates.
    for c in range(3):
        targets = nref - 1 - np.arange(50) - 50 * c
        rh[targets] = rh[src[:50]] ^ (np.uint64(1) << np.uint64(c))
        rd[targets] = rd[src[:50]] ^ (np.uint64(1) << np.uint64(7 + c))
    ref = pl.DataFrame({"path": [f"r{i}" for i in range(nref)], "phash": rh, "dhash": rd})
    q = pl.DataFrame({"path": [f"q{i}" for i in range(nq)], "phash": qh, "dhash": qd})
    got = find(q, ref, limit=limit)
    pd = np.bitwise_count(qh[:, None] ^ rh[None, :])
    dd = np.bitwise_count(qd[:, None] ^ rd[None, :])
    hit = (pd <= NEAR_PHASH_THRESHOLD) | (
        (pd <= WIDE_PHASH_THRESHOLD) & (dd <= DEFAULT_DHASH_THRESHOLD)
    )
    expected = []
    for i in range(nq):
        js = np.flatnonzero(hit[i])
        order = sorted(js, key=lambda j: (pd[i, j], dd[i, j], j))[:limit]
        if not order:
            expected.append((f"q{i}", None, None, None, None))
        for r, j in enumerate(order, 1):
            expected.append((f"q{i}", r, f"r{j}", int(pd[i, j]), int(dd[i, j])))
    cols = ["path", "rank", "matched_path", "phash_distance", "dhash_distance"]
    assert got.select(cols).rows() == expected
    assert got["match"].drop_nulls().unique().to_list() == ["near"]
    assert got["rank"].max() == limit  # some queries really have several matches
