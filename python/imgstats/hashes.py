"""Perceptual hashes bit-compatible with imagehash 4.3.2 (``hash_size=8``), computed in Rust.

``phash``, ``dhash`` and ``ahash`` return the 64 hash bits as a Python ``int`` in imagehash's
bit order, so ``hash_hex(phash(img)) == str(imagehash.phash(img))`` and the Hamming distance
``(a ^ b).bit_count()`` equals imagehash's ``h1 - h2``. The equality holds with Pillow 13: the
LANCZOS resize is a bit-exact port of Pillow 13's, whose pass order differs from Pillow <= 12
on tall images (so imagehash itself gives different hashes on older Pillow).

Inputs are converted to luma exactly as imagehash does it, with Pillow's ``convert("L")``:

- a ``PIL.Image.Image`` of any mode ("P", "1", "I;16", "RGBA", ... get whatever
  ``convert("L")`` gives; alpha is ignored);
- a NumPy ``uint8`` array: H×W luma, H×W×3 RGB or H×W×4 RGBA, treated as
  ``Image.fromarray(arr).convert("L")``;
- a path (``str`` or ``os.PathLike``), opened with Pillow *without* applying EXIF orientation,
  because that is what imagehash users hashed.

Degenerate images follow imagehash exactly (bits are set only for values strictly above the
threshold): a constant image has ``ahash == dhash == 0`` and ``phash == 0x8000000000000000``
(``0`` if it is all black).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Union

from imgstats import _imgstats
from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
    from PIL import Image
else:
    np = LazyModule("numpy")
    Image = LazyModule("PIL.Image")

#: Anything the hash functions accept.
ImageLike = Union["Image.Image", "np.ndarray", str, "os.PathLike[str]"]

_MASK64 = (1 << 64) - 1
_HEX_DIGITS = frozenset("0123456789abcdefABCDEF")

__all__ = [
    "ImageLike",
    "ahash",
    "crop_resistant_hash",
    "dhash",
    "hash_from_hex",
    "hash_hex",
    "hashes",
    "phash",
]


def _luma(image: ImageLike) -> np.ndarray:
    """Return the image as a C-contiguous H×W ``uint8`` array, as imagehash's ``convert("L")``."""
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8:
            raise TypeError(
                f"expected a uint8 array, got dtype {image.dtype}; scale and convert it first "
                "(e.g. np.clip(a * 255, 0, 255).astype(np.uint8) for floats in [0, 1]), or pass "
                "a PIL image to let Pillow's convert('L') decide"
            )
        if image.ndim == 2:
            # Image.fromarray(a).convert("L") is the identity on 2-D uint8: skip the copy.
            return np.ascontiguousarray(image)
        if image.ndim == 3 and image.shape[2] in (3, 4):
            return np.asarray(Image.fromarray(np.ascontiguousarray(image)).convert("L"))
        raise TypeError(f"expected an H×W, H×W×3 or H×W×4 uint8 array, got shape {image.shape}")
    if isinstance(image, (str, os.PathLike)):
        # No ImageOps.exif_transpose: imagehash hashes the stored pixel grid.
        with Image.open(image) as im:
            return np.asarray(im.convert("L"))
    if isinstance(image, Image.Image):
        return np.asarray(image if image.mode == "L" else image.convert("L"))
    raise TypeError(
        f"expected a PIL image, a uint8 numpy array or a path, got {type(image).__name__}"
    )


def phash(image: ImageLike) -> int:
    """Perceptual hash, identical to ``int(str(imagehash.phash(image)), 16)``.

    LANCZOS to 32×32 luma, 2-D DCT-II (scipy.fftpack's, reproduced bit for bit), the top-left
    8×8 coefficients including DC, bit = coefficient > their median; row-major, first bit most
    significant.
    """
    return _imgstats._phash_l8(_luma(image))


def dhash(image: ImageLike) -> int:
    """Difference hash, identical to ``int(str(imagehash.dhash(image)), 16)``.

    LANCZOS to 9 wide × 8 high luma; bit = pixel brighter than its left neighbour.
    """
    return _imgstats._dhash_l8(_luma(image))


def ahash(image: ImageLike) -> int:
    """Average hash, identical to ``int(str(imagehash.average_hash(image)), 16)``.

    LANCZOS to 8×8 luma; bit = pixel > mean of the 64 pixels.
    """
    return _imgstats._ahash_l8(_luma(image))


def hashes(image: ImageLike) -> tuple[int, int, int]:
    """``(phash, dhash, ahash)`` of one image, converting it to luma only once."""
    return _imgstats._hashes_l8(_luma(image))


def crop_resistant_hash(image: ImageLike) -> list[int]:
    """Segment hashes identical to ``imagehash.crop_resistant_hash(image).segment_hashes``
    (default arguments: dHash of each segment), as ints in imagehash's order.

    The picture is split into bright and dark regions on a blurred 300×300 copy; each region's
    bounding box is cropped from the original and dHashed. A crop of the picture keeps most
    regions, so most of these hashes survive it (see ``imgstats.crop_match``).
    """
    return [seg[0] for seg in _imgstats._crop_resistant_l8(_luma(image))]


def hash_hex(h: int) -> str:
    """Format a 64-bit hash as imagehash does: 16 lowercase hex digits, zero padded.

    Accepts Python and NumPy integers in ``[0, 2**64)``.

    >>> hash_hex(0xBA8C84536BD3C366)
    'ba8c84536bd3c366'
    >>> hash_hex(1)
    '0000000000000001'
    """
    value = int(h)
    if value < 0 or value > _MASK64:
        raise ValueError(f"hash out of the unsigned 64-bit range: {value}")
    return format(value, "016x")


def hash_from_hex(s: str) -> int:
    """Parse a hash written by :func:`hash_hex` or ``str(imagehash_hash)`` (8×8 hashes only).

    >>> hash_from_hex("0026273b2b19550e") == 0x0026273B2B19550E
    True
    """
    text = str(s).strip()
    # int(x, 16) alone would also take "0x..", "-1" and "1_0".
    if not 0 < len(text) <= 16 or not all(c in _HEX_DIGITS for c in text):
        raise ValueError(f"expected 1 to 16 hex digits (a 64-bit hash), got {s!r}")
    return int(text, 16)
