"""`imgstats.groups`: every reason (and its negative cases), the components against SciPy, and
the sequence rule on real video frames (ViSP) and real unrelated photos."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import imgstats
import numpy as np
import polars as pl
import pytest
from conftest import MISSING_DATA, ImageWriter, photo_like, real_photos
from imgstats.group_links import SEQUENCE_THRESHOLD, frame_names, sequence_edges
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

VISP = Path("/usr/share/visp-images-data/ViSP-images")
# Frames built here often lack the hash or EXIF columns on purpose.
pytestmark = pytest.mark.filterwarnings("ignore:.*not grouped:UserWarning")


def partition(labels: list[int] | np.ndarray) -> set[frozenset[int]]:
    """Groups as sets of row numbers, so two labelings compare whatever their numbering."""
    out: dict[int, set[int]] = {}
    for row, lab in enumerate(labels):
        out.setdefault(int(lab), set()).add(row)
    return {frozenset(s) for s in out.values()}


def flip_bits(h: int, n: int, start: int = 0) -> int:
    return h ^ sum(1 << (start + i) for i in range(n))


def test_frame_names_parse_trailing_numbers() -> None:
    paths = pl.Series(
        ["/d/cam3_000123.jpg", "a/frame-0042.png", "x/IMG_0001", "x/image.0007.pgm", "n/scene.jpg"]
    )
    got = frame_names(paths).to_dicts()
    assert [(r["folder"], r["prefix"], r["number"], r["ext"]) for r in got] == [
        ("/d/", "cam3_", 123, ".jpg"),
        ("a/", "frame-", 42, ".png"),
        ("x/", "IMG_", 1, ""),
        ("x/", "image.", 7, ".pgm"),
        ("n/", None, None, ".jpg"),
    ]


def test_sequence_chain_breaks_on_a_far_frame_and_by_folder_prefix_extension() -> None:
    base = 0x0123_4567_89AB_CDEF
    frames = [
        ("v/cam_0001.jpg", base),
        ("v/cam_0002.jpg", flip_bits(base, 5)),  # 5 bits from 0001: linked
        ("v/cam_0004.jpg", flip_bits(base, 5) ^ (0xFFFF << 20)),  # 16 more: linked (gap ok)
        ("v/cam_0005.jpg", ~base & (2**64 - 1)),  # 64 bits from 0004's neighbour: break
        ("v/cam_0006.jpg", ~base & (2**64 - 1)),  # identical to 0005: linked
        ("w/cam_0003.jpg", flip_bits(base, 5)),  # other folder: never linked
        ("v/cab_0003.jpg", flip_bits(base, 5)),  # other prefix
        ("v/cam_0003.png", flip_bits(base, 5)),  # other extension
    ]
    df = pl.DataFrame(
        {
            "path": [p for p, _ in frames],
            "phash": pl.Series([h for _, h in frames], dtype=pl.UInt64),
        }
    )
    a, b = sequence_edges(df, "phash")
    assert {frozenset((int(x), int(y))) for x, y in zip(a, b)} == {
        frozenset((0, 1)),
        frozenset((1, 2)),
        frozenset((3, 4)),
    }
    # One bit past the threshold breaks the 0002 -> 0004 link.
    df2 = df.with_columns(
        pl.Series(
            [h if i != 2 else flip_bits(h, 1, 60) for i, (_, h) in enumerate(frames)],
            dtype=pl.UInt64,
        ).alias("phash")
    )
    assert SEQUENCE_THRESHOLD == 16
    a, b = sequence_edges(df2, "phash")
    assert frozenset((1, 2)) not in {frozenset((int(x), int(y))) for x, y in zip(a, b)}


@pytest.mark.filterwarnings("ignore:one group holds")
def test_sequence_frames_group_and_unrelated_numbered_photos_do_not(images: ImageWriter) -> None:
    scene = photo_like(240, 320, seed=3)
    for i in range(6):  # a slow pan: each frame shifted 2 px
        images.save(f"run/cam3_{i:06d}.png", scene[:, 2 * i : 2 * i + 300])
    photos = real_photos(12)
    assert len(photos) == 12, MISSING_DATA
    for i, photo in enumerate(photos):  # IMG_0001 ... of unrelated real photos in one folder
        images.write_bytes(f"holiday/IMG_{i + 1:04d}{photo.suffix}", photo.read_bytes())
    df = imgstats.scan(str(images.root), metrics=["phash"])
    g = imgstats.groups(df, near_copies=False, bursts=False).sort("path")
    run = g.filter(pl.col("path").str.contains("/run/"))
    holiday = g.filter(pl.col("path").str.contains("/holiday/"))
    assert run["group"].n_unique() == 1 and run["group_size"].to_list() == [6] * 6
    assert all(r == ["sequence"] for r in run["reasons"].to_list())
    assert holiday["group"].n_unique() == 12
    assert holiday["group_size"].to_list() == [1] * 12
    assert all(r == [] for r in holiday["reasons"].to_list())


def test_near_copies_group_exact_and_resized_copies(images: ImageWriter) -> None:
    a = photo_like(200, 300, seed=1)
    images.save("a.png", a)
    images.save("sub/a_copy.png", a)  # same pixels, other name: exact copy
    images.save("a_small.jpg", np.asarray(Image.fromarray(a).resize((150, 100))), quality=90)
    images.save("b.png", photo_like(200, 300, seed=2))
    df = imgstats.scan(str(images.root), metrics=["phash", "content_hash", "pixel_hash"])
    g = imgstats.groups(df, sequences=False, bursts=False)
    by = dict(zip([Path(p).name for p in g["path"]], g.iter_rows(named=True)))
    assert by["a.png"]["group"] == by["a_copy.png"]["group"] == by["a_small.jpg"]["group"]
    assert by["a.png"]["group_size"] == 3 and by["a.png"]["reasons"] == ["near_copy"]
    assert by["b.png"]["group_size"] == 1 and by["b.png"]["reasons"] == []
    # Switched off: every image alone.
    off = imgstats.groups(df, near_copies=False, sequences=False, bursts=False)
    assert off["group"].n_unique() == 4


def _burst_frame() -> pl.DataFrame:
    t0 = dt.datetime(2024, 5, 1, 12, 0, 0)
    rows = [
        ("p0", "Canon", "EOS 80D", t0),
        ("p1", "Canon", "EOS 80D", t0 + dt.timedelta(seconds=2)),  # burst with p0
        ("p2", "Canon", "EOS 80D", t0 + dt.timedelta(seconds=5)),  # 3 s after p1: chained
        ("p3", "Canon", "EOS 80D", t0 + dt.timedelta(seconds=9)),  # 4 s gap: new burst
        ("p4", "Google", "Pixel 7", t0 + dt.timedelta(seconds=1)),  # other camera
        ("p5", "Canon", "EOS 80D", None),  # no time: alone
        ("p6", None, None, t0),  # unknown camera: alone (no other unknown near it)
        ("p7", None, None, t0 + dt.timedelta(seconds=1)),  # ...but this one is
    ]
    return pl.DataFrame(
        rows,
        schema={
            "path": pl.Utf8,
            "camera_make": pl.Utf8,
            "camera_model": pl.Utf8,
            "captured_at": pl.Datetime("us"),
        },
        orient="row",
    )


def test_bursts_by_camera_and_gap() -> None:
    g = imgstats.groups(_burst_frame())
    assert partition(g["group"].to_numpy()) == {
        frozenset({0, 1, 2}),
        frozenset({3}),
        frozenset({4}),
        frozenset({5}),
        frozenset({6, 7}),
    }
    assert g["reasons"].to_list()[:4] == [["burst"], ["burst"], ["burst"], []]
    tight = imgstats.groups(_burst_frame(), burst_seconds=2)
    assert frozenset({0, 1}) in partition(tight["group"].to_numpy())
    assert frozenset({0, 1, 2}) not in partition(tight["group"].to_numpy())


def test_missing_columns_skip_a_reason_with_a_warning() -> None:
    df = pl.DataFrame({"path": ["a", "b"]})
    with pytest.warns(UserWarning, match="no 'phash' column"):
        g = imgstats.groups(df)
    assert g["group"].to_list() == [0, 1]
    with pytest.raises(ValueError, match="group column 'site' not found"):
        imgstats.groups(df, group="site", near_copies=False, sequences=False, bursts=False)


def test_user_groups_merge_with_inferred_links() -> None:
    df = _burst_frame().with_columns(
        pl.Series("site", ["A", None, None, "A", "B", "B", None, None])
    )
    g = imgstats.groups(df, group="site")
    # p0-p2 burst, p3 joins them through site A; p4 and p5 through site B.
    assert partition(g["group"].to_numpy()) == {
        frozenset({0, 1, 2, 3}),
        frozenset({4, 5}),
        frozenset({6, 7}),
    }
    assert g["reasons"].to_list()[0] == ["burst", "user"]
    assert g["reasons"].to_list()[3] == ["user"]
    # An expression works like a column; user groups alone with the inferred reasons off.
    only = imgstats.groups(
        df, group=pl.col("site").str.to_lowercase(), near_copies=False, bursts=False
    )
    assert partition(only["group"].to_numpy()) == {
        frozenset({0, 3}),
        frozenset({4, 5}),
        frozenset({1}),
        frozenset({2}),
        frozenset({6}),
        frozenset({7}),
    }


@pytest.mark.filterwarnings("ignore:one group holds")
def test_components_match_scipy_on_random_links() -> None:
    rng = np.random.default_rng(7)
    for trial in range(20):
        n = int(rng.integers(20, 300))
        t0 = dt.datetime(2024, 1, 1)
        secs = np.sort(rng.integers(0, n * 6, n))
        cams = rng.choice(["x", "y"], n)
        site = np.where(rng.random(n) < 0.8, None, rng.choice([f"s{i}" for i in range(n)], n))
        df = pl.DataFrame(
            {
                "path": [f"p{i}" for i in range(n)],
                "camera_make": cams,
                "captured_at": [t0 + dt.timedelta(seconds=int(s)) for s in secs],
                "site": site,
            }
        )
        g = imgstats.groups(df, group="site", burst_seconds=1)
        # Reference: every pair within 1 s on one camera, or sharing a site (brute force).
        ii, jj = np.triu_indices(n, 1)
        link = (cams[ii] == cams[jj]) & (np.abs(secs[ii] - secs[jj]) <= 1)
        link |= (site[ii] == site[jj]) & (site[ii] != None)  # noqa: E711
        graph = coo_matrix((np.ones(link.sum()), (ii[link], jj[link])), shape=(n, n))
        _, ref = connected_components(graph, directed=False)
        assert partition(g["group"].to_numpy()) == partition(ref), trial


def test_largest_groups_and_giant_group_warning() -> None:
    n = 50
    df = pl.DataFrame({"path": [f"p{i}" for i in range(n)], "rec": [0] * 30 + list(range(1, 21))})
    with pytest.warns(UserWarning, match="one group holds 30 of 50 images"):
        g = imgstats.groups(df, group="rec", near_copies=False, sequences=False, bursts=False)
    top = imgstats.largest_groups(g, 2)
    assert top["images"].to_list() == [30, 1]
    assert top["reasons"].to_list()[0] == ["user"]
    assert top["share"][0] == pytest.approx(0.6)


@pytest.mark.filterwarnings("ignore:one group holds")
def test_real_video_frames_are_one_sequence_each() -> None:
    assert VISP.exists(), MISSING_DATA
    folders = ["cube", "mbt/cube", "mbt-depth/Castle-simu/Images", "ellipse-1"]
    paths = sorted(str(p) for f in folders for p in (VISP / f).glob("*.pgm"))
    df = imgstats.scan(paths, metrics=["phash"])
    g = imgstats.groups(df, near_copies=False, bursts=False)
    folder = frame_names(g["path"])["folder"]
    per = g.with_columns(folder).group_by("folder").agg(pl.col("group").n_unique())
    assert per["group"].to_list() == [1] * len(folders)
    assert g["group"].n_unique() == len(folders)


def test_group_leakage_shares_match_brute_force() -> None:
    rng = np.random.default_rng(5)
    n = 600
    rec = rng.integers(0, 40, n)
    split = rng.choice(["train", "val", "test"], n, p=[0.7, 0.2, 0.1])
    split[rec == 0] = "val"  # recording 0 sits in val only: not straddling
    df = pl.DataFrame({"path": [f"p{i}" for i in range(n)], "split": split, "rec": rec})
    report = imgstats.group_leakage(df, groups="rec")
    for s in ("train", "val", "test"):
        for other in ("train", "val", "test"):
            if s == other:
                continue
            recs_other = set(rec[split == other])
            expect = np.mean([r in recs_other for r in rec[split == s]])
            row = report.shared.filter((pl.col("split") == s) & (pl.col("other") == other))
            assert row["share"].item() == pytest.approx(expect)
        mixed = {r for r in set(rec) if len(set(split[rec == r])) > 1}
        row = report.summary.filter(pl.col("split") == s)
        assert row["straddling"].item() == sum(r in mixed for r in rec[split == s])
    assert set(report.straddling["group"].cast(pl.Int64)) == mixed
    assert 0 not in set(report.straddling["group"].cast(pl.Int64))
    # The hook on leakage() gives the same view.
    df = df.with_columns(pl.lit(0, pl.UInt64).alias("phash"))
    via = imgstats.leakage(df, split="split", groups="rec", exact=False)
    assert via.groups is not None and via.groups.shared.equals(report.shared)
    assert "share a group with train" in repr(via)
