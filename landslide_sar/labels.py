"""Landslide inventory onto the area's grid: heads (points) or polygons → counts per pixel."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
from rasterio import features
from rasterio.transform import rowcol
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry

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


#: What rasterize_labels accepts of an inventory: `any` (heads as points, or polygons counted at
#: their representative point: the density grid) or `polygons` (landslide bodies: detection).
GEOMETRIES = ("any", "polygons")
#: What becomes of features with the same geometry as an earlier one (inventory.duplicates).
DUPLICATES = ("drop", "refuse")


def read_inventory(
    path: str | Path, grid: Grid, layer: str | None = None, *, duplicates: str = "drop", geometry: str = "any"
) -> gpd.GeoDataFrame:
    """The inventory in the grid's CRS, cleaned by clean_inventory (empty and invalid geometries,
    Z, duplicates: each counted and logged), features outside the grid counted and reported (not
    kept).

    Any vector format GDAL reads, also inside a .zip (e.g. the USGS shapefiles); `layer` picks one
    layer of a multi-layer source (the first is read, with a warning naming the others, otherwise).
    Raises InputError when it is unreadable, empty, has no CRS, lies entirely outside, holds
    duplicates and `duplicates` is "refuse", or holds points where `geometry` is "polygons"."""
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
    inv = clean_inventory(inv, path, duplicates).to_crs(grid.crs)
    check_geometry(inv, path, geometry)
    inside = inv.intersects(box(*grid.bounds))
    n_out = int((~inside).sum())
    if n_out == len(inv):
        raise InputError(f"{path}: all {len(inv)} features lie outside the area {grid.lonlat_bbox()} (lon/lat)")
    if n_out:
        log.warning("%s: %d of %d features lie outside the area and are not rasterised", path, n_out, len(inv))
    return inv[inside]


def clean_inventory(inv: gpd.GeoDataFrame, path: str | Path, duplicates: str = "drop") -> gpd.GeoDataFrame:
    """The features of an inventory as rasterize_inventory needs them, every change logged with
    its count: missing or empty geometries dropped; Z coordinates dropped (labels are 2-D);
    invalid polygons repaired (shapely.make_valid, its polygonal part kept; dropped when none is
    left); features with the same geometry as an earlier one (the same head twice) dropped, the
    first kept, or refused (`duplicates` "refuse": InputError with the count and an example)."""
    import shapely

    if duplicates not in DUPLICATES:
        raise InputError(f"inventory.duplicates = {duplicates!r}; expected one of {list(DUPLICATES)}")
    n = len(inv)
    empty = (inv.geometry.isna() | inv.geometry.is_empty).to_numpy()
    if empty.all():
        raise InputError(f"{path}: all {n} features have no geometry (empty or missing); expected points or polygons")
    if empty.any():
        log.warning("%s: %d of %d features have no geometry (empty or missing) and are dropped", path, empty.sum(), n)
        inv = inv[~empty]
    has_z = inv.geometry.has_z.to_numpy()
    if has_z.any():
        log.info("%s: %d of %d features have Z coordinates: Z dropped (labels are 2-D)", path, has_z.sum(), len(inv))
        inv = inv.set_geometry(shapely.force_2d(inv.geometry.to_numpy()), crs=inv.crs)
    invalid = (~inv.geometry.is_valid).to_numpy()
    if invalid.any():
        repaired = [_polygonal(shapely.make_valid(g)) if bad else g for g, bad in zip(inv.geometry, invalid)]
        lost = np.array([g is None or g.is_empty for g in repaired])
        inv = inv.set_geometry(gpd.GeoSeries(repaired, index=inv.index, crs=inv.crs))[~lost]
        log.warning(
            "%s: %d invalid geometries (e.g. self-intersecting polygons) repaired by shapely.make_valid; %d of them "
            "left nothing polygonal and are dropped",
            path,
            invalid.sum(),
            lost.sum(),
        )
        if inv.empty:
            raise InputError(
                f"{path}: all {n} features are empty or invalid beyond repair; expected points or polygons"
            )
    dup = inv.geometry.normalize().to_wkb().duplicated(keep="first").to_numpy()
    if dup.any():
        example = inv.geometry[dup].iloc[0]
        times = int((inv.geometry.normalize() == shapely.normalize(example)).sum())
        what = (
            f"{dup.sum()} of {len(inv)} features repeat the geometry of an earlier one "
            f"(e.g. {times} x {example.wkt[:80]})"
        )
        if duplicates == "refuse":
            raise InputError(
                f"{path}: {what}; expected each landslide once (inventory.duplicates: drop keeps the first of each)"
            )
        log.warning("%s: %s: dropped, the first of each kept (inventory.duplicates: refuse stops instead)", path, what)
        inv = inv[~dup]
    return inv


def _polygonal(geom: BaseGeometry) -> BaseGeometry | None:
    """The polygonal part of a repaired geometry (a GeometryCollection's polygons), None if none."""
    from shapely.geometry import MultiPolygon, Polygon

    if isinstance(geom, Polygon | MultiPolygon):
        return geom
    polys = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon | MultiPolygon)]
    if not polys:
        return None
    parts = [p for g in polys for p in (g.geoms if isinstance(g, MultiPolygon) else [g])]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def check_geometry(inv: gpd.GeoDataFrame, path: str | Path, geometry: str = "any") -> None:
    """Points where the experiment needs polygons (`geometry` "polygons": detection learns
    landslide bodies) are InputError naming the counts; otherwise the mix is logged."""
    if geometry not in GEOMETRIES:
        raise InputError(f"inventory geometry = {geometry!r}; expected one of {list(GEOMETRIES)}")
    kinds = inv.geometry.geom_type.value_counts().to_dict()
    n_points = int(kinds.get("Point", 0) + kinds.get("MultiPoint", 0))
    if geometry == "polygons" and n_points:
        raise InputError(
            f"{path}: inventory holds {n_points} point(s) of {len(inv)} features ({kinds}); a detection region "
            "learns landslide bodies: expected polygons (inventory.layer: a layer of outlines)"
        )
    log.info("%s: geometry types: %s", path, ", ".join(f"{v} {k}" for k, v in sorted(kinds.items())))


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


def rasterize_labels(area: dict, inventory_path: str | Path, out_tif: str | Path, geometry: str = "any") -> None:
    """Write an area's inventory as a two-band uint16 COG: label (0/1) and landslides per pixel.
    `geometry` "polygons" refuses points (a detection region learns landslide bodies)."""
    grid = area_grid(area["bbox"], area["resolution"])
    inv_cfg = area.get("inventory") or {}
    inv = read_inventory(
        inventory_path,
        grid,
        layer=inv_cfg.get("layer"),
        duplicates=inv_cfg.get("duplicates", "drop"),
        geometry=geometry,
    )
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
