"""The drift section: `imgstats.drift` from a reference scan (or the train split) to this
dataset (or each other split), as tables of flagged statistics, axes and buckets."""

from __future__ import annotations

import polars as pl

from imgstats.drift import drift
from imgstats.report.html import esc, note, section, table

DRIFT_SAMPLE = 200_000
TRAIN_NAMES = ("train", "training")


def _sample(df: pl.DataFrame, n: int) -> pl.DataFrame:
    return df if df.height <= n else df.sample(n=n, seed=0)


def _drift_table(res: pl.DataFrame) -> str:
    stats = res.filter(pl.col("kind") == "statistic")
    rows, classes = [], []
    for r in stats.iter_rows(named=True):
        rows.append(
            (
                r["column"],
                r["reference_mean"],
                r["current_mean"],
                r["psi"],
                r["ks_statistic"],
                r["ks_pvalue"],
                r["wasserstein_norm"],
                ", ".join(r["reasons"]) or "–",
            )
        )
        classes.append("flag" if r["flag"] else "")
    head = ["statistic", "ref mean", "cur mean", "PSI", "KS D", "KS p", "W₁/IQR", "flag"]
    out = table(head, rows, numeric=[False] + [True] * 6 + [False], row_class=classes)
    buckets = res.filter((pl.col("kind") == "bucket") & pl.col("flag"))
    axes = res.filter(pl.col("kind") == "axis")
    if axes.height:
        arows = [
            (r["column"], r["psi"], "yes" if r["flag"] else "–") for r in axes.iter_rows(named=True)
        ]
        out += "<h3>Bucket axes (PSI over bucket shares)</h3>" + table(
            ["axis", "PSI", "flag"],
            arows,
            numeric=[False, True, False],
            row_class=["flag" if r["flag"] else "" for r in axes.iter_rows(named=True)],
        )
    if buckets.height:
        brows = [
            (
                r["column"],
                r["bucket"],
                f"{r['reference_share']:.1%}",
                f"{r['current_share']:.1%}",
                f"{r['share_shift'] * 100:+.1f} pts",
            )
            for r in buckets.iter_rows(named=True)
        ]
        out += "<h3>Buckets whose share moved</h3>" + table(
            ["axis", "bucket", "reference", "current", "shift"],
            brows,
            numeric=[False, False, True, True, True],
        )
    return out


def drift_section(
    df: pl.DataFrame, split: str | None, reference: pl.DataFrame | None, sample: int
) -> str | None:
    comparisons: list[tuple[str, pl.DataFrame, pl.DataFrame]] = []
    if reference is not None:
        comparisons.append(("reference → this dataset", reference, df))
    elif split:
        names = df.get_column(split).cast(pl.Utf8)
        values = [v for v in names.unique().sort().to_list() if v is not None]
        train = next((v for v in values if v.lower() in TRAIN_NAMES), None)
        if train is None or len(values) < 2:
            return None
        ref = df.filter(names == train)
        for v in values:
            if v != train:
                comparisons.append((f"{train} → {v}", ref, df.filter(names == v)))
    else:
        return None
    parts = [
        note(
            "PSI over reference-decile bins (> 0.2), two-sample Kolmogorov–Smirnov D (> 0.1), "
            "Wasserstein-1 in reference IQRs (> 0.25), bucket shares moving by more than 5 "
            "points; a flag also needs the difference to be significant (p < 0.01). "
            "See docs/coverage.md."
        )
    ]
    for title, ref, cur in comparisons:
        sampled = ref.height > sample or cur.height > sample
        res = drift(_sample(ref, sample), _sample(cur, sample))
        flagged = res.filter(pl.col("flag"))
        n_stat = flagged.filter(pl.col("kind") == "statistic").height
        n_bucket = flagged.filter(pl.col("kind") == "bucket").height
        parts.append(
            f"<h3>{esc(title)}: {n_stat} statistics and {n_bucket} bucket shares flagged</h3>"
        )
        if sampled:
            parts.append(note(f"Computed on a random sample of ≤ {sample:,} images per side."))
        parts.append(_drift_table(res))
    return section("drift", "Drift", "".join(parts))
