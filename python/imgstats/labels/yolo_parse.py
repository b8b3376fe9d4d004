"""Parse YOLO label text (``class cx cy w h`` or ``class x1 y1 x2 y2 ...`` per line) in bulk.

All files of a dataset go through polars string expressions at once -- split into lines, into
tokens, cast with ``strict=False`` so a garbage token becomes null instead of an exception -- so a
million lines cost well under a second and no Python code runs per line. A bad line becomes a
``parse_error`` problem with its file and 1-based line number; the other lines of the file are
still read.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import polars as pl

#: Files per reading task: big enough that the pool's per-task cost vanishes.
_READ_CHUNK = 2048


def _read_chunk(paths: Sequence[str]) -> list[str | None]:
    out: list[str | None] = []
    for p in paths:
        try:
            with open(p, "rb") as f:
                out.append(f.read().decode("utf-8", "replace"))
        except OSError:
            out.append(None)
    return out


def read_texts(paths: Sequence[str], threads: int | None = None) -> list[str | None]:
    """The text of every file (``None`` where it cannot be opened), read by a thread pool.

    Opening and reading release the GIL, so a few threads overlap the system calls.
    """
    if len(paths) <= _READ_CHUNK:
        return _read_chunk(paths)
    chunks = [paths[i : i + _READ_CHUNK] for i in range(0, len(paths), _READ_CHUNK)]
    workers = threads or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return [t for part in pool.map(_read_chunk, chunks) for t in part]


def parse_lines(texts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse label text into rows and errors.

    Args:
        texts: one row per label file: ``file`` (UInt32 key) and ``text`` (Utf8).

    Returns:
        ``(rows, errors)``. ``rows``: one row per well-formed line: ``file``, ``line`` (1-based),
        ``class_id`` (Int64), ``x0, y0, x1, y1`` (normalised corners, as written: not clipped),
        ``is_polygon`` and ``raw_max`` / ``raw_min`` (the extreme coordinate value, to tell
        pixel coordinates from normalised ones). ``errors``: ``file``, ``line``, ``detail``.
    """
    lines = (
        texts.lazy()
        .with_columns(pl.col("text").str.split("\n"))
        .explode("text")
        .with_columns(pl.int_range(1, pl.len() + 1, dtype=pl.Int64).over("file").alias("line"))
        # Any run of blanks (spaces, tabs, a trailing \r) separates tokens.
        .with_columns(pl.col("text").str.replace_all(r"\s+", " ").str.strip_chars(" "))
        .filter(pl.col("text").is_not_null() & (pl.col("text") != ""))
        .with_columns(pl.col("text").str.split(" ").alias("tokens"))
        .with_columns(
            pl.col("tokens").list.len().alias("n"),
            pl.col("tokens").list.eval(pl.element().cast(pl.Float64, strict=False)).alias("values"),
        )
        .with_columns(
            # The first token that is not a finite number (index), or null when all are.
            pl.col("values")
            .list.eval(pl.arg_where(pl.element().is_null() | ~pl.element().is_finite()).first())
            .list.first()
            .alias("bad_at"),
            pl.col("values").list.first().alias("cls"),
            pl.col("values").list.slice(1).alias("coords"),
        )
        .with_columns(
            (pl.col("n") == 5).alias("is_box"),
            ((pl.col("n") >= 7) & ((pl.col("n") - 1) % 2 == 0)).alias("is_polygon"),
        )
        .with_columns(
            pl.when(pl.col("bad_at").is_not_null())
            .then(
                pl.format(
                    "not a number: '{}' (value {} of {})",
                    pl.col("tokens").list.get(pl.col("bad_at"), null_on_oob=True),
                    pl.col("bad_at") + 1,
                    pl.col("n"),
                )
            )
            .when(~(pl.col("is_box") | pl.col("is_polygon")))
            .then(
                pl.format(
                    "{} values: expected 5 (class cx cy w h) or a polygon "
                    "(class x1 y1 x2 y2 x3 y3 ...)",
                    pl.col("n"),
                )
            )
            .when((pl.col("cls") < 0) | (pl.col("cls") != pl.col("cls").floor()))
            .then(pl.format("class id {} is not a non-negative integer", pl.col("cls")))
            .otherwise(None)
            .alias("detail")
        )
    ).collect()
    errors = lines.filter(pl.col("detail").is_not_null()).select("file", "line", "detail")
    ok = lines.filter(pl.col("detail").is_null())
    coords = pl.col("coords")
    xs = coords.list.gather_every(2)
    ys = coords.list.gather_every(2, offset=1)
    cx, cy = coords.list.get(0, null_on_oob=True), coords.list.get(1, null_on_oob=True)
    w, h = coords.list.get(2, null_on_oob=True), coords.list.get(3, null_on_oob=True)
    poly = pl.col("is_polygon")
    rows = ok.select(
        "file",
        "line",
        pl.col("cls").cast(pl.Int64).alias("class_id"),
        pl.when(poly).then(xs.list.min()).otherwise(cx - w / 2).alias("x0"),
        pl.when(poly).then(ys.list.min()).otherwise(cy - h / 2).alias("y0"),
        pl.when(poly).then(xs.list.max()).otherwise(cx + w / 2).alias("x1"),
        pl.when(poly).then(ys.list.max()).otherwise(cy + h / 2).alias("y1"),
        "is_polygon",
        coords.list.max().alias("raw_max"),
        coords.list.min().alias("raw_min"),
    )
    return rows, errors
