"""Train the detection U-Nets of one experiment: a seed ensemble (one member per training seed,
all trained at once by landslide_sar.nn.fit) on two-class cross-entropy, optional SAR
augmentations, early stopping on validation AUPRC (or loss), every member's best weights saved.

Standardisation statistics come from the TRAINING chips only and travel in the checkpoint with
the channel names, so prediction preprocesses exactly as training did. Without augmentation the
chips are standardised once; augmentations act in model units (dB) before standardisation, per
member with its own random stream, on chips whose nodata is filled with the training mean;
nodata pixels are ignored by the loss and the metrics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from landslide_sar.detection.augment import augment_batch, check_augment_cfg
from landslide_sar.detection.data import ChipArrays
from landslide_sar.detection.evaluate import auprc
from landslide_sar.detection.model import MODEL_KEYS, ResNetUNet, build_model
from landslide_sar.errors import InputError
from landslide_sar.nn.ensemble import pack_states
from landslide_sar.nn.fit import FitConfig, fit_ensemble, save_checkpoint, save_history
from landslide_sar.nn.preprocess import channel_stats, fill_nodata, standardise
from landslide_sar.nn.runtime import resolve_device, set_threads

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
IGNORE = -100  # cross-entropy target of nodata pixels
HISTORY_COLUMNS = ["seed", "epoch", "train_loss", "val_loss", "val_auprc", "seconds"]
MONITORS = ("val_auprc", "val_loss")
TRAINING_KEYS = (
    "seeds",
    "max_epochs",
    "batch_size",
    "learning_rate",
    "weight_decay",
    "patience",
    "device",
    "monitor",
    "positive_weight",
)


def _get(cfg: Mapping, key: str, where: str) -> Any:
    if key not in cfg:
        raise InputError(f"{where} lacks {key!r}; has {sorted(cfg)}")
    return cfg[key]


def prior_logit_bias(model: ResNetUNet, positive_fraction: float) -> None:
    """Start the head at the class prior (landslide logit - background logit = log odds of the
    positive fraction): with a few % positives the first epochs then learn features instead of
    the imbalance (Lin et al. 2017's initialisation). For a one-member module."""
    p = min(max(positive_fraction, 1e-4), 1 - 1e-4)
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[1] = float(np.log(p / (1 - p)))


def targets(label: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """int64 cross-entropy targets: 1 landslide, 0 background, IGNORE where the input is nodata."""
    t = (np.asarray(label) > 0).astype(np.int64)
    t[~np.asarray(valid, dtype=bool)] = IGNORE
    return t


def member_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per member, the class-weighted mean cross-entropy over non-ignored pixels (as
    F.cross_entropy(weight=, ignore_index=IGNORE)) and its weight sum. logits (B, K, 2, H, W),
    target (B, K, H, W) or (B, H, W) shared; returns two (K,) tensors."""
    if target.ndim == logits.ndim - 2:
        target = target.unsqueeze(1).expand(-1, logits.shape[1], -1, -1)
    ok = target != IGNORE
    t = torch.where(ok, target, torch.zeros_like(target))
    nll = -torch.log_softmax(logits, dim=2).gather(2, t.unsqueeze(2)).squeeze(2)
    w = weight[t] * ok
    wsum = w.sum(dim=(0, 2, 3))
    return (nll * w).sum(dim=(0, 2, 3)) / wsum.clamp_min(1e-12), wsum


class DetectionTask:
    """The U-Net's part of the fit loop: per-member batches, weighted cross-entropy, and per
    member the val loss and AUPRC on the (shared) val chips."""

    def __init__(
        self,
        train: ChipArrays,
        val: ChipArrays | None,
        mean: np.ndarray,
        std: np.ndarray,
        seeds: Sequence[int],
        augment: Mapping[str, Any],
        weight: torch.Tensor,
        batch_size: int,
        device: torch.device,
    ) -> None:
        self.train, self.mean, self.std, self.seeds = train, mean, std, list(seeds)
        self.augment, self.device, self.batch_size = dict(augment), device, batch_size
        self.weight = weight.to(device)
        self.n_train = len(train)
        v_tr = train.valid
        self.positive_fraction = float((train.label > 0)[v_tr].mean()) if v_tr.any() else 0.5
        if self.augment:  # augmented per step, in dB, from mean-filled chips
            self.x_fill = fill_nodata(train.x, mean)
            self.y_np, self.v_np = (train.label > 0).astype(np.uint8), v_tr
            self._rngs: dict[int, np.random.Generator] = {}
            self._epoch = 0
        else:  # standardised once: a step only gathers its chips
            self.z = torch.from_numpy(standardise(train.x, mean, std)).to(device)
            self.t = torch.from_numpy(targets(train.label, v_tr)).to(device)
        self.val = None
        if val is not None and len(val):
            self.val = (
                torch.from_numpy(standardise(val.x, mean, std)),
                torch.from_numpy(targets(val.label, val.valid)),
                val.label,
                val.valid,
            )

    def init_member(self, model: torch.nn.Module) -> None:
        prior_logit_bias(model, self.positive_fraction)  # type: ignore[arg-type]

    def _augmented(self, idx: torch.Tensor, epoch: int, members: Sequence[int]) -> tuple[torch.Tensor, torch.Tensor]:
        if epoch != self._epoch:
            self._epoch, self._rngs = epoch, {m: np.random.default_rng([self.seeds[m], epoch]) for m in members}
        xs, ts = [], []
        for j, m in enumerate(members):
            b = np.sort(idx[j].numpy())
            xb, yb, vb = augment_batch(
                self.x_fill[b], self.y_np[b], self.v_np[b], self.train.is_log, self.augment, self._rngs[m]
            )
            xs.append(standardise(xb, self.mean, self.std))
            ts.append(targets(yb, vb))
        return torch.from_numpy(np.stack(xs, axis=1)), torch.from_numpy(np.stack(ts, axis=1))

    def train_losses(
        self, model: torch.nn.Module, idx: torch.Tensor, epoch: int, members: Sequence[int]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.augment:
            x, t = self._augmented(idx, epoch, members)
            x, t = x.to(self.device), t.to(self.device)
        else:
            b = idx.T.to(self.device)  # (B, K): the gathered chips are already (B, K, C, H, W)
            x, t = self.z[b], self.t[b]
        return member_cross_entropy(model(x), t, self.weight)

    @torch.no_grad()
    def validate(self, model: torch.nn.Module, members: Sequence[int]) -> dict[str, np.ndarray]:
        if self.val is None:
            return {}
        z, t, label, valid = self.val
        was_training = model.training
        model.eval()
        k = len(members)
        total, wsum = torch.zeros(k, dtype=torch.float64), torch.zeros(k, dtype=torch.float64)
        probs = np.empty((k, z.shape[0], *z.shape[-2:]), dtype=np.float32)
        for s in range(0, z.shape[0], self.batch_size):
            logits = model(z[s : s + self.batch_size].to(self.device))
            loss, w = member_cross_entropy(logits, t[s : s + self.batch_size].to(self.device), self.weight)
            total += (loss * w).double().cpu()
            wsum += w.double().cpu()
            probs[:, s : s + self.batch_size] = (
                torch.softmax(logits, dim=2)[:, :, 1].float().cpu().numpy().swapaxes(0, 1)
            )
        model.train(was_training)
        val_loss = torch.where(wsum > 0, total / wsum.clamp_min(1e-12), torch.full_like(total, float("nan"))).numpy()
        return {"val_loss": val_loss, "val_auprc": np.array([auprc(label, p, valid) for p in probs])}


def train_detection(
    train: ChipArrays,
    val: ChipArrays | None,
    model_cfg: Mapping[str, Any],
    training_cfg: Mapping[str, Any],
    augment_cfg: Mapping[str, Any] | None,
    threads: int,
    model_out: PathLike,
    history_out: PathLike,
) -> dict[str, Any]:
    """Train one member per training seed on `train` (at once), early-stop each on `val`, save
    every member's best weights; returns a summary dict.

    model_cfg: base_width, depth, blocks_per_stage. training_cfg: seeds, max_epochs, batch_size,
    learning_rate, weight_decay, patience, device ("auto" = CUDA when present), monitor
    ("val_auprc" or "val_loss"), positive_weight (cross-entropy weight of the landslide class).
    augment_cfg None or {} = no augmentation (see augment.augment_chip). Checkpoint (loadable with
    weights_only=True): the ensemble's state_dict (member k = seeds[k]), config, channels, is_log,
    mean, std, per-member best_epoch and best_value, monitor, training settings. history_out CSV:
    seed, epoch, train_loss, val_loss, val_auprc, seconds. Same seeds, threads and device -> same
    run; member k does not depend on the other seeds.
    """
    missing = [k for k in TRAINING_KEYS if k not in training_cfg]
    if missing:
        _get(training_cfg, missing[0], "detection training config")
    seeds = [int(s) for s in _get(training_cfg, "seeds", "training_cfg")]
    monitor = str(training_cfg["monitor"])
    pos_weight = float(training_cfg["positive_weight"])
    if monitor not in MONITORS:
        raise InputError(f"training monitor={monitor!r}; expected one of {list(MONITORS)}")
    if pos_weight <= 0:
        raise InputError(f"positive_weight={pos_weight}; expected > 0")
    fit_cfg = FitConfig(
        seeds=seeds,
        max_epochs=int(training_cfg["max_epochs"]),
        batch_size=int(training_cfg["batch_size"]),
        learning_rate=float(training_cfg["learning_rate"]),
        patience=int(training_cfg["patience"]),
        weight_decay=float(training_cfg["weight_decay"]),
        monitor=monitor,
        higher_is_better=monitor == "val_auprc",
    )
    device = resolve_device(str(training_cfg["device"]))
    if len(train) == 0:
        raise InputError("no training chips; expected some")
    augment = dict(augment_cfg or {})
    check_augment_cfg(augment)
    has_val = val is not None and len(val) > 0
    if has_val and list(val.channels) != list(train.channels):  # type: ignore[union-attr]
        raise InputError(f"val channels {val.channels} differ from train channels {train.channels}")  # type: ignore[union-attr]
    n_threads = set_threads(threads)

    mean, std = channel_stats(train.x)  # TRAINING chips only
    task = DetectionTask(
        train,
        val if has_val else None,
        mean,
        std,
        seeds,
        augment,
        torch.tensor([1.0, pos_weight], dtype=torch.float32),
        fit_cfg.batch_size,
        device,
    )
    logger.info(
        "detection: %d train / %d val chips of %d x %d px, channels %s, positives %.2f %% (train), device %s, "
        "%d thread(s), seeds %s, augment %s",
        len(train),
        len(val) if has_val else 0,
        *train.x.shape[-2:],  # type: ignore[arg-type]
        train.channels,
        100 * task.positive_fraction,
        device,
        n_threads,
        seeds,
        sorted(k for k, c in augment.items() if (c or {}).get("enabled")) or "off",
    )

    def build(members: int) -> ResNetUNet:
        return build_model(len(train.channels), model_cfg, members, device)

    result = fit_ensemble(build, task, fit_cfg, device)
    model = build(len(seeds))
    model.load_state_dict(pack_states(result.states))
    summary: dict[str, Any] = {
        **result.summary(),
        "n_train": len(train),
        "n_val": len(val) if has_val else 0,  # type: ignore[arg-type]
        "seconds_per_epoch": float(result.train_seconds / max(1, max(result.epochs_run))),
    }
    checkpoint = {
        "state_dict": model.state_dict(),
        "config": {
            "in_channels": len(train.channels),
            **{k: int(model_cfg[k]) for k in MODEL_KEYS},
            "members": len(seeds),
        },
        "channels": list(train.channels),
        "is_log": [bool(v) for v in train.is_log],
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std),
        **summary,
        "training": {
            "seeds": seeds,
            "max_epochs": fit_cfg.max_epochs,
            "batch_size": fit_cfg.batch_size,
            "learning_rate": fit_cfg.learning_rate,
            "weight_decay": fit_cfg.weight_decay,
            "patience": fit_cfg.patience,
            "device": str(device),
            "threads": int(n_threads),
            "positive_weight": pos_weight,
            "augment": sorted(k for k, c in augment.items() if (c or {}).get("enabled")),
        },
        "torch_version": str(torch.__version__),
    }
    save_checkpoint(model_out, checkpoint)
    save_history(history_out, result)
    return summary
