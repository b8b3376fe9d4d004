"""`imgstats drift REFERENCE CURRENT` and `imgstats report ... --reference REF`, end to end on
real photo crops and the same crops fogged."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import weather_photos as wp
from imgstats.cli import main
from PIL import Image


def _crops() -> list[np.ndarray]:
    out = []
    for _, a in wp.photos()[:12]:
        h, w = a.shape[0] // 2, a.shape[1] // 2
        for q in (a[:h, :w], a[:h, w:], a[h:, :w], a[h:, w:]):
            out.append(np.asarray(Image.fromarray(q).resize((128, 96), Image.Resampling.BOX)))
    return out


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("drift_cli")
    crops = _crops()
    dirs = {}
    for name, arrays in (("clear", crops), ("fog", [wp.fog(a, 0.5) for a in crops])):
        d = root / name
        d.mkdir()
        for i, a in enumerate(arrays):
            Image.fromarray(a).save(d / f"{name}{i:03d}.png")
        dirs[name] = d
    assert main(["scan", str(dirs["clear"]), "-o", str(root / "clear.parquet")]) == 0
    dirs["clear_parquet"] = root / "clear.parquet"
    dirs["root"] = root
    return dirs


def test_fog_is_drift_and_fails_the_job(sets, capsys) -> None:
    out = sets["root"] / "drift.json"
    code = main(
        ["drift", str(sets["clear"]), str(sets["fog"]), "--json", str(out), "--fail-on", "drift"]
    )
    text = capsys.readouterr().out
    assert code == 1
    assert "DRIFT:" in text and "domain gap AUC" in text
    result = json.loads(out.read_text())
    assert result["drift_detected"] is True
    flagged = {r["column"] for r in result["drift"] if r["kind"] == "statistic" and r["flag"]}
    assert {"brightness", "contrast"} <= flagged  # fog brightens and flattens
    assert any(r.startswith("statistic contrast") for r in result["reasons"])
    gap = result["domain_gap"]
    assert gap["auc"] >= 0.9 and gap["n_reference"] == gap["n_current"] == 48
    assert len(gap["scores"]) == 48 and gap["scores"][0]["rank"] == 1


def test_same_set_is_not_drift(sets, capsys) -> None:
    code = main(["drift", str(sets["clear"]), str(sets["clear"]), "--fail-on", "drift"])
    text = capsys.readouterr().out
    assert code == 0, text
    assert "no drift" in text


def test_parquet_scan_equals_folder_input(sets, tmp_path: Path, capsys) -> None:
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    main(["drift", str(sets["clear"]), str(sets["fog"]), "--no-gap", "--json", str(a)])
    main(["drift", str(sets["clear_parquet"]), str(sets["fog"]), "--no-gap", "--json", str(b)])
    capsys.readouterr()
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    assert ra["drift"] == rb["drift"] and ra["reasons"] == rb["reasons"]
    assert ra["domain_gap"] is None


def test_bad_input_exits_2(sets, tmp_path: Path, capsys) -> None:
    assert main(["drift", str(tmp_path / "missing"), str(sets["fog"])]) == 2
    assert "not a folder, a scan table" in capsys.readouterr().err
    assert main(["report", str(sets["fog"]), "--reference", str(tmp_path / "nope.csv")]) == 2


def test_report_reference_panel(sets, tmp_path: Path, capsys) -> None:
    html_path = tmp_path / "audit.html"
    code = main(
        [
            "report",
            str(sets["fog"]),
            "--reference",
            str(sets["clear"]),
            "-o",
            str(html_path),
            "--no-duplicates",
        ]
    )
    capsys.readouterr()
    assert code == 0
    page = html_path.read_text()
    panel = page[page.index('<section id="domain-gap">') :]
    panel = panel[: panel.index("</section>")]
    assert "Can you tell which is which?" in panel
    assert panel.count("<figure>") == 20
    key = re.search(r"<summary>Show the key</summary><p>(.*?)</p>", panel).group(1)
    assert key.count("reference") == 10 and key.count("current") == 10
    # Nothing in the grid gives the answer away: no file names in captions or tooltips.
    grid = panel[: panel.index("<details>")]
    assert "clear0" not in grid and "fog0" not in grid
    assert re.search(r"AUC 0\.9\d\d|AUC 1\.000", panel)
    assert 'href="#domain-gap"' in page
