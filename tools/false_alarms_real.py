"""False alarms on real radar: the project's models and change detector applied to a real stack
of stable ground (no event), beside the same figures on the digital twin's ground without
landslides.

The real stack: the 7 OPERA RTC-S1 crops of ../shared/realdata/opera_rtc_10SGD (track 137
ascending, 3 x 3 km each, 21 dates in three winter windows), served on loopback through a STAC API
as NASA's CMR-STAC lists them (tests/opera_loopback.py). An event date is placed between two
winter windows (default 2022-06-01 and 2023-06-01): nothing happened then, so every chip or pixel
flagged is a false alarm. Measured:

1. the rapid-response density map (Snakemake, rules/rapid.smk) of each crop, by the finished
   run's SAR-only models of the embedded twin (`inputs: sar, revisits: 3`: there is no real DEM
   offline; each crop gets a tilted-plane DEM file only so that the cube can be built), at 10 m
   like the models' area (interpolated from OPERA's 30 m), 3 acquisitions before and 3 after:
   share of chips per predicted density class, beside the same experiment's cross predictions
   on the twin's chips whose true class is 0;
2. the VH-change baseline of detection (landslide_sar.detection.baseline.vh_change_db, 4
   acquisitions before and 4 after, no slope mask: there is no DEM) at the product's own 30 m:
   share of pixels whose VH decreased by at least 1, 2, 3 dB, beside the twin's pixels without
   landslides of region_a and region_b (their 10 m cubes, and averaged to 30 m);
3. the detection U-Net (the transfer experiments' SAR-only ensembles sar_r4_aug / sar_r4_noaug,
   4 + 4 acquisitions, 10 m, 64 px chips): share of pixels at or above the map's probability
   threshold, beside region_b's (and region_a's test chips') pixels without landslides;
4. the label-free z-score detector (landslide_sar.label_free.label_free_score, the config's
   `label_free` settings: defaults, z threshold 3; 4 acquisitions before and 4 after) at the
   product's own 30 m, with its water and no-data masks but without the slope mask (there is no
   DEM): share of scored pixels with score >= 2, 3, 4, beside the twin's pixels without landslides
   of region_a and region_b (their 10 m cubes, and averaged to 30 m), without the slope mask and,
   as a second row, with it (the twin has a DEM).

`--parts` measures only some of these (rapid, vh_change, unet, label_free; default all); the
other rows are then kept from the CSV at --out if it exists (measured on whatever run wrote it).
`--cubes` reads the twin's region cubes from another folder than --run (a run that lacks one).

Intervals (95 %): on real radar a bootstrap over the 7 bursts (pixels and chips of one burst are
correlated; the two event placements of a burst stay together), and Wilson over chips as if they
were independent; on the twin a bootstrap over chips (or 640 m blocks) and Wilson over chips.

    PYTHONPATH=. .venv/bin/python tools/false_alarms_real.py --run /path/to/finished/run \\
        --out docs/false_alarms_real.csv

The finished run (the default config's, at least results/ and resources/ of `embedded`, the
detection results and the region cubes) is read only: what the rapid maps need of it is copied
with its times into --workdir, and Snakemake runs there with `--rerun-triggers mtime`, so that the
trained models are reused, not retrained. Writes the CSV and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from opera_loopback import COLLECTION, serve_opera_stack  # noqa: E402

log = logging.getLogger("false_alarms_real")

STACK = ROOT.parent / "shared" / "realdata" / "opera_rtc_10SGD"
EVENTS = [
    "2022-06-01",
    "2023-06-01",
]  # between winter windows: pre Dec 2021 / post Nov 2022; pre Dec 2022 / post Oct 2023
SEARCH = ("2021-11-01T00:00:00Z", "2025-02-01T00:00:00Z")  # the whole stack
MODEL_AREA = "embedded"
RAPID = {"model_area": MODEL_AREA, "inputs": "sar", "revisits": 3}
DETECTORS = ["sar_r4_aug", "sar_r4_noaug"]  # transfer experiments' SAR-only ensembles (region_a -> region_b)
DB_THRESHOLDS = [1.0, 2.0, 3.0]  # VH decrease, dB
Z_THRESHOLDS = [2.0, 3.0, 4.0]  # label-free score (z); the detector's own threshold is label_free.threshold (3)
PARTS = {  # --parts: what each measures, the table's `measure` of its rows
    "rapid": "rapid density map",
    "vh_change": "VH change baseline",
    "unet": "detection U-Net",
    "label_free": "label-free z-score detector",
}
INSET_M = 150.0  # the area's bbox lies this far inside each crop (its UTM grid then stays inside)
BOOT = 2000
SEED = 0
RETRAIN = (
    "generate_event",
    "split_chips",
    "train_density",
    "evaluate_density",
)  # the trained area's jobs: never rerun here
COPY = ["results/embedded", "resources/embedded"]  # what the rapid maps' DAG reads of the run


# ---------------------------------------------------------------- intervals


def wilson(k: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of k successes in n trials."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)


def cluster_bootstrap(k: np.ndarray, n: np.ndarray, samples: int = BOOT, seed: int = SEED) -> tuple[float, float]:
    """Percentile interval of sum(k) / sum(n) with clusters (rows) resampled with replacement."""
    k, n = np.asarray(k, float), np.asarray(n, float)
    if len(k) < 2 or n.sum() == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(k), size=(samples, len(k)))
    tot = n[idx].sum(axis=1)
    ratio = np.where(tot > 0, k[idx].sum(axis=1) / np.maximum(tot, 1), np.nan)
    lo, hi = np.nanpercentile(ratio, [2.5, 97.5])
    return float(lo), float(hi)


def row(measure: str, data: str, model: str, flag: str, unit: str, k: np.ndarray, n: np.ndarray, clusters: str) -> dict:
    """One table row: flagged share with a cluster bootstrap and (for chips) a Wilson interval."""
    k, n = np.atleast_1d(np.asarray(k, float)), np.atleast_1d(np.asarray(n, float))
    lo, hi = cluster_bootstrap(k, n)
    wlo, whi = wilson(k.sum(), n.sum()) if unit == "chips" else (float("nan"), float("nan"))
    return {
        "measure": measure,
        "data": data,
        "model": model,
        "flagged_when": flag,
        "unit": unit,
        "n": int(n.sum()),
        "flagged": int(k.sum()),
        "share": k.sum() / n.sum() if n.sum() else float("nan"),
        "boot_low": lo,
        "boot_high": hi,
        "boot_over": f"{len(k)} {clusters}",
        "wilson_low": wlo,
        "wilson_high": whi,
    }


# ---------------------------------------------------------------- the real crops as areas


def bursts(stack: Path) -> dict[str, tuple[str, tuple[float, float, float, float]]]:
    """burst id -> (CRS, UTM bounds) of its crop, from the first date's VV files."""
    import rasterio

    first = sorted(p for p in stack.iterdir() if p.is_dir())[0]
    out = {}
    for vv in sorted(first.glob("*_VV.tif")):
        with rasterio.open(vv) as src:
            out[vv.name.split("_")[3]] = (src.crs.to_string(), tuple(src.bounds))
    return out


def inner_bbox(crs: str, bounds: tuple[float, float, float, float], resolution: float) -> list[float]:
    """A lon/lat bbox whose grid (area_grid: UTM of its centre, edges snapped outward) lies inside
    the crop's bounds: the crop inset by INSET_M, then the largest lon/lat box inside it."""
    from pyproj import Transformer

    from landslide_sar.grid import area_grid

    inset = INSET_M
    while True:
        left, bottom, right, top = bounds[0] + inset, bounds[1] + inset, bounds[2] - inset, bounds[3] - inset
        to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
        t = np.linspace(0, 1, 21)
        w, _ = to_ll.transform(np.full(21, left), bottom + t * (top - bottom))
        e, _ = to_ll.transform(np.full(21, right), bottom + t * (top - bottom))
        _, s = to_ll.transform(left + t * (right - left), np.full(21, bottom))
        _, n = to_ll.transform(left + t * (right - left), np.full(21, top))
        inner = (float(max(w)), float(max(s)), float(min(e)), float(min(n)))
        bbox = [round(v, 6) for v in (inner[0] + 1e-6, inner[1] + 1e-6, inner[2] - 1e-6, inner[3] - 1e-6)]
        grid = area_grid(bbox, resolution)
        to_crop = Transformer.from_crs(grid.crs, crs, always_xy=True)
        gl, gt = grid.transform.c, grid.transform.f
        gr, gb = gl + grid.width * resolution, gt - grid.height * resolution
        xs, ys = to_crop.transform([gl, gr, gr, gl], [gb, gb, gt, gt])
        if min(xs) >= bounds[0] and max(xs) <= bounds[2] and min(ys) >= bounds[1] and max(ys) <= bounds[3]:
            return bbox
        inset += 30.0


def area_name(burst: str, event: str) -> str:
    """opera_292319_2022: the burst's number and the event placement's year."""
    return f"opera_{burst.split('-')[1]}_{event[:4]}"


def real_area(bbox: list[float], event: str, endpoint: str, resolution: float, n_side: int) -> dict:
    return {
        "bbox": bbox,
        "resolution": resolution,
        "event_time": f"{event}T00:00:00Z",
        "sentinel1": {
            "source": "stac",
            "endpoint": endpoint,
            "collection": COLLECTION,
            "acquisitions_pre": n_side,
            "acquisitions_post": n_side,
            "orbit_state": "ascending",
            "search_start": SEARCH[0],
            "search_end": SEARCH[1],
            "min_coverage": 0.5,
        },
        "download": {"http_retries": 1, "backoff_s": 0.1, "timeout_s": 30.0},
    }


def write_dem(path: Path, bbox: list[float], resolution: float) -> None:
    """A plane rising 1 m per 10 m to the south (about 6 deg): no real DEM is offline; the SAR-only
    models never read it, the cube and chips need one."""
    from landslide_sar.grid import area_grid
    from landslide_sar.io import write_cog_annotated

    grid = area_grid(bbox, resolution)
    rows, _ = np.mgrid[0 : grid.height, 0 : grid.width]
    dem = (150.0 + 0.1 * resolution * rows).astype("float32")
    path.parent.mkdir(parents=True, exist_ok=True)
    write_cog_annotated(path, dem, grid, nodata=-9999.0, units=["m"])


# ---------------------------------------------------------------- 1. rapid-response maps


def copy_run(run: Path, work: Path) -> None:
    """What the rapid maps' DAG reads of the finished run, with its files' times (copy2)."""
    for rel in COPY:
        if not (work / rel).exists():
            shutil.copytree(run / rel, work / rel, symlinks=True)


def rapid_maps(run: Path, work: Path, endpoint: str, areas: dict[str, dict], cores: int) -> float:
    """Snakemake's rapid-response maps of `areas` in `work` (the run's models reused); seconds."""
    copy_run(run, work)
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["areas"].update(areas)
    cfg["rapid_response"] = {name: dict(RAPID) for name in areas}
    config = work / "config_false_alarms.yaml"
    config.write_text(yaml.safe_dump(cfg, sort_keys=False))
    targets = [f"results/{a}/rapid/{f}" for a in areas for f in ("predictions.csv", "map.gpkg")]
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(config),
        "--cores",
        str(cores),
        *targets,
        "--rerun-triggers",  # takes several values: after the targets
        "mtime",
    ]
    env = {k: v for k, v in os.environ.items() if k != "EARTHDATA_TOKEN"}
    env["PYTHONHASHSEED"] = "0"
    # a dry run first: the run's models and forests' inputs must be reused, never retrained
    plan = subprocess.run(
        [*cmd[:-2], "--dry-run", *cmd[-2:]], cwd=work, capture_output=True, text=True, env=env, check=False
    )
    if plan.returncode != 0:
        raise RuntimeError(f"snakemake --dry-run failed:\n{plan.stdout[-3000:]}\n{plan.stderr[-3000:]}")
    retrain = sorted({r for r in RETRAIN if re.search(rf"^{r}\s+\d+", plan.stdout + plan.stderr, re.M)})
    if retrain:
        raise RuntimeError(f"snakemake would run {retrain} in {work}: the run's models would not be reused")
    t0 = time.monotonic()
    with open(work / "snakemake_false_alarms.log", "w") as out:
        proc = subprocess.run(cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env, check=False)
    if proc.returncode != 0:
        tail = (work / "snakemake_false_alarms.log").read_text()[-4000:]
        raise RuntimeError(f"snakemake failed ({proc.returncode}); its log ends:\n{tail}")
    return time.monotonic() - t0


def rapid_classes(work: Path, areas: dict[str, dict]) -> pd.DataFrame:
    """One row per classified chip of every area: area, burst, event, predicted_class."""
    frames = []
    for name in areas:
        pred = pd.read_csv(work / f"results/{name}/rapid/predictions.csv")
        pred = pred[pred["predicted_class"] >= 0]
        _, burst, year = name.split("_")
        frames.append(
            pred.assign(area=name, burst=burst, event=year)[["area", "burst", "event", "chip", "predicted_class"]]
        )
    return pd.concat(frames, ignore_index=True)


def rapid_rows(chips: pd.DataFrame, run: Path, events: list[str]) -> list[dict]:
    rows = []
    experiment = f"{RAPID['inputs']}_r{RAPID['revisits']}"
    model = f"density {experiment} of {MODEL_AREA} (rapid response)"
    for c in (1, 2):
        flag = f"class >= {c}"
        for ev in [None, *events]:
            sub = chips if ev is None else chips[chips["event"] == ev[:4]]
            per = sub.groupby("burst")["predicted_class"].agg(k=lambda s, c=c: int((s >= c).sum()), n="size")
            data = "real stable, " + ("both event dates" if ev is None else f"event {ev}")
            rows.append(row("rapid density map", data, model, flag, "chips", per["k"], per["n"], "bursts"))
    twin = pd.read_csv(run / f"results/{MODEL_AREA}/density/{experiment}/predictions.csv")
    zero = twin[twin["density_class"] == 0]
    for c in (1, 2):
        k = (zero["predicted_class"] >= c).astype(int).to_numpy()
        rows.append(
            row(
                "rapid density map",
                f"twin {MODEL_AREA}, chips of true class 0 (cross predictions)",
                model,
                f"class >= {c}",
                "chips",
                k,
                np.ones_like(k),
                "chips",
            )
        )
    return rows


# ---------------------------------------------------------------- 2. VH change, 3. U-Net


def download(area: dict, out: Path):  # noqa: ANN201 - xr.Dataset
    from landslide_sar.download import Network
    from landslide_sar.sentinel1 import download_sentinel1

    if out.exists():
        import xarray as xr

        return xr.open_zarr(out)
    return download_sentinel1(area, out, network=Network(1, 0.1, 30.0))


def sides(ds) -> tuple[np.ndarray, np.ndarray]:  # noqa: ANN001 - xr.Dataset
    """(k, 2, H, W) linear VV, VH of the acquisitions before and after the event, by time."""
    side = np.asarray(ds["side"].values).astype(str)
    sar = np.stack([ds["vv"].values, ds["vh"].values], axis=1).astype("float32")
    return sar[side == "pre"], sar[side == "post"]


def block_mean(a: np.ndarray, f: int) -> np.ndarray:
    """Mean over f x f pixel blocks of the last two axes (NaN if any pixel of a block is NaN)."""
    h, w = a.shape[-2] // f * f, a.shape[-1] // f * f
    a = a[..., :h, :w]
    return a.reshape(*a.shape[:-2], h // f, f, w // f, f).mean(axis=(-3, -1))


def vh_change(pre: np.ndarray, post: np.ndarray) -> np.ndarray:
    from landslide_sar.detection.baseline import vh_change_db

    return vh_change_db(pre[:, 1], post[:, 1], axis=0, direction="decrease")


def change_counts(
    change: np.ndarray, keep: np.ndarray, block: int, thresholds: list[float] = DB_THRESHOLDS
) -> dict[float, tuple[np.ndarray, np.ndarray]]:
    """threshold -> (flagged: >= threshold, total) per block x block cluster of the kept finite pixels."""
    ok = keep & np.isfinite(change)
    h, w = change.shape
    out = {}
    for t in thresholds:
        ks, ns = [], []
        for r in range(0, h, block):
            for c in range(0, w, block):
                o = ok[r : r + block, c : c + block]
                if o.sum():
                    ks.append(int((change[r : r + block, c : c + block][o] >= t).sum()))
                    ns.append(int(o.sum()))
        out[t] = (np.asarray(ks), np.asarray(ns))
    return out


def twin_change_rows(run: Path) -> list[dict]:
    """The VH decrease on the twin's pixels without landslides (region_a, region_b; 4 + 4)."""
    import xarray as xr

    rows = []
    for region in ("region_a", "region_b"):
        cube = xr.open_zarr(run / f"results/{region}/cube.zarr")
        pre, post = sides(cube)
        land = cube["landslides"].values > 0
        for f, label in ((1, "10 m"), (3, "averaged to 30 m")):
            change = vh_change(block_mean(pre, f) if f > 1 else pre, block_mean(post, f) if f > 1 else post)
            keep = (block_mean(land.astype("float32"), f) == 0) if f > 1 else ~land
            counts = change_counts(change, keep, max(1, 64 // f))
            for t, (k, n) in counts.items():
                rows.append(
                    row(
                        "VH change baseline",
                        f"twin {region} ({cube.attrs.get('orbit', '')}), pixels without landslides, {label}",
                        "median VH dB before - after, 4 + 4, no slope mask",
                        f"decrease >= {t:g} dB",
                        "pixels",
                        k,
                        n,
                        "blocks of ~640 m",
                    )
                )
    return rows


def label_free_settings():  # noqa: ANN201 - LabelFreeSettings
    """The default config's `label_free` settings (absent: the schema's defaults)."""
    from landslide_sar.label_free import LabelFreeSettings

    cfg = yaml.safe_load((ROOT / "config.yaml").read_text()) or {}
    return LabelFreeSettings.from_config(cfg.get("label_free"))


def label_free(pre: np.ndarray, post: np.ndarray, slope_deg: np.ndarray | None, tile: int = 128) -> np.ndarray:
    """Label-free score (y, x) of (k, 2, y, x) linear VV, VH stacks before and after the event:
    landslide_sar.label_free.label_free_score with the config's settings, -inf where masked
    (no data, water; flat ground only if `slope_deg` is given: None, no slope mask). Tiles of
    `tile` px with a halo of the pooling window's reach, so the score equals one call over the
    whole grid without its memory (the pooled spread holds y x x x times x window^2 values)."""
    from dataclasses import replace

    from landslide_sar.label_free import label_free_score
    from landslide_sar.nn.preprocess import to_db

    settings = label_free_settings()
    if slope_deg is None:  # no slope mask: nothing is below a 0 degree minimum
        settings = replace(settings, min_slope_deg=0.0)
        slope_deg = np.zeros(pre.shape[-2:], "float32")
    pre_db, post_db = to_db(pre), to_db(post)
    h, w = pre.shape[-2:]
    halo = settings.window_px // 2
    out = np.full((h, w), -np.inf, "float32")
    for r in range(0, h, tile):
        for c in range(0, w, tile):
            r0, c0 = max(0, r - halo), max(0, c - halo)
            r1, c1 = min(h, r + tile + halo), min(w, c + tile + halo)
            res = label_free_score(
                pre_db[:, 0, r0:r1, c0:c1],
                pre_db[:, 1, r0:r1, c0:c1],
                post_db[:, 0, r0:r1, c0:c1],
                post_db[:, 1, r0:r1, c0:c1],
                slope_deg[r0:r1, c0:c1],
                settings,
            )
            th, tw = min(tile, h - r), min(tile, w - c)
            out[r : r + th, c : c + tw] = res.score[r - r0 : r - r0 + th, c - c0 : c - c0 + tw]
    return out


def label_free_model(slope_mask: bool) -> str:
    """The label-free rows' `model`: the settings and the masks applied."""
    s = label_free_settings()
    masks = f"no data, water (pre-event VV < {s.water_db:g} dB)"
    masks += f", slope < {s.min_slope_deg:g} deg" if slope_mask else "; no slope mask"
    spread = f"spread pooled over {s.window_px} px"
    return f"z of VV, VH dB change, {spread}, VV weight {s.vv_weight:g}, 4 + 4; masked: {masks}"


def label_free_flag(t: float) -> str:
    return f"score >= {t:g}" + (" (its threshold)" if t == label_free_settings().threshold else "")


def twin_label_free_rows(run: Path) -> list[dict]:
    """The label-free score on the twin's pixels without landslides (region_a, region_b; 4 + 4),
    at 10 m and averaged to 30 m, without the slope mask and with it (the cube's DEM slope; at
    30 m the mean of the 10 m slope over the 3 x 3 pixels)."""
    import xarray as xr

    rows = []
    for region in ("region_a", "region_b"):
        cube = xr.open_zarr(run / f"results/{region}/cube.zarr")
        pre, post = sides(cube)
        land = cube["landslides"].values > 0
        slope = np.degrees(cube["dem_slope_radians"].values.astype("float32"))
        for f, label in ((1, "10 m"), (3, "averaged to 30 m")):
            p, q = (block_mean(pre, f), block_mean(post, f)) if f > 1 else (pre, post)
            keep = (block_mean(land.astype("float32"), f) == 0) if f > 1 else ~land
            for masked in (False, True):
                score = label_free(p, q, (block_mean(slope, f) if f > 1 else slope) if masked else None)
                for t, (k, n) in change_counts(score, keep, max(1, 64 // f), Z_THRESHOLDS).items():
                    rows.append(
                        row(
                            PARTS["label_free"],
                            f"twin {region} ({cube.attrs.get('orbit', '')}), pixels without landslides, {label}",
                            label_free_model(masked),
                            label_free_flag(t),
                            "pixels",
                            k,
                            n,
                            "blocks of ~640 m",
                        )
                    )
    return rows


def unet_probability(model_path: Path, pre: np.ndarray, post: np.ndarray, size: int = 64) -> np.ndarray:
    """Ensemble-mean landslide probability of the 64 px chips of one area (NaN: no data / not chipped)."""
    from landslide_sar.detection.data import SAR_BANDS, ChipArrays, input_channels
    from landslide_sar.detection.predict import predict_chips
    from landslide_sar.nn.preprocess import to_db

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean_db = {"pre": to_db(np.nanmean(pre, axis=0)), "post": to_db(np.nanmean(post, axis=0))}
    channels = input_channels("sar")  # the SAR-only set's channels, in the order the nets read them
    layers = np.stack([mean_db[c.partition("_")[2]][SAR_BANDS.index(c.partition("_")[0])] for c in channels])
    ny, nx = layers.shape[1] // size, layers.shape[2] // size
    x = np.stack(
        [layers[:, r * size : (r + 1) * size, c * size : (c + 1) * size] for r in range(ny) for c in range(nx)]
    )
    chips = ChipArrays(
        x=np.ascontiguousarray(x, dtype="float32"),
        label=np.zeros((len(x), size, size), "uint8"),
        channels=channels,
        is_log=[True] * 4,
    )
    prob = predict_chips(model_path, chips, device="cpu", threads=1).mean(axis=0)
    return prob.reshape(ny, nx, size, size)


def twin_unet_rows(run: Path, threshold: float) -> list[dict]:
    import xarray as xr

    rows = []
    for name in DETECTORS:
        pred = xr.open_zarr(run / f"results/detection/transfer/{name}/predictions.zarr")
        region, subset = pred["region"].values.astype(str), pred["subset"].values.astype(str)
        prob, label, valid = pred["prob"].values, pred["label"].values, pred["valid"].values
        for what, sel in (
            ("twin region_b (other region, descending), all chips", region == "region_b"),
            ("twin region_a (training region), test chips", (region == "region_a") & (subset == "test")),
        ):
            ok = (label[sel] == 0) & valid[sel] & np.isfinite(prob[sel])
            k = ((prob[sel] >= threshold) & ok).sum(axis=(1, 2))
            rows.append(
                row(
                    "detection U-Net",
                    f"{what}, pixels without landslides",
                    f"transfer {name} ensemble",
                    f"probability >= {threshold:g}",
                    "pixels",
                    k,
                    ok.sum(axis=(1, 2)),
                    "chips",
                )
            )
    return rows


def pixel_rows(
    run: Path | None, work: Path, endpoint: str, crops: dict, events: list[str], threshold: float, parts: list[str]
) -> list[dict]:
    """VH change and the label-free score at 30 m and the U-Net at 10 m on every crop and event
    placement (4 + 4); only the measures of `parts`."""
    per_burst_change: dict[str, dict[float, list[int]]] = {}
    per_burst_free: dict[str, dict[float, list[int]]] = {}
    per_burst_unet: dict[str, dict[str, list[int]]] = {}
    resolutions = ([30] if {"vh_change", "label_free"} & set(parts) else []) + ([10] if "unet" in parts else [])
    for burst, (crs, bounds) in crops.items():
        pc = per_burst_change.setdefault(burst, {t: [0, 0] for t in DB_THRESHOLDS})
        pf = per_burst_free.setdefault(burst, {t: [0, 0] for t in Z_THRESHOLDS})
        pu = per_burst_unet.setdefault(burst, {n: [0, 0] for n in DETECTORS})
        for event in events:
            for resolution in resolutions:
                bbox = inner_bbox(crs, bounds, resolution)
                area = real_area(bbox, event, endpoint, resolution, 4)
                ds = download(area, work / "pixels" / f"{area_name(burst, event)}_{resolution}m.zarr")
                pre, post = sides(ds)
                if resolution == 30:
                    ch = vh_change(pre, post)
                    ok = np.isfinite(ch)
                    for t in DB_THRESHOLDS:
                        pc[t][0] += int((ch[ok] >= t).sum())
                        pc[t][1] += int(ok.sum())
                    if "label_free" in parts:
                        score = label_free(pre, post, None)
                        ok = np.isfinite(score)  # -inf: masked (no data, water)
                        for t in Z_THRESHOLDS:
                            pf[t][0] += int((score[ok] >= t).sum())
                            pf[t][1] += int(ok.sum())
                else:
                    for name in DETECTORS:
                        prob = unet_probability(run / f"results/detection/transfer/{name}/model.pt", pre, post)
                        ok = np.isfinite(prob)
                        pu[name][0] += int((prob[ok] >= threshold).sum())
                        pu[name][1] += int(ok.sum())
    rows = []
    for t in DB_THRESHOLDS if "vh_change" in parts else []:
        k = np.array([per_burst_change[b][t][0] for b in crops])
        n = np.array([per_burst_change[b][t][1] for b in crops])
        rows.append(
            row(
                "VH change baseline",
                "real stable, both event dates, 30 m (the product's pixels)",
                "median VH dB before - after, 4 + 4, no slope mask",
                f"decrease >= {t:g} dB",
                "pixels",
                k,
                n,
                "bursts",
            )
        )
    for t in Z_THRESHOLDS if "label_free" in parts else []:
        k = np.array([per_burst_free[b][t][0] for b in crops])
        n = np.array([per_burst_free[b][t][1] for b in crops])
        rows.append(
            row(
                PARTS["label_free"],
                "real stable, both event dates, 30 m (the product's pixels)",
                label_free_model(False),
                label_free_flag(t),
                "pixels",
                k,
                n,
                "bursts",
            )
        )
    for name in DETECTORS if "unet" in parts else []:
        k = np.array([per_burst_unet[b][name][0] for b in crops])
        n = np.array([per_burst_unet[b][name][1] for b in crops])
        rows.append(
            row(
                "detection U-Net",
                "real stable, both event dates, 10 m (from 30 m)",
                f"transfer {name} ensemble",
                f"probability >= {threshold:g}",
                "pixels",
                k,
                n,
                "bursts",
            )
        )
    return rows


# ---------------------------------------------------------------- output


def ordered(table: pd.DataFrame) -> pd.DataFrame:
    """Rows by measure (PARTS' order), real before twin within each, otherwise as measured."""
    rank = {m: i for i, m in enumerate(PARTS.values())}
    key = table["measure"].map(rank).fillna(len(rank)) * 2 + table["data"].str.startswith("twin").astype(int)
    return table.iloc[np.argsort(key.to_numpy(), kind="stable")].reset_index(drop=True)


def merge_kept(table: pd.DataFrame, out: Path, parts: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """With only some parts measured: the other measures' rows of the CSV at `out` (if any) kept;
    the table and the kept measures."""
    if set(parts) == set(PARTS) or not out.exists():
        return table, []
    measured = {PARTS[p] for p in parts}
    old = pd.read_csv(out)
    kept = old[~old["measure"].isin(measured)]
    measures = [m for m in PARTS.values() if m in set(kept["measure"])]
    log.warning("kept %d rows of %s not measured now (%s)", len(kept), out, measures)
    return pd.concat([kept, table], ignore_index=True), measures


def markdown(table: pd.DataFrame, kept: list[str] = ()) -> str:
    def pct(x: float) -> str:
        return "–" if not np.isfinite(x) else f"{100 * x:.1f}"

    lines = [
        "# False alarms on real radar: every row",
        "",
        "Written by `tools/false_alarms_real.py` (the command, what was measured and what it cannot say:",
        "[real_data.md](real_data.md#false-alarms-on-real-radar)). Real: the 7 OPERA RTC-S1 crops of",
        "stable ground, event dates placed between winter windows; twin: its ground without landslides.",
        *(
            [
                "Not measured by the command that wrote this (`--parts`), kept from the table it replaced: "
                + ", ".join(kept)
                + "."
            ]
            if kept
            else []
        ),
        "",
        "| measure | data | model | flagged when | n | flagged | share % | 95 % bootstrap | 95 % Wilson |",
        "|---|---|---|---|---:|---:|---:|---|---|",
    ]
    for r in table.itertuples():
        wil = f"{pct(r.wilson_low)}–{pct(r.wilson_high)}" if np.isfinite(r.wilson_low) else ""
        lines.append(
            f"| {r.measure} | {r.data} | {r.model} | {r.flagged_when} | {r.n} {r.unit} | {r.flagged} | "
            f"{pct(r.share)} | {pct(r.boot_low)}–{pct(r.boot_high)} (over {r.boot_over}) | {wil} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--run", type=Path, required=True, help="a finished default run (read only)")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "false_alarms_real.csv")
    ap.add_argument("--workdir", type=Path, default=None, help="scratch folder (default: a new temporary one)")
    ap.add_argument("--stack", type=Path, default=STACK)
    ap.add_argument("--events", nargs="+", default=EVENTS)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument(
        "--cubes",
        type=Path,
        default=None,
        help="folder whose results/region_{a,b}/cube.zarr the twin's pixel rows read (default: --run)",
    )
    ap.add_argument(
        "--parts",
        nargs="+",
        choices=list(PARTS),
        default=list(PARTS),
        help="measure only these (default all); the other rows are kept from the CSV at --out if it exists",
    )
    ap.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="U-Net probability threshold (default 0.5: detection.evaluation.probability_threshold, the map's)",
    )
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    t0 = time.monotonic()
    run = args.run.resolve()
    work = (args.workdir or Path(tempfile.mkdtemp(prefix="false_alarms_real_"))).resolve()
    work.mkdir(parents=True, exist_ok=True)
    threshold = args.threshold
    crops = bursts(args.stack)
    log.info("%d crops of %s; work folder %s", len(crops), args.stack, work)
    parts = list(dict.fromkeys(args.parts))
    rows: list[dict] = []
    with serve_opera_stack(args.stack, work / "served") as endpoint:
        if "rapid" in parts:
            areas = {}
            for burst, (crs, bounds) in crops.items():
                bbox = inner_bbox(crs, bounds, 10)
                for event in args.events:
                    name = area_name(burst, event)
                    area = real_area(bbox, event, endpoint, 10, 3)
                    area["dem"] = {"source": "file", "path": f"dem/{name}.tif"}
                    area["inventory"] = {"source": "none"}
                    write_dem(work / "dem" / f"{name}.tif", bbox, 10)
                    areas[name] = copy.deepcopy(area)
            seconds = rapid_maps(run, work, endpoint, areas, args.cores)
            log.info("rapid-response maps of %d areas: %.0f s", len(areas), seconds)
            rows += rapid_rows(rapid_classes(work, areas), run, args.events)
        if {"vh_change", "unet", "label_free"} & set(parts):
            rows += pixel_rows(run, work, endpoint, crops, args.events, threshold, parts)
    cubes = (args.cubes or run).resolve()
    if "vh_change" in parts:
        rows += twin_change_rows(cubes)
    if "unet" in parts:
        rows += twin_unet_rows(run, threshold)
    if "label_free" in parts:
        rows += twin_label_free_rows(cubes)
    table, kept = merge_kept(pd.DataFrame(rows), args.out, parts)
    table = ordered(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.5f")
    args.out.with_suffix(".md").write_text(markdown(table, kept))
    log.info("wrote %s and %s in %.0f s", args.out, args.out.with_suffix(".md"), time.monotonic() - t0)
    print(markdown(table, kept))
    return 0


if __name__ == "__main__":
    sys.exit(main())
