"""Pixel-level scores of a detector on a set of chips: AUPRC (average precision), the no-skill
baseline (positive fraction), precision / recall / F1 of a binary map, and decimated
precision-recall curve points for figures.

Conventions shared by the learned model and the baseline: pixels where `valid` is False (nodata
inputs) are left out; among the others, a non-finite score (NaN, -inf: "no call", e.g. the
baseline's slope mask) ranks below every finite score, so such pixels count as predicted
negatives rather than vanishing from the denominator.

The curve and its average precision are sklearn's (`precision_recall_curve`,
`average_precision_score`: the same arithmetic, tests compare them) in a few lines of numpy:
importing sklearn cost every detection job 1.2 s of its 15 s.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

CURVE_COLUMNS = ["recall", "precision", "threshold"]


def _flat(label: np.ndarray, score: np.ndarray, valid: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Valid pixels' labels (bool) and scores (float64, non-finite moved below every finite)."""
    y = np.asarray(label).reshape(-1) > 0
    s = np.asarray(score, dtype=np.float64).reshape(-1)
    if s.size != y.size:
        raise ValueError(f"label has {y.size} pixels and score {s.size}; expected the same")
    if valid is not None:
        v = np.asarray(valid, dtype=bool).reshape(-1)
        y, s = y[v], s[v]
    bad = ~np.isfinite(s)
    if bad.any():
        floor = s[~bad].min() - 1.0 if (~bad).any() else 0.0
        s = np.where(bad, floor, s)
    return y, s


def precision_recall_points(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """precision, recall (decreasing, ending at (1, 0)) and thresholds (increasing, one fewer) of
    labels y (bool) ranked by scores s: sklearn's precision_recall_curve, one point per distinct
    score (tied pixels share a threshold)."""
    order = np.argsort(s, kind="mergesort")[::-1]
    s_desc, y_desc = s[order], y[order]
    last = np.r_[np.flatnonzero(np.diff(s_desc)), s_desc.size - 1]  # the last pixel of each tie group
    tps = np.cumsum(y_desc, dtype=np.float64)[last]
    fps = 1.0 + last - tps
    precision = tps / (tps + fps)  # tps + fps >= 1: every group holds a pixel
    recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
    return np.r_[precision[::-1], 1.0], np.r_[recall[::-1], 0.0], s_desc[last][::-1]


def no_skill(label: np.ndarray, valid: np.ndarray | None = None) -> float:
    """The AUPRC of a random (or constant) detector: the positive fraction of the valid pixels."""
    y = np.asarray(label).reshape(-1) > 0
    if valid is not None:
        y = y[np.asarray(valid, dtype=bool).reshape(-1)]
    return float(y.mean()) if y.size else float("nan")


def auprc(label: np.ndarray, score: np.ndarray, valid: np.ndarray | None = None) -> float:
    """Area under the precision-recall curve as average precision, sum_n (R_n - R_{n-1}) P_n,
    over all valid pixels of the set (sklearn average_precision_score). NaN without positives."""
    y, s = _flat(label, score, valid)
    if not y.any():
        return float("nan")
    precision, recall, _ = precision_recall_points(y, s)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))


def binary_scores(label: np.ndarray, predicted: np.ndarray, valid: np.ndarray | None = None) -> dict[str, float]:
    """Precision, recall and F1 of a binary map over the valid pixels (NaN when undefined)."""
    y = np.asarray(label).reshape(-1) > 0
    p = np.asarray(predicted).reshape(-1) > 0
    if valid is not None:
        v = np.asarray(valid, dtype=bool).reshape(-1)
        y, p = y[v], p[v]
    tp = float(np.sum(y & p))
    precision = tp / p.sum() if p.any() else float("nan")
    recall = tp / y.sum() if y.any() else float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
    return {"precision": float(precision), "recall": float(recall), "f1": float(f1)}


def pr_curve(
    label: np.ndarray, score: np.ndarray, valid: np.ndarray | None = None, max_points: int = 200
) -> pd.DataFrame:
    """Precision-recall curve points (recall, precision, threshold), at most `max_points` of them
    (evenly spaced along sklearn's curve, both ends kept), recall ascending (precision
    descending at equal recall), so it plots as a path from (0, 1) to (1, positive fraction).
    The point (recall 0, precision 1) has threshold NaN."""
    y, s = _flat(label, score, valid)
    if not y.any():
        return pd.DataFrame(columns=CURVE_COLUMNS)
    precision, recall, thresholds = precision_recall_points(y, s)
    thresholds = np.append(thresholds, np.nan)  # sklearn has one threshold fewer than points
    order = np.lexsort((-precision, recall))  # recall ascending, precision descending among ties
    keep = np.unique(np.round(np.linspace(0, order.size - 1, min(max_points, order.size))).astype(int))
    sel = order[keep]
    return pd.DataFrame({"recall": recall[sel], "precision": precision[sel], "threshold": thresholds[sel]})
