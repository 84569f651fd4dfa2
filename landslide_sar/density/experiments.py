"""The names of density experiments, shared by the rules (parsed on every Snakemake call, so this
module imports nothing heavy) and the library: the folder suffix of each split, experiment id.

A split is a (scheme, split seed) pair of splits.schemes x splits.seeds. Its suffix is the
scheme's (random, the paper's and the map's, has none; blocked: "_blocked") plus "_s<seed>" for
every split seed but the first, so that results/<area>/density/fused_r3 is the paper's split.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

#: The folder suffix of each split scheme of splits.schemes (results/<area>/density/<experiment><suffix>).
SCHEME_SUFFIX: dict[str, str] = {"random": "", "blocked": "_blocked"}
#: Every split suffix (a Snakemake wildcard constraint; empty: random, first split seed).
SPLIT_PATTERN = r"(_blocked)?(_s\d+)?"


def split_suffix(scheme: str = "random", split_seed: int | None = None, seeds: Sequence[int] = ()) -> str:
    """The folder suffix of a split: "" (random, first seed), "_blocked", "_s43", "_blocked_s43".
    split_seed None or the first of `seeds` adds nothing."""
    first = int(seeds[0]) if len(seeds) else None
    seed = "" if split_seed is None or int(split_seed) == first else f"_s{int(split_seed)}"
    return f"{SCHEME_SUFFIX[scheme]}{seed}"


def parse_split(suffix: str, seeds: Sequence[int]) -> tuple[str, int]:
    """(scheme, split seed) of a split suffix, inverse of split_suffix (the first seed when none)."""
    m = re.fullmatch(SPLIT_PATTERN, suffix)
    if m is None:
        raise ValueError(f"split suffix {suffix!r}; expected {SPLIT_PATTERN}")
    scheme = "blocked" if m.group(1) else "random"
    return scheme, int(m.group(2)[2:]) if m.group(2) else int(seeds[0])


def experiment_id(
    inputs: str, revisits: int, scheme: str = "random", split_seed: int | None = None, seeds: Sequence[int] = ()
) -> str:
    """The experiment's folder name: <inputs>_r<revisits>[_blocked][_s<seed>] (DEM-only: dem_r0)."""
    return f"{inputs}_r{int(revisits)}{split_suffix(scheme, split_seed, seeds)}"
