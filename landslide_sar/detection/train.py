"""Train the detection U-Net on in-memory chips: seeded Adam on two-class cross-entropy, optional
SAR augmentations, early stopping on validation AUPRC (or loss), best weights saved.

Standardisation statistics come from the TRAINING chips only and travel in the checkpoint with
the channel names, so prediction preprocesses exactly as training did. Augmentations act in
model units (dB) before standardisation, on chips whose nodata is filled with the training mean;
nodata pixels are ignored by the loss and the metrics.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from landslide_sar.density.train import deterministic, progress, resolve_device
from landslide_sar.detection.augment import augment_batch, check_augment_cfg
from landslide_sar.detection.data import ChipArrays, channel_stats, fill_nodata, standardise
from landslide_sar.detection.evaluate import auprc
from landslide_sar.detection.model import MODEL_KEYS, ResNetUNet, build_model
from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
IGNORE = -100  # cross-entropy target of nodata pixels
HISTORY_COLUMNS = ["epoch", "train_loss", "val_loss", "val_auprc", "seconds"]
MONITORS = ("val_auprc", "val_loss")
DEFAULT_TRAINING: dict[str, Any] = {
    "seed": 0, "max_epochs": 30, "batch_size": 16, "learning_rate": 1e-3, "weight_decay": 0.0,
    "patience": 6, "device": "auto", "monitor": "val_auprc", "positive_weight": 1.0,
}  # fmt: skip
DEFAULT_MODEL: dict[str, Any] = {"base_width": 16, "depth": 4, "blocks_per_stage": 2}


def _get(cfg: Mapping, key: str, where: str) -> Any:
    if key in cfg:
        return cfg[key]
    if key in DEFAULT_TRAINING:
        return DEFAULT_TRAINING[key]
    raise InputError(f"{where} lacks {key!r}; has {sorted(cfg)}")


def prior_logit_bias(model: ResNetUNet, positive_fraction: float) -> None:
    """Start the head at the class prior (landslide logit - background logit = log odds of the
    positive fraction): with a few % positives the first epochs then learn features instead of
    the imbalance (Lin et al. 2017's initialisation)."""
    p = min(max(positive_fraction, 1e-4), 1 - 1e-4)
    with torch.no_grad():
        model.head.bias.zero_()
        model.head.bias[1] = float(np.log(p / (1 - p)))


def _targets(label: np.ndarray, valid: np.ndarray) -> np.ndarray:
    t = (np.asarray(label) > 0).astype(np.int64)
    t[~np.asarray(valid, dtype=bool)] = IGNORE
    return t


@torch.no_grad()
def evaluate_loss_prob(
    model: ResNetUNet, z: np.ndarray, target: np.ndarray, weight: torch.Tensor, batch_size: int, device: torch.device
) -> tuple[float, np.ndarray]:
    """Weighted mean cross-entropy over all non-ignored pixels of the set, and (n, H, W) landslide
    probabilities, in eval mode and batches."""
    model.eval()
    total, wsum = 0.0, 0.0
    probs = np.empty((z.shape[0], *z.shape[-2:]), dtype=np.float32)
    w = weight.to(device)
    for s in range(0, z.shape[0], batch_size):
        logits = model(torch.from_numpy(z[s : s + batch_size]).to(device))
        t = torch.from_numpy(target[s : s + batch_size]).to(device)
        total += float(F.cross_entropy(logits, t, weight=w, ignore_index=IGNORE, reduction="sum"))
        ok = t != IGNORE
        wsum += float(w[t[ok]].sum())
        probs[s : s + batch_size] = torch.softmax(logits, dim=1)[:, 1].float().cpu().numpy()
    return (total / wsum if wsum > 0 else float("nan")), probs


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
    """Train on `train`, early-stop on `val`, save the best weights; returns a summary dict.

    model_cfg: base_width, depth, blocks_per_stage. training_cfg: seed, max_epochs, batch_size,
    learning_rate, patience, and optionally device ("auto" = CUDA when present), monitor
    ("val_auprc" or "val_loss"), positive_weight (cross-entropy weight of the landslide class),
    weight_decay. augment_cfg None or {} = no augmentation (see augment.augment_chip).
    Checkpoint (torch.save, loadable with weights_only=True): state_dict, config, channels,
    is_log, mean, std, best_epoch, best_value, monitor, training settings. history_out CSV:
    epoch, train_loss, val_loss, val_auprc, seconds. Same seed, threads and device -> same run.
    """
    seed = int(_get(training_cfg, "seed", "training_cfg"))
    max_epochs = int(_get(training_cfg, "max_epochs", "training_cfg"))
    batch_size = int(_get(training_cfg, "batch_size", "training_cfg"))
    lr = float(_get(training_cfg, "learning_rate", "training_cfg"))
    patience = int(_get(training_cfg, "patience", "training_cfg"))
    device = resolve_device(str(_get(training_cfg, "device", "training_cfg")))
    monitor = str(_get(training_cfg, "monitor", "training_cfg"))
    pos_weight = float(_get(training_cfg, "positive_weight", "training_cfg"))
    weight_decay = float(_get(training_cfg, "weight_decay", "training_cfg"))
    if monitor not in MONITORS:
        raise InputError(f"training monitor={monitor!r}; expected one of {list(MONITORS)}")
    if min(max_epochs, batch_size, patience) < 1 or pos_weight <= 0:
        raise InputError(
            f"max_epochs={max_epochs}, batch_size={batch_size}, patience={patience}, positive_weight={pos_weight}; "
            "expected all >= 1 and a positive weight > 0"
        )
    if len(train) == 0:
        raise InputError("no training chips; expected some")
    augment = dict(augment_cfg or {})
    check_augment_cfg(augment)
    has_val = val is not None and len(val) > 0
    torch.set_num_threads(max(1, int(threads)))

    mean, std = channel_stats(train.x)  # TRAINING chips only
    x_tr = fill_nodata(train.x, mean)
    v_tr, y_tr = train.valid, (train.label > 0).astype(np.uint8)
    if has_val:
        assert val is not None
        if list(val.channels) != list(train.channels):
            raise InputError(f"val channels {val.channels} differ from train channels {train.channels}")
        z_va = standardise(fill_nodata(val.x, mean), mean, std)
        t_va, v_va = _targets(val.label, val.valid), val.valid
    weight = torch.tensor([1.0, pos_weight], dtype=torch.float32)
    logger.info(
        "detection: %d train / %d val chips of %d x %d px, channels %s, positives %.2f %% (train), device %s, "
        "augment %s", len(train), len(val) if has_val else 0, *train.x.shape[-2:], train.channels,
        100 * float(y_tr[v_tr].mean()) if v_tr.any() else 0.0, device,
        sorted(k for k, c in augment.items() if (c or {}).get("enabled")) or "off",
    )  # fmt: skip
    if not has_val:
        logger.warning("no val chips: early stopping and model selection use the train loss")
        monitor = "train_loss"

    history: list[dict[str, float]] = []
    with deterministic(seed):
        model = build_model(len(train.channels), model_cfg)
        prior_logit_bias(model, float(y_tr[v_tr].mean()) if v_tr.any() else 0.5)
        model = model.to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
        gen = torch.Generator().manual_seed(seed)
        w_dev = weight.to(device)
        higher_better = monitor == "val_auprc"
        best_value, best_epoch = (-np.inf if higher_better else np.inf), 0
        best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        stale = 0
        t_train = time.perf_counter()
        for epoch in range(1, max_epochs + 1):
            t0 = time.perf_counter()
            rng = np.random.default_rng([seed, epoch])
            model.train()
            perm = torch.randperm(len(train), generator=gen).numpy()
            losses, weights = [], []
            bar = progress(range(0, len(train), batch_size), desc=f"epoch {epoch}/{max_epochs}", log=logger)
            for s in bar:
                b = np.sort(perm[s : s + batch_size])
                xb, yb, vb = x_tr[b], y_tr[b], v_tr[b]
                if augment:
                    xb, yb, vb = augment_batch(xb, yb, vb, train.is_log, augment, rng)
                target = torch.from_numpy(_targets(yb, vb)).to(device)
                if not bool((target != IGNORE).any()):
                    continue
                logits = model(torch.from_numpy(standardise(xb, mean, std)).to(device))
                loss = F.cross_entropy(logits, target, weight=w_dev, ignore_index=IGNORE)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                losses.append(float(loss.detach()))
                weights.append(float(w_dev[target[target != IGNORE]].sum()))
                bar.set_postfix(loss=f"{losses[-1]:.4f}", refresh=False)
            bar.close()
            train_loss = float(np.average(losses, weights=weights)) if losses else float("nan")
            val_loss, val_auprc = float("nan"), float("nan")
            if has_val:
                val_loss, prob = evaluate_loss_prob(model, z_va, t_va, weight, batch_size, device)
                val_auprc = auprc(val.label, prob, v_va)  # type: ignore[union-attr]
            seconds = time.perf_counter() - t0
            history.append({"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                            "val_auprc": val_auprc, "seconds": seconds})  # fmt: skip
            value = {"val_auprc": val_auprc, "val_loss": val_loss, "train_loss": train_loss}[monitor]
            improved = np.isfinite(value) and (value > best_value if higher_better else value < best_value)
            if improved:
                best_value, best_epoch, stale = float(value), epoch, 0
                best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
            else:
                stale += 1
            logger.info(
                "epoch %d: train loss %.4f, val loss %.4f, val AUPRC %.4f, %.2f s%s",
                epoch, train_loss, val_loss, val_auprc, seconds, " (best)" if improved else "",
            )  # fmt: skip
            if stale >= patience:
                logger.info("no %s improvement for %d epochs, stopping", monitor, patience)
                break
        train_seconds = time.perf_counter() - t_train

    logger.info("trained %d epochs in %.1f s (%.2f s/epoch); best epoch %d, %s %.4f",
                len(history), train_seconds, train_seconds / len(history), best_epoch, monitor, best_value)  # fmt: skip
    summary: dict[str, Any] = {
        "best_epoch": int(best_epoch), "best_value": float(best_value), "monitor": monitor,
        "epochs_run": len(history), "train_seconds": float(train_seconds),
        "seconds_per_epoch": float(train_seconds / len(history)),
        "n_train": len(train), "n_val": len(val) if has_val else 0,  # type: ignore[arg-type]
    }  # fmt: skip
    checkpoint = {
        "state_dict": best_state,
        "config": {"in_channels": len(train.channels), **{k: int(model_cfg[k]) for k in MODEL_KEYS}},
        "channels": list(train.channels),
        "is_log": [bool(v) for v in train.is_log],
        "mean": torch.from_numpy(mean),
        "std": torch.from_numpy(std),
        **summary,
        "training": {
            "seed": seed, "max_epochs": max_epochs, "batch_size": batch_size, "learning_rate": lr,
            "weight_decay": weight_decay, "patience": patience, "device": str(device), "threads": int(threads),
            "positive_weight": pos_weight, "augment": sorted(k for k, c in augment.items() if (c or {}).get("enabled")),
        },
        "torch_version": str(torch.__version__),
    }  # fmt: skip
    with atomic_path(model_out) as tmp:
        torch.save(checkpoint, tmp)
    with atomic_path(history_out) as tmp:
        pd.DataFrame(history, columns=HISTORY_COLUMNS).to_csv(tmp, index=False)
    return summary
