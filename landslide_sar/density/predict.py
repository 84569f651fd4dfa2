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
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import xarray as xr

from landslide_sar.density.change import load_model_units
from landslide_sar.density.chip_io import CHANGE_CHANNEL_RE, open_chips, stored_channels
from landslide_sar.density.model import DensityNet, build_density_net
from landslide_sar.density.transfer import check_rapid_files
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path, zarr_encoding
from landslide_sar.nn.fit import load_checkpoint
from landslide_sar.nn.preprocess import standardise_in_place
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

    Only pixels where `valid` is True count; a map with no valid pixel has NaN features (its
    output was computed from nodata set to the mean: nothing to summarise), never a class.
    """
    flat = np.asarray(maps, dtype=np.float64).reshape(maps.shape[0], -1)
    q = np.asarray(percentiles, dtype=np.float64)
    out = np.empty((flat.shape[0], q.size), dtype=np.float64)
    ok = np.ones(flat.shape, dtype=bool) if valid is None else np.asarray(valid, dtype=bool).reshape(flat.shape)
    for i in range(flat.shape[0]):
        out[i] = np.percentile(flat[i][ok[i]], q) if ok[i].any() else np.nan
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
    trained_chips: PathLike | None = None,
    trained_area: str = "",
    area: str = "",
) -> None:
    """Run every member of the saved model on EVERY chip of `chips_zarr` and write the outputs per
    member (see write_predictions): rapid response's prediction on a new area. With
    `trained_chips` (the chips zarr the model was trained on, of `trained_area`), first refuse
    (InputError, nothing written) chips of `area` at another resolution, chip size or channels
    (density.transfer.check_rapid_files)."""
    ckpt = load_checkpoint(model_path)
    ds = open_chips(chips_zarr)
    if trained_chips is not None:
        check_rapid_files(f"rapid_response.{area}", ckpt, open_chips(trained_chips), trained_area, ds, area)
    set_threads(threads)
    dev = resolve_device(device)
    model, ckpt = load_model(model_path, dev)
    write_predictions(
        model,
        ckpt,
        ds,
        percentiles,
        features_out,
        embeddings_out,
        batch_size=batch_size,
        device=dev,
        source=str(model_path),
    )


@dataclass(frozen=True)
class Prediction:
    """One trained ensemble to apply (model, its checkpoint dict) and where its outputs go."""

    model: DensityNet
    ckpt: dict
    features_out: PathLike
    embeddings_out: PathLike
    source: str = ""


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
    write_all_predictions(
        [Prediction(model, ckpt, features_out, embeddings_out, source)],
        ds,
        percentiles,
        batch_size=batch_size,
        device=device,
    )


def write_all_predictions(
    predictions: Sequence[Prediction],
    ds: xr.Dataset,
    percentiles: Sequence[float],
    *,
    batch_size: int = 16,
    device: torch.device | str = "cpu",
) -> None:
    """write_predictions for several ensembles on the same chips and channels (the two halves of
    one experiment), reading each block of chips and converting it to model units ONCE for all
    of them (each standardises its own copy with its own statistics): the same outputs as one
    call per ensemble, with one chip read instead of one per ensemble."""
    if not predictions:
        return
    dev = torch.device(device)
    cols = percentile_columns(percentiles)
    channels, is_sar = list(predictions[0].ckpt["channels"]), list(predictions[0].ckpt["is_sar"])
    names = stored_channels(ds)
    for p in predictions:
        if list(p.ckpt["channels"]) != channels or list(p.ckpt["is_sar"]) != is_sar:
            raise InputError(
                f"write_all_predictions: model {p.source} reads channels {list(p.ckpt['channels'])}; "
                f"expected the same as the first model's {channels}"
            )
    missing = [c for c in channels if c not in names and not CHANGE_CHANNEL_RE.match(c)]
    if missing:
        raise InputError(f"chips lack channel(s) {missing} the model {predictions[0].source} was trained on")
    ids = ds["chip"].values
    n, h, w = ids.size, ds.sizes["y"], ds.sizes["x"]
    seeds = [[int(s) for s in p.ckpt["seeds"]] for p in predictions]
    emb = [np.empty((len(k), n, h, w), dtype=np.float16) for k in seeds]
    feats = [np.empty((len(k), n, len(cols)), dtype=np.float64) for k in seeds]
    models = [p.model.to(dev).eval() for p in predictions]
    stats = [(np.asarray(p.ckpt["mean"]), np.asarray(p.ckpt["std"])) for p in predictions]
    block = max(batch_size, 128 // batch_size * batch_size)  # chips read from zarr at a time
    halves = ", ".join(str(p.ckpt.get("half")) for p in predictions)
    t0 = time.perf_counter()
    with torch.no_grad():
        for s in progress(range(0, n, block), desc=f"predict half {halves}", log=logger):
            raw, _ = load_model_units(ds, ids[s : s + block], channels, is_sar, predictions[0].ckpt.get("label_free"))
            valid = np.isfinite(raw).all(axis=1)
            for j, (model, (mean, std)) in enumerate(zip(models, stats)):
                z = raw.copy() if j < len(models) - 1 else raw  # the last ensemble standardises the block itself
                standardise_in_place(z, mean, std)
                x = torch.from_numpy(z)
                maps = np.concatenate(
                    [model(x[b : b + batch_size].to(dev)).float().cpu().numpy() for b in range(0, len(z), batch_size)]
                )  # (chips, K, H, W)
                for m in range(len(seeds[j])):
                    feats[j][m, s : s + len(z)] = percentile_features(maps[:, m], percentiles, valid)
                    emb[j][m, s : s + len(z)] = np.where(valid, maps[:, m], np.nan)
    logger.info(
        "predicted %d chips with %s in %.1f s",
        n,
        ", ".join(p.source or "the model" for p in predictions),
        time.perf_counter() - t0,
    )
    for p, k, f, e in zip(predictions, seeds, feats, emb):
        _write_outputs(p, ds, k, f, e, cols)


def _write_outputs(
    p: Prediction, ds: xr.Dataset, seeds: list[int], feats: np.ndarray, emb: np.ndarray, cols: list[str]
) -> None:
    """One ensemble's features CSV and embeddings zarr (see write_predictions)."""
    ids = ds["chip"].values
    k, n, h, w = emb.shape
    features = pd.DataFrame(feats.reshape(k * n, len(cols)), columns=cols)
    features.insert(0, "chip", np.tile(ids, k))
    features.insert(0, "seed", np.repeat(seeds, n))
    with atomic_path(p.features_out) as tmp:
        features.to_csv(tmp, index=False)
    coords = {"seed": seeds, "chip": ids}
    for name, coord in ds.coords.items():
        if name != "chip" and set(coord.dims) <= {"chip", "y", "x"}:
            coords[name] = (coord.dims, coord.values)
    out = xr.Dataset({"embedding": (("seed", "chip", "y", "x"), emb)}, coords=coords)
    ckpt = p.ckpt
    out.attrs.update(
        model=p.source,
        inputs=str(ckpt.get("inputs")),
        revisits=int(ckpt.get("revisits", 0)),
        half=int(ckpt.get("half", -1)),
        channels=list(ckpt["channels"]),
        description="DensityNet sigmoid output per pixel of each member (seed); NaN where an input channel is nodata",
    )
    encoding = {"embedding": {"chunks": (1, max(1, min(n, 64)), h, w)}}
    with atomic_path(p.embeddings_out) as tmp, warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is an extension of its format
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        out.to_zarr(tmp, mode="w", encoding=zarr_encoding(out, encoding))
