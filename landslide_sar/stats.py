"""Intervals for the reported numbers: a stratified bootstrap over chips of the macro one-vs-rest
AUC, paired differences between two experiments scored on the same chips, and the verdict a
difference supports.

The AUC here is the Mann-Whitney statistic computed on ranks, vectorised over bootstrap samples
(sklearn's roc_auc_score, one sample at a time, is ~100x slower for 1,000 samples); it equals
``roc_auc_score(y, prob, multi_class="ovr", average="macro")`` (a test checks it). Resampling is
stratified by true class, so every sample holds every class and its AUC is defined.

Detection's AUPRC (average precision over pixels) gets the same treatment with chips as the
resampled unit: a bootstrap sample is a weight per chip (how often it was drawn, stratified by
"chip has a landslide pixel"), and `auprc_samples` computes the AUPRC of every sample's weighted
pixels at once from one sort of the pixels (ties share a threshold, as in sklearn's
average_precision_score, which the unit weights reproduce exactly).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from landslide_sar.errors import InputError

#: Verdicts of a difference a - b: its interval above 0, below 0, or containing 0.
HOLDS, REVERSED, WITHIN_NOISE = "holds", "reversed", "within noise"

#: The config's `bootstrap` section (schemas/config.schema.yaml) when a caller gives none: samples
#: drawn, their seed and the level of the percentile intervals.
DEFAULT_BOOTSTRAP = {"samples": 1000, "seed": 0, "interval": 0.95}


@dataclass(frozen=True)
class Interval:
    """A point estimate and its (low, high) bootstrap percentile interval."""

    estimate: float
    low: float
    high: float


def binary_auc(pos: np.ndarray, score: np.ndarray) -> np.ndarray:
    """AUC of `score` for the positives `pos` along the last axis (ties count 1/2); NaN where a
    row has no positive or no negative."""
    from scipy.stats import (
        rankdata,
    )  # here: scipy.stats costs the detection jobs, which never call this, 0.6 s to import

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
    per_class = [binary_auc(y == c, prob[..., i]) for i, c in enumerate(classes)]
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


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    """(low, high) percentile interval at `level` of the finite bootstrap samples (NaN if none)."""
    return _percentiles(np.asarray(samples, dtype=float), level)


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
    y: np.ndarray,
    prob_a: np.ndarray,
    prob_b: np.ndarray,
    classes: Sequence[int],
    n_samples: int,
    seed: int,
    level: float = 0.95,
) -> Interval:
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


def chip_weights(has_positive: np.ndarray, n_samples: int, seed: int) -> np.ndarray:
    """(n_samples, n_chips) draw counts of a bootstrap over chips, stratified by has_positive
    (every sample keeps the number of chips with and without landslide pixels)."""
    has_positive = np.asarray(has_positive, dtype=bool)
    idx = bootstrap_indices(has_positive.astype(int), n_samples, seed)
    w = np.zeros((n_samples, has_positive.size), dtype=np.float64)
    np.add.at(w, (np.arange(n_samples)[:, None], idx), 1.0)
    return w


def auprc_samples(label: np.ndarray, score: np.ndarray, valid: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUPRC (average precision) over the valid pixels of chips (n, H, W) for each row of chip
    `weights` (B, n): a chip drawn twice counts its pixels twice. Non-finite scores rank below
    every finite one. Unit weights give sklearn's average_precision_score; NaN where a sample
    holds no positive pixel."""
    label, valid = np.asarray(label) > 0, np.asarray(valid, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    weights = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    n = label.shape[0]
    if score.shape != label.shape or valid.shape != label.shape or weights.shape[1] != n:
        raise InputError(
            f"auprc_samples: label {label.shape}, score {score.shape}, valid {valid.shape}, "
            f"weights {weights.shape}; expected the same (n, H, W) and (B, n)"
        )
    chip = np.broadcast_to(np.arange(n)[:, None, None], label.shape)[valid]
    y, s = label[valid], score[valid]
    bad = ~np.isfinite(s)
    if bad.any():
        s = np.where(bad, (s[~bad].min() - 1.0) if (~bad).any() else 0.0, s)
    order = np.argsort(-s, kind="stable")
    y, s, chip = y[order], s[order], chip[order]
    # each pixel counts every pixel down to the last one of its tie group (one threshold per group)
    last = np.searchsorted(-s, -s, side="right") - 1
    pos = np.flatnonzero(y)
    if pos.size == 0:
        return np.full(weights.shape[0], np.nan)
    # positives that share a threshold and a chip share everything: one column per (threshold, chip)
    groups, count = np.unique(last[pos] * n + chip[pos], return_counts=True)
    upto, g_chip = groups // n, groups % n
    # per group and chip c: positives / negatives of chip c at or above the group's threshold
    tp_c = np.zeros((n, groups.size), dtype=np.float32)  # exact: counts < 2**24
    fp_c = np.zeros((n, groups.size), dtype=np.float32)
    for c in range(n):
        at = np.flatnonzero(chip == c)
        tp_c[c] = np.searchsorted(at[y[at]], upto, side="right")
        fp_c[c] = np.searchsorted(at[~y[at]], upto, side="right")
    w = weights.astype(np.float32)
    tp, fp = w @ tp_c, w @ fp_c  # (B, groups): weighted positives / negatives at each group's threshold
    np.add(fp, tp, out=fp)  # predicted positives
    np.divide(tp, fp, out=tp, where=fp > 0)  # precision (tp >= 1 wherever the group's chip is drawn)
    w_pos = w[:, g_chip] * count.astype(np.float32)  # the group's positives, weighted by their chip's draws
    total = w_pos.sum(axis=1, dtype=np.float64)
    num = np.einsum("bg,bg->b", w_pos, tp, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, num / total, np.nan)


def auprc_interval(
    label: np.ndarray, score: np.ndarray, valid: np.ndarray, n_samples: int, seed: int, level: float = 0.95
) -> Interval:
    """AUPRC over the chips' valid pixels with its percentile interval of a bootstrap over chips
    (stratified by whether a chip holds a landslide pixel)."""
    label = np.asarray(label) > 0
    valid = np.asarray(valid, dtype=bool)
    est = float(auprc_samples(label, score, valid, np.ones((1, label.shape[0])))[0])
    if not np.isfinite(est):
        return Interval(est, float("nan"), float("nan"))
    w = chip_weights(label.any(axis=(1, 2)), n_samples, seed)
    return Interval(est, *_percentiles(auprc_samples(label, score, valid, w), level))


def paired_auprc_difference(
    label: np.ndarray,
    score_a: np.ndarray,
    valid_a: np.ndarray,
    score_b: np.ndarray,
    valid_b: np.ndarray,
    n_samples: int,
    seed: int,
    level: float = 0.95,
) -> Interval:
    """AUPRC(a) - AUPRC(b) on the same chips (each over its own valid pixels), with the interval
    of the difference over the SAME bootstrap samples of chips for both."""
    label = np.asarray(label) > 0
    w = chip_weights(label.any(axis=(1, 2)), n_samples, seed)
    one = np.ones((1, label.shape[0]))
    est = float(auprc_samples(label, score_a, valid_a, one)[0] - auprc_samples(label, score_b, valid_b, one)[0])
    diffs = auprc_samples(label, score_a, valid_a, w) - auprc_samples(label, score_b, valid_b, w)
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


def difference_cells(row: Mapping[str, Any]) -> tuple[str, str, str]:
    """The Markdown cells of one paired-difference row (density's and detection's tables): the
    runs' mean ± sd (n), the ensembles' a - b = difference, and the interval."""
    sd = "" if not np.isfinite(row["member_diff_sd"]) or row["n_runs"] < 2 else f" ± {row['member_diff_sd']:.3f}"
    return (
        f"{row['member_diff']:+.3f}{sd} (n={row['n_runs']})",
        f"{row['ensemble_a']:.3f} - {row['ensemble_b']:.3f} = {row['ensemble_diff']:+.3f}",
        f"{row['ci_low']:+.3f} … {row['ci_high']:+.3f}",
    )
