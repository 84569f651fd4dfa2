"""Rapid response: the models and forests trained on one area classify every chip of a new area
that has SAR and a DEM but no inventory."""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd

from landslide_sar.density.forest_io import load_forests
from landslide_sar.density.evaluate import CLASSES, PREDICTION_COLUMNS, _features, _proba
from landslide_sar.io import atomic_path

log = logging.getLogger(__name__)

PathLike = str | os.PathLike


def classify_chips(features_half0: PathLike, features_half1: PathLike, forests: PathLike, predictions_out: PathLike) -> pd.DataFrame:
    """Class probabilities of every chip: each half's forest on the features its own model gave,
    averaged over the two halves (an ensemble of two models that never saw this area). The
    predictions CSV has the columns of a cross-prediction, with density_class -1 (unknown)."""
    forest = load_forests(forests)
    frames = [pd.read_csv(features_half0), pd.read_csv(features_half1)]
    ids = frames[0]["chip"].to_numpy()
    prob = np.mean([_proba(forest[k], _features(frames[k], ids, f"features of half {k}")) for k in (0, 1)], axis=0)
    pred = pd.DataFrame({"chip": ids, "half": -1, "density_class": -1, **{f"prob_class{c}": prob[:, c] for c in CLASSES}})
    pred["predicted_class"] = prob.argmax(axis=1)
    pred = pred[PREDICTION_COLUMNS]
    with atomic_path(predictions_out) as tmp:
        pred.to_csv(tmp, index=False)
    log.info("rapid response: %d chips classified, predicted classes %s", len(pred), pred["predicted_class"].value_counts().sort_index().to_dict())
    return pred
