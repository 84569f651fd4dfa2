"""The detection experiments of a config: the Experiment type (one U-Net ensemble: experiment,
input set, revisits, augmentation, split seed, regions), its folder name, and the enumeration of
every experiment from the config's `detection` section. No torch and no pandas at import: the
workflow imports it while it parses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

EXPERIMENTS = ("within", "transfer")


INPUT_LABELS = {"vv": "VV", "vh": "VH", "sar": "VV+VH", "fused": "SAR+DEM"}


@dataclass(frozen=True)
class Experiment:
    """One detection target: (experiment, input set, revisits, augmentation) and its regions."""

    experiment: str  # within | transfer
    inputs: str
    revisits: int
    augment: bool
    train_region: str
    test_region: str | None  # None: within one region (train / val chips only)
    elevation: bool
    split_seed: int = 42  # of the train / val / test split of the training region (chips.split_seeds)
    first_split: bool = True  # the first of chips.split_seeds: its folder has no suffix (the map's)

    @property
    def setting(self) -> str:
        """<inputs>_r<revisits>_<aug|noaug>: the experiment without its split."""
        return f"{self.inputs}_r{self.revisits}_{'aug' if self.augment else 'noaug'}"

    @property
    def name(self) -> str:
        """The target's folder under results/detection/{experiment}/: the setting, and _s<seed>
        for every split seed but the first."""
        return self.setting + ("" if self.first_split else f"_s{self.split_seed}")

    def path(self, root: str, filename: str) -> str:
        return f"{root}/{self.experiment}/{self.name}/{filename}"


def split_seeds(chips: Mapping[str, Any]) -> list[int]:
    """chips.split_seeds (a list; the first is the map's split)."""
    seeds = chips.get("split_seeds", [42])
    return [int(s) for s in ([seeds] if isinstance(seeds, (int, np.integer)) else seeds)]


def experiments(detection: Mapping[str, Any]) -> list[Experiment]:
    """Every experiment of the config's `detection` section (as landslide_sar.config.validate_config
    checked it: regions are areas, revisits within chips.max_revisits), within first, each once
    per split seed (chips.split_seeds), the first split seed's first."""
    within, transfer = detection["within"], detection["transfer"]
    seeds = split_seeds(detection.get("chips", {}))
    out = []
    for k, seed in enumerate(seeds):
        out += [
            Experiment(
                "within",
                b,
                int(n),
                bool(within["augment"]),
                within["region"],
                None,
                bool(within["elevation"]),
                seed,
                k == 0,
            )
            for b in within["inputs"]
            for n in within["revisits"]
        ]
    for k, seed in enumerate(seeds):
        out += [
            Experiment(
                "transfer",
                b,
                int(transfer["revisits"]),
                bool(a),
                transfer["train_region"],
                transfer["test_region"],
                bool(transfer["elevation"]),
                seed,
                k == 0,
            )
            for b in transfer["inputs"]
            for a in transfer["augment"]
        ]
    return out
