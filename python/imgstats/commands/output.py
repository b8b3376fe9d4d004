"""Writing a result table in the format its file name asks for (dups, leakage)."""

from __future__ import annotations

from pathlib import Path

import polars as pl


def write_table(df: pl.DataFrame, path: str) -> None:
    """``.parquet``, ``.ndjson`` / ``.jsonl``, anything else as CSV."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        df.write_parquet(path)
    elif suffix in (".ndjson", ".jsonl"):
        df.write_ndjson(path)
    else:
        df.write_csv(path)
