"""The non-deep reference of the density grid: per-chip statistics of the SAR change and of the
DEM channels, fed to the same random forest as the nets' features (evaluate_density).

Per pixel the change of each polarisation is the mean over the first `revisits` post-event
acquisitions minus the mean over the pre-event ones, in dB (landslide scars darken VH and change
VV, storm damage too); each chip is summarised by the percentiles of its valid pixels of the VV
and VH change and of the four DEM channels. Nothing is learnt here, so both halves share one
features file; the forest of each half is fitted on that half's train chips only.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from landslide_sar.chips import DEM_CHANNELS
from landslide_sar.density.chip_io import SAR_CHANNEL_RE, open_chips, stored_channels
from landslide_sar.density.predict import percentile_columns
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn.preprocess import to_db
from landslide_sar.nn.runtime import progress

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The input set of the baseline experiments (results/<area>/density/baseline_r<revisits>/).
BASELINE = "baseline"
#: The per-pixel layers the baseline summarises, in its columns' order.
BASELINE_LAYERS: tuple[str, ...] = ("vv_change_db", "vh_change_db", *DEM_CHANNELS)


def change_layers(chips: np.ndarray, names: Sequence[str], revisits: int) -> np.ndarray:
    """(n, len(BASELINE_LAYERS), H, W) float32 of raw chips (n, C, H, W) with channel `names`:
    the VV and VH change (mean of post1..post<revisits> minus mean of the pre acquisitions, dB)
    and the DEM channels. A pixel NaN in any acquisition is NaN in its change."""
    names = [str(n) for n in names]
    parsed = {n: SAR_CHANNEL_RE.match(n) for n in names}
    n_post = max((int(m.group(3)) for m in parsed.values() if m and m.group(2) == "post"), default=0)
    if isinstance(revisits, bool) or not 1 <= int(revisits) <= n_post:
        raise InputError(
            f"revisits={revisits!r} but the chips hold {n_post} post-event acquisition(s); expected 1..{n_post}"
        )
    missing = [c for c in DEM_CHANNELS if c not in names]
    if missing:
        raise InputError(f"chips lack DEM channel(s) {missing}; expected {list(DEM_CHANNELS)}")
    out = []
    for pol in ("vv", "vh"):
        pre = [
            i for i, n in enumerate(names) if parsed[n] and parsed[n].group(1) == pol and parsed[n].group(2) == "pre"
        ]
        post = [
            i
            for i, n in enumerate(names)
            if parsed[n]
            and parsed[n].group(1) == pol
            and parsed[n].group(2) == "post"
            and int(parsed[n].group(3)) <= revisits
        ]
        if not pre:
            raise InputError(f"chips hold no pre-event {pol} channel; expected {pol}_pre1, ...")
        out.append(to_db(chips[:, post]).mean(axis=1) - to_db(chips[:, pre]).mean(axis=1))
    out += [chips[:, names.index(c)] for c in DEM_CHANNELS]
    return np.stack(out, axis=1).astype(np.float32)


def chip_statistics(layers: np.ndarray, percentiles: Sequence[float]) -> np.ndarray:
    """(n, L * P) percentiles of each layer's finite pixels per chip (layer-major columns); a
    layer with no finite pixel in a chip gives NaN (such chips are excluded from the metrics)."""
    n, n_layers = layers.shape[:2]
    flat = layers.reshape(n, n_layers, -1).astype(np.float64)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="All-NaN slice")  # the NaN result is intended
        stats = np.nanpercentile(flat, np.asarray(percentiles, dtype=np.float64), axis=2)  # (P, n, L)
    return np.transpose(stats, (1, 2, 0)).reshape(n, -1)


def baseline_features(
    chips_zarr: PathLike, revisits: int, percentiles: Sequence[float], features_out: PathLike
) -> None:
    """Write the baseline's features of every chip (chip + <layer>_<pXX> columns), the layout of
    predict_density's features.csv, so evaluate_density scores it exactly as it scores a net."""
    cols = [f"{layer}_{p}" for layer in BASELINE_LAYERS for p in percentile_columns(percentiles)]
    ds = open_chips(chips_zarr)
    names = stored_channels(ds)
    chip_ids = ds["chip"].values
    chunk = (ds["chips"].encoding.get("chunks") or (64,))[0]
    parts = []
    for s in progress(range(0, chip_ids.size, chunk), "baseline features", logger):
        raw = ds["chips"].isel(chip=slice(s, s + chunk)).transpose("chip", "channel", "y", "x").values
        parts.append(chip_statistics(change_layers(raw, names, revisits), percentiles))
    feats = pd.DataFrame(np.concatenate(parts), columns=cols)
    feats.insert(0, "chip", chip_ids)
    logger.info("baseline features of %d chips (%d revisits): %d columns", len(feats), revisits, len(cols))
    with atomic_path(features_out) as tmp:
        feats.to_csv(tmp, index=False)
