"""`duplicates` / `dedupe` against a Python union-find over brute-force pairs and constructed
ground truth; the `dups` / `undo` CLI end to end on temporary folders built from the committed
`examples/images/` (their planted copies are known). Failure injection for `--move-to` / `undo`
lives in `test_file_moves.py`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from imgstats.cli import main
from imgstats.duplicates import TRANSFORMS, dedupe, duplicates
from PIL import Image, ImageEnhance

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
PHOTO = EXAMPLES / "train" / "scene_05.jpg"
OTHER = EXAMPLES / "train" / "scene_07.jpg"


def python_groups(h: np.ndarray, k: int) -> list[int]:
    """Reference: union-find over every brute-force pair, labels by first appearance."""
    parent = list(range(len(h)))

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for i in range(len(h)):
        for j in np.flatnonzero(np.bitwise_count(h[i] ^ h[i + 1 :]) <= k):
            a, b = find(i), find(i + 1 + int(j))
            parent[max(a, b)] = min(a, b)
    seen: dict[int, int] = {}
    return [seen.setdefault(find(i), len(seen)) for i in range(len(h))]


def skewed(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.integers(0, 2**63, size=n // 10, dtype=np.uint64) | np.uint64(1 << 63)
    h = centres[rng.integers(0, len(centres), n)]
    flips = np.uint64(1) << rng.integers(0, 63, size=(n, 3)).astype(np.uint64)
    keep = rng.random((n, 3)) < 0.6
    return h ^ np.bitwise_or.reduce(np.where(keep, flips, np.uint64(0)), axis=1)


@pytest.mark.parametrize("k", [0, 2, 5, 8])
def test_groups_match_python_union_find(k: int) -> None:
    h = skewed(1500, k)
    df = pl.DataFrame({"path": [f"img{i}.jpg" for i in range(len(h))], "phash": h})
    got = duplicates(df, threshold=k)
    expected = python_groups(h, k)
    assert got["group_id"].to_list() == expected
    sizes = np.bincount(expected)
    assert got["group_size"].to_list() == sizes[expected].tolist()
    # The representative is the first row of the group; distance is measured to it.
    first = {g: i for i, g in reversed(list(enumerate(expected)))}
    assert got["representative"].to_list() == [f"img{first[g]}.jpg" for g in expected]
    rep_h = h[[first[g] for g in expected]]
    assert got["distance"].to_list() == np.bitwise_count(h ^ rep_h).tolist()


def test_exact_copies_low_information_and_missing_hashes() -> None:
    flat = 1 << 63
    df = pl.DataFrame(
        {
            "path": ["a", "b", "c", "d", "e", "f", "g", "h"],
            "phash": pl.Series(
                [
                    0xBA8C84536BD3C366,
                    0x0123456789ABCDEF,
                    0xBA8C84536BD3C367,
                    flat,
                    flat,
                    flat,
                    None,
                    0x0123456789ABCDEE,
                ],
                dtype=pl.UInt64,
            ),
            # a and b: same bytes, unrelated hashes (e.g. a hash bug must not split them).
            "content_hash": ["x", "x", "y", "p", "q", "p", None, "z"],
            # h and g: the same pixels in two containers (g failed to hash).
            "pixel_hash": pl.Series([1, 1, 2, 3, 4, 3, 9, 9], dtype=pl.UInt64),
            "entropy": [7.0, 7.0, 7.0, 0.0, 0.0, 0.0, None, 7.0],
        }
    )
    got = duplicates(df)
    groups = got["group_id"].to_list()
    # a, b (bytes), c (near a), h (near b), g (pixels of h) form one group.
    assert len({groups[i] for i in (0, 1, 2, 6, 7)}) == 1
    # The constant images d, e, f collapse to one pHash but only d and f are the same file.
    assert groups[3] == groups[5] != groups[4]
    assert groups[4] not in {groups[0], groups[3]}
    assert got["low_information"].to_list() == [False, False, False, True, True, True, False, False]
    assert got["exact"].to_list() == [True, True, False, True, False, True, True, True]
    assert got["distance"].to_list()[6] is None
    assert got["distance"].to_list()[2] == 1
    # exact=False: only hashes; a and b are unrelated by hash.
    loose = duplicates(df, exact=False)["group_id"].to_list()
    assert loose[0] == loose[2] and loose[0] != loose[1] and loose[3] != loose[5]


def test_thousand_copies_are_one_group() -> None:
    h = np.concatenate(
        [np.full(1000, 0xBA8C84536BD3C366, np.uint64), np.arange(5, dtype=np.uint64) << 50]
    )
    df = pl.DataFrame({"phash": h})
    got = duplicates(df)
    assert got["group_size"][0] == 1000 and got["group_id"][999] == 0
    assert got["path"][3] == "3"  # no path column: row numbers stand in


def test_dedupe_policies() -> None:
    df = pl.DataFrame(
        {
            "path": ["a", "b", "c", "d", "e"],
            "phash": pl.Series([0xF0F0, 0xF0F1, 0xF0F3, 1 << 62, (1 << 62) | 1], dtype=pl.UInt64),
            "sharpness": [10.0, 50.0, None, 3.0, 3.0],
            "width": pl.Series([100, 50, 200, 10, 20], dtype=pl.UInt32),
            "height": pl.Series([100, 50, 200, 10, 20], dtype=pl.UInt32),
        }
    )
    assert dedupe(df, "sharpest")["path"].to_list() == ["b", "d"]
    assert dedupe(df, "largest")["path"].to_list() == ["c", "e"]
    assert dedupe(df, "first")["path"].to_list() == ["a", "d"]
    last = dedupe(df, lambda g: g.height - 1)
    assert last["path"].to_list() == ["c", "e"]
    assert dedupe(df, "first").columns == df.columns
    with pytest.raises(ValueError, match="keep must be"):
        dedupe(df, "prettiest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="sharpness"):
        dedupe(df.drop("sharpness"), "sharpest")


def test_chaining_warns() -> None:
    # A random walk of one-bit steps: single linkage joins ~300 distinct hashes into one group.
    rng = np.random.default_rng(0)
    steps = np.uint64(1) << rng.integers(0, 64, 300).astype(np.uint64)
    h = np.bitwise_xor.accumulate(np.concatenate([[np.uint64(0xABCDEF)], steps]))
    assert len(np.unique(h)) >= 150
    with pytest.warns(UserWarning, match="one duplicate group"):
        duplicates(pl.DataFrame({"phash": h}), threshold=1)


@pytest.fixture()
def photo_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    (d / "sub").mkdir(parents=True)
    im = Image.open(PHOTO).convert("RGB")
    im.save(d / "a.jpg", quality=92)
    shutil.copy(d / "a.jpg", d / "sub" / "a_copy.jpg")
    im.resize((320, 240), Image.LANCZOS).save(d / "a_small.jpg", quality=75)
    ImageEnhance.Brightness(im).enhance(1.15).save(d / "a_bright.png")
    im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(d / "a_mirror.jpg", quality=90)
    Image.open(OTHER).convert("RGB").resize((800, 800)).save(d / "other.jpg")
    Image.new("RGB", (300, 200), (12, 12, 12)).save(d / "flat1.png")
    Image.new("RGB", (300, 200), (200, 200, 200)).save(d / "flat2.png")
    return d


def test_invariant_matches_mirrored_copy(photo_dir: Path) -> None:
    paths = sorted(str(p) for p in photo_dir.rglob("*.*"))
    df = pl.DataFrame({"path": paths, "phash": [imgstats.phash(p) for p in paths]})
    by_name = lambda g: dict(zip([Path(p).name for p in paths], g["group_id"].to_list()))  # noqa: E731
    plain = by_name(duplicates(df))
    assert plain["a_mirror.jpg"] != plain["a.jpg"] == plain["a_small.jpg"]
    inv = duplicates(df, invariant=True)
    g = by_name(inv)
    assert g["a_mirror.jpg"] == g["a.jpg"] == g["a_small.jpg"] == g["a_bright.png"]
    assert g["other.jpg"] != g["a.jpg"]
    mirror_row = inv.filter(pl.col("path").str.ends_with("a_mirror.jpg"))
    assert mirror_row["distance"][0] <= 8
    # Precomputed transform columns are used instead of re-reading files.
    cols = {f"phash_{t}": pl.Series([0] * len(paths), dtype=pl.UInt64) for t in TRANSFORMS}
    with pytest.raises(ValueError, match="needs the columns"):
        duplicates(df.drop("path"), invariant=True)
    assert duplicates(df.with_columns(**cols), invariant=True).height == len(paths)


def test_cli_dups_drop_list_move_and_undo(photo_dir: Path, tmp_path: Path, capsys) -> None:
    drop = tmp_path / "drop.txt"
    assert main(["dups", str(photo_dir), "-o", str(drop)]) == 0
    dropped = {Path(p).name for p in drop.read_text().split()}
    # One of the 4 near/exact copies of the photo is kept (the mirror is not a copy without
    # --invariant); the flat images are never near copies of each other.
    assert len(dropped) == 3 and dropped <= {"a.jpg", "a_copy.jpg", "a_small.jpg", "a_bright.png"}
    table = tmp_path / "groups.csv"
    assert main(["dups", str(photo_dir), "-o", str(table), "--keep", "largest"]) == 0
    t = pl.read_csv(table)
    assert t["keep"].sum() == t["group_id"].n_unique()
    assert t.filter(pl.col("path").str.contains("flat"))["low_information"].all()

    before = sorted(p.relative_to(photo_dir) for p in photo_dir.rglob("*") if p.is_file())
    trash = tmp_path / "trash"
    assert main(["dups", str(photo_dir), "--move-to", str(trash)]) == 0
    manifests = list(trash.glob("imgstats-manifest-*.json"))
    assert len(manifests) == 1
    moves = json.loads(manifests[0].read_text())["moves"]
    assert len(moves) == 3 and all(Path(m["to"]).exists() for m in moves)
    assert not any(Path(m["from"]).exists() for m in moves)
    assert main(["undo", str(manifests[0])]) == 0
    after = sorted(p.relative_to(photo_dir) for p in photo_dir.rglob("*") if p.is_file())
    assert after == before
    # A second undo must refuse: the originals are back in place.
    assert main(["undo", str(manifests[0])]) == 1
    capsys.readouterr()
