"""The differences the density findings rest on, computed paired: fused - SAR-only and each net -
DEM-only at every number of revisits, the change net - fused (when the grid has the `change`
input set), most - fewest revisits, every net - the change baseline, and the baseline, SAR-only
and the change net - the label-free detector (when its chips table is given).

Per comparison: the mean and sd over runs (training seed x split seed) of the run-wise difference
of cross AUC (member k of one experiment against member k of the other under the same split:
same chips, same halves, same seed), and the difference of the ensembles over all runs (each
chip's probabilities averaged over the runs, density.pool) with its paired bootstrap interval
over chips (the same resampled chips for both; landslide_sar.stats). The verdict says what the
interval supports: "holds" (a above b), "reversed" (b above a) or "within noise".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_sar.density.evaluate import CLASSES
from landslide_sar.density.experiments import Experiment, parse
from landslide_sar.density.label_free import chip_predictions
from landslide_sar.density.label_free import setting as label_free_setting
from landslide_sar.density.pool import PROB_COLUMNS, pool_runs
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import METRICS_DTYPES
from landslide_sar.stats import DEFAULT_BOOTSTRAP, difference_cells, macro_auc, mean_sd, paired_auc_difference, verdict

log = logging.getLogger(__name__)

DIFFERENCE_COLUMNS = [
    "comparison",
    "a",
    "b",
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
NAMES = {"dem": "DEM-only", "sar": "SAR-only", "fused": "fused", "change": "change net", "baseline": "change baseline"}


def comparisons(experiments: Sequence[Experiment], references: Sequence[str] = ()) -> list[tuple[str, str, str]]:
    """(label, a, b) of every difference the findings rest on that the grid holds, under each
    split scheme, and each experiment's first scheme - other scheme (the spatial split's cost);
    a and b are settings (Experiment.setting: every split seed of a scheme pooled) or, as b, a
    reference that trains on nothing (`references`: label_free.setting, one for every scheme)."""
    full = list(dict.fromkeys((e.inputs, int(e.revisits), e.scheme) for e in experiments))
    have = {Experiment(*e).setting for e in full} | set(references)
    schemes = list(dict.fromkeys(e[2] for e in full))
    revisits = sorted({int(r) for i, r, _ in full if i != "dem"})
    out: list[tuple[str, str, str]] = []

    def add(label: str, a: str, b: str) -> None:
        if a in have and b in have and a != b:
            out.append((label, a, b))

    for scheme in schemes:
        tag = "" if scheme == schemes[0] else f" ({scheme} split)"

        def name(inputs: str, r: int, scheme: str = scheme) -> str:
            return Experiment(inputs, r, scheme).setting

        for r in revisits:
            add(f"fused - SAR-only, {r} revisits{tag}", name("fused", r), name("sar", r))
            add(f"SAR-only - DEM-only, {r} revisits{tag}", name("sar", r), name("dem", 0))
            add(f"fused - DEM-only, {r} revisits{tag}", name("fused", r), name("dem", 0))
            add(f"change net - fused, {r} revisits{tag}", name("change", r), name("fused", r))
        if len(revisits) > 1:
            lo, hi = revisits[0], revisits[-1]
            for inputs in ("sar", "fused", "change", "baseline"):
                add(f"{NAMES[inputs]}: {hi} - {lo} revisits{tag}", name(inputs, hi), name(inputs, lo))
        for r in revisits:
            for inputs in ("fused", "sar", "change"):
                add(f"{NAMES[inputs]} - change baseline, {r} revisits{tag}", name(inputs, r), name("baseline", r))
        for r in revisits:
            for inputs in ("baseline", "sar", "change"):
                label = f"{NAMES[inputs]} - label-free detector, {r} revisits{tag}"
                add(label, name(inputs, r), label_free_setting(r))
    for scheme in schemes[1:]:
        for inputs, r, s in full:
            if s == schemes[0]:
                name = NAMES.get(inputs, inputs) + ("" if inputs == "dem" else f", {r} revisits")
                add(
                    f"{name}: {schemes[0]} - {scheme} split",
                    Experiment(inputs, r, s).setting,
                    Experiment(inputs, r, scheme).setting,
                )
    return out


def _member_cross(metrics: pd.DataFrame) -> pd.Series:
    """Cross AUC over all chips per run, indexed "<split seed>/<training seed>"."""
    m = metrics.assign(split=metrics["split"].astype(str))
    if "split_seed" not in m.columns:
        m = m.assign(split_seed="0")
    rows = m[m["seed"].notna() & (m["split"] == "both") & (m["subset"] == "cross")]
    return rows.set_index(rows["split_seed"].astype(str) + "/" + rows["seed"].astype(int).astype(str))["auc_macro_ovr"]


def _paired_runs(ma: pd.Series, mb: pd.Series) -> pd.Series:
    """Run-wise a - b over the runs both hold; b with one member per split (the baseline: no
    net) is paired with every member of a under the same split."""
    split_of = lambda idx: pd.Index([i.split("/")[0] for i in idx])  # noqa: E731
    if len(mb) and split_of(mb.index).is_unique and not split_of(ma.index).is_unique:
        by_split = pd.Series(mb.to_numpy(), index=split_of(mb.index))
        keep = split_of(ma.index).isin(by_split.index)
        mb = pd.Series(by_split.loc[split_of(ma.index)[keep]].to_numpy(), index=ma.index[keep])
    runs = ma.index.intersection(mb.index)
    return ma[runs] - mb[runs]


def difference_rows(
    metrics: Mapping[str, pd.DataFrame],
    predictions: Mapping[str, Sequence[pd.DataFrame]],
    pairs: Sequence[tuple[str, str, str]],
    bootstrap: Mapping | None = None,
) -> pd.DataFrame:
    """One row per (label, a, b) pair: paired run differences over the runs both hold, and the
    difference of the ensembles over all runs with its paired bootstrap interval over chips.
    metrics[e]: every run's metrics of experiment e (column split_seed); predictions[e]: one
    predictions table per split seed (a single table counts as one)."""
    ev = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    rows = []
    cols = PROB_COLUMNS
    for label, a, b in pairs:
        diff = _paired_runs(_member_cross(metrics[a]), _member_cross(metrics[b]))
        diff_mean, diff_sd = mean_sd(diff.tolist())
        runs = [predictions[e] if isinstance(predictions[e], (list, tuple)) else [predictions[e]] for e in (a, b)]
        pa, pb = (pool_runs(r) for r in runs)
        chips = pa.index.intersection(pb.index)
        if not np.array_equal(pa.loc[chips, "density_class"], pb.loc[chips, "density_class"]):
            raise InputError(f"{a} and {b}: the same chips have different density classes; expected one chip table")
        y = pa.loc[chips, "density_class"].to_numpy(dtype=int)
        iv = paired_auc_difference(
            y,
            pa.loc[chips, cols].to_numpy(),
            pb.loc[chips, cols].to_numpy(),
            CLASSES,
            int(ev["samples"]),
            int(ev["seed"]),
            float(ev["interval"]),
        )
        rows.append(
            {
                "comparison": label,
                "a": a,
                "b": b,
                "n_runs": int(len(diff)),
                "member_diff": diff_mean,
                "member_diff_sd": diff_sd,
                "ensemble_a": float(macro_auc(y, pa.loc[chips, cols].to_numpy(), CLASSES)),
                "ensemble_b": float(macro_auc(y, pb.loc[chips, cols].to_numpy(), CLASSES)),
                "ensemble_diff": iv.estimate,
                "ci_low": iv.low,
                "ci_high": iv.high,
                "verdict": verdict(iv.low, iv.high),
            }
        )
    return pd.DataFrame(rows, columns=DIFFERENCE_COLUMNS)


def markdown_differences(table: pd.DataFrame, level: float) -> str:
    """The differences as a Markdown table (member mean ± sd, ensemble difference [interval], verdict)."""
    lines = [
        f"| difference (cross AUC) | runs: mean ± sd | ensembles | {100 * level:g} % interval (chips) | verdict |",
        "|---|---|---|---|---|",
    ]
    for _, r in table.iterrows():
        lines.append(f"| {r['comparison']} | " + " | ".join(difference_cells(r)) + f" | {r['verdict']} |")
    lines += [
        "",
        "paired: member k against member k under the same split (same training seed, same split seed; "
        "n: the runs); ensembles: each chip's probabilities averaged over all runs; the interval is a stratified "
        "bootstrap over the chips both experiments scored, the same samples for both. holds: the interval "
        "is above 0; reversed: below 0; within noise: it contains 0.",
    ]
    return "\n".join(lines) + "\n"


def density_differences(
    metrics: Mapping[str, str | Path],
    predictions: Mapping[str, str | Path],
    split_seeds: Sequence[int],
    bootstrap: Mapping | None,
    csv_out: str | Path,
    markdown_out: str | Path,
    label_free_chips: str | Path | None = None,
) -> pd.DataFrame:
    """Write the paired differences of the grid's experiments (CSV and Markdown); metrics and
    predictions: experiment id -> its metrics.csv / predictions.csv (ids decoded by
    density.experiments.parse with splits.seeds `split_seeds`); label_free_chips: the label-free
    detector's chips.csv (rule density_label_free), compared as b with the baseline and the nets
    (its one "run" against every run of a, under each split seed)."""
    if set(metrics) != set(predictions):
        raise InputError(
            f"density_differences: metrics and predictions of different experiments "
            f"({sorted(set(metrics) ^ set(predictions))}); expected one of each per experiment"
        )
    experiments = [parse(e, split_seeds) for e in metrics]
    runs: dict[str, list[pd.DataFrame]] = {}
    pooled: dict[str, list[pd.DataFrame]] = {}
    for e in experiments:
        runs.setdefault(e.setting, []).append(
            pd.read_csv(metrics[e.id], dtype=METRICS_DTYPES).assign(split_seed=str(e.split_seed))
        )
        pooled.setdefault(e.setting, []).append(pd.read_csv(predictions[e.id]))
    references = []
    if label_free_chips is not None:
        for name, frame in chip_predictions(pd.read_csv(label_free_chips)).items():
            references.append(name)
            pooled[name] = [frame]
            auc = float(macro_auc(frame["density_class"].to_numpy(dtype=int), frame[PROB_COLUMNS].to_numpy(), CLASSES))
            runs[name] = [
                pd.DataFrame({"seed": [0], "split": ["both"], "subset": ["cross"], "auc_macro_ovr": [auc]}).assign(
                    split_seed=str(seed)
                )
                for seed in dict.fromkeys(str(e.split_seed) for e in experiments)
            ]
    by_setting = {k: pd.concat(v, ignore_index=True) for k, v in runs.items()}
    table = difference_rows(by_setting, pooled, comparisons(experiments, references), bootstrap)
    level = float({**DEFAULT_BOOTSTRAP, **(bootstrap or {})}["interval"])
    text = markdown_differences(table, level)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(markdown_out) as tmp:
        tmp.write_text(text)
    log.info("density differences:\n%s", text)
    return table
