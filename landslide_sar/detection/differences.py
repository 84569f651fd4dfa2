"""The differences the detection findings rest on, computed paired on the same test chips:
SAR+DEM - VV+VH at every revisits, most - fewest revisits for every input set, VV+VH - VV and
VV+VH - VH, every U-Net - the VH-change baseline, and in transfer with - without augmentation and
SAR+DEM - VV+VH on every test region.

Per comparison, within each split seed (chips.split_seeds: its own test chips): member k against
member k (the baseline, one "member", against each) and the ensembles' difference with a paired
bootstrap over chips (the same resampled chips for both, and for every comparison on a region's
test chips: landslide_sar.stats.chip_weights, auprc_samples). Over the split seeds: the mean and
sd of the runs' differences (split seed x training seed) and the mean of the splits' ensemble
differences with the interval of the mean of their bootstrap samples. Verdict: "holds" (a above
b), "reversed" (b above a) or "within noise" (the interval contains 0).
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from landslide_sar.detection.experiments import INPUT_LABELS
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE
from landslide_sar.stats import auprc_samples, chip_weights, difference_cells, mean_sd, percentile_interval, verdict

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
BASELINE = "baseline"  # b of a "net - baseline" comparison: experiment a's own VH-change baseline
DIFFERENCE_COLUMNS = [
    "comparison",
    "experiment",
    "region",
    "subset",
    "a",
    "b",
    "n_splits",
    "n_runs",
    "member_diff",
    "member_diff_sd",
    "ensemble_a",
    "ensemble_b",
    "ensemble_diff",
    "ci_low",
    "ci_high",
    "verdict",
]


def _name(inputs: str, revisits: int, augment: bool) -> str:
    return f"{inputs}_r{revisits}_{'aug' if augment else 'noaug'}"


def comparisons(experiments: Sequence[tuple[str, str]]) -> list[tuple[str, str, str, str]]:
    """(label, experiment, a, b) of every difference the grid holds; experiments are
    (experiment, setting) pairs of one split, setting as Experiment.setting (<inputs>_r<revisits>_<aug|noaug>)."""
    have = set(experiments)
    parsed = {}
    for exp, name in experiments:
        inputs, rest = name.rsplit("_r", 1)
        revisits, aug = rest.split("_")
        parsed[(exp, name)] = (inputs, int(revisits), aug == "aug")
    out: list[tuple[str, str, str, str]] = []

    def add(label: str, exp: str, a: str, b: str) -> None:
        if (exp, a) in have and (b == BASELINE or (exp, b) in have):
            out.append((label, exp, a, b))

    within = [parsed[k] for k in experiments if k[0] == "within"]
    revisits = sorted({r for _, r, _ in within})
    augs = sorted({a for _, _, a in within})
    for aug in augs:
        for r in revisits:
            add(f"SAR+DEM - VV+VH, {r} revisits", "within", _name("fused", r, aug), _name("sar", r, aug))
        for r in revisits:
            for single in ("vv", "vh"):
                add(
                    f"VV+VH - {INPUT_LABELS[single]}, {r} revisits",
                    "within",
                    _name("sar", r, aug),
                    _name(single, r, aug),
                )
        if len(revisits) > 1:
            lo, hi = revisits[0], revisits[-1]
            for inputs in INPUT_LABELS:
                add(
                    f"{INPUT_LABELS[inputs]}: {hi} - {lo} revisits",
                    "within",
                    _name(inputs, hi, aug),
                    _name(inputs, lo, aug),
                )
        if revisits:
            for inputs in INPUT_LABELS:
                hi = revisits[-1]
                add(
                    f"U-Net {INPUT_LABELS[inputs]} - VH change baseline, {hi} revisits",
                    "within",
                    _name(inputs, hi, aug),
                    BASELINE,
                )
    transfer = [parsed[k] for k in experiments if k[0] == "transfer"]
    for inputs, r, aug in transfer:
        if aug:
            add(
                f"{INPUT_LABELS[inputs]}: with - without augmentation",
                "transfer",
                _name(inputs, r, True),
                _name(inputs, r, False),
            )
    for inputs, r, aug in transfer:
        if inputs == "fused":
            tag = "with" if aug else "without"
            add(
                f"SAR+DEM (no elevation) - VV+VH, {tag} augmentation",
                "transfer",
                _name("fused", r, aug),
                _name("sar", r, aug),
            )
    for inputs, r, aug in transfer:
        add(
            f"U-Net {INPUT_LABELS[inputs]}{', aug' if aug else ''} - VH change baseline",
            "transfer",
            _name(inputs, r, aug),
            BASELINE,
        )
    return out


def _members(metrics: pd.DataFrame, method: str, region: str, subset: str) -> pd.Series:
    """AUPRC per member seed (str) of one method on one (region, subset); the baseline: seed ''."""
    m = metrics.assign(seed=metrics["seed"].fillna("").astype(str))
    rows = m[(m["method"] == method) & (m["region"] == region) & (m["subset"] == subset) & (m["seed"] != ENSEMBLE)]
    return rows.set_index("seed")["auprc"]


def _chips(pred: xr.Dataset, region: str, subset: str) -> np.ndarray:
    return np.flatnonzero(
        (np.asarray(pred["region"].values).astype(str) == region)
        & (np.asarray(pred["subset"].values).astype(str) == subset)
    )


def split_of(name: str) -> tuple[str, str]:
    """(setting, split suffix) of an experiment folder name: "fused_r4_noaug_s43" ->
    ("fused_r4_noaug", "_s43"); the first split seed's folders have no suffix."""
    m = re.fullmatch(r"(.+_(?:aug|noaug))(_s\d+)?", name)
    if m is None:
        raise InputError(f"detection experiment {name!r}; expected <inputs>_r<revisits>_<aug|noaug>[_s<seed>]")
    return m.group(1), m.group(2) or ""


def _split_parts(
    metrics: Mapping[tuple[str, str], pd.DataFrame],
    predictions: Mapping[tuple[str, str], xr.Dataset],
    pairs: Sequence[tuple[str, str, str, str]],
    intervals: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Per (label, experiment, a, b) of ONE split and test set (region, subset "test") that a
    holds: the member-wise differences (member k against member k), the ensembles' AUPRC and
    the bootstrap samples of their difference over that split's test chips."""
    n_samples, seed = int(intervals["bootstrap_samples"]), int(intervals["seed"])
    weights: dict[str, np.ndarray] = {}  # per region: the bootstrap samples of its test chips, shared by all
    scored: dict[tuple, tuple[float, np.ndarray]] = {}  # (experiment, name, region, var) -> (AUPRC, samples)

    def score(
        exp: str, name: str, region: str, var: str, pred: xr.Dataset, idx: np.ndarray
    ) -> tuple[float, np.ndarray]:
        key = (exp, name, region, var)
        if key not in scored:
            label = pred["label"].values[idx]
            valid = pred["valid"].values[idx].astype(bool)
            values = pred[var].values[idx].astype(np.float64)
            if region not in weights:
                weights[region] = chip_weights(label.reshape(len(idx), -1).any(axis=1), n_samples, seed)
            one = np.ones((1, len(idx)))
            scored[key] = (
                float(auprc_samples(label, values, valid, one)[0]),
                auprc_samples(label, values, valid, weights[region]),
            )
        return scored[key]

    parts = []
    for label, exp, a, b in pairs:
        pa = predictions[(exp, a)]
        pb = pa if b == BASELINE else predictions[(exp, b)]
        for region in dict.fromkeys(np.asarray(pa["region"].values).astype(str)):
            ia, ib = _chips(pa, region, "test"), _chips(pb, region, "test")
            if not len(ia):
                continue
            same = len(ia) == len(ib) and all(
                np.array_equal(pa[k].values[ia], pb[k].values[ib]) for k in ("row0", "col0", "label")
            )
            if not same:
                raise InputError(f"{exp}/{a} and {exp}/{b}: different test chips of {region}; expected one split")
            est_a, samples_a = score(exp, a, region, "prob", pa, ia)
            est_b, samples_b = (
                score(exp, a, region, "baseline", pa, ia) if b == BASELINE else score(exp, b, region, "prob", pb, ib)
            )
            ma = _members(metrics[(exp, a)], "unet", region, "test")
            mb = (
                _members(metrics[(exp, a)], "handwerger", region, "test")
                if b == BASELINE
                else _members(metrics[(exp, b)], "unet", region, "test")
            )
            if len(mb) == 1 and len(ma) > 1:  # the baseline: one member against each of the net's
                mb = pd.Series(mb.iloc[0], index=ma.index)
            seeds = ma.index.intersection(mb.index)
            parts.append(
                {
                    "comparison": label,
                    "experiment": exp,
                    "region": region,
                    "a": split_of(a)[0],
                    "b": "VH change baseline" if b == BASELINE else split_of(b)[0],
                    "member_diffs": (ma[seeds] - mb[seeds]).to_numpy(dtype=float),
                    "ensemble_a": est_a,
                    "ensemble_b": est_b,
                    "samples": samples_a - samples_b,
                }
            )
    return parts


def difference_rows(
    metrics: Mapping[tuple[str, str], pd.DataFrame],
    predictions: Mapping[tuple[str, str], xr.Dataset],
    experiments: Sequence[tuple[str, str]],
    intervals: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per comparison (label, experiment, a, b) and test region, over every split seed.

    Within each split seed the comparison is paired on that split's test chips (_split_parts);
    over split seeds: the member-wise differences of every run (split seed x training seed)
    give the mean ± sd; the ensembles' AUPRC and their difference are the means over split
    seeds, its interval the percentile interval of the mean of the splits' bootstrap samples
    (each split's test chips resampled on their own)."""
    level = float(intervals["interval"])
    groups: dict[str, list[tuple[str, str]]] = {}
    for exp, name in experiments:
        groups.setdefault(split_of(name)[1], []).append((exp, name))
    parts: list[dict[str, Any]] = []
    for suffix, keys in groups.items():
        settings = [(exp, split_of(name)[0]) for exp, name in keys]
        pairs = [
            (label, exp, a + suffix, b if b == BASELINE else b + suffix) for label, exp, a, b in comparisons(settings)
        ]
        parts += _split_parts(metrics, predictions, pairs, intervals)
    merged: dict[tuple, list[dict[str, Any]]] = {}
    for p in parts:
        merged.setdefault((p["comparison"], p["experiment"], p["region"], p["a"], p["b"]), []).append(p)
    rows = []
    for (label, exp, region, a, b), ps in merged.items():
        diff, sd = mean_sd(np.concatenate([p["member_diffs"] for p in ps]).tolist())
        low, high = percentile_interval(np.mean([p["samples"] for p in ps], axis=0), level)
        est_a, est_b = float(np.mean([p["ensemble_a"] for p in ps])), float(np.mean([p["ensemble_b"] for p in ps]))
        rows.append(
            {
                "comparison": label,
                "experiment": exp,
                "region": region,
                "subset": "test",
                "a": a,
                "b": b,
                "n_splits": len(ps),
                "n_runs": int(sum(len(p["member_diffs"]) for p in ps)),
                "member_diff": diff,
                "member_diff_sd": sd,
                "ensemble_a": est_a,
                "ensemble_b": est_b,
                "ensemble_diff": est_a - est_b,
                "ci_low": low,
                "ci_high": high,
                "verdict": verdict(low, high),
            }
        )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def markdown_differences(table: pd.DataFrame, level: float) -> str:
    """The differences as Markdown: members' mean ± sd, ensembles' difference [interval], verdict."""
    lines = [
        f"| difference (test AUPRC) | experiment | test chips of | runs: mean ± sd | ensembles (mean over splits) | "
        f"{100 * level:g} % interval (chips) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['comparison']} | {r['experiment']} | {r['region']} | "
            + " | ".join(difference_cells(r))
            + f" | {r['verdict']} |"
        )
    lines += [
        "",
        "paired: run against run (the same split seed and training seed; the baseline against every member "
        "of its split) on the same test chips; ensembles: each split seed's ensemble against the other's on "
        "that split's test chips, averaged over the split seeds; the interval is a bootstrap over the test "
        "chips (stratified by chips with / without landslides, the same samples for both), each split's "
        "chips resampled on their own and the differences averaged. holds: the interval is above 0; "
        "reversed: below 0; within noise: it contains 0.",
    ]
    return "\n".join(lines) + "\n"


def detection_differences(
    metrics: Sequence[PathLike],
    predictions: Sequence[PathLike],
    experiments: Sequence[tuple[str, str]],
    intervals: Mapping[str, Any],
    csv_out: PathLike,
    md_out: PathLike,
) -> pd.DataFrame:
    """Write the paired differences of the detection grid (CSV and Markdown); metrics and
    predictions are each experiment's files, in the order of `experiments` ((experiment, name))."""
    if not len(metrics) == len(predictions) == len(experiments):
        raise InputError(
            f"{len(metrics)} metrics and {len(predictions)} predictions files for {len(experiments)} "
            "experiments; expected one of each per experiment"
        )
    keys = [tuple(e) for e in experiments]
    met = {k: pd.read_csv(p, dtype={"seed": str}) for k, p in zip(keys, metrics)}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        pred = {k: xr.open_zarr(p).load() for k, p in zip(keys, predictions)}
    table = difference_rows(met, pred, keys, intervals)
    text = markdown_differences(table, float(intervals["interval"]))
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_out) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    logger.info("detection differences:\n%s", text)
    return table
