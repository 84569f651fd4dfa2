"""Sentinel-1 acquisition: find items (a STAC API or a STAC ItemCollection file), keep one orbit,
pick N acquisitions before and M after the event, and load them onto the area's grid with stackstac.

The embedded event and a live STAC API go through the same `select_acquisitions` and
`load_sentinel1`; only where the items come from differs.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pystac
import rioxarray  # noqa: F401 - registers the .rio accessor
import stackstac
import xarray as xr
from rasterio.enums import Resampling

from .grid import Grid, InputError, area_grid
from .io import atomic_path

log = logging.getLogger(__name__)

POLARISATIONS = ("vv", "vh")
PLANETARY_COMPUTER = "planetarycomputer.microsoft.com"


def parse_time(value: str | datetime, where: str) -> datetime:
    """A timezone-aware UTC datetime from an ISO string; InputError naming `where` otherwise."""
    if isinstance(value, datetime):
        t = value
    else:
        try:
            t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{where}: {value!r} is not an ISO 8601 time; expected e.g. 2017-09-20T00:00:00Z") from None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def read_item_collection(path: str | Path) -> list[pystac.Item]:
    """Items of a STAC ItemCollection file, with relative asset hrefs made absolute."""
    path = Path(path).resolve()
    try:
        collection = pystac.ItemCollection.from_file(str(path))
    except Exception as err:  # noqa: BLE001 - any parse failure is the file's fault
        raise InputError(f"{path}: not a readable STAC ItemCollection ({err})") from None
    items = list(collection)
    for item in items:
        for asset in item.assets.values():
            if "://" not in asset.href and not Path(asset.href).is_absolute():
                asset.href = str(path.parent / asset.href)
    return items


def search_stac(
    endpoint: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    start: datetime,
    end: datetime,
) -> list[pystac.Item]:
    """Items of `collection` intersecting bbox within [start, end] from a STAC API.

    Only what the core API guarantees is asked of the server (collections, bbox, datetime); orbit
    filters are applied on the client. Items are signed when the endpoint is Planetary Computer."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO
    from urllib3 import Retry

    retry = Retry(total=5, backoff_factor=1, status_forcelist=[429, 500, 502, 503, 504], allowed_methods=None)
    try:
        client = Client.open(endpoint, stac_io=StacApiIO(max_retries=retry))
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=[start.isoformat(), end.isoformat()],
        )
        items = list(search.items())
    except Exception as err:  # noqa: BLE001 - connection errors come in many types
        raise InputError(f"sentinel1.endpoint: {endpoint} could not be searched ({type(err).__name__}: {err})") from None
    if PLANETARY_COMPUTER in endpoint:
        import planetary_computer

        items = [planetary_computer.sign(item) for item in items]
    return items


@dataclass(frozen=True)
class Acquisition:
    """One time step: all items of one orbit on one day (several frames are mosaicked)."""

    date: str
    time: datetime
    items: tuple[pystac.Item, ...]
    orbit_state: str
    relative_orbit: int
    side: str  # "pre" or "post"


def select_acquisitions(
    items: list[pystac.Item],
    bbox: tuple[float, float, float, float],
    event_time: datetime,
    before: int,
    after: int,
    orbit_state: str | None,
    relative_orbit: int | None,
    source: str,
) -> list[Acquisition]:
    """The `before` acquisitions closest before the event and the `after` first ones after it,
    from one orbit (given, or the direction and relative orbit with most acquisitions)."""
    if not items:
        raise InputError(f"{source}: no Sentinel-1 items found for bbox {list(bbox)} around {event_time:%Y-%m-%d}")
    for item in items:
        missing = [p for p in POLARISATIONS if p not in item.assets]
        if missing:
            raise InputError(f"{source}: item {item.id} has no asset {'/'.join(missing)}; expected assets 'vv' and 'vh'")

    def orbit(item: pystac.Item) -> tuple[str, int]:
        return (str(item.properties.get("sat:orbit_state")), int(item.properties.get("sat:relative_orbit", -1)))

    if orbit_state is None or relative_orbit is None:
        days = Counter(orbit(i) for i in {(_day(i), orbit(i)): i for i in items}.values())
        candidates = [o for o in days if (orbit_state is None or o[0] == orbit_state) and (relative_orbit is None or o[1] == relative_orbit)]
        if not candidates:
            raise InputError(f"{source}: no items with orbit_state={orbit_state} relative_orbit={relative_orbit}; found {sorted(days)}")
        best = max(candidates, key=lambda o: (days[o], o))
        orbit_state, relative_orbit = best
        log.info("orbit chosen: %s, relative orbit %d (%d acquisition days)", *best, days[best])
    kept = [i for i in items if orbit(i) == (orbit_state, relative_orbit)]
    dropped = Counter(orbit(i) for i in items if orbit(i) != (orbit_state, relative_orbit))
    for (state, rel), n in sorted(dropped.items()):
        log.info("filtered out %d item(s) of orbit %s/%d", n, state, rel)
    by_day: dict[str, list[pystac.Item]] = {}
    for item in kept:
        by_day.setdefault(_day(item), []).append(item)
    acquisitions = []
    for day, day_items in sorted(by_day.items()):
        t = min(_time(i) for i in day_items)
        side = "pre" if t < event_time else "post"
        acquisitions.append(Acquisition(day, t, tuple(sorted(day_items, key=lambda i: i.id)), orbit_state, relative_orbit, side))
    pre = [a for a in acquisitions if a.side == "pre"][-before:] if before else []
    post = [a for a in acquisitions if a.side == "post"][:after]
    if len(pre) < before or len(post) < after:
        raise InputError(
            f"{source}: found {len(pre)} acquisition(s) before and {len(post)} after {event_time:%Y-%m-%d} "
            f"on orbit {orbit_state}/{relative_orbit} (of {len(items)} items; {sum(dropped.values())} on other orbits); "
            f"expected {before} before and {after} after — widen sentinel1.search_days or ask for fewer"
        )
    for a in pre + post:
        log.info("%s acquisition %s: %d item(s) %s", a.side, a.date, len(a.items), [i.id for i in a.items])
    return pre + post


def _time(item: pystac.Item) -> datetime:
    t = item.datetime or parse_time(item.properties["start_datetime"], item.id)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _day(item: pystac.Item) -> str:
    return _time(item).strftime("%Y-%m-%d")


def load_sentinel1(acquisitions: list[Acquisition], grid: Grid, chunksize: int = 1024) -> xr.Dataset:
    """VV and VH linear gamma0 on the area's grid, one time step per acquisition (same-day frames
    mosaicked, first valid value wins), float32, nodata as NaN, lazily as dask arrays."""
    epsg = int(grid.crs.split(":")[1])
    steps = []
    for acq in acquisitions:
        stack = stackstac.stack(
            list(acq.items),
            assets=list(POLARISATIONS),
            epsg=epsg,
            resolution=grid.resolution,
            bounds=grid.bounds,
            snap_bounds=False,
            dtype="float32",
            fill_value=np.float32(np.nan),
            rescale=False,
            xy_coords="center",
            chunksize=chunksize,
            resampling=Resampling.bilinear,
            gdal_env=stackstac.DEFAULT_GDAL_ENV.updated(
                {"GDAL_HTTP_MAX_RETRY": "5", "GDAL_HTTP_RETRY_DELAY": "2"}
            ),
        )
        mosaic = stackstac.mosaic(stack, dim="time") if stack.sizes["time"] > 1 else stack.isel(time=0)
        steps.append(mosaic.drop_vars([c for c in mosaic.coords if c not in ("band", "x", "y")]))
    cube = xr.concat(steps, dim="timestep")
    cube = cube.assign_coords(
        timestep=("timestep", pd.to_datetime([a.time for a in acquisitions]).tz_localize(None).values),
        x=grid.x_coords(),
        y=grid.y_coords(),
    )
    ds = cube.to_dataset(dim="band")
    ds.attrs = {}
    for var in ds.data_vars:
        ds[var].attrs = {}
    ds = ds.assign_coords(
        {
            "sat:orbit_state": ("timestep", [a.orbit_state for a in acquisitions]),
            "sat:relative_orbit": ("timestep", np.array([a.relative_orbit for a in acquisitions], dtype="int32")),
            "side": ("timestep", [a.side for a in acquisitions]),
            "n_frames": ("timestep", np.array([len(a.items) for a in acquisitions], dtype="int32")),
        }
    )
    ds = ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    return ds


def download_sentinel1(
    area: dict,
    out_zarr: str | Path,
    items_path: str | Path | None = None,
) -> xr.Dataset:
    """Find, select and load an area's acquisitions into one zarr (`vv`, `vh` by `timestep`),
    recording each acquisition's valid-pixel coverage in the log and in the attributes."""
    s1 = area["sentinel1"]
    grid = area_grid(area["bbox"], area["resolution"])
    event_time = parse_time(area["event_time"], "event_time")
    window = timedelta(days=s1["search_days"])
    if s1["source"] == "stac":
        source = f"{s1['endpoint']} collection {s1['collection']}"
        items = search_stac(s1["endpoint"], s1["collection"], area["bbox"], event_time - window, event_time + window)
    else:
        source = str(items_path)
        items = [i for i in read_item_collection(items_path) if abs(_time(i) - event_time) <= window]
    acquisitions = select_acquisitions(
        items,
        area["bbox"],
        event_time,
        s1["acquisitions_before"],
        s1["acquisitions_after"],
        s1.get("orbit_state"),
        s1.get("relative_orbit"),
        source,
    )
    ds = load_sentinel1(acquisitions, grid).compute()
    coverage = (np.isfinite(ds["vv"]) & np.isfinite(ds["vh"])).mean(dim=("y", "x")).values
    for acq, cov in zip(acquisitions, coverage):
        log.info("coverage %s (%s): %.1f %% of the area", acq.date, acq.side, 100 * cov)
    ds = ds.assign_coords(coverage=("timestep", coverage.astype("float32")))
    ds.attrs.update({"event_time": event_time.isoformat(), "source": source})
    with atomic_path(out_zarr) as tmp:
        ds.chunk({"timestep": 1, "y": 512, "x": 512}).to_zarr(tmp, mode="w", consolidated=True)
    return ds
