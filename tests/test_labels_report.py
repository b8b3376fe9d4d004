"""The report's labels section: what it contains, the CLI path `imgstats report data.yaml`, and
the page rendered by headless chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import imgstats
import pytest
from imgstats.cli import main
from imgstats.report.labels import dataset_frame
from test_labels_data import THRESHOLDS, H, W, make_yolo


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("report_ds"))


def test_report_with_labels(dataset: Path, tmp_path: Path) -> None:
    lab = imgstats.labels(dataset, thresholds=THRESHOLDS)
    df = dataset_frame(lab)
    out = imgstats.report(df, tmp_path / "a.html", split="split", labels=lab, min_count=5)
    html = out.read_text(encoding="utf-8")
    assert '<section id="labels">' in html
    for check in lab.findings.get_column("check").unique():
        assert f"<td>{check}</td>" in html
    # The one-page table has every object axis and the background row.
    for axis in ("object_size", "occlusion", "truncation", "crowding", "lighting"):
        assert f">{axis}</th>" in html
    assert "(background)" in html
    # Spot-check gallery: one crop per readable box (24 cars, 23 people, fewer than 50 each),
    # each linking to the label file and line.
    start = html.index("Spot check")
    gallery = html[start : html.index("</section>", start)]
    readable = lab.boxes.join(
        lab.images.filter(lab.images["status"] != "unreadable").select("path"), on="path"
    )
    n_crops = gallery.count('src="data:image/jpeg')
    # Boxes with some area inside the image (the pixel-coordinate row of t05 lies outside it).
    positive = readable.filter(
        (readable["x1"] > readable["x0"])
        & (readable["y1"] > readable["y0"])
        & (readable["x0"] < W)
        & (readable["y0"] < H)
    )
    assert n_crops == positive.height
    assert re.search(r'href="file://[^"]*labels/train/t03\.txt"[^>]*>t03\.txt:1<', gallery)
    assert not re.search(r"<script|\son[a-z]+=", html)


def test_report_cli_on_data_yaml(dataset: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "audit.html"
    assert main(["report", str(dataset), "-o", str(out), "--no-duplicates"]) == 0
    html = out.read_text(encoding="utf-8")
    assert '<section id="labels">' in html and '<section id="drift">' in html
    assert "22 images" in capsys.readouterr().out
    # A plain image folder is still reported as a folder (no labels section).
    plain = tmp_path / "plain"
    shutil.copytree(dataset.parent / "images" / "val", plain)
    out2 = tmp_path / "plain.html"
    assert main(["report", str(plain), "-o", str(out2), "--no-duplicates"]) == 0
    assert '<section id="labels">' not in out2.read_text(encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["report", str(bad), "-o", str(tmp_path / "x.html")]) == 2


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_labels_section_renders_in_chromium(dataset: Path, tmp_path: Path) -> None:
    lab = imgstats.labels(dataset, thresholds=THRESHOLDS)
    out = imgstats.report(dataset_frame(lab), tmp_path / "a.html", labels=lab, min_count=5)
    res = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", out.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert 'id="labels"' in res.stdout and "Spot check" in res.stdout
