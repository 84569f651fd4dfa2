"""Radar statistics of real stacks and of the digital twin, side by side (landslide_sar.radar_stats):
stable-ground log-ratio sd by pixel size and by time lag, scene-wide offsets of consecutive dates,
levels of VV, VH and VH/VV, equivalent looks, and on the twin the landslide signal and its
signal-to-noise at each pixel size.

    PYTHONPATH=. .venv/bin/python tools/radar_statistics.py \\
        --real ../shared/realdata/opera_rtc_10SGD \\
        --real ../shared/realdata/opera_rtc_png_enga/T009_019294_IW2_cropped \\
        --cube /path/to/run/results/embedded/cube.zarr --out docs/radar_statistics.csv

--real: a folder of OPERA RTC-S1 GeoTIFFs (any depth; one tile per burst; repeatable).
--cube: a cube (vv/vh by timestep; its `landslides` are the truth unless --no-truth).
--twin AREA: the twin's stable ground of area AREA of --config (default config.yaml), simulated by
  the generator at the dates of landslide_sar.synthetic.stable.DEFAULT_DAYS (pairs 6 days to a
  year apart); --twin-bbox lon0 lat0 lon1 lat1 takes a part of the area (faster, same statistics).
Prints Markdown tables; --out writes every measured row as CSV.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml

from landslide_sar import radar_stats as rs
from landslide_sar.config import validate_config
from landslide_sar.synthetic.stable import stable_stack


def measure(name: str, stack: rs.Stack) -> dict:
    """Every statistic of one stack."""
    rows = rs.pair_statistics(stack)
    head = rs.headline(rows)
    offsets = rs.consecutive_offsets(stack)
    out = {
        "name": name,
        "stack": stack,
        "rows": rows,
        "headline": head,
        "offsets": offsets,
        "levels": rs.levels(stack),
        "by_level": {p: rs.sd_by_level(stack, p) for p in stack.pols if p == "vh"},
        "looks": rs.looks(stack),
        "signal": [],
    }
    if all(t.truth is not None for t in stack.tiles):
        out["signal"] = rs.landslide_signal(stack, {k: v[0] for k, v in head.items()})
    return out


def fmt(x: float, nd: int = 2) -> str:
    return "–" if x is None or not np.isfinite(x) else f"{x:.{nd}f}"


def cell(m: dict, pol: str, size: float, ranges: bool = False) -> str:
    h = m["headline"].get((pol, size))
    if h is None:
        return "–"
    return f"{h[0]:.2f} ({h[1]:.2f}–{h[2]:.2f})" if ranges else f"{h[0]:.2f}"


def pair_cell(m: dict, size: float, ranges: bool = False) -> str:
    return " / ".join(cell(m, p, size, ranges) for p in rs.POLS if p in m["stack"].pols)


def side_by_side(twin: dict | None, reals: list[dict]) -> str:
    sizes = sorted({s for m in ([twin] if twin else []) + reals for (_, s) in m["headline"]})
    head = ["pixel size"] + ([f"twin {twin['name']} (VV / VH)"] if twin else [])
    head += [f"real {m['name']} ({' / '.join(p.upper() for p in m['stack'].pols)})" for m in reals]
    if twin:
        head += [f"real / twin, {m['name']}" for m in reals]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for size in sizes:
        row = [f"{size:g} m"] + ([pair_cell(twin, size, True)] if twin else [])
        row += [pair_cell(m, size, True) for m in reals]
        if twin:
            for m in reals:
                ratios = []
                for p in m["stack"].pols:
                    r, t = m["headline"].get((p, size)), twin["headline"].get((p, size))
                    ratios.append(fmt(r[0] / t[0]) if r and t else "–")
                row.append(" / ".join(ratios))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def lag_table(ms: list[dict], size: float) -> str:
    groups = {lab for m in ms for (_, lab) in rs.by_lag(m["rows"], size)}
    order = sorted(groups, key=lambda s: (s.endswith("yr"), int(s.split()[0]) if s[0].isdigit() else 0))
    lines = [
        "| lag | " + " | ".join(f"{m['name']} {' / '.join(p.upper() for p in m['stack'].pols)} (n)" for m in ms) + " |",
        "|" + "---|" * (len(ms) + 1),
    ]
    for lab in order:
        row = [lab]
        for m in ms:
            g = rs.by_lag(m["rows"], size)
            vals = [g.get((p, lab)) for p in m["stack"].pols]
            row.append(
                " / ".join(fmt(v[0]) if v else "–" for v in vals) + (f" ({vals[0][1]})" if vals and vals[0] else "")
            )
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def level_table(ms: list[dict]) -> str:
    ms = [m for m in ms if m["by_level"].get("vh")]
    lines = ["| VH level | " + " | ".join(f"{m['name']} VH sd (n)" for m in ms) + " |", "|" + "---|" * (len(ms) + 1)]
    for lo in rs.LEVEL_BINS_DB:
        cells = [m["by_level"]["vh"].get(lo) for m in ms]
        if any(cells):
            row = [f"{lo:g} … {lo + 3:g} dB"] + [f"{fmt(c[0])} ({c[1]})" if c else "–" for c in cells]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def summary_table(ms: list[dict]) -> str:
    lines = [
        "| stack | dates (pre) | tiles | pixel | VV dB | VH dB | VH/VV dB | ENL VV / VH | offsets rms VV / VH (pairs) |"
    ]
    lines.append("|" + "---|" * 9)
    for m in ms:
        s, lv, lk = m["stack"], m["levels"], m["looks"]
        offs = {p: [r.offset_db for r in m["offsets"] if r.pol == p] for p in s.pols}
        rms = " / ".join(fmt(rs.rms(offs[p])) for p in s.pols)
        n = len(next(iter(offs.values()))) if offs else 0
        lines.append(
            f"| {m['name']} | {len(s.times)} ({int(s.pre.sum())}) | {len(s.tiles)} | {s.pixel_m:g} m | "
            f"{fmt(lv.get('vv', np.nan))} | {fmt(lv.get('vh', np.nan))} | {fmt(lv.get('vh/vv', np.nan))} | "
            f"{' / '.join(fmt(lk[p], 1) for p in s.pols)} | {rms} ({n}) |"
        )
    return "\n".join(lines)


def offsets_table(ms: list[dict]) -> str:
    lines = ["| stack | pair | lag | offset VV / VH dB |", "|---|---|---|---|"]
    for m in ms:
        by = {}
        for r in m["offsets"]:
            by.setdefault((r.first, r.second, r.lag_days), {})[r.pol] = r.offset_db
        for (a, b, lag), v in by.items():
            cells = " / ".join(fmt(v.get(p, np.nan)) for p in m["stack"].pols)
            lines.append(f"| {m['name']} | {a} → {b} | {lag} d | {cells} |")
    return "\n".join(lines)


def signal_table(m: dict) -> str:
    lines = [
        "| pixel size | pol | signal dB (inside − outside) | inside pixels | mean landslide share | stable sd | SNR |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in m["signal"]:
        sd = m["headline"].get((s.pol, s.size_m), (np.nan,))[0]
        lines.append(
            f"| {s.size_m:g} m | {s.pol.upper()} | {fmt(s.signal_db)} | {s.n_inside} | {fmt(s.share)} "
            f"| {fmt(sd)} | {fmt(s.snr)} |"
        )
    return "\n".join(lines)


def to_frame(ms: list[dict]) -> pd.DataFrame:
    recs = []
    for m in ms:
        for r in m["rows"]:
            recs.append({"stack": m["name"], "statistic": "log_ratio_sd", **r.__dict__})
        for r in m["offsets"]:
            recs.append({"stack": m["name"], "statistic": "consecutive_offset", **r.__dict__})
        for k, v in m["levels"].items():
            recs.append({"stack": m["name"], "statistic": "level_db", "pol": k, "value": v})
        for k, v in m["looks"].items():
            recs.append({"stack": m["name"], "statistic": "enl", "pol": k, "value": v})
        for s in m["signal"]:
            recs.append({"stack": m["name"], "statistic": "landslide_signal", **s.__dict__})
    return pd.DataFrame.from_records(recs)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--real", action="append", default=[], type=Path, help="folder of OPERA RTC-S1 GeoTIFFs")
    ap.add_argument("--cube", type=Path, help="a cube (zarr) of the twin")
    ap.add_argument("--no-truth", action="store_true", help="ignore the cube's landslides")
    ap.add_argument("--twin", metavar="AREA", help="simulate the twin's stable ground of this area of --config")
    ap.add_argument("--config", type=Path, default=Path("config.yaml"), help="the config of --twin")
    ap.add_argument("--twin-bbox", type=float, nargs=4, metavar="DEG", help="a part of the --twin area")
    ap.add_argument("--out", type=Path, help="CSV of every measured row")
    a = ap.parse_args(argv)
    if not a.real and not a.cube and not a.twin:
        ap.error("give --real, and --cube or --twin")
    if a.cube and a.twin:
        ap.error("give --cube or --twin, not both")
    reals = [measure(p.name, rs.read_rtc_stack(p)) for p in a.real]
    twin = None
    if a.cube:
        with xr.open_zarr(a.cube) as ds:
            twin = measure(a.cube.parent.name, rs.cube_stack(ds, truth=not a.no_truth))
    if a.twin:
        config = yaml.safe_load(a.config.read_text())
        validate_config(config)
        area = dict(config["areas"][a.twin])
        if a.twin_bbox:
            area["bbox"] = list(a.twin_bbox)
        twin = measure(f"{a.twin} (stable)", stable_stack(area))
    ms = ([twin] if twin else []) + reals
    print("## Stable-ground log-ratio sd, 12-day pairs (dB; median over pairs × tiles, range)\n")
    print(side_by_side(twin, reals))
    for size in (30.0, 120.0):
        print(f"\n## sd by time lag at {size:g} m (dB; median over pairs × tiles, n)\n")
        print(lag_table(ms, size))
    print("\n## VH sd by level at 30 m, 12-day pairs (dB; median over pairs × tiles, n)\n")
    print(level_table(ms))
    print("\n## Levels, looks, offsets of consecutive dates\n")
    print(summary_table(ms))
    print("\n## Scene-wide offsets (median log-ratio) of consecutive dates\n")
    print(offsets_table(ms))
    if twin and twin["signal"]:
        print(f"\n## Landslide signal of {twin['name']} (pre × post pairs)\n")
        print(signal_table(twin))
    if a.out:
        to_frame(ms).to_csv(a.out, index=False, float_format="%.4f")
    return 0


if __name__ == "__main__":
    sys.exit(main())
