"""All density experiments in one table (CSV + Markdown laid out like the paper's Table 2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path
from ..nn import ENSEMBLE

log = logging.getLogger(__name__)

# Table 2 of the density paper: (train, val) AUC per input set and post-event revisits, and the
# USGS susceptibility index (measured at landslide level, with many more inputs), for reference.
PAPER_AUC = {
    "dem": {1: (0.705, 0.698), 2: (0.699, 0.687), 3: (0.701, 0.692)},
    "sar": {1: (0.710, 0.708), 2: (0.715, 0.710), 3: (0.742, 0.740)},
    "fused": {1: (0.801, 0.782), 2: (0.828, 0.805), 3: (0.831, 0.814)},
}
USGS_SIAM_AUC = 0.87
INPUT_NAMES = {"dem": "DEM only", "sar": "SAR only", "fused": "DEM + SAR fused"}
#: Reference rows beside the nets (not in the paper's table).
REFERENCE_NAMES = {"baseline": "change statistics + DEM, forest (no net)"}


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment, over its members (training seeds): mean and sd of the train and
    val AUC (each member's mean over the two halves) and of the cross-prediction AUC over all
    chips; `ensemble`: the cross AUC of the members' mean probabilities; n_seeds."""
    rows = []
    table = table.assign(seed=table["seed"].astype(str) if "seed" in table else "0")
    for (inputs, revisits), df in table.groupby(["inputs", "revisits"], sort=False):
        split = df["split"].astype(str)
        members = df[df["seed"] != ENSEMBLE]
        per_seed = {}
        for key, sel in (
            ("train", (members["subset"] == "train") & (split != "both")),
            ("val", (members["subset"] == "val") & (split != "both")),
            ("cross", (members["subset"] == "cross") & (split == "both")),
        ):
            per_seed[key] = members[sel.reindex(members.index, fill_value=False)].groupby("seed")["auc_macro_ovr"].mean()
        row = {"inputs": inputs, "revisits": int(revisits), "n_seeds": int(members["seed"].nunique())}
        for key, v in per_seed.items():
            row[key] = float(v.mean()) if len(v) else float("nan")
            row[f"{key}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
        ens = df[(df["seed"] == ENSEMBLE) & (df["subset"] == "cross")]
        row["ensemble"] = float(ens["auc_macro_ovr"].iloc[0]) if len(ens) else row["cross"]
        for bound in ("auc_ci_low", "auc_ci_high"):
            has = len(ens) and bound in ens.columns
            row[f"ensemble_{bound[4:]}"] = float(ens[bound].iloc[0]) if has else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame, revisits: list[int], level: float = 0.95, oracle: pd.DataFrame | None = None) -> str:
    """Rows: input sets; columns per number of revisits: train (OOB) / val / cross AUC as mean ±
    sd over the training seeds, and the cross AUC of the seeds' ensemble (DEM-only models see no
    SAR, so their one result stands in every column); the paper's rows below."""

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
    lines.append("| no skill (random) | " + " | ".join("0.500" for _ in revisits for _ in kinds) + " |")
    for _, o in (oracle if oracle is not None else pd.DataFrame()).iterrows():
        cell = f"{o['auc_macro_ovr']:.3f} [{o['auc_ci_low']:.2f}, {o['auc_ci_high']:.2f}]"
        cells = ["", "", cell, ""] * len(revisits)
        lines.append("| oracle: the twin's true expected counts (information limit) | " + " | ".join(cells) + " |")
    for inputs, name in INPUT_NAMES.items():
        cells = [f"paper: {name}"]
        for r in revisits:
            train, val = PAPER_AUC[inputs].get(r, (None, None))
            cells += [fmt(train), fmt(val), "", ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| paper: USGS SIAm (landslide level) | " + " | ".join("" for _ in range(len(kinds) * len(revisits) - 2)) + f" | {USGS_SIAM_AUC:.2f} | |")
    n = sorted(set(summary["n_seeds"].tolist()))
    lines.append("")
    lines.append(
        f"mean ± sd over {', '.join(map(str, n))} training seed(s) per experiment; ensemble: the seeds' mean "
        f"probabilities, with its {100 * level:g} % stratified bootstrap interval over chips in brackets; the change baseline "
        "has one member (no net: its forest's seed is fixed). Paired differences: differences.md."
    )
    return "\n".join(lines) + "\n"


def density_table(
    metrics_paths: list[str], experiments: list[tuple[str, int]], csv_out: str | Path, markdown_out: str | Path,
    interval_level: float = 0.95, oracle_paths: Sequence[str | Path] = (),
) -> pd.DataFrame:  # fmt: skip
    """Concatenate each experiment's metrics, tagged with inputs and revisits, into one CSV and
    write the Markdown summary; oracle_paths (synthetic areas: density_oracle's metrics) add the
    information-limit row (inputs "oracle")."""
    frames = []
    for path, (inputs, revisits) in zip(metrics_paths, experiments):
        df = pd.read_csv(path)
        df.insert(0, "revisits", int(revisits))
        df.insert(0, "inputs", inputs)
        frames.append(df)
    oracle = [pd.read_csv(p).assign(seed=lambda d: d["seed"].astype(str)) for p in oracle_paths]
    table = pd.concat(frames, ignore_index=True)
    revisits = sorted({int(r) for _, r in experiments if int(r) > 0}) or [0]
    text = markdown_table(summarise(table), revisits, interval_level, pd.concat(oracle) if oracle else None)
    for o in oracle:
        table = pd.concat([table, o.assign(inputs="oracle", revisits=0)], ignore_index=True)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(markdown_out) as tmp:
        tmp.write_text(text)
    log.info("density table:\n%s", text)
    return table
