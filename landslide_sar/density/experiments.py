"""The density experiments of a config, in one place: the Experiment type (one input set, number of
revisits and split), its folder name (its id) and the inverse, parse(), and the enumerations of
the config's grid. Shared by the rules (parsed on every Snakemake call, so this module imports
nothing heavy) and the library.

A split is a (scheme, split seed) pair of splits.schemes x splits.seeds. Its suffix is the
scheme's (random, the paper's and the map's, has none; blocked: "_blocked") plus "_s<seed>" for
every split seed but the first, so that results/<area>/density/fused_r3 is the paper's split.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: The folder suffix of each split scheme of splits.schemes (results/<area>/density/<experiment><suffix>).
SCHEME_SUFFIX: dict[str, str] = {"random": "", "blocked": "_blocked"}
#: Every split suffix (a Snakemake wildcard constraint; empty: random, first split seed).
SPLIT_PATTERN = r"(_blocked)?(_s\d+)?"
#: The input sets: the nets' and the non-deep change baseline's.
INPUTS = ("dem", "sar", "fused", "change", "baseline")
#: An experiment id: <inputs>_r<revisits>[_blocked][_s<seed>].
ID_PATTERN = rf"({'|'.join(INPUTS)})_r(\d+){SPLIT_PATTERN}"


def parse_split(suffix: str, seeds: Sequence[int]) -> tuple[str, int]:
    """(scheme, split seed) of a split suffix, inverse of Experiment.split (the first seed when none)."""
    m = re.fullmatch(SPLIT_PATTERN, suffix)
    if m is None:
        raise ValueError(f"split suffix {suffix!r}; expected {SPLIT_PATTERN}")
    scheme = "blocked" if m.group(1) else "random"
    return scheme, int(m.group(2)[2:]) if m.group(2) else int(seeds[0])


@dataclass(frozen=True)
class Experiment:
    """One density experiment: an input set, its post-event revisits (DEM-only: 0) and the split
    (scheme, split seed) it is trained and scored under. first_split: split_seed is the first of
    splits.seeds (its folder has no _s suffix)."""

    inputs: str  # dem | sar | fused | change | baseline
    revisits: int
    scheme: str = "random"
    split_seed: int = 42
    first_split: bool = True

    @property
    def setting(self) -> str:
        """<inputs>_r<revisits>[_blocked]: the experiment under its scheme, over every split seed."""
        return f"{self.inputs}_r{int(self.revisits)}{SCHEME_SUFFIX[self.scheme]}"

    @property
    def split(self) -> str:
        """The split's folder suffix: [_blocked][_s<seed>]."""
        return SCHEME_SUFFIX[self.scheme] + ("" if self.first_split else f"_s{int(self.split_seed)}")

    @property
    def base(self) -> str:
        """<inputs>_r<revisits>: the input set and revisits, without the split (detection's
        Experiment.name, by contrast, includes its split)."""
        return f"{self.inputs}_r{int(self.revisits)}"

    @property
    def id(self) -> str:
        """The experiment's folder name: <inputs>_r<revisits>[_blocked][_s<seed>] (DEM-only: dem_r0)."""
        return self.base + self.split

    def path(self, area: str, filename: str = "") -> str:
        """results/<area>/density/<id>[/<filename>]."""
        folder = f"results/{area}/density/{self.id}"
        return f"{folder}/{filename}" if filename else folder

    def half_features(self, area: str, halves: Sequence[int] = (0, 1)) -> list[str]:
        """The features of the split's halves: a net's own per half; the baseline's one file for
        both (nothing in it is learnt, the same under every split)."""
        if self.inputs == "baseline":
            return [f"results/{area}/density/{self.base}/features.csv"] * len(halves)
        return [self.path(area, f"half{h}/features.csv") for h in halves]


def parse(experiment_id: str, seeds: Sequence[int]) -> Experiment:
    """The Experiment of an id (a folder name), the exact inverse of Experiment.id; `seeds`:
    splits.seeds (no _s suffix: the first). A malformed id raises ValueError."""
    m = re.fullmatch(ID_PATTERN, experiment_id)
    if m is None:
        raise ValueError(f"density experiment {experiment_id!r}; expected <inputs>_r<revisits>[_blocked][_s<seed>]")
    inputs, revisits, blocked, seed = m.groups()
    first = int(seeds[0])
    split_seed = int(seed[2:]) if seed else first
    if seed and split_seed == first:
        raise ValueError(f"density experiment {experiment_id!r}: the first split seed ({first}) has no _s suffix")
    return Experiment(inputs, int(revisits), "blocked" if blocked else "random", split_seed, split_seed == first)


def split_seeds(config: Mapping[str, Any]) -> list[int]:
    """splits.seeds of a config (the first: the map's split)."""
    return [int(s) for s in config["splits"]["seeds"]]


def split_schemes(config: Mapping[str, Any]) -> list[str]:
    """splits.schemes of a config (random when absent; the first: the tables' main one)."""
    return list(config["splits"].get("schemes", ["random"]))


def net_experiments(config: Mapping[str, Any]) -> list[Experiment]:
    """Every net of density.inputs x density.revisits under the first split (random, first split
    seed): DEM-only models do not see SAR, so they are trained once (revisits 0)."""
    density, first = config["density"], split_seeds(config)[0]
    return [
        Experiment(inputs, int(revisits), "random", first, True)
        for inputs in density["inputs"]
        for revisits in ([0] if inputs == "dem" else density["revisits"])
    ]


def experiments(config: Mapping[str, Any]) -> list[Experiment]:
    """Every experiment of the density table and differences: the nets and the change baseline
    (one per number of revisits) under every split of splits.schemes x splits.seeds, scheme by
    scheme, seed by seed."""
    seeds = split_seeds(config)
    settings = [(e.inputs, e.revisits) for e in net_experiments(config)]
    settings += [("baseline", int(r)) for r in config["density"]["revisits"]]
    return [
        Experiment(inputs, revisits, scheme, seed, seed == seeds[0])
        for scheme in split_schemes(config)
        for seed in seeds
        for inputs, revisits in settings
    ]


#: density.map's value that asks for the experiment with the best validation score.
BEST = "best"


def selection_scheme(config: Mapping[str, Any]) -> str:
    """The split scheme density.map: best is validated under: blocked when splits.schemes has it
    (validation chips far from the training chips, as a new area's are), else the first scheme."""
    schemes = split_schemes(config)
    return "blocked" if "blocked" in schemes else schemes[0]


def map_candidates(config: Mapping[str, Any]) -> list[Experiment]:
    """The experiments whose validation scores choose the map (density.map: best): every setting
    of the grid under selection_scheme, every split seed; none when density.map names one."""
    if config["density"]["map"] != BEST:
        return []
    scheme = selection_scheme(config)
    return [e for e in experiments(config) if e.scheme == scheme]


def map_experiment(config: Mapping[str, Any]) -> Experiment | None:
    """The experiment whose cross-prediction becomes the density map when density.map names one
    (first split); None for density.map: best, which is chosen by validation scores at run time
    (landslide_sar.density.selection)."""
    if config["density"]["map"] == BEST:
        return None
    inputs = config["density"]["map"]["inputs"]
    revisits = 0 if inputs == "dem" else int(config["density"]["map"]["revisits"])
    return Experiment(inputs, revisits, "random", split_seeds(config)[0], True)


def rapid_experiment(config: Mapping[str, Any], area: str) -> Experiment:
    """The trained experiment (first split) that maps a rapid-response area (rapid_response.<area>)."""
    r = config["rapid_response"][area]
    revisits = 0 if r["inputs"] == "dem" else int(r["revisits"])
    return Experiment(r["inputs"], revisits, "random", split_seeds(config)[0], True)
