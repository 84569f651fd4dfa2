"""The area's pixel grid: UTM zone of the area's centre, square pixels, snapped to the resolution.

Every raster of an area (SAR, DEM, derivatives, labels, cube) lives on this one grid, so pixels
line up without resampling after acquisition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from landslide_sar.errors import InputError

BBox = tuple[float, float, float, float]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: CRS, affine transform (top-left origin) and shape."""

    crs: str
    transform: Affine
    width: int
    height: int

    @property
    def resolution(self) -> float:
        return float(self.transform.a)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def bounds(self) -> BBox:
        """(left, bottom, right, top) in the grid's CRS."""
        left, top = self.transform.c, self.transform.f
        return (left, top - self.height * self.resolution, left + self.width * self.resolution, top)

    def x_coords(self) -> np.ndarray:
        """Pixel-centre x coordinates."""
        return self.transform.c + (np.arange(self.width) + 0.5) * self.resolution

    def y_coords(self) -> np.ndarray:
        """Pixel-centre y coordinates (decreasing: north-up)."""
        return self.transform.f - (np.arange(self.height) + 0.5) * self.resolution

    def lonlat_bbox(self) -> BBox:
        """The grid's extent in EPSG:4326 (densified edges)."""
        from rasterio.warp import transform_bounds

        return tuple(transform_bounds(self.crs, "EPSG:4326", *self.bounds, densify_pts=21))

    def to_dict(self) -> dict:
        return {
            "crs": self.crs,
            "transform": list(self.transform)[:6],
            "width": self.width,
            "height": self.height,
        }

    @classmethod
    def from_dict(cls, d: dict) -> Grid:
        return cls(d["crs"], Affine(*d["transform"][:6]), int(d["width"]), int(d["height"]))


def check_bbox(bbox: BBox, where: str = "bbox") -> BBox:
    """Validate a lon/lat bbox [min_lon, min_lat, max_lon, max_lat]; raise InputError otherwise.

    The "(lon/lat swapped?)" hint is given only where swapping would put the bbox on Earth; a bbox
    across the antimeridian (min_lon > max_lon by more than half the globe, or one spanning more
    than half the globe) is refused with that reason: an area's grid is one UTM zone."""
    if len(bbox) != 4:
        raise InputError(
            f"{where}: {list(bbox)} has {len(bbox)} numbers; expected [min_lon, min_lat, max_lon, max_lat]"
        )
    w, s, e, n = (float(v) for v in bbox)
    if not (-180 <= w <= 180 and -180 <= e <= 180 and -90 <= s <= 90 and -90 <= n <= 90):
        swapped_ok = max(abs(s), abs(n)) <= 180 and max(abs(w), abs(e)) <= 90
        hint = " (lon/lat swapped?)" if swapped_ok else ""
        raise InputError(
            f"{where}: {list(bbox)} is not on Earth{hint}; "
            "expected [min_lon, min_lat, max_lon, max_lat], lon in [-180, 180], lat in [-90, 90]"
        )
    if w > e and w - e > 180:
        raise InputError(
            f"{where}: {list(bbox)} crosses the antimeridian (min_lon {w:g} > max_lon {e:g}), which is not "
            "supported; expected an area on one side of 180° (split it into two areas, one each side)"
        )
    if e - w > 180:
        raise InputError(
            f"{where}: {list(bbox)} spans {e - w:.2f}° of longitude (an area across the antimeridian written "
            "as -180..180?); expected an area on one side of 180°, less than 180° wide"
        )
    if w >= e or s >= n:
        raise InputError(
            f"{where}: {list(bbox)} has min >= max; expected [min_lon, min_lat, max_lon, max_lat] with min < max"
        )
    return (w, s, e, n)


def utm_epsg(lon: float, lat: float) -> int:
    """EPSG code of the WGS84 UTM zone containing (lon, lat)."""
    zone = int(math.floor((lon + 180.0) / 6.0)) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def area_grid(bbox: BBox, resolution: float = 10.0, crs: str | None = None) -> Grid:
    """The grid covering a lon/lat bbox: UTM of its centre (unless `crs`), edges snapped outward to
    multiples of `resolution` so that grids of overlapping areas share pixel edges."""
    w, s, e, n = check_bbox(bbox)
    if crs is None:
        crs = f"EPSG:{utm_epsg((w + e) / 2, (s + n) / 2)}"
    to_xy = Transformer.from_crs("EPSG:4326", CRS.from_user_input(crs), always_xy=True)
    lons = np.concatenate([np.linspace(w, e, 21), np.full(21, e), np.linspace(e, w, 21), np.full(21, w)])
    lats = np.concatenate([np.full(21, s), np.linspace(s, n, 21), np.full(21, n), np.linspace(n, s, 21)])
    xs, ys = to_xy.transform(lons, lats)
    left = math.floor(min(xs) / resolution) * resolution
    right = math.ceil(max(xs) / resolution) * resolution
    bottom = math.floor(min(ys) / resolution) * resolution
    top = math.ceil(max(ys) / resolution) * resolution
    width = int(round((right - left) / resolution))
    height = int(round((top - bottom) / resolution))
    return Grid(crs, Affine(resolution, 0.0, left, 0.0, -resolution, top), width, height)


def parse_time(value: str | datetime, where: str) -> datetime:
    """A timezone-aware UTC datetime from an ISO string; InputError naming `where` otherwise."""
    if isinstance(value, datetime):
        t = value
    else:
        try:
            t = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise InputError(
                f"{where}: {value!r} is not an ISO 8601 time; expected e.g. 2017-09-20T00:00:00Z"
            ) from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)
