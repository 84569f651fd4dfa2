"""All density experiments in one table (CSV + Markdown laid out like the paper's Table 2)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..io import atomic_path

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


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """One row per experiment: train and val AUC (mean over the two halves) and the AUC of the
    cross-prediction over all chips."""
    rows = []
    for (inputs, revisits), df in table.groupby(["inputs", "revisits"], sort=False):
        split = df["split"].astype(str)
        rows.append(
            {
                "inputs": inputs,
                "revisits": int(revisits),
                "train": df.loc[(df["subset"] == "train") & (split != "both"), "auc_macro_ovr"].mean(),
                "val": df.loc[(df["subset"] == "val") & (split != "both"), "auc_macro_ovr"].mean(),
                "cross": df.loc[(df["subset"] == "cross") & (split == "both"), "auc_macro_ovr"].mean(),
            }
        )
    return pd.DataFrame(rows)


def markdown_table(summary: pd.DataFrame, revisits: list[int]) -> str:
    """Rows: input sets; columns: train / val / cross AUC per number of revisits (DEM-only models
    see no SAR, so their one result stands in every column); the paper's rows below."""

    def fmt(v: float | None) -> str:
        return "" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.3f}"

    # train: the forest's out-of-bag AUC on the train chips (the net saw them, those trees did not)
    header = ["experiment"] + [f"{r} revisit{'s' if r > 1 else ''} {k}" for r in revisits for k in ("train (OOB)", "val", "cross")]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for inputs in summary["inputs"].unique():
        cells = [INPUT_NAMES.get(inputs, inputs)]
        for r in revisits:
            row = summary[(summary["inputs"] == inputs) & (summary["revisits"].isin([r, 0]))]
            cells += [fmt(row[k].iloc[0]) if len(row) else "" for k in ("train", "val", "cross")]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("| no skill (random) | " + " | ".join("0.500" for _ in revisits for _ in range(3)) + " |")
    for inputs, name in INPUT_NAMES.items():
        cells = [f"paper: {name}"]
        for r in revisits:
            train, val = PAPER_AUC[inputs].get(r, (None, None))
            cells += [fmt(train), fmt(val), ""]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append(f"| paper: USGS SIAm (landslide level) | " + " | ".join("" for _ in range(3 * len(revisits) - 1)) + f" | {USGS_SIAM_AUC:.2f} |")
    return "\n".join(lines) + "\n"


def density_table(metrics_paths: list[str], experiments: list[tuple[str, int]], csv_out: str | Path, markdown_out: str | Path) -> pd.DataFrame:
    """Concatenate each experiment's metrics, tagged with inputs and revisits, into one CSV and
    write the Markdown summary."""
    frames = []
    for path, (inputs, revisits) in zip(metrics_paths, experiments):
        df = pd.read_csv(path)
        df.insert(0, "revisits", int(revisits))
        df.insert(0, "inputs", inputs)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    revisits = sorted({int(r) for _, r in experiments if int(r) > 0}) or [0]
    text = markdown_table(summarise(table), revisits)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(markdown_out) as tmp:
        tmp.write_text(text)
    log.info("density table:\n%s", text)
    return table
