"""The scan's progress: a line on stderr (rate, ETA) or a user callback ``(done, total)``.

The Rust core reports how many files of the current batch are done; `scan` adds the batch's
offset and calls the reporter made here. Drawing is throttled to five lines a second, so a scan
of small files does not spend its time writing to the terminal.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, Protocol, Union

#: ``True`` draws a progress line on stderr; a callable gets ``(done, total)``.
ProgressArg = Union[bool, Callable[[int, int], None]]


class Reporter(Protocol):
    """Told the number of files done; ``final=True`` once at the end (always drawn)."""

    def __call__(self, done: int, total: int | None, /, final: bool = False) -> None: ...


def progress_reporter(progress: ProgressArg, total: int) -> Reporter | None:
    """A reporter for a scan of `total` inputs, or ``None`` when nothing is to be reported."""
    if callable(progress):
        user = progress

        def call_user(done: int, _total: int | None, final: bool = False) -> None:
            user(done, total)

        return call_user
    if not progress:
        return None
    start = time.monotonic()
    last = [0.0]

    def draw(done: int, _total: int | None, final: bool = False) -> None:
        now = time.monotonic()
        if not final and now - last[0] < 0.2:
            return
        last[0] = now
        elapsed = max(now - start, 1e-9)
        rate = done / elapsed
        eta = (total - done) / rate if rate > 0 else float("inf")
        width = 24
        filled = int(width * done / total) if total else width
        line = (
            f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} files "
            f"{rate:,.0f} files/s "
            + (f"ETA {_fmt_time(eta)}" if not final else f"in {_fmt_time(elapsed)}")
        )
        sys.stderr.write(line + ("\n" if final else ""))
        sys.stderr.flush()

    return draw


def _fmt_time(seconds: float) -> str:
    if seconds == float("inf"):
        return "--"
    seconds = int(seconds)
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")
