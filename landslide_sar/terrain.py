"""DEM onto the area's grid and its derivatives with richdem's definitions.

richdem (the papers' choice) does not build on Python 3.11 from PyPI; it is used when importable,
otherwise xdem (slope and aspect with Horn's method, as richdem) and richdem's curvature formula.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from scipy import ndimage

from .download import Network, redact
from .grid import Grid, InputError, area_grid
from .io import write_cog

log = logging.getLogger(__name__)

DERIVATIVES = ("dem_slope_radians", "dem_aspect", "dem_curvature")


def reproject_dem(src_path: str | Path, grid: Grid) -> np.ndarray:
    """The DEM resampled (bilinear) onto `grid` as float32 metres, NaN where it has no data."""
    out = np.full(grid.shape, np.nan, dtype="float32")
    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{src_path}: not a readable raster ({err})") from None
    with src:
        if src.crs is None:
            raise InputError(f"{src_path}: DEM has no CRS; expected a georeferenced raster (is the file complete?)")
        try:
            reproject(
                source=rasterio.band(src, 1),
                destination=out,
                src_nodata=src.nodata,
                dst_transform=grid.transform,
                dst_crs=grid.crs,
                dst_nodata=np.nan,
                resampling=Resampling.bilinear,
            )
        except rasterio.errors.RasterioError as err:
            raise InputError(f"{src_path}: DEM could not be read ({' '.join(str(err).split())[:300]})") from None
    if not np.isfinite(out).any():
        raise InputError(f"{src_path}: DEM is all nodata over the area's grid {grid.bounds} ({grid.crs})")
    return out


#: The elevation asset of DEM collections on Planetary Computer.
DEM_ASSETS = {"cop-dem-glo-30": "data", "cop-dem-glo-90": "data", "nasadem": "elevation", "alos-dem": "data"}


def dem_from_stac(dem_cfg: dict, grid: Grid, network: Network) -> np.ndarray:
    """The DEM tiles of a STAC collection (e.g. Planetary Computer `cop-dem-glo-30` or `nasadem`)
    that intersect the grid, mosaicked and resampled (bilinear) onto it: float32 metres, NaN nodata."""
    from .sentinel1 import raise_read_error, search_stac, sign_items, stack_on_grid

    endpoint = dem_cfg["endpoint"]
    collection = dem_cfg["collection"]
    asset = dem_cfg.get("asset") or DEM_ASSETS.get(collection, "data")
    w, s, e, n = grid.lonlat_bbox()
    margin = 0.001  # a few DEM pixels, so that bilinear resampling has neighbours at the edges
    bbox = (w - margin, s - margin, e + margin, n + margin)
    items = search_stac(endpoint, collection, bbox, None, None, network, what="dem")
    where = f"dem: {redact(endpoint)} collection {collection} bbox {[round(v, 5) for v in bbox]}"
    if not items:
        raise InputError(f"{where}: the search found no DEM tiles; check the bbox and the collection name")
    lacking = [i.id for i in items if asset not in i.assets]
    if lacking:
        raise InputError(f"{where}: item {lacking[0]} has no asset {asset!r}; set dem.asset (assets: {sorted(items[0].assets)})")
    log.info("DEM tiles: %s", [i.id for i in items])
    mosaic = stack_on_grid(sign_items(items, endpoint), [asset], grid, 2048, network)
    try:
        return mosaic.isel(band=0).values.astype("float32")
    except RuntimeError as err:
        raise_read_error(err, where)
        raise


def download_dem(area: dict, src_path: str | Path | None, out_tif: str | Path, network: Network | None = None) -> None:
    """Write the area's DEM on its grid (COG, float32, NaN nodata): from a raster file (the
    embedded event's or `dem.path`) or from a STAC collection (`dem.source: stac`)."""
    grid = area_grid(area["bbox"], area["resolution"])
    dem_cfg = area.get("dem") or {"source": "file"}
    if dem_cfg["source"] == "stac":
        dem = dem_from_stac(dem_cfg, grid, network or Network.from_config(area))
        src = f"{dem_cfg['collection']} (STAC)"
        if not np.isfinite(dem).any():
            raise InputError(f"dem: {src} is all nodata over the area's grid {grid.bounds} ({grid.crs})")
    else:
        dem = reproject_dem(src_path, grid)
        src = str(src_path)
    log.info("DEM %s → %s: %d x %d, %.1f %% valid, %.0f–%.0f m", src, out_tif, grid.width, grid.height,
             100 * np.isfinite(dem).mean(), np.nanmin(dem), np.nanmax(dem))
    write_cog(out_tif, dem, grid, nodata=np.nan, descriptions=["dem"], resampling="bilinear")


def slope_aspect(dem: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (radians) and aspect (degrees clockwise from north, the direction the slope faces;
    -1 on flat cells, as richdem) with Horn's (1981) method."""
    try:
        import richdem as rd  # type: ignore[import-not-found]

        rda = rd.rdarray(dem, no_data=np.nan)
        rda.geotransform = [0, resolution, 0, 0, 0, -resolution]
        slope = np.asarray(rd.TerrainAttribute(rda, attrib="slope_radians"), dtype="float32")
        aspect = np.asarray(rd.TerrainAttribute(rda, attrib="aspect"), dtype="float32")
        return slope, aspect
    except ImportError:
        pass
    import xdem.terrain

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        slope = xdem.terrain.slope(dem, method="Horn", degrees=False, resolution=resolution)
        aspect = xdem.terrain.aspect(dem, method="Horn", degrees=True)
    slope = np.asarray(slope, dtype="float32")
    aspect = np.asarray(aspect, dtype="float32")
    aspect[slope == 0] = -1.0
    return slope, aspect


def curvature(dem: np.ndarray, resolution: float) -> np.ndarray:
    """richdem's curvature (Zevenbergen & Thorne 1987): -2(D+E)·100 with D, E the half second
    derivatives along x and y, i.e. -100 × Laplacian, in 1/(100 m). Positive on convex ridges,
    negative in concave hollows. (xdem 0.2's "curvature" is twice this, so it is not used.)"""
    z = dem.astype("float64")
    d = (ndimage.shift(z, (0, 1), order=0, mode="nearest") + ndimage.shift(z, (0, -1), order=0, mode="nearest")) / 2 - z
    e = (ndimage.shift(z, (1, 0), order=0, mode="nearest") + ndimage.shift(z, (-1, 0), order=0, mode="nearest")) / 2 - z
    curv = -2.0 * (d + e) / resolution**2 * 100.0
    curv[[0, -1], :] = np.nan
    curv[:, [0, -1]] = np.nan
    return curv.astype("float32")


def dem_derivatives(dem_tif: str | Path, out_tif: str | Path, smoothing_sigma_px: float = 0.0) -> None:
    """Slope, aspect and curvature of the area's DEM (optionally Gaussian-smoothed first) as one
    three-band COG with band descriptions dem_slope_radians, dem_aspect, dem_curvature."""
    with rasterio.open(dem_tif) as src:
        dem = src.read(1).astype("float32")
        grid = Grid(src.crs.to_string(), src.transform, src.width, src.height)
    if smoothing_sigma_px > 0:
        valid = np.isfinite(dem)
        filled = np.where(valid, dem, np.nanmean(dem))
        dem = ndimage.gaussian_filter(filled, smoothing_sigma_px).astype("float32")
        dem[~valid] = np.nan
    slope, aspect = slope_aspect(dem, grid.resolution)
    curv = curvature(dem, grid.resolution)
    log.info("slope %.1f–%.1f deg (median %.1f); curvature p5/p95 %.2f/%.2f", *np.degrees(np.nanpercentile(slope, [0, 100])),
             np.degrees(np.nanmedian(slope)), *np.nanpercentile(curv, [5, 95]))
    write_cog(out_tif, np.stack([slope, aspect, curv]), grid, nodata=np.nan, descriptions=list(DERIVATIVES), resampling="bilinear")
