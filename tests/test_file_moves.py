"""`imgstats dups --move-to` and `imgstats undo` with injected failures: whatever goes wrong, every
original file stays byte-identical either at its path or at the destination the manifest records,
`undo` puts back byte-identical files, and a second `undo` refuses.

The data set is a copy of the committed `examples/images/`, whose planted copies make the drop
list known: 5 groups of copies (an exact byte copy, the same pixels as PNG and WebP, a resized
re-save, a train image leaked into test, 4 edits of one scene) -> 7 files to move.
Failures are injected with real file-system conditions where root cannot bypass them (a
destination under a regular file, an existing name, a deleted source) and with monkeypatched
`os.link` / `shutil.copyfileobj` where only an injected error can stop a move half-way.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
from imgstats.cli import main
from imgstats.commands import dups as dups_cmd
from imgstats.commands import moves

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "images"
N_DROPPED = 7


def sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.fixture()
def data(tmp_path: Path) -> Path:
    d = tmp_path / "images"
    shutil.copytree(EXAMPLES, d)
    return d


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` (absolute path -> sha256)."""
    return {str(p): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def manifest_of(trash: Path) -> tuple[Path, dict]:
    (m,) = trash.glob("imgstats-manifest-*.json")
    return m, json.loads(m.read_text())


def assert_nothing_lost(before: dict[str, str], manifest: dict | None) -> None:
    """Each original is byte-identical at its path, or absent there and byte-identical at the
    destination the manifest records as moved."""
    moved = {
        m["from"]: m["to"] for m in (manifest or {"moves": []})["moves"] if m["status"] == "moved"
    }
    for path, digest in before.items():
        if os.path.exists(path):
            assert sha(Path(path)) == digest, f"{path} changed"
        else:
            assert path in moved, f"{path} is gone and the manifest does not record it"
            assert sha(Path(moved[path])) == digest, f"{moved[path]} differs from {path}"


def run_dups(data: Path, trash: Path) -> int:
    return main(["dups", str(data), "--move-to", str(trash), "--threads", "1"])


def test_move_then_undo_restores_byte_identical_files(data: Path, tmp_path: Path, capsys) -> None:
    before = snapshot(data)
    trash = tmp_path / "trash"
    assert run_dups(data, trash) == 0
    path, manifest = manifest_of(trash)
    moved = [m for m in manifest["moves"] if m["status"] == "moved"]
    assert len(moved) == N_DROPPED == len(manifest["moves"])
    # One file of each planted group stays; relative paths are kept under the source's name.
    names = {Path(m["from"]).name for m in moved}
    assert len(names & {"scene_02.jpg", "scene_02_copy.jpg"}) == 1
    assert len(names & {"export.png", "export.webp"}) == 1
    assert len(names & {"scene_01.jpg", "scene_01_small.jpg"}) == 1
    assert len(names & {"scene_03.jpg", "leaked_scene_03.jpg"}) == 1
    assert len(names & {"blurred.jpg", "dark.jpg", "grayscale.jpg", "noisy.jpg"}) == 3
    for m in moved:
        assert m["to"] == str(trash / "images" / Path(m["from"]).relative_to(data))
    assert_nothing_lost(before, manifest)
    assert "undo with: imgstats undo" in capsys.readouterr().err

    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before  # same paths, same bytes
    assert not [p for p in trash.rglob("*") if p.is_file() and p != path]
    assert "moved 7 files back" in capsys.readouterr().err
    assert main(["undo", str(path)]) == 1
    assert "undone already" in capsys.readouterr().err
    assert snapshot(data) == before


@pytest.mark.parametrize("how", ["under-a-file", "manifest-write-denied"])
def test_destination_not_writable_moves_nothing(
    data: Path, tmp_path: Path, monkeypatch, capsys, how: str
) -> None:
    before = snapshot(data)
    if how == "under-a-file":
        # A regular file where a folder must be: mkdir fails even for root.
        (tmp_path / "afile").write_text("x")
        trash = tmp_path / "afile" / "trash"
    else:
        trash = tmp_path / "trash"

        def denied(path: Path, data: dict) -> None:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))

        monkeypatch.setattr(moves, "_write_json", denied)
    assert run_dups(data, trash) == 1
    err = capsys.readouterr().err
    assert f"cannot write to {trash}" in err and "nothing was moved" in err
    assert snapshot(data) == before


def test_name_collision_in_destination_moves_nothing(data: Path, tmp_path: Path, capsys) -> None:
    trash = tmp_path / "trash"
    # Find where the copies would go, then put a different file at one of those names.
    assert main(["dups", str(data), "-o", str(tmp_path / "drop.txt")]) == 0
    first = Path(sorted((tmp_path / "drop.txt").read_text().split())[0])
    squatter = trash / "images" / first.relative_to(data)
    squatter.parent.mkdir(parents=True)
    squatter.write_bytes(b"someone else's file")
    before = snapshot(data)
    assert run_dups(data, trash) == 1
    err = capsys.readouterr().err
    assert "refusing to overwrite: 1 destination paths exist already" in err
    assert str(squatter) in err and "nothing was moved" in err
    assert snapshot(data) == before
    assert squatter.read_bytes() == b"someone else's file"
    assert not list(trash.glob("imgstats-manifest-*.json"))


def test_name_taken_during_the_move_stops_there(
    data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """A destination that appears after the check (another process): that file stays, the
    move stops, the squatter is untouched, and undo restores what had moved."""
    before = snapshot(data)
    trash = tmp_path / "trash"
    real = moves.move_one
    calls = []

    def racing(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 3:
            dst.parent.mkdir(parents=True, exist_ok=True)
            dst.write_bytes(b"squatter")
        real(src, dst)

    monkeypatch.setattr(moves, "move_one", racing)
    assert run_dups(data, trash) == 1
    assert "error: stopped at" in capsys.readouterr().err
    path, manifest = manifest_of(trash)
    assert [m["status"] for m in manifest["moves"]] == ["moved"] * 2 + ["failed"] + [
        "not tried"
    ] * 4
    third = manifest["moves"][2]
    assert "exists" in third["error"] and Path(third["to"]).read_bytes() == b"squatter"
    assert_nothing_lost(before, manifest)
    monkeypatch.setattr(moves, "move_one", real)
    # The squatter sits at a destination, not at an original path: undo is not blocked by it.
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before


def test_source_vanished_between_scan_and_move(
    data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    before = snapshot(data)
    trash = tmp_path / "trash"
    real = dups_cmd.drop_list
    deleted: list[str] = []

    def drop_then_delete_one(*a, **k):
        drop = real(*a, **k)
        os.unlink(drop[1])  # someone deletes a file after the scan
        deleted.append(drop[1])
        return drop

    monkeypatch.setattr(dups_cmd, "drop_list", drop_then_delete_one)
    assert run_dups(data, trash) == 0
    assert "1 files vanished since the scan and were skipped" in capsys.readouterr().err
    path, manifest = manifest_of(trash)
    status = {m["from"]: m["status"] for m in manifest["moves"]}
    assert status.pop(os.path.abspath(deleted[0])) == "vanished"
    assert list(status.values()) == ["moved"] * (N_DROPPED - 1)
    del before[deleted[0]]
    assert_nothing_lost(before, manifest)
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before


def test_failure_half_way_loses_nothing_and_undo_restores(
    data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    before = snapshot(data)
    trash = tmp_path / "trash"
    real_link = os.link
    calls = []

    def full_disk_on_third(src, dst, **kw):
        calls.append(src)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_link(src, dst, **kw)

    monkeypatch.setattr(moves.os, "link", full_disk_on_third)
    assert run_dups(data, trash) == 1
    err = capsys.readouterr().err
    assert "error: stopped at" in err and "No space left on device" in err
    assert "4 files not tried" in err
    path, manifest = manifest_of(trash)
    statuses = [m["status"] for m in manifest["moves"]]
    assert statuses == ["moved", "moved", "failed", *["not tried"] * 4]
    assert_nothing_lost(before, manifest)
    monkeypatch.setattr(moves.os, "link", real_link)
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before
    assert main(["undo", str(path)]) == 1
    assert "undone already" in capsys.readouterr().err


def test_killed_half_way_the_planned_manifest_still_undoes(
    data: Path, tmp_path: Path, monkeypatch
) -> None:
    """The manifest lists every planned move before the first one; after Ctrl-C the entries not
    reached stay "planned", and undo finds what moved by looking at both paths."""
    before = snapshot(data)
    trash = tmp_path / "trash"
    real = moves.move_one
    calls = []

    def killed_on_fourth(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 4:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(moves, "move_one", killed_on_fourth)
    assert run_dups(data, trash) == 130  # the CLI's "interrupted"
    path, manifest = manifest_of(trash)
    assert [m["status"] for m in manifest["moves"]] == ["moved"] * 3 + ["planned"] * 4
    assert sum(not os.path.exists(m["from"]) for m in manifest["moves"]) == 3
    for m in manifest["moves"]:
        if not os.path.exists(m["from"]):
            assert sha(Path(m["to"])) == before[m["from"]]
    monkeypatch.setattr(moves, "move_one", real)
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before


def test_killed_between_link_and_unlink(data: Path, tmp_path: Path) -> None:
    """A kill after the hard link and before the unlink leaves one file under two names, and a
    manifest that still says "planned": undo drops the second name and keeps the file."""
    before = snapshot(data)
    src = data / "train" / "scene_02.jpg"
    trash = tmp_path / "trash"
    manifest = trash / "imgstats-manifest-x.json"
    dst = trash / "images" / "train" / "scene_02.jpg"
    dst.parent.mkdir(parents=True)
    os.link(src, dst)
    entry = {"from": str(src), "to": str(dst), "status": "planned"}
    manifest.write_text(json.dumps({"version": 2, "moves": [entry]}))
    assert main(["undo", str(manifest)]) == 0
    assert not dst.exists() and snapshot(data) == before


def test_across_file_systems_copy_is_verified_and_a_torn_copy_is_removed(
    data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    """With no hard link possible (EXDEV) files are copied, synced, renamed into place and only
    then removed; a copy that dies half-way leaves no partial file and the original intact."""
    before = snapshot(data)

    def no_links(src, dst, **kw):
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(moves.os, "link", no_links)
    real_copy = shutil.copyfileobj
    copies = []

    def torn_second_copy(fin, fout, length=0):
        copies.append(fin.name)
        if len(copies) == 2:
            fout.write(fin.read(100))
            raise OSError(errno.EIO, "Input/output error")
        return real_copy(fin, fout, length)

    monkeypatch.setattr(moves.shutil, "copyfileobj", torn_second_copy)
    trash = tmp_path / "trash"
    assert run_dups(data, trash) == 1
    assert "Input/output error" in capsys.readouterr().err
    path, manifest = manifest_of(trash)
    assert [m["status"] for m in manifest["moves"][:3]] == ["moved", "failed", "not tried"]
    assert not list(trash.rglob("*.imgstats-partial")) and not list(trash.rglob(".*partial"))
    assert not os.path.exists(manifest["moves"][1]["to"])
    assert_nothing_lost(before, manifest)
    monkeypatch.setattr(moves.shutil, "copyfileobj", real_copy)
    assert main(["undo", str(path)]) == 0  # undo copies back across the "file systems" too
    assert snapshot(data) == before


def test_undo_refuses_while_an_original_path_is_taken(data: Path, tmp_path: Path, capsys) -> None:
    before = snapshot(data)
    trash = tmp_path / "trash"
    assert run_dups(data, trash) == 0
    path, manifest = manifest_of(trash)
    taken = Path(manifest["moves"][0]["from"])
    taken.write_bytes(b"a new file with the old name")
    assert main(["undo", str(path)]) == 1
    err = capsys.readouterr().err
    assert "refusing to undo: 1 original paths exist again" in err and str(taken) in err
    assert taken.read_bytes() == b"a new file with the old name"
    assert all(os.path.exists(m["to"]) for m in manifest["moves"])  # nothing moved back
    taken.unlink()
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before


def test_undo_failing_half_way_can_be_run_again(
    data: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    before = snapshot(data)
    trash = tmp_path / "trash"
    assert run_dups(data, trash) == 0
    path, _ = manifest_of(trash)
    real_link = os.link
    calls = []

    def denied_on_third(src, dst, **kw):
        calls.append(src)
        if len(calls) == 3:
            raise PermissionError(errno.EACCES, "Permission denied", str(dst))
        return real_link(src, dst, **kw)

    monkeypatch.setattr(moves.os, "link", denied_on_third)
    assert main(["undo", str(path)]) == 1
    err = capsys.readouterr().err
    assert "moved 2 of 7 files back" in err and "run undo again" in err
    _, manifest = manifest_of(trash)
    assert_nothing_lost(before, manifest)
    monkeypatch.setattr(moves.os, "link", real_link)
    assert main(["undo", str(path)]) == 0
    assert snapshot(data) == before
    assert main(["undo", str(path)]) == 1


def test_two_sources_with_the_same_folder_name_do_not_collide(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "imgs", tmp_path / "b" / "imgs"
    for d in (a, b):
        d.mkdir(parents=True)
        (d / "x.jpg").write_bytes(b"jpeg bytes of " + str(d).encode())
    before = snapshot(tmp_path)
    res = moves.move_files(
        [str(a / "x.jpg"), str(b / "x.jpg")], [str(a), str(b)], tmp_path / "trash"
    )
    assert [Path(m).name for m in res.moved] == ["x.jpg", "x.jpg"]
    assert sorted(
        p.relative_to(tmp_path / "trash").as_posix() for p in (tmp_path / "trash").rglob("*.jpg")
    ) == [
        "imgs-2/x.jpg",
        "imgs/x.jpg",
    ]
    assert moves.undo(res.manifest) == 2
    assert {k: v for k, v in snapshot(tmp_path).items() if "trash" not in k} == before
