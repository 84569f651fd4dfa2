"""Landslide inventory onto the area's grid: heads (points) or polygons → counts per pixel."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
from rasterio import features
from rasterio.transform import rowcol
from shapely.geometry import box

from landslide_sar.errors import InputError
from landslide_sar.grid import Grid, area_grid

from .io import write_cog_annotated

log = logging.getLogger(__name__)

LABEL_BANDS = ("landslides", "landslide_count")
#: Units and long names of the label bands (raster bands, cube variables).
UNITS = {"landslides": "1", "landslide_count": "count"}
LONG_NAMES = {
    "landslides": "landslide label (1: a head or polygon in the pixel, 0: none)",
    "landslide_count": "landslides per pixel (counted at their heads)",
}


def read_inventory(path: str | Path, grid: Grid, layer: str | None = None) -> gpd.GeoDataFrame:
    """The inventory in the grid's CRS, features outside the grid counted and reported (not kept).

    Any vector format GDAL reads, also inside a .zip (e.g. the USGS shapefiles); `layer` picks one
    layer of a multi-layer source (the first is read, with a warning naming the others, otherwise).
    Raises InputError when it is unreadable, empty, has no CRS, or lies entirely outside."""
    import pyogrio

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's fault
        raise InputError(f"{path}: inventory is not a readable vector file ({' '.join(str(err).split())})") from None
    if layer is not None and layer not in layers:
        raise InputError(f"{path}: inventory has no layer {layer!r}; layers: {layers} (inventory.layer)")
    if layer is None and len(layers) > 1:
        log.warning("%s: %d layers %s; reading the first (set inventory.layer to choose)", path, len(layers), layers)
    try:
        inv = gpd.read_file(path, layer=layer or (layers[0] if layers else None))
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's fault
        raise InputError(f"{path}: inventory is not a readable vector file ({' '.join(str(err).split())})") from None
    if inv.empty:
        raise InputError(f"{path}: inventory has no features; expected landslide heads (points) or polygons")
    if inv.crs is None:
        raise InputError(f"{path}: inventory has no CRS; expected e.g. EPSG:4326 as the USGS inventory")
    inv = inv[inv.geometry.notna() & ~inv.geometry.is_empty].to_crs(grid.crs)
    inside = inv.intersects(box(*grid.bounds))
    n_out = int((~inside).sum())
    if n_out == len(inv):
        raise InputError(f"{path}: all {len(inv)} features lie outside the area {grid.lonlat_bbox()} (lon/lat)")
    if n_out:
        log.warning("%s: %d of %d features lie outside the area and are not rasterised", path, n_out, len(inv))
    return inv[inside]


def rasterize_inventory(inventory: gpd.GeoDataFrame, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Label and counts on the grid. Label (uint8) is 1 where a head (point) falls or a polygon
    touches; counts (uint16) are landslides per pixel, each counted once at its head (points) or
    at its polygon's representative point, so chip densities count landslides, not pixels."""
    geom_types = inventory.geometry.geom_type
    unknown = sorted(set(geom_types) - {"Point", "Polygon", "MultiPolygon"})
    if unknown:
        raise InputError(f"inventory: feature types {unknown}; expected points (heads) or polygons")
    is_point = (geom_types == "Point").to_numpy()
    heads = inventory.geometry.where(is_point, inventory.geometry.representative_point())
    counts = np.zeros(grid.shape, dtype="uint16")
    rows, cols = pixel_of(heads.x.to_numpy(), heads.y.to_numpy(), grid)
    np.add.at(counts, (rows, cols), 1)
    label = (counts > 0).astype("uint8")
    polys = inventory.geometry[~is_point]
    if len(polys):
        burnt = features.rasterize(
            ((g, 1) for g in polys), out_shape=grid.shape, transform=grid.transform, all_touched=True, dtype="uint8"
        )
        label = np.maximum(label, burnt)
    return label, counts


def pixel_of(x: np.ndarray, y: np.ndarray, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the pixels containing points (x, y) in the grid's CRS; points on the
    grid's outer edge are clipped into the last row/column."""
    rows, cols = rowcol(grid.transform, np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"), op=np.floor)
    rows = np.clip(np.asarray(rows, dtype=int), 0, grid.height - 1)
    cols = np.clip(np.asarray(cols, dtype=int), 0, grid.width - 1)
    return rows, cols


def rasterize_labels(area: dict, inventory_path: str | Path, out_tif: str | Path) -> None:
    """Write an area's inventory as a two-band uint16 COG: label (0/1) and landslides per pixel."""
    grid = area_grid(area["bbox"], area["resolution"])
    inv = read_inventory(inventory_path, grid, layer=(area.get("inventory") or {}).get("layer"))
    label, counts = rasterize_inventory(inv, grid)
    log.info("%d features → %d landslides, %d labelled pixels", len(inv), int(counts.sum()), int(label.sum()))
    write_cog_annotated(
        out_tif,
        np.stack([label.astype("uint16"), counts]),
        grid,
        nodata=None,
        descriptions=list(LABEL_BANDS),
        units=[UNITS[b] for b in LABEL_BANDS],
        band_tags=[{"long_name": LONG_NAMES[b]} for b in LABEL_BANDS],
        tags={"inventory": str(inventory_path)},
        resampling="nearest",
    )
