"""Backscatter: linear gamma0 (VV, VH) of one acquisition, and the coverage of the frame slices.

Per pixel and date (docs/synthetic_event.md): class mean x texture x residual terrain term
(local incidence) x date factor; after the event, storm damage, the covered fraction mixing
towards the scar (whose contrast relaxes as vegetation regrows) and the rain-driven soil
moisture (VV more sensitive than VH, seen through the canopy); plus the noise floor (NESZ);
times speckle correlated over the resolution cell; layover and shadow masked."""

from __future__ import annotations

import math

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from landslide_sar.grid import Grid

from .acquisitions import _HEADING, PlannedItem
from .fields import World, _class_table, _db, _rng
from .geometry import SwathGeometry, layover_shadow, local_incidence_cos, pixel_offsets


@dataclass(frozen=True)
class ViewGeometry:
    """What one orbit direction sees of the area (area grid): ellipsoid incidence (deg), cos of
    the local incidence, and the layover/shadow mask (geometry.LAYOVER | geometry.SHADOW bits)."""

    theta_deg: np.ndarray
    cos_local: np.ndarray
    mask: np.ndarray


def _swath(p: dict, orbit_state: str) -> SwathGeometry:
    return SwathGeometry.from_params(p["sar"], _HEADING[orbit_state])


def layover_shadow_mask(w: World, p: dict, orbit_state: str) -> np.ndarray:
    """The layover/shadow mask of ``orbit_state`` on the area grid, traced on the padded terrain
    (relief outside the area counts); cached on the world, one uint8 array per direction."""
    if orbit_state not in w.views:
        g = w.grid
        centre = (w.off[0] + g.height / 2.0, w.off[1] + g.width / 2.0)
        mask = layover_shadow(w.elevation_w, g.resolution, _swath(p, orbit_state), centre)
        w.views[orbit_state] = np.ascontiguousarray(w.crop(mask))
    return w.views[orbit_state]


def view_geometry(w: World, p: dict, orbit_state: str) -> ViewGeometry:
    """Incidence, local incidence and mask of ``orbit_state``; only the mask is kept between calls
    (the angles are cheap to recompute, and memory stays bounded at Puerto-Rico size)."""
    geom = _swath(p, orbit_state)
    theta = incidence_field(w, p, orbit_state)
    cos_loc = local_incidence_cos(w.crop(w.gx_w), w.crop(w.gy_w), theta, geom).astype(np.float32)
    return ViewGeometry(theta, cos_loc, layover_shadow_mask(w, p, orbit_state))


def incidence_field(w: World, p: dict, orbit_state: str) -> np.ndarray:
    """Ellipsoid incidence (deg, float32) of ``orbit_state`` at every pixel of the area grid."""
    g = w.grid
    geom = _swath(p, orbit_state)
    east, north = (a.astype(np.float32) for a in pixel_offsets(g.shape, g.resolution, (g.height / 2.0, g.width / 2.0)))
    s = geom.cross_track(east, north)  # one full float32 array, then in place: geometry.incidence_deg
    s /= np.float32(geom.swath_width_m)
    s += np.float32(geom.position)
    np.clip(s, 0.0, 1.0, out=s)
    s *= np.float32(geom.far_deg - geom.near_deg)
    s += np.float32(geom.near_deg)
    return s


def speckle_kernel_sigma(cell_px: float) -> float:
    """Sigma (px) of the discrete Gaussian (scipy.ndimage, truncate 4) whose equivalent width
    1 / sum(w_k^2) (the integral of the speckle's autocorrelation, in pixels) is ``cell_px``: the
    resolution cell over the pixel spacing. 0 when the cell is no larger than a pixel."""
    if cell_px <= 1.0:
        return 0.0

    def width(sigma: float) -> float:
        r = int(4.0 * sigma + 0.5)
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        return 1.0 / float((k * k).sum())

    lo, hi = 1e-3, 50.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if width(mid) < cell_px else (lo, mid)
    return 0.5 * (lo + hi)


def speckle(shape: tuple[int, int], looks: float, cell_px: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Unit-mean multiplicative speckle with ``looks`` equivalent looks per pixel, correlated over
    the resolution cell ``cell_px`` = (azimuth along rows, range along columns) in pixels:
    Gamma(L/A, A/L) white noise (A = the cell's area in pixels, the blur's variance reduction)
    blurred by the Gaussian whose equivalent width is the cell, so the pixel variance stays 1/L
    and the autocorrelation integrates to the cell. (At 4.4 looks and a 20 x 22 m cell over
    10 m pixels the white noise is single-look: exponential.) The look direction is within 12°
    of the grid's columns; the tilt is ignored."""
    sig = (speckle_kernel_sigma(cell_px[0]), speckle_kernel_sigma(cell_px[1]))
    area = max(cell_px[0], 1.0) * max(cell_px[1], 1.0)
    shape_k = looks / area
    s = rng.standard_gamma(shape_k, size=shape, dtype=np.float32)
    s /= np.float32(shape_k)
    if sig[0] > 0 or sig[1] > 0:
        ndimage.gaussian_filter(s, sigma=sig, output=s, mode="reflect", truncate=4.0)
    return s


def soil_moisture_change(w: World, p: dict, days: float) -> np.ndarray:
    """Rise of volumetric soil moisture (vol %) ``days`` after the event: the storm's rain
    (relative amount 1 + rain_relative_sd · rain, not below 0) times the peak rise, drying with
    an e-folding time."""
    mo = p["moisture"]
    rel = np.maximum(1.0 + mo["rain_relative_sd"] * w.rain, 0.0)
    return (mo["peak_vol_pct"] * math.exp(-max(days, 0.0) / mo["drying_days"]) * rel).astype(np.float32)


def scar_db(p: dict, pol: str, cover_db: np.ndarray, days: float) -> np.ndarray:
    """gamma0 (dB) of a scar ``days`` after the event: fresh bare soil (plus rough debris in VV)
    relaxing towards the pre-event cover as vegetation regrows (e-folding regrowth_days)."""
    sar = p["sar"]
    fresh = sar[f"bare_{pol}_db"] + (sar["debris_vv_db"] if pol == "vv" else 0.0)
    k = math.exp(-max(days, 0.0) / sar["regrowth_days"])
    out = np.asarray(cover_db, dtype=np.float32) * np.float32(1.0 - k)  # cover + (fresh - cover) k
    out += np.float32(fresh * k)
    return out


def _db_in_place(a: np.ndarray) -> np.ndarray:
    """10^(a/10), overwriting the float32 array ``a``."""
    a *= np.float32(0.1)
    return np.power(np.float32(10.0), a, out=a)


def simulate_acquisition(w: World, p: dict, acq: PlannedItem) -> tuple[np.ndarray, np.ndarray]:
    """Linear gamma0 (VV, VH), float32, on the area grid, for one acquisition; NaN where the
    terrain puts the pixel in layover or shadow (when sar.mask_layover_shadow is 1)."""
    sar = p["sar"]
    seed = int(p["seed"])
    lc = w.land_cover
    view = view_geometry(w, p, acq.orbit_state)
    # in place, to bound memory: cos_local -> the terrain term M, theta -> the noise floor N
    mod = np.clip(view.cos_local, 0.05, None, out=view.cos_local)
    cos_t = np.cos(np.radians(view.theta_deg, out=view.theta_deg), out=view.theta_deg)
    mod /= cos_t
    if sar["terrain_exponent"] != 1.0:
        mod **= np.float32(sar["terrain_exponent"])
    noise = np.divide(np.float32(_db(sar["nesz_db"])), cos_t, out=cos_t)
    tex = _db(sar["texture_db"] * w.texture)
    drng = _rng(seed, "date", acq.group)
    date_db = float(drng.normal(0.0, sar["date_sd_db"])) if sar["date_sd_db"] > 0 else 0.0
    mod *= np.float32(_db(date_db))
    days = max(acq.days_from_event, 0.0)
    if acq.post:
        f = w.fraction
        wet = (1.0 - f) * _class_table(p, "soil_visibility")[lc]
        wet += f
        wet *= soil_moisture_change(w, p, days)  # vol % seen through the cover
    cell = (sar["resolution_azimuth_m"] / w.grid.resolution, sar["resolution_range_m"] / w.grid.resolution)
    out = []
    for pol in ("vv", "vh"):
        table = _class_table(p, f"{pol}_db")
        cover = _db(table)[lc]
        cover *= tex
        if acq.post:
            tmp = _class_table(p, "storm_sensitivity")[lc]
            tmp *= w.storm_damage
            tmp *= np.float32(p["storm"][f"{pol}_db"])
            cover *= _db_in_place(tmp)
            cover *= 1.0 - f
            tmp = _db_in_place(scar_db(p, pol, table[lc], days))
            tmp *= f
            cover += tmp
            tmp = wet * np.float32(p["moisture"][f"{pol}_db_per_pct"])
            cover *= _db_in_place(tmp)
            del tmp
        cover *= mod
        cover += noise
        cover *= speckle(lc.shape, sar["looks"], cell, drng)
        if sar["mask_layover_shadow"]:
            cover[view.mask != 0] = np.nan
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

