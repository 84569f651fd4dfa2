"""One zarr datacube per area, shaped like the published datacubes (Zenodo record 7248056):
dims (timestep, y, x) and `timepair` (the interferometric pairs; empty here); `vv`, `vh` per
timestep; `dem`, `dem_slope_radians`, `dem_aspect`, `dem_curvature`, `landslides` (and
`landslide_count`) per pixel; `sat:orbit_state` spelt "a"/"d" as in the published cubes; the
event time as an attribute; CRS and transform stored the rioxarray way and CF attributes (units,
long_name, grid_mapping) on every variable, so that GDAL's Zarr driver reads the CRS too."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import rasterio
import xarray as xr

from landslide_sar.errors import InputError
from landslide_sar.grid import Grid

from .io import GDAL_CACHE_MB, atomic_path, zarr_encoding
from .labels import LABEL_BANDS
from .labels import LONG_NAMES as LABEL_LONG_NAMES
from .labels import UNITS as LABEL_UNITS
from .terrain import DERIVATIVES
from .terrain import LONG_NAMES as TERRAIN_LONG_NAMES
from .terrain import UNITS as TERRAIN_UNITS

log = logging.getLogger(__name__)

PathLike = str | os.PathLike

#: the cube's SAR variables: the Sentinel-1 polarisations, linear gamma0 per time step
SAR_VARIABLES = ("vv", "vh")
STATIC_VARIABLES = ("dem", *DERIVATIVES, *LABEL_BANDS)
#: CF units and long names of the cube's variables (SAR: linear terrain-corrected gamma0).
UNITS = {"vv": "1", "vh": "1", **TERRAIN_UNITS, **LABEL_UNITS, "coverage": "1", "n_frames": "1"}
LONG_NAMES = {
    "vv": "Sentinel-1 backscatter VV, terrain-corrected gamma0, linear power",
    "vh": "Sentinel-1 backscatter VH, terrain-corrected gamma0, linear power",
    **TERRAIN_LONG_NAMES,
    **LABEL_LONG_NAMES,
    "coverage": "fraction of the area with valid SAR data",
    "n_frames": "Sentinel-1 frames mosaicked into the acquisition",
}
#: `sat:orbit_state` as the published cubes spell it (their readers filter on == "d").
PUBLISHED_ORBIT_STATES = {"ascending": "a", "descending": "d", "a": "a", "d": "d"}


def published_layout(ds: xr.Dataset, event_time: str | None = None) -> xr.Dataset:
    """`ds` laid out as the published cubes: a `timepair` dimension (an empty coordinate when
    there are no interferometric pairs), `sat:orbit_state` spelt "a"/"d", `event_time` as an
    attribute, and CF attributes: units, long_name and grid_mapping on every data variable."""
    if "timepair" not in ds.dims:
        ds = ds.assign_coords(timepair=("timepair", np.array([], dtype="<U17")))
    if "sat:orbit_state" in ds.coords and "timestep" in ds.dims:
        states = [PUBLISHED_ORBIT_STATES.get(str(v).lower(), str(v)) for v in ds["sat:orbit_state"].values]
        ds = ds.assign_coords({"sat:orbit_state": ("timestep", np.array(states, dtype="<U1"))})
    if event_time is not None:
        ds.attrs["event_time"] = event_time
    ds.attrs["Conventions"] = "CF-1.8"
    for name in [*ds.data_vars, *(c for c in ("coverage", "n_frames") if c in ds.coords)]:
        attrs = {"grid_mapping": "spatial_ref"} if {"y", "x"} <= set(ds[name].dims) else {}
        if name in UNITS:
            attrs["units"] = UNITS[name]
        if name in LONG_NAMES:
            attrs["long_name"] = LONG_NAMES[name]
        ds[name].attrs.update(attrs)
        if "grid_mapping" in attrs:
            ds[name].encoding.pop("grid_mapping", None)  # rioxarray's copy: xarray refuses both
    ds["x"].attrs.update(standard_name="projection_x_coordinate", long_name="x coordinate of projection", units="m")
    ds["y"].attrs.update(standard_name="projection_y_coordinate", long_name="y coordinate of projection", units="m")
    if "timestep" in ds.coords:
        ds["timestep"].attrs.update(long_name="acquisition time (UTC)")
    return ds


def _bands(path: str | Path, names: tuple[str, ...], chunk: int) -> dict[str, xr.DataArray]:
    """The raster's bands, opened lazily (dask chunks of chunk x chunk pixels, one band each)."""
    import rioxarray  # here, not at the top: the training jobs import this module's names only (0.5 s)

    da = rioxarray.open_rasterio(path, masked=False, chunks={"band": 1, "y": chunk, "x": chunk})
    return {name: da.isel(band=i, drop=True) for i, name in enumerate(names)}


def assemble_cube(
    sentinel1_zarr: str | Path,
    dem_tif: str | Path,
    derivatives_tif: str | Path,
    labels_tif: str | Path | None,
    out_zarr: str | Path,
    chunk: int = 512,
) -> xr.Dataset:
    """Stack SAR, DEM, derivatives and labels (already on one grid) into `out_zarr`; without
    labels (an area with no inventory, for rapid response) the label variables are left out.

    Every variable stays lazy (dask) until `to_zarr` streams it chunk by chunk, so memory does
    not grow with the area."""
    import rioxarray  # noqa: F401 - registers the .rio accessor

    s1 = xr.open_zarr(sentinel1_zarr, decode_coords="all")
    static = {
        **_bands(dem_tif, ("dem",), chunk),
        **_bands(derivatives_tif, DERIVATIVES, chunk),
        **(_bands(labels_tif, LABEL_BANDS, chunk) if labels_tif else {}),
    }
    for name, da in static.items():
        if da.shape != (s1.sizes["y"], s1.sizes["x"]) or not np.allclose(da.x, s1.x) or not np.allclose(da.y, s1.y):
            raise ValueError(f"{name}: grid {da.shape} does not match the SAR grid {(s1.sizes['y'], s1.sizes['x'])}")
    ds = xr.Dataset(
        {
            "vv": s1["vv"].astype("float32"),
            "vh": s1["vh"].astype("float32"),
            **{
                name: (("y", "x"), da.data.astype("float32" if name in ("dem", *DERIVATIVES) else "uint16"))
                for name, da in static.items()
            },
        },
        coords={c: s1[c].compute() for c in s1.coords if c != "spatial_ref"},
        attrs=s1.attrs,
    )
    ds = ds.rio.write_crs(s1.rio.crs).rio.write_transform(s1.rio.transform())
    ds = ds.chunk({"timestep": 1, "y": chunk, "x": chunk})
    for var in ds.variables:
        ds[var].encoding = {}
    ds = published_layout(ds)
    # GDAL's block cache (default 5 % of the machine's RAM) would otherwise keep the static
    # rasters' decoded tiles, up to the whole area
    with atomic_path(out_zarr) as tmp, rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        ds.to_zarr(tmp, mode="w", consolidated=True, encoding=zarr_encoding(ds))
    log.info(
        "cube %s: %d time steps, %d x %d pixels, variables %s",
        out_zarr,
        ds.sizes["timestep"],
        ds.sizes["y"],
        ds.sizes["x"],
        list(ds.data_vars),
    )
    return ds


def cube_grid(cube_zarr: PathLike) -> Grid:
    """The grid (CRS, transform, size) of an area's cube (zarr written by assemble_cube)."""
    import rioxarray  # noqa: F401 - registers the .rio accessor

    cube = xr.open_zarr(cube_zarr, decode_coords="all")
    if cube.rio.crs is None:
        raise InputError(f"{cube_zarr}: cube has no CRS")
    return Grid(cube.rio.crs.to_string(), cube.rio.transform(recalc=True), cube.sizes["x"], cube.sizes["y"])
