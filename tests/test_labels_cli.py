"""`imgstats check`: exit codes for CI gating, the table, the documented JSON document."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from imgstats.cli import main
from test_labels_data import PLANTED_YOLO, make_yolo


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("cli_planted"))


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_yolo(tmp_path_factory.mktemp("cli_clean"), planted=False)


def test_exit_codes(planted: Path, clean: Path, tmp_path: Path, capsys) -> None:
    assert main(["check", str(planted)]) == 1  # errors present, default --fail-on error
    assert main(["check", str(planted), "--fail-on", "never"]) == 0
    # The clean set (22 objects per class, no background) has no finding at all.
    assert main(["check", str(clean), "--fail-on", "warning"]) == 0
    assert main(["check", str(tmp_path / "nope.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [unclosed\n")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml" in err and "bad.yaml" in err


def test_fail_on_warning_without_errors(tmp_path: Path) -> None:
    data = make_yolo(tmp_path, planted=False)
    # Remove one label file: a missing_label_file warning and no error.
    (tmp_path / "labels" / "val" / "v00.txt").unlink()
    assert main(["check", str(data)]) == 0
    assert main(["check", str(data), "--fail-on", "warning"]) == 1


def test_table_output(planted: Path, capsys) -> None:
    main(["check", str(planted), "--problems", "3"])
    out = capsys.readouterr().out
    assert out.splitlines()[1].split() == ["severity", "check", "split", "count", "example"]
    for check in PLANTED_YOLO:
        if check not in ("rare_class", "background_share"):  # default thresholds differ
            assert check in out
    assert out.rstrip().endswith("FAIL (--fail-on error)")


def test_json_document(planted: Path, capsys) -> None:
    assert main(["check", str(planted), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {
        "dataset",
        "format",
        "root",
        "imgsz",
        "classes",
        "images",
        "boxes",
        "problems_by_severity",
        "fail_on",
        "failed",
        "findings",
        "problems",
    }
    assert doc["format"] == "yolo" and doc["failed"] is True
    assert doc["classes"] == ["car", "person", "dog"]
    assert doc["images"] == {
        "total": 22,
        "labelled": 19,
        "background": 1,
        "unlabelled": 1,
        "unreadable": 1,
    }
    assert set(doc["findings"][0]) == {"check", "severity", "split", "count", "examples"}
    assert set(doc["problems"][0]) == {
        "check",
        "severity",
        "split",
        "path",
        "label_file",
        "line",
        "detail",
    }
    assert sum(f["count"] for f in doc["findings"]) == len(doc["problems"])
    parse = [p for p in doc["problems"] if p["check"] == "parse_error"]
    assert sorted(p["line"] for p in parse) == [3, 4]


EXAMPLE = Path(__file__).parent.parent / "examples" / "detection"


@pytest.mark.skipif(not EXAMPLE.is_dir(), reason="examples/detection not generated")
def test_shipped_example_has_exactly_its_planted_problems(capsys) -> None:
    assert main(["check", str(EXAMPLE / "data.yaml"), "--json"]) == 1
    doc = json.loads(capsys.readouterr().out)
    found = {(p["check"], Path(p["label_file"] or p["path"] or "").name) for p in doc["problems"]}
    assert found == {
        ("not_normalized", "train_07.txt"),
        ("missing_label_file", "val_02.txt"),
        ("orphan_label", "train_99.txt"),
        ("duplicate_box", "train_08.txt"),
        ("rare_class", ""),
        ("class_missing_in_split", ""),
        ("empty_label_file", "train_05.txt"),
    }


def test_table_option_prints_objects_per_class_and_axis(clean: Path, capsys) -> None:
    assert main(["check", str(clean), "--table", "occlusion,object_size"]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if "occlusion:none" in line)
    cols = [c.strip() for c in header.strip("│ ").split("┆")]
    rows = {}
    for line in out.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("┆")]
        if len(cells) == len(cols) and cells[0] in ("car", "person"):
            rows[cells[0]] = dict(zip(cols, cells))
    # The clean set: 22 cars and 22 people, none overlapping; at imgsz 640 (x3.2) a car is
    # sqrt(128 * 96) = 111 px and a person sqrt(96 * 144) = 118 px: large.
    for cls in ("car", "person"):
        occ = sum(int(rows[cls][c]) for c in cols if c.startswith("occlusion:"))
        assert occ == 22 and rows[cls]["occlusion:none"] == "22"
        assert rows[cls]["object_size:large"] == "22"
