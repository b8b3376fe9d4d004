"""`results` + `slices` on a real `imgstats.labels` dataset: the object axes the labels derive
(object_size, occlusion, ...) reach the slices, so a model blind to small objects is found there."""

from __future__ import annotations

from pathlib import Path

import imgstats
import polars as pl

DETECTION = Path(__file__).resolve().parents[1] / "examples" / "detection" / "data.yaml"


def test_a_model_blind_to_small_objects_is_flagged_on_object_size() -> None:
    lab = imgstats.labels(str(DETECTION))
    objects = lab.objects()
    # Predictions: every labelled box except the small ones, at one confidence.
    dets = (
        objects.filter(pl.col("object_size") != "small")
        .select("path", "class_id", "x0", "y0", "x1", "y1")
        .with_columns(score=pl.lit(0.9))
    )
    res = imgstats.results(dets, labels=lab)
    assert "object_size" in res.objects.columns
    sl = imgstats.slices(imgstats.scan(lab), res, metric="recall", min_size=5, pairs=False)
    single = sl.table.filter(pl.col("axis") == "object_size").sort("bucket")
    small = single.filter(pl.col("bucket") == "small").row(0, named=True)
    n_small = objects.filter(pl.col("object_size") == "small").height
    assert small["n"] == n_small and small["metric"] == 0.0 and small["flagged"]
    others = single.filter(pl.col("bucket") != "small")
    assert (others["metric"] == 1.0).all() and not others["flagged"].any()
    primary = sl.table.filter(pl.col("primary"))
    assert ("object_size", "small") in set(zip(primary["axis"], primary["bucket"]))
