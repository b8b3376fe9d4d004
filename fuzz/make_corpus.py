"""Write the seed corpus of the `scan_blob` fuzz target: every file of examples/images (real
photos, and the broken ones) plus the Python fuzz test's one-file-per-format seeds (JPEG
baseline/progressive/CMYK/gray, PNG 8/16/1-bit/palette/RGBA, WebP lossy/lossless/alpha, GIF,
BMP, TIFF, PNM), named after their content hash so re-running adds nothing twice.

Run: python fuzz/make_corpus.py fuzz/corpus/scan_blob
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "fuzz" / "corpus" / "scan_blob"
    out.mkdir(parents=True, exist_ok=True)
    sys.path.insert(0, str(ROOT / "tests"))
    from test_fuzz import seed_images

    blobs = [
        p.read_bytes() for p in sorted((ROOT / "examples" / "images").rglob("*")) if p.is_file()
    ]
    blobs += list(seed_images().values())
    for blob in blobs:
        (out / hashlib.sha1(blob).hexdigest()).write_bytes(blob)
    print(f"{len(blobs)} seeds in {out}")


if __name__ == "__main__":
    main()
