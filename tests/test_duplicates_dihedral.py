"""Flips and 90° rotations inside the scan: the ``phash_dihedral`` metric is imagehash's pHash
of the transformed image (bit-exact where the scan's pHash is, i.e. when no resize rounding
intervenes: 32×32 images), and ``duplicates(invariant=True)`` uses it without re-reading files."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import imagehash
import imgstats
import numpy as np
import pytest
from imgstats.cli import main
from imgstats.duplicates import TRANSFORMS, duplicates
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images" / "train"
OPS = {
    "hflip": Image.Transpose.FLIP_LEFT_RIGHT,
    "vflip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def ih(im: Image.Image) -> int:
    return int(str(imagehash.phash(im)), 16)


def small_images() -> list[Image.Image]:
    rng = np.random.default_rng(0)
    out = [Image.fromarray(rng.integers(0, 256, (32, 32), dtype=np.uint8)) for _ in range(40)]
    y, x = np.mgrid[0:32, 0:32]
    out.append(Image.fromarray((x * 8).astype(np.uint8)))  # gradient: many exact zeros
    out.append(Image.fromarray((np.abs(x - 15.5) + np.abs(y - 15.5)).astype(np.uint8) * 7))
    out.append(Image.fromarray(((x < 10) * 200 + 20).astype(np.uint8)))  # two-tone
    out.append(
        Image.fromarray(
            np.asarray(Image.open(EXAMPLES / "scene_05.jpg").convert("L").resize((32, 32)))
        )
    )
    return out


def test_dihedral_phash_is_imagehash_of_the_transformed_image(tmp_path: Path) -> None:
    assert list(OPS) == list(TRANSFORMS)
    ims = small_images()
    paths = []
    for k, im in enumerate(ims):
        paths.append(str(tmp_path / f"{k}.png"))
        im.save(paths[-1])
    df = imgstats.scan(paths, ["phash", "phash_dihedral"])
    assert df.columns[-7:] == [f"phash_{t}" for t in TRANSFORMS]
    for im, row in zip(ims, df.iter_rows(named=True)):
        assert row["phash"] == ih(im)
        for t, op in OPS.items():
            assert row[f"phash_{t}"] == ih(im.transpose(op)), t


def test_dihedral_phash_on_photos_is_within_resize_rounding(tmp_path: Path) -> None:
    """Larger images: Pillow resizes the transformed image with its passes swapped, so a grey
    level can round differently; the variants stay within a few bits of imagehash's."""
    paths, ims = [], []
    for src in sorted(EXAMPLES.glob("scene_0*.jpg"))[:5]:
        im = Image.open(src).convert("L")
        paths.append(str(tmp_path / f"{src.stem}.png"))
        im.save(paths[-1])
        ims.append(im)
    df = imgstats.scan(paths, ["phash", "phash_dihedral"])
    dist = [
        (row[f"phash_{t}"] ^ ih(im.transpose(op))).bit_count()
        for im, row in zip(ims, df.iter_rows(named=True))
        for t, op in OPS.items()
    ]
    assert max(dist) <= 4 and np.mean(dist) <= 1.0, dist


def ih_d(im: Image.Image) -> int:
    return int(str(imagehash.dhash(im)), 16)


def test_dihedral_dhash_matches_imagehash(tmp_path: Path) -> None:
    """Mirrors and the half turn: exact. The transposing four resize 8×9 instead of 9×8 and
    Pillow's passes round in the other order: within a bit or two of imagehash."""
    ims = small_images()
    paths = []
    for k, im in enumerate(ims):
        paths.append(str(tmp_path / f"{k}.png"))
        im.save(paths[-1])
    df = imgstats.scan(paths, ["dhash", "dhash_dihedral"])
    assert df.columns[-7:] == [f"dhash_{t}" for t in TRANSFORMS]
    off = {t: 0 for t in OPS}
    for im, row in zip(ims, df.iter_rows(named=True)):
        assert row["dhash"] == ih_d(im)
        for t, op in OPS.items():
            off[t] += (row[f"dhash_{t}"] ^ ih_d(im.transpose(op))).bit_count()
    assert off["hflip"] == off["vflip"] == off["rot180"] == 0
    assert all(off[t] <= len(ims) for t in ("rot90", "rot270", "transpose", "transverse")), off


@pytest.fixture()
def flipped_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    im = Image.open(EXAMPLES / "scene_05.jpg").convert("RGB")
    im.save(d / "a.jpg", quality=92)
    im.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(d / "a_mirror.jpg", quality=90)
    im.transpose(Image.Transpose.ROTATE_90).save(d / "a_rot90.png")
    shutil.copy(EXAMPLES / "scene_07.jpg", d / "other.jpg")
    return d


def test_invariant_uses_the_scan_columns(
    flipped_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    metrics = ["phash", "dhash", "entropy", "contrast", "phash_dihedral", "dhash_dihedral"]
    df = imgstats.scan(flipped_dir, metrics)
    mod = sys.modules["imgstats.duplicates"]

    def no_decode(*_: object) -> None:
        raise AssertionError("re-decoded the files")

    monkeypatch.setattr(mod, "_transformed_hashes", no_decode)
    got = {Path(r["path"]).name: r for r in duplicates(df, invariant=True).iter_rows(named=True)}
    assert (
        got["a.jpg"]["group_id"]
        == got["a_mirror.jpg"]["group_id"]
        == got["a_rot90.png"]["group_id"]
    )
    assert got["other.jpg"]["group_size"] == 1
    assert got["a_mirror.jpg"]["match"] == "flip_rotation"
    assert got["a_rot90.png"]["match"] == "flip_rotation"
    # The flip links carry the transformed dHash distance (two hashes agree, as for near copies).
    assert got["a_mirror.jpg"]["dhash_distance"] is not None
    assert got["a_mirror.jpg"]["dhash_distance"] <= 10
    without_dhash = duplicates(df.drop([f"dhash_{t}" for t in TRANSFORMS]), invariant=True)
    assert without_dhash["group_size"].max() == 3  # pHash alone within 8 still finds them
    plain = duplicates(df)
    assert plain["group_size"].max() == 1  # without invariant the mirror is not a copy


def test_cli_invariant_scans_the_variants(
    flipped_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dups", str(flipped_dir), "--invariant", "--explain"]) == 0
    out = capsys.readouterr().out
    assert "3 images" in out and out.count("flip_rotation to") == 3
