"""The ``color_signature`` metric against an independent NumPy implementation of its definition
(``src/stats/color_signature.rs``): 2×2 cells of the displayed picture, opponent chroma over
lightness + 16, nine tanh levels as a unary code; Hamming distance = L1 distance of the levels;
mirrored / rotated pictures (and EXIF orientations) permute its cells."""

from __future__ import annotations

import io
from pathlib import Path

import imgstats
import numpy as np
import pytest
from imgstats.match_rule import COLOR_CELL_PERMUTATIONS, transformed_color_signature
from PIL import Image

TRANSPOSE = {
    "hflip": Image.Transpose.FLIP_LEFT_RIGHT,
    "vflip": Image.Transpose.FLIP_TOP_BOTTOM,
    "rot90": Image.Transpose.ROTATE_90,
    "rot180": Image.Transpose.ROTATE_180,
    "rot270": Image.Transpose.ROTATE_270,
    "transpose": Image.Transpose.TRANSPOSE,
    "transverse": Image.Transpose.TRANSVERSE,
}


def reference_levels(rgb: np.ndarray) -> np.ndarray:
    """The 8 quantised chroma levels (0-8) of an H×W×3 uint8 picture, straight from the
    definition: cells = halves (an odd middle row / column left out), a = (R-G)/(Y+16),
    b = ((R+G)/2 - B)/(Y+16) of the cell means, level = floor(4.5 + 4 tanh(v / 0.6))."""
    h, w, _ = rgb.shape
    x = rgb.astype(np.float64)
    rows = (slice(0, h // 2), slice(h - h // 2, h))
    cols = (slice(0, w // 2), slice(w - w // 2, w))
    levels = []
    for ry in rows:
        for cx in cols:
            cell = x[ry, cx].reshape(-1, 3)
            if len(cell) == 0:
                a = b = 0.0
            else:
                r, g, bl = cell.mean(axis=0)
                y = (r + g + bl) / 3
                a, b = (r - g) / (y + 16), ((r + g) / 2 - bl) / (y + 16)
            for v in (a, b):
                levels.append(int(np.clip(np.floor(4.5 + 4 * np.tanh(v / 0.6)), 0, 8)))
    return np.array(levels)


def reference_code(rgb: np.ndarray) -> int:
    """The unary code of `reference_levels`: value i takes bits 8i.., its level's low bits set."""
    return sum(((1 << int(q)) - 1) << (8 * i) for i, q in enumerate(reference_levels(rgb)))


def code_levels(code: int) -> np.ndarray:
    """The levels back from a code (each byte must be a unary code)."""
    out = []
    for i in range(8):
        byte = (code >> (8 * i)) & 0xFF
        assert byte & (byte + 1) == 0, f"byte {i} = {byte:#x} is not a unary code"
        out.append(bin(byte).count("1"))
    return np.array(out)


def blocks(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A picture of random coloured blocks, some saturated, some near-neutral, some dark."""
    small = rng.integers(0, 256, (4, 5, 3))
    small[0, 0] = small[0, 0].mean()  # a neutral block
    small[1] //= 6  # dark blocks
    big = np.kron(small, np.ones((h // 4 + 1, w // 5 + 1, 1)))[:h, :w]
    noise = rng.integers(-20, 21, big.shape)
    return np.clip(big + noise, 0, 255).astype(np.uint8)


def scan_codes(paths: list[Path]) -> list[int]:
    df = imgstats.scan([str(p) for p in paths], ["color_signature"])
    assert df["error"].is_null().all()
    return [int(v) for v in df["color_signature"]]


@pytest.mark.parametrize("size", [(97, 61), (200, 150), (512, 333), (31, 512), (1, 7)])
def test_equals_numpy_reference(tmp_path: Path, size: tuple[int, int]) -> None:
    """Pictures within 512 px are measured as stored (the shared plane is not resized)."""
    rng = np.random.default_rng(size[0])
    pictures = [blocks(rng, *size) for _ in range(6)]
    pictures.append(np.full((size[1], size[0], 3), 77, np.uint8))  # neutral
    pictures.append(np.zeros((size[1], size[0], 3), np.uint8))  # black
    paths = []
    for k, arr in enumerate(pictures):
        paths.append(tmp_path / f"p{k}.png")
        Image.fromarray(arr).save(paths[-1])
    got = scan_codes(paths)
    want = [reference_code(a) for a in pictures]
    assert got == want
    assert got[-1] == got[-2] == 0x0F0F0F0F0F0F0F0F


def test_large_pictures_use_the_reduced_plane(tmp_path: Path) -> None:
    """1024×768 quadrants reduce 2:1 exactly to the 512-px plane: the same code as full size."""
    quad = np.array([[[200, 40, 40], [40, 60, 220]], [[250, 250, 250], [30, 160, 40]]], np.uint8)
    arr = np.kron(quad, np.ones((384, 512, 1), np.uint8))
    Image.fromarray(arr).save(tmp_path / "q.png")
    gray = Image.fromarray(arr).convert("L")
    gray.save(tmp_path / "gray.png")
    got = scan_codes([tmp_path / "q.png", tmp_path / "gray.png"])
    assert got[0] == reference_code(arr)
    assert list(code_levels(got[0])) == list(reference_levels(arr))
    assert got[1] == 0x0F0F0F0F0F0F0F0F  # a grayscale file has no chroma


def test_hamming_is_l1_of_levels() -> None:
    rng = np.random.default_rng(3)
    codes = [reference_code(blocks(rng, 40, 30)) for _ in range(40)]
    for x in codes:
        for y in codes:
            l1 = int(np.abs(code_levels(x) - code_levels(y)).sum())
            assert bin(x ^ y).count("1") == l1


def test_layout_in_other_colours_is_far_and_edits_are_near(tmp_path: Path) -> None:
    """The pictures pHash and dHash cannot tell apart: a black|white split vs navy|red."""
    bw = np.zeros((200, 300, 3), np.uint8)
    bw[:, 150:] = 255
    navy_red = np.zeros((200, 300, 3), np.uint8)
    navy_red[:, :150] = (0, 0, 128)
    navy_red[:, 150:] = (255, 0, 0)
    Image.fromarray(bw).save(tmp_path / "bw.png")
    Image.fromarray(navy_red).save(tmp_path / "nr.png")
    Image.fromarray(navy_red).save(tmp_path / "nr_q75.jpg", quality=75)
    Image.fromarray(navy_red).resize((150, 100)).save(tmp_path / "nr_half.png")
    c = scan_codes([tmp_path / n for n in ("bw.png", "nr.png", "nr_q75.jpg", "nr_half.png")])
    df = imgstats.scan([str(tmp_path / "bw.png"), str(tmp_path / "nr.png")], ["phash", "dhash"])
    assert df["phash"][0] == df["phash"][1]  # the luma hashes see one picture
    assert bin(c[0] ^ c[1]).count("1") == 24
    assert bin(c[1] ^ c[2]).count("1") <= 2 and bin(c[1] ^ c[3]).count("1") <= 1


def test_dihedral_transforms_permute_the_cells(tmp_path: Path) -> None:
    """Each Pillow transform of a picture (odd size: the middle row and column sit in no cell)
    has the signature `transformed_color_signature` derives from the original's."""
    arr = blocks(np.random.default_rng(5), 151, 97)
    im = Image.fromarray(arr)
    im.save(tmp_path / "o.png")
    names = list(TRANSPOSE)
    for t in names:
        im.transpose(TRANSPOSE[t]).save(tmp_path / f"{t}.png")
    codes = scan_codes([tmp_path / "o.png", *(tmp_path / f"{t}.png" for t in names)])
    base = np.array([codes[0]], dtype=np.uint64)
    for k, t in enumerate(names):
        assert int(transformed_color_signature(base, t)[0]) == codes[k + 1], t
    assert len(set(codes)) == 8  # the test picture tells every transform apart
    assert set(COLOR_CELL_PERMUTATIONS) == set(TRANSPOSE)


def test_exif_orientation_gives_the_displayed_cells(tmp_path: Path) -> None:
    """The same JPEG data with EXIF orientation 6 (shown rotated 90° clockwise)."""
    im = Image.fromarray(blocks(np.random.default_rng(9), 160, 120))
    plain, rotated = io.BytesIO(), io.BytesIO()
    im.save(plain, "JPEG", quality=90)
    exif = Image.Exif()
    exif[0x0112] = 6
    im.save(rotated, "JPEG", quality=90, exif=exif)
    (tmp_path / "plain.jpg").write_bytes(plain.getvalue())
    (tmp_path / "rot.jpg").write_bytes(rotated.getvalue())
    a, b = scan_codes([tmp_path / "plain.jpg", tmp_path / "rot.jpg"])
    assert a != b
    assert int(transformed_color_signature(np.array([a], np.uint64), "rot270")[0]) == b
