"""Sentinel-1 acquisition: find items (a STAC API or a STAC ItemCollection file), keep one orbit
(the models' one; with `sentinel1.both_directions`, one of the other direction too), pick N
acquisitions before and M after the event on each, and load them onto the area's grid with
stackstac.

Each collection is read as its product preset says (`landslide_sar.products`): its items are first
put into the cube's vocabulary (`product_items`: assets `vv`/`vh`, `sat:orbit_state` and
`sat:relative_orbit`, the newest processing of each burst and date), so that everything after
reads Planetary Computer's `sentinel-1-rtc` and NASA's OPERA RTC-S1 alike.

The embedded event and a live STAC API go through the same `select_acquisitions` and
`load_acquisition`; only where the items come from differs.

Only what the STAC API core guarantees is asked of a server (collections, bbox, datetime): a
server without the QUERY or FILTER conformance classes may answer a `query=` search with zero items
and only a warning (`rustac serve` does), so orbit direction and relative orbit are always filtered
here, on the client. Items are signed with planetary-computer only when the endpoint is Planetary
Computer (its optional key comes from PC_SDK_SUBSCRIPTION_KEY and never reaches a log or message);
they are signed again before each acquisition is read, so that tokens do not expire during a long
download.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dask
import dask.array
import numpy as np
import pandas as pd
import pystac
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr

from landslide_sar.errors import InputError
from landslide_sar.grid import Grid, area_grid, parse_time
from landslide_sar.products import Product, parse_burst_id, product_of
from landslide_sar.stac import (
    raise_read_error,
    read_item_collection,
    read_projection,
    search_stac,
    sign_items,
    stack_on_grid,
)

from .cube import SAR_VARIABLES
from .download import Network, redact
from .io import atomic_path, zarr_encoding

log = logging.getLogger(__name__)

POLARISATIONS = SAR_VARIABLES  # the assets read: the cube's SAR variables
#: Acquisitions covering less of the area than this are reported as partial (warning). Layover
#: and shadow are nodata in RTC products and take a few percent of steep terrain (up to ~10 %),
#: so only less than this share of valid pixels points at a missing frame.
PARTIAL_COVERAGE = 0.9


def search_window(s1: dict, event_time: datetime) -> tuple[datetime, datetime]:
    """[start, end] of the search: `search_start`/`search_end` when set, else event ± `search_days`.

    Raises InputError when the event lies outside the window (no before/after split possible)."""
    start = parse_time(s1["search_start"], "sentinel1.search_start") if s1.get("search_start") else None
    end = parse_time(s1["search_end"], "sentinel1.search_end") if s1.get("search_end") else None
    if start is None or end is None:
        days = timedelta(days=s1["search_days"])
        start, end = start or event_time - days, end or event_time + days
    if not start < event_time < end:
        raise InputError(
            f"event_time: {event_time:%Y-%m-%dT%H:%M:%SZ} is outside the search window "
            f"{start:%Y-%m-%d} .. {end:%Y-%m-%d} (sentinel1.search_start/search_end); "
            "expected the event between them, with acquisitions on both sides"
        )
    return start, end


@dataclass(frozen=True)
class Acquisition:
    """One time step: all items of one orbit on one day (several frames are mosaicked)."""

    date: str
    time: datetime
    items: tuple[pystac.Item, ...]
    orbit_state: str
    relative_orbit: int
    side: str  # "pre" or "post"
    models: bool = True  # on the orbit the models use (False: the other direction, both_directions)


def check_directions_known(items: list[pystac.Item], product: Product, source: str) -> None:
    """InputError when an item does not say its orbit direction (OPERA ids carry the track only):
    `sentinel1.both_directions` cannot tell its directions apart."""
    blind = next((i for i in items if not i.properties.get("sat:orbit_state")), None)
    if blind is not None:
        raise InputError(
            f"{source}: item {blind.id} does not say its orbit direction (no sat:orbit_state; collection "
            f"{product.collection} is read with sentinel1.product.orbit: burst_id), so sentinel1.both_directions: "
            "true cannot tell the directions apart; expected both_directions: false"
        )


def product_items(
    items: list[pystac.Item], product: Product, orbit_state: str | None, source: str
) -> list[pystac.Item]:
    """Items in the cube's vocabulary: the product's asset keys renamed to `vv`/`vh` (an item
    without them keeps its own, so that `select_acquisitions` counts it and names what it has),
    the orbit in `sat:orbit_state`/`sat:relative_orbit` (from the burst id and the configured
    direction for OPERA-style products), and, where the product lists every reprocessing, only
    the newest of each burst and acquisition (the others counted in the log)."""
    out = []
    for item in items:
        item = item.clone()
        keys = product.asset_keys()
        if keys != list(POLARISATIONS) and all(k in item.assets for k in keys):
            item.assets = {v: item.assets[k] for v, k in product.assets.items()}
        props = item.properties
        if product.orbit == "burst_id":
            burst = parse_burst_id(item.id)
            if burst is None:
                raise InputError(
                    f"{source}: item {item.id} has no OPERA burst id (expected ..._T<track>-<burst>-IW<n>_"
                    f"<acquired>Z_<processed>Z_...); collection {product.collection} is read with "
                    "sentinel1.product.orbit: burst_id"
                )
            props["sat:relative_orbit"] = props.get("sat:relative_orbit") or burst.relative_orbit
            if not props.get("sat:orbit_state"):
                if orbit_state is None:
                    raise InputError(
                        f"{source}: item {item.id} does not say its orbit direction (no sat:orbit_state); "
                        f"expected sentinel1.orbit_state: ascending or descending in the config"
                    )
                props["sat:orbit_state"] = orbit_state
        elif "sat:orbit_state" not in props or "sat:relative_orbit" not in props:
            raise InputError(
                f"{source}: item {item.id} has no sat:orbit_state/sat:relative_orbit (its properties: "
                f"{sorted(props)}); expected them, or sentinel1.product.orbit: burst_id for OPERA product ids"
            )
        out.append(item)
    return _newest_versions(out, source) if product.versions == "newest" else out


def _newest_versions(items: list[pystac.Item], source: str) -> list[pystac.Item]:
    """The newest processing of each burst and acquisition time (OPERA reprocesses; CMR lists
    every version); items without an OPERA id are kept as they are."""
    newest: dict[tuple[str, str], tuple[str, pystac.Item]] = {}
    versions: Counter[tuple[str, str]] = Counter()
    others = []
    for item in items:
        burst = parse_burst_id(item.id)
        if burst is None:
            others.append(item)
            continue
        key = (burst.burst, burst.acquired)
        versions[key] += 1
        if key not in newest or newest[key][0] < burst.processed:
            newest[key] = (burst.processed, item)
    repeated = {k: n for k, n in versions.items() if n > 1}
    if repeated:
        log.info(
            "%s: %d older processing(s) of %d burst acquisition(s) left out, the newest of each kept (e.g. %s %s: "
            "%d versions)",
            source,
            sum(repeated.values()) - len(repeated),
            len(repeated),
            *min(repeated),
            repeated[min(repeated)],
        )
    return sorted([item for _, item in newest.values()] + others, key=lambda i: i.id)


def _orbit(item: pystac.Item) -> tuple[str, int]:
    return (str(item.properties.get("sat:orbit_state")), int(item.properties.get("sat:relative_orbit", -1)))


def _orbit_days(items: list[pystac.Item], event_time: datetime) -> dict[tuple[str, int], tuple[int, int]]:
    """Per orbit: distinct acquisition days before and after the event."""
    days: dict[tuple[str, int], set[tuple[str, bool]]] = {}
    for item in items:
        days.setdefault(_orbit(item), set()).add((_day(item), _time(item) < event_time))
    return {o: (sum(pre for _, pre in d), sum(not pre for _, pre in d)) for o, d in days.items()}


def choose_orbit(
    items: list[pystac.Item],
    event_time: datetime,
    n_pre: int,
    n_post: int,
    orbit_state: str | None,
    relative_orbit: int | None,
    source: str,
) -> tuple[str, int]:
    """The configured orbit, or, where direction or relative orbit is left open, the orbit with
    most acquisition days among those that have `n_pre` days before and `n_post` after the event
    (if none has, the one with most days, so that the shortfall is reported for it)."""
    counts = _orbit_days(items, event_time)
    candidates = [
        o
        for o in counts
        if (orbit_state is None or o[0] == orbit_state) and (relative_orbit is None or o[1] == relative_orbit)
    ]
    found = ", ".join(f"{s}/{r}: {a}+{b} days" for (s, r), (a, b) in sorted(counts.items()))
    if not candidates:
        raise InputError(
            f"{source}: no items on orbit {orbit_state or 'any direction'}/{relative_orbit or 'any relative orbit'}; "
            f"found orbits (days before+after the event) {found}"
        )
    if orbit_state is not None and relative_orbit is not None:
        return (orbit_state, relative_orbit)

    def rank(o: tuple[str, int]) -> tuple:
        pre, post = counts[o]
        return (pre >= n_pre and post >= n_post, pre + post, o)

    best = max(candidates, key=rank)
    log.info(
        "orbit chosen: %s, relative orbit %d (%d days before, %d after); all orbits: %s", *best, *counts[best], found
    )
    return best


def select_acquisitions(
    items: list[pystac.Item],
    bbox: tuple[float, float, float, float],
    event_time: datetime,
    n_pre: int,
    n_post: int,
    orbit_state: str | None,
    relative_orbit: int | None,
    source: str,
    asset_keys: tuple[str, str] = POLARISATIONS,
    both_directions: bool = False,
) -> list[Acquisition]:
    """The `n_pre` acquisitions closest before the event and the `n_post` first ones after it,
    from one orbit (given, or chosen by `choose_orbit`): the models' orbit. With
    `both_directions`, as many again from the other direction's orbit (the one with most days),
    all sorted by time (`Acquisition.models` tells them apart). Items without both VV and VH are
    left out (counted, naming the assets they have; `asset_keys` are the product's names of VV
    and VH); every filter that removes items is named in the error when too few remain."""
    if not items:
        raise InputError(f"{source}: no Sentinel-1 items found for bbox {list(bbox)} around {event_time:%Y-%m-%d}")
    removed: dict[str, int] = {}
    dual = [i for i in items if all(p in i.assets for p in POLARISATIONS)]
    if len(dual) < len(items):
        first = next(i for i in items if i not in dual)
        missing = "/".join(k for p, k in zip(POLARISATIONS, asset_keys) if p not in first.assets)
        expected = " and ".join(repr(k) for k in asset_keys)
        if not dual:
            raise InputError(
                f"{source}: item {first.id} has no asset {missing} (its assets: {sorted(first.assets)}); "
                f"expected assets {expected} (none of the {len(items)} item(s) has both; sentinel1.product.assets "
                "names them)"
            )
        removed["without vv+vh assets"] = len(items) - len(dual)
        log.warning(
            "%d item(s) without vv+vh assets left out (e.g. %s lacks %s; its assets: %s)",
            len(items) - len(dual),
            first.id,
            missing,
            sorted(first.assets),
        )
    orbits = [choose_orbit(dual, event_time, n_pre, n_post, orbit_state, relative_orbit, source)]
    if both_directions:
        other = "descending" if orbits[0][0] == "ascending" else "ascending"
        where = f"{source} (sentinel1.both_directions: the other direction)"
        orbits.append(choose_orbit(dual, event_time, n_pre, n_post, other, None, where))
    for (state, rel), n in sorted(Counter(_orbit(i) for i in dual if _orbit(i) not in orbits).items()):
        removed[f"on orbit {state}/{rel}"] = n
        log.info("filtered out %d item(s) of orbit %s/%d", n, state, rel)
    selected = []
    for orbit in orbits:
        models = orbit == orbits[0]
        pre, post = _by_day(dual, orbit, event_time, n_pre, n_post, models)
        if len(pre) < n_pre or len(post) < n_post:
            why = "; ".join(f"{n} {reason}" for reason, n in removed.items()) or "none"
            which = "" if models else " (the other direction: sentinel1.both_directions)"
            raise InputError(
                f"{source}: found {len(pre)} acquisition(s) before and {len(post)} after {event_time:%Y-%m-%d} "
                f"on orbit {orbit[0]}/{orbit[1]}{which} (of {len(items)} items; filtered out: {why}); "
                f"expected {n_pre} before and {n_post} after — widen the search window or ask for fewer"
            )
        selected += pre + post
    for a in selected:
        log.info("%s acquisition %s: %d item(s) %s", a.side, a.date, len(a.items), [i.id for i in a.items])
    return sorted(selected, key=lambda a: a.time)


def _by_day(
    items: list[pystac.Item], orbit: tuple[str, int], event_time: datetime, n_pre: int, n_post: int, models: bool
) -> tuple[list[Acquisition], list[Acquisition]]:
    """The items of `orbit` as one Acquisition per day: the `n_pre` days closest before the event
    and the `n_post` first after it (fewer where there are fewer)."""
    by_day: dict[str, list[pystac.Item]] = {}
    for item in items:
        if _orbit(item) == orbit:
            by_day.setdefault(_day(item), []).append(item)
    acquisitions = []
    for day, day_items in sorted(by_day.items()):
        t = min(_time(i) for i in day_items)
        side = "pre" if t < event_time else "post"
        acquisitions.append(Acquisition(day, t, tuple(sorted(day_items, key=lambda i: i.id)), *orbit, side, models))
    pre = [a for a in acquisitions if a.side == "pre"][-n_pre:] if n_pre else []
    post = [a for a in acquisitions if a.side == "post"][:n_post]
    return pre, post


def orbits_attribute(acquisitions: list[Acquisition]) -> str:
    """The cube's `orbit` attribute: "state/relative orbit" of each orbit in the acquisitions,
    the models' orbit first, comma-separated (one orbit: e.g. "ascending/135")."""
    ordered = sorted(acquisitions, key=lambda a: not a.models)
    return ", ".join(dict.fromkeys(f"{a.orbit_state}/{a.relative_orbit}" for a in ordered))


def _time(item: pystac.Item) -> datetime:
    t = item.datetime or parse_time(item.properties["start_datetime"], item.id)
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _day(item: pystac.Item) -> str:
    return _time(item).strftime("%Y-%m-%d")


def check_geocoded(items: list[pystac.Item], source: str) -> None:
    """stackstac places an asset by its `proj:epsg` (with proj:transform/shape or a bbox); items in
    radar geometry (e.g. Planetary Computer's sentinel-1-grd) have none and cannot be gridded.
    (Products whose grid is read from the files, `projection: files`, are not checked here.)"""
    for item in items:
        props = [item.properties, *(item.assets[p].extra_fields for p in POLARISATIONS if p in item.assets)]
        if not any(d.get("proj:epsg") or d.get("proj:code") for d in props):
            raise InputError(
                f"{source}: item {item.id} has no proj:epsg/proj:code: it is not geocoded (GRD items are in radar "
                "geometry); use a terrain-corrected collection such as sentinel-1-rtc or OPERA_L2_RTC-S1_V1 (or, "
                "for a geocoded product whose items omit proj:*, sentinel1.product.projection: files)"
            )


def auth_hint(product: Product) -> str:
    """What to do when a server refuses access: the product's token variable, if it has one."""
    if product.token_env:
        return f"set {product.token_env} to an Earthdata Login token (https://urs.earthdata.nasa.gov, 'Generate Token')"
    return "the server wants credentials this collection's product does not give"


def check_coverage(acq: Acquisition, coverage: float, minimum: float, source: str) -> None:
    """An acquisition whose valid VV+VH covers less than `minimum` of the area is bad data (a
    missing frame, an all-nodata COG): InputError naming its date and files."""
    if coverage >= minimum:
        return
    files = [redact(i.assets[p].href) for i in acq.items for p in POLARISATIONS if p in i.assets]
    raise InputError(
        f"{source}: acquisition {acq.date} ({acq.side}-event, items {[i.id for i in acq.items]}) has valid VV+VH on "
        f"{100 * coverage:.1f} % of the area (files {files}); expected at least {100 * minimum:g} % "
        "(sentinel1.min_coverage)"
    )


def load_acquisition(acq: Acquisition, grid: Grid, chunksize: int, network: Network) -> xr.DataArray:
    """VV and VH linear gamma0 of one acquisition on the area's grid, (band, y, x), lazily."""
    return stack_on_grid(list(acq.items), list(POLARISATIONS), grid, chunksize, network)


def download_sentinel1(
    area: dict,
    out_zarr: str | Path,
    items_path: str | Path | None = None,
    network: Network | None = None,
    chunk: int = 1024,
) -> xr.Dataset:
    """Find, select and load an area's acquisitions into one zarr (`vv`, `vh` by `timestep`),
    one acquisition at a time, recording each one's valid-pixel coverage in the log and in the
    `coverage` coordinate. Nothing is left at `out_zarr` when any step fails."""
    s1 = area["sentinel1"]
    product = product_of(s1)
    network = (network or Network.from_config(area)).with_token_from(product.token_env)
    grid = area_grid(area["bbox"], area["resolution"])
    event_time = parse_time(area["event_time"], "event_time")
    start, end = search_window(s1, event_time)
    if grid.resolution < product.resolution:
        log.warning(
            "resolution %g m is finer than the %g m pixels of %s: the cube interpolates them (bilinear) and adds "
            "no detail",
            grid.resolution,
            product.resolution,
            product.collection,
        )
    if s1["source"] == "stac":
        endpoint = product.endpoint
        window = f"{start:%Y-%m-%d} .. {end:%Y-%m-%d}"
        source = f"sentinel1: {redact(endpoint)} collection {product.collection} bbox {list(area['bbox'])} {window}"
        if product.token_env and network.bearer_token is None:
            log.info("%s is not set: requests carry no Earthdata Login token", product.token_env)
        items = search_stac(
            endpoint, product.collection, area["bbox"], start, end, network, auth_hint=auth_hint(product)
        )
        if not items:
            raise InputError(
                f"{source}: the search found no items (before any client-side filter: orbit "
                f"{s1.get('orbit_state') or 'any'}/{s1.get('relative_orbit') or 'any'}, vv+vh assets); "
                "check the bbox, the dates and the collection name"
            )
    else:
        endpoint = ""
        source = str(items_path)
        items = [i for i in read_item_collection(items_path) if start <= _time(i) <= end]
    if s1.get("both_directions") and product.orbit == "burst_id":
        check_directions_known(items, product, source)
    items = product_items(items, product, s1.get("orbit_state"), source)
    acquisitions = select_acquisitions(
        items,
        area["bbox"],
        event_time,
        s1["acquisitions_pre"],
        s1["acquisitions_post"],
        s1.get("orbit_state"),
        s1.get("relative_orbit"),
        source,
        tuple(product.asset_keys()),
        bool(s1.get("both_directions", False)),
    )
    if product.projection == "files":
        acquisitions = [
            replace(
                a,
                items=tuple(read_projection(list(a.items), list(POLARISATIONS), network, source, auth_hint(product))),
            )
            for a in acquisitions
        ]
    else:
        check_geocoded([i for a in acquisitions for i in a.items], source)
    n, (h, w) = len(acquisitions), grid.shape
    empty = dask.array.full((n, h, w), np.nan, dtype="float32", chunks=(1, chunk, chunk))
    template = xr.Dataset(
        {p: (("timestep", "y", "x"), empty) for p in POLARISATIONS},
        coords={
            "timestep": ("timestep", pd.to_datetime([a.time for a in acquisitions]).tz_localize(None).values),
            "y": grid.y_coords(),
            "x": grid.x_coords(),
            "sat:orbit_state": ("timestep", [a.orbit_state for a in acquisitions]),
            "sat:relative_orbit": ("timestep", np.array([a.relative_orbit for a in acquisitions], dtype="int32")),
            "side": ("timestep", [a.side for a in acquisitions]),
            "n_frames": ("timestep", np.array([len(a.items) for a in acquisitions], dtype="int32")),
            "coverage": ("timestep", np.full(n, np.nan, dtype="float32")),
        },
        attrs={
            "event_time": event_time.isoformat(),
            "source": source,
            "orbit": orbits_attribute(acquisitions),
            "items": " ".join(i.id for a in acquisitions for i in a.items),
        },
    )
    template = template.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    coverage = np.zeros(n, dtype="float32")
    with atomic_path(out_zarr) as tmp:
        template.to_zarr(tmp, mode="w", compute=False, consolidated=True, encoding=zarr_encoding(template))
        for k, acq in enumerate(acquisitions):
            items_k = sign_items(list(acq.items), endpoint, network) if endpoint else list(acq.items)
            step = load_acquisition(replace(acq, items=tuple(items_k)), grid, chunk, network)
            region = xr.Dataset({p: (("timestep", "y", "x"), step.sel(band=p).data[None]) for p in POLARISATIONS})
            valid = (np.isfinite(region["vv"]) & np.isfinite(region["vh"])).mean().data
            write = region.to_zarr(
                tmp, region={"timestep": slice(k, k + 1), "y": slice(None), "x": slice(None)}, compute=False
            )
            try:
                _, cov, _ = dask.compute(write, valid, step.attrs.get("overlap"))
            except RuntimeError as err:
                raise_read_error(err, source, auth_hint(product))
            coverage[k] = cov
            level = logging.WARNING if cov < PARTIAL_COVERAGE else logging.INFO
            log.log(
                level,
                "coverage %s (%s, %d frame(s)): %.1f %% of the area%s",
                acq.date,
                acq.side,
                len(acq.items),
                100 * cov,
                "; partial: the rest is NaN" if cov < PARTIAL_COVERAGE else "",
            )
            check_coverage(acq, float(cov), float(s1.get("min_coverage", 0.0)), source)
        import zarr

        zarr.open_array(store=str(tmp), path="coverage", mode="r+")[:] = coverage
    log.info("wrote %s: %d time steps, %d x %d px", out_zarr, n, w, h)
    return xr.open_zarr(out_zarr, decode_coords="all")
