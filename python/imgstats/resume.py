"""Resumable output: a scan writes its results as Parquet *parts* in a work directory next to the
output, each part made visible atomically (temp file + ``os.replace``) and then recorded in a
manifest. A scan killed at any moment (even ``kill -9``) leaves only complete parts behind; the
next run with the same settings reads them back as already-measured rows and decodes only what
no finished part holds. The work directory is removed once the output itself has been replaced.

Layout, for ``stats.parquet``::

    .stats.parquet.parts/
        manifest.json        {"settings": {...}, "parts": [{"file": ..., "rows": 5000}, ...]}
        part-000000.parquet  one batch of scan rows (with mtime_ns), complete or absent
        .lock                held (flock) by the running scan: two scans never share a directory

Why a manifest and not just the files: a part is trusted only when it is listed with its row
count *and* the manifest was written by a scan with the same settings (metrics, options, metric
definitions); anything else in the directory is a leftover and is deleted.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

MANIFEST = "manifest.json"


def work_dir_for(output: Path) -> Path:
    """The hidden parts directory of `output` (same file system, so renames are atomic)."""
    return output.parent / f".{output.name}.parts"


def write_atomically(
    frame: pl.DataFrame, path: Path, metadata: Mapping[str, str] | None = None
) -> None:
    """Write `frame` to `path` so that readers (and a later run after a crash) see either the
    old file or the complete new one, never a torn file."""
    tmp = path.with_name(path.name + ".tmp")
    frame.write_parquet(tmp, metadata=dict(metadata) if metadata else None)
    _fsync(tmp)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    # A rename is durable only once its directory entry is: without this a power cut (not just a
    # kill) could lose a part the manifest already lists.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ScanInProgressError(RuntimeError):
    """Another process is writing the same output right now."""


class PartStore:
    """The finished parts of one (possibly interrupted) scan into one output.

    Open it with the settings of the current scan: parts written under other settings are
    discarded, never mixed in. Use as a context manager; it holds an exclusive lock meanwhile.
    """

    def __init__(self, output: Path, settings: Mapping[str, Any]) -> None:
        self.dir = work_dir_for(output)
        self.settings = dict(settings)
        self.parts: list[dict[str, Any]] = []
        self._lock_fd: int | None = None

    def __enter__(self) -> PartStore:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            # Released by the kernel when the process dies, so a kill -9 never leaves it stuck.
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            self._lock_fd = None
            raise ScanInProgressError(
                f"another imgstats scan is writing {self.dir.parent} (lock {self.dir / '.lock'})"
            ) from None
        self._load()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def _load(self) -> None:
        manifest = self._read_manifest()
        if manifest is None or manifest.get("settings") != self.settings:
            self.parts = []  # other settings (or none): start over
        else:
            self.parts = [p for p in manifest.get("parts", []) if self._complete(p)]
        keep = {p["file"] for p in self.parts} | {MANIFEST, ".lock"}
        for entry in self.dir.iterdir():
            if entry.name not in keep:
                entry.unlink()  # torn temp files, parts never recorded, parts of other settings
        self._write_manifest()

    def _read_manifest(self) -> dict[str, Any] | None:
        try:
            data = json.loads((self.dir / MANIFEST).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _complete(self, part: Any) -> bool:
        try:
            path = self.dir / part["file"]
            return bool(pl.scan_parquet(path).select(pl.len()).collect().item() == part["rows"])
        except Exception:  # missing, unreadable or malformed entry: the batch is redone
            return False

    def _write_manifest(self) -> None:
        tmp = self.dir / (MANIFEST + ".tmp")
        tmp.write_text(json.dumps({"settings": self.settings, "parts": self.parts}))
        _fsync(tmp)
        os.replace(tmp, self.dir / MANIFEST)
        _fsync_dir(self.dir)

    def add(self, frame: pl.DataFrame) -> None:
        """Persist one finished batch: first the part (atomically), then its manifest entry."""
        index = max((int(p["file"][5:11]) for p in self.parts), default=-1) + 1
        name = f"part-{index:06d}.parquet"
        write_atomically(frame, self.dir / name)
        self.parts.append({"file": name, "rows": frame.height})
        self._write_manifest()

    def rows(self) -> pl.LazyFrame | None:
        """Every row of the finished parts, lazily (None when there are none)."""
        if not self.parts:
            return None
        return pl.scan_parquet([str(self.dir / p["file"]) for p in self.parts])

    def remove(self) -> None:
        """Delete the work directory: call only once the output holds every row."""
        shutil.rmtree(self.dir, ignore_errors=True)
