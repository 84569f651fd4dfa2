"""Apply a trained detector ensemble to chips: per member and pixel the landslide probability
(softmax[:, 1]), with the checkpoint's own channels and standardisation statistics."""

from __future__ import annotations

import os

import numpy as np
import torch

from landslide_sar.detection.data import ChipArrays
from landslide_sar.detection.model import GROUPED, ResNetUNet, landslide_probability
from landslide_sar.errors import InputError
from landslide_sar.nn.fit import load_checkpoint
from landslide_sar.nn.preprocess import standardise
from landslide_sar.nn.runtime import resolve_device, set_threads

PathLike = str | os.PathLike


def load_detector(model_path: PathLike, device: torch.device | str = "cpu") -> tuple[ResNetUNet, dict]:
    """The trained ResNetUNet ensemble (eval mode, on `device`) and its checkpoint (weights_only load)."""
    ckpt = load_checkpoint(model_path)
    model = ResNetUNet(**ckpt["config"])
    model.grouped = GROUPED.get(torch.device(device).type, True)
    model.load_state_dict(ckpt["state_dict"])
    return model.to(device).eval(), ckpt


@torch.no_grad()
def predict_proba(
    model: ResNetUNet, z: np.ndarray, batch_size: int = 16, device: torch.device | str = "cpu"
) -> np.ndarray:
    """(K, n, H, W) float32 landslide probabilities of every member for standardised input z (n, C, H, W)."""
    model.eval()
    out = np.empty((model.members, z.shape[0], *z.shape[-2:]), dtype=np.float32)
    for s in range(0, z.shape[0], batch_size):
        x = torch.from_numpy(np.ascontiguousarray(z[s : s + batch_size])).to(device)
        out[:, s : s + batch_size] = landslide_probability(model(x)).float().cpu().numpy().swapaxes(0, 1)
    return out


def predict_chips(
    model_path: PathLike, chips: ChipArrays, batch_size: int = 16, device: str = "auto", threads: int | None = None
) -> np.ndarray:
    """(K, n, H, W) landslide probability of each member (the checkpoint's `seeds` order) and chip
    pixel; NaN where an input channel is nodata. The chips must hold the checkpoint's channels
    (same names, same order)."""
    if threads:
        set_threads(threads)
    dev = resolve_device(device)
    model, ckpt = load_detector(model_path, dev)
    if list(chips.channels) != list(ckpt["channels"]):
        raise InputError(f"chips have channels {chips.channels}; the model {model_path} expects {ckpt['channels']}")
    mean, std = ckpt["mean"].numpy(), ckpt["std"].numpy()
    prob = predict_proba(model, standardise(chips.x, mean, std), batch_size, dev)
    prob[:, ~chips.valid] = np.nan
    return prob
