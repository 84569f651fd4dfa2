"""Reading density chips: the chip table every density step reads (chip id, class, half, subset),
the chips zarr and which of its channels a density net reads (select_channels), without sklearn
or torch (importing the forest's libraries only to read the table cost each training job seconds;
the rules check channels when Snakemake parses them)."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from landslide_sar.chips import DEM_CHANNELS
from landslide_sar.errors import InputError
from landslide_sar.label_free import CHANGE_CHANNELS

if TYPE_CHECKING:  # xarray only for the zarr readers: the forests read the table alone
    import xarray as xr

PathLike = str | os.PathLike
TABLE_COLUMNS = ("chip", "density_class", "half", "subset")
#: The density nets' input sets ("change": fused's DEM branch, its SAR branch fed the change).
INPUTS: tuple[str, ...] = ("dem", "sar", "fused", "change")
#: A change channel of the `change` input set (landslide_sar.label_free.CHANGE_CHANNELS, with the
#: revisits its post-event mean spans): derived from the chips' SAR channels when they are read.
CHANGE_CHANNEL_RE = re.compile(rf"^({'|'.join(CHANGE_CHANNELS)})_r(\d+)$")
#: A SAR chip channel: polarisation, pre/post, acquisition number (pre1 earliest, post1 first after).
SAR_CHANNEL_RE = re.compile(r"^(vv|vh)_(pre|post)(\d+)$")


def read_chips_table(chips_table: PathLike | pd.DataFrame) -> pd.DataFrame:
    """The chip table as a DataFrame: a DataFrame as is, a .csv, or a GeoPackage (layer "chips")."""
    if isinstance(chips_table, pd.DataFrame):
        table = chips_table
    elif Path(chips_table).suffix.lower() == ".csv":
        table = pd.read_csv(chips_table)
    else:
        import geopandas as gpd

        table = gpd.read_file(chips_table, layer="chips")
    missing = [c for c in TABLE_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"chip table lacks column(s) {missing}; expected {list(TABLE_COLUMNS)}")
    return pd.DataFrame(table.drop(columns="geometry", errors="ignore"))


def below_min_valid(table: pd.DataFrame, min_valid_fraction: float, where: str) -> np.ndarray:
    """True for each chip of `table` (column valid_fraction: its share of pixels with every SAR
    and DEM channel finite) below chips.min_valid_fraction: such a chip gets no class, ever."""
    if "valid_fraction" not in table.columns:
        raise InputError(f"{where}: the chip table lacks column valid_fraction; expected the table make_chips writes")
    return table["valid_fraction"].to_numpy(dtype=np.float64) < float(min_valid_fraction)


def open_chips(chips_zarr: PathLike) -> xr.Dataset:
    """The chips Dataset, lazily (no dask): indexing reads only the chips and channels asked for."""
    import xarray as xr

    return xr.open_zarr(chips_zarr, chunks=None)


def stored_channels(ds: xr.Dataset) -> list[str]:
    """The chips' channel names, as str."""
    return [str(c) for c in ds["channel"].values]


def load_chips(ds: xr.Dataset, chip_ids: Sequence[int], channels: Sequence[str]) -> np.ndarray:
    """(len(chip_ids), len(channels), y, x) float32 for the given chip ids and channel names."""
    ids = np.asarray(chip_ids)
    if ids.size == 0:
        shape = (0, len(channels), ds.sizes["y"], ds.sizes["x"])
        return np.zeros(shape, dtype=np.float32)
    known = ds["chip"].values
    absent = np.setdiff1d(ids, known)
    if absent.size:
        raise InputError(f"chip ids {absent[:5].tolist()} (of {absent.size}) are not in the chips zarr")
    pos = pd.Index(known).get_indexer(ids)
    names = stored_channels(ds)
    ch = [names.index(c) for c in channels]
    arr = ds["chips"].isel(chip=np.sort(pos), channel=ch).transpose("chip", "channel", "y", "x").values
    return np.ascontiguousarray(arr[np.argsort(np.argsort(pos))], dtype=np.float32)


def select_channels(channel_names: Sequence[str], inputs: str, revisits: int) -> tuple[list[int], list[int]]:
    """Indices of the DEM and SAR model channels in `channel_names` for an input configuration.

    DEM = the 4 dem channels; SAR = every pre-event vv/vh channel plus the vv/vh channels of the
    first `revisits` post-event acquisitions (post1..post<revisits>), in the chips' own order.
    `inputs` "dem" gives no SAR channels (revisits ignored), "sar" no DEM channels; "change"
    those of "fused" (its SAR channels are the sources of model_channels' change channels).
    """
    names = [str(c) for c in channel_names]
    if inputs not in INPUTS:
        raise InputError(f"inputs={inputs!r}; expected one of {', '.join(INPUTS)}")
    dem_idx: list[int] = []
    sar_idx: list[int] = []
    if inputs in ("dem", "fused", "change"):
        missing = [c for c in DEM_CHANNELS if c not in names]
        if missing:
            raise InputError(f"chips lack DEM channel(s) {missing}; expected {list(DEM_CHANNELS)}")
        dem_idx = [names.index(c) for c in DEM_CHANNELS]
    if inputs in ("sar", "fused", "change"):
        parsed = [(i, SAR_CHANNEL_RE.match(n)) for i, n in enumerate(names)]
        sar = [(i, m.group(2), int(m.group(3))) for i, m in parsed if m]
        n_post = max((k for _, when, k in sar if when == "post"), default=0)
        if isinstance(revisits, bool) or not isinstance(revisits, (int, np.integer)) or not 1 <= revisits <= n_post:
            raise InputError(
                f"revisits={revisits!r} but the chips hold {n_post} post-event acquisition(s); expected 1..{n_post}"
            )
        sar_idx = [i for i, when, k in sar if when == "pre" or k <= revisits]
    return dem_idx, sar_idx


def model_channels(channel_names: Sequence[str], inputs: str, revisits: int) -> tuple[list[str], list[bool], int]:
    """(channels, is_sar, n_dem) a density net of `inputs` reads, DEM channels first: the chips'
    own channels of select_channels (is_sar: converted to dB when read), but for "change" the DEM
    channels then the change channels <vv_change|vh_change|z_change>_r<revisits> (already in dB
    and z units: is_sar False), derived when read (density.change.load_model_units)."""
    names = [str(c) for c in channel_names]
    dem_idx, sar_idx = select_channels(names, inputs, revisits)
    channels = [names[i] for i in dem_idx]
    if inputs == "change":
        sar = [f"{c}_r{int(revisits)}" for c in CHANGE_CHANNELS]
    else:
        sar = [names[i] for i in sar_idx]
    return channels + sar, [False] * len(dem_idx) + [inputs != "change"] * len(sar), len(dem_idx)


def sar_channel_groups(names: Sequence[str], revisits: int) -> dict[str, list[str]]:
    """The chips' channels of each (polarisation, side), keys vv_pre, vv_post, vh_pre, vh_post:
    every pre-event one, post1..post<revisits>."""
    parsed = [(n, SAR_CHANNEL_RE.match(n)) for n in names]
    out: dict[str, list[str]] = {}
    for pol in ("vv", "vh"):
        for side in ("pre", "post"):
            chans = sorted((int(m.group(3)), n) for n, m in parsed if m and m.group(1) == pol and m.group(2) == side)
            if side == "post":
                if len(chans) < revisits:
                    raise InputError(f"revisits={revisits} but the chips hold {len(chans)} post-event {pol} channel(s)")
                chans = chans[:revisits]
            if not chans:
                raise InputError(f"chips hold no {side}-event {pol} channel; expected {pol}_{side}1, ...")
            out[f"{pol}_{side}"] = [n for _, n in chans]
    return out
