"""The density map's choice file (choose_density_map's map_choice.json), read in one place: which
experiment maps the area, why, and its validation score, as the maps' provenance tags. Apart from
landslide_sar.density.selection so that the map writers need none of the selection's imports."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from landslide_sar.density.experiments import BEST
from landslide_sar.io import read_json

PathLike = str | os.PathLike


def read_choice(path: PathLike) -> dict[str, Any]:
    """The choice JSON of choose_density_map (one place reads it)."""
    return read_json(path, ["experiment"], "choose_density_map's choice")


def choice_tags(choice: Mapping[str, Any]) -> dict[str, str]:
    """The map's provenance tags of a choice: which experiment, why, and its validation score."""
    score = choice.get("validation_auc")
    return {
        "experiment": str(choice["experiment"]),
        "experiment_choice": (
            f"best validation AUC under the {choice['scheme']} split"
            if choice["rule"] == BEST
            else "density.map in the config"
        ),
        "validation_auc": "n/a" if score is None else f"{float(score):.3f}",
    }
