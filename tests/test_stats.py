"""Known answers for the intervals: the rank AUC equals sklearn's, a bootstrap keeps the class
counts, a perfect score has a degenerate interval, a paired difference of identical scores is
exactly 0, and clearly separated scores give a difference whose interval excludes 0."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from landslide_sar.errors import InputError
from landslide_sar.stats import (
    HOLDS,
    REVERSED,
    WITHIN_NOISE,
    auc_interval,
    bootstrap_indices,
    macro_auc,
    mean_sd,
    paired_auc_difference,
    verdict,
)

CLASSES = (0, 1, 2)


def _scores(n: int, signal: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    logits = rng.normal(size=(n, 3)) + signal * np.eye(3)[y]
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return y, prob


def test_macro_auc_equals_sklearn_with_ties():
    y, prob = _scores(60, 1.0, 0)
    prob = np.round(prob, 1)  # many ties
    want = roc_auc_score(y, prob / prob.sum(axis=1, keepdims=True), multi_class="ovr", average="macro")
    # sklearn normalises rows; compare on the same (normalised) probabilities
    got = macro_auc(y, prob / prob.sum(axis=1, keepdims=True), CLASSES)
    assert got == pytest.approx(want, abs=1e-12)


def test_class_metrics_equal_sklearn_per_class_and_macro():
    """density.evaluate.class_metrics scores on ranks (stats.binary_auc): sklearn's numbers."""
    from landslide_sar.density.evaluate import class_metrics

    y, prob = _scores(80, 0.8, 1)
    prob = np.round(prob, 2)
    prob = prob / prob.sum(axis=1, keepdims=True)
    row = class_metrics(y, prob)
    for c in CLASSES:
        assert row[f"auc_class{c}"] == pytest.approx(roc_auc_score(y == c, prob[:, c]), abs=1e-12)
    assert row["auc_macro_ovr"] == pytest.approx(roc_auc_score(y, prob, multi_class="ovr", average="macro"), abs=1e-12)
    missing = class_metrics(np.array([0, 0, 1, 1]), np.full((4, 3), 1 / 3))
    assert np.isnan(missing["auc_class2"]) and np.isnan(missing["auc_macro_ovr"]) and missing["auc_class0"] == 0.5


def test_bootstrap_keeps_class_counts_and_is_seeded():
    y = np.array([0] * 5 + [1] * 3 + [2] * 7)
    idx = bootstrap_indices(y, 50, seed=3)
    assert idx.shape == (50, 15)
    for row in idx:
        assert np.array_equal(np.bincount(y[row], minlength=3), [5, 3, 7])
    assert np.array_equal(idx, bootstrap_indices(y, 50, seed=3))
    assert not np.array_equal(idx, bootstrap_indices(y, 50, seed=4))
    with pytest.raises(InputError, match="samples"):
        bootstrap_indices(y, 0, seed=0)


def test_perfect_scores_give_a_degenerate_interval():
    y = np.array([0, 0, 1, 1, 2, 2, 2])
    prob = np.eye(3)[y]
    iv = auc_interval(y, prob, CLASSES, 200, seed=0)
    assert (iv.estimate, iv.low, iv.high) == (1.0, 1.0, 1.0)


def test_interval_width_shrinks_with_more_chips_and_covers_the_estimate():
    small = auc_interval(*_scores(40, 1.0, 1), CLASSES, 500, seed=0)
    large = auc_interval(*_scores(1000, 1.0, 1), CLASSES, 500, seed=0)
    for iv in (small, large):
        assert iv.low < iv.estimate < iv.high
    assert (large.high - large.low) < 0.5 * (small.high - small.low)
    # 1000 chips: the AUC's standard error is ~0.01, so the 95 % interval is ~0.04 wide
    assert 0.02 < large.high - large.low < 0.08


def test_paired_difference_known_answers():
    y, prob = _scores(200, 1.5, 2)
    same = paired_auc_difference(y, prob, prob, CLASSES, 300, seed=0)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    _, noise = _scores(200, 0.0, 9)  # no signal: AUC ~0.5
    better = paired_auc_difference(y, prob, noise, CLASSES, 300, seed=0)
    assert better.estimate == pytest.approx(macro_auc(y, prob, CLASSES) - macro_auc(y, noise, CLASSES))
    assert better.low > 0.1 and verdict(better.low, better.high) == HOLDS
    worse = paired_auc_difference(y, noise, prob, CLASSES, 300, seed=0)
    assert worse.high < -0.1 and verdict(worse.low, worse.high) == REVERSED
    # pairing: the chips' common difficulty cancels, so for two strongly correlated scores the
    # paired interval is far narrower than independent intervals of the two AUCs would imply
    _, jitter = _scores(200, 0.0, 5)
    close = 0.9 * prob + 0.1 * jitter
    paired = paired_auc_difference(y, prob, close, CLASSES, 500, seed=0)
    iv_a, iv_b = (auc_interval(y, p, CLASSES, 500, seed=1) for p in (prob, close))
    unpaired_width = np.hypot(iv_a.high - iv_a.low, iv_b.high - iv_b.low)
    assert paired.high - paired.low < 0.3 * unpaired_width


def test_verdict_and_mean_sd():
    assert verdict(-0.01, 0.02) == WITHIN_NOISE
    assert verdict(float("nan"), 1.0) == WITHIN_NOISE
    assert mean_sd([0.7, 0.8, 0.9]) == pytest.approx((0.8, 0.1))
    assert mean_sd([0.5]) == (0.5, 0.0)
    assert mean_sd([float("nan"), 0.6, 0.8])[0] == pytest.approx(0.7)
