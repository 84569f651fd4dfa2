"""Backscatter: linear gamma0 (VV, VH) of one acquisition, and the coverage of the frame slices.

Per pixel and date (docs/synthetic_event.md): class mean x texture x residual terrain term
(local incidence) x date factor; after the event, storm damage, the covered fraction mixing
towards the scar (whose contrast relaxes as vegetation regrows) and the rain-driven soil
moisture (VV more sensitive than VH, seen through the canopy); plus the noise floor (NESZ);
times speckle correlated over the resolution cell; layover and shadow masked."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy import ndimage

from landslide_sar.grid import Grid

from .acquisitions import _HEADING, PlannedItem
from .fields import World, _class_table, _db, _rng, _texture, row_blocks, smooth_field
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


def view_geometry(w: World, p: dict, orbit_state: str, rows: tuple[int, int] | None = None) -> ViewGeometry:
    """Incidence, local incidence and mask of ``orbit_state`` (area rows ``rows``, default all);
    only the mask is kept between calls (the angles are cheap to recompute per block)."""
    r0, r1 = rows or (0, w.grid.height)
    geom = _swath(p, orbit_state)
    theta = incidence_field(w, p, orbit_state, (r0, r1))
    gx, gy = w.crop(w.gx_w)[r0:r1], w.crop(w.gy_w)[r0:r1]
    cos_loc = local_incidence_cos(gx, gy, theta, geom).astype(np.float32)
    return ViewGeometry(theta, cos_loc, layover_shadow_mask(w, p, orbit_state)[r0:r1])


def incidence_field(w: World, p: dict, orbit_state: str, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Ellipsoid incidence (deg, float32) of ``orbit_state`` at every pixel of the area grid
    (of area rows ``rows``, default all)."""
    g = w.grid
    r0, r1 = rows or (0, g.height)
    geom = _swath(p, orbit_state)
    # offsets from the centre are multiples of half a pixel: exact, whatever the block
    centre = (g.height / 2.0 - r0, g.width / 2.0)
    east, north = (a.astype(np.float32) for a in pixel_offsets((r1 - r0, g.width), g.resolution, centre))
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


def _speckle_white(looks: float, cell_px: tuple[float, float]) -> tuple[tuple[float, float], float]:
    sig = (speckle_kernel_sigma(cell_px[0]), speckle_kernel_sigma(cell_px[1]))
    area = max(cell_px[0], 1.0) * max(cell_px[1], 1.0)
    return sig, looks / area


def speckle(shape: tuple[int, int], looks: float, cell_px: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Unit-mean multiplicative speckle with ``looks`` equivalent looks per pixel, correlated over
    the resolution cell ``cell_px`` = (azimuth along rows, range along columns) in pixels:
    Gamma(L/A, A/L) white noise (A = the cell's area in pixels, the blur's variance reduction)
    blurred by the Gaussian whose equivalent width is the cell, so the pixel variance stays 1/L
    and the autocorrelation integrates to the cell. (At 4.4 looks and a 20 x 22 m cell over
    10 m pixels the white noise is single-look: exponential.) The look direction is within 12°
    of the grid's columns; the tilt is ignored. SpeckleRows gives the same field block by block."""
    sig, shape_k = _speckle_white(looks, cell_px)
    s = rng.standard_gamma(shape_k, size=shape, dtype=np.float32)
    s /= np.float32(shape_k)
    if sig[0] > 0 or sig[1] > 0:
        ndimage.gaussian_filter(s, sigma=sig, output=s, mode="reflect", truncate=4.0)
    return s


class SpeckleRows:
    """``speckle(shape, looks, cell_px, rng)`` delivered in consecutive blocks of rows: the white
    noise is drawn from ``rng`` in row order (the whole-area call's draws, in the same order), and
    each block is blurred with a halo of the kernel's radius of white rows on either side, so its
    values are the whole field's rows. Blocks must be asked for in order, without gaps; the last
    one leaves ``rng`` where the whole-area call would."""

    def __init__(
        self, shape: tuple[int, int], looks: float, cell_px: tuple[float, float], rng: np.random.Generator
    ) -> None:
        self.shape = shape
        self.sig, self.shape_k = _speckle_white(looks, cell_px)
        self.halo = int(4.0 * self.sig[0] + 0.5) if self.sig[0] > 0 else 0  # scipy's radius
        self.rng = rng
        self.buf = np.zeros((0, shape[1]), dtype=np.float32)  # white rows buf0 .. drawn
        self.buf0 = 0
        self.drawn = 0
        self.next_row = 0

    def rows(self, r0: int, r1: int) -> np.ndarray:
        if r0 != self.next_row:
            raise ValueError(f"speckle blocks in order: expected row {self.next_row}, got {r0}")
        h, wd = self.shape
        lo, hi = max(0, r0 - self.halo), min(h, r1 + self.halo)
        if hi > self.drawn:
            new = self.rng.standard_gamma(self.shape_k, size=(hi - self.drawn, wd), dtype=np.float32)
            new /= np.float32(self.shape_k)
            self.buf = np.concatenate([self.buf[lo - self.buf0 :], new])
            self.buf0, self.drawn = lo, hi
        seg = self.buf[lo - self.buf0 : hi - self.buf0].copy()
        if self.sig[0] > 0 or self.sig[1] > 0:
            ndimage.gaussian_filter(seg, sigma=self.sig, output=seg, mode="reflect", truncate=4.0)
        self.next_row = r1
        return seg[r0 - lo : r1 - lo]


def soil_moisture_change(w: World, p: dict, days: float, rows: tuple[int, int] | None = None) -> np.ndarray:
    """Rise of volumetric soil moisture (vol %) ``days`` after the event (area rows ``rows``,
    default all): the storm's rain (relative amount 1 + rain_relative_sd · rain, not below 0)
    times the peak rise, drying with an e-folding time."""
    mo = p["moisture"]
    r0, r1 = rows or (0, w.grid.height)
    rel = np.maximum(1.0 + mo["rain_relative_sd"] * w.rain[r0:r1], 0.0)
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
    terrain puts the pixel in layover or shadow (when sar.mask_layover_shadow is 1). The whole
    area at once: generate_event writes the same values block by block (simulate_rows)."""
    out = {pol: np.empty(w.grid.shape, dtype=np.float32) for pol in ("vv", "vh")}
    for pol, r0, r1, block in simulate_rows(w, p, acq, w.grid.height):
        out[pol][r0:r1] = block
    return out["vv"], out["vh"]


#: Origin of the ground-change knots (change_<part>_days apart): a fixed date, so a field of a
#: given day is the same whatever the area's acquisitions are.
CHANGE_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
#: The ground change's components (config keys sar.change_<part>_*): fast (weather) and slow (season).
CHANGE_COMPONENTS = ("fast", "slow")


def change_field(w: World, length_m: float, rng: np.random.Generator) -> np.ndarray:
    """A unit-variance Gaussian field of Gaussian covariance length ``length_m`` on the area grid:
    blurred white noise for scales of a few pixels, fields.smooth_field (drawn coarse and
    interpolated) above; standardised over the area (a scene-wide part is the date offset's)."""
    res = w.grid.resolution
    if length_m < 8 * res:
        return _texture(w.grid.shape, length_m / (math.sqrt(2.0) * res), rng)
    f = smooth_field(w.grid, length_m, rng)
    f -= f.mean()
    f /= max(float(f.std()), 1e-6)
    return f


def ground_change_db(w: World, p: dict, when: datetime) -> np.ndarray | None:
    """The change of the ground's VV backscatter (dB) at ``when``, beyond speckle: moisture,
    vegetation and wind that differ from date to date, the sum over the components
    sar.change_<part> (fast: weather; slow: season) of amplitude x a unit field of the
    component's correlation length. Each field moves in time by interpolating between
    independent fields at knots ``change_<part>_days`` apart (from CHANGE_EPOCH),
    renormalised to unit variance, so two dates far apart differ by sqrt(2) x the amplitude and
    two close dates by less: the change grows with the time between acquisitions. VH is this x
    sar.change_vh_factor (one ground, seen more strongly in VH). None when every amplitude is 0."""
    sar = p["sar"]
    seed = int(p["seed"])
    t = (when - CHANGE_EPOCH).total_seconds() / 86400.0
    out = None
    for part in CHANGE_COMPONENTS:
        amp = float(sar[f"change_{part}_db"])
        if amp <= 0:
            continue
        pos = t / float(sar[f"change_{part}_days"])
        j = math.floor(pos)
        frac = pos - j
        a, b = 1.0 - frac, frac
        norm = math.sqrt(a * a + b * b)
        length = float(sar[f"change_{part}_length_m"])
        z = change_field(w, length, _rng(seed, "change", part, j))
        z *= np.float32(a / norm)
        if b > 0:
            z2 = change_field(w, length, _rng(seed, "change", part, j + 1))
            z2 *= np.float32(b / norm)
            z += z2
            del z2
        z *= np.float32(amp)
        out = z if out is None else np.add(out, z, out=out)
    return out


def noise_residual(w: World, p: dict, group: str) -> np.ndarray | None:
    """Per-date relative error of the thermal-noise floor (1 + sar.noise_residual x a unit field
    at the speckle's scale, not below 0): what denoising leaves, date by date; its weight in a
    pixel grows as the pixel nears the floor, so dark surfaces (VH) are noisier. None at 0."""
    sar = p["sar"]
    r = float(sar["noise_residual"])
    if r <= 0:
        return None
    cell = 0.5 * (sar["resolution_azimuth_m"] + sar["resolution_range_m"])
    g = change_field(w, cell, _rng(int(p["seed"]), "noise_residual", group))
    g *= np.float32(r)
    g += np.float32(1.0)
    return np.maximum(g, 0.0, out=g)


def simulate_rows(w: World, p: dict, acq: PlannedItem, block_rows: int):
    """Linear gamma0 of one acquisition in blocks of ``block_rows`` rows: yields
    (pol, r0, r1, float32 array of rows r0:r1), every VV block in row order, then every VH block
    (the order of the random draws: the date factor, then VV's speckle, then VH's; the VH date
    offset, the ground change and the noise residual come from streams of their own). The values
    do not depend on ``block_rows``."""
    sar = p["sar"]
    drng = _rng(int(p["seed"]), "date", acq.group)
    date_db = float(drng.normal(0.0, sar["date_sd_db"])) if sar["date_sd_db"] > 0 else 0.0
    vh_rng = _rng(int(p["seed"]), "date_vh", acq.group)
    vh_extra = float(vh_rng.normal(0.0, sar["date_vh_sd_db"])) if sar["date_vh_sd_db"] > 0 else 0.0
    change = ground_change_db(w, p, acq.datetime)
    residual = noise_residual(w, p, acq.group)
    cell = (sar["resolution_azimuth_m"] / w.grid.resolution, sar["resolution_range_m"] / w.grid.resolution)
    for pol in ("vv", "vh"):
        noise = SpeckleRows(w.grid.shape, sar["looks" if pol == "vv" else "looks_vh"], cell, drng)
        pol_db = date_db + (vh_extra if pol == "vh" else 0.0)
        factor = np.float32(1.0 if pol == "vv" else sar["change_vh_factor"])
        for r0, r1 in row_blocks(w.grid.height, block_rows):
            extra = Extra(
                None if change is None else change[r0:r1] * factor,
                None if residual is None else residual[r0:r1],
            )
            yield pol, r0, r1, _gamma0_rows(w, p, acq, pol, (r0, r1), pol_db, noise.rows(r0, r1), extra)


@dataclass(frozen=True)
class Extra:
    """The per-date terms of a block beyond the date offset: ground change (dB) and the relative
    noise floor (None: absent)."""

    change_db: np.ndarray | None = None
    noise_factor: np.ndarray | None = None


def _gamma0_rows(
    w: World,
    p: dict,
    acq: PlannedItem,
    pol: str,
    rows: tuple[int, int],
    date_db: float,
    speckle_rows: np.ndarray,
    extra: Extra = Extra(),
) -> np.ndarray:
    """gamma0 of ``pol`` on area rows ``rows`` (see simulate_rows), pixel by pixel."""
    sar = p["sar"]
    r0, r1 = rows
    lc = w.land_cover[r0:r1]
    view = view_geometry(w, p, acq.orbit_state, rows)
    # in place, to bound memory: cos_local -> the terrain term M, theta -> the noise floor N
    mod = np.clip(view.cos_local, 0.05, None, out=view.cos_local)
    cos_t = np.cos(np.radians(view.theta_deg, out=view.theta_deg), out=view.theta_deg)
    mod /= cos_t
    if sar["terrain_exponent"] != 1.0:
        mod **= np.float32(sar["terrain_exponent"])
    noise = np.divide(np.float32(_db(sar["nesz_db"])), cos_t, out=cos_t)
    tex = _db(sar["texture_db"] * w.texture[r0:r1])
    mod *= np.float32(_db(date_db))
    days = max(acq.days_from_event, 0.0)
    if acq.post:
        f = w.fraction[r0:r1]
        wet = (1.0 - f) * _class_table(p, "soil_visibility")[lc]
        wet += f
        wet *= soil_moisture_change(w, p, days, rows)  # vol % seen through the cover
    table = _class_table(p, f"{pol}_db")
    cover = _db(table)[lc]
    cover *= tex
    del tex
    if acq.post:
        tmp = _class_table(p, "storm_sensitivity")[lc]
        tmp *= w.storm_damage[r0:r1]
        tmp *= np.float32(p["storm"][f"{pol}_db"])
        cover *= _db_in_place(tmp)
        cover *= 1.0 - f
        tmp = _db_in_place(scar_db(p, pol, table[lc], days))
        tmp *= f
        cover += tmp
        tmp = wet * np.float32(p["moisture"][f"{pol}_db_per_pct"])
        cover *= _db_in_place(tmp)
        del tmp
    if extra.change_db is not None:
        cover *= _db_in_place(extra.change_db)  # the block's own copy
    cover *= mod
    if extra.noise_factor is not None:
        noise *= extra.noise_factor
    cover += noise
    cover *= speckle_rows
    if sar["mask_layover_shadow"]:
        cover[view.mask != 0] = np.nan
    return cover.astype(np.float32, copy=False)


def frame_masks(
    grid: Grid, overlap: float, heading_deg: float, rows: tuple[int, int] | None = None
) -> dict[str, np.ndarray]:
    """Coverage of the two slices of the other-frame acquisition (area rows ``rows``, default
    all): their boundaries run across the track (tilted by the heading); the south slice covers
    the southern (1+overlap)/2 of the area, the north slice the northern (1+overlap)/2."""
    h, wd = grid.shape
    r0, r1 = rows or (0, h)
    tilt = math.tan(math.radians(heading_deg))  # boundary rises to the east for a NNW heading

    def v_of(r: np.ndarray, c: np.ndarray) -> np.ndarray:
        return r + tilt * (c - wd / 2.0) * -1.0

    # v is monotone in rows and columns (and so is its float32 rounding): its extremes over the
    # area are those of the four corner pixels
    corner_rows = np.array([0.5, h - 0.5], dtype=np.float32)[:, None]
    corners = v_of(corner_rows, np.array([0.5, wd - 0.5], dtype=np.float32)[None, :])
    lo, hi = float(corners.min()), float(corners.max())
    v = v_of(np.arange(r0, r1, dtype=np.float32)[:, None] + 0.5, np.arange(wd, dtype=np.float32)[None, :] + 0.5)
    v = (v - lo) / max(hi - lo, 1e-6)  # 0 north .. 1 south
    half = (1.0 + overlap) / 2.0
    return {"north": v <= half, "south": v >= 1.0 - half}
