"""Calibrate `imgstats.group_links.SEQUENCE_THRESHOLD` on real images.

Two populations of pHash distances (bits of 64, the scan's ``phash``):

* **video**: consecutive numbered frames of the real ViSP sequences
  (``/usr/share/visp-images-data/ViSP-images/``, Debian package ``visp-images-data``), i.e. what
  the sequence rule must link;
* **unrelated**: every pair of distinct real photos from the wallpaper packages
  (``plasma-workspace-wallpapers``, ``mate-backgrounds``, ``gnome-backgrounds``), after merging
  true copies (one picture at several sizes, ``imgstats.duplicates``): what ``IMG_0001`` ...
  ``IMG_9999`` of unrelated holiday photos look like to the rule, whatever order they come in.

Run: ``python benches/threshold_sequences.py``
"""

from __future__ import annotations

from pathlib import Path

import imgstats
import numpy as np
import polars as pl
from imgstats.group_links import frame_names

VISP = Path("/usr/share/visp-images-data/ViSP-images")
WALLPAPERS = [Path("/usr/share/wallpapers"), Path("/usr/share/backgrounds")]


def video_distances() -> pl.DataFrame:
    df = imgstats.scan(str(VISP), metrics=["phash"])
    assert isinstance(df, pl.DataFrame)
    df = pl.concat([df.select("path", "phash"), frame_names(df["path"])], how="horizontal")
    df = df.filter(pl.col("number").is_not_null() & pl.col("phash").is_not_null())
    runs = []
    for (folder, prefix, ext), part in df.group_by(["folder", "prefix", "ext"]):
        if part.height < 10:  # a handful of numbered files is not a video
            continue
        h = part.sort("number")["phash"].to_numpy().astype(np.uint64)
        d = np.bitwise_count(h[1:] ^ h[:-1])
        runs.append((f"{folder}{prefix}*{ext}", d))
    rows = [
        {
            "sequence": name,
            "frames": len(d) + 1,
            "median": float(np.median(d)),
            "p99": float(np.percentile(d, 99)),
            "max": int(d.max()),
        }
        for name, d in sorted(runs)
    ]
    return pl.DataFrame(rows), np.concatenate([d for _, d in runs])


def unrelated_distances() -> np.ndarray:
    paths = [
        str(p)
        for root in WALLPAPERS
        if root.exists()
        for p in sorted(root.rglob("*"))
        if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"} and p.is_file()
    ]
    df = imgstats.scan(paths, metrics=["phash", "content_hash", "pixel_hash", "entropy"])
    assert isinstance(df, pl.DataFrame)
    df = df.filter(pl.col("phash").is_not_null())
    dup = imgstats.duplicates(df)
    reps = df.filter(pl.Series(dup["path"] == dup["representative"]))
    h = reps["phash"].to_numpy().astype(np.uint64)
    i, j = np.triu_indices(len(h), 1)
    print(f"unrelated: {len(h)} distinct pictures (of {df.height} files), {len(i)} pairs")
    return np.bitwise_count(h[i] ^ h[j])


def main() -> None:
    table, video = video_distances()
    with pl.Config(tbl_rows=50, fmt_str_lengths=80):
        print(table)
    unrelated = unrelated_distances()
    print(
        f"video consecutive frames: n={len(video)} median={np.median(video):.0f} "
        f"p99={np.percentile(video, 99):.0f} max={video.max()}"
    )
    print(
        f"unrelated photo pairs: n={len(unrelated)} min={unrelated.min()} "
        f"p1={np.percentile(unrelated, 1):.0f} median={np.median(unrelated):.0f}"
    )
    for k in (12, 14, 16, 18, 20, 22, 24):
        print(
            f"k={k:2d}: video links kept {np.mean(video <= k):7.2%}   "
            f"unrelated pairs linked {np.mean(unrelated <= k):7.3%}"
        )


if __name__ == "__main__":
    main()
