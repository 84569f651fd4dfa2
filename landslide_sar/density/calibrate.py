"""Calibration of the density map's class probabilities: fitted on the val chips of each half
(predicted by that half's own nets and forest: predictions_val.csv of evaluate_density), scored
on the cross-predicted chips (predictions.csv, the reported test set), the config's method kept
for the map (landslide_sar.calibration)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from landslide_sar.calibration import DEFAULT_BINS, Calibrator, ValidationSet, calibrate_and_report
from landslide_sar.errors import InputError

from .pool import PROB_COLUMNS

PathLike = str | os.PathLike
TEST_SET = "test (cross-predicted chips)"


def _read(path: PathLike, where: str) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    df = pd.read_csv(path)
    missing = [c for c in ["density_class", *PROB_COLUMNS] if c not in df]
    if missing:
        raise InputError(f"{where} {path} lacks columns {missing}; expected evaluate_density's")
    df = df[df[PROB_COLUMNS].notna().all(axis=1)]
    return df[PROB_COLUMNS].to_numpy(dtype=float), df["density_class"].to_numpy(dtype=int), df


def density_calibration(
    predictions_val: PathLike,
    predictions: PathLike,
    *,
    method: str,
    calibration_out: PathLike,
    csv_out: PathLike,
    png_out: PathLike,
    bins: int = DEFAULT_BINS,
) -> Calibrator:
    """Fit none, temperature and isotonic on the val chips (predictions_val: must all be of
    subset "val"), score each on those chips (5-fold) and on the cross-predicted test chips
    (predictions); keep `method` (config calibration.density) in calibration_out (JSON), every
    method's ECE per class and top label in csv_out, reliability diagrams in png_out."""
    prob_v, y_v, val = _read(predictions_val, "validation predictions")
    if "subset" not in val:
        raise InputError(f"validation predictions {predictions_val} lack column subset; expected evaluate_density's")
    prob_t, y_t, _ = _read(predictions, "predictions")
    data = ValidationSet(prob_v, y_v, val["subset"].to_numpy(), where=f"density calibration {predictions_val}")
    return calibrate_and_report(
        data,
        {TEST_SET: (prob_t, y_t)},
        method=method,
        fitted_on="validation chips (each half's val chips, its own models)",
        calibration_out=calibration_out,
        csv_out=csv_out,
        png_out=png_out,
        title="density class probabilities",
        bins=bins,
        unit="chips",
    )
