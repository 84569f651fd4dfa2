"""Landslide density estimation (Boehm et al.): fused DEM/SAR conv net, percentiles, random forest.

model: DensityNet, batch_loss, preprocessing. chip_io: select_channels. train: train_density.
predict: predict_density (percentile features + embeddings). evaluate: evaluate_density (AUCs).
Names are imported lazily so that evaluate (scikit-learn only) does not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DensityNet": "model",
    "batch_loss": "model",
    "select_channels": "chip_io",
    "train_density": "train",
    "predict_density": "predict",
    "percentile_features": "predict",
    "evaluate_density": "evaluate",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
