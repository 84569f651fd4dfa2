"""Train the density network of one half: seeded Adam on the batch loss, early stopping on val loss.

The chips of the half (train + val) are read once into memory, block by block straight into one
float32 array in model units (no second whole copy of raw chips); standardisation statistics come
from that half's TRAIN chips only (accumulated over the blocks) and travel in the checkpoint, with
the channel names, so prediction preprocesses exactly as training did.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr
from tqdm import tqdm

from landslide_sar.density.evaluate import read_chips_table
from landslide_sar.density.model import (
    LABEL_CHANNEL,
    ChannelMoments,
    DensityNet,
    batch_loss,
    loss_from_sums,
    loss_sums,
    select_channels,
    standardise_in_place,
    to_model_units,
)
from landslide_sar.grid import InputError
from landslide_sar.io import LogStream, atomic_path, usable_threads

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


class _LogStream(LogStream):
    """LogStream for tqdm without the bar's opening 0% refresh, which says nothing in a log."""

    def write(self, text: str) -> None:
        if "| 0/" not in text:
            super().write(text)


def progress(iterable: Sequence | range, desc: str, log: logging.Logger = logger) -> tqdm:
    """A tqdm bar written to `log` at INFO; refreshed at most every 10 s so logs stay short."""
    return tqdm(
        iterable,
        desc=desc,
        file=_LogStream(log),
        mininterval=10.0,
        ascii=True,
        disable=not log.isEnabledFor(logging.INFO),
    )


def open_chips(chips_zarr: PathLike) -> xr.Dataset:
    """The chips Dataset, lazily (no dask): indexing reads only the chips and channels asked for."""
    return xr.open_zarr(chips_zarr, chunks=None)


def channel_names(ds: xr.Dataset) -> list[str]:
    """The chips' channel names, as str."""
    return [str(c) for c in ds["channel"].values]


def load_chips(ds: xr.Dataset, chip_ids: Sequence[int], channels: Sequence[str]) -> np.ndarray:
    """(len(chip_ids), len(channels), y, x) float32 for the given chip ids and channel names."""
    ids = np.asarray(chip_ids)
    if ids.size == 0:
        shape = (0, len(channels), ds.sizes["y"], ds.sizes["x"])
        return np.zeros(shape, dtype=np.float32)
    known = ds["chip"].values
    absent = np.setdiff1d(ids, known)
    if absent.size:
        raise InputError(f"chip ids {absent[:5].tolist()} (of {absent.size}) are not in the chips zarr")
    pos = pd.Index(known).get_indexer(ids)
    names = channel_names(ds)
    ch = [names.index(c) for c in channels]
    arr = ds["chips"].isel(chip=np.sort(pos), channel=ch).transpose("chip", "channel", "y", "x").values
    return np.ascontiguousarray(arr[np.argsort(np.argsort(pos))], dtype=np.float32)


#: Raw chips read at a time by load_standardised (bytes): bounds the memory beyond the result.
LOAD_BLOCK_BYTES = 64 * 2**20


def _blocks(ds: xr.Dataset, ids: np.ndarray, per_block: int) -> Iterator[tuple[int, int]]:
    """[s, e) ranges of `ids` to read together: at most per_block chips, and a new block wherever
    the next chip lies in another zarr chunk than the block's first (so each read decompresses
    few chunks: the chips zarr holds one row of chips per chunk)."""
    chunk = (ds["chips"].encoding.get("chunks") or (per_block,))[0]
    where = pd.Index(ds["chip"].values).get_indexer(ids) // max(1, chunk) if ids.size else ids
    s = 0
    for e in range(1, ids.size + 1):
        if e == ids.size or e - s >= per_block or where[e] != where[s]:
            yield s, e
            s = e


def load_standardised(
    ds: xr.Dataset, id_sets: Sequence[Sequence[int]], channels: Sequence[str], is_sar: Sequence[bool],
    block_bytes: int = LOAD_BLOCK_BYTES,
) -> tuple[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], np.ndarray, np.ndarray]:
    """(x, label, valid) tensors of each id set, and the mean and std of the FIRST set's chips.

    The same values as model.channel_stats on the first set's raw chips and model.standardise of
    each set, but read `block_bytes` of raw chips at a time into one preallocated float32 array
    per set, standardised in place once the statistics are known."""
    chip_bytes = (len(channels) + 1) * ds.sizes["y"] * ds.sizes["x"] * 4
    per_block = max(1, block_bytes // chip_bytes)
    moments = ChannelMoments(len(channels))
    out = []
    for k, ids in enumerate(id_sets):
        ids = np.asarray(ids)
        x = np.empty((ids.size, len(channels), ds.sizes["y"], ds.sizes["x"]), dtype=np.float32)
        label = np.empty((ids.size, ds.sizes["y"], ds.sizes["x"]), dtype=bool)
        valid = np.empty_like(label)
        for s, e in _blocks(ds, ids, per_block):
            raw = load_chips(ds, ids[s:e], [*channels, LABEL_CHANNEL])
            z = to_model_units(raw[:, :-1], is_sar)
            if k == 0:
                moments.add(z)
            x[s:e] = z
            valid[s:e] = np.isfinite(z).all(axis=1)
            label[s:e] = np.nan_to_num(raw[:, -1], nan=0.0) > 0.5
            del raw, z
        out.append((x, label, valid))
    mean, std = moments.stats()
    for x, _, _ in out:
        for s in range(0, x.shape[0], per_block):  # block by block: bounded temporaries
            standardise_in_place(x[s : s + per_block], mean, std)
    return [tuple(torch.from_numpy(a) for a in t) for t in out], mean, std


def resolve_device(device: str) -> torch.device:
    """ "auto" -> cuda when available, else cpu; anything else as given (cuda must be available)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InputError(f"device={device!r} but CUDA is not available; expected auto or cpu")
    return dev


@contextlib.contextmanager
def deterministic(seed: int) -> Iterator[None]:
    """Seed torch and use deterministic algorithms inside the block (restored after)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    prev_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = prev_cudnn


def _cfg(cfg: Mapping, key: str, where: str) -> Any:
    """cfg[key], or a one-line InputError naming the missing key."""
    if key not in cfg:
        raise InputError(f"{where} lacks {key!r}; has {sorted(cfg)}")
    return cfg[key]


@torch.no_grad()
def dataset_loss(
    model: DensityNet, x: torch.Tensor, y: torch.Tensor, valid: torch.Tensor, batch_size: int, device: torch.device
) -> float:
    """batch_loss over ALL chips given (E+ and E- pooled over them), evaluated in batches."""
    model.eval()
    sums = [torch.zeros((), dtype=torch.float64) for _ in range(4)]
    for s in range(0, x.shape[0], batch_size):
        out = model(x[s : s + batch_size].to(device))
        parts = loss_sums(out, y[s : s + batch_size].to(device), valid[s : s + batch_size].to(device))
        sums = [a + b.detach().double().cpu() for a, b in zip(sums, parts)]
    return float(loss_from_sums(*sums))


def train_density(
    chips_zarr: PathLike,
    chips_table: PathLike | pd.DataFrame,
    half: int,
    inputs: str,
    revisits: int,
    model_cfg: Mapping,
    training_cfg: Mapping,
    threads: int,
    model_out: PathLike,
    history_out: PathLike,
) -> None:
    """Train the model of `half` on its train chips, early-stop on its val chips, save the best.

    model_cfg: width, depth, dilated, batch_norm. training_cfg: seed,
    max_epochs, batch_size, learning_rate, patience, device ("auto", "cpu", "cuda"). The checkpoint
    (torch.save of tensors and primitive containers, loadable with weights_only=True) holds
    state_dict, model config, channel names, standardisation stats, best_epoch and the run's
    settings; history_out is a CSV: epoch, train_loss, val_loss, seconds. Same seed, threads and
    device give identical weights and history.
    """
    if half not in (0, 1):
        raise InputError(f"half={half!r}; expected 0 or 1")
    width, depth = int(_cfg(model_cfg, "width", "model_cfg")), int(_cfg(model_cfg, "depth", "model_cfg"))
    dilated = bool(_cfg(model_cfg, "dilated", "model_cfg"))
    batch_norm = bool(_cfg(model_cfg, "batch_norm", "model_cfg"))
    seed = int(_cfg(training_cfg, "seed", "training_cfg"))
    max_epochs = int(_cfg(training_cfg, "max_epochs", "training_cfg"))
    batch_size = int(_cfg(training_cfg, "batch_size", "training_cfg"))
    lr = float(_cfg(training_cfg, "learning_rate", "training_cfg"))
    patience = int(_cfg(training_cfg, "patience", "training_cfg"))
    device = resolve_device(str(_cfg(training_cfg, "device", "training_cfg")))
    if min(max_epochs, batch_size, patience) < 1:
        raise InputError(f"max_epochs={max_epochs}, batch_size={batch_size}, patience={patience}; expected all >= 1")
    torch.set_num_threads(usable_threads(threads))

    table = read_chips_table(chips_table)
    mine = table[table["half"] == half]
    train_ids = mine.loc[mine["subset"] == "train", "chip"].to_numpy()
    val_ids = mine.loc[mine["subset"] == "val", "chip"].to_numpy()
    if train_ids.size == 0:
        raise InputError(f"half {half} has no train chips in the chip table; expected some")

    ds = open_chips(chips_zarr)
    names = channel_names(ds)
    if LABEL_CHANNEL not in names:
        raise InputError(f"chips lack the {LABEL_CHANNEL!r} channel; channels are {names}")
    dem_idx, sar_idx = select_channels(names, inputs, revisits)
    channels = [names[i] for i in dem_idx + sar_idx]
    is_sar = [False] * len(dem_idx) + [True] * len(sar_idx)

    t_load = time.perf_counter()
    # TRAIN chips of this half first: the standardisation statistics come from them only
    ((x_tr, y_tr, v_tr), (x_va, y_va, v_va)), mean, std = load_standardised(ds, [train_ids, val_ids], channels, is_sar)
    logger.info(
        "half %d, inputs %s, revisits %d: %d train / %d val chips, %d channels %s, loaded in %.1f s, device %s",
        half, inputs, revisits, len(train_ids), len(val_ids), len(channels), channels,
        time.perf_counter() - t_load, device,
    )  # fmt: skip
    if val_ids.size == 0:
        logger.warning("half %d has no val chips: early stopping and model selection use the train loss", half)

    history: list[dict] = []
    with deterministic(seed):
        model = DensityNet(len(dem_idx), len(sar_idx), width, depth, dilated=dilated, batch_norm=batch_norm).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr)
        gen = torch.Generator().manual_seed(seed)
        best = (float("inf"), 0, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
        stale = 0
        t_train = time.perf_counter()
        for epoch in range(1, max_epochs + 1):
            t0 = time.perf_counter()
            model.train()
            perm = torch.randperm(x_tr.shape[0], generator=gen)
            losses = []
            bar = progress(range(0, x_tr.shape[0], batch_size), desc=f"half {half} epoch {epoch}/{max_epochs}")
            for s in bar:
                b = perm[s : s + batch_size]
                loss = batch_loss(model(x_tr[b].to(device)), y_tr[b].to(device), v_tr[b].to(device))
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
            bar.close()
            train_loss = float(np.mean(losses))
            if val_ids.size:
                val_loss = dataset_loss(model, x_va, y_va, v_va, batch_size, device)
            else:
                val_loss = float("nan")
            seconds = time.perf_counter() - t0
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, "seconds": seconds})
            monitored = val_loss if val_ids.size else train_loss
            improved = monitored < best[0]
            if improved:
                best = (monitored, epoch, {k: v.detach().cpu().clone() for k, v in model.state_dict().items()})
                stale = 0
            else:
                stale += 1
            logger.info(
                "half %d epoch %d: train loss %.4f, val loss %.4f, %.2f s%s",
                half, epoch, train_loss, val_loss, seconds, " (best)" if improved else "",
            )  # fmt: skip
            if stale >= patience:
                logger.info("half %d: no val improvement for %d epochs, stopping", half, patience)
                break
        train_seconds = time.perf_counter() - t_train

    best_loss, best_epoch, best_state = best
    logger.info(
        "half %d: trained %d epochs in %.1f s (%.2f s/epoch); best epoch %d, %s loss %.4f",
        half, len(history), train_seconds, train_seconds / len(history), best_epoch,
        "val" if val_ids.size else "train", best_loss,
    )  # fmt: skip
    checkpoint = {
        "state_dict": best_state,
        "config": {
            "n_dem": len(dem_idx), "n_sar": len(sar_idx), "width": width, "depth": depth,
            "dilated": dilated, "batch_norm": batch_norm,
        },
        "channels": channels,
        "is_sar": is_sar,
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std),
        "inputs": inputs,
        "revisits": int(revisits),
        "half": int(half),
        "best_epoch": int(best_epoch),
        "best_loss": float(best_loss),
        "epochs_run": len(history),
        "train_seconds": float(train_seconds),
        "n_train": int(train_ids.size),
        "n_val": int(val_ids.size),
        "training": {
            "seed": seed, "max_epochs": max_epochs, "batch_size": batch_size, "learning_rate": lr,
            "patience": patience, "device": str(device), "threads": int(threads),
        },
        "torch_version": str(torch.__version__),
    }  # fmt: skip
    with atomic_path(model_out) as tmp:
        torch.save(checkpoint, tmp)
    with atomic_path(history_out) as tmp:
        pd.DataFrame(history, columns=["epoch", "train_loss", "val_loss", "seconds"]).to_csv(tmp, index=False)
