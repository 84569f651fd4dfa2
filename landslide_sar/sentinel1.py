"""Sentinel-1 acquisition: find items (a STAC API or a STAC ItemCollection file), keep one orbit,
pick N acquisitions before and M after the event, and load them onto the area's grid with stackstac.

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
import re
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import dask
import dask.array
import numpy as np
import pandas as pd
import pystac
import rioxarray  # noqa: F401 - registers the .rio accessor
import stackstac
import xarray as xr
from rasterio.enums import Resampling

from .cube import SAR_VARIABLES
from .download import PC_KEY_ENV, Network, is_network_failure, redact
from .grid import Grid, InputError, NetworkError, area_grid, parse_time
from .io import atomic_path

log = logging.getLogger(__name__)

POLARISATIONS = SAR_VARIABLES  # the assets read: the cube's SAR variables
PLANETARY_COMPUTER = "planetarycomputer.microsoft.com"
PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"
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


def read_item_collection(path: str | Path) -> list[pystac.Item]:
    """Items of a STAC ItemCollection file, with relative asset hrefs made absolute."""
    path = Path(path).resolve()
    try:
        collection = pystac.ItemCollection.from_file(str(path))
    except Exception as err:  # noqa: BLE001 - any parse failure is the file's fault
        raise InputError(f"{path}: not a readable STAC ItemCollection ({err})") from None
    items = list(collection)
    for item in items:
        _fix_proj(item)  # pystac migrates proj:epsg to proj:code when it reads older items
        for asset in item.assets.values():
            if "://" not in asset.href and not Path(asset.href).is_absolute():
                asset.href = str(path.parent / asset.href)
    return items


def is_planetary_computer(endpoint: str) -> bool:
    return PLANETARY_COMPUTER in endpoint


def search_stac(
    endpoint: str,
    collection: str,
    bbox: tuple[float, float, float, float],
    start: datetime | None,
    end: datetime | None,
    network: Network,
    what: str = "sentinel1",
) -> list[pystac.Item]:
    """Items of `collection` intersecting bbox (within [start, end] when given) from a STAC API.

    Only the core search parameters are sent (collections, bbox, datetime); connection failures
    and 429/5xx answers are retried (`network`); an unreachable endpoint is one InputError line."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    try:
        client = Client.open(endpoint, stac_io=StacApiIO(max_retries=network.urllib3_retry(), timeout=network.timeout_s))
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=[start.isoformat(), end.isoformat()] if start and end else None,
            limit=100,
        )
        items = list(search.items())
    except Exception as err:  # noqa: BLE001 - connection errors come in many types
        kind = NetworkError if _network_cause(err) else InputError
        raise kind(
            f"{what}.endpoint: {redact(endpoint)} could not be searched (after {network.http_retries} retries): "
            f"{'network error: ' if kind is NetworkError else ''}{type(err).__name__}: {redact(err)}"
        ) from None
    window = f" {start:%Y-%m-%d} .. {end:%Y-%m-%d}" if start and end else ""
    log.info("searched %s collection %s bbox %s%s: %d item(s)", redact(endpoint), collection, list(bbox), window, len(items))
    for item in items:
        _fix_proj(item)
    return items


def _fix_proj(item: pystac.Item) -> None:
    """stackstac reads `proj:epsg`; newer STAC items carry `proj:code` ("EPSG:32619") instead."""
    for props in [item.properties, *(a.extra_fields for a in item.assets.values())]:
        code = props.get("proj:code")
        if props.get("proj:epsg") is None and isinstance(code, str) and code.upper().startswith("EPSG:"):
            props["proj:epsg"] = int(code.split(":")[1])


def _network_cause(err: BaseException) -> bool:
    """Whether `err`, or an exception it was raised from, is a network failure."""
    seen = 0
    while err is not None and seen < 10:
        if is_network_failure(err):
            return True
        err, seen = err.__cause__ or err.__context__, seen + 1
    return False


#: SAS tokens fetched in this process, by token URL (as planetary_computer.sas.TOKEN_CACHE).
_TOKENS: dict = {}


def _sas_token(account: str, container: str, network: Network):  # noqa: ANN202 - SASToken
    """A Planetary Computer SAS token for a blob container, from the SDK's token service (its
    settings: PC_SDK_SAS_URL, PC_SDK_SUBSCRIPTION_KEY) but fetched with the area's `download`
    retries and timeout; the SDK's own get_token retries 10 times with backoff up to 120 s and
    has no timeout."""
    from planetary_computer.sas import SASToken
    from planetary_computer.settings import Settings

    settings = Settings.get()
    url = f"{settings.sas_url}/{account}/{container}"
    token = _TOKENS.get(url)
    if token is not None and token.ttl() >= 60:
        return token
    headers = {"Ocp-Apim-Subscription-Key": settings.subscription_key} if settings.subscription_key else None
    try:
        response = network.session().get(url, headers=headers, timeout=network.timeout_s)
    except Exception as err:  # noqa: BLE001 - requests' connection errors come in many types
        raise NetworkError(
            f"Planetary Computer: network error: the token service {redact(url)} could not be reached after "
            f"{network.http_retries} retries ({type(err).__name__}: {redact(err)})"
        ) from None
    if response.status_code == 429 or response.status_code >= 500:
        raise NetworkError(
            f"Planetary Computer: network error: the token service {redact(url)} answered HTTP "
            f"{response.status_code} after {network.http_retries} retries"
        )
    if response.status_code >= 400:
        raise InputError(f"Planetary Computer: the token service {redact(url)} answered HTTP {response.status_code} ({response.reason}); "
                         f"check {PC_KEY_ENV} if the data need a subscription key")  # fmt: skip
    try:
        token = SASToken(**response.json())
    except Exception as err:  # noqa: BLE001 - not JSON, or not a token
        raise InputError(f"Planetary Computer: the token service {redact(url)} gave no token ({type(err).__name__})") from None
    _TOKENS[url] = token
    return token


def sign_items(items: list[pystac.Item], endpoint: str, network: Network | None = None) -> list[pystac.Item]:
    """Items with signed asset hrefs when `endpoint` is Planetary Computer, else as they are.

    Only hrefs in Azure blob storage are signed (as planetary_computer.sign does); tokens come from
    `_sas_token`, so that an unreachable token service is given up within the `network` budget."""
    if not is_planetary_computer(endpoint):
        return items
    from urllib.parse import urlparse

    from planetary_computer.utils import parse_blob_url

    network = network or Network(http_retries=5, backoff_s=1.0, timeout_s=60.0)
    signed = []
    for item in items:
        item = item.clone()
        for asset in item.assets.values():
            parsed = urlparse(asset.href.rstrip("/"))
            if not parsed.netloc.endswith(".blob.core.windows.net") or "se=" in parsed.query:
                continue
            account, container = parse_blob_url(parsed)
            asset.href = _sas_token(account, container, network).sign(asset.href).href
        signed.append(item)
    return signed


@dataclass(frozen=True)
class Acquisition:
    """One time step: all items of one orbit on one day (several frames are mosaicked)."""

    date: str
    time: datetime
    items: tuple[pystac.Item, ...]
    orbit_state: str
    relative_orbit: int
    side: str  # "pre" or "post"


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
        o for o in counts if (orbit_state is None or o[0] == orbit_state) and (relative_orbit is None or o[1] == relative_orbit)
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
    log.info("orbit chosen: %s, relative orbit %d (%d days before, %d after); all orbits: %s", *best, *counts[best], found)
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
) -> list[Acquisition]:
    """The `n_pre` acquisitions closest before the event and the `n_post` first ones after it,
    from one orbit (given, or chosen by `choose_orbit`). Items without both VV and VH are left
    out (counted); every filter that removes items is named in the error when too few remain."""
    if not items:
        raise InputError(f"{source}: no Sentinel-1 items found for bbox {list(bbox)} around {event_time:%Y-%m-%d}")
    removed: dict[str, int] = {}
    dual = [i for i in items if all(p in i.assets for p in POLARISATIONS)]
    if len(dual) < len(items):
        first = next(i for i in items if i not in dual)
        missing = "/".join(p for p in POLARISATIONS if p not in first.assets)
        if not dual:
            raise InputError(
                f"{source}: item {first.id} has no asset {missing}; expected assets 'vv' and 'vh' "
                f"(none of the {len(items)} item(s) has both)"
            )
        removed["without vv+vh assets"] = len(items) - len(dual)
        log.warning("%d item(s) without vv+vh assets left out (e.g. %s lacks %s)", len(items) - len(dual), first.id, missing)
    orbit_state, relative_orbit = choose_orbit(dual, event_time, n_pre, n_post, orbit_state, relative_orbit, source)
    kept = [i for i in dual if _orbit(i) == (orbit_state, relative_orbit)]
    for (state, rel), n in sorted(Counter(_orbit(i) for i in dual if i not in kept).items()):
        removed[f"on orbit {state}/{rel}"] = n
        log.info("filtered out %d item(s) of orbit %s/%d", n, state, rel)
    by_day: dict[str, list[pystac.Item]] = {}
    for item in kept:
        by_day.setdefault(_day(item), []).append(item)
    acquisitions = []
    for day, day_items in sorted(by_day.items()):
        t = min(_time(i) for i in day_items)
        side = "pre" if t < event_time else "post"
        acquisitions.append(Acquisition(day, t, tuple(sorted(day_items, key=lambda i: i.id)), orbit_state, relative_orbit, side))
    pre = [a for a in acquisitions if a.side == "pre"][-n_pre:] if n_pre else []
    post = [a for a in acquisitions if a.side == "post"][:n_post]
    if len(pre) < n_pre or len(post) < n_post:
        why = "; ".join(f"{n} {reason}" for reason, n in removed.items()) or "none"
        raise InputError(
            f"{source}: found {len(pre)} acquisition(s) before and {len(post)} after {event_time:%Y-%m-%d} "
            f"on orbit {orbit_state}/{relative_orbit} (of {len(items)} items; filtered out: {why}); "
            f"expected {n_pre} before and {n_post} after — widen the search window or ask for fewer"
        )
    for a in pre + post:
        log.info("%s acquisition %s: %d item(s) %s", a.side, a.date, len(a.items), [i.id for i in a.items])
    return pre + post


def _time(item: pystac.Item) -> datetime:
    t = item.datetime or parse_time(item.properties["start_datetime"], item.id)
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _day(item: pystac.Item) -> str:
    return _time(item).strftime("%Y-%m-%d")


def stack_on_grid(
    items: list[pystac.Item],
    assets: list[str],
    grid: Grid,
    chunksize: int,
    network: Network,
) -> xr.DataArray:
    """stackstac onto the grid (bilinear, float32, NaN nodata, no rescaling), all items mosaicked
    (first valid value wins) into (band, y, x). Unreadable assets fail (no silent nodata)."""
    epsg = int(grid.crs.split(":")[1])
    stack = stackstac.stack(
        items,
        assets=assets,
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
        errors_as_nodata=(),
        gdal_env=stackstac.DEFAULT_GDAL_ENV.updated(network.gdal_env()),
    )
    mosaic = stackstac.mosaic(stack, dim="time") if stack.sizes["time"] > 1 else stack.isel(time=0)
    return mosaic.drop_vars([c for c in mosaic.coords if c not in ("band", "x", "y")])


def check_geocoded(items: list[pystac.Item], source: str) -> None:
    """stackstac places an asset by its `proj:epsg` (with proj:transform/shape or a bbox); items in
    radar geometry (e.g. Planetary Computer's sentinel-1-grd) have none and cannot be gridded."""
    for item in items:
        props = [item.properties, *(item.assets[p].extra_fields for p in POLARISATIONS if p in item.assets)]
        if not any(d.get("proj:epsg") or d.get("proj:code") for d in props):
            raise InputError(
                f"{source}: item {item.id} has no proj:epsg/proj:code: it is not geocoded (GRD items are in radar "
                "geometry); use a terrain-corrected collection such as sentinel-1-rtc"
            )


_READ_ERROR = re.compile(r"Error (?:opening|reading .*? from) '([^']+)': (.*)", re.S)


#: GDAL/curl messages of a failed transfer (the server's or the network's fault, not the file's).
_NETWORK_DETAIL = re.compile(
    r"HTTP response code: (0|429|5\d\d)\b|CURL error|curl error|Could not resolve|Couldn't connect|Failed to connect|"
    r"Connection (refused|reset|timed out)|Recv failure|Send failure|timed out|Empty reply|transfer closed",
    re.I,
)


def raise_read_error(err: Exception, what: str) -> None:
    """Re-raise stackstac's failure to read an asset as one line naming the file: NetworkError when
    the transfer failed (after GDAL's retries), InputError when the file itself is unreadable."""
    match = _READ_ERROR.search(str(err))
    if match:
        href, detail = match.groups()
        if _NETWORK_DETAIL.search(detail):
            raise NetworkError(f"{what}: network error reading {redact(href)} after GDAL's retries ({redact(detail)[:300]})") from None
        raise InputError(f"{what}: {redact(href)} is not a readable COG ({redact(detail)[:300]})") from None
    raise err


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
    network = network or Network.from_config(area)
    grid = area_grid(area["bbox"], area["resolution"])
    event_time = parse_time(area["event_time"], "event_time")
    start, end = search_window(s1, event_time)
    if s1["source"] == "stac":
        endpoint = s1["endpoint"]
        source = f"sentinel1: {redact(endpoint)} collection {s1['collection']} bbox {list(area['bbox'])} {start:%Y-%m-%d} .. {end:%Y-%m-%d}"
        items = search_stac(endpoint, s1["collection"], area["bbox"], start, end, network)
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
    acquisitions = select_acquisitions(
        items,
        area["bbox"],
        event_time,
        s1["acquisitions_pre"],
        s1["acquisitions_post"],
        s1.get("orbit_state"),
        s1.get("relative_orbit"),
        source,
    )
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
            "orbit": f"{acquisitions[0].orbit_state}/{acquisitions[0].relative_orbit}",
            "items": " ".join(i.id for a in acquisitions for i in a.items),
        },
    )
    template = template.rio.write_crs(grid.crs).rio.write_transform(grid.transform)
    coverage = np.zeros(n, dtype="float32")
    with atomic_path(out_zarr) as tmp:
        template.to_zarr(tmp, mode="w", compute=False, consolidated=True)
        for k, acq in enumerate(acquisitions):
            items_k = sign_items(list(acq.items), endpoint, network) if endpoint else list(acq.items)
            step = load_acquisition(Acquisition(acq.date, acq.time, tuple(items_k), acq.orbit_state, acq.relative_orbit, acq.side), grid, chunk, network)
            region = xr.Dataset({p: (("timestep", "y", "x"), step.sel(band=p).data[None]) for p in POLARISATIONS})
            valid = (np.isfinite(region["vv"]) & np.isfinite(region["vh"])).mean().data
            write = region.to_zarr(tmp, region={"timestep": slice(k, k + 1), "y": slice(None), "x": slice(None)}, compute=False)
            try:
                _, cov = dask.compute(write, valid)
            except RuntimeError as err:
                raise_read_error(err, source)
            coverage[k] = cov
            level = logging.WARNING if cov < PARTIAL_COVERAGE else logging.INFO
            log.log(level, "coverage %s (%s, %d frame(s)): %.1f %% of the area%s", acq.date, acq.side, len(acq.items),
                    100 * cov, "; partial: the rest is NaN" if cov < PARTIAL_COVERAGE else "")
            check_coverage(acq, float(cov), float(s1.get("min_coverage", 0.0)), source)
        import zarr

        zarr.open_array(store=str(tmp), path="coverage", mode="r+")[:] = coverage
    log.info("wrote %s: %d time steps, %d x %d px", out_zarr, n, w, h)
    return xr.open_zarr(out_zarr, decode_coords="all")
