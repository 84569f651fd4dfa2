"""The detection experiments of a config, in one place: the Experiment type (one U-Net ensemble:
experiment, input set, revisits, augmentation, split seed, regions), its id (its folder under
results/detection: <within|transfer>/<inputs>_r<revisits>_<aug|noaug>[_s<seed>]) and the inverse,
parse(), and the enumeration of every experiment from the config's `detection` section. Nothing
heavy at import (no numpy, torch or pandas): the workflow imports it while it parses.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

EXPERIMENTS = ("within", "transfer")


INPUT_LABELS = {"vv": "VV", "vh": "VH", "sar": "VV+VH", "fused": "SAR+DEM", "change": "change+DEM"}
#: An experiment id: <within|transfer>/<inputs>_r<revisits>_<aug|noaug>[_s<seed>].
ID_PATTERN = rf"({'|'.join(EXPERIMENTS)})/({'|'.join(INPUT_LABELS)})_r(\d+)_(aug|noaug)(_s\d+)?"


def setting(inputs: str, revisits: int, augment: bool) -> str:
    """<inputs>_r<revisits>_<aug|noaug>: an experiment's folder name without its split."""
    return f"{inputs}_r{int(revisits)}_{'aug' if augment else 'noaug'}"


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
        return setting(self.inputs, self.revisits, self.augment)

    @property
    def split(self) -> str:
        """The split's folder suffix: _s<seed> for every split seed but the first (none)."""
        return "" if self.first_split else f"_s{self.split_seed}"

    @property
    def name(self) -> str:
        """The target's folder under results/detection/{experiment}/: the setting and its split."""
        return self.setting + self.split

    @property
    def id(self) -> str:
        """<experiment>/<name>: the experiment's folder under results/detection."""
        return f"{self.experiment}/{self.name}"

    def path(self, root: str, filename: str) -> str:
        return f"{root}/{self.id}/{filename}"


def parse(experiment_id: str, detection: Mapping[str, Any]) -> Experiment:
    """The Experiment of an id, the exact inverse of Experiment.id: the id names the experiment,
    input set, revisits, augmentation and split seed (none: the first of chips.split_seeds); the
    regions and elevation come from the config's `detection` section. A malformed id raises
    ValueError."""
    m = re.fullmatch(ID_PATTERN, experiment_id)
    if m is None:
        raise ValueError(
            f"detection experiment {experiment_id!r}; "
            "expected <within|transfer>/<inputs>_r<revisits>_<aug|noaug>[_s<seed>]"
        )
    experiment, inputs, revisits, aug, seed = m.groups()
    first = split_seeds(detection.get("chips", {}))[0]
    split_seed = int(seed[2:]) if seed else first
    if seed and split_seed == first:
        raise ValueError(f"detection experiment {experiment_id!r}: the first split seed ({first}) has no _s suffix")
    section = detection[experiment]
    within = experiment == "within"
    return Experiment(
        experiment,
        inputs,
        int(revisits),
        aug == "aug",
        section["region"] if within else section["train_region"],
        None if within else section["test_region"],
        bool(section["elevation"]),
        split_seed,
        split_seed == first,
    )


def lookup(experiment_id: str, detection: Mapping[str, Any]) -> Experiment:
    """The Experiment of an id that the config's `detection` section enumerates (experiments()):
    a well-formed id of an experiment the config does not list (another input set, revisits,
    augmentation or split seed) raises ValueError, in one line, as a malformed one does."""
    experiment = parse(experiment_id, detection)
    listed = experiments(detection)
    if experiment not in listed:
        raise ValueError(
            f"detection experiment {experiment_id!r} is not one of the config's {len(listed)} "
            f"(detection: within, transfer, chips.split_seeds); expected one of {[e.id for e in listed]}"
        )
    return experiment


def split_seeds(chips: Mapping[str, Any]) -> list[int]:
    """chips.split_seeds (a list; the first is the map's split)."""
    seeds = chips.get("split_seeds", [42])
    return [int(s) for s in (seeds if hasattr(seeds, "__iter__") else [seeds])]


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


#: detection.map's value that asks for the transfer experiment with the best validation score.
BEST = "best"


def map_candidates(detection: Mapping[str, Any]) -> list[Experiment]:
    """The transfer experiments whose validation scores choose the detection map (detection.map:
    best), every split seed; none when detection.map names one or is absent."""
    if detection.get("map") != BEST:
        return []
    return [e for e in experiments(detection) if e.experiment == "transfer"]


def map_experiment(detection: Mapping[str, Any]) -> Experiment | None:
    """The transfer experiment (first split) that detection.map names; None when it is absent
    or best (chosen at run time by validation scores, landslide_sar.detection.selection)."""
    m = detection.get("map")
    if m is None or m == BEST:
        return None
    return next(
        e
        for e in experiments(detection)
        if e.experiment == "transfer" and e.first_split and e.inputs == m["inputs"] and e.augment == m["augment"]
    )
