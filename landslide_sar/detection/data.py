"""Detection chips from a datacube, held in memory, and the per-experiment input channels.

`detection_chips` cuts the cube on a regular grid of size x size chips (kept where at least
`min_positive_pixels` label pixels fall, negatives optional) and keeps, per chip, the linear VV/VH
of the `max_revisits` acquisitions closest before the event and the first after it, the DEM layers
and the label. `build_channels` then makes one experiment's input: for an input set and n
revisits, the pixel-wise mean of the n acquisitions on each side (linear mean, then dB), plus DEM
channels for "fused"; for "change" the post - pre difference of those dB means per band and the
label-free z-score (landslide_sar.label_free) instead, plus fused's DEM channels. Labels come from
the cube's `landslides` variable (heads for the embedded event, bodies for the published cubes);
anything > 0 is a landslide pixel.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from pathlib import Path

import numpy as np
import xarray as xr
from pyproj import CRS

from landslide_sar.chips import LABEL_CHANNEL, model_direction, sar_timesteps
from landslide_sar.cube import SAR_VARIABLES
from landslide_sar.errors import InputError
from landslide_sar.grid import parse_time
from landslide_sar.label_free import CHANGE_CHANNELS as LABEL_FREE_CHANNELS
from landslide_sar.label_free import LabelFreeSettings, unmasked_score
from landslide_sar.nn.preprocess import to_db

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
SAR_BANDS = SAR_VARIABLES  # the cube's, in this order in DetectionChips
# input set -> (SAR bands, DEM channels included)
INPUTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "vv": (("vv",), False),
    "vh": (("vh",), False),
    "sar": (("vv", "vh"), False),
    "fused": (("vv", "vh"), True),
    "change": (("vv", "vh"), True),  # post - pre per band and the label-free z-score, then DEM
}
#: The SAR channels of the "change" input set (landslide_sar.label_free.CHANGE_CHANNELS).
CHANGE_CHANNELS = LABEL_FREE_CHANNELS
# DEM channel name -> cube variable; slope is converted to degrees
DEM_LAYERS: dict[str, str] = {
    "elevation": "dem",
    "slope": "dem_slope_radians",
    "aspect": "dem_aspect",
    "curvature": "dem_curvature",
}
DEM_INPUTS = ("aspect", "slope", "curvature")  # the transfer paper's DEM features; elevation optional
LABEL_VARIABLE = LABEL_CHANNEL  # the cube's label variable


@dataclass
class DetectionChips:
    """Chips of one region, in memory. n chips of H x W pixels.

    sar_pre (n, k_pre, 2, H, W) and sar_post (n, k_post, 2, H, W): linear VV, VH (SAR_BANDS
    order); step 0 of pre is the acquisition closest to the event, step 0 of post the first
    after it. dem (n, 4, H, W) in DEM_LAYERS order (slope in degrees). label (n, H, W) uint8 0/1.
    row0, col0: the chips' top-left pixel in the cube; y (n, H), x (n, W): their coordinates.
    """

    sar_pre: np.ndarray
    sar_post: np.ndarray
    dem: np.ndarray
    label: np.ndarray
    row0: np.ndarray
    col0: np.ndarray
    y: np.ndarray
    x: np.ndarray
    region: str = ""
    crs: str = ""
    event_time: str = ""
    times_pre: list[str] = field(default_factory=list)
    times_post: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def subset(self, idx: np.ndarray) -> DetectionChips:
        """The chips at positions `idx` (in that order)."""
        idx = np.asarray(idx, dtype=int)
        kw = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in ("sar_pre", "sar_post", "dem", "label", "row0", "col0", "y", "x"):
            kw[name] = kw[name][idx]
        return DetectionChips(**kw)


@dataclass
class ChipArrays:
    """One experiment's model input. x (n, C, H, W) float32 in model units (SAR in dB, DEM in its
    units), NaN = nodata; label (n, H, W) uint8; channel names and which are log (dB) channels."""

    x: np.ndarray
    label: np.ndarray
    channels: list[str]
    is_log: list[bool]

    def __len__(self) -> int:
        return int(self.x.shape[0])

    @property
    def valid(self) -> np.ndarray:
        """(n, H, W) True where every channel is finite."""
        return np.isfinite(self.x).all(axis=1)


def cube_crs(cube: xr.Dataset) -> str:
    """The cube's CRS ("EPSG:32619", else WKT) from its CF grid-mapping coordinate `spatial_ref`
    (as rioxarray writes it, read with pyproj: importing rioxarray cost each detection job 0.5 s);
    "" without one (coordinates still identify the chips)."""
    ref = cube.coords.get("spatial_ref")
    if ref is None or not {"crs_wkt", "spatial_ref"} & set(ref.attrs):
        return ""
    return CRS.from_cf(ref.attrs).to_string()


def _event(cube: xr.Dataset, event_time: str | datetime | None) -> datetime:
    if event_time is None:
        if "event_time" not in cube.attrs:
            raise InputError("cube has no event_time attribute and none was given; expected an ISO time")
        event_time = cube.attrs["event_time"]
    return parse_time(event_time, "event_time")


def pre_post(max_revisits: int | Sequence[int]) -> tuple[int, int]:
    """(pre, post) acquisition counts of an int (both sides) or a [pre, post] pair."""
    pre, post = (max_revisits, max_revisits) if isinstance(max_revisits, (int, np.integer)) else max_revisits
    if int(pre) < 1 or int(post) < 1:
        raise InputError(f"max_revisits={max_revisits!r}; expected >= 1 before and after the event")
    return int(pre), int(post)


def chip_rows_per_read(cube: xr.Dataset, size: int) -> int:
    """Chip rows read from the cube at once: a whole row of its zarr chunks when the chunk height
    is a multiple of the chip size (each chunk is then decompressed once, not once per chip row
    it holds: 8 times for 64 px chips in 512 px chunks), else one chip row."""
    height = int(cube[SAR_BANDS[0]].encoding.get("preferred_chunks", {}).get("y") or 0)  # zarr's chunk height
    return height // size if height >= size and height % size == 0 else 1


def _cut_row(
    row: xr.Dataset,
    r: int,
    size: int,
    nx: int,
    n_pre: int,
    ys: np.ndarray,
    xs: np.ndarray,
    keep_negatives: bool,
    min_positive_pixels: int,
    min_valid_fraction: float,
    parts: dict[str, list[np.ndarray]],
) -> None:
    """Cut chip row r (its `size` rows of the cube, loaded) into chips and append the kept ones to
    `parts` (see detection_chips)."""

    def tiles(a: np.ndarray) -> np.ndarray:  # (..., size, nx*size) -> (nx, ..., size, size)
        lead = a.shape[:-2]
        return np.moveaxis(a.reshape(*lead, size, nx, size), -2, 0)

    sar = np.stack([row[b].transpose("timestep", "y", "x").values for b in SAR_BANDS], axis=1)  # (t, 2, y, x)
    sar = tiles(sar.astype(np.float32))
    dem = np.stack([row[v].transpose("y", "x").values for v in DEM_LAYERS.values()]).astype(np.float32)
    dem[1] = np.rad2deg(dem[1])
    dem = tiles(dem)
    label = tiles((row[LABEL_VARIABLE].transpose("y", "x").values > 0).astype(np.uint8))
    n_pos = label.reshape(nx, -1).sum(axis=1)
    finite = np.isfinite(sar).all(axis=(1, 2)) & np.isfinite(dem).all(axis=1)
    keep = (finite.reshape(nx, -1).mean(axis=1) >= min_valid_fraction) & (
        keep_negatives | (n_pos >= min_positive_pixels)
    )
    for c in np.flatnonzero(keep):
        parts["pre"].append(sar[c, :n_pre])
        parts["post"].append(sar[c, n_pre:])
        parts["dem"].append(dem[c])
        parts["label"].append(label[c])
        parts["row0"].append(np.int64(r * size))
        parts["col0"].append(np.int64(c * size))
        parts["y"].append(ys[r * size : (r + 1) * size])
        parts["x"].append(xs[c * size : (c + 1) * size])


def detection_chips(
    cube: xr.Dataset | PathLike,
    event_time: str | datetime | None,
    size: int,
    max_revisits: int | Sequence[int],
    keep_negatives: bool,
    min_positive_pixels: int = 1,
    min_valid_fraction: float = 0.0,
    region: str = "",
) -> DetectionChips:
    """Cut the cube into size x size chips on a regular grid from its top-left pixel (right and
    bottom remainders are not chipped) and keep those with >= min_positive_pixels label pixels
    (all chips when keep_negatives) and a finite SAR + DEM fraction >= min_valid_fraction.

    max_revisits: acquisitions kept on each side, an int or (pre, post); event_time None reads
    the cube's `event_time` attribute. The cube is read one row of its zarr chunks at a time
    (chip_rows_per_read).
    """
    if not isinstance(cube, xr.Dataset):
        region = region or Path(cube).parent.name
        cube = xr.open_zarr(cube, decode_coords="all", chunks=None)  # lazy numpy: no dask overhead per strip
    need = [*SAR_BANDS, *DEM_LAYERS.values(), LABEL_VARIABLE]
    missing = [v for v in need if v not in cube]
    if missing:
        raise InputError(f"cube lacks variable(s) {missing}; expected {need}")
    if size < 1:
        raise InputError(f"chip size={size}; expected >= 1")
    event = _event(cube, event_time)
    n_pre, n_post = pre_post(max_revisits)
    states = cube["sat:orbit_state"].values if "sat:orbit_state" in cube.coords else None
    pre, post = sar_timesteps(cube["timestep"].values, event, n_pre, n_post, states, model_direction(cube.attrs))
    pre_idx, post_idx = pre[::-1], post  # closest to the event first
    ny, nx = cube.sizes["y"] // size, cube.sizes["x"] // size
    if ny == 0 or nx == 0:
        raise InputError(f"chip size {size} px is larger than the area ({cube.sizes['y']} x {cube.sizes['x']} px)")

    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("pre", "post", "dem", "label", "row0", "col0", "y", "x")}
    ys, xs = cube["y"].values, cube["x"].values
    rows = chip_rows_per_read(cube, size)
    for r0 in range(0, ny, rows):
        block = cube[need].isel(y=slice(r0 * size, min(ny, r0 + rows) * size), x=slice(0, nx * size))
        block = block.isel(timestep=pre_idx + post_idx).load()
        for r in range(r0, min(ny, r0 + rows)):
            _cut_row(
                block.isel(y=slice((r - r0) * size, (r - r0 + 1) * size)),
                r,
                size,
                nx,
                len(pre_idx),
                ys,
                xs,
                keep_negatives,
                min_positive_pixels,
                min_valid_fraction,
                parts,
            )
    if not parts["label"]:
        raise InputError(
            f"no {size} px chip of region {region or '?'} has >= {min_positive_pixels} landslide pixel(s) and "
            f"valid fraction >= {min_valid_fraction}; expected at least one"
        )
    times = np.asarray(cube["timestep"].values)
    crs = cube_crs(cube)
    chips = DetectionChips(
        sar_pre=np.stack(parts["pre"]),
        sar_post=np.stack(parts["post"]),
        dem=np.stack(parts["dem"]),
        label=np.stack(parts["label"]),
        row0=np.asarray(parts["row0"]),
        col0=np.asarray(parts["col0"]),
        y=np.stack(parts["y"]),
        x=np.stack(parts["x"]),
        region=region,
        crs=crs,
        event_time=event.isoformat(),
        times_pre=[str(times[i])[:19] for i in pre_idx],
        times_post=[str(times[i])[:19] for i in post_idx],
    )
    pos = float(chips.label.mean())
    logger.info(
        "region %s: %d of %d chips of %d px kept (%s), %.2f %% landslide pixels, %d acquisitions before / %d after",
        region or "?",
        len(chips),
        ny * nx,
        size,
        "all" if keep_negatives else f">= {min_positive_pixels} positive",
        100 * pos,
        n_pre,
        n_post,
    )
    return chips


def _side_mean_db(sar: np.ndarray, n: int) -> np.ndarray:
    """(n_chips, k, 2, H, W) linear -> (n_chips, 2, H, W) dB of the NaN-aware mean of acquisitions 0..n-1."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN pixel: mean stays NaN
        return to_db(np.nanmean(sar[:, :n], axis=1))


def input_channels(inputs: str, elevation: bool = False) -> list[str]:
    """The channel names of an input set: <band>_pre, <band>_post per band (change: vv_change,
    vh_change, z_change), then DEM."""
    if inputs not in INPUTS:
        raise InputError(f"inputs={inputs!r}; expected one of {list(INPUTS)}")
    bands, with_dem = INPUTS[inputs]
    names = [f"{b}_{side}" for b in bands for side in ("pre", "post")]
    if inputs == "change":
        names = list(CHANGE_CHANNELS)
    if with_dem:
        names += [*DEM_INPUTS, *(["elevation"] if elevation else [])]
    return names


def build_channels(
    chips: DetectionChips,
    inputs: str,
    revisits: int,
    n_pre: int | None = None,
    elevation: bool = False,
    label_free: LabelFreeSettings | None = None,
) -> ChipArrays:
    """One experiment's input: per SAR band of the set, dB of the mean of the first `revisits`
    linear acquisitions after the event and of the n_pre (default `revisits`) closest before it;
    for "fused" also aspect, slope (deg), curvature and, when `elevation`, the elevation.
    "change": vv_post - vv_pre and vh_post - vh_pre of those means (dB) and the label-free
    z-score (label_free.unmasked_score with `label_free`, default settings: every pre-event
    acquisition the chips hold, as the label-free detector's spread needs several, and the first
    `revisits` after), then fused's DEM channels.
    vv -> 2 channels, vh -> 2, sar -> 4, fused and change -> 7 (8 with elevation)."""
    n_pre = revisits if n_pre is None else n_pre
    k_pre, k_post = chips.sar_pre.shape[1], chips.sar_post.shape[1]
    if not (1 <= n_pre <= k_pre and 1 <= revisits <= k_post):
        raise InputError(
            f"revisits={revisits}, n_pre={n_pre} but the chips hold {k_pre} acquisition(s) before and "
            f"{k_post} after the event; expected 1..{k_post} revisits and 1..{k_pre} before"
        )
    names = input_channels(inputs, elevation)
    pre, post = _side_mean_db(chips.sar_pre, n_pre), _side_mean_db(chips.sar_post, revisits)
    layers, is_log = [], []
    for name in names:
        band, _, side = name.partition("_")
        if side == "change" and band in SAR_BANDS:  # dB of the means, as fused's channels: post - pre
            b = SAR_BANDS.index(band)
            layers.append(post[:, b] - pre[:, b])
            is_log.append(True)
        elif name == "z_change":  # a z-score, not dB: augmentation's dB noise and blur leave it alone
            layers.append(_change_z(chips, revisits, label_free))
            is_log.append(False)
        elif band in SAR_BANDS:
            layers.append((pre if side == "pre" else post)[:, SAR_BANDS.index(band)])
            is_log.append(True)
        else:
            layers.append(chips.dem[:, list(DEM_LAYERS).index(name)])
            is_log.append(False)
    x = np.ascontiguousarray(np.stack(layers, axis=1), dtype=np.float32)
    return ChipArrays(x=x, label=chips.label.astype(np.uint8), channels=names, is_log=is_log)


def _change_z(chips: DetectionChips, revisits: int, settings: LabelFreeSettings | None) -> np.ndarray:
    """(n, H, W) label_free.unmasked_score of each chip: every pre-event acquisition the chips
    hold and the first `revisits` after (the label-free detector's, before its masks)."""
    vv, vh = SAR_BANDS.index("vv"), SAR_BANDS.index("vh")
    out = np.empty(chips.label.shape, dtype=np.float32)
    for i in range(len(chips)):
        pre, post = to_db(chips.sar_pre[i]), to_db(chips.sar_post[i, :revisits])
        out[i] = unmasked_score(pre[:, vv], pre[:, vh], post[:, vv], post[:, vh], settings)
    return out


SUBSETS = ("train", "val", "test")  # the training region's chips: fit / model selection / reported
SELECTIONS = ("labelled", "all")  # labelled: chips with >= min_positive_pixels (the papers); all: every chip


def split_train_val_test(
    labelled: np.ndarray, val_fraction: float, test_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Seeded train / val / test positions (each sorted) of the chips, stratified by `labelled`
    (bool per chip): within the labelled and within the other chips, round(n * test_fraction)
    go to test, round(n * val_fraction) to val, the rest to train. Every chip is in exactly one
    set; the draw does not depend on the chips' content, only on their count and labelled flags."""
    labelled = np.asarray(labelled, dtype=bool)
    for key, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0 <= value < 1:
            raise InputError(f"chips.{key}={value!r}; expected in [0, 1)")
    if val_fraction + test_fraction >= 1:
        raise InputError(f"chips.val_fraction + chips.test_fraction = {val_fraction + test_fraction:g}; expected < 1")
    rng = np.random.default_rng(seed)
    out: dict[str, list[np.ndarray]] = {k: [] for k in SUBSETS}
    for stratum in (True, False):
        where = np.flatnonzero(labelled == stratum)
        perm = where[rng.permutation(where.size)]
        n_test, n_val = int(round(where.size * test_fraction)), int(round(where.size * val_fraction))
        out["test"].append(perm[:n_test])
        out["val"].append(perm[n_test : n_test + n_val])
        out["train"].append(perm[n_test + n_val :])
    return {k: np.sort(np.concatenate(v)).astype(int) for k, v in out.items()}


def select_chips(n_positive: np.ndarray, selection: str, min_positive_pixels: int) -> np.ndarray:
    """Boolean mask of the chips a set keeps: `labelled` those with >= min_positive_pixels
    landslide pixels (the papers' protocol), `all` every chip (the whole area is mapped)."""
    if selection not in SELECTIONS:
        raise InputError(f"chips selection={selection!r}; expected one of {list(SELECTIONS)}")
    n_positive = np.asarray(n_positive)
    return np.ones(n_positive.shape, dtype=bool) if selection == "all" else n_positive >= max(1, min_positive_pixels)
