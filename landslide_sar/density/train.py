"""Train the density networks of one half: a seed ensemble (one member per training seed, all
trained at once by landslide_sar.nn.fit) on the batch loss, early stopping on the val loss.

The chips of the half (train + val) are read once into memory, block by block straight into one
float32 array in model units (no second whole copy of raw chips); standardisation statistics come
from that half's TRAIN chips only (accumulated over the blocks) and travel in the checkpoint, with
the channel names, so prediction preprocesses exactly as training did.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
import xarray as xr

from landslide_sar.chips import LABEL_CHANNEL
from landslide_sar.density.change import load_model_units
from landslide_sar.density.chip_io import model_channels, open_chips, read_chips_table, stored_channels
from landslide_sar.density.model import (
    GROUPED,
    DensityNet,
    block_counts,
    build_density_net,
    loss_from_sums,
    multilook_chips,
    weighted_loss_sums,
)
from landslide_sar.density.predict import Prediction, write_all_predictions
from landslide_sar.errors import InputError
from landslide_sar.nn.ensemble import pack_states
from landslide_sar.nn.fit import FitConfig, fit_ensemble, save_checkpoint, save_history
from landslide_sar.nn.preprocess import ChannelMoments, standardise_in_place
from landslide_sar.nn.runtime import resolve_device, set_threads

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


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
    ds: xr.Dataset,
    id_sets: Sequence[Sequence[int]],
    channels: Sequence[str],
    is_sar: Sequence[bool],
    block_bytes: int = LOAD_BLOCK_BYTES,
    label_free: Mapping | None = None,
) -> tuple[list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], np.ndarray, np.ndarray]:
    """(x, label, valid) tensors of each id set, and the mean and std of the FIRST set's chips.

    The same values as model.channel_stats on the first set's raw chips and model.standardise of
    each set, but read `block_bytes` of raw chips at a time into one preallocated float32 array
    per set, standardised in place once the statistics are known. `label_free`: the settings of
    the change channels (inputs "change"; density.change.load_model_units)."""
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
            z, raw = load_model_units(ds, ids[s:e], channels, is_sar, label_free, extra=[LABEL_CHANNEL])
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


def _cfg(cfg: Mapping, key: str, where: str) -> Any:
    """cfg[key], or a one-line InputError naming the missing key."""
    if key not in cfg:
        raise InputError(f"{where} lacks {key!r}; has {sorted(cfg)}")
    return cfg[key]


def training_seeds(training_cfg: Mapping) -> list[int]:
    """The training seeds of a config section: `seeds` (a list; one member per seed)."""
    seeds = _cfg(training_cfg, "seeds", "training_cfg")
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        seeds = [seeds]
    if (
        not isinstance(seeds, (list, tuple))
        or not seeds
        or any(isinstance(s, bool) or not isinstance(s, (int, np.integer)) for s in seeds)
    ):
        raise InputError(f"training.seeds={seeds!r}; expected a non-empty list of integers")
    return [int(s) for s in seeds]


class DensityTask:
    """The density net's part of the fit loop: per-member batches of the half's standardised
    train chips, the paper's batch loss, the val loss pooled over all val chips.

    The chips are multilooked once here (not in every step) and the labels become per-block
    counts (model.block_counts), so every step runs the net at the coarse size only; the loss
    is the same as batch_loss of the full-size output (tests/test_density.py)."""

    def __init__(
        self,
        train: tuple[torch.Tensor, ...],
        val: tuple[torch.Tensor, ...],
        batch_size: int,
        device: torch.device,
        multilook: int = 1,
    ) -> None:
        (self.x, self.pos, self.neg), (self.x_va, self.pos_va, self.neg_va) = (
            (multilook_chips(x, multilook), *block_counts(y, v, multilook)) for x, y, v in (train, val)
        )
        self.n_train, self.batch_size, self.device = int(self.x.shape[0]), batch_size, device

    def init_member(self, model: torch.nn.Module) -> None:
        pass

    def train_losses(
        self, model: torch.nn.Module, idx: torch.Tensor, epoch: int, members: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        b = idx.T  # (B, K): batch-major, so the gathered chips are already (B, K, C, H, W)
        out = model(self.x[b].to(self.device), multilooked=True)
        sums = weighted_loss_sums(out, self.pos[b].to(self.device), self.neg[b].to(self.device))
        return loss_from_sums(*sums), torch.ones(len(members))

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, members: Sequence[int]) -> dict[str, np.ndarray]:
        if self.x_va.shape[0] == 0:
            return {}
        return {"val_loss": dataset_loss(model, self.x_va, self.pos_va, self.neg_va, self.batch_size, self.device)}


@torch.no_grad()
def dataset_loss(
    model: DensityNet, x: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, batch_size: int, device: torch.device
) -> np.ndarray:
    """Per member, batch_loss over ALL chips given (E+ and E- pooled over them), in batches; x
    multilooked chips, pos and neg their block_counts."""
    was_training = model.training
    model.eval()
    sums = [torch.zeros(model.members, dtype=torch.float64) for _ in range(4)]
    for s in range(0, x.shape[0], batch_size):
        out = model(x[s : s + batch_size].to(device), multilooked=True)
        parts = weighted_loss_sums(out, pos[s : s + batch_size].to(device), neg[s : s + batch_size].to(device))
        sums = [a + b.detach().double().cpu() for a, b in zip(sums, parts)]
    model.train(was_training)
    return loss_from_sums(*sums).numpy()


def _per_half(value: PathLike | Sequence[PathLike] | None, n: int, name: str) -> list[PathLike | None]:
    """One path per half: a sequence of n paths, or one path (n == 1), or None for each."""
    if value is None:
        return [None] * n
    if isinstance(value, (str, os.PathLike)):
        value = [value]
    value = list(value)
    if len(value) != n:
        raise InputError(f"train_density: {len(value)} {name} path(s) for {n} half/halves; expected one per half")
    return value


def train_density(
    chips_zarr: PathLike,
    chips_table: PathLike | pd.DataFrame,
    *,
    half: int | Sequence[int],
    inputs: str,
    revisits: int,
    model_cfg: Mapping,
    training_cfg: Mapping,
    threads: int,
    model_out: PathLike | Sequence[PathLike],
    history_out: PathLike | Sequence[PathLike],
    percentiles: Sequence[float] | None = None,
    features_out: PathLike | Sequence[PathLike] | None = None,
    embeddings_out: PathLike | Sequence[PathLike] | None = None,
    label_free: Mapping | None = None,
) -> None:
    """_train_half for each half given (an int or a sequence, e.g. [0, 1]), each output one path
    per half, in ONE process: the rule trains both halves of an experiment in one job, so Python,
    torch and the chip store start once (4 s of each job's start, docs/benchmark_training.md);
    then every half's ensemble is applied to every chip in one pass over the chips
    (density.predict.write_all_predictions: the percentile features of the forest and the output
    maps), each block of chips read once for all halves. label_free: the config's `label_free`
    section, the settings of the "change" input set's z-score channel (kept in the checkpoint)."""
    halves = [half] if isinstance(half, (int, np.integer)) else list(half)
    n = len(halves)
    outs = [
        _per_half(v, n, name)
        for v, name in (
            (model_out, "model_out"),
            (history_out, "history_out"),
            (features_out, "features_out"),
            (embeddings_out, "embeddings_out"),
        )
    ]
    predict = [f is not None for f in outs[2]] + [e is not None for e in outs[3]]
    if any(predict) and (not all(predict) or percentiles is None):
        raise InputError(
            "train_density: features_out, embeddings_out and percentiles go together; expected all or none"
        )
    table = read_chips_table(chips_table)
    ds = open_chips(chips_zarr)
    trained: list[Prediction] = []
    for h, model_h, history_h, features_h, embeddings_h in zip(halves, *outs):
        model, checkpoint = _train_half(
            ds,
            table,
            h,
            inputs,
            revisits,
            model_cfg,
            training_cfg,
            threads,
            model_h,  # type: ignore[arg-type]
            history_h,  # type: ignore[arg-type]
            label_free,
        )
        if features_h is not None:
            trained.append(Prediction(model, checkpoint, features_h, embeddings_h, str(model_h)))  # type: ignore[arg-type]
    if trained:  # every half's model applied to every chip in one pass over the chips (one read for all halves)
        write_all_predictions(trained, ds, percentiles or [], device=trained[0].ckpt["training"]["device"])


def _train_half(
    ds: xr.Dataset,
    chips_table: PathLike | pd.DataFrame,
    half: int,
    inputs: str,
    revisits: int,
    model_cfg: Mapping,
    training_cfg: Mapping,
    threads: int,
    model_out: PathLike,
    history_out: PathLike,
    label_free: Mapping | None = None,
) -> tuple[DensityNet, dict]:
    """Train the models of `half` (one per training seed, at once) on its train chips of the
    chips `ds`, early-stop each on its val chips, save every member's best weights and the
    history; returns the trained ensemble and its checkpoint dict (train_density then applies
    every half's to every chip, in the same job, so that no second job starts Python and torch
    and reloads the chips only to predict).

    model_cfg: width, depth, dilated, batch_norm, multilook (default 1). training_cfg: seeds, max_epochs, batch_size,
    learning_rate, patience, device ("auto", "cpu", "cuda"). The checkpoint (tensors and plain
    containers, loadable with weights_only=True) holds the ensemble's state_dict (member k =
    seeds[k]), model config, channel names, standardisation stats, per-member best_epoch and
    best_loss, and the run's settings; history_out is a CSV: seed, epoch, train_loss, val_loss,
    seconds. Same seeds, threads and device give identical weights and history; member k does
    not depend on the other seeds.
    """
    if half not in (0, 1):
        raise InputError(f"half={half!r}; expected 0 or 1")
    width, depth = int(_cfg(model_cfg, "width", "model_cfg")), int(_cfg(model_cfg, "depth", "model_cfg"))
    dilated = bool(_cfg(model_cfg, "dilated", "model_cfg"))
    batch_norm = bool(_cfg(model_cfg, "batch_norm", "model_cfg"))
    multilook = int(model_cfg.get("multilook", 1))
    seeds = training_seeds(training_cfg)
    fit_cfg = FitConfig(
        seeds=seeds,
        max_epochs=int(_cfg(training_cfg, "max_epochs", "training_cfg")),
        batch_size=int(_cfg(training_cfg, "batch_size", "training_cfg")),
        learning_rate=float(_cfg(training_cfg, "learning_rate", "training_cfg")),
        patience=int(_cfg(training_cfg, "patience", "training_cfg")),
        monitor="val_loss",
    )
    device = resolve_device(str(_cfg(training_cfg, "device", "training_cfg")))
    n_threads = set_threads(threads)

    table = read_chips_table(chips_table)
    mine = table[table["half"] == half]
    train_ids = mine.loc[mine["subset"] == "train", "chip"].to_numpy()
    val_ids = mine.loc[mine["subset"] == "val", "chip"].to_numpy()
    if train_ids.size == 0:
        raise InputError(f"half {half} has no train chips in the chip table; expected some")

    names = stored_channels(ds)
    if LABEL_CHANNEL not in names:
        raise InputError(f"chips lack the {LABEL_CHANNEL!r} channel; channels are {names}")
    channels, is_sar, n_dem = model_channels(names, inputs, revisits)
    free = dict(label_free or {}) if inputs == "change" else None

    t_load = time.perf_counter()
    # TRAIN chips of this half first: the standardisation statistics come from them only
    (train, val), mean, std = load_standardised(ds, [train_ids, val_ids], channels, is_sar, label_free=free)
    logger.info(
        "half %d, inputs %s, revisits %d: %d train / %d val chips, %d channels %s, loaded in %.1f s, "
        "device %s, %d thread(s), seeds %s",
        half,
        inputs,
        revisits,
        len(train_ids),
        len(val_ids),
        len(channels),
        channels,
        time.perf_counter() - t_load,
        device,
        n_threads,
        seeds,
    )
    config = {
        "n_dem": n_dem,
        "n_sar": len(channels) - n_dem,
        "width": width,
        "depth": depth,
        "dilated": dilated,
        "batch_norm": batch_norm,
        "multilook": multilook,
    }

    def build(members: int) -> DensityNet:
        return build_density_net(config, members, device)

    task = DensityTask(train, val, fit_cfg.batch_size, device, multilook)
    result = fit_ensemble(build, task, fit_cfg, device, name=f"half {half} ", vectorise=GROUPED.get(device.type, True))
    model = build(len(seeds))
    model.load_state_dict(pack_states(result.states))
    checkpoint = {
        "state_dict": model.state_dict(),
        "config": {**config, "members": len(seeds)},
        "channels": channels,
        "is_sar": is_sar,
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std),
        "inputs": inputs,
        "revisits": int(revisits),
        **({"label_free": free} if free is not None else {}),
        "half": int(half),
        **result.summary(),
        "best_loss": [float(v) for v in result.best_value],
        "n_train": int(train_ids.size),
        "n_val": int(val_ids.size),
        "training": {
            "seeds": seeds,
            "max_epochs": fit_cfg.max_epochs,
            "batch_size": fit_cfg.batch_size,
            "learning_rate": fit_cfg.learning_rate,
            "patience": fit_cfg.patience,
            "device": str(device),
            "threads": int(n_threads),
        },
        "torch_version": str(torch.__version__),
    }
    save_checkpoint(model_out, checkpoint)
    save_history(history_out, result)
    return model, checkpoint
