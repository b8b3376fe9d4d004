"""The HTML audit report: sections, escaping, size and speed at 1M rows, a real headless browser,
and the `imgstats report` command."""

from __future__ import annotations

import argparse
import datetime as dt
import glob
import html
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.commands import report as report_cmd
from imgstats.report import report
from PIL import Image

REAL_IMAGES = sorted(
    p for p in glob.glob("/usr/share/backgrounds/mate/*/*") if p.lower().endswith((".jpg", ".png"))
)
EVIL = '/data/<script>alert("x")</script>/it\'s & "quoted".jpg'
SURROGATE = "/data/bad-\udcff-name.jpg"  # an undecodable byte via os.fsdecode


def synthetic_scan(n: int, seed: int = 0, paths: list[str] | None = None) -> pl.DataFrame:
    """A frame with the scan schema and known structure, made with numpy (no image files).

    Classes a/b/c (c is small and never dark: a coverage gap), splits train/val/test where
    ``test`` is darker (drift), 1 % unreadable, a few tiny and odd-aspect images.
    """
    rng = np.random.default_rng(seed)
    cls = rng.choice(np.array(["cat", "dog", "fox"]), size=n, p=[0.55, 0.43, 0.02])
    split = rng.choice(np.array(["train", "val", "test"]), size=n, p=[0.7, 0.15, 0.15])
    brightness = rng.normal(120, 45, n).clip(0, 255)
    brightness[split == "test"] *= 0.7
    brightness[cls == "fox"] = rng.uniform(90, 160, (cls == "fox").sum())
    width = np.where(rng.random(n) < 0.8, 640, 1024).astype(np.uint32)
    height = np.where(width == 640, 480, 768).astype(np.uint32)
    tiny = rng.random(n) < 0.002
    width[tiny], height[tiny] = 20, 16
    odd = rng.random(n) < 0.002
    width[odd], height[odd] = 2000, 300
    failed = rng.random(n) < 0.01
    hours = rng.integers(0, 24, n)
    has_time = rng.random(n) < 0.7
    base = np.datetime64("2024-05-01T00:00:00", "us")
    captured = base + (hours * 3600 + rng.integers(0, 3600, n)) * np.timedelta64(1, "s")
    make = rng.choice(np.array(["Canon", "NIKON", ""]), size=n, p=[0.4, 0.3, 0.3])
    if paths is None:
        paths = [f"/data/{c}/{i:07d}.jpg" for i, c in enumerate(cls)]

    def nullify(values, dtype):
        s = pl.Series(values, dtype=dtype)
        return pl.when(pl.lit(pl.Series(failed))).then(None).otherwise(pl.lit(s))

    df = pl.DataFrame(
        {
            "path": paths,
            "error": pl.Series(np.where(failed, "decode error: truncated", "")).replace("", None),
            "class": cls,
            "split": split,
        }
    )
    cols = {
        "format": (np.where(rng.random(n) < 0.9, "jpeg", "png"), pl.Utf8),
        "width": (width, pl.UInt32),
        "height": (height, pl.UInt32),
        "channels": (np.full(n, 3, np.uint8), pl.UInt8),
        "bit_depth": (np.full(n, 8, np.uint8), pl.UInt8),
        "file_size": (rng.lognormal(11, 0.6, n).astype(np.uint64), pl.UInt64),
        "camera_make": (pl.Series(make).replace("", None), pl.Utf8),
        "camera_model": (
            pl.Series(
                np.where(make == "Canon", "Canon EOS 80D", np.where(make == "", "", "D750"))
            ).replace("", None),
            pl.Utf8,
        ),
        "jpeg_quality": (rng.choice(np.array([75, 90, 95], np.uint8), n), pl.UInt8),
        "brightness": (brightness.astype(np.float32), pl.Float32),
        "contrast": (rng.normal(50, 12, n).clip(0).astype(np.float32), pl.Float32),
        "dark_fraction": (np.clip((60 - brightness) / 60, 0, 1).astype(np.float32), pl.Float32),
        "bright_fraction": (np.clip((brightness - 200) / 55, 0, 1).astype(np.float32), pl.Float32),
        "blur": (rng.lognormal(5.5, 1.2, n), pl.Float64),
        "sharpness": (rng.lognormal(5.5, 1.0, n), pl.Float64),
        "noise": (rng.lognormal(1.0, 0.6, n).astype(np.float32), pl.Float32),
        "entropy": (rng.normal(7.0, 0.6, n).clip(0, 8).astype(np.float32), pl.Float32),
        "colorfulness": (rng.gamma(2, 20, n).astype(np.float32), pl.Float32),
        "is_grayscale": (rng.random(n) < 0.03, pl.Boolean),
    }
    df = df.with_columns([nullify(v, t).alias(k) for k, (v, t) in cols.items()])
    captured_s = pl.Series(captured).cast(pl.Datetime("us"))
    return df.with_columns(
        pl.when(pl.lit(pl.Series(has_time & ~failed))).then(pl.lit(captured_s)).alias("captured_at")
    )


def _small_frame() -> pl.DataFrame:
    n = 600
    paths = [REAL_IMAGES[i % len(REAL_IMAGES)] for i in range(n)] if REAL_IMAGES else None
    df = synthetic_scan(n, seed=1, paths=paths)
    # Two hostile file names: markup and quotes, and an undecodable byte.
    return df.with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit(EVIL))
        .when(pl.int_range(pl.len()) == 1)
        .then(pl.lit("/data/bad-\ufffd-name.jpg"))
        .otherwise(pl.col("path"))
        .alias("path"),
        pl.when(pl.int_range(pl.len()) < 2)
        .then(5.0)
        .otherwise(pl.col("brightness"))
        .alias("brightness"),
    )


def _dups_and_leaks(df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    paths = df.get_column("path").head(40).to_list()
    dups = pl.DataFrame(
        {
            "path": paths,
            "group_id": [i // 4 for i in range(40)],
            "group_size": [4] * 40,
            "representative": [i % 4 == 0 for i in range(40)],
            "distance": [0 if i % 4 == 0 else i % 4 for i in range(40)],
            "exact": [i < 8 for i in range(40)],
        }
    )
    leaks = pl.DataFrame(
        {
            "split": ["test"] * 5,
            "path": paths[:5],
            "matched_split": ["train"] * 5,
            "matched_path": paths[5:10],
            "distance": [0, 1, 2, 3, 4],
        }
    )
    return dups, leaks


class _Leak:
    def __init__(self, pairs: pl.DataFrame) -> None:
        self.pairs = pairs


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> Path:
    df = _small_frame()
    dups, leaks = _dups_and_leaks(df)
    out = tmp_path_factory.mktemp("report") / "audit.html"
    report(
        df,
        out,
        split="split",
        by="class",
        duplicates=dups,
        leakage=_Leak(leaks),
        title='Audit <of> "things"',
    )
    return out


SECTIONS = ("summary", "statistics", "coverage", "drift", "edge-cases", "duplicates", "leakage")


def test_sections_and_content(small_report: Path) -> None:
    text = small_report.read_text(encoding="utf-8")
    for sec in SECTIONS:
        assert f'<section id="{sec}">' in text, sec
    assert "<script" not in text.replace("&lt;script&gt;", "")  # no JS of ours, none injected
    # Thumbnails really embedded from the real files, small.
    thumbs = re.findall(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', text)
    if REAL_IMAGES:
        assert len(thumbs) >= 10
        assert max(len(t) for t in thumbs) < 8000
    # Drift from train to the darker test split is flagged on brightness.
    drift_html = text.split('<section id="drift">')[1].split("</section>")[0]
    assert "train → test" in drift_html
    row = re.search(r'<tr class="flag"><td>brightness</td>', drift_html)
    assert row, "brightness drift train→test should be flagged"
    # The small class 'fox' is never dark: a gap cell in the heat map and the plan.
    cov_html = text.split('<section id="coverage">')[1].split("</section>")[0]
    assert 'title="fox / lighting=dark: 0 images (0.0%)"' in cov_html
    assert "Collection plan" in cov_html
    # Leakage pairs and duplicate groups shown.
    assert text.count('<div class="pair">') == 5
    assert "statistics and" in drift_html
    assert text.count('<div class="group">') == 10


def test_escaping(small_report: Path) -> None:
    raw = small_report.read_bytes()
    raw.decode("utf-8")  # valid UTF-8 throughout
    text = raw.decode("utf-8")
    assert EVIL not in text
    assert "<script>alert" not in text
    assert html.escape(os.path.basename(EVIL), quote=True)[:20] in text
    assert "Audit &lt;of&gt; &quot;things&quot;" in text


def test_reference_drift_section(tmp_path: Path) -> None:
    ref = synthetic_scan(3000, seed=8)
    cur = synthetic_scan(3000, seed=9).with_columns(pl.col("noise") * 3)
    text = report(cur, tmp_path / "r.html", reference=ref, thumbnails=False).read_text("utf-8")
    sec = text.split('<section id="drift">')[1].split("</section>")[0]
    assert "reference → this dataset" in sec
    assert '<tr class="flag"><td>noise</td>' in sec
    assert '<tr class="flag"><td>brightness</td>' not in sec


def test_surrogates_are_replaced() -> None:
    # polars strings are valid UTF-8 already; Python strings from os.fsdecode may carry lone
    # surrogates (undecodable bytes) and must not break the UTF-8 file.
    from imgstats.report.html import esc

    assert esc(SURROGATE) == "/data/bad-?-name.jpg"
    assert esc('<a href="x">') == "&lt;a href=&quot;x&quot;&gt;"


def test_histograms_are_aggregated_and_million_rows_fast(tmp_path: Path) -> None:
    df = synthetic_scan(1_000_000, seed=7)
    out = tmp_path / "big.html"
    start = time.perf_counter()
    report(df, out, split="split", by="class")
    elapsed = time.perf_counter() - start
    size = out.stat().st_size
    print(f"report() on 1,000,000 rows: {elapsed:.2f} s, {size / 1024:.0f} KB")
    assert size < 2_000_000
    # Generous wall-clock bound (a shared 2-core machine); a per-image plot would take minutes.
    assert elapsed < 60
    text = out.read_text(encoding="utf-8")
    # 13 histograms x 40 bins; 3 splits are outlines, never one element per image.
    assert text.count("<rect") < 1000
    assert text.count("<polyline") == 3 * 13
    for sec in ("summary", "statistics", "coverage", "drift", "edge-cases"):
        assert f'<section id="{sec}">' in text


# ------------------------------------------------------------------------------ headless browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")


def _chromium(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    cmd = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        *args,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@needs_chromium
def test_headless_dom_and_screenshot(small_report: Path, tmp_path: Path) -> None:
    url = small_report.resolve().as_uri()
    dom = _chromium("--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    for sec in SECTIONS:
        assert f'id="{sec}"' in dom.stdout
    assert dom.stdout.count("<svg") >= 13
    assert "Uncaught" not in dom.stderr and "SyntaxError" not in dom.stderr
    # Nothing depends on JavaScript: the page has no script and no event handler at all
    # (headless chromium cannot dump the DOM with scripts disabled, so check the source).
    source = small_report.read_text(encoding="utf-8")
    assert not re.search(r"<script|\son[a-z]+=", source)
    shot = tmp_path / "report.png"
    res = _chromium(f"--screenshot={shot}", "--window-size=1280,4000", "--hide-scrollbars", url)
    assert shot.exists(), res.stderr[-2000:]
    keep = os.environ.get("IMGSTATS_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
    with Image.open(shot) as im:
        assert im.size == (1280, 4000)
        arr = np.asarray(im.convert("RGB"), dtype=np.int16)
    # Header band is dark blue, and the page is not blank: many distinct colours rendered.
    assert arr[20, 20].tolist() == [0x16, 0x32, 0x4F]
    assert len(np.unique(arr[::7, ::7].reshape(-1, 3), axis=0)) > 200


# ---------------------------------------------------------------------------------------- CLI


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="imgstats")
    report_cmd.add_parsers(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_joins_relative_labels(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "data"
    (root / "sub").mkdir(parents=True)
    names = ["a.png", "sub/b.png", "sub/c.png"]
    for i, name in enumerate(names):
        Image.new("RGB", (40, 30), (60 * i, 90, 120)).save(root / name)
    df = synthetic_scan(3, seed=2, paths=[str(root / n) for n in names]).drop("class", "split")
    monkeypatch.setattr(report_cmd, "_scan", lambda d: df)
    (tmp_path / "labels.csv").write_text(
        "path,class,split\na.png,cat,train\n./sub/b.png,dog,test\n"
        + f"{root / 'sub/c.png'},007,train\n"
    )
    joined = report_cmd.join_labels(df, str(tmp_path / "labels.csv"), str(root))
    assert joined.get_column("class").to_list() == ["cat", "dog", "007"]
    out = tmp_path / "audit.html"
    # Through the real `imgstats` entry point (the lead's cli.py registers report_cmd).
    from imgstats.cli import main

    argv = [
        "report",
        str(root),
        "--labels",
        str(tmp_path / "labels.csv"),
        "--split-column",
        "split",
        "--by",
        "class",
        "-o",
        str(out),
    ]
    assert main(argv) == 0
    args = _parser().parse_args(
        [
            "report",
            str(root),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--split-column",
            "split",
            "--by",
            "class",
            "-o",
            str(out),
        ]
    )
    assert args.func(args) == 0
    text = out.read_text(encoding="utf-8")
    assert '<section id="coverage">' in text and ">007<" in text


def test_cli_skips_unavailable_analyses(tmp_path: Path, monkeypatch) -> None:
    df = synthetic_scan(30, seed=4)
    monkeypatch.setattr(report_cmd, "_scan", lambda d: df)

    def missing(*a, **k):
        raise NotImplementedError

    monkeypatch.setattr(report_cmd, "duplicates", missing)
    monkeypatch.setattr(report_cmd, "leakage", missing)
    out = tmp_path / "a.html"
    args = _parser().parse_args(
        ["report", str(tmp_path), "--split-column", "split", "-o", str(out)]
    )
    assert args.func(args) == 0
    text = out.read_text(encoding="utf-8")
    assert "duplicates: not available in this build; section skipped." in text
    assert '<section id="duplicates">' not in text


def test_leakage_frame_with_earlier_later_columns(tmp_path: Path) -> None:
    # imgstats.leakage names the splits earlier/later; a bare DataFrame is accepted too.
    df = synthetic_scan(40, seed=6)
    paths = df.get_column("path").to_list()
    pairs = pl.DataFrame(
        {
            "earlier": ["train"] * 3,
            "later": ["test"] * 3,
            "path": paths[:3],
            "matched_path": paths[3:6],
            "distance": [2, 0, 1],
        }
    )
    text = report(df, tmp_path / "l.html", leakage=pairs, thumbnails=False).read_text("utf-8")
    sec = text.split('<section id="leakage">')[1].split("</section>")[0]
    assert sec.count('<div class="pair">') == 3
    assert "<td>test</td><td>train</td>" in sec
    # Closest pair first.
    assert sec.index("distance 0") < sec.index("distance 1") < sec.index("distance 2")


def test_cli_end_to_end_with_the_real_scan(tmp_path: Path) -> None:
    from imgstats.scan import scan

    root = tmp_path / "ds"
    (root / "cats").mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = ["path,class,split"]
    for i in range(12):
        arr = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
        Image.fromarray(arr).save(root / "cats" / f"{i}.png")
        rows.append(f"cats/{i}.png,cat,{'test' if i >= 9 else 'train'}")
    # A near copy of a training image in the test split, and a dark image.
    Image.open(root / "cats" / "0.png").resize((32, 24)).save(root / "cats" / "copy.png")
    rows.append("cats/copy.png,cat,test")
    Image.new("RGB", (64, 48), (3, 3, 3)).save(root / "cats" / "dark.png")
    rows.append("cats/dark.png,cat,train")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
    try:
        scan(str(root / "cats" / "0.png"))
    except NotImplementedError:
        pytest.skip("imgstats.scan is not available in this build")
    out = tmp_path / "audit.html"
    args = _parser().parse_args(
        [
            "report",
            str(root),
            "--labels",
            str(tmp_path / "labels.csv"),
            "--split-column",
            "split",
            "--by",
            "class",
            "-o",
            str(out),
        ]
    )
    assert args.func(args) == 0
    text = out.read_text(encoding="utf-8")
    for sec in ("summary", "statistics", "coverage", "drift", "edge-cases"):
        assert f'<section id="{sec}">' in text
    assert ">14<" in text  # 14 images counted in the summary
    edge = text.split('<section id="edge-cases">')[1].split("</section>")[0]
    assert "dark.png" in edge
    # Duplicates/leakage: shown when those functions work, otherwise a note says why not.
    for name in ("duplicates", "leakage"):
        assert f'<section id="{name}">' in text or f"{name}:" in text


DEGENERATE = {
    "path_only": pl.DataFrame({"path": ["a.jpg", "b.jpg"]}),
    "empty": pl.DataFrame(
        schema={"path": pl.Utf8, "brightness": pl.Float32, "width": pl.UInt32, "height": pl.UInt32}
    ),
    "all_failed": pl.DataFrame(
        {"path": ["a", "b"], "error": ["x", "y"], "brightness": [None, None]},
        schema={"path": pl.Utf8, "error": pl.Utf8, "brightness": pl.Float32},
    ),
    "one_row_one_split": pl.DataFrame(
        {"path": ["a"], "brightness": [100.0], "width": [10], "height": [10], "split": ["train"]}
    ),
    "int_classes": pl.DataFrame(
        {"path": ["a", "b", "c"], "brightness": [100.0, 20.0, 200.0], "split": ["train"] * 3}
    ).with_columns(pl.Series("cls", [1, 2, 10])),
}


@pytest.mark.parametrize("name", list(DEGENERATE))
def test_degenerate_frames_still_render(name: str, tmp_path: Path) -> None:
    df = DEGENERATE[name]
    split = "split" if "split" in df.columns else None
    by = "cls" if "cls" in df.columns else None
    text = report(df, tmp_path / "d.html", split=split, by=by).read_text(encoding="utf-8")
    for sec in ("summary", "statistics", "coverage", "edge-cases"):
        assert f'<section id="{sec}">' in text
    assert text.rstrip().endswith("</html>")


def _decode_thumb(fig: str) -> Image.Image:
    import base64
    import io

    data = re.search(r"base64,([A-Za-z0-9+/=]+)", fig).group(1)
    return Image.open(io.BytesIO(base64.b64decode(data))).convert("RGB")


def test_thumbnails_16_bit_alpha_missing_and_budget(tmp_path: Path) -> None:
    from imgstats.report.thumbs import Thumbnailer

    # 16-bit gray at 30000/65535: scaled to ~117, not clipped to 255 as convert("L") would.
    Image.fromarray(np.full((200, 300), 30000, np.uint16)).save(tmp_path / "g16.png")
    # Fully transparent RGBA whose hidden colour is black: shown on light grey.
    Image.new("RGBA", (120, 80), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    Image.new("RGB", (640, 480), (200, 10, 10)).save(tmp_path / "red.jpg", quality=90)
    th = Thumbnailer(px=64, max_images=3)
    g = np.asarray(_decode_thumb(th.figure(str(tmp_path / "g16.png"), "g"))).mean()
    assert abs(g - 30000 / 257) < 3
    clear = np.asarray(_decode_thumb(th.figure(str(tmp_path / "clear.png"), "c")))
    assert abs(clear.mean() - 204) < 3
    red = _decode_thumb(th.figure(str(tmp_path / "red.jpg"), ["red", "line 2"]))
    assert max(red.size) <= 64 and red.size == (64, 48)
    # Budget spent: further files become placeholders, but cached ones are still shown.
    assert "no preview" in th.figure(str(tmp_path / "red2.jpg"))
    assert th.skipped == 1
    assert "base64," in th.figure(str(tmp_path / "red.jpg"))
    missing = Thumbnailer().figure(str(tmp_path / "nope.jpg"), 'a<b>"c"')
    assert "no preview" in missing and "a&lt;b&gt;&quot;c&quot;" in missing


def test_captured_at_dtype_roundtrip() -> None:
    df = synthetic_scan(100, seed=5)
    assert df.schema["captured_at"] == pl.Datetime("us")
    assert df.get_column("captured_at").null_count() > 0
    assert isinstance(df.get_column("captured_at").drop_nulls()[0], dt.datetime)
