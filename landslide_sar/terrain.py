"""DEM onto the area's grid and its derivatives with richdem's definitions, computed one way for
everyone: slope and aspect by xdem with Horn's method (as richdem), curvature by richdem's
formula. (richdem itself, the papers' choice, does not build on Python 3.11 from PyPI, so it is
not used even where it installs: one algorithm, the same numbers in every environment.)
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import reproject
from rasterio.windows import Window
from scipy import ndimage

from landslide_sar.errors import InputError
from landslide_sar.grid import Grid, area_grid

from .download import Network, redact
from .io import GDAL_CACHE_MB, cog_writer, write_cog_annotated

log = logging.getLogger(__name__)

DERIVATIVES = ("dem_slope_radians", "dem_aspect", "dem_curvature")
#: How the derivatives are computed (a tag of dem_derivatives.tif).
ALGORITHM = "slope, aspect: xdem Horn (1981); curvature: richdem's formula (Zevenbergen & Thorne 1987)"
#: Units and long names of the DEM and its derivatives (raster bands, cube variables).
UNITS = {"dem": "m", "dem_slope_radians": "rad", "dem_aspect": "degree", "dem_curvature": "1/(100 m)"}
LONG_NAMES = {
    "dem": "elevation above sea level",
    "dem_slope_radians": "slope (Horn 1981)",
    "dem_aspect": "aspect, clockwise from north, direction the slope faces (-1: flat)",
    "dem_curvature": "curvature, -100 x Laplacian (Zevenbergen & Thorne 1987; richdem); negative in hollows",
}


#: Vertical units a DEM may state (band unit tag, vertical CRS axis), lower-cased: metres per unit.
VERTICAL_UNITS = {
    **dict.fromkeys(("m", "metre", "metres", "meter", "meters"), 1.0),
    **dict.fromkeys(("ft", "foot", "feet", "international foot", "foot (international)"), 0.3048),
    **dict.fromkeys(("us-ft", "ftus", "us_survey_foot", "us survey foot", "foot_us", "us survey feet"), 1200 / 3937),
}
#: Elevations plausible in metres (the Dead Sea shore, -430 m; Everest, 8849 m), after conversion.
PLAUSIBLE_M = (-500.0, 9000.0)


def vertical_unit(path: str | Path) -> tuple[str | None, float]:
    """The DEM's vertical unit as stated by the file (the band's unit tag, and the vertical CRS
    of a compound CRS) and its factor to metres; (None, 1.0) when it states none. InputError for
    a unit not in VERTICAL_UNITS, or a band tag and vertical CRS that disagree."""
    from pyproj import CRS

    # GDAL reports a GeoTIFF's vertical CRS only when asked to
    with rasterio.Env(GTIFF_REPORT_COMPD_CS="YES"), rasterio.open(path) as src:
        units, src_crs = src.units, src.crs
    stated = []
    tag = (units[0] or "").strip() if units else ""
    if tag:
        stated.append(("band unit tag", tag))
    if src_crs is not None:
        crs = CRS.from_wkt(src_crs.to_wkt())
        vertical = next((c for c in crs.sub_crs_list if c.is_vertical), None) if crs.is_compound else None
        if vertical is not None and vertical.axis_info:
            stated.append((f"vertical CRS {vertical.name!r}", vertical.axis_info[0].unit_name))
    if not stated:
        return None, 1.0
    factors = []
    for where, unit in stated:
        if unit.lower() not in VERTICAL_UNITS:
            raise InputError(
                f"{path}: DEM vertical unit {unit!r} ({where}) is not known; expected metres or feet "
                "(m, ft, US survey ft): convert the DEM to metres"
            )
        factors.append(VERTICAL_UNITS[unit.lower()])
    if len(set(factors)) > 1:
        raise InputError(
            f"{path}: DEM states two vertical units, {stated[0][1]!r} ({stated[0][0]}) and {stated[1][1]!r} "
            f"({stated[1][0]}); expected one"
        )
    return stated[0][1], factors[0]


def check_plausible_metres(dem: np.ndarray, where: str) -> None:
    """InputError when the DEM's values (metres) leave PLAUSIBLE_M: an undeclared nodata value
    (-9999, -32768) or a unit the file does not state."""
    lo, hi = float(np.nanmin(dem)), float(np.nanmax(dem))
    if lo < PLAUSIBLE_M[0] or hi > PLAUSIBLE_M[1]:
        raise InputError(
            f"{where}: DEM values {lo:g}..{hi:g} m are not plausible elevations; expected values in "
            f"[{PLAUSIBLE_M[0]:g}, {PLAUSIBLE_M[1]:g}] m (an undeclared nodata value? a vertical unit the file "
            "does not state?)"
        )


def reproject_dem(src_path: str | Path, grid: Grid) -> np.ndarray:
    """The DEM resampled (bilinear) onto `grid` as float32 metres, NaN where it has no data: values
    in feet (band unit tag or vertical CRS) converted, an unknown unit or values implausible in
    metres refused (InputError); a DEM that states no unit is taken as metres, and the log says so."""
    out = np.full(grid.shape, np.nan, dtype="float32")
    try:
        src = rasterio.open(src_path)
    except rasterio.errors.RasterioIOError as err:
        raise InputError(f"{src_path}: not a readable raster ({err})") from None
    with src:
        if src.crs is None:
            raise InputError(f"{src_path}: DEM has no CRS; expected a georeferenced raster (is the file complete?)")
        unit, to_metres = vertical_unit(src_path)
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
    if unit is None:
        log.info("%s: the DEM states no vertical unit (band unit tag, vertical CRS): taken as metres", src_path)
    elif to_metres != 1.0:
        log.warning("%s: DEM in %r: converted to metres (x %.10g)", src_path, unit, to_metres)
        out *= np.float32(to_metres)
    check_plausible_metres(out, str(src_path))
    return out


#: The elevation asset of DEM collections on Planetary Computer.
DEM_ASSETS = {"cop-dem-glo-30": "data", "cop-dem-glo-90": "data", "nasadem": "elevation", "alos-dem": "data"}


def dem_from_stac(dem_cfg: dict, grid: Grid, network: Network) -> np.ndarray:
    """The DEM tiles of a STAC collection (e.g. Planetary Computer `cop-dem-glo-30` or `nasadem`)
    that intersect the grid, mosaicked and resampled (bilinear) onto it: float32 metres, NaN nodata."""
    # stac imports stackstac and dask (0.7 s): only the STAC source pays for them
    from landslide_sar.stac import raise_read_error, search_stac, sign_items, stack_on_grid

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
        raise InputError(
            f"{where}: item {lacking[0]} has no asset {asset!r}; set dem.asset (assets: {sorted(items[0].assets)})"
        )
    log.info("DEM tiles: %s", [i.id for i in items])
    mosaic = stack_on_grid(sign_items(items, endpoint, network), [asset], grid, 2048, network)
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
        log.info("dem: %s: STAC DEM collections are in metres (Copernicus, NASADEM, ALOS): taken as metres", src)
        check_plausible_metres(dem, f"dem: {src}")
    else:
        dem = reproject_dem(src_path, grid)
        src = str(src_path)
    log.info(
        "DEM %s → %s: %d x %d, %.1f %% valid, %.0f–%.0f m",
        src,
        out_tif,
        grid.width,
        grid.height,
        100 * np.isfinite(dem).mean(),
        np.nanmin(dem),
        np.nanmax(dem),
    )
    write_cog_annotated(
        out_tif,
        dem,
        grid,
        nodata=np.nan,
        descriptions=["dem"],
        units=[UNITS["dem"]],
        band_tags=[{"long_name": LONG_NAMES["dem"]}],
        tags={"source": src},
        resampling="bilinear",
    )


def slope_aspect(dem: np.ndarray, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Slope (radians) and aspect (degrees clockwise from north, the direction the slope faces;
    -1 on flat cells, as richdem) with Horn's (1981) method."""
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
    negative in concave hollows. (xdem 0.2's "curvature" is twice this, so it is not used.)

    By slicing the interior (the outermost rows and columns are NaN), in float64 arithmetic like
    richdem but without whole float64 copies of the shifted DEM."""
    curv = np.full(dem.shape, np.nan, dtype="float32")
    if dem.shape[0] < 3 or dem.shape[1] < 3:
        return curv
    z = dem.astype("float64", copy=False)
    c = z[1:-1, 1:-1]
    d = (z[1:-1, :-2] + z[1:-1, 2:]) / 2 - c
    e = (z[:-2, 1:-1] + z[2:, 1:-1]) / 2 - c
    curv[1:-1, 1:-1] = -2.0 * (d + e) / resolution**2 * 100.0
    return curv


#: Rows of the DEM processed at a time by dem_derivatives (plus a halo above and below).
STRIP_ROWS = 512


def smoothing_radius(smoothing_sigma_px: float) -> int:
    """Rows reached by ndimage.gaussian_filter (truncate=4) of this sigma; 0 without smoothing."""
    return int(4.0 * float(smoothing_sigma_px) + 0.5) if smoothing_sigma_px > 0 else 0


def derivatives_of(
    dem: np.ndarray, resolution: float, smoothing_sigma_px: float = 0.0, fill: float | None = None
) -> np.ndarray:
    """Slope, aspect and curvature (3, y, x) of a float32 DEM array, optionally Gaussian-smoothed
    first with nodata filled by `fill` (default: the array's mean). Every output pixel depends on
    the input within smoothing_radius + 1 pixels only (the array's edges as the DEM's edges), so
    a row strip with that many extra rows above and below gives its rows exactly."""
    if smoothing_sigma_px > 0:
        valid = np.isfinite(dem)
        fill_value = np.float32(np.nanmean(dem) if fill is None else fill)
        dem = ndimage.gaussian_filter(np.where(valid, dem, fill_value), smoothing_sigma_px).astype("float32")
        dem[~valid] = np.nan
    slope, aspect = slope_aspect(dem, resolution)
    return np.stack([slope, aspect, curvature(dem, resolution)])


def _strips(height: int, rows: int, halo: int) -> Iterator[tuple[int, int, int, int]]:
    """(r0, r1, a, b): output rows [r0, r1) computed from input rows [a, b) with the halo."""
    for r0 in range(0, height, rows):
        r1 = min(height, r0 + rows)
        yield r0, r1, max(0, r0 - halo), min(height, r1 + halo)


def dem_derivatives(
    dem_tif: str | Path, out_tif: str | Path, smoothing_sigma_px: float = 0.0, strip_rows: int = STRIP_ROWS
) -> None:
    """Slope, aspect and curvature of the area's DEM (optionally Gaussian-smoothed first) as one
    three-band COG with band descriptions dem_slope_radians, dem_aspect, dem_curvature.

    Computed in row strips with a halo of smoothing_radius + 1 rows (bounded memory at any area
    size; the same values as the whole DEM at once), written window by window to a tiled
    GeoTIFF on disk and then copied to the COG. Nodata is filled for the smoothing with the DEM's
    mean, accumulated in float64 over the strips."""
    halo = smoothing_radius(smoothing_sigma_px) + 1
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB), rasterio.open(dem_tif) as src:  # no whole DEM in GDAL's cache
        grid = Grid(src.crs.to_string(), src.transform, src.width, src.height)
        if src.units and src.units[0] not in (None, "", UNITS["dem"]):
            raise InputError(
                f"{dem_tif}: DEM in {src.units[0]!r}; expected metres (download_dem's dem.tif), as slope and "
                "curvature are computed with the pixel size in metres"
            )

        def read(a: int, b: int) -> np.ndarray:
            return src.read(1, window=Window(0, a, src.width, b - a)).astype("float32")

        fill = None
        if smoothing_sigma_px > 0:
            total, count = 0.0, 0
            for r0, r1, _, _ in _strips(src.height, strip_rows, 0):
                block = read(r0, r1)
                valid = np.isfinite(block)
                total += float(block[valid].sum(dtype="float64"))
                count += int(valid.sum())
            fill = total / count if count else np.nan
        step = max(1, int(np.sqrt(src.width * src.height / 1e6)))  # a ~1 Mpx sample for the log
        sample = []
        with cog_writer(
            out_tif, grid, 3, "float32", nodata=np.nan, descriptions=list(DERIVATIVES), resampling="bilinear"
        ) as dst:
            dst.units = tuple(UNITS[d] for d in DERIVATIVES)
            for i, name in enumerate(DERIVATIVES, start=1):
                dst.update_tags(i, long_name=LONG_NAMES[name])
            dst.update_tags(smoothing_sigma_px=f"{float(smoothing_sigma_px):g}", algorithm=ALGORITHM)
            for r0, r1, a, b in _strips(src.height, strip_rows, halo):
                out = derivatives_of(read(a, b), grid.resolution, smoothing_sigma_px, fill)[:, r0 - a : r1 - a]
                dst.write(out, window=Window(0, r0, src.width, r1 - r0))
                sample.append(out[:, (-r0) % step :: step, ::step].copy())  # a copy: not a view of the strip
    sample_arr = np.concatenate(sample, axis=1)
    slope, curv = sample_arr[0], sample_arr[2]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        log.info(
            "slope %.1f–%.1f deg (median %.1f); curvature p5/p95 %.2f/%.2f (from every %d-th pixel in x and y)",
            *np.degrees(np.nanpercentile(slope, [0, 100])),
            np.degrees(np.nanmedian(slope)),
            *np.nanpercentile(curv, [5, 95]),
            step,
        )


def hillshade(dem: np.ndarray, resolution: float) -> np.ndarray:
    """Hillshade (0-255, NaN where the DEM has none) of a DEM array: xdem, Horn's method, sun
    from the north-west at 45°."""
    import xdem.terrain

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        shade = np.asarray(xdem.terrain.hillshade(dem, surface_fit="Horn", resolution=resolution), dtype="float32")
    shade[~np.isfinite(dem)] = np.nan
    return shade
