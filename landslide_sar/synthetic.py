"""The embedded synthetic event: a landslide-triggering storm over fractal terrain, observed by a
Sentinel-1-like time series, written out in the same shapes as the real inputs.

No machine of the project reaches the internet, so the default run consumes a generated event
through the interfaces of real data (see docs/synthetic_event.md for the full model):

- ``sentinel1/<item_id>_{vv,vh}.tif``: Cloud-Optimized GeoTIFFs of linear gamma0 (float32,
  nodata -32768) on the area's UTM grid, and ``sentinel1_items.json``: an ItemCollection shaped
  like Planetary Computer ``sentinel-1-rtc`` items (relative asset hrefs);
- ``dem.tif``: a COG in EPSG:4326 at 1 arcsecond, like ``cop-dem-glo-30``;
- ``inventory.gpkg``: landslide heads as lon/lat points, like the USGS inventory;
- ``truth.gpkg`` / ``truth.tif`` / ``truth_summary.json``: what was simulated, for tests and the
  report only; nothing the pipeline consumes is derived from them beyond the physical effect.

Physics in one paragraph: the terrain is a fractal surface (power spectrum ~ k^-beta) whose
roughness varies regionally; landslide heads are an inhomogeneous Poisson process whose rate rises
with slope, with concavity and with a smooth regional "rain" field; each head starts a long, thin
body that runs down the steepest descent; land cover sets each pixel's mean VV/VH gamma0, modulated
by a temporally constant texture and a small residual terrain term; every acquisition gets its own
date factor and independent Gamma(L, 1/L) speckle; after the event, pixels covered by bodies mix
towards bare soil in proportion to their covered fraction, while a wide-area storm-damage field
(partially correlated with rain, not landslides) changes vegetation backscatter too.

Every parameter comes from the area's ``synthetic`` block, used as given: ``check_params`` requires
every key of schemas/synthetic.schema.yaml (no defaults here; config.yaml holds the default run's
values). Everything is drawn from ``synthetic.seed`` through named random streams, so the terrain
does not change when, say, more acquisitions are asked for.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import operator
import shutil
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import scipy.fft as sfft
from affine import Affine
from scipy import ndimage
from scipy.special import ndtri

from landslide_sar.config import SCHEMA_DIR
from landslide_sar.grid import Grid, InputError, area_grid
from landslide_sar.io import write_cog

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

#: The schema of the ``areas.<name>.synthetic`` block: the one list of the generator's parameters,
#: their types and bounds. It holds no values: every value comes from the config (config.yaml has
#: the default run's), and every key is required. tests/test_synthetic.py keeps schema, config.yaml
#: and docs/synthetic_event.md in sync.
SCHEMA_PATH = SCHEMA_DIR / "synthetic.schema.yaml"

#: The schema keywords check_params enforces on a parameter (besides its type and annotations).
_BOUNDS = {
    "minimum": (">=", operator.ge),
    "maximum": ("<=", operator.le),
    "exclusiveMinimum": (">", operator.gt),
    "exclusiveMaximum": ("<", operator.lt),
}


@functools.cache
def parameter_schema() -> dict:
    """schemas/synthetic.schema.yaml, parsed."""
    import yaml

    return yaml.safe_load(SCHEMA_PATH.read_text())


def _check_node(node: dict, value: Any, where: str) -> Any:
    if node["type"] == "object":
        props = node["properties"]
        if not isinstance(value, dict):
            raise InputError(f"{where}: {value!r} is not a mapping; expected the keys {', '.join(props)}")
        for key in value:
            if key not in props:
                raise InputError(f"{where}.{key} is unknown; expected one of {', '.join(props)}")
        for key in props:
            if key not in value:
                raise InputError(
                    f"{where}.{key} is missing; every parameter must be given (see config.yaml, "
                    "docs/synthetic_event.md)"
                )
        return {key: _check_node(props[key], value[key], f"{where}.{key}") for key in props}
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or (isinstance(value, float) and not math.isfinite(value)):
        raise InputError(f"{where}: {value!r} is not a finite number")
    if node["type"] == "integer":
        if value != int(value):
            raise InputError(f"{where}: {value!r} is not an integer")
        value = int(value)
    elif node["type"] == "number":
        value = float(value)
    else:
        raise AssertionError(f"{SCHEMA_PATH}: {where} has type {node['type']!r}; expected number or integer")
    for keyword, (relation, holds) in _BOUNDS.items():
        if keyword in node and not holds(value, node[keyword]):
            raise InputError(
                f"{where}: {value!r} is out of range; expected a value {relation} {node[keyword]} "
                "(see docs/synthetic_event.md)"
            )
    return value


def check_params(synthetic: Any, where: str = "synthetic") -> dict:
    """The generator's parameters: the ``areas.<name>.synthetic`` block, checked and as given.

    Every key of schemas/synthetic.schema.yaml must be present and no other; each value must have
    the schema's type (integers as int, numbers as float) and lie within its bounds; plus the
    checks a schema cannot express. Raises InputError with one line naming the key path."""
    if synthetic is None:
        raise InputError(f"{where} is missing; expected the areas.<name>.synthetic block of the config")
    p = _check_node(parameter_schema(), synthetic, where)
    ls = p["landslides"]
    for what in ("length", "width"):
        lo, hi = ls[f"{what}_min_m"], ls[f"{what}_max_m"]
        if hi < lo:
            raise InputError(
                f"{where}.landslides.{what}_max_m: {hi!r} is below {what}_min_m {lo!r}; expected >= it"
            )
    return p


def _area_value(area: dict, *path: str) -> Any:
    """``area[path[0]][path[1]]...``; InputError naming the key path when it is missing or null."""
    node: Any = area
    for i, key in enumerate(path):
        if not isinstance(node, dict) or node.get(key) is None:
            raise InputError(
                f"{'.'.join(path[: i + 1])} is missing or null; the synthetic event needs it (see config.yaml)"
            )
        node = node[key]
    return node


#: Land-cover codes written to truth.tif (band ``land_cover``).
LAND_COVER_CODES: dict[str, int] = {"forest": 1, "pasture": 2, "urban": 3, "water": 4}

#: Nodata of the SAR COGs (as Planetary Computer sentinel-1-rtc) and of the DEM.
SAR_NODATA = -32768.0
DEM_NODATA = -32767.0

#: The density classes truth_summary.json reports (``chips_128``): the paper's 128-pixel chips and
#: class edges per km² (class 0 none, 1 up to 25, 2 above), as config.yaml's ``chips`` block. A
#: diagnostic of the truth only: the pipeline's chips and classes come from its own config.
SUMMARY_CHIP_SIZE = 128
SUMMARY_CLASS_EDGES_PER_KM2 = (0.0, 25.0)

TRUTH_BANDS = ("elevation", "rain", "land_cover", "landslide_fraction", "storm_damage", "rate")

STAC_EXTENSIONS = [
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
COG_MEDIA_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"


# --------------------------------------------------------------------------------------------
# Acquisitions (dates, orbits, ids) — pure, no arrays
# --------------------------------------------------------------------------------------------

# Table 1 of the density paper, as offsets from the 2017-09-20 event; more dates are added every
# 12 days (the S1A repeat cycle) on either side.
_PRE_OFFSETS = (-28, -16, -4)  # 2017-08-23, 09-04, 09-16
_POST_OFFSETS = (2, 20, 32)  # 2017-09-22 (S1B, other frame), 10-10, 10-22
_PAPER_UIDS = {-28: "9D3C", -16: "B225", -4: "AE4E", 2: "D309", 20: "99FA", 32: "26BB"}
# (hour, minute, second) of the slice start times; S1B's frame 52 passes 53 s earlier.
_S1A_ASC_TIME = (22, 36, 37)
_S1B_ASC_TIME = (22, 35, 44)
_DESC_TIME = (10, 22, 15)
_SLICE_SECONDS = 25
# Reference orbits (mission-specific): relative = (absolute - offset) % 175 + 1.
_ORBIT_OFFSET = {"S1A": 73, "S1B": 27}
_ORBIT_REF = {  # (reference epoch, its absolute orbit), from Table 1
    "S1A": (datetime(2017, 8, 23, 22, 36, 37, tzinfo=timezone.utc), 18057),
    "S1B": (datetime(2017, 9, 22, 22, 35, 44, tzinfo=timezone.utc), 7511),
}
_ORBITS_PER_DAY = 175.0 / 12.0
# Satellite heading (degrees clockwise from north) and right-looking azimuth.
_HEADING = {"ascending": -12.0, "descending": 192.0}


@dataclass(frozen=True)
class Acquisition:
    """One STAC item to write (a whole acquisition or one slice of it)."""

    platform: str  # "S1A" / "S1B"
    start: datetime
    stop: datetime
    datetime: datetime
    orbit_state: str
    relative_orbit: int
    absolute_orbit: int
    datatake_id: int
    product_uid: str
    post: bool  # after event_time
    role: str  # "main" or "distractor"
    coverage: str  # "full", "south" or "north"
    days_from_event: float
    group: str  # acquisitions with the same group share one simulated image

    @property
    def id(self) -> str:
        fmt = "%Y%m%dT%H%M%S"
        return (
            f"{self.platform}_IW_GRDH_1SDV_{self.start.strftime(fmt)}_{self.stop.strftime(fmt)}_"
            f"{self.absolute_orbit:06d}_{self.datatake_id:06X}_{self.product_uid}_rtc"
        )


def _absolute_orbit(platform: str, when: datetime, relative_orbit: int) -> int:
    epoch, ref = _ORBIT_REF[platform]
    approx = ref + (when - epoch).total_seconds() / 86400.0 * _ORBITS_PER_DAY
    base = int(round(approx))
    # nearest absolute orbit whose relative orbit matches
    for delta in sorted(range(-88, 88), key=abs):
        if (base + delta - _ORBIT_OFFSET[platform]) % 175 + 1 == relative_orbit:
            return base + delta
    raise AssertionError("unreachable")


def parse_event_time(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as err:
            raise InputError(f"event_time: {value!r} is not an ISO 8601 date-time ({err})") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)


def _offsets(n: int, base: tuple[int, ...], sign: int) -> list[int]:
    offs = list(base)
    while len(offs) < n:
        offs.append(offs[-1] + 12 if sign > 0 else offs[0] - 12)
        offs.sort()
    return offs[-n:] if sign < 0 else offs[:n]


def acquisition_plan(area: dict, params: dict | None = None) -> list[Acquisition]:
    """The items of the event: ``acquisitions_before`` + ``acquisitions_after`` main acquisitions
    (the first after the event split into two overlapping slices with the same datetime) and one
    distractor from the other orbit direction, sorted by time."""
    p = params or check_params(area.get("synthetic"))
    n_before = int(_area_value(area, "sentinel1", "acquisitions_before"))
    n_after = int(_area_value(area, "sentinel1", "acquisitions_after"))
    if n_before < 1 or n_after < 1:
        raise InputError(
            f"sentinel1.acquisitions_before/after: {n_before}/{n_after}; expected at least 1 each"
        )
    orbit_state = str(_area_value(area, "sentinel1", "orbit_state")).lower()
    if orbit_state not in _HEADING:
        raise InputError(f"sentinel1.orbit_state: {orbit_state!r}; expected ascending or descending")
    rel = int(_area_value(area, "sentinel1", "relative_orbit"))
    event = parse_event_time(_area_value(area, "event_time"))
    day0 = event.replace(hour=0, minute=0, second=0, microsecond=0)
    # metadata comes from hashes of (seed, platform, date), so adding dates does not reshuffle ids;
    # datatake ids increase with time per platform, slices of one datatake share it
    datatake_base = {"S1A": (124098, -28), "S1B": (67002, 2)}  # (id, offset of that id)

    def make(platform, offset, hms, state, relorb, role, coverage, group, slice_shift=0):
        start = day0 + timedelta(days=offset, hours=hms[0], minutes=hms[1], seconds=hms[2] + slice_shift)
        stop = start + timedelta(seconds=_SLICE_SECONDS)
        dt = day0 + timedelta(days=offset, hours=hms[0], minutes=hms[1], seconds=hms[2])
        uid_seed = zlib.crc32(f"{p['seed']}:{platform}:{offset}:{coverage}:{role}".encode())
        uid = _PAPER_UIDS.get(offset) if (role == "main" and coverage in ("full", "south")) else None
        uid = uid or f"{uid_seed & 0xFFFF:04X}"
        dtk_seed = zlib.crc32(f"{p['seed']}:{platform}:{offset}:{role}".encode())
        base_id, base_off = datatake_base[platform]
        dtk = base_id + int(round((offset - base_off) * 12.7)) + (dtk_seed % 5 if offset != base_off else 0)
        return Acquisition(
            platform=platform,
            start=start,
            stop=stop,
            datetime=dt,
            orbit_state=state,
            relative_orbit=relorb,
            absolute_orbit=_absolute_orbit(platform, dt, relorb),
            datatake_id=dtk,
            product_uid=uid,
            post=dt > event,
            role=role,
            coverage=coverage,
            days_from_event=(dt - event).total_seconds() / 86400.0,
            group=group,
        )

    out: list[Acquisition] = []
    s1a_time = _S1A_ASC_TIME if orbit_state == "ascending" else _DESC_TIME
    s1b_time = (
        _S1B_ASC_TIME if orbit_state == "ascending" else (_DESC_TIME[0], _DESC_TIME[1] - 1, _DESC_TIME[2])
    )
    for off in _offsets(n_before, _PRE_OFFSETS, -1):
        out.append(make("S1A", off, s1a_time, orbit_state, rel, "main", "full", f"d{off:+d}"))
    for i, off in enumerate(_offsets(n_after, _POST_OFFSETS, +1)):
        if i == 0:  # the other frame (S1B): two overlapping slices of one datatake
            for cov, shift in (("south", -_SLICE_SECONDS), ("north", 0)):
                out.append(make("S1B", off, s1b_time, orbit_state, rel, "main", cov, f"d{off:+d}", shift))
        else:
            out.append(make("S1A", off, s1a_time, orbit_state, rel, "main", "full", f"d{off:+d}"))
    other_state = "descending" if orbit_state == "ascending" else "ascending"
    d_day = int(p["distractor"]["days_from_event"])
    d_rel = int(p["distractor"]["relative_orbit"])
    hms = _DESC_TIME if other_state == "descending" else _S1A_ASC_TIME
    out.append(make("S1A", d_day, hms, other_state, d_rel, "distractor", "full", "distractor"))
    out.sort(key=lambda a: (a.datetime, a.coverage))
    return out


# --------------------------------------------------------------------------------------------
# Random fields
# --------------------------------------------------------------------------------------------


def _rng(seed: int, *names: str | int) -> np.random.Generator:
    """An independent random stream per (seed, name...)."""
    key = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(str(n).encode()) for n in names]
    return np.random.default_rng(key)


def fractal_surface(
    shape: tuple[int, int],
    res: float,
    beta: float,
    corner_m: float,
    smoothing_m: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Zero-mean Gaussian surface of unit variance (for an unbounded domain) with spectral density
    S(k) ∝ (1 + (k/k0)^2)^(-beta/2) · exp(-(2π k σ)^2) (k in cycles/m, k0 = 1/corner_m,
    σ = smoothing_m). Periodic over ``shape``: pad and crop for a non-periodic field."""
    h, w = shape
    ky = sfft.fftfreq(h, d=res).astype(np.float32)[:, None]
    kx = sfft.rfftfreq(w, d=res).astype(np.float32)[None, :]
    k2 = kx**2 + ky**2
    k0 = 1.0 / corner_m
    norm = (beta - 2.0) / (2.0 * math.pi * k0**2)  # ∫ S d²k = 1 without the smoothing term
    amp = np.sqrt(norm * (1.0 + k2 / k0**2) ** (-beta / 2.0)) / res
    if smoothing_m > 0:
        amp *= np.exp(-((2.0 * math.pi * smoothing_m) ** 2) * k2 / 2.0)
    amp[0, 0] = 0.0
    noise = rng.standard_normal((h, w), dtype=np.float32)
    spec = sfft.rfft2(noise, workers=-1)
    spec *= amp.astype(np.float32)
    return sfft.irfft2(spec, s=(h, w), workers=-1).astype(np.float32)


def _interp_matrix(fine: np.ndarray, c0: float, step: float, n: int) -> np.ndarray:
    """Dense linear-interpolation weights from a regular coarse axis (c0 + i*step) to ``fine``."""
    pos = np.clip((fine - c0) / step, 0, n - 1 - 1e-6)
    i0 = np.floor(pos).astype(int)
    f = (pos - i0).astype(np.float32)
    m = np.zeros((fine.size, n), dtype=np.float32)
    rows = np.arange(fine.size)
    m[rows, i0] = 1.0 - f
    m[rows, i0 + 1] += f
    return m


def smooth_field(grid: Grid, length_m: float, rng: np.random.Generator) -> np.ndarray:
    """Stationary Gaussian random field with Gaussian covariance exp(-r²/2ℓ²), unit variance for an
    unbounded domain (so a small area keeps its regional offset), sampled at the pixel centres.
    Drawn on a coarse grid (ℓ/4) with 3ℓ of padding and interpolated bilinearly."""
    step = length_m / 4.0
    pad = 3.0 * length_m
    left, bottom, right, top = grid.bounds
    nx = sfft.next_fast_len(int(math.ceil((right - left + 2 * pad) / step)) + 2)
    ny = sfft.next_fast_len(int(math.ceil((top - bottom + 2 * pad) / step)) + 2)
    ky = sfft.fftfreq(ny, d=step)[:, None]
    kx = sfft.rfftfreq(nx, d=step)[None, :]
    k2 = kx**2 + ky**2
    amp = np.sqrt(2.0 * math.pi * length_m**2 * np.exp(-2.0 * math.pi**2 * length_m**2 * k2)) / step
    noise = rng.standard_normal((ny, nx))
    coarse = sfft.irfft2(sfft.rfft2(noise) * amp, s=(ny, nx)).astype(np.float32)
    x0 = left - pad
    y0 = top + pad  # coarse row i at y0 - i*step
    wx = _interp_matrix(grid.x_coords(), x0, step, nx)
    wy = _interp_matrix(y0 - grid.y_coords(), 0.0, step, ny)
    return (wy @ coarse @ wx.T).astype(np.float32)


def _texture(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Short-range unit-variance texture: white noise blurred by a Gaussian, standardised."""
    t = rng.standard_normal(shape, dtype=np.float32)
    t = ndimage.gaussian_filter(t, sigma=sigma_px, mode="wrap") if sigma_px > 0.3 else t
    t -= t.mean()
    t /= max(float(t.std()), 1e-12)
    return t


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def _db(x):
    return 10.0 ** (np.asarray(x, dtype=np.float32) / 10.0)


# --------------------------------------------------------------------------------------------
# The world
# --------------------------------------------------------------------------------------------


@dataclass
class World:
    """Every simulated field; the ``*_w`` arrays live on the padded terrain grid ``wgrid``."""

    grid: Grid
    wgrid: Grid
    off: tuple[int, int]  # (row, col) of grid's (0, 0) in wgrid
    elevation_w: np.ndarray
    gx_w: np.ndarray  # dz/dx (east), m/m
    gy_w: np.ndarray  # dz/dy (north), m/m
    slope_deg: np.ndarray
    concavity: np.ndarray  # Laplacian, 1/(100 m), positive in hollows
    rain: np.ndarray
    land_cover: np.ndarray  # uint8 codes
    rate: np.ndarray  # expected heads per pixel
    storm_damage: np.ndarray
    texture: np.ndarray
    heads: dict = field(default_factory=dict)
    bodies: Any = None
    fraction: np.ndarray | None = None

    def crop(self, a: np.ndarray) -> np.ndarray:
        r, c = self.off
        return a[r : r + self.grid.height, c : c + self.grid.width]


def _dem_target(grid: Grid, p: dict) -> tuple[Affine, int, int]:
    res = float(p["dem"]["resolution_deg"])
    w, s, e, n = grid.lonlat_bbox()
    m = float(p["dem"]["margin_deg"])
    w, s, e, n = w - m, s - m, e + m, n + m
    w, s = math.floor(w / res) * res, math.floor(s / res) * res
    e, n = math.ceil(e / res) * res, math.ceil(n / res) * res
    width, height = int(round((e - w) / res)), int(round((n - s) / res))
    return Affine(res, 0.0, w, 0.0, -res, n), width, height


def _world_grid(grid: Grid, p: dict) -> tuple[Grid, tuple[int, int]]:
    """The area grid grown to cover the DEM's lon/lat extent (plus two DEM pixels)."""
    from rasterio.warp import transform_bounds

    tr, width, height = _dem_target(grid, p)
    lb = (tr.c, tr.f - height * (-tr.e), tr.c + width * tr.a, tr.f)
    x0, y0, x1, y1 = transform_bounds("EPSG:4326", grid.crs, *lb, densify_pts=21)
    left, bottom, right, top = grid.bounds
    res = grid.resolution
    margin = 2 * tr.a * 111_320.0 + 2 * res
    pl = max(0, math.ceil((left - x0 + margin) / res))
    pr = max(0, math.ceil((x1 - right + margin) / res))
    pb = max(0, math.ceil((bottom - y0 + margin) / res))
    pt = max(0, math.ceil((y1 - top + margin) / res))
    wgrid = Grid(
        grid.crs,
        Affine(res, 0.0, left - pl * res, 0.0, -res, top + pt * res),
        grid.width + pl + pr,
        grid.height + pt + pb,
    )
    return wgrid, (pt, pl)


def _terrain(wgrid: Grid, p: dict, seed: int) -> np.ndarray:
    t = p["terrain"]
    res = wgrid.resolution
    pad = int(math.ceil(min(t["corner_wavelength_m"], 3000.0) / res))
    fh = sfft.next_fast_len(wgrid.height + pad)
    fw = sfft.next_fast_len(wgrid.width + pad)
    z = fractal_surface(
        (fh, fw), res, t["beta"], t["corner_wavelength_m"], t["smoothing_m"], _rng(seed, "terrain")
    )[: wgrid.height, : wgrid.width]
    env = smooth_field(wgrid, t["roughness_length_m"], _rng(seed, "roughness"))
    env -= env.mean()  # the area's typical relief stays elevation_std_m whatever the seed
    env = np.exp(t["roughness_variation"] * env - 0.5 * t["roughness_variation"] ** 2)
    z = t["mean_elevation_m"] + t["elevation_std_m"] * env * z
    np.maximum(z, 1.0, out=z)
    return z.astype(np.float32)


def _land_cover(w: World, p: dict, seed: int) -> np.ndarray:
    lc_p = p["land_cover"]
    t = p["terrain"]
    g = w.grid
    z_norm = (w.crop(w.elevation_w) - t["mean_elevation_m"]) / t["elevation_std_m"]
    we = lc_p["elevation_weight"]
    veg = smooth_field(g, lc_p["correlation_length_m"], _rng(seed, "lc", "forest")) + we * z_norm
    veg /= math.sqrt(1.0 + we**2)
    lc = np.full(g.shape, LAND_COVER_CODES["pasture"], dtype=np.uint8)

    def thr(frac):
        return float(ndtri(1.0 - frac)) if 0 < frac < 1 else (math.inf if frac <= 0 else -math.inf)

    lc[veg > thr(lc_p["forest_fraction"])] = LAND_COVER_CODES["forest"]
    urban = smooth_field(g, lc_p["correlation_length_m"] / 2.0, _rng(seed, "lc", "urban"))
    lc[(urban > thr(lc_p["urban_fraction"])) & (w.slope_deg < lc_p["urban_max_slope_deg"])] = (
        LAND_COVER_CODES["urban"]
    )
    water = smooth_field(g, lc_p["correlation_length_m"], _rng(seed, "lc", "water"))
    water = (water - we * z_norm) / math.sqrt(1.0 + we**2)
    lc[(water > thr(lc_p["water_fraction"])) & (w.slope_deg < lc_p["water_max_slope_deg"])] = (
        LAND_COVER_CODES["water"]
    )
    return lc


def _class_table(p: dict, key: str) -> np.ndarray:
    """Lookup table indexed by land-cover code."""
    table = np.zeros(max(LAND_COVER_CODES.values()) + 1, dtype=np.float32)
    for name, code in LAND_COVER_CODES.items():
        table[code] = p["land_cover"][name][key]
    return table


def build_world(area: dict, p: dict | None = None) -> World:
    """Simulate terrain, rain, land cover, landslide rate and storm damage (no heads yet)."""
    p = p or check_params(area.get("synthetic"))
    seed = int(p["seed"])
    grid = area_grid(_area_value(area, "bbox"), float(_area_value(area, "resolution")))
    wgrid, off = _world_grid(grid, p)
    res = grid.resolution
    z = _terrain(wgrid, p, seed)
    grow, gx = np.gradient(z, res)
    gy = -grow  # north-up: rows increase southward
    del grow
    lap = ndimage.laplace(z) * (100.0 / res**2)
    w = World(
        grid=grid,
        wgrid=wgrid,
        off=off,
        elevation_w=z,
        gx_w=gx.astype(np.float32),
        gy_w=gy.astype(np.float32),
        slope_deg=None,
        concavity=None,
        rain=None,
        land_cover=None,
        rate=None,
        storm_damage=None,
        texture=None,
    )
    w.slope_deg = np.degrees(np.arctan(np.hypot(w.crop(gx), w.crop(gy)))).astype(np.float32)
    w.concavity = w.crop(lap).astype(np.float32)
    del lap
    w.rain = smooth_field(grid, p["rain"]["correlation_length_m"], _rng(seed, "rain"))
    w.rain -= w.rain.mean()  # standardised over the area, so rain_threshold is area-relative
    w.rain /= max(float(w.rain.std()), 1e-6)
    w.land_cover = _land_cover(w, p, seed)

    ls = p["landslides"]
    pixel_km2 = res * res / 1e6
    log_rate = (
        math.log(max(ls["base_density_per_km2"], 1e-30) * pixel_km2)
        + ls["slope_coef"] * (w.slope_deg - ls["slope_ref_deg"]) / 10.0
        + ls["concavity_coef"] * np.clip(w.concavity / ls["concavity_scale"], -3.0, 3.0)
        + ls["rain_coef"] * w.rain
    )
    gate = _sigmoid((w.rain - ls["rain_threshold"]) / ls["rain_transition"])
    w.rate = (np.exp(log_rate) * gate * _class_table(p, "rate_factor")[w.land_cover]).astype(np.float32)
    if ls["base_density_per_km2"] <= 0:
        w.rate[:] = 0.0

    st = p["storm"]
    rho = st["rain_correlation"]
    other = smooth_field(grid, st["correlation_length_m"], _rng(seed, "storm"))
    d = rho * w.rain + math.sqrt(max(0.0, 1.0 - rho**2)) * other
    thr = float(ndtri(1.0 - st["extent"])) if 0 < st["extent"] < 1 else (-1e9 if st["extent"] >= 1 else 1e9)
    if st["patchiness"] > 0:  # wind damage is patchy: fallen trees in clumps of tens of metres
        d = d + st["patchiness"] * _texture(
            grid.shape, st["patch_length_m"] / res, _rng(seed, "storm", "patches")
        )
        d /= math.sqrt(1.0 + st["patchiness"] ** 2)  # unit variance again, so `extent` holds
    w.storm_damage = _sigmoid((d - thr) / st["transition"])
    w.texture = _texture(grid.shape, p["sar"]["texture_length_m"] / res, _rng(seed, "texture"))
    return w


def _bilinear(a: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``a`` at continuous pixel coordinates (pixel i spans [i, i+1))."""
    return ndimage.map_coordinates(a, [rows - 0.5, cols - 0.5], order=1, mode="nearest")


def place_landslides(w: World, p: dict) -> None:
    """Draw heads (Poisson), their bodies (steepest-descent runouts) and the covered fraction."""
    import shapely

    seed = int(p["seed"])
    ls = p["landslides"]
    g, res = w.grid, w.grid.resolution
    rng = _rng(seed, "heads")
    counts = rng.poisson(w.rate)
    flat = np.flatnonzero(counts)
    pix = np.repeat(flat, counts.ravel()[flat])
    n = pix.size
    rows = (pix // g.width + rng.random(n)).astype(np.float64)
    cols = (pix % g.width + rng.random(n)).astype(np.float64)
    del counts
    logger.info("placed %d landslide heads (%.1f per km2)", n, n / (g.width * g.height * res * res / 1e6))

    brng = _rng(seed, "bodies")
    lengths = np.clip(
        brng.lognormal(math.log(ls["length_median_m"]), ls["length_sigma"], n),
        ls["length_min_m"],
        ls["length_max_m"],
    )
    widths = np.clip(
        brng.lognormal(math.log(ls["width_median_m"]), ls["width_sigma"], n),
        ls["width_min_m"],
        ls["width_max_m"],
    )

    # steepest descent on the padded world grid, in world pixel coordinates
    r0, c0 = w.off
    wr, wc = rows + r0, cols + c0
    step = float(ls["step_m"])
    remaining = lengths.copy()
    travelled = np.zeros(n)
    active = np.ones(n, dtype=bool)
    z_prev = _bilinear(w.elevation_w, wr, wc)
    path_r, path_c = [wr.copy()], [wc.copy()]
    nsteps = np.zeros(n, dtype=np.int32)
    hmax, wmax = w.wgrid.height, w.wgrid.width
    for k in range(int(math.ceil(ls["length_max_m"] / step)) + 1):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        gx = _bilinear(w.gx_w, wr[idx], wc[idx])
        gy = _bilinear(w.gy_w, wr[idx], wc[idx])
        mag = np.hypot(gx, gy)
        ok = mag > 1e-3
        mag = np.where(ok, mag, 1.0)
        st = np.minimum(step, remaining[idx])
        nc = wc[idx] - gx / mag * st / res
        nr = wr[idx] + gy / mag * st / res
        inside = (nr > 0.5) & (nr < hmax - 0.5) & (nc > 0.5) & (nc < wmax - 0.5)
        zn = _bilinear(w.elevation_w, nr, nc)
        ok &= inside & (zn < z_prev[idx] - 1e-4)
        move = idx[ok]
        wr[move], wc[move], z_prev[move] = nr[ok], nc[ok], zn[ok]
        remaining[move] -= st[ok]
        travelled[move] += st[ok]
        nsteps[move] += 1
        active[idx[~ok]] = False
        active[move[remaining[move] <= 1e-6]] = False
        path_r.append(wr.copy())
        path_c.append(wc.copy())
    pr = np.stack(path_r)  # (steps+1, n)
    pc = np.stack(path_c)
    # world pixel coordinates -> map coordinates
    px = w.wgrid.transform.c + pc * res
    py = w.wgrid.transform.f - pr * res
    head_x, head_y = px[0], py[0]

    # bodies: the runout line buffered by half the width (flat cap at the head)
    long_enough = travelled >= np.minimum(widths, 2.0 * step) * 0.5
    bodies = np.empty(n, dtype=object)
    li = np.flatnonzero(long_enough)
    if li.size:
        npts = nsteps[li] + 1
        sel_steps = np.concatenate([np.arange(m) for m in npts])
        sel_heads = np.repeat(li, npts)
        coords = np.column_stack([px[sel_steps, sel_heads], py[sel_steps, sel_heads]])
        lines = shapely.linestrings(coords, indices=np.repeat(np.arange(li.size), npts))
        bodies[li] = shapely.buffer(
            lines, widths[li] / 2.0, cap_style="flat", join_style="round", quad_segs=2
        )
    si = np.flatnonzero(~long_enough)
    if si.size:  # stopped at once (flat or pit): a disc of the drawn width
        bodies[si] = shapely.buffer(shapely.points(head_x[si], head_y[si]), widths[si] / 2.0, quad_segs=4)
        travelled[si] = widths[si]
    w.heads = {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "x": head_x,
        "y": head_y,
        "length_m": travelled.astype(np.float64),
        "width_m": widths.astype(np.float64),
        "area_m2": shapely.area(bodies).astype(np.float64) if n else np.zeros(0),
    }
    w.bodies = bodies
    w.fraction = coverage_fraction(bodies, g, int(ls["coverage_supersample"]))


def coverage_fraction(geoms, grid: Grid, supersample: int) -> np.ndarray:
    """Fraction of each pixel covered by the union of ``geoms`` (rasterised at res/supersample)."""
    from rasterio.features import rasterize

    s = max(1, int(supersample))
    if len(geoms) == 0:
        return np.zeros(grid.shape, dtype=np.float32)
    fine = rasterize(
        ((geom, 1) for geom in geoms),
        out_shape=(grid.height * s, grid.width * s),
        transform=grid.transform * Affine.scale(1.0 / s),
        fill=0,
        dtype="uint8",
    )
    total = fine.reshape(grid.height, s, grid.width, s).sum(axis=(1, 3), dtype=np.uint16)
    return (total / np.float32(s * s)).astype(np.float32)


# --------------------------------------------------------------------------------------------
# SAR
# --------------------------------------------------------------------------------------------


def _terrain_modulation(w: World, p: dict, orbit_state: str) -> np.ndarray:
    """Residual terrain factor of RTC gamma0: (cos θ_local / cos θ)^exponent."""
    theta = math.radians(p["sar"]["incidence_deg"])
    look = math.radians(_HEADING[orbit_state] + 90.0)  # right-looking
    gx, gy = w.crop(w.gx_w), w.crop(w.gy_w)
    cos_loc = math.sin(theta) * (gx * math.sin(look) + gy * math.cos(look)) + math.cos(theta)
    cos_loc /= np.sqrt(1.0 + gx * gx + gy * gy)
    ratio = np.clip(cos_loc, 0.05, None) / math.cos(theta)
    return (ratio ** p["sar"]["terrain_exponent"]).astype(np.float32)


def simulate_acquisition(w: World, p: dict, acq: Acquisition) -> tuple[np.ndarray, np.ndarray]:
    """Linear gamma0 (VV, VH), float32, on the area grid, for one acquisition."""
    sar = p["sar"]
    seed = int(p["seed"])
    lc = w.land_cover
    tex = _db(sar["texture_db"] * w.texture)
    mod = _terrain_modulation(w, p, acq.orbit_state)
    drng = _rng(seed, "date", acq.group)
    date_db = float(drng.normal(0.0, sar["date_sd_db"])) if sar["date_sd_db"] > 0 else 0.0
    if acq.post:
        date_db += sar["wetness_db"] * math.exp(-max(acq.days_from_event, 0.0) / sar["wetness_decay_days"])
    out = []
    for pol in ("vv", "vh"):
        cover = _db(_class_table(p, f"{pol}_db"))[lc] * tex
        if acq.post:
            sens = _class_table(p, "storm_sensitivity")[lc]
            cover *= _db(p["storm"][f"{pol}_db"] * sens * w.storm_damage)
            f = w.fraction
            cover = (1.0 - f) * cover + f * np.float32(_db(sar[f"bare_{pol}_db"]))
        cover *= mod * np.float32(_db(date_db))
        speckle = drng.standard_gamma(sar["looks"], size=lc.shape, dtype=np.float32)
        speckle /= np.float32(sar["looks"])
        cover *= speckle
        out.append(cover.astype(np.float32, copy=False))
    return out[0], out[1]


def frame_masks(grid: Grid, overlap: float, heading_deg: float) -> dict[str, np.ndarray]:
    """Coverage of the two slices of the other-frame acquisition: their boundaries run across the
    track (tilted by the heading); the south slice covers the southern (1+overlap)/2 of the area,
    the north slice the northern (1+overlap)/2."""
    h, wd = grid.shape
    rows = np.arange(h, dtype=np.float32)[:, None] + 0.5
    cols = np.arange(wd, dtype=np.float32)[None, :] + 0.5
    tilt = math.tan(math.radians(heading_deg))  # boundary rises to the east for a NNW heading
    v = rows + tilt * (cols - wd / 2.0) * -1.0
    lo, hi = float(v.min()), float(v.max())
    v = (v - lo) / max(hi - lo, 1e-6)  # 0 north .. 1 south
    half = (1.0 + overlap) / 2.0
    return {"north": v <= half, "south": v >= 1.0 - half}


def _footprint_lonlat(mask: np.ndarray, grid: Grid):
    """Lon/lat polygon of a mask's covered part (its pixel-edge outline, simplified)."""
    import shapely
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import transform as stransform
    from pyproj import Transformer

    polys = [
        shape(geom)
        for geom, val in shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform)
        if val == 1
    ]
    poly = shapely.union_all(polys).simplify(grid.resolution * 1.5)
    poly = shapely.segmentize(poly, 1000.0)
    tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    return stransform(tr.transform, poly)


def _stac_item(acq: Acquisition, grid: Grid, footprint, rel_dir: str, looks: float) -> dict:
    from shapely.geometry import mapping

    epsg = int(str(grid.crs).split(":")[-1])
    iso = lambda d: d.strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    band = [{"nodata": SAR_NODATA, "data_type": "float32"}]
    assets = {
        pol: {
            "href": f"{rel_dir}/{acq.id}_{pol}.tif",
            "type": COG_MEDIA_TYPE,
            "title": f"{pol.upper()}: vertical transmit, {'vertical' if pol == 'vv' else 'horizontal'} receive",
            "roles": ["data"],
            "raster:bands": band,
        }
        for pol in ("vv", "vh")
    }
    bounds = grid.bounds
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": STAC_EXTENSIONS,
        "id": acq.id,
        "collection": "sentinel-1-rtc",
        "geometry": mapping(footprint),
        "bbox": list(footprint.bounds),
        "properties": {
            "datetime": iso(acq.datetime),
            "start_datetime": iso(acq.start),
            "end_datetime": iso(acq.stop),
            "platform": "SENTINEL-1A" if acq.platform == "S1A" else "SENTINEL-1B",
            "constellation": "Sentinel-1",
            "sat:orbit_state": acq.orbit_state,
            "sat:relative_orbit": acq.relative_orbit,
            "sat:absolute_orbit": acq.absolute_orbit,
            "sat:platform_international_designator": "2014-016A" if acq.platform == "S1A" else "2016-025A",
            "s1:datatake_id": str(acq.datatake_id),
            "s1:product_timeliness": "Fast-24h",
            "s1:processing_level": "1",
            "s1:resolution": "high",
            "sar:frequency_band": "C",
            "sar:center_frequency": 5.405,
            "sar:observation_direction": "right",
            "sar:polarizations": ["VV", "VH"],
            "sar:instrument_mode": "IW",
            "sar:product_type": "GRD",
            "sar:resolution_range": 20,
            "sar:resolution_azimuth": 22,
            "sar:looks_equivalent_number": float(looks),
            "proj:epsg": epsg,
            "proj:shape": [grid.height, grid.width],
            "proj:transform": [float(v) for v in list(grid.transform)[:6]] + [0.0, 0.0, 1.0],
            "proj:bbox": [float(v) for v in bounds],
        },
        "links": [],
        "assets": assets,
    }


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EventPaths:
    """The files of one generated event (all under ``root``)."""

    root: Path
    items: Path  # sentinel1_items.json
    sentinel1_dir: Path  # sentinel1/
    dem: Path  # dem.tif
    inventory: Path  # inventory.gpkg (layer "landslides")
    truth_vectors: Path  # truth.gpkg (layers "heads", "bodies")
    truth_raster: Path  # truth.tif
    truth_summary: Path  # truth_summary.json
    sar_files: tuple[Path, ...] = ()

    @classmethod
    def under(cls, root: str | Path) -> "EventPaths":
        root = Path(root)
        return cls(
            root=root,
            items=root / "sentinel1_items.json",
            sentinel1_dir=root / "sentinel1",
            dem=root / "dem.tif",
            inventory=root / "inventory.gpkg",
            truth_vectors=root / "truth.gpkg",
            truth_raster=root / "truth.tif",
            truth_summary=root / "truth_summary.json",
        )

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if k not in ("root", "sar_files")}


def _write_dem(w: World, p: dict, path: Path) -> None:
    from rasterio.warp import Resampling, reproject

    tr, width, height = _dem_target(w.grid, p)
    dem = np.full((height, width), DEM_NODATA, dtype=np.float32)
    reproject(
        w.elevation_w,
        dem,
        src_transform=w.wgrid.transform,
        src_crs=w.wgrid.crs,
        src_nodata=None,
        dst_transform=tr,
        dst_crs="EPSG:4326",
        dst_nodata=DEM_NODATA,
        resampling=Resampling.bilinear,
        num_threads=2,
    )
    n_bad = int((dem == DEM_NODATA).sum())
    if n_bad:
        raise AssertionError(f"DEM has {n_bad} nodata pixels: the padded terrain is too small")
    write_cog(path, dem, Grid("EPSG:4326", tr, width, height), DEM_NODATA, ["elevation"], "bilinear")


def _write_vectors(w: World, p: dict, paths: EventPaths) -> None:
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    h = w.heads
    for f in (paths.truth_vectors, paths.inventory):
        if f.exists():
            f.unlink()
    heads = gpd.GeoDataFrame(
        {k: h[k] for k in ("id", "length_m", "width_m", "area_m2")},
        geometry=shapely.points(h["x"], h["y"]),
        crs=w.grid.crs,
    )
    heads.to_file(paths.truth_vectors, layer="heads", driver="GPKG")
    bodies = gpd.GeoDataFrame(
        {k: h[k] for k in ("id", "length_m", "width_m", "area_m2")}, geometry=w.bodies, crs=w.grid.crs
    )
    bodies.to_file(paths.truth_vectors, layer="bodies", driver="GPKG", mode="a")
    # inventory: heads as mapped (optionally with a position error), lon/lat, id only
    err = float(p["landslides"]["inventory_position_error_m"])
    x, y = h["x"], h["y"]
    if err > 0:
        r = _rng(int(p["seed"]), "inventory")
        x = x + r.normal(0.0, err, x.size)
        y = y + r.normal(0.0, err, y.size)
    lon, lat = Transformer.from_crs(w.grid.crs, "EPSG:4326", always_xy=True).transform(x, y)
    inv = gpd.GeoDataFrame({"id": h["id"]}, geometry=shapely.points(lon, lat), crs="EPSG:4326")
    inv.to_file(paths.inventory, layer="landslides", driver="GPKG")


def _write_truth_raster(w: World, path: Path) -> None:
    import rasterio

    g = w.grid
    bands = {
        "elevation": w.crop(w.elevation_w),
        "rain": w.rain,
        "land_cover": w.land_cover.astype(np.float32),
        "landslide_fraction": w.fraction,
        "storm_damage": w.storm_damage,
        "rate": w.rate,
    }
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=g.width,
        height=g.height,
        count=len(bands),
        dtype="float32",
        crs=g.crs,
        transform=g.transform,
        tiled=True,
        blockxsize=256,
        blockysize=256,
        compress="deflate",
        predictor=3,
        zlevel=1,
    ) as dst:
        for i, (name, arr) in enumerate(bands.items(), start=1):
            dst.write(arr.astype(np.float32, copy=False), i)
            dst.set_band_description(i, name)


def chip_counts(x: np.ndarray, y: np.ndarray, grid: Grid, size: int) -> np.ndarray:
    """Heads per chip on a regular grid of ``size``-pixel chips from the top-left (partial chips
    at the right/bottom edges dropped), shape (rows, cols). Points must lie inside ``grid``."""
    from landslide_sar.labels import pixel_of

    nr, nc = grid.height // size, grid.width // size
    rows, cols = pixel_of(x, y, grid)
    row, col = rows // size, cols // size
    keep = (row < nr) & (col < nc)
    return np.bincount(row[keep] * nc + col[keep], minlength=nr * nc).reshape(nr, nc)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate_event(area: dict, out_dir: str | Path) -> EventPaths:
    """Generate the synthetic event of one ``config["areas"]`` entry into ``out_dir``.

    Deterministic in ``area["synthetic"]["seed"]``. Returns the paths written (see EventPaths)."""
    t0 = time.perf_counter()
    p = check_params(area.get("synthetic"))
    plan = acquisition_plan(area, p)
    paths = EventPaths.under(out_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    if paths.sentinel1_dir.exists():
        shutil.rmtree(paths.sentinel1_dir)
    paths.sentinel1_dir.mkdir(parents=True)

    w = build_world(area, p)
    g = w.grid
    logger.info(
        "world: grid %dx%d px (%s), padded %dx%d, %.1fs",
        g.width,
        g.height,
        g.crs,
        w.wgrid.width,
        w.wgrid.height,
        time.perf_counter() - t0,
    )
    place_landslides(w, p)
    logger.info("bodies and coverage done, %.1fs", time.perf_counter() - t0)

    _write_dem(w, p, paths.dem)
    _write_vectors(w, p, paths)
    _write_truth_raster(w, paths.truth_raster)
    logger.info("DEM, inventory and truth written, %.1fs", time.perf_counter() - t0)

    main_state = next(a.orbit_state for a in plan if a.role == "main")
    masks = frame_masks(g, p["sar"]["frame_overlap"], _HEADING[main_state])
    rel_dir = paths.sentinel1_dir.name
    items, sar_files, cache = [], [], {}
    for acq in plan:
        if acq.group not in cache:
            cache.clear()
            cache[acq.group] = simulate_acquisition(w, p, acq)
        vv, vh = cache[acq.group]
        mask = masks.get(acq.coverage)
        for pol, arr in (("vv", vv), ("vh", vh)):
            out = arr if mask is None else np.where(mask, arr, np.float32(SAR_NODATA))
            f = paths.sentinel1_dir / f"{acq.id}_{pol}.tif"
            write_cog(f, out, g, SAR_NODATA)
            sar_files.append(f)
        full = np.ones(g.shape, dtype=bool) if mask is None else mask
        items.append(_stac_item(acq, g, _footprint_lonlat(full, g), rel_dir, p["sar"]["looks"]))
        logger.info(
            "acquisition %s (%s, %s) written, %.1fs",
            acq.id,
            acq.orbit_state,
            acq.coverage,
            time.perf_counter() - t0,
        )
    paths.items.write_text(json.dumps({"type": "FeatureCollection", "features": items}, indent=1))

    from landslide_sar.chips import density_class

    chip = SUMMARY_CHIP_SIZE
    counts = chip_counts(w.heads["x"], w.heads["y"], g, chip)
    classes = density_class(counts / ((chip * g.resolution) ** 2 / 1e6), SUMMARY_CLASS_EDGES_PER_KM2)
    frac = [float((classes == c).mean()) if classes.size else 0.0 for c in (0, 1, 2)]
    summary = {
        "params": p,
        "grid": g.to_dict(),
        "n_heads": int(w.heads["id"].size),
        "heads_per_km2": float(w.heads["id"].size / (g.width * g.height * g.resolution**2 / 1e6)),
        "fraction_narrower_than_pixel": (
            float((w.heads["width_m"] < g.resolution).mean()) if w.heads["id"].size else 0.0
        ),
        "fraction_smaller_than_pixel": (
            float((w.heads["area_m2"] < g.resolution**2).mean()) if w.heads["id"].size else 0.0
        ),
        "chips_128": {"n": int(classes.size), "class_fractions": frac},
        "land_cover_fractions": {k: float((w.land_cover == v).mean()) for k, v in LAND_COVER_CODES.items()},
        "acquisitions": [
            {
                "id": a.id,
                "datetime": a.datetime.isoformat(),
                "orbit_state": a.orbit_state,
                "relative_orbit": a.relative_orbit,
                "post": a.post,
                "role": a.role,
                "coverage": a.coverage,
            }
            for a in plan
        ],
    }
    paths.truth_summary.write_text(json.dumps(summary, indent=1))
    logger.info(
        "event generated in %.1fs: %d heads, chip classes (0/1/2) %.2f/%.2f/%.2f",
        time.perf_counter() - t0,
        summary["n_heads"],
        *frac,
    )
    return EventPaths(**{**paths.__dict__, "sar_files": tuple(sar_files)})


def main(argv: list[str] | None = None) -> None:
    """``python -m landslide_sar.synthetic config.yaml AREA OUT_DIR``: generate one area by hand."""
    import argparse

    import yaml

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config")
    ap.add_argument("area")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(Path(a.config).read_text())
    generate_event(cfg["areas"][a.area], a.out_dir)


if __name__ == "__main__":
    main()
