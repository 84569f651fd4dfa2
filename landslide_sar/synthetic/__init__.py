"""The embedded synthetic event: a landslide-triggering event over fractal terrain, observed by a
Sentinel-1-like time series, written out in the same shapes as the real inputs.

No machine of the project reaches the internet, so the default run consumes a generated event
through the interfaces of real data (see docs/synthetic_event.md for the model and every
parameter): ``sentinel1/*.tif`` COGs of linear gamma0 with ``sentinel1_items.json`` (pystac
Items like Planetary Computer ``sentinel-1-rtc``), ``dem.tif`` (EPSG:4326, 1 arcsecond),
``inventory.gpkg`` (heads as a mapper recorded them) and the truth (``truth.gpkg``, ``truth.tif``,
``truth_summary.json``) for tests, the report and the evaluation only.

One module per stage, in the order generate_event runs them:

- ``params``: the ``synthetic`` block, checked by the project's validator against its schema;
- ``acquisitions``: dates, orbits and ids of the items (pure);
- ``fields``: terrain, rain, land cover, landslide rate, storm damage, texture;
- ``landslides``: heads, bodies, covered fraction, the inventory as mapped;
- ``backscatter``: gamma0 of one acquisition, frame slices;
- ``stac``: the pystac Items;
- ``write``: the files (names in ``files``) and ``generate_event``.
"""

from .acquisitions import PlannedItem, acquisition_plan, parse_event_time
from .backscatter import frame_masks, simulate_acquisition
from .fields import World, build_world, fractal_surface, smooth_field
from .files import EVENT_FILES, TRUTH_BANDS
from .landslides import coverage_fraction, place_landslides
from .params import (
    BLOCK_ROWS,
    DEM_NODATA,
    HEAD_BATCH,
    LAND_COVER_CODES,
    SAR_NODATA,
    SCHEMA_PATH,
    check_params,
    parameter_schema,
)
from .stac import stac_item
from .write import EventPaths, chip_counts, generate_event, main

__all__ = [
    "BLOCK_ROWS",
    "DEM_NODATA",
    "HEAD_BATCH",
    "EVENT_FILES",
    "LAND_COVER_CODES",
    "SAR_NODATA",
    "SCHEMA_PATH",
    "TRUTH_BANDS",
    "PlannedItem",
    "EventPaths",
    "World",
    "acquisition_plan",
    "build_world",
    "check_params",
    "chip_counts",
    "coverage_fraction",
    "fractal_surface",
    "frame_masks",
    "generate_event",
    "main",
    "parameter_schema",
    "parse_event_time",
    "place_landslides",
    "simulate_acquisition",
    "smooth_field",
    "stac_item",
]
