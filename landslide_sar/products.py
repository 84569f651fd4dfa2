"""Sentinel-1 backscatter products a STAC API serves, and how each is read: the presets of
`sentinel1.collection`, which a config's `sentinel1.product` block can override key by key.

Two products differ in everything but the pixels' meaning (linear gamma0, RTC):
- Planetary Computer's `sentinel-1-rtc`: one item per frame (several bursts), assets `vv`/`vh`,
  the orbit in `sat:orbit_state`/`sat:relative_orbit`, the grid in `proj:*`; 10 m.
- NASA/JPL's OPERA L2 RTC-S1 as NASA's CMR-STAC lists it (`OPERA_L2_RTC-S1_V1`): one item per
  burst and date, assets named from the file names (`0_VV`, `0_VH`), item properties only
  `datetime`/`start_datetime`/`end_datetime`: the relative orbit is the track in the burst id
  (`T137-292319-IW2`), the direction comes from the config, the grid from the files' headers;
  every reprocessing of a burst and date is listed (the newest is kept); 30 m; Earthdata Login
  as a bearer token (environment variable `EARTHDATA_TOKEN`) for the API and the files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from landslide_sar.cube import SAR_VARIABLES
from landslide_sar.errors import ConfigError
from landslide_sar.stac import PLANETARY_COMPUTER_STAC

CMR_STAC_ASF = "https://cmr.earthdata.nasa.gov/stac/ASF"
EARTHDATA_TOKEN_ENV = "EARTHDATA_TOKEN"


@dataclass(frozen=True)
class Product:
    """How the items of one STAC collection of Sentinel-1 backscatter are read."""

    collection: str
    endpoint: str  # the STAC API that serves it
    assets: dict[str, str]  # cube variable (vv, vh) -> the item's asset key
    orbit: Literal["properties", "burst_id"]  # sat:* item properties, or the track in an OPERA burst id
    projection: Literal["properties", "files"]  # proj:* item fields, or the files' own headers
    versions: Literal["one", "newest"]  # one item per frame and date, or every reprocessing listed
    resolution: float  # the product's pixel size (m); a finer area grid only interpolates
    token_env: str | None  # environment variable holding a bearer token for the API and the files

    def asset_keys(self) -> list[str]:
        return [self.assets[v] for v in SAR_VARIABLES]


PRESETS: dict[str, Product] = {
    "sentinel-1-rtc": Product(
        collection="sentinel-1-rtc",
        endpoint=PLANETARY_COMPUTER_STAC,
        assets={"vv": "vv", "vh": "vh"},
        orbit="properties",
        projection="properties",
        versions="one",
        resolution=10.0,
        token_env=None,
    ),
    "OPERA_L2_RTC-S1_V1": Product(
        collection="OPERA_L2_RTC-S1_V1",
        endpoint=CMR_STAC_ASF,
        assets={"vv": "0_VV", "vh": "0_VH"},
        orbit="burst_id",
        projection="files",
        versions="newest",
        resolution=30.0,
        token_env=EARTHDATA_TOKEN_ENV,
    ),
}

#: a collection without a preset is read like sentinel-1-rtc unless `sentinel1.product` says otherwise
GENERIC = replace(PRESETS["sentinel-1-rtc"], collection="", endpoint="")

#: the keys a config's `sentinel1.product` block may set
OVERRIDABLE = tuple(f.name for f in fields(Product) if f.name not in ("collection", "endpoint"))


def product_of(s1: dict[str, Any], where: str = "sentinel1") -> Product:
    """The product an area's `sentinel1` block reads: the preset of its collection (or the
    generic one), with `sentinel1.product` overrides and `sentinel1.endpoint` applied."""
    collection = s1.get("collection") or "sentinel-1-rtc"
    base = PRESETS.get(collection, replace(GENERIC, collection=collection))
    over = dict(s1.get("product") or {})
    unknown = sorted(set(over) - set(OVERRIDABLE))
    if unknown:
        raise ConfigError(f"{where}.product: unknown key(s) {unknown}; expected some of {list(OVERRIDABLE)}")
    if "assets" in over:
        assets = dict(over["assets"])
        if sorted(assets) != sorted(SAR_VARIABLES):
            raise ConfigError(
                f"{where}.product.assets: {assets}; expected the asset key of each of {list(SAR_VARIABLES)}"
            )
        over["assets"] = assets
    product = replace(base, **over, endpoint=s1.get("endpoint") or base.endpoint)
    if not product.endpoint and s1.get("source") == "stac":
        raise ConfigError(
            f"{where}.endpoint is missing; collection {collection!r} has no preset endpoint "
            f"(presets: {sorted(PRESETS)}); expected a STAC API root URL"
        )
    return product


#: OPERA RTC-S1 product ids: OPERA_L2_RTC-S1_T<track>-<burst>-<subswath>_<acquired>Z_<processed>Z_<sensor>_30_v1.0
OPERA_ID = re.compile(
    r"_T(?P<track>\d{3})-(?P<burst>\d{6})-(?P<subswath>IW\d)_(?P<acquired>\d{8}T\d{6})Z_(?P<processed>\d{8}T\d{6})Z_"
)


@dataclass(frozen=True)
class BurstId:
    """What an OPERA RTC-S1 product id says: burst, relative orbit, acquisition and processing time."""

    burst: str  # T137-292319-IW2
    relative_orbit: int
    acquired: str  # 20211119T015858
    processed: str  # 20250830T120333


def parse_burst_id(item_id: str) -> BurstId | None:
    """The burst, track and times in an OPERA RTC-S1 product id; None when the id is not one."""
    m = OPERA_ID.search(item_id)
    if m is None:
        return None
    return BurstId(f"T{m['track']}-{m['burst']}-{m['subswath']}", int(m["track"]), m["acquired"], m["processed"])
