"""The differences the detection findings rest on, computed paired on the same test chips:
SAR+DEM - VV+VH at every revisits, most - fewest revisits for every input set, VV+VH - VV and
VV+VH - VH, every U-Net - the VH-change baseline and - the label-free detector, the label-free
detector - the VH-change baseline (both as scored inside one experiment), and in transfer
with - without augmentation and SAR+DEM - VV+VH on every test region; with the `change` input
set also change+DEM - SAR+DEM (within, every revisits; transfer, with and without augmentation).

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
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from landslide_sar.detection.experiments import INPUT_LABELS, Experiment, parse, setting
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import auprc_samples, chip_weights, difference_cells, mean_sd, percentile_interval, verdict

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
BASELINE = "baseline"  # b of a "net - baseline" comparison: experiment a's own VH-change baseline
LABEL_FREE = "label_free"  # b of a "net - label-free" comparison: experiment a's own label-free score
#: b of a comparison against a reference scored inside experiment a -> (its predictions variable,
#: its metrics method, its name in the tables)
REFERENCES = {
    BASELINE: ("baseline", "handwerger", "VH change baseline"),
    LABEL_FREE: ("label_free", "label_free", "label-free detector"),
}
#: b of a "label-free - VH change" comparison: both references as scored inside experiment a (they
#: read no net, so any experiment of those revisits and chips hosts them) -> (the reference a, b)
PAIRED_REFS = "label_free-baseline"
REFERENCE_PAIRS = {PAIRED_REFS: (LABEL_FREE, BASELINE)}
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


def comparisons(experiments: Sequence[Experiment]) -> list[tuple[str, str, str, str]]:
    """(label, experiment, a, b) of every difference the grid holds; experiments: those of one
    split; a and b are settings (Experiment.setting: <inputs>_r<revisits>_<aug|noaug>)."""
    have = {(e.experiment, e.setting) for e in experiments}
    out: list[tuple[str, str, str, str]] = []

    def add(label: str, exp: str, a: str, b: str) -> None:
        if (exp, a) in have and (b in REFERENCES or b in REFERENCE_PAIRS or (exp, b) in have):
            out.append((label, exp, a, b))

    def host(exp: str, revisits: int, augment: bool) -> str:
        """The setting that hosts the references' own comparison: the first input set run."""
        found = [setting(i, revisits, augment) for i in INPUT_LABELS if (exp, setting(i, revisits, augment)) in have]
        return found[0] if found else ""

    within = [(e.inputs, e.revisits, e.augment) for e in experiments if e.experiment == "within"]
    revisits = sorted({r for _, r, _ in within})
    augs = sorted({a for _, _, a in within})
    for aug in augs:
        for r in revisits:
            add(f"SAR+DEM - VV+VH, {r} revisits", "within", setting("fused", r, aug), setting("sar", r, aug))
            add(f"change+DEM - SAR+DEM, {r} revisits", "within", setting("change", r, aug), setting("fused", r, aug))
        for r in revisits:
            for single in ("vv", "vh"):
                add(
                    f"VV+VH - {INPUT_LABELS[single]}, {r} revisits",
                    "within",
                    setting("sar", r, aug),
                    setting(single, r, aug),
                )
        if len(revisits) > 1:
            lo, hi = revisits[0], revisits[-1]
            for inputs in INPUT_LABELS:
                add(
                    f"{INPUT_LABELS[inputs]}: {hi} - {lo} revisits",
                    "within",
                    setting(inputs, hi, aug),
                    setting(inputs, lo, aug),
                )
        for r in revisits:
            label = f"label-free detector - VH change baseline, {r} revisits"
            add(label, "within", host("within", r, aug), PAIRED_REFS)
        if revisits:
            for ref in REFERENCES:
                for inputs in INPUT_LABELS:
                    hi = revisits[-1]
                    add(
                        f"U-Net {INPUT_LABELS[inputs]} - {REFERENCES[ref][2]}, {hi} revisits",
                        "within",
                        setting(inputs, hi, aug),
                        ref,
                    )
    transfer = [(e.inputs, e.revisits, e.augment) for e in experiments if e.experiment == "transfer"]
    for inputs, r, aug in transfer:
        if aug:
            add(
                f"{INPUT_LABELS[inputs]}: with - without augmentation",
                "transfer",
                setting(inputs, r, True),
                setting(inputs, r, False),
            )
    for inputs, r, aug in transfer:
        if inputs == "fused":
            tag = "with" if aug else "without"
            add(
                f"SAR+DEM (no elevation) - VV+VH, {tag} augmentation",
                "transfer",
                setting("fused", r, aug),
                setting("sar", r, aug),
            )
    for inputs, r, aug in transfer:
        if inputs == "change":
            add(
                f"change+DEM - SAR+DEM (no elevation), {'with' if aug else 'without'} augmentation",
                "transfer",
                setting("change", r, aug),
                setting("fused", r, aug),
            )
    if transfer:  # the references read no net and no augmentation: one host tells it
        r, aug = transfer[0][1], transfer[0][2]
        add("label-free detector - VH change baseline", "transfer", host("transfer", r, aug), PAIRED_REFS)
    for ref in REFERENCES:
        for inputs, r, aug in transfer:
            add(
                f"U-Net {INPUT_LABELS[inputs]}{', aug' if aug else ''} - {REFERENCES[ref][2]}",
                "transfer",
                setting(inputs, r, aug),
                ref,
            )
    return out


def _members(metrics: pd.DataFrame, method: str, region: str, subset: str) -> pd.Series:
    """AUPRC per member seed of one method on one (region, subset), the ensemble's row left out;
    the baseline: its one row, seed NA."""
    m = metrics
    rows = m[(m["method"] == method) & (m["region"] == region) & (m["subset"] == subset) & ~m[ENSEMBLE]]
    return rows.set_index("seed")["auprc"]


def _chips(pred: xr.Dataset, region: str, subset: str) -> np.ndarray:
    return np.flatnonzero(
        (np.asarray(pred["region"].values).astype(str) == region)
        & (np.asarray(pred["subset"].values).astype(str) == subset)
    )


def _split_parts(
    metrics: Mapping[tuple[str, str], pd.DataFrame],
    predictions: Mapping[tuple[str, str], xr.Dataset],
    pairs: Sequence[tuple[str, str, str, str]],
    split: str,
    bootstrap: Mapping[str, Any],
) -> list[dict[str, Any]]:
    """Per (label, experiment, a, b) (comparisons: a, b settings) of ONE split (its folder
    suffix, Experiment.split; metrics and predictions keyed by (experiment, name)) and test set
    (region, subset "test") that a holds: the member-wise differences (member k against member
    k), the ensembles' AUPRC and the bootstrap samples of their difference over that split's test chips."""
    n_samples, seed = int(bootstrap["samples"]), int(bootstrap["seed"])
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
    for label, exp, setting_a, setting_b in pairs:
        if setting_b in REFERENCE_PAIRS:
            parts += _reference_parts(metrics, predictions, label, exp, setting_a + split, setting_b, score)
            continue
        a, b = setting_a + split, setting_b if setting_b in REFERENCES else setting_b + split
        pa = predictions[(exp, a)]
        pb = pa if b in REFERENCES else predictions[(exp, b)]
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
            if b in REFERENCES:  # scored inside experiment a: its variable and metrics method
                var, method, _ = REFERENCES[b]
                est_b, samples_b = score(exp, a, region, var, pa, ia)
                mb = _members(metrics[(exp, a)], method, region, "test")
            else:
                est_b, samples_b = score(exp, b, region, "prob", pb, ib)
                mb = _members(metrics[(exp, b)], "unet", region, "test")
            ma = _members(metrics[(exp, a)], "unet", region, "test")
            if b in REFERENCES and len(mb) == 1:  # a reference: one member against each of the net's
                mb = pd.Series(mb.iloc[0], index=ma.index)
            seeds = ma.index.intersection(mb.index)
            parts.append(
                {
                    "comparison": label,
                    "experiment": exp,
                    "region": region,
                    "a": setting_a,
                    "b": REFERENCES[b][2] if b in REFERENCES else setting_b,
                    "member_diffs": (ma[seeds] - mb[seeds]).to_numpy(dtype=float),
                    "ensemble_a": est_a,
                    "ensemble_b": est_b,
                    "samples": samples_a - samples_b,
                }
            )
    return parts


def _reference_parts(
    metrics: Mapping[tuple[str, str], pd.DataFrame],
    predictions: Mapping[tuple[str, str], xr.Dataset],
    label: str,
    exp: str,
    host: str,
    pair: str,
    score: Any,
) -> list[dict[str, Any]]:
    """_split_parts of one REFERENCE_PAIRS comparison hosted by experiment `host` (with its split
    suffix): both references' AUPRC on each test region's chips, one "run" each (nothing trained)."""
    ref_a, ref_b = REFERENCE_PAIRS[pair]
    pred, met = predictions[(exp, host)], metrics[(exp, host)]
    parts = []
    for region in dict.fromkeys(np.asarray(pred["region"].values).astype(str)):
        idx = _chips(pred, region, "test")
        if not len(idx):
            continue
        (est_a, samples_a), (est_b, samples_b) = (
            score(exp, host, region, REFERENCES[r][0], pred, idx) for r in (ref_a, ref_b)
        )
        ma, mb = (_members(met, REFERENCES[r][1], region, "test") for r in (ref_a, ref_b))
        parts.append(
            {
                "comparison": label,
                "experiment": exp,
                "region": region,
                "a": REFERENCES[ref_a][2],
                "b": REFERENCES[ref_b][2],
                "member_diffs": np.array([float(ma.iloc[0]) - float(mb.iloc[0])]),
                "ensemble_a": est_a,
                "ensemble_b": est_b,
                "samples": samples_a - samples_b,
            }
        )
    return parts


def difference_rows(
    metrics: Mapping[tuple[str, str], pd.DataFrame],
    predictions: Mapping[tuple[str, str], xr.Dataset],
    experiments: Sequence[Experiment],
    bootstrap: Mapping[str, Any],
) -> pd.DataFrame:
    """One row per comparison (label, experiment, a, b) and test region, over every split seed.

    Within each split seed the comparison is paired on that split's test chips (_split_parts);
    over split seeds: the member-wise differences of every run (split seed x training seed)
    give the mean ± sd; the ensembles' AUPRC and their difference are the means over split
    seeds, its interval the percentile interval of the mean of the splits' bootstrap samples
    (each split's test chips resampled on their own)."""
    level = float(bootstrap["interval"])
    groups: dict[str, list[Experiment]] = {}
    for e in experiments:
        groups.setdefault(e.split, []).append(e)
    parts: list[dict[str, Any]] = []
    for split, split_experiments in groups.items():
        parts += _split_parts(metrics, predictions, comparisons(split_experiments), split, bootstrap)
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
    metrics: Mapping[str, PathLike],
    predictions: Mapping[str, PathLike],
    detection: Mapping[str, Any],
    bootstrap: Mapping[str, Any],
    csv_out: PathLike,
    md_out: PathLike,
) -> pd.DataFrame:
    """Write the paired differences of the detection grid (CSV and Markdown); metrics and
    predictions: experiment id -> its metrics.csv / predictions.zarr (ids decoded by
    detection.experiments.parse with the config's `detection` section)."""
    if set(metrics) != set(predictions):
        raise InputError(
            f"metrics and predictions of different experiments ({sorted(set(metrics) ^ set(predictions))}); "
            "expected one of each per experiment"
        )
    experiments = [parse(i, detection) for i in metrics]
    met = {(e.experiment, e.name): pd.read_csv(metrics[e.id], dtype=METRICS_DTYPES) for e in experiments}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        pred = {(e.experiment, e.name): xr.open_zarr(predictions[e.id]).load() for e in experiments}
    table = difference_rows(met, pred, experiments, bootstrap)
    text = markdown_differences(table, float(bootstrap["interval"]))
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_out) as tmp:
        with open(tmp, "w") as f:
            f.write(text)
    logger.info("detection differences:\n%s", text)
    return table
