"""One detection experiment end to end, the unit a Snakemake rule runs: chips of the training
region -> seeded train / val split -> U-Net for one (band set, time steps, augmentation) ->
AUPRC of the U-Net and of the Handwerger baseline on the region's chips and, for transfer, on all
chips of another region -> metrics CSV, precision-recall curve points CSV, predictions zarr.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
import warnings
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from landslide_sar.detection.augment import DEFAULT_AUGMENT
from landslide_sar.detection.baseline import handwerger_score, percentile_map
from landslide_sar.detection.data import (
    BAND_SETS,
    DetectionChips,
    build_channels,
    detection_chips,
    split_indices,
)
from landslide_sar.detection.evaluate import auprc, binary_scores, no_skill, pr_curve
from landslide_sar.detection.predict import predict_chips
from landslide_sar.detection.train import train_detection
from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
METRIC_COLUMNS = [
    "method", "seed", "region", "subset", "auprc", "no_skill", "n_chips", "n_pixels", "n_positive",
    "precision", "recall", "f1", "threshold", "band_set", "n_steps", "n_after", "augment", "elevation",
]  # fmt: skip
CURVE_COLUMNS = ["method", "seed", "region", "subset", "recall", "precision", "threshold"]
ENSEMBLE = "ensemble"  # the seed value of the rows scoring the members' mean probability
DEFAULT_CONFIG: dict[str, dict[str, Any]] = {
    # 61 / 277 = 0.22: the poster's 216 train / 61 val chips on Hokkaido
    # max_steps: time steps read on each side for chip selection (int or [before, after]); set it to
    # the largest n of the grid so every experiment sees the same chips and split (None: this n)
    "chips": {"size": 128, "keep_negatives": False, "min_positive_pixels": 1, "min_valid_fraction": 0.5,
              "val_fraction": 0.22, "split_seed": 42, "max_steps": None},  # fmt: skip
    "model": {"base_width": 16, "depth": 4, "blocks_per_stage": 2},
    "training": {"seeds": [0], "max_epochs": 30, "batch_size": 16, "learning_rate": 1e-3, "weight_decay": 0.0,
                 "patience": 6, "device": "auto", "monitor": "val_auprc", "positive_weight": 1.0},  # fmt: skip
    "augment": copy.deepcopy(DEFAULT_AUGMENT),
    # probability threshold of the U-Net's binary map; baseline: slope mask, percentile, sign
    "evaluation": {"probability_threshold": 0.5, "curve_points": 200, "batch_size": 16},
    "baseline": {"min_slope_deg": 10.0, "percentile": 95.0, "direction": "decrease"},
}


def resolve_config(cfg: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """DEFAULT_CONFIG with each section's keys overridden by `cfg`'s (augment: replaced whole)."""
    cfg = dict(cfg or {})
    unknown = sorted(set(cfg) - set(DEFAULT_CONFIG))
    if unknown:
        raise InputError(f"detection config has unknown section(s) {unknown}; expected some of {list(DEFAULT_CONFIG)}")
    out = copy.deepcopy(DEFAULT_CONFIG)
    for section, values in cfg.items():
        if section == "augment":
            out[section] = copy.deepcopy(dict(values or {}))
        else:
            out[section].update(values or {})
    return out


def check_config(cfg: Mapping[str, Any] | None, augment: bool = True) -> dict[str, dict[str, Any]]:
    """`cfg` itself, checked to hold exactly DEFAULT_CONFIG's sections and keys (augment: the four
    augmentations, each with exactly DEFAULT_AUGMENT's keys; not needed when not `augment`): the
    workflow passes every setting from its config, so a missing key is an InputError naming it,
    never a silent default."""
    cfg = dict(cfg or {})
    if not augment and cfg.get("augment") is None:
        cfg["augment"] = copy.deepcopy(DEFAULT_AUGMENT)  # unused: the experiment does not augment
    missing = [s for s in DEFAULT_CONFIG if s not in cfg]
    if missing:
        raise InputError(f"detection config lacks section(s) {missing}; expected all of {list(DEFAULT_CONFIG)}")
    resolve_config(cfg)  # unknown sections
    for section, defaults in DEFAULT_CONFIG.items():
        values = dict(cfg[section] or {})
        nested = {k: v for k, v in defaults.items() if isinstance(v, dict)} if section == "augment" else {}
        for where, want, got in [(section, defaults, values)] + [
            (f"{section}.{k}", v, dict(values.get(k) or {})) for k, v in nested.items()
        ]:  # fmt: skip
            lacking, extra = sorted(set(want) - set(got)), sorted(set(got) - set(want))
            if lacking or extra:
                raise InputError(
                    f"detection.{where}: missing key(s) {lacking}, unknown key(s) {extra}; expected exactly {sorted(want)}"
                )
    return copy.deepcopy({k: dict(v) for k, v in cfg.items()})


def _region_rows(
    method: str, region: str, subset: str, label: np.ndarray, score: np.ndarray, valid: np.ndarray,
    binary: np.ndarray, threshold: float, curve_points: int, seed: str = "",
) -> tuple[dict[str, Any], pd.DataFrame]:  # fmt: skip
    """One metrics row and its PR curve points for one method (and member seed) on one chip set."""
    row = {
        "method": method, "seed": seed, "region": region, "subset": subset,
        "auprc": auprc(label, score, valid), "no_skill": no_skill(label, valid),
        "n_chips": int(label.shape[0]), "n_pixels": int(valid.sum()), "n_positive": int((label > 0)[valid].sum()),
        **binary_scores(label, binary, valid), "threshold": float(threshold),
    }  # fmt: skip
    curve = pr_curve(label, score, valid, curve_points)
    curve.insert(0, "subset", subset)
    curve.insert(0, "region", region)
    curve.insert(0, "seed", seed)
    curve.insert(0, "method", method)
    return row, curve


def _write_predictions(
    path: PathLike, sets: list[tuple[str, DetectionChips, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    attrs: dict[str, Any],
) -> None:  # fmt: skip
    """Zarr for figures: per chip prob, baseline score and map, label, valid; chip origin in its cube."""
    subsets, regions, chips_all = [], [], []
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in ("prob", "baseline", "baseline_detected", "label", "valid")}
    for subset, chips, prob, base, base_map, valid in sets:
        subsets += [subset] * len(chips)
        regions += [chips.region] * len(chips)
        chips_all.append(chips)
        arrays["prob"].append(prob.astype(np.float16))
        arrays["baseline"].append(base.astype(np.float16))
        arrays["baseline_detected"].append(base_map.astype(bool))
        arrays["label"].append(chips.label.astype(np.uint8))
        arrays["valid"].append(valid.astype(bool))
    n = len(subsets)
    dims = ("chip", "y", "x")
    ds = xr.Dataset(
        {k: (dims, np.concatenate(v)) for k, v in arrays.items()},
        coords={
            "chip": np.arange(n),
            "subset": ("chip", np.array(subsets, dtype=str)),
            "region": ("chip", np.array(regions, dtype=str)),
            "row0": ("chip", np.concatenate([c.row0 for c in chips_all]).astype(np.int64)),
            "col0": ("chip", np.concatenate([c.col0 for c in chips_all]).astype(np.int64)),
            "chip_y": (("chip", "y"), np.concatenate([c.y for c in chips_all]).astype(np.float64)),
            "chip_x": (("chip", "x"), np.concatenate([c.x for c in chips_all]).astype(np.float64)),
        },
        attrs={**attrs, "crs": json.dumps({c.region: c.crs for c in chips_all}),
               "description": "prob: U-Net landslide probability (NaN = nodata input); baseline: Handwerger VH "
               "change score in dB (-inf = below the slope mask); baseline_detected: its percentile map; "
               "row0/col0: chip origin in its region's cube; chip_y/chip_x: pixel centre coordinates"},
    )  # fmt: skip
    enc = {k: {"chunks": (max(1, min(n, 16)), *ds[k].shape[1:])} for k in arrays}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(tmp, mode="w", encoding=enc)


def run_detection_experiment(
    train_cube: PathLike | xr.Dataset,
    test_cube: PathLike | xr.Dataset | None,
    band_set: str,
    n_steps: int,
    augment: bool,
    cfg: Mapping[str, Any] | None,
    threads: int,
    model_out: PathLike,
    history_out: PathLike,
    metrics_out: PathLike,
    curves_out: PathLike,
    predictions_out: PathLike | None,
    *,
    n_after: int | None = None,
    elevation: bool = False,
    train_event_time: str | datetime | None = None,
    test_event_time: str | datetime | None = None,
    train_region: str = "",
    test_region: str = "",
    strict: bool = False,
) -> pd.DataFrame:
    """Train one U-Net on the training region's train chips and score it and the baseline.

    band_set: vv, vh, vvvh, sar_dem; n_steps: acquisitions averaged before the event (and after,
    unless n_after); elevation adds the DEM elevation channel to sar_dem (poster: on, transfer:
    off). cfg sections (each optional, see DEFAULT_CONFIG): chips, model, training, augment
    (used only when `augment`), evaluation, baseline. Event times default to the cubes'
    `event_time` attributes, region names to the cube folders' names.

    Writes metrics_out CSV (METRIC_COLUMNS; methods unet and handwerger; subsets train, val of
    the training region and test of test_cube), curves_out CSV (CURVE_COLUMNS), predictions_out
    zarr (val and test chips, the ensemble's mean probability; None: not written) and, from
    train_detection, model_out and history_out. U-Net rows come per member (`seed`) and for the
    ensemble (seed "ensemble": the members' mean probability); PR curves of the ensemble. Returns the
    metrics. strict: cfg must hold every setting (check_config; augment only when augmenting), no
    default is filled in (the workflow's way); otherwise missing keys take DEFAULT_CONFIG's values.
    """
    t0 = time.perf_counter()
    c = check_config(cfg, bool(augment)) if strict else resolve_config(cfg)
    if band_set not in BAND_SETS:
        raise InputError(f"band_set={band_set!r}; expected one of {list(BAND_SETS)}")
    n_after_ = n_steps if n_after is None else int(n_after)
    ch, base_cfg, ev = c["chips"], c["baseline"], c["evaluation"]

    max_steps = ch.get("max_steps")
    if max_steps is None:
        steps = (int(n_steps), n_after_)
    else:
        steps = (int(max_steps), int(max_steps)) if isinstance(max_steps, (int, np.integer)) else tuple(max_steps)
        if len(steps) != 2 or steps[0] < n_steps or steps[1] < n_after_:
            raise InputError(f"chips.max_steps={max_steps!r}; expected >= n_steps {n_steps} before and n_after {n_after_} after")

    def load(cube: PathLike | xr.Dataset, event: str | datetime | None, region: str) -> DetectionChips:
        return detection_chips(
            cube, event, int(ch["size"]), (int(steps[0]), int(steps[1])), bool(ch["keep_negatives"]),
            int(ch["min_positive_pixels"]), float(ch["min_valid_fraction"]), region=region,
        )  # fmt: skip

    region_chips = load(train_cube, train_event_time, train_region)
    train_idx, val_idx = split_indices(len(region_chips), float(ch["val_fraction"]), int(ch["split_seed"]))
    sets: dict[str, DetectionChips] = {"train": region_chips.subset(train_idx), "val": region_chips.subset(val_idx)}
    if test_cube is not None:
        sets["test"] = load(test_cube, test_event_time, test_region)
        if sets["test"].region == sets["train"].region:
            sets["test"].region = f"{sets['test'].region}_test"
    if len(sets["val"]) == 0 and "test" not in sets:
        raise InputError("no val chips and no test cube: nothing to evaluate; expected val_fraction > 0 or a test cube")
    arrays = {k: build_channels(v, band_set, int(n_steps), n_after_, bool(elevation)) for k, v in sets.items()}
    logger.info("experiment %s, %d step(s) before / %d after, augment %s, elevation %s: chips %s",
                band_set, n_steps, n_after_, augment, elevation, {k: len(v) for k, v in sets.items()})  # fmt: skip

    summary = train_detection(
        arrays["train"], arrays["val"] if len(arrays["val"]) else None, c["model"], c["training"],
        c["augment"] if augment else None, threads, model_out, history_out,
    )  # fmt: skip

    rows, curves, pred_sets = [], [], []
    for subset, chips in sets.items():
        a = arrays[subset]
        if len(a) == 0:
            continue
        valid = a.valid
        members = predict_chips(model_out, a, batch_size=int(ev["batch_size"]), device=str(c["training"]["device"]))
        prob = members.mean(axis=0)  # the ensemble: the members' mean probability
        thr = float(ev["probability_threshold"])
        seeds = [str(s) for s in summary["seeds"]]
        for seed, p in [*zip(seeds, members), (ENSEMBLE, prob)]:
            row, curve = _region_rows("unet", chips.region, subset, a.label, p, valid, p >= thr, thr,
                                      int(ev["curve_points"]), seed)  # fmt: skip
            rows.append(row)
            if seed == ENSEMBLE:
                curves.append(curve)
        base = handwerger_score(chips, int(n_steps), n_after_, float(base_cfg["min_slope_deg"]), str(base_cfg["direction"]))
        base_map, base_thr = percentile_map(base, float(base_cfg["percentile"]), valid)
        row, curve = _region_rows("handwerger", chips.region, subset, a.label, base, valid, base_map, base_thr,
                                  int(ev["curve_points"]))  # fmt: skip
        rows.append(row)
        curves.append(curve)
        if subset != "train":
            pred_sets.append((subset, chips, prob, base, base_map, valid))

    metrics = pd.DataFrame(rows)
    for k, v in (("band_set", band_set), ("n_steps", int(n_steps)), ("n_after", n_after_),
                 ("augment", bool(augment)), ("elevation", bool(elevation))):  # fmt: skip
        metrics[k] = v
    metrics = metrics[METRIC_COLUMNS]
    for _, r in metrics.iterrows():
        logger.info("%-10s %-10s %-5s AUPRC %.3f (no skill %.3f) on %d chips", r["method"], r["region"], r["subset"],
                    r["auprc"], r["no_skill"], r["n_chips"])  # fmt: skip
    with atomic_path(metrics_out) as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(curves_out) as tmp:
        pd.concat(curves, ignore_index=True)[CURVE_COLUMNS].to_csv(tmp, index=False)
    attrs = {"band_set": band_set, "n_steps": int(n_steps), "n_after": n_after_, "augment": int(bool(augment)),
             "elevation": int(bool(elevation)), "channels": list(arrays["train"].channels),
             "best_epoch": summary["best_epoch"], "seeds": summary["seeds"]}  # fmt: skip
    if predictions_out is not None:
        _write_predictions(predictions_out, pred_sets, attrs)
    logger.info("experiment done in %.1f s", time.perf_counter() - t0)
    return metrics


