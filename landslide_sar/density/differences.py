"""The differences the density findings rest on, computed paired: fused - SAR-only and each net -
DEM-only at every number of revisits, most - fewest revisits, every net - the change baseline.

Per comparison: the mean and sd over training seeds of the member-wise difference of cross AUC
(member k of one experiment against member k of the other: same chips, same split, same seed),
and the ensembles' difference with its paired bootstrap interval over chips (the same resampled
chips for both; landslide_sar.stats). The verdict says what the interval supports: "holds" (a
above b), "reversed" (b above a) or "within noise".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_sar.density.evaluate import CLASSES, DEFAULT_EVALUATION
from landslide_sar.density.experiments import SCHEME_SUFFIX, experiment_id
from landslide_sar.nn import ENSEMBLE
from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path
from landslide_sar.stats import macro_auc, mean_sd, paired_auc_difference, verdict

log = logging.getLogger(__name__)

DIFFERENCE_COLUMNS = [
    "comparison", "a", "b", "n_seeds", "member_diff", "member_diff_sd", "ensemble_a", "ensemble_b",
    "ensemble_diff", "ci_low", "ci_high", "verdict",
]  # fmt: skip
NAMES = {"dem": "DEM-only", "sar": "SAR-only", "fused": "fused", "baseline": "change baseline"}




def comparisons(experiments: Sequence[tuple]) -> list[tuple[str, str, str]]:
    """(label, a, b) of every difference the findings rest on that the grid holds, under each
    split scheme, and each experiment's first scheme - other scheme (the spatial split's cost)."""
    full = [(*e, "random")[:3] for e in experiments]
    have = {experiment_id(*e) for e in full}
    schemes = list(dict.fromkeys(e[2] for e in full))
    revisits = sorted({int(r) for i, r, _ in full if i != "dem"})
    out: list[tuple[str, str, str]] = []

    def add(label: str, a: str, b: str) -> None:
        if a in have and b in have and a != b:
            out.append((label, a, b))

    for scheme in schemes:
        sfx, tag = SCHEME_SUFFIX[scheme], "" if scheme == schemes[0] else f" ({scheme} split)"
        for r in revisits:
            add(f"fused - SAR-only, {r} revisits{tag}", f"fused_r{r}{sfx}", f"sar_r{r}{sfx}")
            add(f"SAR-only - DEM-only, {r} revisits{tag}", f"sar_r{r}{sfx}", f"dem_r0{sfx}")
            add(f"fused - DEM-only, {r} revisits{tag}", f"fused_r{r}{sfx}", f"dem_r0{sfx}")
        if len(revisits) > 1:
            lo, hi = revisits[0], revisits[-1]
            for inputs in ("sar", "fused", "baseline"):
                add(f"{NAMES[inputs]}: {hi} - {lo} revisits{tag}", f"{inputs}_r{hi}{sfx}", f"{inputs}_r{lo}{sfx}")
        for r in revisits:
            for inputs in ("fused", "sar"):
                add(f"{NAMES[inputs]} - change baseline, {r} revisits{tag}", f"{inputs}_r{r}{sfx}", f"baseline_r{r}{sfx}")
    for scheme in schemes[1:]:
        for inputs, r, s in full:
            if s == schemes[0]:
                name = NAMES.get(inputs, inputs) + ("" if inputs == "dem" else f", {r} revisits")
                add(f"{name}: {schemes[0]} - {scheme} split", experiment_id(inputs, r, s), experiment_id(inputs, r, scheme))
    return out


def _member_cross(metrics: pd.DataFrame) -> pd.Series:
    """Cross AUC over all chips per member seed (str)."""
    m = metrics.assign(seed=metrics["seed"].astype(str), split=metrics["split"].astype(str))
    rows = m[(m["seed"] != ENSEMBLE) & (m["split"] == "both") & (m["subset"] == "cross")]
    return rows.set_index("seed")["auc_macro_ovr"]


def _probabilities(pred: pd.DataFrame) -> pd.DataFrame:
    cols = [f"prob_class{c}" for c in CLASSES]
    missing = [c for c in ["chip", "density_class", *cols] if c not in pred.columns]
    if missing:
        raise InputError(f"predictions lack column(s) {missing}")
    return pred.set_index("chip").sort_index()[["density_class", *cols]]


def difference_rows(
    metrics: Mapping[str, pd.DataFrame], predictions: Mapping[str, pd.DataFrame], pairs: Sequence[tuple[str, str, str]],
    evaluation_cfg: Mapping | None = None,
) -> pd.DataFrame:  # fmt: skip
    """One row per (label, a, b) pair: paired member differences over the seeds both hold, and
    the ensembles' difference with its paired bootstrap interval over the chips both scored."""
    ev = {**DEFAULT_EVALUATION, **(evaluation_cfg or {})}
    rows = []
    for label, a, b in pairs:
        ma, mb = _member_cross(metrics[a]), _member_cross(metrics[b])
        # a baseline has one member: it is paired with every member of the net
        if len(mb) == 1 and len(ma) > 1:
            mb = pd.Series(mb.iloc[0], index=ma.index)
        seeds = ma.index.intersection(mb.index)
        diff_mean, diff_sd = mean_sd((ma[seeds] - mb[seeds]).tolist())
        pa, pb = _probabilities(predictions[a]), _probabilities(predictions[b])
        chips = pa.index.intersection(pb.index)
        if not np.array_equal(pa.loc[chips, "density_class"], pb.loc[chips, "density_class"]):
            raise InputError(f"{a} and {b}: the same chips have different density classes; expected one chip table")
        y = pa.loc[chips, "density_class"].to_numpy(dtype=int)
        cols = [f"prob_class{c}" for c in CLASSES]
        iv = paired_auc_difference(
            y, pa.loc[chips, cols].to_numpy(), pb.loc[chips, cols].to_numpy(), CLASSES,
            int(ev["bootstrap_samples"]), int(ev["seed"]), float(ev["interval"]),
        )  # fmt: skip
        rows.append({
            "comparison": label, "a": a, "b": b, "n_seeds": int(len(seeds)), "member_diff": diff_mean,
            "member_diff_sd": diff_sd, "ensemble_a": float(macro_auc(y, pa.loc[chips, cols].to_numpy(), CLASSES)),
            "ensemble_b": float(macro_auc(y, pb.loc[chips, cols].to_numpy(), CLASSES)), "ensemble_diff": iv.estimate,
            "ci_low": iv.low, "ci_high": iv.high, "verdict": verdict(iv.low, iv.high),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def markdown_differences(table: pd.DataFrame, level: float) -> str:
    """The differences as a Markdown table (member mean ± sd, ensemble difference [interval], verdict)."""
    lines = [
        f"| difference (cross AUC) | members: mean ± sd | ensembles | {100 * level:g} % interval (chips) | verdict |",
        "|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        sd = "" if not np.isfinite(r["member_diff_sd"]) or r["n_seeds"] < 2 else f" ± {r['member_diff_sd']:.3f}"
        lines.append(
            f"| {r['comparison']} | {r['member_diff']:+.3f}{sd} (n={r['n_seeds']}) | "
            f"{r['ensemble_a']:.3f} - {r['ensemble_b']:.3f} = {r['ensemble_diff']:+.3f} | "
            f"{r['ci_low']:+.3f} … {r['ci_high']:+.3f} | {r['verdict']} |"
        )
    lines += ["", "paired: member k against member k (same seed, same split); the interval is a stratified "
              "bootstrap over the chips both experiments scored, the same samples for both. holds: the interval "
              "is above 0; reversed: below 0; within noise: it contains 0."]  # fmt: skip
    return "\n".join(lines) + "\n"


def density_differences(
    metrics_paths: Sequence[str | Path], predictions_paths: Sequence[str | Path], experiments: Sequence[tuple],
    evaluation_cfg: Mapping | None, csv_out: str | Path, markdown_out: str | Path,
) -> pd.DataFrame:  # fmt: skip
    """Write the paired differences of the grid's experiments (CSV and Markdown)."""
    if not (len(metrics_paths) == len(predictions_paths) == len(experiments)):
        raise InputError(
            f"density_differences: {len(metrics_paths)} metrics, {len(predictions_paths)} predictions files for "
            f"{len(experiments)} experiments; expected one of each per experiment"
        )
    ids = [experiment_id(*(*e, "random")[:3]) for e in experiments]
    metrics = {e: pd.read_csv(p) for e, p in zip(ids, metrics_paths)}
    predictions = {e: pd.read_csv(p) for e, p in zip(ids, predictions_paths)}
    table = difference_rows(metrics, predictions, comparisons(experiments), evaluation_cfg)
    level = float({**DEFAULT_EVALUATION, **(evaluation_cfg or {})}["interval"])
    text = markdown_differences(table, level)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(markdown_out) as tmp:
        tmp.write_text(text)
    log.info("density differences:\n%s", text)
    return table
