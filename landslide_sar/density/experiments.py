"""The names of density experiments, shared by the rules (parsed on every Snakemake call, so this
module imports nothing heavy) and the library: folder suffix of each split scheme, experiment id."""

from __future__ import annotations

#: The folder suffix of each split scheme of splits.schemes (results/<area>/density/<experiment><suffix>):
#: random, the paper's and the map's, has none.
SCHEME_SUFFIX: dict[str, str] = {"random": "", "blocked": "_blocked"}


def experiment_id(inputs: str, revisits: int, scheme: str = "random") -> str:
    """The experiment's folder name: <inputs>_r<revisits>[_blocked] (DEM-only: dem_r0)."""
    return f"{inputs}_r{int(revisits)}{SCHEME_SUFFIX[scheme]}"
