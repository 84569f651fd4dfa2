"""The fused 3-revisit experiment of each float-path variant (tools/float_paths.sh) against the
run it was copied from: the largest change of a percentile feature, and the cross AUC of every
member and of the 3-seed ensemble under each split. Usage:
python tools/float_paths_compare.py RUN_DIR OUT_DIR [variant ...]"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES

SPLITS = ["fused_r3", "fused_r3_s43", "fused_r3_blocked", "fused_r3_blocked_s43"]


def cross(folder: Path) -> dict[str, float]:
    """Cross AUC over both halves, per member seed (its str) and for the ensemble ("ensemble")."""
    m = pd.read_csv(folder / "metrics.csv", dtype={**METRICS_DTYPES, "split": str})
    rows = m[(m.subset == "cross") & (m.split == "both")]
    keys = [ENSEMBLE if ens else str(seed) for seed, ens in zip(rows["seed"], rows[ENSEMBLE])]
    return dict(zip(keys, rows["auc_macro_ovr"]))


def main(run: Path, out: Path, variants: list[str]) -> None:
    base = run / "results/embedded/density"
    for v in variants:
        root = out / v / "results/embedded/density"
        worst = 0.0
        print(f"== {v}")
        for s in SPLITS:
            for h in (0, 1):
                a = pd.read_csv(base / s / f"half{h}/features.csv")
                b = pd.read_csv(root / s / f"half{h}/features.csv")
                num = [c for c in a.select_dtypes("number").columns if c.startswith("p")]
                worst = max(worst, float(np.nanmax(np.abs(a[num].to_numpy() - b[num].to_numpy()))))
            ca, cb = cross(base / s), cross(root / s)
            change = {k: round(cb[k] - ca[k], 3) for k in ca}
            print(f"  {s}: ensemble {ca[ENSEMBLE]:.3f} -> {cb[ENSEMBLE]:.3f}; change per seed {change}")
        print(f"  largest change of a percentile feature: {worst:.3g}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3:] or ["same", "threads2", "nodnn", "sse41"])
