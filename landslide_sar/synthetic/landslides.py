"""Landslides: heads from the inhomogeneous Poisson rate, bodies by steepest-descent runout, the
covered fraction of each pixel, and the inventory as a mapper would record it."""

from __future__ import annotations

import logging
import math

import numpy as np
from affine import Affine
from scipy import ndimage

from landslide_sar.grid import Grid

from .fields import World, _rng, landslide_rate, row_blocks
from .params import BLOCK_ROWS, HEAD_BATCH

logger = logging.getLogger(__name__)


def _bilinear(a: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sample ``a`` at continuous pixel coordinates (pixel i spans [i, i+1))."""
    return ndimage.map_coordinates(a, [rows - 0.5, cols - 0.5], order=1, mode="nearest")


def place_landslides(w: World, p: dict, block_rows: int = BLOCK_ROWS, head_batch: int = HEAD_BATCH) -> None:
    """Draw heads (Poisson), their bodies (steepest-descent runouts) and the covered fraction.

    The Poisson counts are drawn block by block of ``block_rows`` rows from the one ``heads``
    stream, in row order, so they are the draws of the whole-area call; the runouts are traced in
    batches of ``head_batch`` heads (each head's path depends on its own draws only) and the
    covered fraction rasterised in strips. Neither size changes the event."""
    seed = int(p["seed"])
    ls = p["landslides"]
    g, res = w.grid, w.grid.resolution
    rng = _rng(seed, "heads")
    pix_parts = []
    for r0, r1 in row_blocks(g.height, block_rows):
        counts = rng.poisson(landslide_rate(w, p, (r0, r1)))
        flat = np.flatnonzero(counts)
        pix_parts.append(np.repeat(flat + r0 * g.width, counts.ravel()[flat]))
        del counts
    pix = np.concatenate(pix_parts) if pix_parts else np.zeros(0, dtype=np.int64)
    del pix_parts
    n = pix.size
    rows = (pix // g.width + rng.random(n)).astype(np.float64)
    cols = (pix % g.width + rng.random(n)).astype(np.float64)
    del pix
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
    head_x, head_y = np.empty(n), np.empty(n)
    travelled = np.empty(n)
    bodies = np.empty(n, dtype=object)
    step = max(1, int(head_batch))
    for b0 in range(0, n, step):
        sl = slice(b0, min(n, b0 + step))
        head_x[sl], head_y[sl], travelled[sl], bodies[sl] = _runout_bodies(
            w, ls, rows[sl], cols[sl], lengths[sl], widths[sl]
        )
    import shapely

    w.heads = {
        "id": np.arange(1, n + 1, dtype=np.int64),
        "x": head_x,
        "y": head_y,
        "length_m": travelled.astype(np.float64),
        "width_m": widths.astype(np.float64),
        "area_m2": shapely.area(bodies).astype(np.float64) if n else np.zeros(0),
    }
    w.bodies = bodies
    w.fraction = coverage_fraction(bodies, g, int(ls["coverage_supersample"]), block_rows)


def _runout_bodies(w: World, ls: dict, rows, cols, lengths, widths):
    """Steepest-descent runouts of heads at area pixel coordinates (rows, cols) and their bodies:
    head x, y (map), length run (m) and the body polygons. Vectorised over the heads given."""
    import shapely

    res = w.grid.resolution
    n = rows.size
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
    for _ in range(int(math.ceil(ls["length_max_m"] / step)) + 1):
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
    del path_r
    pc = np.stack(path_c)
    del path_c
    # world pixel coordinates -> map coordinates
    px = w.wgrid.transform.c + pc * res
    del pc
    py = w.wgrid.transform.f - pr * res
    del pr
    head_x, head_y = px[0].copy(), py[0].copy()

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
        bodies[li] = shapely.buffer(lines, widths[li] / 2.0, cap_style="flat", join_style="round", quad_segs=2)
    si = np.flatnonzero(~long_enough)
    if si.size:  # stopped at once (flat or pit): a disc of the drawn width
        bodies[si] = shapely.buffer(shapely.points(head_x[si], head_y[si]), widths[si] / 2.0, quad_segs=4)
        travelled[si] = widths[si]
    return head_x, head_y, travelled, bodies


def coverage_fraction(geoms, grid: Grid, supersample: int, block_rows: int = BLOCK_ROWS) -> np.ndarray:
    """Fraction of each pixel covered by the union of ``geoms`` (rasterised at res/supersample),
    in strips of ``block_rows`` rows (each strip rasterises the geometries that reach it)."""
    import shapely
    from rasterio.features import rasterize

    s = max(1, int(supersample))
    out = np.zeros(grid.shape, dtype=np.float32)
    if len(geoms) == 0:
        return out
    geoms = np.asarray(geoms, dtype=object)
    bounds = shapely.bounds(geoms)  # minx, miny, maxx, maxy
    top, res = grid.transform.f, grid.resolution
    fine_tr = grid.transform * Affine.scale(1.0 / s)
    for r0, r1 in row_blocks(grid.height, block_rows):
        y_hi, y_lo = top - r0 * res, top - r1 * res
        sel = np.flatnonzero((bounds[:, 1] <= y_hi) & (bounds[:, 3] >= y_lo))
        if sel.size == 0:
            continue
        fine = rasterize(
            ((geom, 1) for geom in geoms[sel]),
            out_shape=((r1 - r0) * s, grid.width * s),
            transform=fine_tr * Affine.translation(0, r0 * s),
            fill=0,
            dtype="uint8",
        )
        total = fine.reshape(r1 - r0, s, grid.width, s).sum(axis=(1, 3), dtype=np.uint16)
        del fine
        out[r0:r1] = total / np.float32(s * s)
    return out


def mapped_inventory(w: World, p: dict) -> dict[str, np.ndarray]:
    """The heads as an inventory mapped by hand from imagery records them: each head omitted
    with probability ``inventory_omission_rate`` (independently), the others displaced by a
    Gaussian error of ``inventory_position_error_m`` per axis. Returns ``id``, ``x``, ``y``
    (the area's CRS); ids are the truth's, so omissions can be traced."""
    ls = p["landslides"]
    seed = int(p["seed"])
    h = w.heads
    keep = _rng(seed, "inventory", "omission").random(h["id"].size) >= ls["inventory_omission_rate"]
    x, y = h["x"][keep], h["y"][keep]
    err = float(ls["inventory_position_error_m"])
    if err > 0:
        r = _rng(seed, "inventory")
        x = x + r.normal(0.0, err, x.size)
        y = y + r.normal(0.0, err, y.size)
    return {"id": h["id"][keep], "x": x, "y": y}
