"""Moving files out of a dataset without ever losing one, and moving them back.

`move_files` is what `imgstats dups --move-to` runs; `undo` is `imgstats undo MANIFEST`. The
guarantees, each tested with injected failures in ``tests/test_file_moves.py``:

- Nothing is overwritten: a destination that exists (or appears meanwhile) stops the file, and
  collisions found before the first move stop the whole command with nothing moved.
- The manifest is written (and synced) *before* the first move, listing every planned move, then
  rewritten with each file's outcome. Whatever stops the command half-way (an error, a full disk,
  a kill), every file is byte-identical either at its original path or at the destination the
  manifest names, and `undo` can tell which by looking.
- A single file moves by hard link + unlink (atomic, and it fails instead of replacing an existing
  name); across file systems by a copy to a temporary name that is synced, renamed into place and
  only then is the original removed.
- `undo` moves back only what is at its destination, refuses when an original path is occupied
  again, and marks the manifest as undone so a second `undo` refuses with a clear message.
"""

from __future__ import annotations

import datetime as dt
import errno
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Version 2 records each move's ``status``; version 1 manifests (every entry moved) still undo.
MANIFEST_VERSION = 2
MOVED, PLANNED, VANISHED, FAILED, NOT_TRIED = "moved", "planned", "vanished", "failed", "not tried"


class MoveError(Exception):
    """A move or undo that cannot start, or stopped: the message says what to do."""


@dataclass
class MoveResult:
    """What `move_files` did: the manifest path and the paths by outcome."""

    manifest: Path
    moved: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    not_tried: list[str] = field(default_factory=list)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    """Replace `path` atomically and durably: a crash leaves the old or the new manifest."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def move_one(src: Path, dst: Path) -> None:
    """Move one file without ever replacing `dst` and without a moment where neither name holds
    the complete file. Raises `FileExistsError` if `dst` exists, `FileNotFoundError` if `src`
    is gone; on any error the file is still complete at `src`."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Fails with EEXIST instead of replacing; a symlink moves as the link it is.
        os.link(src, dst, follow_symlinks=False)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EOPNOTSUPP, errno.EMLINK):
            raise
        _copy_into_place(src, dst)
    try:
        os.unlink(src)
    except OSError:
        # The original stays; drop the second name so the file is in exactly one place.
        os.unlink(dst)
        raise


def _copy_into_place(src: Path, dst: Path) -> None:
    """Other file system (or no hard links): copy to a temporary name next to `dst`, sync,
    check the size, then rename into place unless `dst` appeared meanwhile."""
    tmp = dst.with_name(f".{dst.name}.imgstats-partial")
    try:
        with open(src, "rb") as fin, open(tmp, "xb") as fout:
            shutil.copyfileobj(fin, fout, 1 << 20)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, tmp)
        if tmp.stat().st_size != src.stat().st_size:
            raise OSError(errno.EIO, f"copy of {src} is incomplete")
        if os.path.lexists(dst):
            raise FileExistsError(errno.EEXIST, "destination exists", str(dst))
        os.rename(tmp, dst)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def _destinations(files: list[str], sources: list[str], target: Path) -> list[Path]:
    """Each file's path relative to the scanned folder it came from, under a folder named like
    that source (``name``, ``name-2`` when two sources share a name), so two copies named the
    same in different folders never map to one destination."""
    roots: list[tuple[Path, str]] = []
    used: set[str] = set()
    for s in sources:
        if not Path(s).is_dir():
            continue
        root = Path(os.path.abspath(s))
        label, n = root.name or "root", 1
        while label in used:
            n += 1
            label = f"{root.name or 'root'}-{n}"
        used.add(label)
        roots.append((root, label))
    out = []
    for f in files:
        p = Path(os.path.abspath(f))
        for root, label in roots:
            if p.is_relative_to(root):
                out.append(target / label / p.relative_to(root))
                break
        else:
            out.append(target / p.relative_to(p.anchor))
    return out


def move_files(
    files: list[str], sources: list[str], target: Path, tool: str = "imgstats dups"
) -> MoveResult:
    """Move `files` (found under `sources`) into `target`, keeping their relative paths, and
    write ``target/imgstats-manifest-*.json``. Raises `MoveError` before moving anything when
    the target is not writable or a destination exists; stops at the first other error (the
    result says which files moved, and the manifest records them for `undo`)."""
    dsts = _destinations(files, sources, target)
    dup = [d for d, n in Counter(dsts).items() if n > 1]
    if dup:
        raise MoveError(f"two files would move to {dup[0]}; nothing was moved")
    taken = [str(d) for d in dsts if os.path.lexists(d)]
    if taken:
        raise MoveError(
            f"refusing to overwrite: {len(taken)} destination paths exist already, e.g. "
            f"{taken[0]}; nothing was moved (choose an empty folder)"
        )
    try:
        target.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        manifest = target / f"imgstats-manifest-{stamp}-{os.getpid()}.json"
        # Absolute paths: undo must find the originals from any working directory.
        moves = [
            {"from": os.path.abspath(f), "to": os.path.abspath(d), "status": PLANNED}
            for f, d in zip(files, dsts)
        ]
        data = {"version": MANIFEST_VERSION, "tool": tool, "created": _now(), "moves": moves}
        _write_json(manifest, data)
        _fsync_dir(target)
    except OSError as e:
        raise MoveError(f"cannot write to {target}: {e.strerror or e}; nothing was moved") from e

    result = MoveResult(manifest)
    try:
        _move_all(moves, result)
    finally:
        # Also on Ctrl-C: the file being moved keeps "planned", which undo resolves by looking.
        data["finished"] = _now()
        try:
            _write_json(manifest, data)
        except OSError as e:
            raise MoveError(
                f"moved {len(result.moved)} files but could not update {manifest} "
                f"({e.strerror}); it still lists every planned move, and undo moves back "
                "whatever was moved"
            ) from e
    return result


def _move_all(moves: list[dict[str, str]], result: MoveResult) -> None:
    """Move in order, recording each outcome in its manifest entry; stop at the first error
    that is not a vanished source (a full disk or a permission problem would repeat)."""
    for i, m in enumerate(moves):
        try:
            move_one(Path(m["from"]), Path(m["to"]))
        except OSError as e:
            if isinstance(e, FileNotFoundError) and not os.path.lexists(m["from"]):
                m["status"] = VANISHED
                result.vanished.append(m["from"])
                continue
            where = f": {e.filename}" if e.filename else ""
            m["status"], m["error"] = FAILED, f"{e.strerror or e}{where}"
            result.failed.append((m["from"], m["error"]))
            for rest in moves[i + 1 :]:
                rest["status"] = NOT_TRIED
                result.not_tried.append(rest["from"])
            return
        m["status"] = MOVED
        result.moved.append(m["from"])


def _same_file(a: str, b: str) -> bool:
    sa, sb = os.lstat(a), os.lstat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def undo(manifest: Path) -> int:
    """Move back every file the manifest records as moved; returns how many moved back.
    Raises `MoveError` (nothing moved) when the manifest was undone already, when an original
    path is occupied again, or when a moved file is gone; stops at the first other error and
    can be run again to finish."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise MoveError(f"cannot read manifest {manifest}: {e}") from e
    version = data.get("version")
    if version not in (1, MANIFEST_VERSION):
        raise MoveError(f"unknown manifest version {version!r}")
    if data.get("undone"):
        raise MoveError(
            f"refusing to undo: this manifest was undone already ({data['undone']}); "
            "every file it lists is back in place"
        )
    # Version 1 lists only completed moves. "planned" entries are from a run that was killed
    # half-way: whichever side holds the file tells whether it moved.
    moves = [m for m in data["moves"] if m.get("status", MOVED) in (MOVED, PLANNED)]
    todo, occupied, gone = [], [], []
    for m in moves:
        src_there, dst_there = os.path.lexists(m["from"]), os.path.lexists(m["to"])
        if src_there and dst_there and _same_file(m["from"], m["to"]):
            # Stopped between link and unlink: both names are one file; drop the new name.
            os.unlink(m["to"])
            dst_there = False
        if dst_there and not src_there:
            todo.append(m)
        elif dst_there and src_there:
            occupied.append(m["from"])
        elif not src_there and m.get("status", MOVED) == MOVED:
            gone.append(m["to"])
    if occupied:
        raise MoveError(
            f"refusing to undo: {len(occupied)} original paths exist again, e.g. {occupied[0]} "
            "(nothing was moved; move those files away first)"
        )
    if gone:
        raise MoveError(
            f"refusing to undo: {len(gone)} moved files are gone, e.g. {gone[0]} "
            "(nothing was moved)"
        )
    restored = 0
    for m in todo:
        try:
            move_one(Path(m["to"]), Path(m["from"]))
        except OSError as e:
            raise MoveError(
                f"moved {restored} of {len(todo)} files back, then failed on {m['to']}: "
                f"{e.strerror or e}; fix that and run undo again to move the rest"
            ) from e
        restored += 1
    data["undone"] = _now()
    _write_json(manifest, data)
    return restored
