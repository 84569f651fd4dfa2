"""The twin's landslide signal as docs/synthetic_event.md reports it ("What config.yaml's values
give on the default area"): the mean dB change (3 post dates' mean minus 3 pre dates' mean) of VH
and VV inside bodies (covered fraction > 0.5), partly covered and elsewhere, per post date, and
VH's level and its change under storm damage, from a finished default run's generated event.

    PYTHONPATH=. .venv/bin/python tools/twin_change_summary.py <run folder>
"""

from __future__ import annotations

import glob
import sys

import numpy as np
import rasterio

PRE = ("20170823", "20170904", "20170916")  # the paper's dates (docs/synthetic_event.md)
POST = ("20170922", "20171010", "20171022")


def read_db(root: str, pol: str, day: str) -> np.ndarray:
    """gamma0 (dB) of the main acquisition(s) of one day, slices mosaicked (first valid wins)."""
    out = None
    for path in sorted(glob.glob(f"{root}/sentinel1/S1*_{day}T22*_rtc_{pol}.tif")):
        with rasterio.open(path) as src:
            a = src.read(1).astype("f8")
            a[a == src.nodata] = np.nan
        out = a if out is None else np.where(np.isnan(out), a, out)
    if out is None:
        raise SystemExit(f"no {pol} COG of {day} under {root}/sentinel1")
    return 10 * np.log10(out)


def r(x: float, nd: int = 2) -> float:
    return round(float(x), nd)


def main(run: str) -> None:
    root = f"{run}/resources/embedded/synthetic"
    with rasterio.open(f"{root}/truth.tif") as t:
        band = {n: t.read(i + 1) for i, n in enumerate(t.descriptions)}
    f, damage = band["landslide_fraction"], band["storm_damage"]
    inside, part, outside = f > 0.5, (f > 0) & (f <= 0.5), f == 0
    for pol in ("vh", "vv"):
        pre = np.nanmean([read_db(root, pol, d) for d in PRE], axis=0)
        posts = [read_db(root, pol, d) for d in POST]
        change = np.nanmean(posts, axis=0) - pre
        means = [r(np.nanmean(change[m])) for m in (inside, part, outside)]
        print(f"{pol}: 3-date mean change inside / partly / elsewhere {means} dB;", end=" ")
        print(f"pixel std elsewhere {r(np.nanstd(change[outside]))} dB")
        print(f"{pol}: per post date inside {[r(np.nanmean((q - pre)[inside])) for q in posts]} dB")
        if pol == "vh":
            first = read_db(root, "vh", PRE[0])
            print(f"vh: first date 1st percentile / median {r(np.nanpercentile(first, 1), 1)} / ", end="")
            print(f"{r(np.nanmedian(first), 1)} dB")
            dmg = [r(np.nanmean(change[outside & m])) for m in (damage > 0.5, damage < 0.1)]
            print(f"vh: change outside bodies where storm damage > 0.5 / < 0.1 {dmg} dB")


if __name__ == "__main__":
    main(sys.argv[1])
