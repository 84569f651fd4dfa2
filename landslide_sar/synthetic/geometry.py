"""Radar geometry of the event: incidence across the swath, local incidence, layover and shadow.

Sentinel-1 IW looks to the right of its track; its ellipsoid incidence grows from the near edge
of the swath to the far edge (29.1°-46.0° over about 250 km). Over ground this geometry is locally
a plane wave arriving from the look direction at the pixel's incidence θ(u), u the distance
across the track (positive towards far range), so along a range line:

- slant range    R(u) = ∫ sin θ du - z cos θ(u)    (up to a constant)
- shadow ray     Φ(u) = z + ∫ cot θ du              (a ray to the sensor keeps Φ constant)

A pixel is in layover when another pixel of its range line is imaged at the same slant range
(R not increasing through it: R_i > min R beyond it, or R_i < max R before it); it is in shadow
when a ray from the sensor is blocked by terrain nearer the sensor (Φ_i < max Φ before it). Both
include the passive parts (flat ground in front of a steep slope, the lee behind a ridge), as
the layover/shadow masks of RTC products do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

#: Mask values (bits), as in RTC layover/shadow masks.
LAYOVER, SHADOW = 1, 2


@dataclass(frozen=True)
class SwathGeometry:
    """Look direction and incidence across the swath for one orbit direction over one area.

    ``look_azimuth_deg``: direction the radar looks (clockwise from north; heading + 90 for a
    right-looking sensor). ``position``: where the area's centre lies across the swath (0 near
    edge, 1 far edge)."""

    look_azimuth_deg: float
    near_deg: float
    far_deg: float
    swath_width_m: float
    position: float

    @classmethod
    def from_params(cls, sar: dict, heading_deg: float) -> SwathGeometry:
        return cls(
            heading_deg + 90.0,
            sar["incidence_near_deg"],
            sar["incidence_far_deg"],
            sar["swath_width_m"],
            sar["swath_position"],
        )

    @property
    def look(self) -> tuple[float, float]:
        """Unit look vector (east, north)."""
        a = math.radians(self.look_azimuth_deg)
        return math.sin(a), math.cos(a)

    def incidence_deg(self, u: np.ndarray) -> np.ndarray:
        """Ellipsoid incidence at cross-track distance ``u`` (m, from the area's centre, positive
        towards far range): linear in ground range across the swath, clipped at its edges."""
        s = np.clip(self.position + np.asarray(u) / self.swath_width_m, 0.0, 1.0)
        return self.near_deg + (self.far_deg - self.near_deg) * s  # float32 in, float32 out

    def cross_track(self, east: np.ndarray, north: np.ndarray) -> np.ndarray:
        """Cross-track distance u of map offsets (east, north) from the area's centre."""
        le, ln = self.look
        return east * le + north * ln


def pixel_offsets(shape: tuple[int, int], res: float, centre_rc: tuple[float, float]):
    """(east, north) offsets in metres of the pixel centres from the pixel position ``centre_rc``."""
    rows = (np.arange(shape[0], dtype=np.float64) + 0.5 - centre_rc[0])[:, None]
    cols = (np.arange(shape[1], dtype=np.float64) + 0.5 - centre_rc[1])[None, :]
    return cols * res, -rows * res


def local_incidence_cos(gx: np.ndarray, gy: np.ndarray, theta_deg: np.ndarray, geom: SwathGeometry) -> np.ndarray:
    """cos of the local incidence angle of terrain with gradient (dz/dx east, dz/dy north):
    the angle between the surface normal and the direction to the sensor."""
    le, ln = geom.look
    th = np.radians(theta_deg)
    cos_loc = gx * np.float32(le)  # in place from here on: memory stays a few arrays
    cos_loc += gy * np.float32(ln)
    cos_loc *= np.sin(th)
    cos_loc += np.cos(th, out=th)
    norm = gx * gx
    norm += gy * gy
    norm += 1.0
    cos_loc /= np.sqrt(norm, out=norm)
    return cos_loc


def layover_shadow(
    z: np.ndarray,
    res: float,
    geom: SwathGeometry,
    centre_rc: tuple[float, float],
    strip_rows: int = 32,
) -> np.ndarray:
    """Layover (bit 1) and shadow (bit 2) mask of terrain ``z`` (north-up grid of ``res`` m),
    uint8, same shape. ``centre_rc`` is the (row, col) position of the area's centre (where the
    swath position is given). Range lines are traced on a grid rotated to the look direction
    (spacing ``res``, bilinear), in strips of range lines to bound memory, then the mask is
    sampled back (nearest)."""
    h, w = z.shape
    le, ln = geom.look
    ae, an = ln, -le  # along-track unit vector (east, north), perpendicular to the look
    # corners of the grid in (u, v) relative to the centre
    ce = np.array([0.0, w, 0.0, w]) - centre_rc[1]
    cn = -(np.array([0.0, 0.0, h, h]) - centre_rc[0])
    us, vs = (ce * le + cn * ln) * res, (ce * ae + cn * an) * res
    u0, v0 = float(us.min()) - res, float(vs.min()) - res
    nu = int(math.ceil((float(us.max()) + res - u0) / res)) + 1
    nv = int(math.ceil((float(vs.max()) + res - v0) / res)) + 1
    u = u0 + res * np.arange(nu, dtype=np.float64)
    theta = np.radians(geom.incidence_deg(u))
    # ∫ sin θ du and ∫ cot θ du along the range line (trapezoid), from u0
    d_s = np.concatenate([[0.0], np.cumsum(0.5 * (np.sin(theta[1:]) + np.sin(theta[:-1])) * res)])
    d_c = np.concatenate([[0.0], np.cumsum(0.5 * (1 / np.tan(theta[1:]) + 1 / np.tan(theta[:-1])) * res)])
    cos_t = np.cos(theta)
    rot = np.zeros((nv, nu), dtype=np.uint8)
    for i0 in range(0, nv, strip_rows):
        v = v0 + res * np.arange(i0, min(nv, i0 + strip_rows), dtype=np.float64)[:, None]
        east = u[None, :] * le + v * ae
        north = u[None, :] * ln + v * an
        rows = centre_rc[0] - north / res - 0.5
        cols = centre_rc[1] + east / res - 0.5
        inside = (rows > -0.5 - 1e-6) & (rows < h - 0.5 + 1e-6) & (cols > -0.5 - 1e-6) & (cols < w - 0.5 + 1e-6)
        zz = ndimage.map_coordinates(z, [rows, cols], order=1, mode="nearest", prefilter=False)
        del east, north, rows, cols
        r = d_s[None, :] - zz * cos_t[None, :]
        before = np.maximum.accumulate(np.where(inside, r, -np.inf), axis=1)
        after = np.minimum.accumulate(np.where(inside, r, np.inf)[:, ::-1], axis=1)[:, ::-1]
        prev_max = np.concatenate([np.full((r.shape[0], 1), -np.inf), before[:, :-1]], axis=1)
        next_min = np.concatenate([after[:, 1:], np.full((r.shape[0], 1), np.inf)], axis=1)
        lay = inside & ((r > next_min) | (r < prev_max))
        phi = zz + d_c[None, :]
        pmax = np.maximum.accumulate(np.where(inside, phi, -np.inf), axis=1)
        pprev = np.concatenate([np.full((phi.shape[0], 1), -np.inf), pmax[:, :-1]], axis=1)
        sha = inside & (phi < pprev)
        rot[i0 : i0 + r.shape[0]] = lay * np.uint8(LAYOVER) | sha * np.uint8(SHADOW)
    out = np.empty((h, w), dtype=np.uint8)
    for r0 in range(0, h, strip_rows):
        east, north = pixel_offsets((min(h, r0 + strip_rows) - r0, w), res, (centre_rc[0] - r0, centre_rc[1]))
        j = (east * le + north * ln - u0) / res
        i = (east * ae + north * an - v0) / res
        out[r0 : r0 + j.shape[0]] = ndimage.map_coordinates(rot, [i, j], order=0, mode="nearest", prefilter=False)
    return out
