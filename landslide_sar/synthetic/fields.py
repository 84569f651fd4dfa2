"""Terrain and smooth fields: the fractal terrain, rain, land cover, landslide rate, storm damage
and SAR texture, all on the area grid (the terrain on a padded grid that covers the DEM)."""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.fft as sfft
from affine import Affine
from scipy import ndimage
from scipy.special import ndtri

from landslide_sar.grid import Grid, area_grid

from .params import LAND_COVER_CODES, area_value, check_params



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
    views: dict = field(default_factory=dict)  # orbit state -> layover/shadow mask (uint8, area grid)
    epicentre_distance_m: np.ndarray | None = None  # hypocentral distance (m), for the truth

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


def hypocentral_distance(grid: Grid, shaking: dict) -> np.ndarray:
    """Distance (m) of each pixel centre to the hypocentre: the epicentre given as an offset
    (east, north) from the area's centre, at ``depth_m``."""
    left, bottom, right, top = grid.bounds
    dx = grid.x_coords()[None, :] - (0.5 * (left + right) + shaking["epicentre_east_m"])
    dy = grid.y_coords()[:, None] - (0.5 * (bottom + top) + shaking["epicentre_north_m"])
    return np.sqrt(dx * dx + dy * dy + shaking["depth_m"] ** 2).astype(np.float32)


def landslide_rate(w: World, p: dict) -> np.ndarray:
    """Expected heads per pixel: the log-linear susceptibility of slope, concavity and rain,
    the shaking term (density ~ (r / depth)^-distance_coef with r the hypocentral distance),
    the rain-triggering gate when ``rain_gate`` is 1, and the land-cover factor."""
    ls = p["landslides"]
    res = w.grid.resolution
    pixel_km2 = res * res / 1e6
    w.epicentre_distance_m = hypocentral_distance(w.grid, p["shaking"])
    log_rate = (
        math.log(max(ls["base_density_per_km2"], 1e-30) * pixel_km2)
        + ls["slope_coef"] * (w.slope_deg - ls["slope_ref_deg"]) / 10.0
        + ls["concavity_coef"] * np.clip(w.concavity / ls["concavity_scale"], -3.0, 3.0)
        + ls["rain_coef"] * w.rain
        - p["shaking"]["distance_coef"] * np.log(w.epicentre_distance_m / p["shaking"]["depth_m"])
    )
    rate = np.exp(log_rate) * _class_table(p, "rate_factor")[w.land_cover]
    if ls["rain_gate"]:
        rate *= _sigmoid((w.rain - ls["rain_threshold"]) / ls["rain_transition"])
    if ls["base_density_per_km2"] <= 0:
        rate[:] = 0.0
    return rate.astype(np.float32)


def build_world(area: dict, p: dict | None = None) -> World:
    """Simulate terrain, rain, land cover, landslide rate and storm damage (no heads yet)."""
    p = p or check_params(area.get("synthetic"))
    seed = int(p["seed"])
    grid = area_grid(area_value(area, "bbox"), float(area_value(area, "resolution")))
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

    w.rate = landslide_rate(w, p)
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

