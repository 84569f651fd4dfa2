"""The generator's parameters: the ``areas.<name>.synthetic`` block, its schema and its constants.

The schema (schemas/synthetic.schema.yaml) is the one list of the parameters, their types and
bounds; it holds no values (schemas/synthetic.presets.yaml has the named presets an area starts
from) and every key is required once the preset is expanded. The block is checked by the
project's one validator (landslide_sar.config), so a block passed by hand fails exactly as the
same block in config.yaml would."""

from __future__ import annotations

import copy
import functools
import math
from typing import Any

from landslide_sar.config import SCHEMA_DIR, expand_preset, validate_section
from landslide_sar.errors import ConfigError, InputError

#: The schema of the ``areas.<name>.synthetic`` block. tests/test_synthetic.py keeps schema,
#: config.yaml and docs/synthetic_event.md in sync.
SCHEMA_PATH = SCHEMA_DIR / "synthetic.schema.yaml"

#: Land-cover codes written to truth.tif (band ``land_cover``).
LAND_COVER_CODES: dict[str, int] = {"forest": 1, "pasture": 2, "urban": 3, "water": 4}

#: Nodata of the SAR COGs (as Planetary Computer sentinel-1-rtc) and of the DEM.
SAR_NODATA = -32768.0
DEM_NODATA = -32767.0

#: The density classes truth_summary.json reports (``chips_128``): the paper's 128-pixel chips and
#: class edges per km² (class 0 none, 1 up to 25, 2 above), as config.yaml's ``chips`` block. A
#: diagnostic of the truth only: the pipeline's chips and classes come from its own config.
SUMMARY_CHIP_SIZE = 128
SUMMARY_CLASS_EDGES_PER_KM2 = (0.0, 25.0)

#: Rows of the area grid per block when the generator works block by block (per-pixel fields,
#: the heads' Poisson draws, the covered fraction, the truth raster, every acquisition's COGs):
#: the generator's temporaries are a few blocks, not a few whole areas. The event does not
#: depend on it (tests/test_synthetic.py generates with tiny blocks and compares); a multiple of
#: the COGs' 256-px tiles.
BLOCK_ROWS = 512
#: Heads per batch of the runout tracing (the paths of a batch are held while it runs).
HEAD_BATCH = 50_000


@functools.cache
def parameter_schema() -> dict:
    """schemas/synthetic.schema.yaml, parsed."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


def _leaves(value: Any, where: str):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{where}.{k}")
    else:
        yield where, value


def check_params(synthetic: Any, where: str = "synthetic") -> dict:
    """The generator's parameters: the ``areas.<name>.synthetic`` block, checked, as given (a copy).

    The schema is enforced by landslide_sar.config.validate_section (every key present, no other,
    types and bounds); here only what a schema cannot express: finite numbers,
    ``length_max_m >= length_min_m``, ``width_max_m >= width_min_m``. Raises InputError with one
    line naming the key path. A ``preset`` is expanded first (landslide_sar.config.expand_preset),
    so a block such as ``{"preset": "storm", "seed": 1}`` is the full block of that preset."""
    if synthetic is None:
        raise InputError(f"{where} is missing; expected the areas.<name>.synthetic block of the config")
    try:
        synthetic = expand_preset(synthetic, where)
        validate_section(synthetic, parameter_schema(), where)
    except ConfigError as err:
        raise InputError(str(err)) from None
    for key, value in _leaves(synthetic, where):
        if not math.isfinite(value):
            raise InputError(f"config {key} = {value!r} is not allowed; expected a finite number")
    ls = synthetic["landslides"]
    for what in ("length", "width"):
        lo, hi = ls[f"{what}_min_m"], ls[f"{what}_max_m"]
        if hi < lo:
            raise InputError(
                f"config {where}.landslides.{what}_max_m = {hi!r} is not allowed; expected >= {what}_min_m {lo!r}"
            )
    return copy.deepcopy(synthetic)


def area_value(area: dict, *path: str) -> Any:
    """``area[path[0]][path[1]]...``; InputError naming the key path when it is missing or null."""
    node: Any = area
    for i, key in enumerate(path):
        if not isinstance(node, dict) or node.get(key) is None:
            raise InputError(
                f"{'.'.join(path[: i + 1])} is missing or null; the synthetic event needs it (see config.yaml)"
            )
        node = node[key]
    return node
