"""Landslide detection (Boehm et al. 2022 poster; Prapas et al. transfer paper): ResNet U-Net
segmentation of landslide pixels from SAR (+ DEM) before/after means, SAR augmentations, AUPRC,
and the Handwerger et al. (2022) VH-change baseline.

data: detection_chips, build_channels, split_train_val_test, select_chips. model: ResNetUNet. augment: augment_chip.
train: train_detection. predict: predict_chips. evaluate: auprc, no_skill, pr_curve.
baseline: handwerger_score, percentile_map, label_free_score. run: run_detection_experiment.
Names are imported lazily so that light users (evaluate, baseline) do not pay for importing torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "DetectionChips": "data",
    "ChipArrays": "data",
    "detection_chips": "data",
    "build_channels": "data",
    "split_train_val_test": "data",
    "select_chips": "data",
    "ResNetUNet": "model",
    "augment_chip": "augment",
    "train_detection": "train",
    "predict_chips": "predict",
    "auprc": "evaluate",
    "no_skill": "evaluate",
    "pr_curve": "evaluate",
    "handwerger_score": "baseline",
    "percentile_map": "baseline",
    "label_free_score": "baseline",
    "run_detection_experiment": "run",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
