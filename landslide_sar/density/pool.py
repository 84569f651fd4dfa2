"""The ensemble over runs: one experiment's cross-predicted class probabilities averaged over its
split seeds (each split's predictions.csv is already its training seeds' mean). Every chip is
cross-predicted under every split (by the models of the half it is not in), so the runs of one
experiment score the same chips and their mean is the experiment's best single estimate."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from landslide_sar.density.map import CLASSES
from landslide_sar.errors import InputError

PROB_COLUMNS = [f"prob_class{c}" for c in CLASSES]


def pool_runs(predictions: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """chip-indexed (sorted) density_class and prob_class0..2: the mean over the runs'
    predictions; every run must score the same chips with the same classes."""
    if not predictions:
        raise InputError("pool_runs: no predictions; expected one per split seed")
    frames = []
    for k, pred in enumerate(predictions):
        missing = [c for c in ["chip", "density_class", *PROB_COLUMNS] if c not in pred.columns]
        if missing:
            raise InputError(f"predictions of run {k} lack column(s) {missing}")
        frames.append(pred.set_index("chip").sort_index()[["density_class", *PROB_COLUMNS]])
    first = frames[0]
    for k, f in enumerate(frames[1:], start=1):
        if not f.index.equals(first.index) or not np.array_equal(f["density_class"], first["density_class"]):
            raise InputError(f"predictions of run {k} score other chips or classes than run 0; expected one chip table")
    out = first[["density_class"]].copy()
    out[PROB_COLUMNS] = np.mean([f[PROB_COLUMNS].to_numpy() for f in frames], axis=0)
    return out
