"""`results`: a model's predictions scored against the labels, one row per object, prediction
and image, ready for `imgstats.slices`.

Inputs:

- a folder of YOLO prediction files (Ultralytics ``predict save_txt=True save_conf=True``): one
  ``<stem>.txt`` per image, one ``class cx cy w h conf`` line per box, normalised to the image
  size. Segment / OBB rows (``class x1 y1 ... xn yn conf``) are scored by their bounding box. A
  missing file means "no detections" (Ultralytics writes none for an empty image).
- a COCO results JSON (a list of ``{image_id, category_id, bbox: [x, y, w, h], score}``).
- a frame of detections (``path``, ``class_id``, ``x0, y0, x1, y1`` in pixels, ``score``).
- a classification frame (or CSV / Parquet file): ``path`` plus per-image columns such as
  ``correct`` (bool), ``loss`` or ``score`` from the user's own evaluation.

Detections are matched with `imgstats.matching.match_boxes` (COCO's greedy, class-aware rule).
Nothing is dropped silently: unreadable lines, boxes without area, files without an image and
predictions on unlabelled images each become a row of ``problems``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Literal, Union

import polars as pl

from imgstats.matching import BOX_COLUMNS, match_boxes

#: Label statuses whose ground truth is known (an empty label file is a known "no objects").
SCORED_STATUSES = ("labelled", "background")
#: Optional per-object flags of the Labels contract, carried into ``objects``.
FLAG_COLUMNS = ("occluded", "truncated", "difficult", "iscrowd")
PROBLEM_SCHEMA = {"source": pl.Utf8, "line": pl.Int64, "path": pl.Utf8, "problem": pl.Utf8}
TABLE_SUFFIXES = (".csv", ".parquet", ".ndjson", ".jsonl")

PredsArg = Union[str, "os.PathLike[str]", pl.DataFrame, pl.LazyFrame]


@dataclass
class Results:
    """Scored predictions.

    Attributes:
        kind: ``"detection"`` or ``"classification"``.
        images: one row per scored image. Detection: ``path``, ``split``, ``n_objects``,
            ``n_matched``, ``n_missed``, ``n_predictions``, ``n_tp``, ``n_fp``, ``recall``
            (null without objects), ``precision`` (null without predictions). Classification: the
            given frame (``correct`` cast to bool).
        objects: detection only; one row per ground-truth box (the Labels ``boxes`` columns) plus
            ``matched`` (bool), ``iou`` and ``score`` of the matching prediction, and ``ignored``
            (crowd / difficult boxes: never counted as misses).
        predictions: detection only; ``path``, ``class_id``, ``class``, ``x0..y1``, ``score``,
            ``status`` (``tp`` / ``fp`` / ``ignored``), ``iou`` and ``object`` (row of the matched
            ground truth in ``objects``, null when none).
        problems: ``source`` (file), ``line``, ``path`` (image), ``problem``: every input that
            could not be scored, with the reason.
    """

    kind: Literal["detection", "classification"]
    images: pl.DataFrame
    objects: pl.DataFrame | None = None
    predictions: pl.DataFrame | None = None
    problems: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=PROBLEM_SCHEMA))
    iou: float | None = None
    conf: float | None = None
    names: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Headline numbers: images, objects, predictions, recall, precision (or accuracy)."""
        out: dict[str, Any] = {"kind": self.kind, "images": self.images.height}
        if self.kind == "detection" and self.objects is not None and self.predictions is not None:
            obj = self.objects.filter(~pl.col("ignored"))
            pred = self.predictions.filter(pl.col("status") != "ignored")
            tp = int((pred["status"] == "tp").sum())
            out.update(
                objects=obj.height,
                matched=int(obj["matched"].sum()),
                predictions=pred.height,
                tp=tp,
                fp=pred.height - tp,
                recall=int(obj["matched"].sum()) / obj.height if obj.height else None,
                precision=tp / pred.height if pred.height else None,
                iou=self.iou,
                conf=self.conf,
            )
        elif "correct" in self.images.columns:
            out["accuracy"] = self.images["correct"].mean()
        out["problems"] = self.problems.height
        return out

    def __repr__(self) -> str:
        parts = [
            f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
            for k, v in self.summary().items()
        ]
        return f"Results({', '.join(parts)})"


# ------------------------------------------------------------------------------ image matching


def _parts(path: str) -> tuple[str, ...]:
    """Path components with the last one's extension removed (``a/b/c.jpg`` -> a, b, c)."""
    p = PurePath(path.replace("\\", "/"))
    return (*p.parts[:-1], p.stem) if p.parts else ()


class ImageIndex:
    """Finds the labelled image a prediction file (or COCO ``file_name``) refers to.

    By stem when it is unique; otherwise the longest match of trailing path components
    (``val/a.txt`` -> ``.../images/val/a.jpg``). Ambiguous and unknown names are reported, never
    guessed.
    """

    def __init__(self, paths: Sequence[str]) -> None:
        self.by_stem: dict[str, list[tuple[str, tuple[str, ...]]]] = defaultdict(list)
        for p in paths:
            parts = _parts(p)
            if parts:
                self.by_stem[parts[-1]].append((p, parts))

    def find(self, name: str) -> tuple[str | None, str | None]:
        """``(path, None)`` or ``(None, reason)`` for a file name relative to its root."""
        parts = _parts(name)
        found = self.by_stem.get(parts[-1] if parts else "", [])
        if len(found) == 1:
            return found[0][0], None
        if not found:
            return None, f"no labelled image with stem {parts[-1] if parts else name!r}"
        best, best_len = [], 0
        for path, cand in found:
            k = 0
            while k < min(len(cand), len(parts)) and cand[-1 - k] == parts[-1 - k]:
                k += 1
            if k > best_len:
                best, best_len = [path], k
            elif k == best_len:
                best.append(path)
        if len(best) == 1 and best_len == len(parts):
            return best[0], None
        return None, f"ambiguous: {len(found)} images share the stem {parts[-1]!r}"


# --------------------------------------------------------------------------------- YOLO reading


def _problems(rows: Sequence[tuple[str, int | None, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=PROBLEM_SCHEMA, orient="row")


def read_yolo(
    directory: str | os.PathLike[str], images: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a folder of YOLO prediction ``.txt`` files into pixel boxes.

    ``images`` needs ``path``, ``width`` and ``height``. Returns ``(detections, problems)``;
    detections have ``path``, ``class_id``, ``x0..y1``, ``score``, ``source`` and ``line``.
    """
    root = Path(directory)
    files = sorted(root.rglob("*.txt"))
    index = ImageIndex(images["path"].to_list())
    problems: list[tuple[str, int | None, str | None, str]] = []
    texts: list[str] = []
    sources: list[str] = []
    targets: list[str] = []
    for f in files:
        rel = f.relative_to(root).as_posix()
        path, why = index.find(rel)
        if path is None:
            problems.append((str(f), None, None, f"prediction file without image: {why}"))
            continue
        try:
            texts.append(f.read_text(encoding="utf-8", errors="replace"))
        except OSError as exc:
            problems.append((str(f), None, path, f"unreadable: {exc}"))
            continue
        sources.append(str(f))
        targets.append(path)
    lines = (
        pl.DataFrame(
            {"source": sources, "path": targets, "text": texts},
            schema={"source": pl.Utf8, "path": pl.Utf8, "text": pl.Utf8},
        )
        .with_columns(pl.col("text").str.split("\n"))
        .with_columns(pl.int_ranges(1, pl.col("text").list.len() + 1).alias("line"))
        .explode("text", "line")
        .with_columns(pl.col("text").str.strip_chars().str.replace_all(r"\s+", " "))
        .filter(pl.col("text") != "")
        .with_columns(pl.col("text").str.split(" ").alias("tok"))
        .with_columns(
            pl.col("tok").list.len().alias("n"),
            pl.col("tok").list.eval(pl.element().cast(pl.Float64, strict=False)).alias("v"),
        )
    )
    n, v = pl.col("n"), pl.col("v")
    polygon = n >= 7
    has_conf = (n == 6) | (polygon & (n % 2 == 0))
    coords = pl.when(has_conf).then(v.list.slice(1, n - 2)).otherwise(v.list.slice(1, n - 1))
    xs, ys = coords.list.gather_every(2, 0), coords.list.gather_every(2, 1)
    cx, cy, w, h = (v.list.get(i, null_on_oob=True) for i in (1, 2, 3, 4))
    cls = v.list.get(0)
    parsed = lines.with_columns(
        pl.when(polygon).then(xs.list.min()).otherwise(cx - w / 2).alias("nx0"),
        pl.when(polygon).then(ys.list.min()).otherwise(cy - h / 2).alias("ny0"),
        pl.when(polygon).then(xs.list.max()).otherwise(cx + w / 2).alias("nx1"),
        pl.when(polygon).then(ys.list.max()).otherwise(cy + h / 2).alias("ny1"),
        pl.when(has_conf).then(v.list.last()).otherwise(None).alias("score"),
        cls.alias("cls"),
        v.list.eval(pl.element().is_null()).list.any().alias("bad_number"),
    )
    reason = (
        pl.when(n < 5)
        .then(pl.format("expected 'class cx cy w h conf', got {} values", n))
        .when(pl.col("bad_number"))
        .then(pl.lit("not a number"))
        .when((pl.col("cls") < 0) | (pl.col("cls") != pl.col("cls").floor()))
        .then(pl.lit("class is not a non-negative integer"))
        .when(pl.col("score").is_null())
        .then(pl.lit("no confidence column (save_conf=True): cannot rank by score"))
    )
    checked = parsed.with_columns(reason.alias("problem"))
    bad = checked.filter(pl.col("problem").is_not_null())
    good = (
        checked.filter(pl.col("problem").is_null())
        .join(images.select("path", "width", "height"), on="path", how="left")
        .select(
            "path",
            pl.col("cls").cast(pl.Int64).alias("class_id"),
            (pl.col("nx0") * pl.col("width")).alias("x0"),
            (pl.col("ny0") * pl.col("height")).alias("y0"),
            (pl.col("nx1") * pl.col("width")).alias("x1"),
            (pl.col("ny1") * pl.col("height")).alias("y1"),
            pl.col("score"),
            "source",
            "line",
        )
    )
    probs = pl.concat(
        [
            _problems(problems),
            bad.select("source", pl.col("line").cast(pl.Int64), "path", "problem"),
        ]
    )
    return good, probs


# --------------------------------------------------------------------------------- COCO reading


def _coco_images(
    labels: Any, image_ids: Mapping[int, str] | str | os.PathLike[str] | None
) -> tuple[dict[Any, str], dict[int, str]]:
    """``image_id -> file_name`` and ``category_id -> name`` from the ground-truth COCO JSON."""
    if isinstance(image_ids, Mapping):
        return dict(image_ids), {}
    gt_json = image_ids
    if gt_json is None and "label_file" in labels.images.columns:
        jsons = labels.images.filter(pl.col("label_file").str.ends_with(".json"))["label_file"]
        gt_json = jsons.unique().to_list()[0] if jsons.len() else None
    if gt_json is None:
        return {}, {}
    data = json.loads(Path(gt_json).read_text())
    ids = {im["id"]: im["file_name"] for im in data.get("images", [])}
    cats = {c["id"]: c["name"] for c in data.get("categories", [])}
    return ids, cats


def read_coco_results(
    file: str | os.PathLike[str],
    labels: Any,
    image_ids: Mapping[int, str] | str | os.PathLike[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse a COCO results JSON into pixel boxes keyed by the labels' ``path``.

    Image ids are resolved through ``image_ids`` (a mapping id -> file name, or the ground-truth
    COCO JSON), else the JSON the labels came from, else numeric file stems (``000000397133.jpg``
    is id 397133). Category ids map to class names through the ground-truth ``categories`` when
    known, else they are taken as ``class_id``.
    """
    data = json.loads(Path(file).read_text())
    if isinstance(data, dict) and "annotations" in data:
        data = data["annotations"]
    if not isinstance(data, list):
        raise ValueError(f"{file}: expected a COCO results list of detections")
    ids, cats = _coco_images(labels, image_ids)
    paths = labels.images["path"].to_list()
    index = ImageIndex(paths)
    if not ids:
        stems = {}
        for p in paths:
            stem = _parts(p)[-1]
            if stem.isdigit():
                stems[int(stem)] = p
        resolve: dict[Any, tuple[str | None, str | None]] = {k: (p, None) for k, p in stems.items()}
    else:
        resolve = {k: index.find(name) for k, name in ids.items()}
    name_to_id = {name: i for i, name in enumerate(labels.names)}
    rows: list[tuple[Any, ...]] = []
    problems: list[tuple[str, int | None, str | None, str]] = []
    for i, d in enumerate(data, start=1):
        try:
            x, y, w, h = (float(t) for t in d["bbox"])
            image_id, cat, score = d["image_id"], d["category_id"], float(d["score"])
        except (KeyError, TypeError, ValueError) as exc:
            problems.append((str(file), i, None, f"malformed detection: {exc!r}"))
            continue
        path, why = resolve.get(image_id, (None, f"unknown image_id {image_id!r}"))
        if path is None:
            problems.append((str(file), i, None, f"detection without image: {why}"))
            continue
        if cats:
            cls = name_to_id.get(cats.get(cat, ""))
            if cls is None:
                problems.append((str(file), i, path, f"category_id {cat!r} is not a label class"))
                continue
        else:
            cls = int(cat)
        rows.append((path, cls, x, y, x + w, y + h, score, str(file), i))
    schema = {
        "path": pl.Utf8,
        "class_id": pl.Int64,
        **{c: pl.Float64 for c in BOX_COLUMNS},
        "score": pl.Float64,
        "source": pl.Utf8,
        "line": pl.Int64,
    }
    return pl.DataFrame(rows, schema=schema, orient="row"), _problems(problems)


# ---------------------------------------------------------------------------------- scoring


def _ground_truth(labels: Any) -> tuple[pl.DataFrame, pl.DataFrame]:
    images = labels.images
    scored = images.filter(pl.col("status").is_in(SCORED_STATUSES))
    # A real `Labels` also carries the object axes (object_size, occlusion, truncation,
    # crowding) on `objects()`, so `slices` can cut by them; a Labels-like object has boxes only.
    objects = getattr(labels, "objects", None)
    all_boxes: pl.DataFrame = objects() if callable(objects) else labels.boxes
    boxes = all_boxes.join(scored.select("path"), on="path", how="semi")
    flags = [
        pl.col(c).cast(pl.Boolean).fill_null(False) if c in boxes.columns else pl.lit(False)
        for c in ("iscrowd", "difficult")
    ]
    boxes = boxes.with_columns((flags[0] | flags[1]).alias("ignored"), flags[0].alias("_crowd"))
    return scored, boxes


def score_detections(
    dets: pl.DataFrame,
    labels: Any,
    *,
    iou: float = 0.5,
    conf: float | None = None,
    problems: pl.DataFrame | None = None,
) -> Results:
    """Match a frame of detections (``path``, ``class_id``, ``x0..y1``, ``score``) to the labels."""
    missing = [c for c in ("path", "class_id", *BOX_COLUMNS, "score") if c not in dets.columns]
    if missing:
        raise ValueError(f"detections need columns {', '.join(missing)}")
    probs = [problems] if problems is not None else []
    for c in ("source", "line"):
        if c not in dets.columns:
            dets = dets.with_columns(pl.lit(None, pl.Utf8 if c == "source" else pl.Int64).alias(c))
    scored, boxes = _ground_truth(labels)
    status = labels.images.select("path", "status")
    dets = dets.join(status, on="path", how="left")
    x0, y0, x1, y1 = (pl.col(c) for c in BOX_COLUMNS)
    why = (
        pl.when(pl.col("status").is_null())
        .then(pl.lit("prediction for an image that is not in the labels"))
        .when(~pl.col("status").is_in(SCORED_STATUSES))
        .then(pl.format("prediction on an image whose labels are {}: not scored", pl.col("status")))
        .when(~pl.all_horizontal([c.is_finite() for c in (x0, y0, x1, y1)]))
        .then(pl.lit("box coordinate is not a finite number (unknown image size?)"))
        .when((x1 <= x0) | (y1 <= y0))
        .then(pl.lit("box has no area"))
        .when(~pl.col("score").is_finite())
        .then(pl.lit("score is not a finite number"))
    )
    dets = dets.with_columns(why.alias("problem"))
    probs.append(
        dets.filter(pl.col("problem").is_not_null()).select(
            pl.col("source").cast(pl.Utf8), pl.col("line").cast(pl.Int64), "path", "problem"
        )
    )
    dets = dets.filter(pl.col("problem").is_null()).drop("problem", "status")
    if conf is not None:
        dets = dets.filter(pl.col("score") >= conf)
    names = list(labels.names)
    m = match_boxes(
        boxes.select(
            pl.col("path").alias("image"),
            "class_id",
            *BOX_COLUMNS,
            pl.col("ignored").alias("ignore"),
            pl.col("_crowd").alias("crowd"),
        ),
        dets.select(pl.col("path").alias("image"), "class_id", *BOX_COLUMNS, "score"),
        iou,
    )
    objects = boxes.drop("_crowd").with_columns(
        pl.Series("matched", m.gt_pred >= 0),
        pl.Series("iou", m.gt_iou).fill_nan(None),
        pl.Series("match", m.gt_pred),
    )
    scores = dets["score"].to_numpy()
    objects = objects.with_columns(
        pl.when(pl.col("match") >= 0)
        .then(pl.lit(pl.Series(scores)).gather(pl.col("match").clip(lower_bound=0)))
        .alias("score")
        if dets.height
        else pl.lit(None, pl.Float64).alias("score")
    ).drop("match")
    class_name = pl.col("class_id").replace_strict(
        list(range(len(names))), names, default=None, return_dtype=pl.Utf8
    )
    predictions = dets.with_columns(
        class_name.alias("class"),
        pl.Series("status", m.pred_status, dtype=pl.Utf8),
        pl.Series("iou", m.pred_iou).fill_nan(None),
        pl.Series("object", m.pred_gt).replace(-1, None).cast(pl.Int64),
    )
    images = _per_image(scored, objects, predictions)
    return Results(
        "detection",
        images,
        objects,
        predictions,
        pl.concat(probs),
        iou=iou,
        conf=conf,
        names=names,
    )


def _per_image(
    scored: pl.DataFrame, objects: pl.DataFrame, predictions: pl.DataFrame
) -> pl.DataFrame:
    obj = (
        objects.filter(~pl.col("ignored"))
        .group_by("path")
        .agg(pl.len().alias("n_objects"), pl.col("matched").sum().alias("n_matched"))
    )
    pred = (
        predictions.filter(pl.col("status") != "ignored")
        .group_by("path")
        .agg(pl.len().alias("n_predictions"), (pl.col("status") == "tp").sum().alias("n_tp"))
    )
    base = scored.select("path", *(["split"] if "split" in scored.columns else []))
    out = (
        base.join(obj, on="path", how="left")
        .join(pred, on="path", how="left")
        .with_columns(
            pl.col(c).fill_null(0).cast(pl.UInt32)
            for c in ("n_objects", "n_matched", "n_predictions", "n_tp")
        )
    )
    return out.with_columns(
        (pl.col("n_objects") - pl.col("n_matched")).alias("n_missed"),
        (pl.col("n_predictions") - pl.col("n_tp")).alias("n_fp"),
        pl.when(pl.col("n_objects") > 0)
        .then(pl.col("n_matched") / pl.col("n_objects"))
        .alias("recall"),
        pl.when(pl.col("n_predictions") > 0)
        .then(pl.col("n_tp") / pl.col("n_predictions"))
        .alias("precision"),
    ).select(
        *base.columns,
        "n_objects",
        "n_matched",
        "n_missed",
        "n_predictions",
        "n_tp",
        "n_fp",
        "recall",
        "precision",
    )


def classification(frame: pl.DataFrame) -> Results:
    """Per-image results of the user's own evaluation (``path`` + ``correct`` / ``loss`` ...)."""
    if "path" not in frame.columns:
        raise ValueError(
            f"a results frame needs a 'path' column; it has {', '.join(frame.columns)}"
        )
    rows: list[pl.DataFrame] = []
    nulls = frame.filter(pl.col("path").is_null())
    if nulls.height:
        rows.append(
            nulls.select(
                pl.lit(None, pl.Utf8).alias("source"),
                pl.lit(None, pl.Int64).alias("line"),
                pl.col("path").cast(pl.Utf8),
                pl.lit("row without a path").alias("problem"),
            )
        )
    frame = frame.filter(pl.col("path").is_not_null()).with_columns(pl.col("path").cast(pl.Utf8))
    dup = frame.filter(pl.col("path").is_duplicated() & ~pl.col("path").is_first_distinct())
    if dup.height:
        rows.append(
            dup.select(
                pl.lit(None, pl.Utf8).alias("source"),
                pl.lit(None, pl.Int64).alias("line"),
                "path",
                pl.lit("duplicate path: kept the first row").alias("problem"),
            )
        )
        frame = frame.unique("path", keep="first", maintain_order=True)
    if "correct" in frame.columns and frame.schema["correct"] != pl.Boolean:
        col = pl.col("correct")
        if frame.schema["correct"] == pl.Utf8:
            low = col.str.strip_chars().str.to_lowercase()
            as_bool = (
                pl.when(low.is_in(["true", "1", "yes"]))
                .then(True)
                .when(low.is_in(["false", "0", "no"]))
                .then(False)
            )
        else:
            as_bool = pl.when(col == 1).then(True).when(col == 0).then(False)
        bad = frame.filter(col.is_not_null() & as_bool.is_null())
        if bad.height:
            raise ValueError(
                f"'correct' must be true/false or 1/0; {bad.height} rows are not, "
                f"e.g. {bad['correct'][0]!r} at {bad['path'][0]}"
            )
        frame = frame.with_columns(as_bool.alias("correct"))
    problems = pl.concat(rows) if rows else pl.DataFrame(schema=PROBLEM_SCHEMA)
    return Results("classification", frame, problems=problems)


def _read_table(path: Path) -> pl.DataFrame:
    if path.suffix == ".parquet":
        return pl.read_parquet(path)
    if path.suffix in (".ndjson", ".jsonl"):
        return pl.read_ndjson(path)
    return pl.read_csv(path)


def results(
    preds: PredsArg,
    labels: Any = None,
    *,
    iou: float = 0.5,
    conf: float | None = None,
    image_ids: Mapping[int, str] | str | os.PathLike[str] | None = None,
) -> Results:
    """Score a model's predictions against the labels (or take per-image results as given).

    Args:
        preds: a folder of YOLO ``.txt`` prediction files (``class cx cy w h conf``, normalised;
            matched to images by stem, or by relative path when stems repeat), a COCO results
            ``.json``, a detections frame (``path, class_id, x0, y0, x1, y1, score`` in pixels),
            or a classification frame / ``.csv`` / ``.parquet`` with ``path`` and per-image columns
            (``correct``, ``loss``, ``score`` ...).
        labels: an `imgstats.labels` object (or anything with ``.images``, ``.boxes`` and
            ``.names`` frames of the same schema); needed for detections.
        iou: IoU a prediction needs to match an object (COCO ``>=``).
        conf: drop predictions scored below this first (the operating point: recall depends on
            it); ``None`` keeps everything in the files.
        image_ids: COCO only: mapping ``image_id -> file name`` or the ground-truth COCO JSON.

    Returns:
        A `Results`: per-object, per-prediction and per-image frames, plus ``problems``.
    """
    if isinstance(preds, pl.LazyFrame):
        preds = preds.collect()
    if not isinstance(preds, pl.DataFrame):
        p = Path(preds)
        if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES:
            preds = _read_table(p)
        elif not p.exists():
            raise FileNotFoundError(f"predictions not found: {p}")
    if isinstance(preds, pl.DataFrame) and not set(BOX_COLUMNS) <= set(preds.columns):
        return classification(preds)
    if labels is None:
        raise ValueError(
            "scoring detections needs the ground truth: pass labels=imgstats.labels(...) "
            "(or an object with .images / .boxes / .names frames)"
        )
    if isinstance(preds, pl.DataFrame):
        if "class_id" not in preds.columns and "class" in preds.columns:
            ids = {n: i for i, n in enumerate(labels.names)}
            preds = preds.with_columns(
                pl.col("class")
                .replace_strict(ids, default=None, return_dtype=pl.Int64)
                .alias("class_id")
            )
        return score_detections(preds, labels, iou=iou, conf=conf)
    p = Path(preds)
    if p.is_dir():
        dets, problems = read_yolo(p, labels.images)
    elif p.suffix.lower() == ".json":
        dets, problems = read_coco_results(p, labels, image_ids)
    else:
        raise ValueError(
            f"{p}: expected a folder of YOLO .txt files, a COCO results .json, or a "
            f"{'/'.join(TABLE_SUFFIXES)} table"
        )
    return score_detections(dets, labels, iou=iou, conf=conf, problems=problems)
