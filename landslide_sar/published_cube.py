"""Published datacubes (Zenodo record 7248056: hokkaido_japan, kaikoura_newzealand, puerto_rico,
talakmau_indonesia) as an area's source: opened as they are, one orbit direction kept, written as
the area's cube.zarr that the chips rule reads.

A published cube is a zarr group (zipped for download) with dims (timestep, y, x): `vv`, `vh` per
time step (linear gamma0), `dem`, `dem_aspect`, `dem_curvature`, `dem_slope_radians` and
`landslides` per pixel, a `sat:orbit_state` coordinate per time step (spelt "a"/"d" in some cubes,
"ascending"/"descending" in others) and sometimes more (e.g. a `timepair` dimension of
interferometric pairs), which is left out here.
"""

from __future__ import annotations

import logging
import zipfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr

from landslide_sar.errors import InputError
from landslide_sar.grid import check_bbox, parse_time

from .cube import SAR_VARIABLES, STATIC_VARIABLES, published_layout
from .download import zarr_root_in
from .io import atomic_path, zarr_encoding

log = logging.getLogger(__name__)

#: what a published cube must hold besides SAR: the cube's static variables but the head counts
REQUIRED_STATIC = tuple(v for v in STATIC_VARIABLES if v != "landslide_count")
ORBIT_STATES = {
    "a": "ascending",
    "asc": "ascending",
    "ascending": "ascending",
    "d": "descending",
    "dsc": "descending",
    "desc": "descending",
    "descending": "descending",
}


def open_datacube(path: str | Path) -> xr.Dataset:
    """A published datacube as xarray (lazily): a zarr folder, a folder holding one `*.zarr`,
    or a zip archive of either (read in place)."""
    import zarr

    path = Path(path)
    if not path.exists():
        raise InputError(f"datacube: {path} does not exist")
    group: str | None = None
    store: object = str(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise InputError(f"datacube: {path} is neither a zarr folder nor a zip archive of one")
        with zipfile.ZipFile(path) as zf:
            group = zarr_root_in(zf.namelist())
        if group is None:
            raise InputError(f"datacube: {path} holds no zarr store (no .zgroup, .zmetadata or zarr.json)")
        store = zarr.storage.ZipStore(path, mode="r")
    else:
        names = [str(p.relative_to(path)) for p in path.rglob("*") if p.name in (".zgroup", ".zmetadata", "zarr.json")]
        group = zarr_root_in(names)
        if group is None:
            raise InputError(f"datacube: {path} is not a zarr store (no .zgroup, .zmetadata or zarr.json inside)")
        store, group = str(path / group) if group else str(path), None
    try:
        # zarr 3 finds no consolidated metadata below the root of a ZipStore: read it per array
        return xr.open_zarr(store, group=group or None, decode_coords="all", consolidated=None if not group else False)
    except Exception as err:  # noqa: BLE001 - any zarr failure is the file's fault
        raise InputError(
            f"datacube: {path} could not be opened as zarr ({type(err).__name__}: {' '.join(str(err).split())[:300]})"
        ) from None


def normalise_orbit_states(values: np.ndarray, where: str) -> np.ndarray:
    out = []
    for v in (str(x) for x in np.asarray(values).astype(str)):
        state = ORBIT_STATES.get(v.strip().lower())
        if state is None:
            raise InputError(
                f"{where}: sat:orbit_state {v!r} is not a known orbit direction; expected one of {sorted(ORBIT_STATES)}"
            )
        out.append(state)
    return np.array(out)


def prepare_datacube(
    ds: xr.Dataset,
    source: str,
    event_time: datetime,
    n_pre: int,
    n_post: int,
    orbit_state: str | None = None,
    relative_orbit: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    crs: str | None = None,
    both_directions: bool = False,
) -> xr.Dataset:
    """The cube in the pipeline's layout: the required variables only, time steps of one orbit
    (given, or the direction with most time steps; with `both_directions`, every step of the
    other direction too) sorted in time, north-up, CRS written, `landslides` as uint16 0/1,
    optionally clipped to a lon/lat bbox. The `orbit_state` attribute names the models' direction."""
    from .chips import sar_timesteps

    missing = [v for v in (*SAR_VARIABLES, *REQUIRED_STATIC) if v not in ds]
    if missing:
        raise InputError(f"datacube: {source} lacks variable(s) {missing}; has {sorted(map(str, ds.data_vars))}")
    for v in SAR_VARIABLES:
        if set(ds[v].dims) != {"timestep", "y", "x"}:
            raise InputError(f"datacube: {source} variable {v} has dims {ds[v].dims}; expected (timestep, y, x)")
    extra = sorted(set(ds.dims) - {"timestep", "y", "x"})
    if extra:
        log.info("left out: dimension(s) %s and the variables along them", extra)
    keep = [*SAR_VARIABLES, *REQUIRED_STATIC] + (["landslide_count"] if "landslide_count" in ds else [])
    ds = ds[keep].drop_dims(extra, errors="ignore")
    if not np.issubdtype(ds["timestep"].dtype, np.datetime64):
        raise InputError(f"datacube: {source} coordinate timestep is {ds['timestep'].dtype}; expected datetime64")
    ds = ds.sortby("timestep")

    # one orbit direction (and relative orbit when the cube has it), and the other with both_directions
    keep = np.ones(ds.sizes["timestep"], dtype=bool)
    other = np.zeros(ds.sizes["timestep"], dtype=bool)
    if "sat:orbit_state" in ds.coords:
        states = normalise_orbit_states(ds["sat:orbit_state"].values, f"datacube: {source}")
        ds = ds.assign_coords({"sat:orbit_state": ("timestep", states)})
        counts = pd.Series(states).value_counts()
        log.info("time steps per orbit direction: %s", counts.to_dict())
        if orbit_state is None:
            orbit_state = str(max(sorted(counts.index), key=lambda o: counts[o]))  # ties: alphabetical
            log.info("orbit direction chosen: %s (most time steps)", orbit_state)
        keep = states == orbit_state
        if not keep.any():
            raise InputError(
                f"datacube: {source} has no time step with sat:orbit_state {orbit_state}; has {counts.to_dict()}"
            )
        if both_directions:
            other = states != orbit_state
            if not other.any():
                raise InputError(
                    f"datacube: {source} has time steps of sat:orbit_state {orbit_state} only; expected the other "
                    "direction too (sentinel1.both_directions: true), or both_directions: false"
                )
            log.info("kept too: %d time steps of the other direction (sentinel1.both_directions)", int(other.sum()))
    elif orbit_state is not None or both_directions:
        what = f"filter on orbit {orbit_state}" if orbit_state is not None else "keep both directions"
        raise InputError(f"datacube: {source} has no sat:orbit_state coordinate to {what}")
    if relative_orbit is not None:
        if "sat:relative_orbit" not in ds.coords:
            raise InputError(
                f"datacube: {source} has no sat:relative_orbit coordinate to filter on relative orbit {relative_orbit}"
            )
        keep &= ds["sat:relative_orbit"].values.astype(int) == relative_orbit
    ds = ds.isel(timestep=np.flatnonzero(keep | other))
    states = ds["sat:orbit_state"].values if "sat:orbit_state" in ds.coords else None
    pre, post = sar_timesteps(ds["timestep"].values, event_time, n_pre, n_post, states, orbit_state)  # the models'
    log.info(
        "%d time steps kept: %d before and %d after %s (the models use %d + %d)",
        ds.sizes["timestep"],
        sum(ds["timestep"].values < np.datetime64(event_time.replace(tzinfo=None))),
        sum(ds["timestep"].values >= np.datetime64(event_time.replace(tzinfo=None))),
        event_time.date(),
        len(pre),
        len(post),
    )

    # georeferencing: north-up, projected metres (chip areas and densities depend on it)
    if crs:
        ds = ds.rio.write_crs(crs)
    if ds.rio.crs is None:
        raise InputError(f"datacube: {source} has no CRS (no spatial_ref/crs); set datacube.crs, e.g. EPSG:32654")
    if ds.rio.crs.is_geographic:
        ds = to_utm(ds)
    if ds["y"].size > 1 and ds["y"].values[1] > ds["y"].values[0]:
        ds = ds.isel(y=slice(None, None, -1))
    if ds["x"].size > 1 and ds["x"].values[1] < ds["x"].values[0]:
        ds = ds.isel(x=slice(None, None, -1))
    if bbox is not None:
        w, s, e, n = check_bbox(bbox, "datacube bbox")
        try:
            ds = ds.rio.clip_box(w, s, e, n, crs="EPSG:4326")
        except Exception as err:  # noqa: BLE001 - rioxarray raises NoDataInBounds and others
            raise InputError(f"datacube: bbox {list(bbox)} does not overlap {source} ({type(err).__name__})") from None

    out = xr.Dataset(
        {
            **{v: ds[v].astype("float32") for v in SAR_VARIABLES},
            **{v: _static(ds[v]).astype("float32") for v in REQUIRED_STATIC if v != "landslides"},
            "landslides": (_static(ds["landslides"]).fillna(0) > 0).astype("uint16"),
        },
        attrs={"source": source, "event_time": event_time.isoformat(), "orbit_state": orbit_state or "unknown"},
    )
    if "landslide_count" in ds:
        out["landslide_count"] = _static(ds["landslide_count"]).fillna(0).astype("uint16")
    crs_out = ds.rio.crs
    return out.rio.write_crs(crs_out).rio.write_transform(ds.rio.transform(recalc=True))


def to_utm(ds: xr.Dataset) -> xr.Dataset:
    """A lon/lat cube resampled onto the UTM zone of its centre at about its own resolution
    (bilinear; `landslides` nearest), since chip areas and densities are in metres."""
    from math import cos, radians

    from rasterio.enums import Resampling

    from .grid import utm_epsg

    lon, lat = float(ds["x"].mean()), float(ds["y"].mean())
    res_deg = float(abs(ds["x"].values[1] - ds["x"].values[0]))
    res_m = max(1.0, round(res_deg * 111_320 * cos(radians(lat))))
    crs = f"EPSG:{utm_epsg(lon, lat)}"
    log.warning("datacube in %s (degrees): resampled onto %s at %.0f m", ds.rio.crs, crs, res_m)
    labels = ds[["landslides"] + (["landslide_count"] if "landslide_count" in ds else [])]
    rest = ds.drop_vars(list(labels.data_vars))
    out = rest.rio.reproject(crs, resolution=res_m, resampling=Resampling.bilinear, nodata=np.nan)
    lab = labels.fillna(0).rio.reproject(crs, resolution=res_m, resampling=Resampling.nearest, nodata=0)
    out = out.merge(lab.assign_coords(x=out.x, y=out.y), compat="override", join="override")
    return out.rio.write_crs(crs)


def _static(da: xr.DataArray) -> xr.DataArray:
    """A per-pixel variable as (y, x) (the first time step where a cube stores it per time step)."""
    if "timestep" in da.dims:
        da = da.isel(timestep=0, drop=True)
    return da.transpose("y", "x").drop_vars([c for c in da.coords if c not in ("x", "y", "spatial_ref")])


def import_datacube(area: dict, cube_path: str | Path, out_zarr: str | Path, chunk: int = 512) -> xr.Dataset:
    """Write a published datacube as the area's cube.zarr (the layout `make_chips` reads)."""
    s1, cfg = area["sentinel1"], area["datacube"]
    ds = open_datacube(cube_path)
    log.info("opened %s: dims %s, variables %s", cube_path, dict(ds.sizes), sorted(map(str, ds.data_vars)))
    cube = prepare_datacube(
        ds,
        str(cube_path),
        parse_time(area["event_time"], "event_time"),
        s1["acquisitions_pre"],
        s1["acquisitions_post"],
        s1.get("orbit_state"),
        s1.get("relative_orbit"),
        area.get("bbox"),
        cfg.get("crs"),
        bool(s1.get("both_directions", False)),
    )
    cube = cube.chunk({"timestep": 1, "y": chunk, "x": chunk})
    for var in cube.variables:
        cube[var].encoding = {}
    cube = published_layout(cube, cube.attrs["event_time"])
    with atomic_path(out_zarr) as tmp:
        cube.to_zarr(tmp, mode="w", consolidated=True, encoding=zarr_encoding(cube))
    log.info(
        "cube %s: %d time steps (%s), %d x %d px, CRS %s",
        out_zarr,
        cube.sizes["timestep"],
        ", ".join(str(t)[:10] for t in cube["timestep"].values),
        cube.sizes["x"],
        cube.sizes["y"],
        cube.rio.crs,
    )
    return cube
