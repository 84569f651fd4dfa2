"""Backscatter: linear gamma0 (VV, VH) of one acquisition, and the coverage of the frame slices."""

from __future__ import annotations

import math

import numpy as np

from landslide_sar.grid import Grid

from .acquisitions import _HEADING, Acquisition
from .fields import World, _class_table, _db, _rng



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

