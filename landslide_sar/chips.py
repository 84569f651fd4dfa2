"""Chips: square windows on a regular grid over an area's cube, stacked into one zarr, with a
GeoPackage table per chip (landslide count, density, density class, valid fraction, split).

Channels follow the density paper: 4 DEM (elevation, slope, curvature, aspect), VV and VH of
each acquisition before and after the event (in time order), and the landslide label."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

if TYPE_CHECKING:  # dask, geopandas, rioxarray and shapely load in the functions that use them:
    import geopandas as gpd  # the detection and density jobs import this module's names only (1-2 s)

from .grid import InputError, parse_time
from .io import LogStream, atomic_path

log = logging.getLogger(__name__)
#: Random block orders tried by assign_blocked_splits (the most class-balanced is kept).
BLOCK_TRIALS = 200

DEM_CHANNELS = ("dem", "dem_slope_radians", "dem_curvature", "dem_aspect")
LABEL_CHANNEL = "landslides"


def sar_timesteps(timesteps: np.ndarray, event_time: datetime, n_pre: int, n_post: int) -> tuple[list[int], list[int]]:
    """Indices of the `n_pre` time steps closest before the event and the `n_post` first after it."""
    t = pd.to_datetime(timesteps)
    event = pd.Timestamp(event_time).tz_convert(None) if pd.Timestamp(event_time).tzinfo else pd.Timestamp(event_time)
    pre = [i for i in np.argsort(t) if t[i] < event]
    post = [i for i in np.argsort(t) if t[i] >= event]
    if len(pre) < n_pre or len(post) < n_post:
        raise InputError(
            f"cube: {len(pre)} time step(s) before and {len(post)} after {event:%Y-%m-%d}; "
            f"expected at least {n_pre} before and {n_post} after (sentinel1.acquisitions_pre/post)"
        )
    return pre[len(pre) - n_pre :], post[:n_post]


def channel_names(n_pre: int, n_post: int) -> list[str]:
    """The chip channels in order: DEM, VV/VH per acquisition (pre1 earliest, post1 first after)."""
    sar = [f"{p}_pre{i}" for i in range(1, n_pre + 1) for p in ("vv", "vh")]
    sar += [f"{p}_post{i}" for i in range(1, n_post + 1) for p in ("vv", "vh")]
    return [*DEM_CHANNELS, *sar, LABEL_CHANNEL]


def density_class(density_per_km2: np.ndarray, edges: tuple[float, float]) -> np.ndarray:
    """0: no landslide (density <= edges[0]); 1: up to edges[1] per km²; 2: above edges[1]."""
    d = np.asarray(density_per_km2)
    return np.where(d <= edges[0], 0, np.where(d <= edges[1], 1, 2)).astype("int8")


def assign_splits(valid: np.ndarray, seed: int, train_fraction: float, val_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Two random halves of the valid chips; within each, train_fraction of ALL valid chips train
    and val_fraction validate (0.4/0.1 as the paper). Invalid chips get half -1, subset "excluded"."""
    if not np.isclose(train_fraction + val_fraction, 0.5):
        raise InputError(
            f"splits: train_fraction {train_fraction} + val_fraction {val_fraction} = "
            f"{train_fraction + val_fraction}; expected 0.5 (each of the two halves is split into train and val)"
        )
    n = valid.size
    half = np.full(n, -1, dtype="int8")
    subset = np.full(n, "excluded", dtype=object)
    idx = np.flatnonzero(valid)
    rng = np.random.default_rng(seed)
    rng.shuffle(idx)
    halves = (idx[: (len(idx) + 1) // 2], idx[(len(idx) + 1) // 2 :])
    for k, members in enumerate(halves):
        n_val = int(round(len(members) * val_fraction / 0.5))
        half[members] = k
        subset[members[:n_val]] = "val"
        subset[members[n_val:]] = "train"
    return half, subset


def check_usable_chips(
    table: pd.DataFrame,
    labelled: bool,
    min_train: int,
    min_val: int,
    min_valid_fraction: float,
    size: int,
    channel_valid: dict[str, float],
    channel_dates: dict[str, str],
) -> None:
    """InputError when a half has too few usable train or validation chips (an unlabelled area:
    no usable chip), naming the counts and the least valid input channel (with its date)."""
    usable = int((table["subset"] != "excluded").sum())
    worst = min(channel_valid, key=lambda c: channel_valid[c])
    why = ""
    if channel_valid[worst] < 1.0:  # name the channel (and its acquisition) with most NaN
        why = f"; least valid channel {worst}"
        why += f" ({channel_dates[worst]})" if worst in channel_dates else ""
        why += f": {100 * channel_valid[worst]:.1f} % of its pixels valid"
    where = f"chips: {len(table)} chips of {size} px, {usable} usable (valid fraction >= chips.min_valid_fraction {min_valid_fraction:g}){why}"
    if not labelled:
        if usable == 0:
            raise InputError(f"{where}; expected at least one usable chip to map")
        return
    for k in (0, 1):
        n_train = int(((table["half"] == k) & (table["subset"] == "train")).sum())
        n_val = int(((table["half"] == k) & (table["subset"] == "val")).sum())
        if n_train < min_train or n_val < min_val:
            raise InputError(
                f"{where}; half {k} has {n_train} train and {n_val} validation chip(s), expected at least "
                f"splits.min_train_chips = {min_train} and splits.min_val_chips = {min_val} "
                "(smaller chips.size or a larger area give more chips)"
            )


def make_chips(
    cube_zarr: str | Path,
    out_zarr: str | Path,
    out_table: str | Path,
    size: int,
    event_time: str,
    n_pre: int,
    n_post: int,
    min_valid_fraction: float,
    class_edges: tuple[float, float],
    split_seed: int,
    train_fraction: float,
    val_fraction: float,
    min_train_chips: int = 0,
    min_val_chips: int = 0,
) -> gpd.GeoDataFrame:
    """Cut the cube into size×size chips (row-major ids), write them to one zarr
    (chip, channel, y, x) and the per-chip table to a GeoPackage.

    Fails (InputError, nothing written) when a half has fewer than `min_train_chips` train or
    `min_val_chips` validation chips among the usable ones (valid fraction at least
    `min_valid_fraction`), or an unlabelled area has no usable chip; the line gives the counts and
    the least valid channel with its acquisition date."""
    import dask.array as da
    import geopandas as gpd
    import rioxarray  # noqa: F401 - registers the .rio accessor
    from shapely.geometry import box

    cube = xr.open_zarr(cube_zarr, decode_coords="all")
    pre, post = sar_timesteps(cube["timestep"].values, parse_time(event_time, "event_time"), n_pre, n_post)
    steps = pre + post
    names = channel_names(n_pre, n_post)
    ny, nx = cube.sizes["y"] // size, cube.sizes["x"] // size
    if ny == 0 or nx == 0:
        raise InputError(f"chips.size: {size} px is larger than the area ({cube.sizes['y']} x {cube.sizes['x']} px)")
    left_over = (cube.sizes["y"] - ny * size, cube.sizes["x"] - nx * size)
    log.info("%d x %d chips of %d px; %d rows and %d columns of pixels at the south/east edges are not chipped", ny, nx, size, *left_over)
    res = float(abs(cube.x[1] - cube.x[0]))
    chip_km2 = (size * res) ** 2 / 1e6
    labelled = LABEL_CHANNEL in cube
    count_var = "landslide_count" if "landslide_count" in cube else LABEL_CHANNEL
    if not labelled:
        log.warning("cube has no %r variable (no inventory): label channel NaN, counts and classes -1", LABEL_CHANNEL)

    ids = np.arange(ny * nx)
    records = []
    dates = [str(pd.Timestamp(cube["timestep"].values[t]).date()) for t in steps]
    channel_dates = dict(zip(names[len(DEM_CHANNELS) : -1], [d for d in dates for _ in ("vv", "vh")]))
    finite = np.zeros(len(names) - 1, dtype="int64")  # valid pixels per input channel (all chips)
    with atomic_path(out_zarr) as tmp:
        template = xr.Dataset(
            {"chips": (("chip", "channel", "y", "x"), da.zeros((ny * nx, len(names), size, size), dtype="float32", chunks=(nx, len(names), size, size)))},
            coords={"chip": ids, "channel": names},
            attrs={"size": size, "resolution": res, "crs": cube.rio.crs.to_string(), "event_time": event_time},
        )
        template.to_zarr(tmp, mode="w", compute=False)
        for r in tqdm(range(ny), desc="chip rows", file=LogStream(log), mininterval=2):
            ys = slice(r * size, (r + 1) * size)
            strip = cube.isel(y=ys, x=slice(0, nx * size)).load()
            layers = [strip[c].values for c in DEM_CHANNELS]
            for t in steps:
                layers += [strip["vv"].values[t], strip["vh"].values[t]]
            layers.append(strip[LABEL_CHANNEL].values.astype("float32") if labelled else np.full(layers[0].shape, np.nan, "float32"))
            arr = np.stack(layers).astype("float32")  # (channel, size, nx*size)
            arr = arr.reshape(len(names), size, nx, size).transpose(2, 0, 1, 3)
            counts = strip[count_var].values.reshape(size, nx, size).sum(axis=(0, 2)) if labelled else np.full(nx, -1)
            valid = np.isfinite(arr[:, :-1]).all(axis=1).mean(axis=(1, 2))
            finite += np.isfinite(arr[:, :-1]).sum(axis=(0, 2, 3))
            xr.Dataset({"chips": (("chip", "channel", "y", "x"), arr)}).to_zarr(
                tmp, region={"chip": slice(r * nx, (r + 1) * nx), "channel": slice(None), "y": slice(None), "x": slice(None)}
            )
            x0 = float(cube.x[0]) - res / 2
            y0 = float(cube.y[r * size]) + res / 2
            for c in range(nx):
                records.append(
                    {
                        "chip": r * nx + c,
                        "row": r,
                        "col": c,
                        "landslide_count": int(counts[c]),
                        "valid_fraction": float(valid[c]),
                        "geometry": box(x0 + c * size * res, y0 - size * res, x0 + (c + 1) * size * res, y0),
                    }
                )
        table = gpd.GeoDataFrame(records, crs=cube.rio.crs)
        valid = table["valid_fraction"].to_numpy() >= min_valid_fraction
        if labelled:
            table["density_per_km2"] = table["landslide_count"] / chip_km2
            table["density_class"] = density_class(table["density_per_km2"].to_numpy(), class_edges)
            table["half"], table["subset"] = assign_splits(valid, split_seed, train_fraction, val_fraction)
        else:  # an area to map, not to train on: nothing is known of its landslides
            table["density_per_km2"] = -1.0
            table["density_class"] = np.int8(-1)
            table["half"] = np.int8(-1)
            table["subset"] = np.where(valid, "unlabelled", "excluded")
        if (~valid).any():
            log.warning("%d chip(s) with valid fraction below %.2f are excluded from training and metrics", int((~valid).sum()), min_valid_fraction)
        check_usable_chips(table, labelled, min_train_chips, min_val_chips, min_valid_fraction, size,
                           dict(zip(names[:-1], finite / max(1, ny * nx * size * size))), channel_dates)  # fmt: skip
    classes = table.loc[valid, "density_class"].value_counts().sort_index()  # -1: no inventory
    log.info("density classes of valid chips: %s", classes.to_dict())
    with atomic_path(out_table) as tmp:
        table.to_file(tmp, layer="chips", driver="GPKG")
    return table


def assign_blocked_splits(
    rows: np.ndarray, cols: np.ndarray, classes: np.ndarray, valid: np.ndarray, chip_km: float, block_km: float,
    seed: int, train_fraction: float, val_fraction: float,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Two halves made of whole spatial blocks of chips (block_km on a side, at least one chip),
    so that neighbouring chips do not straddle the halves except at block edges.

    Blocks are taken in a seeded random order and each goes to the half whose class counts it
    keeps closest (ties: the half with fewer chips); of BLOCK_TRIALS such orders, among those
    whose class counts are within 5 % of the chips of the most balanced, the one with the fewest
    block edges between the halves is kept (comparable class mix, compact halves).
    Within a half, val_fraction / 0.5 of its chips validate (random), the rest train; then where
    a train chip touches (8-neighbourhood) a train chip of the other half across a block edge,
    the one of the half with more train chips becomes val, so no model is trained on a chip
    beside the other half's training chips. Returns (half, subset) as assign_splits does;
    invalid chips get half -1, subset "excluded".
    """
    if not np.isclose(train_fraction + val_fraction, 0.5):
        raise InputError(
            f"splits: train_fraction {train_fraction} + val_fraction {val_fraction} = "
            f"{train_fraction + val_fraction}; expected 0.5 (each of the two halves is split into train and val)"
        )
    if not block_km > 0:
        raise InputError(f"splits.block_km={block_km!r}; expected a positive size in km")
    rows, cols, classes, valid = (np.asarray(a) for a in (rows, cols, classes, valid))
    b = max(1, int(np.ceil(block_km / chip_km - 1e-9)))
    block = (rows // b) * (int(cols.max()) // b + 1) + cols // b
    n = rows.size
    half = np.full(n, -1, dtype="int8")
    subset = np.full(n, "excluded", dtype=object)
    rng = np.random.default_rng(seed)
    blocks = np.unique(block[valid])
    n_classes = int(classes[valid].max()) + 1 if valid.any() else 1
    per_block = {k: np.bincount(classes[valid & (block == k)], minlength=n_classes) for k in blocks}
    n_block_cols = int(cols.max()) // b + 1
    touching = [(p, q) for p in blocks for q in blocks if p < q
                and abs(p // n_block_cols - q // n_block_cols) <= 1 and abs(p % n_block_cols - q % n_block_cols) <= 1]  # fmt: skip
    trials = []
    for _ in range(BLOCK_TRIALS):  # greedy fills in seeded random orders
        counts = np.zeros((2, n_classes), dtype=int)
        side = {}
        for blk in rng.permutation(blocks):
            add = per_block[blk]
            cost = [np.abs(counts[h] + add - counts[1 - h]).sum() for h in (0, 1)]
            h = int(np.argmin(cost)) if cost[0] != cost[1] else int(counts[1].sum() < counts[0].sum())
            side[blk] = h
            counts[h] += add
        edges = sum(side[p] != side[q] for p, q in touching)
        trials.append((int(np.abs(counts[0] - counts[1]).sum()), edges, side))
    # balanced enough (within 5 % of the chips of the most balanced order), then the fewest block
    # edges between the halves: compact halves lose fewer train chips to the edge rule below
    tolerance = min(t[0] for t in trials) + max(2, int(0.05 * valid.sum()))
    best = min((t for t in trials if t[0] <= tolerance), key=lambda t: (t[1], t[0]))
    for blk, h in best[2].items():
        half[valid & (block == blk)] = h
    for h in (0, 1):
        members = np.flatnonzero(half == h)
        rng.shuffle(members)
        n_val = int(round(len(members) * val_fraction / 0.5))
        subset[members[:n_val]] = "val"
        subset[members[n_val:]] = "train"
    where = {(int(r), int(c)): i for i, (r, c) in enumerate(zip(rows, cols))}
    n_train = [int(((half == h) & (subset == "train")).sum()) for h in (0, 1)]
    neighbours = [(dr, dc) for dr in (-1, 0, 1) for dc in (-1, 0, 1)]
    for i in np.argsort(rows * (int(cols.max()) + 1) + cols, kind="stable"):
        for dr, dc in neighbours:
            if subset[i] != "train":
                break
            j = where.get((int(rows[i]) + dr, int(cols[i]) + dc))
            if j is None or subset[j] != "train" or half[j] == half[i]:
                continue
            drop = i if n_train[half[i]] >= n_train[half[j]] else j
            subset[drop] = "val"
            n_train[half[drop]] -= 1
    return half, subset


def split_chips(
    chips_table: str | Path, out_table: str | Path, scheme: str, split_seed: int, train_fraction: float,
    val_fraction: float, block_km: float = 3.5, min_train_chips: int = 0, min_val_chips: int = 0,
) -> gpd.GeoDataFrame:  # fmt: skip
    """The chip table with `half` and `subset` re-assigned under one split (scheme, split_seed):
    random (assign_splits, as make_chips does with the first split seed) or blocked by spatial
    blocks (assign_blocked_splits); logs each half's class mix and train / val counts. Fails like
    make_chips when a half has too few train or val chips."""
    import geopandas as gpd

    table = gpd.read_file(chips_table, layer="chips")
    missing = [c for c in ("row", "col", "density_class", "subset", "geometry") if c not in table.columns]
    if missing:
        raise InputError(f"{chips_table}: chip table lacks column(s) {missing}")
    valid = (table["subset"] != "excluded").to_numpy()
    if scheme == "random":
        half, subset = assign_splits(valid, split_seed, train_fraction, val_fraction)
        what = f"random split (seed {split_seed})"
    elif scheme == "blocked":
        bounds = table.geometry.iloc[0].bounds
        chip_km = (bounds[2] - bounds[0]) / 1000.0
        half, subset = assign_blocked_splits(
            table["row"].to_numpy(), table["col"].to_numpy(), table["density_class"].to_numpy().astype(int), valid,
            chip_km, block_km, split_seed, train_fraction, val_fraction,
        )  # fmt: skip
        b = max(1, int(np.ceil(block_km / chip_km - 1e-9)))
        what = f"blocked split (seed {split_seed}, blocks of {b} x {b} chips, {b * chip_km:.2f} km)"
    else:
        raise InputError(f"splits.schemes: {scheme!r}; expected random or blocked")
    table["half"], table["subset"] = half, subset
    for h in (0, 1):
        mine = table[table["half"] == h]
        log.info(
            "%s: half %d: %d train, %d val; classes %s", what, h, int((mine["subset"] == "train").sum()),
            int((mine["subset"] == "val").sum()), mine["density_class"].value_counts().sort_index().to_dict(),
        )  # fmt: skip
    for k in (0, 1):
        n_train = int(((table["half"] == k) & (table["subset"] == "train")).sum())
        n_val = int(((table["half"] == k) & (table["subset"] == "val")).sum())
        if n_train < min_train_chips or n_val < min_val_chips:
            hint = f" (a smaller splits.block_km {block_km:g} or a larger area give more)" if scheme == "blocked" else ""
            raise InputError(
                f"{what} of {chips_table}: half {k} has {n_train} train and {n_val} validation chip(s), expected "
                f"at least splits.min_train_chips = {min_train_chips} and splits.min_val_chips = {min_val_chips}{hint}"
            )
    with atomic_path(out_table) as tmp:
        table.to_file(tmp, layer="chips", driver="GPKG")
    return table
