"""GIS-ready detection outputs for responders, from a detection experiment's predictions zarr:
per region a landslide probability COG (the chips mosaicked on the region's grid) and a
GeoPackage of landslide polygons (connected pixels at or above the probability threshold)."""

from __future__ import annotations

import json
import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr
from rasterio import features
from scipy import ndimage
from shapely.geometry import shape

from landslide_sar.calibration import Calibrator
from landslide_sar.cube import cube_grid
from landslide_sar.detection.calibrate import region_test_set
from landslide_sar.detection.selection import choice_tags, read_choice
from landslide_sar.errors import InputError
from landslide_sar.grid import Grid
from landslide_sar.io import atomic_path, write_cog_annotated

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
POLYGON_COLUMNS = ["landslide", "n_pixels", "area_m2", "mean_probability", "max_probability"]


def mosaic_probability(predictions: xr.Dataset, region: str, grid: Grid) -> tuple[np.ndarray, list[str]]:
    """(y, x) float32 landslide probability of `region`'s predicted chips placed at their origin
    (row0, col0) in the region's grid, NaN where no chip was predicted or an input was nodata;
    and the chip subsets it holds (e.g. val, test)."""
    sel = np.flatnonzero(np.asarray(predictions["region"].values).astype(str) == region)
    if not len(sel):
        have = sorted(set(np.asarray(predictions["region"].values).astype(str)))
        raise InputError(f"predictions hold no chip of region {region!r}; regions: {have}")
    out = np.full(grid.shape, np.nan, dtype="float32")
    prob = predictions["prob"].values[sel].astype("float32")
    valid = predictions["valid"].values[sel].astype(bool)
    h, w = prob.shape[1:]
    for p, v, r, c in zip(prob, valid, predictions["row0"].values[sel], predictions["col0"].values[sel]):
        r, c = int(r), int(c)
        if r + h > grid.height or c + w > grid.width:
            raise InputError(
                f"chip at row {r}, col {c} ({h} x {w}) lies outside {region}'s grid {grid.height} x {grid.width}"
            )
        out[r : r + h, c : c + w] = np.where(v, p, np.nan)
    subsets = sorted(set(np.asarray(predictions["subset"].values[sel]).astype(str)))
    return out, subsets


def landslide_polygons(prob: np.ndarray, grid: Grid, threshold: float) -> gpd.GeoDataFrame:
    """One polygon per 8-connected group of pixels with probability >= threshold, with its pixel
    count, area (m²), mean and max probability, in the grid's CRS."""
    mask = np.isfinite(prob) & (prob >= threshold)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3), dtype=bool))
    geoms, ids = [], []
    for geom, value in features.shapes(labels.astype("int32"), mask=mask, transform=grid.transform, connectivity=8):
        geoms.append(shape(geom))
        ids.append(int(value))
    index = np.arange(1, n + 1)
    n_px = ndimage.sum_labels(mask, labels, index) if n else np.array([])
    mean = ndimage.mean(prob, labels, index) if n else np.array([])
    peak = ndimage.maximum(prob, labels, index) if n else np.array([])
    gdf = gpd.GeoDataFrame({"landslide": np.array(ids, dtype="int64")}, geometry=geoms, crs=grid.crs)
    gdf = gdf.dissolve(by="landslide", as_index=False) if len(gdf) else gdf
    k = gdf["landslide"].to_numpy(dtype=int) - 1
    gdf["n_pixels"] = np.asarray(n_px, dtype="int64")[k] if n else np.array([], dtype="int64")
    gdf["area_m2"] = gdf["n_pixels"] * grid.resolution**2
    gdf["mean_probability"] = np.asarray(mean, dtype="float64")[k] if n else np.array([], dtype="float64")
    gdf["max_probability"] = np.asarray(peak, dtype="float64")[k] if n else np.array([], dtype="float64")
    return gdf[[*POLYGON_COLUMNS, "geometry"]]


def detection_map(
    predictions_zarr: PathLike,
    cube_zarr: PathLike,
    region: str,
    threshold: float,
    tif_out: PathLike,
    gpkg_out: PathLike,
    provenance: Mapping[str, object] | None = None,
    choice: PathLike | None = None,
    calibration: PathLike | None = None,
) -> None:
    """Write `region`'s landslide probability as a float32 COG on the region's grid (band
    landslide_probability, NaN nodata) and its thresholded landslide polygons as GeoPackage layer
    "landslides"; `provenance`, the threshold and the `choice` (choose_detection_map's file: which
    experiment, why, its validation AUPRC) as tags / in the log. With `calibration` (the JSON of
    detection_calibration) the COG's probability is recalibrated by it and carries its tag
    CALIBRATION (ECE before/after on this region's test chips); the polygons stay those of the
    uncalibrated probability at the threshold (the detections the metrics score)."""
    if not 0 <= threshold <= 1:
        raise InputError(f"config detection.evaluation.probability_threshold = {threshold}; expected a value in [0, 1]")
    grid = cube_grid(cube_zarr)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        pred = xr.open_zarr(predictions_zarr)
    crs = json.loads(pred.attrs.get("crs", "{}")).get(region)
    if crs is not None and crs != grid.crs and str(crs).upper() != grid.crs.upper():
        log.warning("predictions give %s for %s, the cube %s; the cube's grid is used", crs, region, grid.crs)
    prob, subsets = mosaic_probability(pred, region, grid)
    tags = {
        "region": region,
        "chip_subsets": ", ".join(subsets),
        "probability_threshold": f"{threshold:g}",
        **{str(k): str(v) for k, v in (provenance or {}).items()},
        **(choice_tags(read_choice(choice)) if choice is not None else {}),
    }
    shown, cal_tag = prob, {}
    if calibration is not None:
        cal = Calibrator.from_json(Path(calibration).read_text())
        shown = cal.apply(prob).astype("float32")
        cal_tag = {"CALIBRATION": cal.tag(region_test_set(region))}
        log.info("%s: probability recalibrated: %s", region, cal_tag["CALIBRATION"])
    write_cog_annotated(
        tif_out,
        shown,
        grid,
        nodata=np.nan,
        descriptions=["landslide_probability"],
        units=["1"],
        tags={**tags, **cal_tag},
        band_tags=[{"long_name": "U-Net landslide probability (NaN: no chip predicted or nodata input)"}],
        resampling="average",
    )
    polys = landslide_polygons(prob, grid, threshold)
    with atomic_path(gpkg_out) as tmp:
        polys.to_file(tmp, layer="landslides", driver="GPKG", geometry_type=None if len(polys) else "Polygon")
    log.info(
        "%s: %d chips (%s), %.1f %% of the grid predicted, %d landslide polygons at p >= %g (%.0f m² in all)",
        region,
        int((np.asarray(pred["region"].values).astype(str) == region).sum()),
        ", ".join(subsets),
        100 * np.isfinite(prob).mean(),
        len(polys),
        threshold,
        float(polys["area_m2"].sum()),
    )
