"""The file names of a generated event, in one place: the library writes them, rules/synthetic.smk
declares them as the outputs of generate_event (``EVENT_FILES``), and tests read them."""

from __future__ import annotations

#: key -> path relative to the event folder. ``sentinel1`` is a folder of COGs named
#: ``<item id>_<asset>.tif`` (assets vv, vh and, with terrain masking, mask).
EVENT_FILES: dict[str, str] = {
    "items": "sentinel1_items.json",
    "sentinel1_dir": "sentinel1",
    "dem": "dem.tif",
    "inventory": "inventory.gpkg",
    "truth_vectors": "truth.gpkg",
    "truth_raster": "truth.tif",
    "truth_summary": "truth_summary.json",
}

#: Layers of the vector files.
INVENTORY_LAYER = "landslides"
TRUTH_LAYERS = ("heads", "bodies")

#: Bands of truth.tif, in order.
TRUTH_BANDS = (
    "elevation",
    "rain",
    "land_cover",
    "landslide_fraction",
    "storm_damage",
    "rate",
    "layover_shadow",
    "incidence_deg",
    "epicentre_distance_m",
    "terrain_rate",
)


def sar_file(item_id: str, asset: str) -> str:
    """File name of one asset's COG in the ``sentinel1`` folder."""
    return f"{item_id}_{asset}.tif"
