"""The information limit of a synthetic area: what a model that knew the generated landslide
rate itself would score. Never used by training or prediction; only the reference row.

The twin draws heads from an inhomogeneous Poisson process of known rate (truth.tif band
"rate", expected heads per pixel), so a chip's head count is Poisson with mean mu = (1 - omission)
x the rate summed over the chip (the mapped inventory misses `omission` of the heads at random).
Class probabilities follow from the Poisson distribution and the class edges; their AUC against
the observed classes is the best any model can reach on these chips: the rest is the Poisson
draw itself. (The inventory's position error moves a few heads across chip edges; ignored.)
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import rasterio
from rasterio.windows import from_bounds
from scipy.stats import poisson

from landslide_sar.density.chip_io import read_chips_table
from landslide_sar.density.evaluate import CLASSES, METRIC_COLUMNS, class_metrics
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import DEFAULT_BOOTSTRAP, auc_interval

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The subset name of the oracle row in metrics tables.
ORACLE = "oracle_rate"
#: ... and of its DEM row: the terrain part of the rate alone (truth.tif band terrain_rate).
ORACLE_DEM = "oracle_dem"


def class_probabilities(mu: np.ndarray, chip_km2: float, class_edges: Sequence[float]) -> np.ndarray:
    """(n, 3) P(class) of Poisson head counts with means mu on chips of chip_km2, for the chips'
    classes: 0 up to edges[0] per km², 1 up to edges[1], 2 above (chips.density_class)."""
    mu = np.asarray(mu, dtype=np.float64)
    k0, k1 = (math.floor(e * chip_km2 + 1e-9) for e in class_edges)  # most heads still in class 0 / 1
    c0 = poisson.cdf(k0, mu)
    c1 = poisson.cdf(k1, mu)
    return np.stack([c0, c1 - c0, 1.0 - c1], axis=1)


def chip_expected_counts(truth_tif: PathLike, chips: pd.DataFrame, band_name: str = "rate") -> np.ndarray:
    """The rate (or another band of the truth) summed over each chip's box (the chips table's
    geometry, on the truth's grid)."""
    with rasterio.open(truth_tif) as src:
        names = list(src.descriptions)
        if band_name not in names:
            raise InputError(f"{truth_tif}: no {band_name!r} band (bands {names}); expected the generated truth")
        band = names.index(band_name) + 1
        out = np.empty(len(chips))
        for i, geom in enumerate(chips.geometry):
            win = from_bounds(*geom.bounds, transform=src.transform).round_offsets().round_lengths()
            out[i] = float(np.nansum(src.read(band, window=win, boundless=True, fill_value=0.0), dtype=np.float64))
    return out


def oracle_metrics(
    chips_table: PathLike,
    truth_tif: PathLike,
    class_edges: Sequence[float],
    omission_rate: float,
    bootstrap: Mapping | None,
    metrics_out: PathLike,
) -> pd.DataFrame:
    """Write the oracle rows (seed empty, ensemble False, split "both") in the metrics layout, over the chips
    the nets are scored on (train and val of both halves), each with its bootstrap interval:
    subset "oracle_rate", the AUC of the Poisson class probabilities of the true expected counts
    (the information limit); and, when the truth has the band terrain_rate, subset "oracle_dem":
    the same from the terrain part of the rate alone (slope and concavity: what a model of the
    DEM could know), scaled to the area's mean rate (one factor for every chip: the level a
    model fitted to the inventory would learn)."""
    import geopandas as gpd

    if not 0 <= omission_rate < 1:
        raise InputError(f"inventory_omission_rate={omission_rate!r}; expected in [0, 1)")
    table = gpd.read_file(chips_table, layer="chips")
    read_chips_table(table)  # the columns every metrics step needs
    table = table[table["half"].isin([0, 1]) & table["subset"].isin(["train", "val"])].sort_values("chip")
    if table.empty:
        raise InputError(f"{chips_table}: no chips in train or val; expected a labelled area")
    bounds = table.geometry.iloc[0].bounds
    chip_km2 = (bounds[2] - bounds[0]) * (bounds[3] - bounds[1]) / 1e6
    mu = (1.0 - omission_rate) * chip_expected_counts(truth_tif, table)
    means = {ORACLE: mu}
    with rasterio.open(truth_tif) as src:
        has_terrain = "terrain_rate" in src.descriptions
    if has_terrain:
        terrain = chip_expected_counts(truth_tif, table, "terrain_rate")
        means[ORACLE_DEM] = terrain * (mu.sum() / terrain.sum()) if terrain.sum() > 0 else terrain
    y = table["density_class"].to_numpy(dtype=int)
    ev = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    rows = []
    for subset, m in means.items():
        prob = class_probabilities(m, chip_km2, class_edges)
        iv = auc_interval(y, prob, CLASSES, int(ev["samples"]), int(ev["seed"]), float(ev["interval"]))
        rows.append(
            {
                "seed": pd.NA,
                ENSEMBLE: False,
                "split": "both",
                "subset": subset,
                **class_metrics(y, prob, subset),
                "auc_ci_low": iv.low,
                "auc_ci_high": iv.high,
            }
        )
        logger.info(
            "%s (%d chips, mean %.1f heads per chip): AUC %.3f [%.3f, %.3f]",
            subset,
            len(y),
            m.mean(),
            rows[-1]["auc_macro_ovr"],
            iv.low,
            iv.high,
        )
    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS).astype(METRICS_DTYPES)
    with atomic_path(metrics_out) as tmp:
        metrics.to_csv(tmp, index=False)
    return metrics
