"""Radar statistics of a stack of terrain-corrected backscatter: how noisy stable ground is, so
that the digital twin can be compared with real Sentinel-1 pixel for pixel.

Measured on a stack (one or more tiles of VV/VH linear power over the same dates):

- levels: median VV, VH and VH/VV in dB over stable pixels of stable dates;
- equivalent number of looks (ENL = mean² / variance of linear power), the median over
  non-overlapping windows at the native pixel size (texture inside a window lowers it, so on real
  ground it is a lower bound of the speckle's looks);
- the stable-ground log-ratio 10·log10(I₂/I₁) of a pair of dates: its sd over stable pixels, after
  averaging linear power to a coarser pixel size (native, 30, 60, 120 m), by pair and by time lag;
- the scene-wide offset of a pair: the median log-ratio over its stable pixels;
- with a truth raster (the twin's landslides): the landslide signal, median dB change of pre/post
  pairs inside landslides minus outside, and its signal-to-noise (signal / stable sd) at each
  pixel size.

Stable ground: pixels valid on both dates (NaN is no data: layover, shadow, outside the swath),
outside the truth's landslides, in pairs whose two dates are both before the event (a real stack
with no event: every pair). The functions are pure numpy; `read_rtc_stack` reads OPERA RTC-S1
GeoTIFFs and `cube_stack` takes a cube.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from landslide_sar.errors import InputError

if TYPE_CHECKING:
    import xarray as xr

#: Pixel sizes (m) the sd is measured at, besides the stack's native one.
DEFAULT_SIZES_M = (30.0, 60.0, 120.0)
#: The headline lag (days) of the side-by-side table and its tolerance.
HEADLINE_LAG_DAYS, LAG_TOLERANCE_DAYS = 12, 1
#: Side of the ENL windows (native pixels).
ENL_WINDOW = 7
POLS = ("vv", "vh")

_DB = 10.0 / math.log(10.0)


@dataclass
class Tile:
    """One area of a stack: linear power by polarisation (time, y, x), NaN = no data; `truth`
    (y, x) is True inside landslides (None: no truth)."""

    power: dict[str, np.ndarray]
    truth: np.ndarray | None = None


@dataclass
class Stack:
    """Tiles over the same dates; `pre[i]` is True when date i is before the event (stable)."""

    times: np.ndarray  # datetime64[D], ascending
    pixel_m: float
    tiles: list[Tile]
    pre: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))

    def __post_init__(self) -> None:
        self.times = np.asarray(self.times, "datetime64[D]")
        if self.pre.size == 0:
            self.pre = np.ones(len(self.times), bool)
        if len(self.pre) != len(self.times):
            raise InputError(f"{len(self.pre)} pre flags for {len(self.times)} dates")

    @property
    def pols(self) -> list[str]:
        return [p for p in POLS if all(p in t.power for t in self.tiles)]


def to_db(power: np.ndarray) -> np.ndarray:
    """10·log10 of linear power; NaN where power is not positive."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(power > 0, 10.0 * np.log10(power), np.nan)


def block_average(power: np.ndarray, factor: int) -> np.ndarray:
    """Mean of linear power over factor × factor blocks of the last two axes (the edge that does
    not fill a block is dropped); a block with any NaN is NaN, so it never mixes no-data in."""
    if factor == 1:
        return power.astype(np.float64)
    ny, nx = (power.shape[-2] // factor) * factor, (power.shape[-1] // factor) * factor
    a = power[..., :ny, :nx].astype(np.float64)
    a = a.reshape(*a.shape[:-2], ny // factor, factor, nx // factor, factor)
    return a.mean(axis=(-3, -1))


def block_fraction(mask: np.ndarray, factor: int) -> np.ndarray:
    """Share of True pixels in each factor × factor block of a (y, x) mask (edge dropped as in
    `block_average`)."""
    return block_average(mask.astype(np.float64), factor)


def scale_factor(pixel_m: float, size_m: float) -> int | None:
    """How many native pixels make one of size_m per side; None when it is not a whole number."""
    f = size_m / pixel_m
    return int(round(f)) if f >= 1 and abs(f - round(f)) < 1e-6 else None


def log_ratio(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """10·log10(second / first) of linear power, NaN where either is no data."""
    return to_db(second) - to_db(first)


def stable_sd(ratio: np.ndarray, stable: np.ndarray) -> float:
    """sd (ddof 0) of a log-ratio over its stable, finite pixels; NaN with fewer than 2."""
    v = ratio[stable & np.isfinite(ratio)]
    return float(v.std()) if v.size > 1 else float("nan")


def scene_offset(ratio: np.ndarray, stable: np.ndarray) -> float:
    """Scene-wide offset of a pair: the median log-ratio over its stable, finite pixels."""
    v = ratio[stable & np.isfinite(ratio)]
    return float(np.median(v)) if v.size else float("nan")


def enl(power: np.ndarray, window: int = ENL_WINDOW, stable: np.ndarray | None = None) -> float:
    """Equivalent number of looks of one (y, x) image of linear power: mean² / variance in each
    non-overlapping window × window block fully valid (and stable), median over the blocks."""
    ny, nx = (power.shape[0] // window) * window, (power.shape[1] // window) * window
    a = power[:ny, :nx].astype(np.float64)
    if stable is not None:
        a = np.where(stable[:ny, :nx], a, np.nan)
    b = a.reshape(ny // window, window, nx // window, window).transpose(0, 2, 1, 3).reshape(-1, window * window)
    b = b[np.isfinite(b).all(axis=1)]
    if not len(b):
        return float("nan")
    m, v = b.mean(axis=1), b.var(axis=1, ddof=1)
    ok = v > 0
    return float(np.median(m[ok] ** 2 / v[ok])) if ok.any() else float("nan")


def pairs(times: np.ndarray) -> list[tuple[int, int, int]]:
    """Every pair (i, j, lag in days) of dates i < j."""
    t = np.asarray(times, "datetime64[D]")
    return [(i, j, int((t[j] - t[i]).astype(int))) for i in range(len(t)) for j in range(i + 1, len(t))]


@dataclass(frozen=True)
class PairSd:
    """The stable-ground log-ratio sd and offset of one pair of dates at one pixel size, on one
    tile (-1: all tiles pooled)."""

    pol: str
    size_m: float
    first: str
    second: str
    lag_days: int
    sd_db: float
    offset_db: float
    n: int
    tile: int = -1


def pair_statistics(stack: Stack, sizes_m: Sequence[float] = DEFAULT_SIZES_M) -> list[PairSd]:
    """Log-ratio sd and offset of every stable pair (both dates pre-event) on each tile, by
    polarisation and pixel size. A coarse pixel is stable when all its native pixels are valid and
    none is inside a landslide. The sd is taken within a tile (one scene: the twin's area, one
    real burst), so that offsets between tiles do not count as noise."""
    out: list[PairSd] = []
    sizes = sorted({stack.pixel_m, *(s for s in sizes_m if scale_factor(stack.pixel_m, s))})
    stable_pairs = [(i, j, lag) for i, j, lag in pairs(stack.times) if stack.pre[i] and stack.pre[j]]
    for pol in stack.pols:
        for size in sizes:
            f = scale_factor(stack.pixel_m, size)
            assert f is not None
            for k, tile in enumerate(stack.tiles):
                p = block_average(tile.power[pol], f)
                ok = np.ones(p.shape[-2:], bool) if tile.truth is None else block_fraction(tile.truth, f) == 0
                for i, j, lag in stable_pairs:
                    r = log_ratio(p[i], p[j])
                    sd, off, n = stable_sd(r, ok), scene_offset(r, ok), int((ok & np.isfinite(r)).sum())
                    t1, t2 = str(stack.times[i]), str(stack.times[j])
                    out.append(PairSd(pol, size, t1, t2, lag, sd, off, n, k))
    return out


def lag_label(lag_days: int) -> str | None:
    """The lag group of a pair: its days up to 60, '~1 yr' for 300–430 days, else None."""
    if lag_days <= 60:
        return f"{lag_days} d"
    if 300 <= lag_days <= 430:
        return "~1 yr"
    return None


def by_lag(rows: Iterable[PairSd], size_m: float) -> dict[tuple[str, str], tuple[float, int]]:
    """Median sd over the pairs (and tiles) of each (polarisation, lag group) at one pixel size,
    with the number of pairs × tiles."""
    groups: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        label = lag_label(r.lag_days)
        if label and abs(r.size_m - size_m) < 1e-6 and np.isfinite(r.sd_db):
            groups.setdefault((r.pol, label), []).append(r.sd_db)
    return {k: (float(np.median(v)), len(v)) for k, v in groups.items()}


def headline(
    rows: Iterable[PairSd], lag_days: int = HEADLINE_LAG_DAYS, tolerance: int = LAG_TOLERANCE_DAYS
) -> dict[tuple[str, float], tuple[float, float, float, int]]:
    """Median, min and max sd over the pairs (and tiles) at the headline lag, by (polarisation,
    pixel size), with the number of pairs × tiles: the side-by-side table's cell."""
    groups: dict[tuple[str, float], list[float]] = {}
    for r in rows:
        if abs(r.lag_days - lag_days) <= tolerance and np.isfinite(r.sd_db):
            groups.setdefault((r.pol, r.size_m), []).append(r.sd_db)
    return {k: (float(np.median(v)), float(min(v)), float(max(v)), len(v)) for k, v in groups.items()}


#: Level bins (dB, lower edges, 3 dB wide) of sd_by_level.
LEVEL_BINS_DB = (-25.0, -22.0, -19.0, -16.0, -13.0, -10.0, -7.0)


def sd_by_level(
    stack: Stack,
    pol: str,
    size_m: float = 30.0,
    lag_days: int = HEADLINE_LAG_DAYS,
    tolerance: int = LAG_TOLERANCE_DAYS,
    bins_db: Sequence[float] = LEVEL_BINS_DB,
    min_pixels: int = 50,
) -> dict[float, tuple[float, int]]:
    """Stable-ground log-ratio sd by the pixel's level: for each pair at the headline lag and each
    tile, the pixels (at size_m) binned by the mean of the two dates' power in dB, the sd within
    each 3 dB bin (with at least min_pixels); {lower edge: (median over pairs × tiles, count)}.
    Over dark surfaces the noise floor weighs more, so the sd rises toward them."""
    f = scale_factor(stack.pixel_m, size_m)
    if f is None:
        raise InputError(f"pixel size {size_m} m is not a multiple of the stack's {stack.pixel_m} m")
    out: dict[float, list[float]] = {}
    for tile in stack.tiles:
        p = block_average(tile.power[pol], f)
        ok = np.ones(p.shape[-2:], bool) if tile.truth is None else block_fraction(tile.truth, f) == 0
        for i, j, lag in pairs(stack.times):
            if not (stack.pre[i] and stack.pre[j] and abs(lag - lag_days) <= tolerance):
                continue
            r = log_ratio(p[i], p[j])
            level = to_db(0.5 * (p[i] + p[j]))
            good = ok & np.isfinite(r) & np.isfinite(level)
            for lo in bins_db:
                m = good & (level >= lo) & (level < lo + 3.0)
                if m.sum() >= min_pixels:
                    out.setdefault(float(lo), []).append(float(r[m].std()))
    return {k: (float(np.median(v)), len(v)) for k, v in sorted(out.items())}


def consecutive_offsets(stack: Stack, max_lag_days: int = 60) -> list[PairSd]:
    """Scene-wide offset of each pair of consecutive dates (at most max_lag_days apart) at the
    native pixel size, over pixels outside landslides; post-event pairs included (storm-wide
    changes are offsets too)."""
    out = []
    for pol in stack.pols:
        for i in range(len(stack.times) - 1):
            lag = int((stack.times[i + 1] - stack.times[i]).astype(int))
            if lag > max_lag_days:
                continue
            vals = []
            for tile in stack.tiles:
                r = log_ratio(tile.power[pol][i], tile.power[pol][i + 1])
                ok = np.isfinite(r) if tile.truth is None else np.isfinite(r) & ~tile.truth
                vals.append(r[ok])
            v = np.concatenate(vals)
            off = float(np.median(v)) if v.size else float("nan")
            sd = float(v.std()) if v.size > 1 else float("nan")
            t1, t2 = str(stack.times[i]), str(stack.times[i + 1])
            out.append(PairSd(pol, stack.pixel_m, t1, t2, lag, sd, off, int(v.size)))
    return out


def rms(values: Iterable[float]) -> float:
    """Root mean square of the finite values."""
    v = np.array([x for x in values if np.isfinite(x)])
    return float(np.sqrt(np.mean(v**2))) if v.size else float("nan")


def levels(stack: Stack) -> dict[str, float]:
    """Median dB of VV, VH and VH/VV (where both exist) over stable pixels of pre-event dates."""
    out: dict[str, float] = {}
    dbs: dict[str, list[np.ndarray]] = {p: [] for p in stack.pols}
    ratio: list[np.ndarray] = []
    for tile in stack.tiles:
        keep = slice(None) if tile.truth is None else ~tile.truth
        pre = {p: tile.power[p][stack.pre] for p in stack.pols}
        for p in stack.pols:
            d = to_db(pre[p])[:, keep] if tile.truth is not None else to_db(pre[p])
            dbs[p].append(d[np.isfinite(d)])
        if {"vv", "vh"} <= set(stack.pols):
            r = to_db(pre["vh"]) - to_db(pre["vv"])
            r = r[:, keep] if tile.truth is not None else r
            ratio.append(r[np.isfinite(r)])
    for p, v in dbs.items():
        out[p] = float(np.median(np.concatenate(v)))
    if ratio:
        out["vh/vv"] = float(np.median(np.concatenate(ratio)))
    return out


def looks(stack: Stack, window: int = ENL_WINDOW) -> dict[str, float]:
    """ENL by polarisation: `enl` of every pre-event date of every tile, median over them."""
    out = {}
    for p in stack.pols:
        v = [
            enl(t.power[p][i], window, None if t.truth is None else ~t.truth)
            for t in stack.tiles
            for i in np.flatnonzero(stack.pre)
        ]
        out[p] = float(np.nanmedian(v)) if np.isfinite(v).any() else float("nan")
    return out


@dataclass(frozen=True)
class Signal:
    """The landslide signal at one pixel size: median dB change (pre → post) of pixels inside
    landslides minus that of pixels outside, median over the pre × post pairs; the mean landslide
    share of the inside pixels; its signal-to-noise |signal| / stable sd."""

    pol: str
    size_m: float
    signal_db: float
    n_inside: int
    share: float
    snr: float


def landslide_signal(
    stack: Stack,
    noise: dict[tuple[str, float], float],
    sizes_m: Sequence[float] = DEFAULT_SIZES_M,
    min_share: float = 0.0,
) -> list[Signal]:
    """Signal and SNR (|signal| / noise[(pol, size)]) at each pixel size, for a stack whose tiles
    carry a truth. A coarse pixel is inside when more than min_share of it is landslide (default:
    any), outside when none of it is: at coarse sizes the signal is then diluted by the landslide's
    share of the pixel, as a detector working at that size sees it."""
    if any(t.truth is None for t in stack.tiles):
        raise InputError("the landslide signal needs a truth raster on every tile")
    out = []
    sizes = sorted({stack.pixel_m, *(s for s in sizes_m if scale_factor(stack.pixel_m, s))})
    pre, post = np.flatnonzero(stack.pre), np.flatnonzero(~stack.pre)
    for pol in stack.pols:
        for size in sizes:
            f = scale_factor(stack.pixel_m, size)
            assert f is not None
            diffs, n_in, shares = [], 0, []
            for i in pre:
                for j in post:
                    ins, outs = [], []
                    for tile in stack.tiles:
                        assert tile.truth is not None
                        p = block_average(tile.power[pol][[i, j]], f)
                        r = log_ratio(p[0], p[1])
                        frac = block_fraction(tile.truth, f)
                        inside = (frac > min_share) & (frac > 0) & np.isfinite(r)
                        ins.append(r[inside])
                        outs.append(r[(frac == 0) & np.isfinite(r)])
                        shares.append(frac[inside])
                    a, b = np.concatenate(ins), np.concatenate(outs)
                    n_in = max(n_in, a.size)
                    if a.size and b.size:
                        diffs.append(float(np.median(a) - np.median(b)))
            s = float(np.median(diffs)) if diffs else float("nan")
            share = float(np.concatenate(shares).mean()) if n_in else float("nan")
            sd = noise.get((pol, size), float("nan"))
            out.append(Signal(pol, size, s, n_in, share, abs(s) / sd if sd > 0 else float("nan")))
    return out


_OPERA = re.compile(r"_(T\d+-\d+-IW\d)_(\d{8})T\d{6}Z_.*_(VV|VH)(?:_[a-z]+)?\.tif$", re.I)


def read_rtc_stack(folder: str | Path) -> Stack:
    """A stack of OPERA RTC-S1 GeoTIFFs/COGs under folder (any depth): one tile per burst, the
    dates from the file names, only dates every burst has; every date stable (no event)."""
    import rasterio  # here: the statistics themselves need only numpy

    found: dict[str, dict[str, dict[np.datetime64, Path]]] = {}
    for path in sorted(Path(folder).rglob("*.tif")):
        m = _OPERA.search(path.name)
        if m:
            burst, day, pol = m.group(1), m.group(2), m.group(3).lower()
            date = np.datetime64(f"{day[:4]}-{day[4:6]}-{day[6:]}", "D")
            found.setdefault(burst, {}).setdefault(pol, {})[date] = path
    if not found:
        raise InputError(f"no OPERA RTC-S1 GeoTIFF (…_T<track>-<burst>-IW<n>_<date>T…_VV|VH.tif) under {folder}")
    pols = [p for p in POLS if all(p in b for b in found.values())]
    dates = sorted(set.intersection(*(set(d) for b in found.values() for d in (b[p] for p in pols))))
    tiles, pixel = [], None
    for burst in sorted(found):
        power = {}
        for p in pols:
            arrays = []
            for d in dates:
                with rasterio.open(found[burst][p][d]) as src:
                    a = src.read(1).astype(np.float32)
                    if src.nodata is not None and not np.isnan(src.nodata):
                        a[a == src.nodata] = np.nan
                    pixel = abs(src.transform.a) if pixel is None else pixel
                arrays.append(a)
            power[p] = np.stack(arrays)
        tiles.append(Tile(power))
    assert pixel is not None
    return Stack(np.array(dates), float(pixel), tiles)


def cube_stack(cube: xr.Dataset, truth: bool = True) -> Stack:
    """A stack from a cube (vv/vh by timestep, linear power): its dates, pixel size from x, the
    `side` coordinate for pre/post (absent: all pre) and, with truth, `landslides` > 0."""
    pols = [p for p in POLS if p in cube]
    if not pols:
        raise InputError("the cube has neither vv nor vh")
    times = cube["timestep"].values.astype("datetime64[D]")
    pre = (cube["side"].values == "pre") if "side" in cube.coords else np.ones(len(times), bool)
    pixel = float(abs(cube["x"].values[1] - cube["x"].values[0]))
    t = cube["landslides"].values > 0 if truth and "landslides" in cube else None
    power = {p: cube[p].transpose("timestep", "y", "x").values for p in pols}
    return Stack(times, pixel, [Tile(power, t)], np.asarray(pre, bool))
