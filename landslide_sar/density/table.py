"""All density experiments in one table (CSV + Markdown), next to the paper's figures."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from ..io import atomic_path

log = logging.getLogger(__name__)

# Table 2 of the density paper (validation AUC of the fused model per post-event revisits) and
# the USGS susceptibility index, for reference beside our numbers.
PAPER_FUSED_VAL_AUC = {1: 0.782, 2: 0.805, 3: 0.814}
USGS_SIAM_AUC = 0.87


def density_table(metrics_paths: list[str], experiments: list[tuple[str, int]], csv_out: str | Path, markdown_out: str | Path) -> pd.DataFrame:
    """Concatenate each experiment's metrics (tagged with inputs and revisits) and write a
    Markdown summary: train/val AUC per half-mean and the cross-predicted AUC."""
    frames = []
    for path, (inputs, revisits) in zip(metrics_paths, experiments):
        df = pd.read_csv(path)
        df.insert(0, "revisits", int(revisits))
        df.insert(0, "inputs", inputs)
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    rows = []
    for (inputs, revisits), df in table.groupby(["inputs", "revisits"], sort=False):
        def auc(subset: str, split: str | None = None) -> float:
            sel = df[(df["subset"] == subset) & ((df["split"].astype(str) == split) if split else (df["split"].astype(str) != "both"))]
            return float(sel["auc_macro_ovr"].mean())

        paper = PAPER_FUSED_VAL_AUC.get(int(revisits)) if inputs == "fused" else None
        rows.append(
            {
                "experiment": f"{inputs}, {revisits} revisit(s)",
                "train AUC": auc("train"),
                "val AUC": auc("val"),
                "cross AUC (all chips)": auc("cross", "both"),
                "paper val AUC": paper if paper is not None else float("nan"),
            }
        )
    summary = pd.DataFrame(rows)
    lines = [
        "| " + " | ".join(summary.columns) + " |",
        "|" + "---|" * len(summary.columns),
        *("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row) + " |" for row in summary.itertuples(index=False)),
        f"| no skill (random) | 0.500 | 0.500 | 0.500 | |",
        f"| USGS SIAm (paper, landslide level) | | | | {USGS_SIAM_AUC:.2f} |",
    ]
    with atomic_path(markdown_out) as tmp:
        tmp.write_text("\n".join(lines).replace("nan", "") + "\n")
    log.info("density table:\n%s", "\n".join(lines))
    return table
