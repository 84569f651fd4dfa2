"""Intervals for the reported numbers: a stratified bootstrap over chips of the macro one-vs-rest
AUC, paired differences between two experiments scored on the same chips, and the verdict a
difference supports.

The AUC here is the Mann-Whitney statistic computed on ranks, vectorised over bootstrap samples
(sklearn's roc_auc_score, one sample at a time, is ~100x slower for 1,000 samples); it equals
``roc_auc_score(y, prob, multi_class="ovr", average="macro")`` (a test checks it). Resampling is
stratified by true class, so every sample holds every class and its AUC is defined.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import rankdata

from landslide_sar.grid import InputError

#: Verdicts of a difference a - b: its interval above 0, below 0, or containing 0.
HOLDS, REVERSED, WITHIN_NOISE = "holds", "reversed", "within noise"


@dataclass(frozen=True)
class Interval:
    """A point estimate and its (low, high) bootstrap percentile interval."""

    estimate: float
    low: float
    high: float


def _binary_auc(pos: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUC of `score` for the positives `pos` along the last axis (ties count 1/2); NaN where a
    row has no positive or no negative."""
    ranks = rankdata(score, axis=-1)
    n_pos = pos.sum(axis=-1)
    n_neg = pos.shape[-1] - n_pos
    u = (ranks * pos).sum(axis=-1) - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((n_pos > 0) & (n_neg > 0), u / (n_pos * n_neg), np.nan)


def macro_auc(y: np.ndarray, prob: np.ndarray, classes: Sequence[int]) -> np.ndarray:
    """Macro one-vs-rest AUC of class probabilities prob (..., n, C) for labels y (..., n):
    the mean over classes of each class's binary AUC; leading axes are samples."""
    y = np.asarray(y)
    prob = np.asarray(prob, dtype=float)
    per_class = [_binary_auc(y == c, prob[..., i]) for i, c in enumerate(classes)]
    return np.mean(per_class, axis=0)


def bootstrap_indices(y: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """(n_samples, n) indices drawn with replacement within each class of y (stratified), so
    each sample has the class counts of y."""
    y = np.asarray(y)
    if n_samples < 1:
        raise InputError(f"bootstrap samples={n_samples!r}; expected >= 1")
    rng = np.random.default_rng(seed)
    out = np.empty((n_samples, y.size), dtype=np.int64)
    for c in np.unique(y):  # sorted classes: the draws do not depend on the chips' order of classes
        where = np.flatnonzero(y == c)  # each class keeps its own positions: the sample's class counts are y's
        out[:, where] = where[rng.integers(0, where.size, size=(n_samples, where.size))]
    return out


def _percentiles(samples: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise InputError(f"interval level={level!r}; expected between 0 and 1")
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return float("nan"), float("nan")
    lo, hi = np.percentile(finite, [50 * (1 - level), 50 * (1 + level)])
    return float(lo), float(hi)


def auc_interval(
    y: np.ndarray, prob: np.ndarray, classes: Sequence[int], n_samples: int, seed: int, level: float = 0.95
) -> Interval:
    """Macro AUC of prob for y with its stratified-bootstrap percentile interval over chips."""
    y = np.asarray(y)
    prob = np.asarray(prob, dtype=float)
    est = float(macro_auc(y, prob, classes))
    if not np.isfinite(est):
        return Interval(est, float("nan"), float("nan"))
    idx = bootstrap_indices(y, n_samples, seed)
    return Interval(est, *_percentiles(macro_auc(y[idx], prob[idx], classes), level))


def paired_auc_difference(
    y: np.ndarray, prob_a: np.ndarray, prob_b: np.ndarray, classes: Sequence[int], n_samples: int, seed: int,
    level: float = 0.95,
) -> Interval:  # fmt: skip
    """AUC(a) - AUC(b) on the same chips, with the interval of the difference over the SAME
    bootstrap samples for both (paired: the chips' common difficulty cancels)."""
    y = np.asarray(y)
    prob_a, prob_b = np.asarray(prob_a, dtype=float), np.asarray(prob_b, dtype=float)
    if prob_a.shape != prob_b.shape or prob_a.shape[0] != y.size:
        raise InputError(f"paired difference: probabilities {prob_a.shape} and {prob_b.shape} for {y.size} chips")
    est = float(macro_auc(y, prob_a, classes) - macro_auc(y, prob_b, classes))
    idx = bootstrap_indices(y, n_samples, seed)
    diffs = macro_auc(y[idx], prob_a[idx], classes) - macro_auc(y[idx], prob_b[idx], classes)
    return Interval(est, *_percentiles(diffs, level))


def verdict(low: float, high: float) -> str:
    """What an interval of a difference a - b supports: a above b, b above a, or neither."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return WITHIN_NOISE
    if low > 0:
        return HOLDS
    if high < 0:
        return REVERSED
    return WITHIN_NOISE


def mean_sd(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (ddof 1; 0 for one value) of the finite values."""
    v = np.asarray([x for x in values if np.isfinite(x)], dtype=float)
    if v.size == 0:
        return float("nan"), float("nan")
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0
