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

from .params import BLOCK_ROWS, LAND_COVER_CODES, area_value, check_params


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
    del kx, ky
    k0 = 1.0 / corner_m
    norm = (beta - 2.0) / (2.0 * math.pi * k0**2)  # ∫ S d²k = 1 without the smoothing term
    # the same float32 operations as np.sqrt(norm * (1 + k2/k0²)^(-beta/2)) / res, in place
    amp = k2 / k0**2
    amp += 1.0
    amp **= -beta / 2.0
    amp *= norm
    np.sqrt(amp, out=amp)
    amp /= res
    if smoothing_m > 0:
        k2 *= -((2.0 * math.pi * smoothing_m) ** 2)
        k2 /= 2.0
        amp *= np.exp(k2, out=k2)
    del k2
    amp[0, 0] = 0.0
    noise = rng.standard_normal((h, w), dtype=np.float32)
    spec = sfft.rfft2(noise, workers=-1)
    del noise
    spec *= amp.astype(np.float32, copy=False)
    del amp
    return sfft.irfft2(spec, s=(h, w), workers=-1).astype(np.float32, copy=False)


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
    return (wy @ coarse @ wx.T).astype(np.float32, copy=False)


def _texture(shape: tuple[int, int], sigma_px: float, rng: np.random.Generator) -> np.ndarray:
    """Short-range unit-variance texture: white noise blurred by a Gaussian, standardised."""
    t = rng.standard_normal(shape, dtype=np.float32)
    if sigma_px > 0.3:  # in place: each line is buffered before it is written back
        ndimage.gaussian_filter(t, sigma=sigma_px, output=t, mode="wrap")
    t -= t.mean()
    t /= max(float(t.std()), 1e-12)
    return t


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return (0.5 * (1.0 + np.tanh(0.5 * x))).astype(np.float32)


def _sigmoid_in_place(x: np.ndarray) -> np.ndarray:
    """_sigmoid of the float32 array ``x``, overwriting it (the same float32 operations)."""
    x *= 0.5
    np.tanh(x, out=x)
    x += 1.0
    x *= 0.5
    return x


def _db(x):
    return 10.0 ** (np.asarray(x, dtype=np.float32) / 10.0)


@dataclass
class World:
    """The simulated fields that must be held whole; the ``*_w`` arrays live on the padded
    terrain grid ``wgrid``, the others on the area grid.

    Held: the terrain and its gradient (the runouts sample them anywhere), and the fields whose
    definition is global (rain and texture are standardised over the area, storm damage contains
    both, land cover is thresholded from smooth fields drawn whole) plus the covered fraction and
    the layover/shadow masks. Slope, concavity, the landslide rate and the hypocentral distance
    follow pixel by pixel from those and are computed for a block of rows when needed
    (``*_rows``); the whole-area properties are for tests and small areas."""

    grid: Grid
    wgrid: Grid
    off: tuple[int, int]  # (row, col) of grid's (0, 0) in wgrid
    elevation_w: np.ndarray
    gx_w: np.ndarray  # dz/dx (east), m/m
    gy_w: np.ndarray  # dz/dy (north), m/m
    params: dict  # the checked synthetic block
    rain: np.ndarray | None = None
    land_cover: np.ndarray | None = None  # uint8 codes
    storm_damage: np.ndarray | None = None
    texture: np.ndarray | None = None
    heads: dict = field(default_factory=dict)
    bodies: Any = None
    fraction: np.ndarray | None = None
    views: dict = field(default_factory=dict)  # orbit state -> layover/shadow mask (uint8, area grid)

    def crop(self, a: np.ndarray) -> np.ndarray:
        r, c = self.off
        return a[r : r + self.grid.height, c : c + self.grid.width]

    def slope_rows(self, r0: int, r1: int) -> np.ndarray:
        """Slope (deg) of area rows r0:r1."""
        gx, gy = self.crop(self.gx_w)[r0:r1], self.crop(self.gy_w)[r0:r1]
        return np.degrees(np.arctan(np.hypot(gx, gy))).astype(np.float32, copy=False)

    def concavity_rows(self, r0: int, r1: int) -> np.ndarray:
        """Laplacian of the terrain (1/(100 m), positive in hollows) of area rows r0:r1: the
        Laplacian of the padded terrain with one row of halo (the area lies inside the padding),
        so the values are those of the whole-grid Laplacian."""
        r, c = self.off
        z = self.elevation_w[r + r0 - 1 : r + r1 + 1]
        lap = ndimage.laplace(z) * (100.0 / self.grid.resolution**2)
        return np.ascontiguousarray(lap[1:-1, c : c + self.grid.width], dtype=np.float32)

    @property
    def slope_deg(self) -> np.ndarray:
        return self.slope_rows(0, self.grid.height)

    @property
    def concavity(self) -> np.ndarray:
        return self.concavity_rows(0, self.grid.height)

    @property
    def rate(self) -> np.ndarray:
        """Expected heads per pixel (landslide_rate with the world's parameters)."""
        return landslide_rate(self, self.params)

    @property
    def epicentre_distance_m(self) -> np.ndarray:
        """Hypocentral distance (m) of every pixel, for the world's parameters."""
        return hypocentral_distance(self.grid, self.params["shaking"])


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
    z = fractal_surface((fh, fw), res, t["beta"], t["corner_wavelength_m"], t["smoothing_m"], _rng(seed, "terrain"))[
        : wgrid.height, : wgrid.width
    ]
    z = np.array(z, dtype=np.float32)  # the crop alone, not the FFT grid
    env = smooth_field(wgrid, t["roughness_length_m"], _rng(seed, "roughness"))
    env -= env.mean()  # the area's typical relief stays elevation_std_m whatever the seed
    # in place, the same float32 operations as
    # mean + std * exp(variation * env - variation² / 2) * z
    env *= t["roughness_variation"]
    env -= 0.5 * t["roughness_variation"] ** 2
    np.exp(env, out=env)
    env *= t["elevation_std_m"]
    env *= z
    del z
    env += t["mean_elevation_m"]
    np.maximum(env, 1.0, out=env)
    return env


def _land_cover(w: World, p: dict, seed: int, block_rows: int) -> np.ndarray:
    lc_p = p["land_cover"]
    t = p["terrain"]
    g = w.grid
    z_norm = (w.crop(w.elevation_w) - t["mean_elevation_m"]) / t["elevation_std_m"]
    we = lc_p["elevation_weight"]
    veg = smooth_field(g, lc_p["correlation_length_m"], _rng(seed, "lc", "forest"))
    veg += we * z_norm
    veg /= math.sqrt(1.0 + we**2)
    lc = np.full(g.shape, LAND_COVER_CODES["pasture"], dtype=np.uint8)

    def thr(frac):
        return float(ndtri(1.0 - frac)) if 0 < frac < 1 else (math.inf if frac <= 0 else -math.inf)

    lc[veg > thr(lc_p["forest_fraction"])] = LAND_COVER_CODES["forest"]
    del veg
    urban = smooth_field(g, lc_p["correlation_length_m"] / 2.0, _rng(seed, "lc", "urban"))
    for r0, r1 in row_blocks(g.height, block_rows):
        flat = w.slope_rows(r0, r1) < lc_p["urban_max_slope_deg"]
        lc[r0:r1][(urban[r0:r1] > thr(lc_p["urban_fraction"])) & flat] = LAND_COVER_CODES["urban"]
    del urban
    water = smooth_field(g, lc_p["correlation_length_m"], _rng(seed, "lc", "water"))
    water -= we * z_norm
    water /= math.sqrt(1.0 + we**2)
    del z_norm
    for r0, r1 in row_blocks(g.height, block_rows):
        flat = w.slope_rows(r0, r1) < lc_p["water_max_slope_deg"]
        lc[r0:r1][(water[r0:r1] > thr(lc_p["water_fraction"])) & flat] = LAND_COVER_CODES["water"]
    return lc


def _class_table(p: dict, key: str) -> np.ndarray:
    """Lookup table indexed by land-cover code."""
    table = np.zeros(max(LAND_COVER_CODES.values()) + 1, dtype=np.float32)
    for name, code in LAND_COVER_CODES.items():
        table[code] = p["land_cover"][name][key]
    return table


def row_blocks(height: int, block_rows: int):
    """(r0, r1) of consecutive blocks of at most ``block_rows`` rows covering ``height`` rows."""
    step = max(1, int(block_rows))
    return [(r0, min(height, r0 + step)) for r0 in range(0, height, step)]


def hypocentral_distance(grid: Grid, shaking: dict, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Distance (m) of each pixel centre (of area rows ``rows``, default all) to the hypocentre:
    the epicentre given as an offset (east, north) from the area's centre, at ``depth_m``."""
    r0, r1 = rows or (0, grid.height)
    left, bottom, right, top = grid.bounds
    dx = grid.x_coords()[None, :] - (0.5 * (left + right) + shaking["epicentre_east_m"])
    dy = grid.y_coords()[r0:r1, None] - (0.5 * (bottom + top) + shaking["epicentre_north_m"])
    return np.sqrt(dx * dx + dy * dy + shaking["depth_m"] ** 2).astype(np.float32)


def _terrain_log_rate(w: World, p: dict, r0: int, r1: int) -> np.ndarray:
    """The log-rate's terrain part: base density, slope and concavity (what the DEM carries)."""
    ls = p["landslides"]
    pixel_km2 = w.grid.resolution * w.grid.resolution / 1e6
    return (
        math.log(max(ls["base_density_per_km2"], 1e-30) * pixel_km2)
        + ls["slope_coef"] * (w.slope_rows(r0, r1) - ls["slope_ref_deg"]) / 10.0
        + ls["concavity_coef"] * np.clip(w.concavity_rows(r0, r1) / ls["concavity_scale"], -3.0, 3.0)
    )


def terrain_rate(w: World, p: dict, rows: tuple[int, int] | None = None) -> np.ndarray:
    """The rate's terrain part alone (expected heads per pixel at mean rain, open gate, no
    shaking term, land-cover factor 1): what a model of the DEM alone could know of the rate; the
    density oracle's DEM row reads it (truth.tif band terrain_rate), never a model."""
    r0, r1 = rows or (0, w.grid.height)
    rate = np.exp(_terrain_log_rate(w, p, r0, r1))
    if p["landslides"]["base_density_per_km2"] <= 0:
        rate[:] = 0.0
    return rate.astype(np.float32)


def landslide_rate(w: World, p: dict, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Expected heads per pixel (of area rows ``rows``, default all): the log-linear
    susceptibility of slope, concavity and rain, the shaking term (density ~ (r / depth)^-distance_coef
    with r the hypocentral distance), the rain-triggering gate when ``rain_gate`` is 1, and the
    land-cover factor. Pixel by pixel, so a block's rate is the whole-area rate's rows."""
    ls = p["landslides"]
    r0, r1 = rows or (0, w.grid.height)
    rain = w.rain[r0:r1]
    log_rate = (
        _terrain_log_rate(w, p, r0, r1)
        + ls["rain_coef"] * rain
        - p["shaking"]["distance_coef"]
        * np.log(hypocentral_distance(w.grid, p["shaking"], (r0, r1)) / p["shaking"]["depth_m"])
    )
    rate = np.exp(log_rate) * _class_table(p, "rate_factor")[w.land_cover[r0:r1]]
    if ls["rain_gate"]:
        rate *= _sigmoid((rain - ls["rain_threshold"]) / ls["rain_transition"])
    if ls["base_density_per_km2"] <= 0:
        rate[:] = 0.0
    return rate.astype(np.float32)


def build_world(area: dict, p: dict | None = None, block_rows: int = BLOCK_ROWS) -> World:
    """Simulate terrain, rain, land cover and storm damage (no heads yet); the rate follows from
    them (``landslide_rate``). ``block_rows`` bounds the temporaries of the per-pixel steps; the
    fields do not depend on it."""
    p = p or check_params(area.get("synthetic"))
    seed = int(p["seed"])
    grid = area_grid(area_value(area, "bbox"), float(area_value(area, "resolution")))
    wgrid, off = _world_grid(grid, p)
    res = grid.resolution
    z = _terrain(wgrid, p, seed)
    grow, gx = np.gradient(z, res)  # float32, as z
    gy = np.negative(grow, out=grow)  # north-up: rows increase southward
    del grow
    w = World(grid=grid, wgrid=wgrid, off=off, elevation_w=z, gx_w=gx, gy_w=gy, params=p)
    w.rain = smooth_field(grid, p["rain"]["correlation_length_m"], _rng(seed, "rain"))
    w.rain -= w.rain.mean()  # standardised over the area, so rain_threshold is area-relative
    w.rain /= max(float(w.rain.std()), 1e-6)
    w.land_cover = _land_cover(w, p, seed, block_rows)

    st = p["storm"]
    rho = st["rain_correlation"]
    # in place, the same float32 operations as rho * rain + sqrt(1 - rho²) * other (+ patches)
    d = smooth_field(grid, st["correlation_length_m"], _rng(seed, "storm"))
    d *= math.sqrt(max(0.0, 1.0 - rho**2))
    d += rho * w.rain
    thr = float(ndtri(1.0 - st["extent"])) if 0 < st["extent"] < 1 else (-1e9 if st["extent"] >= 1 else 1e9)
    if st["patchiness"] > 0:  # wind damage is patchy: fallen trees in clumps of tens of metres
        patches = _texture(grid.shape, st["patch_length_m"] / res, _rng(seed, "storm", "patches"))
        patches *= st["patchiness"]
        d += patches
        del patches
        d /= math.sqrt(1.0 + st["patchiness"] ** 2)  # unit variance again, so `extent` holds
    d -= thr
    d /= st["transition"]
    w.storm_damage = _sigmoid_in_place(d)
    w.texture = _texture(grid.shape, p["sar"]["texture_length_m"] / res, _rng(seed, "texture"))
    return w
