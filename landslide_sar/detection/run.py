"""One detection experiment end to end, the unit a Snakemake rule runs: chips of the training
region -> seeded train / val / test split (stratified by labelled chips) -> U-Net for one
(input set, revisits, augmentation), early stopping on val -> AUPRC of the U-Net, of the
Handwerger baseline and of the label-free z-score detector on every set and, for transfer, on
the chips of another region, with a bootstrap interval over chips on the evaluated sets ->
metrics CSV, precision-recall curve points CSV, predictions zarr (val and test chips). Test
chips are never used for fitting or selection.
"""

from __future__ import annotations

import json
import logging
import os
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from landslide_sar.detection.baseline import handwerger_score, label_free_score, percentile_map
from landslide_sar.detection.data import (
    INPUTS,
    ChipArrays,
    DetectionChips,
    build_channels,
    detection_chips,
    select_chips,
    split_train_val_test,
)
from landslide_sar.detection.evaluate import CURVE_COLUMNS as PR_COLUMNS
from landslide_sar.detection.evaluate import auprc, binary_scores, no_skill, pr_curve
from landslide_sar.detection.experiments import Experiment
from landslide_sar.detection.predict import predict_chips
from landslide_sar.detection.train import train_detection
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path, zarr_encoding
from landslide_sar.label_free import LabelFreeSettings
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import DEFAULT_BOOTSTRAP, auprc_interval, chip_weights, percentile_interval

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
METRIC_COLUMNS = [
    "method",
    "seed",
    ENSEMBLE,
    "region",
    "subset",
    "auprc",
    "auprc_ci_low",
    "auprc_ci_high",
    "no_skill",
    "no_skill_ci_low",
    "no_skill_ci_high",
    "n_chips",
    "n_labelled_chips",
    "n_pixels",
    "n_positive",
    "precision",
    "recall",
    "f1",
    "threshold",
    "inputs",
    "revisits",
    "n_pre",
    "augment",
    "elevation",
    "split_seed",
]
EVALUATED = (
    "test",
)  # subsets whose rows carry a bootstrap interval (train: fitted on; val: selected on; not reported)
CURVE_COLUMNS = ["method", "seed", ENSEMBLE, "region", "subset", *PR_COLUMNS]
SECTIONS = ("chips", "model", "training", "augment", "evaluation", "baseline")  # of the config's detection section
#: The method name of the label-free detector's rows (landslide_sar.label_free; settings: the
#: config's `label_free` section, passed in the detection settings under that key).
LABEL_FREE = "label_free"


def no_skill_interval(
    label: np.ndarray, valid: np.ndarray, n_samples: int, seed: int, level: float
) -> tuple[float, float]:
    """Percentile interval of the positive pixel fraction (no skill's AUPRC) over the same
    bootstrap samples of chips as auprc_interval."""
    lab = (np.asarray(label) > 0).reshape(len(label), -1)
    pos = lab & valid.reshape(len(label), -1)
    w = chip_weights(lab.any(axis=1), n_samples, seed)
    with np.errstate(invalid="ignore", divide="ignore"):
        return percentile_interval((w @ pos.sum(axis=1)) / (w @ valid.reshape(len(label), -1).sum(axis=1)), level)


def _region_rows(
    method: str,
    region: str,
    subset: str,
    label: np.ndarray,
    score: np.ndarray,
    valid: np.ndarray,
    binary: np.ndarray,
    threshold: float,
    curve_points: int,
    seed: int | None = None,
    bootstrap: Mapping | None = None,
    ensemble: bool = False,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """One metrics row and its PR curve points (curve_points 0: none) for one method (and member
    seed, or the members' mean probability: `ensemble`; seed None: empty) on one chip set; with
    `bootstrap` (samples, seed, interval) the AUPRC's and no skill's bootstrap intervals over
    chips, else NaN."""
    lo = hi = ns_lo = ns_hi = float("nan")
    if bootstrap is not None:
        args = (int(bootstrap["samples"]), int(bootstrap["seed"]), float(bootstrap["interval"]))
        iv = auprc_interval(label, score, valid, *args)
        lo, hi = iv.low, iv.high
        ns_lo, ns_hi = no_skill_interval(label, valid, *args)
    row = {
        "method": method,
        "seed": pd.NA if seed is None else int(seed),
        ENSEMBLE: bool(ensemble),
        "region": region,
        "subset": subset,
        "auprc": auprc(label, score, valid),
        "auprc_ci_low": lo,
        "auprc_ci_high": hi,
        "no_skill": no_skill(label, valid),
        "no_skill_ci_low": ns_lo,
        "no_skill_ci_high": ns_hi,
        "n_chips": int(label.shape[0]),
        "n_labelled_chips": int(((label > 0) & valid).any(axis=(1, 2)).sum()),
        "n_pixels": int(valid.sum()),
        "n_positive": int((label > 0)[valid].sum()),
        **binary_scores(label, binary, valid),
        "threshold": float(threshold),
    }
    if curve_points == 0:  # no curve wanted (ensemble members)
        return row, pd.DataFrame(columns=CURVE_COLUMNS)
    curve = pr_curve(label, score, valid, curve_points)
    curve.insert(0, "subset", subset)
    curve.insert(0, "region", region)
    curve.insert(0, ENSEMBLE, bool(ensemble))
    curve.insert(0, "seed", row["seed"])
    curve.insert(0, "method", method)
    return row, curve


def _write_predictions(
    path: PathLike,
    sets: list[tuple[str, DetectionChips, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
    attrs: dict[str, Any],
) -> None:
    """Zarr for figures: per chip prob, baseline score and map, label-free score, label, valid;
    chip origin in its cube."""
    subsets, regions, chips_all = [], [], []
    names = ("prob", "baseline", "baseline_detected", LABEL_FREE, "label", "valid")
    arrays: dict[str, list[np.ndarray]] = {k: [] for k in names}
    for subset, chips, prob, base, base_map, free, valid in sets:
        subsets += [subset] * len(chips)
        regions += [chips.region] * len(chips)
        chips_all.append(chips)
        arrays["prob"].append(prob.astype(np.float32))  # float32: the differences rescore it
        arrays["baseline"].append(base.astype(np.float32))
        arrays["baseline_detected"].append(base_map.astype(bool))
        arrays[LABEL_FREE].append(free.astype(np.float32))
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
        attrs={
            **attrs,
            "crs": json.dumps({c.region: c.crs for c in chips_all}),
            "description": "prob: U-Net landslide probability (NaN = nodata input); baseline: Handwerger VH "
            "change score in dB (-inf = below the slope mask); baseline_detected: its percentile map; "
            "label_free: the label-free z-score (-inf = masked: no data, water, flat); "
            "row0/col0: chip origin in its region's cube; chip_y/chip_x: pixel centre coordinates",
        },
    )
    enc = {k: {"chunks": (max(1, min(n, 16)), *ds[k].shape[1:])} for k in arrays}
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        ds.to_zarr(tmp, mode="w", encoding=zarr_encoding(ds, enc))


@dataclass(frozen=True)
class Outputs:
    """The files one experiment writes: the trained ensemble (model), its training history, the
    metrics and PR curve points CSVs and the predictions zarr (None: not written)."""

    model: PathLike
    history: PathLike
    metrics: PathLike
    curves: PathLike
    predictions: PathLike | None = None


def _n_positive(chips: DetectionChips) -> np.ndarray:
    """Landslide pixels per chip."""
    return chips.label.reshape(len(chips), -1).sum(axis=1)


def _pre_post(chips: Mapping[str, Any], n_pre: int, revisits: int) -> tuple[int, int]:
    """Acquisitions read before / after the event: chips.max_revisits (an int or a pair) if set,
    else the experiment's own n_pre / revisits."""
    max_revisits = chips.get("max_revisits")
    if max_revisits is None:
        return n_pre, int(revisits)
    pre_post = (
        (int(max_revisits), int(max_revisits)) if isinstance(max_revisits, (int, np.integer)) else tuple(max_revisits)
    )
    if len(pre_post) != 2 or pre_post[0] < n_pre or pre_post[1] < revisits:
        raise InputError(
            f"chips.max_revisits={max_revisits!r}; expected >= n_pre {n_pre} before and revisits {revisits} after"
        )
    return int(pre_post[0]), int(pre_post[1])


def load_chip_sets(
    experiment: Experiment,
    chips: Mapping[str, Any],
    cubes: Mapping[str, PathLike | xr.Dataset],
    event_times: Mapping[str, str | datetime | None],
    n_pre: int,
) -> dict[str, DetectionChips]:
    """The experiment's chip sets: train, val and test of the training region (split by
    experiment.split_seed, stratified by labelled chips; train keeps the chips of
    chips.selection.train, val and test those of chips.selection.evaluation) and, for transfer,
    "transfer": the test region's chips of chips.selection.evaluation."""
    selection = chips["selection"]
    min_pos = int(chips["min_positive_pixels"])
    pre_post = _pre_post(chips, n_pre, experiment.revisits)

    def load(key: str, region: str) -> DetectionChips:
        return detection_chips(
            cubes[key],
            event_times.get(key),
            int(chips["size"]),
            pre_post,
            True,
            min_pos,
            float(chips["min_valid_fraction"]),
            region=region,
        )

    region_chips = load("train", experiment.train_region)
    npos = _n_positive(region_chips)
    split = split_train_val_test(
        npos >= max(1, min_pos), float(chips["val_fraction"]), float(chips["test_fraction"]), experiment.split_seed
    )
    sets: dict[str, DetectionChips] = {}
    for subset, idx in split.items():
        keep = select_chips(npos[idx], selection["train" if subset == "train" else "evaluation"], min_pos)
        sets[subset] = region_chips.subset(idx[keep])
    if experiment.test_region is not None:
        if cubes.get("test") is None:
            raise InputError(f"transfer experiment {experiment.id!r} has no test cube; expected cubes['test']")
        other = load("test", experiment.test_region)
        other = other.subset(np.flatnonzero(select_chips(_n_positive(other), selection["evaluation"], min_pos)))
        if other.region == region_chips.region:
            raise InputError(f"test region {other.region!r} is the training region; expected another region")
        sets["transfer"] = other  # scored as subset "test" of its own region
    if len(sets["train"]) == 0 or not sets["train"].label.any():
        raise InputError(
            f"no train chip with a landslide pixel in {region_chips.region or '?'}; expected a larger region "
            "or test_fraction"
        )
    if len(sets["test"]) == 0:
        raise InputError(
            f"no test chip in {region_chips.region or '?'} (test_fraction {chips['test_fraction']}); "
            "expected at least one"
        )
    return sets


def score_set(
    subset: str,
    chips: DetectionChips,
    arrays: ChipArrays,
    members: np.ndarray,
    seeds: list[int],
    experiment: Experiment,
    detection: Mapping[str, Any],
    n_pre: int,
    bootstrap: Mapping[str, Any] | None,
) -> tuple[list[dict[str, Any]], list[pd.DataFrame], tuple]:
    """Metrics rows (U-Net members, ensemble, baseline, label-free detector), PR curves (ensemble,
    baseline, label-free) and the predictions entry of one chip set; members: each member's
    probabilities of its chips. The label-free score is -inf where it makes no call (masked), so
    such pixels rank lowest and stay in the evaluated pixels (evaluate: non-finite scores)."""
    ev, base_cfg = detection["evaluation"], detection["baseline"]
    thr, points = float(ev["probability_threshold"]), int(ev["curve_points"])
    valid = arrays.valid
    prob = members.mean(axis=0)  # the ensemble: the members' mean probability
    rows, curves = [], []
    for seed, p in [*zip(seeds, members), (None, prob)]:
        ens = seed is None  # members get no curve and no interval (the tables give their mean ± sd)
        row, curve = _region_rows(
            "unet",
            chips.region,
            subset,
            arrays.label,
            p,
            valid,
            p >= thr,
            thr,
            points if ens else 0,
            seed,
            bootstrap if ens else None,
            ensemble=ens,
        )
        rows.append(row)
        if ens:
            curves.append(curve)
    base = handwerger_score(
        chips, experiment.revisits, n_pre, float(base_cfg["min_slope_deg"]), str(base_cfg["direction"])
    )
    base_map, base_thr = percentile_map(base, float(base_cfg["percentile"]), valid)
    row, curve = _region_rows(
        "handwerger", chips.region, subset, arrays.label, base, valid, base_map, base_thr, points, bootstrap=bootstrap
    )
    rows.append(row)
    curves.append(curve)
    free_cfg = LabelFreeSettings.from_config(detection.get(LABEL_FREE))
    free = label_free_score(chips, experiment.revisits, free_cfg)
    row, curve = _region_rows(
        LABEL_FREE,
        chips.region,
        subset,
        arrays.label,
        free,
        valid,
        free > free_cfg.threshold,
        free_cfg.threshold,
        points,
        bootstrap=bootstrap,
    )
    rows.append(row)
    curves.append(curve)
    return rows, curves, (subset, chips, prob, base, base_map, free, valid)


def write_outputs(
    outputs: Outputs,
    metrics: pd.DataFrame,
    curves: list[pd.DataFrame],
    pred_sets: list[tuple],
    attrs: dict[str, Any],
) -> None:
    """The metrics and curves CSVs and (unless outputs.predictions is None) the predictions zarr."""
    with atomic_path(outputs.metrics) as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(outputs.curves) as tmp:
        pd.concat(curves, ignore_index=True)[CURVE_COLUMNS].to_csv(tmp, index=False)
    if outputs.predictions is not None:
        _write_predictions(outputs.predictions, pred_sets, attrs)


def run_detection_experiment(
    experiment: Experiment,
    detection: Mapping[str, Any],
    *,
    cubes: Mapping[str, PathLike | xr.Dataset],
    outputs: Outputs,
    bootstrap: Mapping[str, Any] | None = None,
    threads: int = 1,
    n_pre: int | None = None,
    event_times: Mapping[str, str | datetime | None] | None = None,
) -> pd.DataFrame:
    """Train one U-Net ensemble on the training region's train chips and score it and the baseline.

    experiment: the input set (vv, vh, sar, fused), revisits (acquisitions averaged after the
    event, and before unless n_pre), augmentation, elevation (the DEM elevation channel of fused),
    regions and split seed. detection: the config's `detection` section as
    landslide_sar.config.validate_config leaves it (the schema's defaults filled in); read are
    chips, model, training, augment (only when experiment.augment), evaluation and baseline.
    cubes: "train" (the training region's cube) and, for transfer, "test"; event_times (same
    keys) default to the cubes' `event_time` attributes. bootstrap: the config's `bootstrap`
    section (samples, seed, interval; default DEFAULT_BOOTSTRAP).

    The training region's chips are split train / val / test (chips.val_fraction,
    chips.test_fraction, experiment.split_seed; stratified by labelled chips); train keeps the
    chips of chips.selection.train, val and test (and the test cube's chips) those of
    chips.selection.evaluation. The U-Net is fitted on train, early-stopped on val; test is
    never seen before scoring.

    Writes outputs.metrics CSV (METRIC_COLUMNS; methods unet, handwerger and label_free (the
    label-free detector, settings detection["label_free"], default LabelFreeSettings); subsets train, val,
    test of the training region and test of the test region; intervals on the test rows of the
    ensemble and the reference methods), outputs.curves CSV (CURVE_COLUMNS), outputs.predictions zarr
    (val and test chips, the ensemble's mean probability; None: not written) and, from
    train_detection, outputs.model and outputs.history. U-Net rows come per member (`seed`, the
    training seed) and for the ensemble (`ensemble` True, seed empty: the members' mean
    probability; the baseline's rows: seed empty, ensemble False; read the CSVs back with
    landslide_sar.nn.METRICS_DTYPES); PR curves of the ensemble. Returns the metrics.
    """
    t0 = time.perf_counter()
    missing = [s for s in SECTIONS if s not in detection]
    if missing:
        raise InputError(
            f"detection config lacks section(s) {missing}; expected the detection section of a config "
            "checked by landslide_sar.config.validate_config (it fills in the schema's defaults)"
        )
    if experiment.inputs not in INPUTS:
        raise InputError(f"inputs={experiment.inputs!r}; expected one of {list(INPUTS)}")
    revisits = int(experiment.revisits)
    n_pre_ = revisits if n_pre is None else int(n_pre)
    chips_cfg = detection["chips"]
    bootstrap_cfg = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    sets = load_chip_sets(experiment, chips_cfg, cubes, event_times or {}, n_pre_)
    arrays = {
        k: build_channels(
            v,
            experiment.inputs,
            revisits,
            n_pre_,
            bool(experiment.elevation),
            LabelFreeSettings.from_config(detection.get(LABEL_FREE)),
        )
        for k, v in sets.items()
    }
    logger.info(
        "experiment %s, %d acquisition(s) before / %d after, augment %s, elevation %s: chips %s "
        "(train %s, evaluation %s)",
        experiment.inputs,
        n_pre_,
        revisits,
        experiment.augment,
        experiment.elevation,
        {k: len(v) for k, v in sets.items()},
        chips_cfg["selection"]["train"],
        chips_cfg["selection"]["evaluation"],
    )

    summary = train_detection(
        arrays["train"],
        arrays["val"] if len(arrays["val"]) else None,
        detection["model"],
        detection["training"],
        detection["augment"] if experiment.augment else None,
        threads,
        outputs.model,
        outputs.history,
    )

    # every set in one prediction (one model load); then each set's slice of the chips
    keys = [k for k in sets if len(arrays[k])]
    ends = np.cumsum([len(arrays[k]) for k in keys])
    every = ChipArrays(
        x=np.concatenate([arrays[k].x for k in keys]),
        label=np.concatenate([arrays[k].label for k in keys]),
        channels=arrays["train"].channels,
        is_log=arrays["train"].is_log,
    )
    predicted = predict_chips(
        outputs.model,
        every,
        batch_size=int(detection["evaluation"]["batch_size"]),
        device=str(detection["training"]["device"]),
    )
    seeds = [int(s) for s in summary["seeds"]]
    rows, curves, pred_sets = [], [], []
    for key, end in zip(keys, ends):
        subset = "test" if key == "transfer" else key
        set_rows, set_curves, pred = score_set(
            subset,
            sets[key],
            arrays[key],
            predicted[:, end - len(arrays[key]) : end],
            seeds,
            experiment,
            detection,
            n_pre_,
            bootstrap_cfg if subset in EVALUATED else None,
        )
        rows += set_rows
        curves += set_curves
        if subset != "train":
            pred_sets.append(pred)

    metrics = pd.DataFrame(rows)
    for k, v in (
        ("inputs", experiment.inputs),
        ("revisits", revisits),
        ("n_pre", n_pre_),
        ("augment", bool(experiment.augment)),
        ("elevation", bool(experiment.elevation)),
        ("split_seed", int(experiment.split_seed)),
    ):
        metrics[k] = v
    metrics = metrics[METRIC_COLUMNS].astype(METRICS_DTYPES)
    for _, r in metrics.iterrows():
        logger.info(
            "%-10s %-8s %-10s %-5s AUPRC %.3f [%.3f, %.3f] (no skill %.3f) on %d chips (%d labelled)",
            r["method"],
            ENSEMBLE if r[ENSEMBLE] else ("" if pd.isna(r["seed"]) else r["seed"]),
            r["region"],
            r["subset"],
            r["auprc"],
            r["auprc_ci_low"],
            r["auprc_ci_high"],
            r["no_skill"],
            r["n_chips"],
            r["n_labelled_chips"],
        )
    attrs = {
        "inputs": experiment.inputs,
        "revisits": revisits,
        "n_pre": n_pre_,
        "augment": int(bool(experiment.augment)),
        "elevation": int(bool(experiment.elevation)),
        "channels": list(arrays["train"].channels),
        "best_epoch": summary["best_epoch"],
        "seeds": summary["seeds"],
        "split_seed": int(experiment.split_seed),
    }
    write_outputs(outputs, metrics, curves, pred_sets, attrs)
    logger.info("experiment done in %.1f s", time.perf_counter() - t0)
    return metrics
