"""Read a datacube the way the published datacubes' reader does, on its own software stack.

The reader of the published cubes (Zenodo 7248056) is landslide-sar-unet's
`BeforeAfterCubeDataModule`. Its data path, described here in our own words:

1. open the cube with `xarray.open_zarr(path)` and nothing else (zarr 2, consolidated metadata);
2. take the natural log of `vv` and `vh`;
3. keep the time steps whose `sat:orbit_state` is "d" (descending) with `Dataset.where(...,
   drop=True)`, which also turns every variable into floats with NaN where masked;
4. drop the `timepair` dimension; the "before" steps are those up to the event's start date, the
   "after" steps those from its end date (both dates are arguments its main script hard-codes
   for Hokkaido, 2018-09-05 and 2018-09-07);
5. with more "before" steps than the time-step length it keeps that many, ending one step short
   of the last one before the event; with more "after" steps, the first that many;
6. averages each side over time; the target is `landslides`, with NaN read as 0 and `> 0` a
   landslide pixel.

This script does steps 1-6 with the arguments given and writes what it read (`--out`, an .npz)
and a JSON summary (versions, the time steps kept, and per zarr array its fill value and how many
of its chunks are on disk). Run it with the interpreter of tools/published_reader_env.sh:

    python tools/published_reader.py CUBE --start 20170920 --end 20170920 --out read.npz

With `--used-memory` it first fills and frees blocks of the size of a label chunk, as a process
that has worked before has: zarr 2 then returns that memory for a chunk missing from the store
without a fill value, every time rather than by chance.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import dask
import numpy as np
import pandas as pd
import xarray as xr
import zarr

SAR = ("vv", "vh")
LABELS = ("landslides", "landslide_count")
STATIC = ("dem", "dem_slope_radians", "dem_aspect", "dem_curvature", *LABELS)


def use_memory(nbytes: int, blocks: int = 256) -> None:
    """Fill `blocks` blocks of `nbytes` with 0xFF and free them, so later allocations reuse them."""
    held = [np.full(nbytes, 0xFF, dtype=np.uint8) for _ in range(blocks)]
    del held


def before_after(ds: xr.Dataset, start: str, end: str, orbit_state: str, length: int) -> dict[str, xr.Dataset]:
    """Steps 2-6: the log of the SAR variables, the steps of one orbit direction, before and after."""
    for var in SAR:
        ds[var] = np.log(ds[var])
    ds = ds.where(ds["sat:orbit_state"] == orbit_state, drop=True)
    steps = ds.drop_dims("timepair")
    before = steps.sel(timestep=slice(None, start))
    after = steps.sel(timestep=slice(end, None))
    if length < before.sizes["timestep"]:
        before = before.isel(timestep=list(range(-1 - length, -1)))
    if length < after.sizes["timestep"]:
        after = after.isel(timestep=list(range(length)))
    return {"before": before, "after": after}


def chunks_on_disk(cube: Path) -> dict[str, dict]:
    """Per array of the store: dtype, fill value (as zarr 2 reads it), chunks expected and chunk
    files stored (a directory store, "." separated keys)."""
    group = zarr.open_group(str(cube), mode="r")
    out = {}
    for name, arr in group.arrays():
        expected = math.prod(math.ceil(s / c) for s, c in zip(arr.shape, arr.chunks)) if arr.shape else 1
        stored = sum(1 for f in (cube / name).iterdir() if not f.name.startswith("."))
        fill = arr.fill_value.item() if isinstance(arr.fill_value, np.generic) else arr.fill_value
        out[name] = {
            "dtype": str(arr.dtype),
            "fill_value": "NaN" if isinstance(fill, float) and math.isnan(fill) else fill,
            "chunks": expected,
            "stored": stored,
        }
    return out


def main() -> None:
    """Read the cube as the published reader does; write the arrays and the JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("cube", type=Path)
    ap.add_argument("--start", required=True, help="the event's start date (the reader's event_start_date)")
    ap.add_argument("--end", required=True, help="the event's end date (the reader's event_end_date)")
    ap.add_argument("--orbit-state", default="d", help='"d", as the reader hard-codes')
    ap.add_argument("--length", type=int, default=4, help="time steps per side (the reader's timestep_length)")
    ap.add_argument("--out", type=Path, required=True, help=".npz of what was read; a .json summary beside it")
    ap.add_argument("--used-memory", type=int, default=0, help="bytes per block to fill and free first (0: none)")
    args = ap.parse_args()
    if args.used_memory:
        use_memory(args.used_memory)
    ds = xr.open_zarr(args.cube)
    read = {name: ds[name].values for name in LABELS if name in ds}  # as its xarray reads them
    sides = before_after(ds, args.start, args.end, args.orbit_state, args.length)
    arrays = {f"{name}_read": values for name, values in read.items()}
    summary: dict = {
        "versions": {
            "xarray": xr.__version__,
            "zarr": zarr.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
            "dask": dask.__version__,
        },
        "arrays": chunks_on_disk(args.cube),
    }
    for side, sel in sides.items():
        summary[f"{side}_steps"] = [str(pd.Timestamp(t).date()) for t in sel["timestep"].values]
        mean = sel.mean(dim="timestep")
        for var in SAR:
            arrays[f"{var}_{side}"] = mean[var].values
        if side == "before":
            for var in STATIC:
                if var in mean:
                    arrays[var] = mean[var].values
    target = np.nan_to_num(arrays["landslides"], nan=0) > 0
    arrays["target"] = target
    summary["positives"] = int(target.sum())
    np.savez(args.out, **arrays)
    args.out.with_suffix(".json").write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
