"""Apply a half's trained model to every chip: percentile features for the forest, embedding maps.

Each chip's output map is summarised by the percentiles of its valid pixels (the paper's 19
values p05..p95); the maps themselves go to a zarr for figures.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
import xarray as xr

from landslide_sar.density.chip_io import channel_names, load_chips, open_chips
from landslide_sar.density.model import DensityNet, build_density_net
from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn.fit import load_checkpoint
from landslide_sar.nn.preprocess import standardise_in_place, to_model_units
from landslide_sar.nn.runtime import progress, resolve_device, set_threads

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def percentile_columns(percentiles: Sequence[float]) -> list[str]:
    """Feature column names: 5 -> "p05", 50 -> "p50", 2.5 -> "p2.5"."""
    cols = [f"p{int(p):02d}" if float(p).is_integer() else f"p{float(p):g}" for p in percentiles]
    if len(set(cols)) != len(cols) or not all(0 <= float(p) <= 100 for p in percentiles):
        raise InputError(f"percentiles={list(percentiles)}; expected distinct values in [0, 100]")
    return cols


def percentile_features(maps: np.ndarray, percentiles: Sequence[float], valid: np.ndarray | None = None) -> np.ndarray:
    """(n, len(percentiles)) percentiles (numpy's linear method) of each map (n, H, W).

    Only pixels where `valid` is True count; a map with no valid pixel uses all its pixels, so
    features are never NaN (such chips are excluded from the chip table anyway).
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(maps.shape[0], -1)
    q = np.asarray(percentiles, dtype=np.float64)
    out = np.empty((flat.shape[0], q.size), dtype=np.float64)
    ok = np.ones(flat.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).reshape(flat.shape)
    for i in range(flat.shape[0]):
        v = flat[i][ok[i]] if ok[i].any() else flat[i]
        out[i] = np.percentile(v, q)
    return out


def load_model(model_path: PathLike, device: torch.device | str = "cpu") -> tuple[DensityNet, dict]:
    """The trained DensityNet ensemble (eval mode, on `device`) and its checkpoint dict."""
    ckpt = load_checkpoint(model_path)
    model = build_density_net(ckpt["config"], int(ckpt["config"].get("members", 1)), torch.device(device))
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt


def predict_density(
    chips_zarr: PathLike,
    model_path: PathLike,
    percentiles: Sequence[float],
    threads: int,
    features_out: PathLike,
    embeddings_out: PathLike,
    *,
    batch_size: int = 16,
    device: str = "auto",
) -> None:
    """Run every member of the saved model on EVERY chip of `chips_zarr` and write the outputs per
    member (see write_predictions): rapid response's prediction on a new area."""
    set_threads(threads)
    dev = resolve_device(device)
    model, ckpt = load_model(model_path, dev)
    write_predictions(model, ckpt, open_chips(chips_zarr), percentiles, features_out, embeddings_out,
                      batch_size=batch_size, device=dev, source=str(model_path))  # fmt: skip


def write_predictions(
    model: DensityNet,
    ckpt: dict,
    ds: xr.Dataset,
    percentiles: Sequence[float],
    features_out: PathLike,
    embeddings_out: PathLike,
    *,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
    source: str = "",
) -> None:
    """Run every member of `model` (checkpoint dict `ckpt`: channels, is_sar, mean, std, seeds)
    on EVERY chip of `ds` (batched, no grad) and write the outputs per member.

    features_out: CSV with seed, chip and one column per percentile (p05, p10, ... of the valid
    pixels of the member's output map), one row per (seed, chip). embeddings_out: zarr Dataset,
    variable `embedding` (seed, chip, y, x) float16, the output maps with NaN where an input
    channel is nodata.
    """
    dev = torch.device(device)
    cols = percentile_columns(percentiles)
    model = model.to(dev).eval()
    channels, is_sar = list(ckpt["channels"]), list(ckpt["is_sar"])
    mean, std = np.asarray(ckpt["mean"]), np.asarray(ckpt["std"])
    names = channel_names(ds)
    missing = [c for c in channels if c not in names]
    if missing:
        raise InputError(f"chips lack channel(s) {missing} the model {source} was trained on")
    ids = ds["chip"].values
    seeds = [int(s) for s in ckpt["seeds"]]
    k, n, h, w = len(seeds), ids.size, ds.sizes["y"], ds.sizes["x"]
    emb = np.empty((k, n, h, w), dtype=np.float16)
    feats = np.empty((k, n, len(cols)), dtype=np.float64)
    block = max(batch_size, 128 // batch_size * batch_size)  # chips read from zarr at a time
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in progress(range(0, n, block), desc=f"predict half {ckpt.get('half')}", log=logger):
            z = to_model_units(load_chips(ds, ids[s : s + block], channels), is_sar)
            valid = np.isfinite(z).all(axis=1)
            standardise_in_place(z, mean, std)
            x = torch.from_numpy(z)
            maps = np.concatenate(
                [model(x[b : b + batch_size].to(dev)).float().cpu().numpy() for b in range(0, len(z), batch_size)]
            )  # (chips, K, H, W)
            for m in range(k):
                feats[m, s : s + len(z)] = percentile_features(maps[:, m], percentiles, valid)
                emb[m, s : s + len(z)] = np.where(valid, maps[:, m], np.nan)
    logger.info("predicted %d chips with %s in %.1f s", n, source or "the model", time.perf_counter() - t0)
    features = pd.DataFrame(feats.reshape(k * n, len(cols)), columns=cols)
    features.insert(0, "chip", np.tile(ids, k))
    features.insert(0, "seed", np.repeat(seeds, n))
    with atomic_path(features_out) as tmp:
        features.to_csv(tmp, index=False)
    coords = {"seed": seeds, "chip": ids}
    for name, coord in ds.coords.items():
        if name != "chip" and set(coord.dims) <= {"chip", "y", "x"}:
            coords[name] = (coord.dims, coord.values)
    out = xr.Dataset({"embedding": (("seed", "chip", "y", "x"), emb)}, coords=coords)
    out.attrs.update(
        model=source, inputs=str(ckpt.get("inputs")), revisits=int(ckpt.get("revisits", 0)),
        half=int(ckpt.get("half", -1)), channels=channels,
        description="DensityNet sigmoid output per pixel of each member (seed); NaN where an input channel is nodata",
    )  # fmt: skip
    encoding = {"embedding": {"chunks": (1, max(1, min(n, 64)), h, w)}}
    with atomic_path(embeddings_out) as tmp, warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is an extension of its format
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        out.to_zarr(tmp, mode="w", encoding=encoding)
