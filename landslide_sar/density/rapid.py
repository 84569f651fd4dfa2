"""Rapid response: the models and forests trained on one area classify every chip of a new area
that has SAR and a DEM but no inventory."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from landslide_sar.density.chip_io import below_min_valid, read_chips_table
from landslide_sar.density.evaluate import (
    CLASSES,
    PREDICTION_COLUMNS,
    forest_proba,
    member_features,
    member_seeds,
    read_features,
)
from landslide_sar.density.forest_io import load_forests
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def classify_chips(
    features_half0: PathLike,
    features_half1: PathLike,
    forests: PathLike,
    predictions_out: PathLike,
    *,
    chips_table: PathLike | pd.DataFrame,
    min_valid_fraction: float,
) -> pd.DataFrame:
    """Class probabilities of every chip: for each member (training seed) and half, that half's
    forest on the features its own model gave, averaged over halves and members (an ensemble of
    models that never saw this area). The predictions CSV has the columns of a cross-prediction,
    one row per chip, with density_class -1 (unknown). A chip whose valid fraction (chip table)
    is below `min_valid_fraction` (chips.min_valid_fraction) gets no class: predicted_class
    empty and NaN probabilities, counted in the log."""
    forest = load_forests(forests)
    frames = [read_features(features_half0), read_features(features_half1)]
    seeds = member_seeds(frames, "classify_chips")
    if sorted(forest) != seeds:
        raise InputError(
            f"forests {forests} are of seeds {sorted(forest)}, the features of seeds {seeds}; expected the same"
        )
    ids = frames[0][seeds[0]]["chip"].to_numpy()
    table = read_chips_table(chips_table).set_index("chip")
    absent = np.setdiff1d(ids, table.index.to_numpy())
    if absent.size:
        raise InputError(
            f"classify_chips: chip ids {absent[:5].tolist()} (of {absent.size}) of {features_half0} are not in the "
            "chip table; expected the table of the same chips"
        )
    short = below_min_valid(table.loc[ids].reset_index(), min_valid_fraction, "classify_chips")
    keep = ids[~short]
    prob = np.full((ids.size, len(CLASSES)), np.nan)
    prob[~short] = np.mean(
        [
            forest_proba(forest[s][k], _finite(member_features(frames[k][s], keep, f"features of half {k}"), k, s))
            for s in seeds
            for k in (0, 1)
        ],
        axis=0,
    )
    pred = pd.DataFrame(
        {"chip": ids, "half": -1, "density_class": -1, **{f"prob_class{c}": prob[:, c] for c in CLASSES}}
    )
    predicted = np.full(ids.size, -1)
    predicted[~short] = prob[~short].argmax(axis=1)
    pred["predicted_class"] = pd.array(np.where(short, pd.NA, predicted), dtype="Int8")
    pred = pred[PREDICTION_COLUMNS]
    with atomic_path(predictions_out) as tmp:
        pred.to_csv(tmp, index=False)
    log.info(
        "rapid response: %d chips classified, predicted classes %s; %d chips without prediction: valid fraction "
        "(SAR and DEM) below chips.min_valid_fraction %g",
        int((~short).sum()),
        {int(c): int(n) for c, n in pred["predicted_class"].value_counts().sort_index().items()},
        int(short.sum()),
        min_valid_fraction,
    )
    return pred


def _finite(x: np.ndarray, half: int, seed: int) -> np.ndarray:
    """The features of chips to classify, refused if any is NaN (a chip with no valid pixel:
    predict_density gives it NaN features, and such a chip is below any min_valid_fraction)."""
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise InputError(
            f"classify_chips: features of half {half}, seed {seed} are NaN for {int(bad.sum())} chip(s) with enough "
            "valid pixels by the chip table; expected finite features (chips and features of the same run)"
        )
    return x
