"""Rapid response without a trained model (rapid_response.<area>.method label_free): the
label-free z-score detector (landslide_sar.label_free) on an area's own cube, every pre-event
acquisition against the first `revisits` after the event (default: all of them), written as a
COG on the area's grid (bands score and flagged) and a GeoPackage of the flagged pixels' 8-connected
groups. Nothing is trained and no inventory is read."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import geopandas as gpd
import numpy as np
import xarray as xr

from landslide_sar.chips import model_direction, side_timesteps
from landslide_sar.cube import cube_grid
from landslide_sar.detection.map import landslide_polygons
from landslide_sar.errors import InputError
from landslide_sar.grid import Grid, parse_time
from landslide_sar.io import atomic_path, write_cog_annotated
from landslide_sar.label_free import MASKS, LabelFreeSettings, label_free_score
from landslide_sar.nn.preprocess import to_db

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The bands of the label-free map, in order.
BANDS = ("score", "flagged")
#: The polygon columns of the label-free map's GeoPackage (layer LAYER).
POLYGON_COLUMNS = ["landslide", "n_pixels", "area_m2", "mean_score", "max_score"]
LAYER = "flagged"
SLOPE = "dem_slope_radians"
#: About how many pre-event deviations (float64) the pooled spread of one strip holds (~160 MB).
STRIP_SAMPLES = 20_000_000
#: What the score band's NaN means (its long_name says it).
MASKED = (
    "NaN: masked (no data; water: pre-event mean VV below label_free.water_db; "
    "flat: slope below label_free.min_slope_deg)"
)


def rapid_timesteps(cube: xr.Dataset, event_time: str | None, revisits: int | None) -> tuple[list[int], list[int]]:
    """Indices of every pre-event acquisition and of the first `revisits` post-event ones (None:
    all), of the models' orbit direction (as the chips read them); InputError when fewer than 2
    precede the event (no spread) or fewer than `revisits` follow it."""
    if event_time is None:
        if "event_time" not in cube.attrs:
            raise InputError("cube has no event_time attribute and none was given; expected an ISO time")
        event_time = cube.attrs["event_time"]
    event = parse_time(event_time, "event_time")
    states = cube["sat:orbit_state"].values if "sat:orbit_state" in cube.coords else None
    pre, post, where = side_timesteps(cube["timestep"].values, event, states, model_direction(cube.attrs))
    wanted = len(post) if revisits is None else int(revisits)
    if len(pre) < 2 or wanted < 1 or len(post) < wanted:
        raise InputError(
            f"cube: {len(pre)} acquisition(s) before and {len(post)} after {event:%Y-%m-%d}{where}; expected at least "
            f"2 before (the pre-event spread) and {max(wanted, 1)} after (rapid_response revisits)"
        )
    return pre, post[:wanted]


def score_cube(
    cube: xr.Dataset, pre: list[int], post: list[int], settings: LabelFreeSettings, strip_rows: int = 128
) -> tuple[np.ndarray, np.ndarray]:
    """(score, mask) of the whole grid (y, x): label_free_score on strips of `strip_rows` rows
    read with the pooling window's half-width above and below (so a strip's edge pixels are
    scored as on the whole grid); score NaN where masked, mask as LabelFreeScore.mask."""
    missing = [v for v in ("vv", "vh", SLOPE) if v not in cube]
    if missing:
        raise InputError(f"cube lacks variable(s) {missing}; expected an area's cube (assemble_cube)")
    ny, nx = cube.sizes["y"], cube.sizes["x"]
    halo = int(settings.window_px) // 2
    score = np.full((ny, nx), np.nan, dtype=np.float32)
    mask = np.zeros((ny, nx), dtype=np.uint8)
    n_pre = len(pre)
    for r0 in range(0, ny, strip_rows):
        r1 = min(ny, r0 + strip_rows)
        lo, hi = max(0, r0 - halo), min(ny, r1 + halo)
        block = cube[["vv", "vh", SLOPE]].isel(y=slice(lo, hi), timestep=pre + post).load()
        vv, vh = to_db(block["vv"].values), to_db(block["vh"].values)
        slope = np.degrees(block[SLOPE].values.astype(np.float64))
        result = label_free_score(vv[:n_pre], vh[:n_pre], vv[n_pre:], vh[n_pre:], slope, settings)
        keep = slice(r0 - lo, r0 - lo + (r1 - r0))
        score[r0:r1] = np.where(result.mask[keep] == 0, result.score[keep], np.nan)
        mask[r0:r1] = result.mask[keep]
    return score, mask


def label_free_polygons(score: np.ndarray, grid: Grid, threshold: float) -> gpd.GeoDataFrame:
    """One polygon per 8-connected group of pixels with score >= threshold (detection.map's
    vectorising), with pixel count, area (m²), mean and max score."""
    polys = landslide_polygons(score, grid, threshold)
    polys = polys.rename(columns={"mean_probability": "mean_score", "max_probability": "max_score"})
    return polys[[*POLYGON_COLUMNS, "geometry"]]


def label_free_map(
    cube_zarr: PathLike,
    tif_out: PathLike,
    gpkg_out: PathLike,
    *,
    settings: Mapping[str, Any] | None = None,
    revisits: int | None = None,
    event_time: str | None = None,
    provenance: Mapping[str, object] | None = None,
    strip_rows: int | None = None,
) -> None:
    """Write an area's label-free map: `tif_out` a float32 COG on the cube's grid, band score (the
    combined z of landslide_sar.label_free, NaN where masked) and band flagged (1: score >=
    label_free.threshold, 0: scored below it, NaN: masked; GeoTIFF bands share one type and one
    nodata), tagged with the method, settings, event time, acquisitions and `provenance`; and
    `gpkg_out` (layer "flagged") one polygon per 8-connected group of flagged pixels. `settings`:
    the config's label_free section; `revisits`: post-event acquisitions read (None: all);
    `event_time` None: the cube's attribute; `strip_rows` None: rows scored at once such that the
    pooled spread holds about STRIP_SAMPLES deviations. Logs the masked counts and the flagged share."""
    cfg = LabelFreeSettings.from_config(settings)
    grid = cube_grid(cube_zarr)
    cube = xr.open_zarr(cube_zarr, decode_coords="all", chunks=None)
    pre, post = rapid_timesteps(cube, event_time, revisits)
    times = np.asarray(cube["timestep"].values)
    if strip_rows is None:
        strip_rows = max(8, STRIP_SAMPLES // (cube.sizes["x"] * len(pre) * int(cfg.window_px) ** 2))
    score, mask = score_cube(cube, pre, post, cfg, strip_rows)
    scored = mask == 0
    threshold = float(cfg.threshold)
    with np.errstate(invalid="ignore"):
        flagged = np.where(scored, (score >= threshold).astype(np.float32), np.nan).astype(np.float32)
    tags = {
        "method": "label_free",
        "settings": ", ".join(f"{k}={v}" for k, v in vars(cfg).items()),
        "threshold": f"{threshold:g}",
        "event_time": str(cube.attrs.get("event_time", "")) if event_time is None else str(event_time),
        "revisits": str(len(post)),
        "acquisitions_pre": ", ".join(str(times[i])[:19] for i in pre),
        "acquisitions_post": ", ".join(str(times[i])[:19] for i in post),
        **{str(k): str(v) for k, v in (provenance or {}).items()},
    }
    write_cog_annotated(
        tif_out,
        np.stack([score, flagged]),
        grid,
        nodata=np.nan,
        descriptions=list(BANDS),
        units=["1", "1"],
        tags=tags,
        band_tags=[
            {"long_name": f"label-free change score, combined z (VH decrease, VV magnitude); {MASKED}"},
            {"long_name": f"1: score >= label_free.threshold {threshold:g}, 0: scored below it; {MASKED}"},
        ],
        resampling="nearest",
    )
    polys = label_free_polygons(score, grid, threshold)
    with atomic_path(gpkg_out) as tmp:
        polys.to_file(tmp, layer=LAYER, driver="GPKG", geometry_type=None if len(polys) else "Polygon")
    counts = {m: int((mask == i + 1).sum()) for i, m in enumerate(MASKS)}
    n_flagged = int(np.nansum(flagged))
    log.info(
        "label-free map, %d acquisition(s) before / %d after the event, %d x %d px: masked %s (no data, water, flat), "
        "%d scored; %d flagged at z >= %g (%.2f %% of the scored pixels), %d polygons (%.0f m² in all)",
        len(pre),
        len(post),
        grid.height,
        grid.width,
        counts,
        int(scored.sum()),
        n_flagged,
        threshold,
        100.0 * n_flagged / max(int(scored.sum()), 1),
        len(polys),
        float(polys["area_m2"].sum()),
    )
