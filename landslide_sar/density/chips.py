"""The density paper's chips: square windows on a regular grid over an area's cube, stacked into
one zarr, with a GeoPackage table per chip (landslide count, density, density class, valid
fraction, and the first split's halves).

Channels follow the density paper: 4 DEM (elevation, slope, curvature, aspect), VV and VH of
each acquisition before and after the event (in time order), and the landslide label."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xarray as xr
from tqdm import tqdm

from landslide_sar.chips import (
    DEM_CHANNELS,
    LABEL_CHANNEL,
    chip_channels,
    density_class,
    model_direction,
    sar_timesteps,
)
from landslide_sar.density.splits import assign_splits, short_half
from landslide_sar.errors import InputError
from landslide_sar.grid import parse_time
from landslide_sar.io import atomic_path, zarr_encoding
from landslide_sar.runner import LogStream

if TYPE_CHECKING:  # dask, geopandas, rioxarray and shapely load in the functions that use them
    import geopandas as gpd

log = logging.getLogger(__name__)


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
    where = (
        f"chips: {len(table)} chips of {size} px, {usable} usable "
        f"(valid fraction >= chips.min_valid_fraction {min_valid_fraction:g}){why}"
    )
    if not labelled:
        if usable == 0:
            raise InputError(f"{where}; expected at least one usable chip to map")
        return
    short = short_half(table, min_train, min_val)
    if short is not None:
        k, n_train, n_val = short
        raise InputError(
            f"{where}; half {k} has {n_train} train and {n_val} validation chip(s), expected at least "
            f"splits.min_train_chips = {min_train} and splits.min_val_chips = {min_val} "
            "(smaller chips.size or a larger area give more chips)"
        )


def make_chips(
    cube_zarr: str | Path,
    out_zarr: str | Path,
    out_table: str | Path,
    *,
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
    pre, post = sar_timesteps(
        cube["timestep"].values,
        parse_time(event_time, "event_time"),
        n_pre,
        n_post,
        cube["sat:orbit_state"].values if "sat:orbit_state" in cube.coords else None,
        model_direction(cube.attrs),
    )
    steps = pre + post
    names = chip_channels(n_pre, n_post)
    ny, nx = cube.sizes["y"] // size, cube.sizes["x"] // size
    if ny == 0 or nx == 0:
        raise InputError(f"chips.size: {size} px is larger than the area ({cube.sizes['y']} x {cube.sizes['x']} px)")
    left_over = (cube.sizes["y"] - ny * size, cube.sizes["x"] - nx * size)
    log.info(
        "%d x %d chips of %d px; %d rows and %d columns of pixels at the south/east edges are not chipped",
        ny,
        nx,
        size,
        *left_over,
    )
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
            {
                "chips": (
                    ("chip", "channel", "y", "x"),
                    da.zeros((ny * nx, len(names), size, size), dtype="float32", chunks=(nx, len(names), size, size)),
                )
            },
            coords={"chip": ids, "channel": names},
            attrs={"size": size, "resolution": res, "crs": cube.rio.crs.to_string(), "event_time": event_time},
        )
        template.to_zarr(tmp, mode="w", compute=False, encoding=zarr_encoding(template))
        for r in tqdm(range(ny), desc="chip rows", file=LogStream(log), mininterval=2):
            ys = slice(r * size, (r + 1) * size)
            strip = cube.isel(y=ys, x=slice(0, nx * size)).load()
            layers = [strip[c].values for c in DEM_CHANNELS]
            for t in steps:
                layers += [strip["vv"].values[t], strip["vh"].values[t]]
            layers.append(
                strip[LABEL_CHANNEL].values.astype("float32")
                if labelled
                else np.full(layers[0].shape, np.nan, "float32")
            )
            arr = np.stack(layers).astype("float32")  # (channel, size, nx*size)
            arr = arr.reshape(len(names), size, nx, size).transpose(2, 0, 1, 3)
            counts = strip[count_var].values.reshape(size, nx, size).sum(axis=(0, 2)) if labelled else np.full(nx, -1)
            valid = np.isfinite(arr[:, :-1]).all(axis=1).mean(axis=(1, 2))
            finite += np.isfinite(arr[:, :-1]).sum(axis=(0, 2, 3))
            xr.Dataset({"chips": (("chip", "channel", "y", "x"), arr)}).to_zarr(
                tmp,
                region={
                    "chip": slice(r * nx, (r + 1) * nx),
                    "channel": slice(None),
                    "y": slice(None),
                    "x": slice(None),
                },
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
            log.warning(
                "%d chip(s) with valid fraction below %.2f are excluded from training and metrics",
                int((~valid).sum()),
                min_valid_fraction,
            )
        check_usable_chips(
            table,
            labelled,
            min_train_chips,
            min_val_chips,
            min_valid_fraction,
            size,
            dict(zip(names[:-1], finite / max(1, ny * nx * size * size))),
            channel_dates,
        )
    classes = table.loc[valid, "density_class"].value_counts().sort_index()  # -1: no inventory
    log.info("density classes of valid chips: %s", classes.to_dict())
    with atomic_path(out_table) as tmp:
        table.to_file(tmp, layer="chips", driver="GPKG")
    return table
