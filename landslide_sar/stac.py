"""Generic STAC access shared by every acquisition (Sentinel-1, DEM): search a STAC API or read an
ItemCollection file, sign Planetary Computer hrefs, stack assets onto the area's grid with
stackstac, and turn a failed read into one line naming the file (NetworkError or InputError).

Only what the STAC API core guarantees is asked of a server (collections, bbox, datetime).
Items are signed with planetary-computer only when the endpoint is Planetary Computer (its
optional key comes from PC_SDK_SUBSCRIPTION_KEY and never reaches a log or message).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pystac
import stackstac
import xarray as xr
from rasterio.enums import Resampling

from landslide_sar.download import PC_KEY_ENV, Network, is_network_failure, redact
from landslide_sar.errors import InputError, NetworkError
from landslide_sar.grid import Grid

log = logging.getLogger(__name__)


PLANETARY_COMPUTER = "planetarycomputer.microsoft.com"


PLANETARY_COMPUTER_STAC = "https://planetarycomputer.microsoft.com/api/stac/v1"


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
    auth_hint: str = "",
) -> list[pystac.Item]:
    """Items of `collection` intersecting bbox (within [start, end] when given) from a STAC API.

    Only the core search parameters are sent (collections, bbox, datetime); connection failures
    and 429/5xx answers are retried (`network`); an unreachable endpoint is one InputError line,
    and a 401/403 answer says what credentials to give (`auth_hint`)."""
    from pystac_client import Client
    from pystac_client.stac_api_io import StacApiIO

    try:
        client = Client.open(
            endpoint,
            stac_io=StacApiIO(
                max_retries=network.urllib3_retry(), timeout=network.timeout_s, headers=network.headers()
            ),
        )
        search = client.search(
            collections=[collection],
            bbox=list(bbox),
            datetime=[start.isoformat(), end.isoformat()] if start and end else None,
            limit=100,
        )
        items = list(search.items())
    except Exception as err:  # noqa: BLE001 - connection errors come in many types
        kind = NetworkError if _network_cause(err) else InputError
        status = getattr(err, "status_code", None)
        denied = f" (HTTP {status}: access denied; {auth_hint or 'the endpoint wants credentials'})"
        raise kind(
            f"{what}.endpoint: {redact(endpoint)} could not be searched (after {network.http_retries} retries)"
            f"{denied if status in (401, 403) else ''}: "
            f"{'network error: ' if kind is NetworkError else ''}{type(err).__name__}: {redact(err)[:300]}"
        ) from None
    window = f" {start:%Y-%m-%d} .. {end:%Y-%m-%d}" if start and end else ""
    log.info(
        "searched %s collection %s bbox %s%s: %d item(s)", redact(endpoint), collection, list(bbox), window, len(items)
    )
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
        raise InputError(
            f"Planetary Computer: the token service {redact(url)} answered HTTP {response.status_code} "
            f"({response.reason}); "
            f"check {PC_KEY_ENV} if the data need a subscription key"
        )
    try:
        token = SASToken(**response.json())
    except Exception as err:  # noqa: BLE001 - not JSON, or not a token
        raise InputError(
            f"Planetary Computer: the token service {redact(url)} gave no token ({type(err).__name__})"
        ) from None
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


def read_projection(
    items: list[pystac.Item], assets: list[str], network: Network, what: str, auth_hint: str = ""
) -> list[pystac.Item]:
    """Items whose `assets` carry `proj:epsg`, `proj:shape` and `proj:transform` read from the
    files' own headers (one ranged read each), for products whose items omit the projection
    extension (OPERA RTC-S1 on CMR-STAC). A file without a CRS is refused (not geocoded)."""
    import rasterio

    out = []
    with rasterio.Env(**network.gdal_env()):
        for item in items:
            item = item.clone()
            for key in assets:
                asset = item.assets[key]
                try:
                    with rasterio.open(asset.href) as src:
                        crs, transform, shape = src.crs, src.transform, (src.height, src.width)
                except rasterio.errors.RasterioIOError as err:
                    raise_read_error(RuntimeError(f"Error opening {asset.href!r}: {err}"), what, auth_hint)
                epsg = crs.to_epsg() if crs is not None else None
                if epsg is None:
                    raise InputError(
                        f"{what}: {redact(asset.href)} (item {item.id}, asset {key}) has no EPSG CRS "
                        f"({crs.to_string() if crs else 'none'}); expected a geocoded file (e.g. UTM)"
                    )
                asset.extra_fields.update(
                    {"proj:epsg": epsg, "proj:shape": list(shape), "proj:transform": list(transform)[:6]}
                )
            out.append(item)
    log.info("read the grid of %d item(s) from their files' headers (the items carry no proj:*)", len(out))
    return out


_READ_ERROR = re.compile(r"Error (?:opening|reading .*? from) '([^']+)': (.*)", re.S)


#: GDAL/curl messages of a failed transfer (the server's or the network's fault, not the file's).
_NETWORK_DETAIL = re.compile(
    r"HTTP response code: (0|429|5\d\d)\b|CURL error|curl error|Could not resolve|Couldn't connect|Failed to connect|"
    r"Connection (refused|reset|timed out)|Recv failure|Send failure|timed out|Empty reply|transfer closed",
    re.I,
)


_DENIED = re.compile(r"HTTP response code: (401|403)\b")


def raise_read_error(err: Exception, what: str, auth_hint: str = "") -> None:
    """Re-raise stackstac's failure to read an asset as one line naming the file: NetworkError when
    the transfer failed (after GDAL's retries), InputError when the server refused access (saying
    what credentials to give, `auth_hint`) or the file itself is unreadable."""
    match = _READ_ERROR.search(str(err))
    if match:
        href, detail = match.groups()
        denied = _DENIED.search(detail)
        if denied:
            raise InputError(
                f"{what}: {redact(href)} answered HTTP {denied.group(1)} (access denied); "
                f"{auth_hint or 'the file host wants credentials'}"
            ) from None
        if _NETWORK_DETAIL.search(detail):
            raise NetworkError(
                f"{what}: network error reading {redact(href)} after GDAL's retries ({redact(detail)[:300]})"
            ) from None
        raise InputError(f"{what}: {redact(href)} is not a readable COG ({redact(detail)[:300]})") from None
    raise err
