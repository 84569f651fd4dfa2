"""Rapid response: the models and forests trained on one area classify every chip of a new area
that has SAR and a DEM but no inventory."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

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
    features_half0: PathLike, features_half1: PathLike, forests: PathLike, predictions_out: PathLike
) -> pd.DataFrame:
    """Class probabilities of every chip: for each member (training seed) and half, that half's
    forest on the features its own model gave, averaged over halves and members (an ensemble of
    models that never saw this area). The predictions CSV has the columns of a cross-prediction,
    with density_class -1 (unknown)."""
    forest = load_forests(forests)
    frames = [read_features(features_half0), read_features(features_half1)]
    seeds = member_seeds(frames, "classify_chips")
    if sorted(forest) != seeds:
        raise InputError(
            f"forests {forests} are of seeds {sorted(forest)}, the features of seeds {seeds}; expected the same"
        )
    ids = frames[0][seeds[0]]["chip"].to_numpy()
    prob = np.mean(
        [
            forest_proba(forest[s][k], member_features(frames[k][s], ids, f"features of half {k}"))
            for s in seeds
            for k in (0, 1)
        ],
        axis=0,
    )
    pred = pd.DataFrame(
        {"chip": ids, "half": -1, "density_class": -1, **{f"prob_class{c}": prob[:, c] for c in CLASSES}}
    )
    pred["predicted_class"] = prob.argmax(axis=1)
    pred = pred[PREDICTION_COLUMNS]
    with atomic_path(predictions_out) as tmp:
        pred.to_csv(tmp, index=False)
    log.info(
        "rapid response: %d chips classified, predicted classes %s",
        len(pred),
        pred["predicted_class"].value_counts().sort_index().to_dict(),
    )
    return pred
