"""The detection oracle of a synthetic region: the AUPRC of the generated truth's covered
fraction (truth.tif band "landslide_fraction", the share of each pixel under a landslide body)
on the chips the U-Nets are scored on. It reads the truth, so it is a reference row only and never
a model input; what it misses is what the labels' rasterising adds (all-touched bodies) and nothing
any input could tell.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import rasterio
import xarray as xr

from landslide_sar.detection.evaluate import auprc, no_skill
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import auprc_interval

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
ORACLE = "oracle"  # the method of its rows
TRUTH_BAND = "landslide_fraction"
ORACLE_COLUMNS = [
    "experiment",
    "method",
    "seed",
    ENSEMBLE,
    "region",
    "subset",
    "auprc",
    "auprc_ci_low",
    "auprc_ci_high",
    "no_skill",
    "n_chips",
    "n_labelled_chips",
    "n_pixels",
    "n_positive",
]


def chip_truth(truth_tif: PathLike, chip_y: np.ndarray, chip_x: np.ndarray) -> np.ndarray:
    """(n, H, W) covered fraction at the chips' pixel centres (chip_y (n, H), chip_x (n, W)),
    read from the truth raster by coordinates (it must hold every chip pixel)."""
    with rasterio.open(truth_tif) as src:
        names = list(src.descriptions)
        if TRUTH_BAND not in names:
            raise InputError(f"{truth_tif}: no {TRUTH_BAND!r} band (bands {names}); expected the generated truth")
        band = src.read(names.index(TRUTH_BAND) + 1).astype(np.float64)
        t = src.transform
    cols = np.floor((chip_x - t.c) / t.a).astype(int)
    rows = np.floor((chip_y - t.f) / t.e).astype(int)
    if rows.min() < 0 or cols.min() < 0 or rows.max() >= band.shape[0] or cols.max() >= band.shape[1]:
        raise InputError(
            f"{truth_tif}: chips reach outside the truth raster {band.shape}; expected the region's own truth"
        )
    return band[rows[:, :, None], cols[:, None, :]]


def oracle_rows(
    predictions: Mapping[str, PathLike], truth: Mapping[str, PathLike], bootstrap: Mapping[str, Any]
) -> pd.DataFrame:
    """One oracle row per (experiment, region with a truth, subset) of each experiment kind's
    predictions zarr (any experiment of that kind: they share the chips), on the same valid pixels."""
    rows = []
    args = (int(bootstrap["samples"]), int(bootstrap["seed"]), float(bootstrap["interval"]))
    for experiment, path in predictions.items():
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
            pred = xr.open_zarr(path).load()
        region_of = np.asarray(pred["region"].values).astype(str)
        subset_of = np.asarray(pred["subset"].values).astype(str)
        for region in dict.fromkeys(region_of):
            if region not in truth:
                continue
            for subset in dict.fromkeys(subset_of[region_of == region]):
                sel = np.flatnonzero((region_of == region) & (subset_of == subset))
                label = pred["label"].values[sel]
                valid = pred["valid"].values[sel].astype(bool)
                score = chip_truth(truth[region], pred["chip_y"].values[sel], pred["chip_x"].values[sel])
                iv = auprc_interval(label, score, valid, *args)
                rows.append(
                    {
                        "experiment": experiment,
                        "method": ORACLE,
                        "seed": pd.NA,
                        ENSEMBLE: False,
                        "region": region,
                        "subset": subset,
                        "auprc": auprc(label, score, valid),
                        "auprc_ci_low": iv.low,
                        "auprc_ci_high": iv.high,
                        "no_skill": no_skill(label, valid),
                        "n_chips": len(sel),
                        "n_labelled_chips": int(((label > 0) & valid).any(axis=(1, 2)).sum()),
                        "n_pixels": int(valid.sum()),
                        "n_positive": int((label > 0)[valid].sum()),
                    }
                )
    return pd.DataFrame(rows, columns=ORACLE_COLUMNS).astype(METRICS_DTYPES)


def detection_oracle(
    predictions: Mapping[str, PathLike],
    truth_regions: Sequence[str],
    truth: Sequence[PathLike],
    bootstrap: Mapping[str, Any],
    metrics_out: PathLike,
) -> pd.DataFrame:
    """Write the oracle rows (ORACLE_COLUMNS) of the synthetic regions `truth_regions` (their
    truth rasters `truth`, in that order) on the chips of `predictions` (experiment -> zarr)."""
    if len(truth_regions) != len(truth):
        raise InputError(f"{len(truth_regions)} regions for {len(truth)} truth rasters; expected one each")
    table = oracle_rows(predictions, dict(zip(truth_regions, truth)), bootstrap)
    with atomic_path(metrics_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    for _, r in table.iterrows():
        logger.info(
            "oracle %-8s %-10s %-5s AUPRC %.3f [%.3f, %.3f] on %d chips",
            r["experiment"],
            r["region"],
            r["subset"],
            r["auprc"],
            r["auprc_ci_low"],
            r["auprc_ci_high"],
            r["n_chips"],
        )
    return table
