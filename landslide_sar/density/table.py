"""All density experiments in one table (CSV + Markdown laid out like the paper's Table 2)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_sar.errors import InputError

from ..io import atomic_path
from ..nn import ENSEMBLE, METRICS_DTYPES
from ..stats import DEFAULT_BOOTSTRAP, auc_interval
from .experiments import parse
from .pool import CLASSES, pool_runs

log = logging.getLogger(__name__)

# Table 2 of the density paper: (train, val) AUC per input set and post-event revisits, and the
# USGS susceptibility index (measured at landslide level, with many more inputs), for reference.
PAPER_AUC = {
    "dem": {1: (0.705, 0.698), 2: (0.699, 0.687), 3: (0.701, 0.692)},
    "sar": {1: (0.710, 0.708), 2: (0.715, 0.710), 3: (0.742, 0.740)},
    "fused": {1: (0.801, 0.782), 2: (0.828, 0.805), 3: (0.831, 0.814)},
}
USGS_SIAM_AUC = 0.87
INPUT_NAMES = {"dem": "DEM only", "sar": "SAR only", "fused": "DEM + SAR fused", "change": "DEM + SAR change"}
#: The oracle rows of a synthetic area (density.oracle), by subset.
ORACLE_NAMES = {
    "oracle_rate": "oracle: the twin's true expected counts (information limit)",
    "oracle_dem": "oracle: the terrain part of the twin's rate (what the DEM can know)",
}
#: Reference rows beside the nets (not in the paper's table).
REFERENCE_NAMES = {
    "baseline": "change statistics + DEM, forest (no net)",
    "label_free": "label-free z-score detector, chips ranked by flagged share (no training)",
}


#: split_seed of the rows that pool every split seed (the ensemble over all runs of an experiment).
ALL_SPLITS = "all"


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment, over its runs (training seed x split seed): mean and sd of the
    train and val AUC (each run's mean over the two halves) and of the cross-prediction AUC over
    all chips; `ensemble`: the cross AUC of the runs' mean probabilities (the split_seed "all"
    row when there, else the one split's members' mean) with its interval; `ensemble_split_sd`:
    the sd over split seeds of each split's ensemble; n_seeds, n_splits, n_runs. Members: the
    rows with a (training) seed; the ensemble: the rows flagged `ensemble`."""
    rows = []
    if "seed" not in table:  # one member, seed 0
        table = table.assign(seed=pd.array([0] * len(table), dtype="Int64"), **{ENSEMBLE: False})
    table = table.assign(split_seed=table["split_seed"].astype(str) if "split_seed" in table else "0")
    for (inputs, revisits), df in table.groupby(["inputs", "revisits"], sort=False):
        split = df["split"].astype(str)
        members = df[df["seed"].notna()]
        run = members["split_seed"] + "/" + members["seed"].astype(int).astype(str)
        per_run = {}
        for key, sel in (
            ("train", (members["subset"] == "train") & (split != "both")),
            ("val", (members["subset"] == "val") & (split != "both")),
            ("cross", (members["subset"] == "cross") & (split == "both")),
        ):
            sel = sel.reindex(members.index, fill_value=False)
            per_run[key] = members[sel].groupby(run[sel])["auc_macro_ovr"].mean()
        row = {
            "inputs": inputs,
            "revisits": int(revisits),
            "n_seeds": int(members["seed"].nunique()),
            "n_splits": int(members["split_seed"].nunique()),
            "n_runs": int(run.nunique()),
        }
        for key, v in per_run.items():
            row[key] = float(v.mean()) if len(v) else float("nan")
            row[f"{key}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        ens = df[df[ENSEMBLE] & (df["subset"] == "cross")]
        per_split = ens[ens["split_seed"] != ALL_SPLITS]
        pooled = ens[ens["split_seed"] == ALL_SPLITS]
        best = pooled if len(pooled) else per_split
        row["ensemble"] = float(best["auc_macro_ovr"].iloc[0]) if len(best) else row["cross"]
        for bound in ("auc_ci_low", "auc_ci_high"):
            has = len(best) and bound in best.columns
            row[f"ensemble_{bound[4:]}"] = float(best[bound].iloc[0]) if has else float("nan")
        row["ensemble_split_sd"] = float(per_split["auc_macro_ovr"].std(ddof=1)) if len(per_split) > 1 else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def pooled_ensemble_rows(
    predictions: dict[tuple, list[pd.DataFrame]], bootstrap: Mapping | None = None
) -> pd.DataFrame:
    """Per experiment (inputs, revisits, scheme): the ensemble over every run, i.e. each chip's
    cross-predicted probabilities averaged over the split seeds' predictions (each already the
    training seeds' mean; every chip is cross-predicted under every split), its class metrics and
    stratified bootstrap interval over chips. Rows tagged split_seed "all"."""
    from .evaluate import class_metrics  # scikit-learn: not for the figures' env

    ev = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    rows = []
    for (inputs, revisits, scheme), frames in predictions.items():
        pooled = pool_runs(frames)
        y = pooled["density_class"].to_numpy(dtype=int)
        prob = pooled[[f"prob_class{c}" for c in CLASSES]].to_numpy()
        iv = auc_interval(y, prob, CLASSES, int(ev["samples"]), int(ev["seed"]), float(ev["interval"]))
        rows.append(
            {
                "inputs": inputs,
                "revisits": int(revisits),
                "scheme": scheme,
                "split_seed": ALL_SPLITS,
                "seed": pd.NA,
                ENSEMBLE: True,
                "split": "both",
                "subset": "cross",
                **class_metrics(y, prob, f"{inputs}_r{revisits} {scheme} all splits"),
                "auc_ci_low": iv.low,
                "auc_ci_high": iv.high,
            }
        )
    return pd.DataFrame(rows).astype(METRICS_DTYPES) if rows else pd.DataFrame(rows)


def markdown_table(
    summary: pd.DataFrame,
    revisits: list[int],
    level: float = 0.95,
    oracle: pd.DataFrame | None = None,
    label_free: pd.DataFrame | None = None,
) -> str:
    """Rows: input sets; columns per number of revisits: train (OOB) / val / cross AUC as mean ±
    sd over the training seeds, and the cross AUC of the seeds' ensemble (DEM-only models see no
    SAR, so their one result stands in every column); the label-free detector (one value per
    revisits, in the cross column: nothing trained, every chip scored), the oracle and the
    paper's rows below."""

    def fmt(v: float | None, sd: float | None = None) -> str:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            return ""
        return f"{v:.3f}" if sd is None or np.isnan(sd) else f"{v:.3f} ± {sd:.3f}"

    # train: the forest's out-of-bag AUC on the train chips (the net saw them, those trees did not)
    kinds = ("train (OOB)", "val", "cross", "cross, ensemble")
    header = ["experiment"] + [f"{r} revisit{'s' if r > 1 else ''} {k}" for r in revisits for k in kinds]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for inputs in summary["inputs"].unique():
        cells = [INPUT_NAMES.get(inputs) or REFERENCE_NAMES.get(inputs, inputs)]
        for r in revisits:
            row = summary[(summary["inputs"] == inputs) & (summary["revisits"].isin([r, 0]))]
            if not len(row):
                cells += [""] * len(kinds)
                continue
            x = row.iloc[0]
            ens = fmt(x["ensemble"])
            if np.isfinite(x.get("ensemble_ci_low", np.nan)):
                ens += f" [{x['ensemble_ci_low']:.2f}, {x['ensemble_ci_high']:.2f}]"
            cells += [fmt(x["train"], x["train_sd"]), fmt(x["val"], x["val_sd"]), fmt(x["cross"], x["cross_sd"]), ens]
        lines.append("| " + " | ".join(cells) + " |")
    if label_free is not None and len(label_free):
        cells = []
        for r in revisits:
            row = label_free[label_free["revisits"] == r]
            cell = ""
            if len(row):
                o = row.iloc[0]
                cell = f"{o['auc_macro_ovr']:.3f} [{o['auc_ci_low']:.2f}, {o['auc_ci_high']:.2f}]"
            cells += ["", "", cell, ""]
        lines.append(f"| {REFERENCE_NAMES['label_free']} | " + " | ".join(cells) + " |")
    lines.append("| no skill (random) | " + " | ".join("0.500" for _ in revisits for _ in kinds) + " |")
    for _, o in (oracle if oracle is not None else pd.DataFrame()).iterrows():
        cell = f"{o['auc_macro_ovr']:.3f} [{o['auc_ci_low']:.2f}, {o['auc_ci_high']:.2f}]"
        cells = ["", "", cell, ""] * len(revisits)
        lines.append(f"| {ORACLE_NAMES.get(o['subset'], o['subset'])} | " + " | ".join(cells) + " |")
    for inputs, name in INPUT_NAMES.items():
        if inputs not in PAPER_AUC:  # change: not in the paper
            continue
        cells = [f"paper: {name}"]
        for r in revisits:
            train, val = PAPER_AUC[inputs].get(r, (None, None))
            cells += [fmt(train), fmt(val), "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(
        "| paper: USGS SIAm (landslide level) | "
        + " | ".join("" for _ in range(len(kinds) * len(revisits) - 2))
        + f" | {USGS_SIAM_AUC:.2f} | |"
    )
    n = sorted(set(summary["n_seeds"].tolist()))
    n_splits = sorted(set(summary.get("n_splits", pd.Series([1])).tolist()))
    lines.append("")
    lines.append(
        f"mean ± sd over the runs of each experiment: {', '.join(map(str, n))} training seed(s) x "
        f"{', '.join(map(str, n_splits))} split seed(s) (splits.seeds); ensemble: the runs' mean "
        "probabilities, with its "
        f"{100 * level:g} % stratified bootstrap interval over chips in brackets; the change baseline has one member "
        "per split (no net: its forest's seed is fixed). Paired differences: differences.md."
    )
    return "\n".join(lines) + "\n"


def markdown_schemes(table: pd.DataFrame, schemes: list[str]) -> str:
    """Cross AUC of every experiment under each split scheme side by side (members' mean ± sd,
    ensemble) and the gap of each scheme to the first (ensembles)."""
    summaries = {s: summarise(table[table["scheme"] == s]).set_index(["inputs", "revisits"]) for s in schemes}
    header = [
        "experiment",
        *[f"{s} cross" for s in schemes],
        *[f"{s} ensemble" for s in schemes],
        *[f"{schemes[0]} - {s}" for s in schemes[1:]],
    ]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key in summaries[schemes[0]].index:
        inputs, revisits = key
        name = INPUT_NAMES.get(inputs) or REFERENCE_NAMES.get(inputs, inputs)
        cells = [f"{name}{'' if int(revisits) == 0 else f', {revisits} revisits'}"]
        rows = [summaries[s].loc[key] if key in summaries[s].index else None for s in schemes]
        for r in rows:
            sd = "" if r is None or not np.isfinite(r["cross_sd"]) else f" ± {r['cross_sd']:.3f}"
            cells.append("" if r is None else f"{r['cross']:.3f}{sd}")
        cells += ["" if r is None else f"{r['ensemble']:.3f}" for r in rows]
        cells += ["" if r is None else f"{rows[0]['ensemble'] - r['ensemble']:+.3f}" for r in rows[1:]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        f"The same experiments under each split scheme (splits.schemes); {schemes[0]} is the table above. "
        "blocked: whole spatial blocks of chips per half, so a chip's neighbours are (but at block edges) in "
        "its own half: what a model scores on another region's ground. Intervals of the gaps: differences.md.",
    ]
    return "\n".join(lines) + "\n"


def density_table(
    metrics: Mapping[str, str | Path],
    split_seeds: Sequence[int],
    csv_out: str | Path,
    markdown_out: str | Path,
    interval_level: float = 0.95,
    oracle_paths: Sequence[str | Path] = (),
    predictions: Mapping[str, str | Path] | None = None,
    bootstrap: Mapping | None = None,
    label_free_paths: Sequence[str | Path] = (),
) -> pd.DataFrame:
    """Concatenate each experiment's metrics (metrics: experiment id -> its metrics.csv, in the
    table's order; ids decoded by density.experiments.parse with splits.seeds `split_seeds`),
    tagged with inputs, revisits, split scheme and split seed, into one CSV and write the Markdown
    summary. predictions (experiment id -> predictions.csv, the same ids) add the ensemble over
    every run of an experiment (pooled_ensemble_rows: split_seed "all"); oracle_paths (synthetic
    areas: density_oracle's metrics) add the information-limit row (inputs "oracle");
    label_free_paths (density_label_free's metrics) the label-free rows (inputs "label_free")."""
    if predictions and set(predictions) != set(metrics):
        raise InputError(
            f"density_table: predictions of {sorted(set(predictions) ^ set(metrics))} without metrics or the "
            "reverse; expected one of each per experiment"
        )
    experiments = [parse(e, split_seeds) for e in metrics]
    frames = []
    pooled: dict[tuple, list[pd.DataFrame]] = {}
    for e in experiments:
        df = pd.read_csv(metrics[e.id], dtype=METRICS_DTYPES)
        df.insert(0, "split_seed", str(e.split_seed))
        df.insert(0, "scheme", e.scheme)
        df.insert(0, "revisits", int(e.revisits))
        df.insert(0, "inputs", e.inputs)
        frames.append(df)
        if predictions:
            pooled.setdefault((e.inputs, int(e.revisits), e.scheme), []).append(pd.read_csv(predictions[e.id]))
    oracle = [pd.read_csv(p, dtype=METRICS_DTYPES) for p in oracle_paths]
    free = [pd.read_csv(p, dtype=METRICS_DTYPES) for p in label_free_paths]
    table = pd.concat(frames, ignore_index=True)
    n_splits = table.groupby(["inputs", "revisits", "scheme"])["split_seed"].nunique()
    if pooled and n_splits.max() > 1:  # one split: its own ensemble row is the pooled one
        table = pd.concat([table, pooled_ensemble_rows(pooled, bootstrap)], ignore_index=True)
    revisits = sorted({int(e.revisits) for e in experiments if int(e.revisits) > 0}) or [0]
    schemes = list(dict.fromkeys(table["scheme"]))
    first = table[table["scheme"] == schemes[0]]
    text = markdown_table(
        summarise(first),
        revisits,
        interval_level,
        pd.concat(oracle) if oracle else None,
        pd.concat(free) if free else None,
    )
    if len(schemes) > 1:
        text += "\n" + markdown_schemes(table, schemes)
    for o in oracle:
        table = pd.concat(
            [table, o.assign(inputs="oracle", revisits=0, scheme=schemes[0], split_seed=ALL_SPLITS)], ignore_index=True
        )
    for f in free:  # its own revisits column; one row per number of revisits
        table = pd.concat(
            [table, f.assign(inputs="label_free", scheme=schemes[0], split_seed=ALL_SPLITS)], ignore_index=True
        )
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(markdown_out) as tmp:
        tmp.write_text(text)
    log.info("density table:\n%s", text)
    return table
