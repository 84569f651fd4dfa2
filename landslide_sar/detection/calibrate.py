"""Calibration of the mapped U-Net's pixel probabilities: fitted on the val chips of the
training region (predictions zarr of the mapped transfer experiment), scored on the test chips of
each region, the config's method kept for the probability COGs (landslide_sar.calibration)."""

from __future__ import annotations

import os
import warnings

import numpy as np
import xarray as xr

from landslide_sar.calibration import DEFAULT_BINS, Calibrator, ValidationSet, calibrate_and_report
from landslide_sar.errors import InputError

PathLike = str | os.PathLike


def region_test_set(region: str) -> str:
    """The name of a region's test pixels in calibration.csv and the COG's tag."""
    return f"test {region}"


def chip_pixels(pred: xr.Dataset, region: str, subset: str) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and labels of the valid pixels (finite probability) of `region`'s chips of
    `subset`, flattened."""
    sel = (np.asarray(pred["region"].values).astype(str) == region) & (
        np.asarray(pred["subset"].values).astype(str) == subset
    )
    idx = np.flatnonzero(sel)
    prob = pred["prob"].values[idx].astype("float64")
    keep = pred["valid"].values[idx].astype(bool) & np.isfinite(prob)
    return prob[keep], pred["label"].values[idx][keep].astype(int)


def detection_calibration(
    predictions_zarr: PathLike,
    *,
    train_region: str,
    method: str,
    calibration_out: PathLike,
    csv_out: PathLike,
    png_out: PathLike,
    bins: int = DEFAULT_BINS,
) -> Calibrator:
    """Fit none, temperature (on the pixels' logits) and isotonic on the valid pixels of
    `train_region`'s val chips, score each on those pixels (5-fold) and on the test chips of
    every region in the predictions; keep `method` (config calibration.detection) in
    calibration_out (JSON), every method's ECE in csv_out, reliability diagrams in png_out."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        pred = xr.open_zarr(predictions_zarr).load()
    prob_v, y_v = chip_pixels(pred, train_region, "val")
    if not y_v.size:
        raise InputError(f"{predictions_zarr} holds no valid pixel of a val chip of {train_region}; expected some")
    regions = list(dict.fromkeys([train_region, *np.asarray(pred["region"].values).astype(str).tolist()]))
    scored = {region_test_set(r): chip_pixels(pred, r, "test") for r in regions}
    scored = {k: v for k, v in scored.items() if v[1].size}
    data = ValidationSet(prob_v, y_v, np.full(y_v.size, "val"), where=f"detection calibration {predictions_zarr}")
    return calibrate_and_report(
        data,
        scored,
        method=method,
        fitted_on=f"pixels of the validation chips of {train_region}",
        calibration_out=calibration_out,
        csv_out=csv_out,
        png_out=png_out,
        title="U-Net pixel probabilities",
        bins=bins,
        unit="pixels",
    )
