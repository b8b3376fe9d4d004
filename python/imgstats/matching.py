"""Match predicted boxes to ground-truth boxes the way COCO does (pycocotools ``COCOeval``).

Convention, per image and class (class-aware):

1. Predictions are taken in descending score (ties keep their input order, like COCOeval's
   stable sort). Each one matches the still-unmatched ground-truth box of its class with the
   highest IoU, if that IoU is ``>= iou``.
2. Ground truth marked *ignore* (``iscrowd`` or ``difficult``) is only matched by predictions that
   found no regular box: such a prediction is *ignored* (neither TP nor FP), and the ignored box is
   never a miss. A crowd box may absorb any number of predictions and its IoU is
   ``intersection / prediction area`` (COCO's crowd rule); a non-crowd ignored box (VOC's
   ``difficult``) is matched once, with the ordinary IoU.

This is COCOeval at one IoU threshold, area range "all" and no per-image detection cap, and
``tests/test_results.py`` checks it against pycocotools prediction by prediction.

The work is vectorised over the whole dataset: one join of predictions and ground truth on
(image, class), IoU as column arithmetic, and candidate pairs below the threshold dropped. A pair
whose prediction and ground-truth box have no other candidate is matched directly; only boxes that
compete (crowded images) go through the sequential greedy step, in one Python loop over those
candidate pairs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from imgstats._lazy import LazyModule

if TYPE_CHECKING:
    import numpy as np
else:
    np = LazyModule("numpy")

#: Columns `match_boxes` needs in both frames (pixels, x1 > x0 and y1 > y0 expected).
BOX_COLUMNS = ("x0", "y0", "x1", "y1")


@dataclass
class Matches:
    """The outcome of `match_boxes`, aligned with the input rows.

    ``gt_pred``: for each ground-truth row the matched prediction row (-1: missed / not matched).
    ``gt_iou``: its IoU (NaN when unmatched). ``pred_gt``: for each prediction the matched
    ground-truth row (-1: none). ``pred_iou``: that IoU (NaN when none). ``pred_status``:
    ``"tp"``, ``"fp"`` or ``"ignored"`` (matched an ignore / crowd box).
    """

    gt_pred: np.ndarray
    gt_iou: np.ndarray
    pred_gt: np.ndarray
    pred_iou: np.ndarray
    pred_status: np.ndarray


def _candidates(gt: pl.DataFrame, pred: pl.DataFrame, iou: float) -> pl.DataFrame:
    """All (prediction, ground truth) pairs of one image and class with IoU >= ``iou``."""
    g = gt.select(
        pl.col("image"),
        pl.col("class_id"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("g"),
        *(pl.col(c).cast(pl.Float64).alias(f"g{c}") for c in BOX_COLUMNS),
        pl.col("ignore").cast(pl.Boolean),
        pl.col("crowd").cast(pl.Boolean),
    )
    p = pred.select(
        pl.col("image"),
        pl.col("class_id"),
        pl.int_range(pl.len(), dtype=pl.Int64).alias("p"),
        *(pl.col(c).cast(pl.Float64).alias(f"p{c}") for c in BOX_COLUMNS),
    )
    iw = (pl.min_horizontal("gx1", "px1") - pl.max_horizontal("gx0", "px0")).clip(lower_bound=0)
    ih = (pl.min_horizontal("gy1", "py1") - pl.max_horizontal("gy0", "py0")).clip(lower_bound=0)
    area_g = (pl.col("gx1") - pl.col("gx0")) * (pl.col("gy1") - pl.col("gy0"))
    area_p = (pl.col("px1") - pl.col("px0")) * (pl.col("py1") - pl.col("py0"))
    inter = iw * ih
    # COCO: a crowd region is compared with the part of the prediction inside it.
    union = pl.when(pl.col("crowd")).then(area_p).otherwise(area_g + area_p - inter)
    return (
        p.join(g, on=["image", "class_id"], how="inner")
        .with_columns((inter / union).alias("iou"))
        .filter(pl.col("iou") >= iou)
        .select("p", "g", "iou", "ignore", "crowd")
    )


def _greedy(
    pairs: pl.DataFrame,
    rank: np.ndarray,
    pred_gt: np.ndarray,
    pred_iou: np.ndarray,
    taken: np.ndarray,
) -> None:
    """Sequential COCO greedy over candidate pairs, writing into the output arrays.

    Pairs are visited by prediction rank (score order), then IoU descending; a prediction takes its
    first box that is still free (crowd boxes always are). A pair whose prediction and box have no
    other candidate is decided without the loop: nobody competes for it.
    """
    if pairs.height == 0:
        return
    counted = pairs.with_columns(pl.len().over("p").alias("np"), pl.len().over("g").alias("ng"))
    single = (pl.col("np") == 1) & (pl.col("ng") == 1)
    alone = counted.filter(single)
    p_idx, g_idx = alone["p"].to_numpy(), alone["g"].to_numpy()
    pred_gt[p_idx] = g_idx
    pred_iou[p_idx] = alone["iou"].to_numpy()
    taken[g_idx] = True
    pairs = counted.filter(~single)
    if pairs.height == 0:
        return
    p_all = pairs["p"].to_numpy()
    order = np.lexsort((-pairs["iou"].to_numpy(), rank[p_all]))
    rows = zip(
        p_all[order].tolist(),
        pairs["g"].to_numpy()[order].tolist(),
        pairs["iou"].to_numpy()[order].tolist(),
        pairs["crowd"].to_numpy()[order].tolist(),
    )
    for p, g, v, crowd in rows:
        if pred_gt[p] >= 0 or (taken[g] and not crowd):
            continue
        pred_gt[p] = g
        pred_iou[p] = v
        taken[g] = True


def match_boxes(gt: pl.DataFrame, pred: pl.DataFrame, iou: float = 0.5) -> Matches:
    """Greedy, class-aware matching of ``pred`` to ``gt`` (the COCO convention, see the module).

    Args:
        gt: ground truth; columns ``image`` (any key type shared with ``pred``), ``class_id``,
            ``x0, y0, x1, y1`` (pixels), ``ignore`` (bool: crowd / difficult boxes that are never
            misses) and ``crowd`` (bool: COCO ``iscrowd``, matched by many predictions).
        pred: predictions; ``image``, ``class_id``, ``x0, y0, x1, y1`` and ``score``.
        iou: the IoU a match needs (``>=``).
    """
    if not 0.0 < iou <= 1.0:
        raise ValueError(f"iou must be in (0, 1], got {iou}")
    n_gt, n_pred = gt.height, pred.height
    pred_gt = np.full(n_pred, -1, dtype=np.int64)
    pred_iou = np.full(n_pred, np.nan)
    taken = np.zeros(n_gt, dtype=bool)
    # Rank of each prediction in score order; the stable sort keeps input order for ties.
    scores = pred.get_column("score").cast(pl.Float64).fill_null(0.0).to_numpy()
    rank = np.empty(n_pred, dtype=np.int64)
    rank[np.argsort(-scores, kind="stable")] = np.arange(n_pred)
    # COCO compares against min(iou, 1 - 1e-10) so that iou=1.0 still accepts exact copies.
    cand = _candidates(gt, pred, min(iou, 1 - 1e-10))
    # Pass 1: regular boxes. Pass 2: predictions left over try the ignore boxes.
    _greedy(cand.filter(~pl.col("ignore")), rank, pred_gt, pred_iou, taken)
    regular = pred_gt >= 0
    ignore = cand.filter(pl.col("ignore"))
    free = pl.Series(~regular[ignore["p"].to_numpy()])
    _greedy(ignore.filter(free), rank, pred_gt, pred_iou, taken)

    status = np.where(regular, "tp", np.where(pred_gt >= 0, "ignored", "fp"))
    gt_pred = np.full(n_gt, -1, dtype=np.int64)
    gt_iou = np.full(n_gt, np.nan)
    hit = np.flatnonzero(regular)
    gt_pred[pred_gt[hit]] = hit
    gt_iou[pred_gt[hit]] = pred_iou[hit]
    return Matches(gt_pred, gt_iou, pred_gt, pred_iou, status)
