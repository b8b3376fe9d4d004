"""The HTML audit report: sections, escaping, size and speed at 1M rows, a real headless browser,
and the `imgstats report` command."""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from imgstats.commands import report as report_cmd
from imgstats.duplicates import duplicates
from imgstats.leakage import leakage
from imgstats.report import report
from imgstats.scan import scan
from PIL import Image

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
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


def _example_scan() -> pl.DataFrame:
    """The committed examples/images, really scanned, with class and split from labels.csv.
    It plants 5 groups of copies (12 images) and one train->test leak (make_examples.py)."""
    df = scan(str(EXAMPLES / "images"))
    labels = pl.read_csv(EXAMPLES / "labels.csv").with_columns(
        (str(EXAMPLES / "images") + "/" + pl.col("path")).alias("path")
    )
    return df.join(labels, on="path", how="left")


def _small_frame() -> pl.DataFrame:
    """600 synthetic rows (known drift and coverage gap, two hostile names) plus the real scan
    of the examples, whose duplicates and leak the report must show."""
    df = synthetic_scan(600, seed=1)
    # Two hostile file names: markup and quotes, and an undecodable byte.
    df = df.with_columns(
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
    return pl.concat([df, _example_scan()], how="diagonal_relaxed")


@pytest.fixture(scope="module")
def small_report(tmp_path_factory) -> Path:
    df = _small_frame()
    out = tmp_path_factory.mktemp("report") / "audit.html"
    report(
        df,
        out,
        split="split",
        by="class",
        duplicates=duplicates(df),
        leakage=leakage(df, split="split"),
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
    assert "statistics and" in drift_html
    # The real `leakage` output: the one planted leak, test/leaked_scene_03 <- train/scene_03.
    leak_html = text.split('<section id="leakage">')[1].split("</section>")[0]
    assert leak_html.count('<div class="pair">') == 1
    assert '<td>test</td><td>train</td><td class="n">1</td><td class="n">1</td>' in leak_html
    pair = leak_html.split('<div class="pair">')[1]
    assert pair.index("leaked_scene_03.jpg") < pair.index("scene_03.jpg</figcaption>")
    # The real `duplicates` output: the 5 planted groups, largest first, one kept in each.
    dup_html = text.split('<section id="duplicates">')[1].split("</section>")[0]
    groups = dup_html.split('<div class="group">')[1:]
    assert len(groups) == 5
    assert [re.search(r"<br>(\d+) images", g).group(1) for g in groups] == ["4", "2", "2", "2", "2"]
    assert all(g.count("kept") == 1 for g in groups)
    assert sum("images (exact)" in g for g in groups) == 2  # byte copy; PNG/WebP same pixels
    for name in ("grayscale.jpg", "scene_02_copy.jpg", "export.webp", "scene_01_small.jpg"):
        assert name in dup_html


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


def test_histograms_are_aggregated_at_a_million_rows(tmp_path: Path) -> None:
    """The page does not grow with the data set (its speed: benches/bench_report.py)."""
    df = synthetic_scan(1_000_000, seed=7)
    out = tmp_path / "big.html"
    report(df, out, split="split", by="class")
    assert out.stat().st_size < 2_000_000
    text = out.read_text(encoding="utf-8")
    # 13 histograms x 40 bins; 3 splits are outlines, never one element per image.
    assert text.count("<rect") < 1000
    assert text.count("<polyline") == 3 * 13
    for sec in ("summary", "statistics", "coverage", "drift", "edge-cases"):
        assert f'<section id="{sec}">' in text


# ------------------------------------------------------------------------------ headless browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def test_headless_dom_and_screenshot(small_report: Path, tmp_path: Path) -> None:
    assert CHROMIUM, "chromium is required: run `sudo scripts/system-deps.sh --test`"
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
    root = tmp_path / "ds"
    (root / "cats").mkdir(parents=True)
    rows = ["path,class,split"]
    scenes = sorted((EXAMPLES / "images").glob("*/scene_??.jpg"))  # 12 distinct scenes
    for i, scene in enumerate(scenes):
        Image.open(scene).resize((128, 96)).save(root / "cats" / f"{i}.png")
        rows.append(f"cats/{i}.png,cat,{'test' if i >= 9 else 'train'}")
    # A near copy of a training image in the test split, and a dark image.
    Image.open(root / "cats" / "0.png").resize((64, 48)).save(root / "cats" / "copy.png")
    rows.append("cats/copy.png,cat,test")
    Image.new("RGB", (128, 96), (3, 3, 3)).save(root / "cats" / "dark.png")
    rows.append("cats/dark.png,cat,train")
    (tmp_path / "labels.csv").write_text("\n".join(rows) + "\n")
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
    # The planted leak is found: copy.png (test) is a near copy of 0.png (train), and the two
    # form the only duplicate group.
    leak = text.split('<section id="leakage">')[1].split("</section>")[0]
    assert leak.count('<div class="pair">') == 1
    pair = leak.split('<div class="pair">')[1]
    assert "copy.png" in pair and "0.png" in pair
    assert '<td>test</td><td>train</td><td class="n">1</td><td class="n">1</td>' in leak
    dups = text.split('<section id="duplicates">')[1].split("</section>")[0]
    assert dups.count('<div class="group">') == 1 and "2 images" in dups


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
