"""Edge-case rules on frames with known answers, including the CleanVision failure modes."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.edge_cases import DEFAULT_EDGE_THRESHOLDS, REASONS, edge_cases
from imgstats.scan import scan
from PIL import Image, ImageFilter

N = 200


def _base(n: int = N, seed: int = 0) -> dict[str, np.ndarray]:
    """Ordinary images: mid brightness, sharp, clean, informative, colour, 640x480."""
    rng = np.random.default_rng(seed)
    return {
        "path": np.array([f"/d/{i:04d}.jpg" for i in range(n)]),
        "brightness": rng.uniform(80, 170, n),
        "dark_fraction": np.zeros(n),
        "bright_fraction": np.zeros(n),
        "sharpness": rng.uniform(300, 1500, n),
        "noise": rng.uniform(1.0, 3.0, n),
        "entropy": rng.uniform(6.5, 7.8, n),
        "width": np.full(n, 640),
        "height": np.full(n, 480),
        "is_grayscale": np.zeros(n, dtype=bool),
    }


def _frame(cols: dict[str, np.ndarray], errors: dict[int, str] | None = None) -> pl.DataFrame:
    df = pl.DataFrame(cols).with_columns(pl.col("width", "height").cast(pl.UInt32))
    err = [None] * df.height
    for i, e in (errors or {}).items():
        err[i] = e
    df = df.with_columns(pl.Series("error", err, dtype=pl.Utf8))
    if errors:
        # Failed rows carry nulls, as the scan produces them.
        bad = pl.col("error").is_not_null()
        df = df.with_columns(
            [
                pl.when(bad).then(None).otherwise(pl.col(c)).alias(c)
                for c in df.columns
                if c not in ("path", "error")
            ]
        )
    return df


def _reasons(df: pl.DataFrame, **kw) -> dict[str, list[str]]:
    out = edge_cases(df, **kw)
    return dict(zip(out.get_column("path").to_list(), out.get_column("reasons").to_list()))


def test_ordinary_dataset_flags_nothing() -> None:
    assert edge_cases(_frame(_base())).height == 0


def test_each_rule_on_planted_images() -> None:
    c = _base()
    plant = {
        1: ("brightness", 12.0, "dark"),
        2: ("dark_fraction", 0.8, "dark"),
        3: ("brightness", 240.0, "overexposed"),
        4: ("bright_fraction", 0.5, "overexposed"),
        5: ("sharpness", 20.0, "blurry"),
        6: ("noise", 25.0, "noisy"),
        7: ("entropy", 1.5, "low_information"),
        8: ("is_grayscale", True, "grayscale"),
    }
    for i, (col, value, _) in plant.items():
        c[col][i] = value
    c["width"][9], c["height"][9] = 5000, 4000  # 65x the area: odd size
    c["width"][10], c["height"][10] = 1800, 300  # 6:1 strip: odd aspect
    c["width"][11], c["height"][11] = 16, 12  # tiny (and odd size)
    got = _reasons(_frame(c, errors={12: "cannot decode"}))
    want = {f"/d/{i:04d}.jpg": [r] for i, (_, _, r) in plant.items()}
    want["/d/0009.jpg"] = ["odd_size"]
    want["/d/0010.jpg"] = ["odd_aspect"]
    want["/d/0011.jpg"] = ["odd_size", "tiny"]
    want["/d/0012.jpg"] = ["unreadable"]
    assert got == want
    out = edge_cases(_frame(c, errors={12: "cannot decode"}))
    assert out.columns[:2] == ["path", "reasons"]
    assert out.filter(pl.col("path") == "/d/0012.jpg").get_column("error").item() == "cannot decode"
    for reasons in got.values():
        assert reasons == [r for r in REASONS if r in reasons]  # documented order


def test_blurry_is_relative_to_the_dataset() -> None:
    # A soft-by-nature dataset (all below the absolute threshold): only images far below the
    # dataset median are blurry, not all of them.
    c = _base()
    c["sharpness"] = np.random.default_rng(1).uniform(40, 90, N)
    c["sharpness"][0] = 5.0
    assert _reasons(_frame(c)) == {"/d/0000.jpg": ["blurry"]}
    # And a sharp dataset: a 150 image is below 0.25 x median but above the absolute 50.
    c = _base()
    c["sharpness"][:] = 1000.0
    c["sharpness"][0] = 150.0
    assert _reasons(_frame(c)) == {}
    assert _reasons(_frame(c), thresholds={"blurry_sharpness": 200}) == {"/d/0000.jpg": ["blurry"]}


def test_odd_size_when_most_images_share_one_size() -> None:
    # CleanVision's flaw: 95 % at 640x480 gives an IQR of 0 and every other size is "odd".
    # Here 10 % at 800x600 (1.56x the area) and a few 1024x768 are ordinary; only far sizes flag.
    c = _base()
    c["width"][:20], c["height"][:20] = 800, 600
    c["width"][20:25], c["height"][20:25] = 1024, 768
    c["width"][25], c["height"][25] = 3200, 2400  # 25x the area
    assert _reasons(_frame(c)) == {"/d/0025.jpg": ["odd_size"]}


def test_heterogeneous_sizes_widen_the_fence() -> None:
    # Scraped data: areas spread over two orders of magnitude; a 4x difference is normal there.
    c = _base()
    rng = np.random.default_rng(2)
    side = np.exp(rng.uniform(np.log(150), np.log(2000), N)).astype(int)
    c["width"], c["height"] = side, (side * 0.75).astype(int)
    assert "odd_size" not in {r for rs in _reasons(_frame(c)).values() for r in rs}


def test_portraits_are_not_odd_aspect() -> None:
    c = _base()
    c["width"][:60], c["height"][:60] = 480, 640  # 30 % portrait of the same camera
    assert _reasons(_frame(c)) == {}


def test_grayscale_by_content_and_only_as_a_minority() -> None:
    c = _base()
    c["is_grayscale"][:3] = True
    assert set(_reasons(_frame(c))) == {"/d/0000.jpg", "/d/0001.jpg", "/d/0002.jpg"}
    c["is_grayscale"][:] = True  # an X-ray dataset: nothing is odd about being gray
    assert _reasons(_frame(c)) == {}


def test_tiny_is_relative_to_a_small_image_dataset() -> None:
    c = _base()
    c["width"][:], c["height"][:] = 28, 28  # MNIST-like
    c["width"][0], c["height"][0] = 10, 10
    got = _reasons(_frame(c))
    assert got == {"/d/0000.jpg": ["odd_size", "tiny"]}


def test_missing_columns_and_bad_threshold() -> None:
    df = pl.DataFrame({"path": ["a", "b"], "entropy": [7.0, 0.5]})
    assert _reasons(df) == {"b": ["low_information"]}
    only_path = edge_cases(pl.DataFrame({"path": ["a"]}))
    assert only_path.height == 0 and only_path.columns == ["path", "reasons"]
    with pytest.raises(ValueError, match="unknown edge-case threshold"):
        edge_cases(df, thresholds={"dark": 3})
    assert set(DEFAULT_EDGE_THRESHOLDS) >= {"dark_brightness", "low_entropy_bits"}


EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
#: examples/make_examples.py darkens every third scene (a night shot); these are the day scenes.
DAY_SCENES = [f"scene_{i:02d}.jpg" for i in range(12) if i % 3]


def test_thresholds_fit_the_real_scan(tmp_path: Path) -> None:
    """Planted defects in photo-like JPEGs, measured by the real `imgstats.scan`: each is flagged
    for its defect, so the thresholds match the scan's units (luma 0-255, Laplacian at 640 px)."""
    photos = sorted(p for name in DAY_SCENES for p in EXAMPLES.glob(f"*/{name}"))
    assert len(photos) == 8
    for i, p in enumerate(photos):
        shutil.copy(p, tmp_path / f"photo{i}.jpg")
    with Image.open(tmp_path / "photo0.jpg") as base:
        arr = np.asarray(base).astype(float)
        Image.fromarray((arr * 0.06).astype(np.uint8)).save(tmp_path / "dark.png")
        Image.fromarray(np.clip(arr * 2.5 + 120, 0, 255).astype(np.uint8)).save(
            tmp_path / "overexposed.png"
        )
        base.filter(ImageFilter.GaussianBlur(10)).save(tmp_path / "blurry.png")
        rng = np.random.default_rng(0)
        noisy = np.clip(arr + rng.normal(0, 35, arr.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(tmp_path / "noisy.png")
        gray = np.asarray(base.convert("L"))
        Image.fromarray(np.stack([gray] * 3, axis=-1)).save(tmp_path / "gray_rgb.png")
    Image.new("RGB", (800, 500), (90, 120, 150)).save(tmp_path / "flat.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    df = scan(str(tmp_path))
    got = {
        p.rsplit("/", 1)[-1]: set(r)
        for p, r in zip(*edge_cases(df).select("path", "reasons").get_columns())
    }
    assert "dark" in got["dark.png"]
    assert "overexposed" in got["overexposed.png"]
    assert "blurry" in got["blurry.png"]
    assert "noisy" in got["noisy.png"]
    assert "grayscale" in got["gray_rgb.png"]  # RGB file, gray content: CleanVision misses it
    assert "low_information" in got["flat.png"]
    assert got["broken.jpg"] == {"unreadable"}
    # The untouched photos are not flagged at all.
    assert not {n: r for n, r in got.items() if n.startswith("photo")}


def test_planted_problems_in_the_examples_are_found() -> None:
    """examples/images plants one frame per problem: exactly those are flagged for it."""
    got = {
        str(Path(p).relative_to(EXAMPLES)): set(r)
        for p, r in zip(*edge_cases(scan(str(EXAMPLES))).select("path", "reasons").get_columns())
    }

    def flagged(reason: str) -> set[str]:
        return {p for p, r in got.items() if reason in r}

    assert flagged("dark") == {"train/dark.jpg"}
    assert flagged("overexposed") == {"train/overexposed.jpg"}
    assert flagged("noisy") == {"train/noisy.jpg"}
    assert flagged("grayscale") == {"train/grayscale.jpg"}
    assert flagged("unreadable") == {
        "broken/empty.png",
        "broken/not_an_image.jpg",
        "broken/truncated.jpg",
    }
    assert "train/blurred.jpg" in flagged("blurry")
    # Day scenes at full size carry no flag (scene_01_small.jpg is 320x240: odd_size only).
    assert not {p for p in got if Path(p).name in DAY_SCENES}
    assert got["train/scene_01_small.jpg"] == {"odd_size"}
