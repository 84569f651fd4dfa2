"""Which experiment maps an area: the config's, or the best by VALIDATION score.

`density.map: best` picks, among every experiment of the density grid (the nets and the change
baseline, each (inputs, revisits) setting), the one whose forests score the highest mean one-vs-rest AUC
on their halves' validation chips under the blocked split (the random split when the config has
no blocked one). The reported cross-prediction AUCs (the table, the differences) are never read:
choosing on them would report the winner's luck. The map is then drawn from the chosen setting's
cross-prediction under the map's split (random, first split seed), as before.

The validation sets are small (splits.val_fraction of each half's chips), so each member's AUC on
them is noisy and sometimes undefined (a class absent); the score is the mean of the one-vs-rest
class AUCs over every class, member, half and split seed where they are defined, and its count
and spread are recorded beside it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.density.experiments import BEST, Experiment, parse
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import METRICS_DTYPES

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The one-vs-rest AUCs of evaluate_density's metrics that the score averages.
CLASS_AUCS = ["auc_class0", "auc_class1", "auc_class2"]
#: The columns of the validation-score table in the choice file, one row per setting.
SCORE_COLUMNS = ["setting", "inputs", "revisits", "val_auc_mean", "val_auc_sd", "n_scores", "n_undefined"]


def validation_scores(metrics: Mapping[str, PathLike | pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """Mean and sd of the validation one-vs-rest class AUCs per (inputs, revisits) setting, over
    every class, member (training seed), half and experiment of `metrics` ({experiment id: its
    metrics.csv of evaluate_density}; `seeds`: splits.seeds, to parse the ids): with every AUC
    defined, the mean of the members' macro AUCs. A class AUC that is undefined (the class absent
    from, or alone in, a half's few validation chips) is counted, not averaged, so that a half
    without one class still scores the others; a setting with none defined scores NaN."""
    scores: dict[tuple[str, int], list[float]] = {}
    undefined: dict[tuple[str, int], int] = {}
    for experiment_id, source in metrics.items():
        e = parse(experiment_id, seeds)
        m = source if isinstance(source, pd.DataFrame) else pd.read_csv(source, dtype=METRICS_DTYPES)
        missing = {"seed", "ensemble", "split", "subset", *CLASS_AUCS} - set(m.columns)
        if missing:
            raise InputError(f"{source}: no column(s) {sorted(missing)}; expected evaluate_density's metrics")
        val = m[(m["subset"] == "val") & ~m["ensemble"].astype(bool) & m["split"].astype(str).isin(["0", "1"])]
        if val.empty:
            raise InputError(f"{source}: no validation rows (subset val, split 0 and 1); expected evaluate_density's")
        auc = val[CLASS_AUCS].to_numpy(dtype=float).ravel()
        key = (e.inputs, int(e.revisits))
        scores.setdefault(key, []).extend(auc[np.isfinite(auc)].tolist())
        undefined[key] = undefined.get(key, 0) + int((~np.isfinite(auc)).sum())
    rows = [
        {
            "setting": f"{inputs}_r{revisits}",
            "inputs": inputs,
            "revisits": revisits,
            "val_auc_mean": float(np.mean(s)) if s else float("nan"),
            "val_auc_sd": float(np.std(s, ddof=1)) if len(s) > 1 else float("nan"),
            "n_scores": len(s),
            "n_undefined": undefined[(inputs, revisits)],
        }
        for (inputs, revisits), s in scores.items()
    ]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def choose_density_map(
    map_setting: str | Mapping[str, Any],
    metrics: Mapping[str, PathLike | pd.DataFrame],
    seeds: Sequence[int],
    scheme: str,
    choice_out: PathLike,
) -> dict[str, Any]:
    """Write (and return) the map's choice as JSON: the experiment id under the map's split
    (random, first split seed), the rule (best or config), the validation scores of every setting
    of `metrics` (blocked-split experiments, or `scheme`'s) and the best net (whose embeddings the
    report's example chip shows). `map_setting`: density.map, "best" or {inputs, revisits}. Ties
    go to the setting listed first in `metrics` (the grid's order: simpler inputs, fewer revisits)."""
    scores = validation_scores(metrics, seeds) if metrics else pd.DataFrame(columns=SCORE_COLUMNS)
    first = int(seeds[0])
    if map_setting == BEST:
        ranked = scores[np.isfinite(scores["val_auc_mean"].to_numpy(dtype=float))]
        if ranked.empty:
            raise InputError(
                f"density.map: best, but no experiment has a defined validation AUC under the {scheme} split "
                f"({len(scores)} settings); expected validation chips of every class (splits.val_fraction)"
            )
        best = ranked.loc[ranked["val_auc_mean"].idxmax()]
        chosen = (str(best["inputs"]), int(best["revisits"]))
    else:
        inputs = str(map_setting["inputs"])
        chosen = (inputs, 0 if inputs == "dem" else int(map_setting["revisits"]))
    experiment = Experiment(chosen[0], chosen[1], "random", first, True)
    nets = scores[(scores["inputs"] != "baseline") & np.isfinite(scores["val_auc_mean"].to_numpy(dtype=float))]
    if chosen[0] != "baseline":
        net = experiment
    elif not nets.empty:
        top = nets.loc[nets["val_auc_mean"].idxmax()]
        net = Experiment(str(top["inputs"]), int(top["revisits"]), "random", first, True)
    else:
        net = None
    row = scores[scores["setting"] == experiment.base]
    score = float(row["val_auc_mean"].iloc[0]) if not row.empty else float("nan")
    choice = {
        "experiment": experiment.id,
        "rule": BEST if map_setting == BEST else "config",
        "scheme": scheme,
        "validation_auc": None if not np.isfinite(score) else round(score, 4),
        "net": net.id if net is not None else None,
        "scores": scores.round(4).astype(object).where(scores.notna(), None).to_dict(orient="records"),
    }
    ranked_text = ", ".join(
        f"{r.setting} {r.val_auc_mean:.3f}" for r in scores.sort_values("val_auc_mean", ascending=False).itertuples()
    )
    log.info(
        "density map: %s (%s; validation AUC under the %s split %s); every setting: %s",
        experiment.id,
        "the best validated" if map_setting == BEST else "density.map",
        scheme,
        "n/a" if choice["validation_auc"] is None else f"{score:.3f}",
        ranked_text or "not scored",
    )
    with atomic_path(choice_out) as tmp:
        Path(tmp).write_text(json.dumps(choice, indent=2) + "\n")
    return choice


def read_choice(path: PathLike) -> dict[str, Any]:
    """The choice JSON of choose_density_map (one place reads it)."""
    choice = json.loads(Path(path).read_text())
    if "experiment" not in choice:
        raise InputError(f"{path}: no 'experiment'; expected choose_density_map's choice")
    return choice


def choice_tags(choice: Mapping[str, Any]) -> dict[str, str]:
    """The map's provenance tags of a choice: which experiment, why, and its validation score."""
    score = choice.get("validation_auc")
    return {
        "experiment": str(choice["experiment"]),
        "experiment_choice": (
            f"best validation AUC under the {choice['scheme']} split"
            if choice["rule"] == BEST
            else "density.map in the config"
        ),
        "validation_auc": "n/a" if score is None else f"{float(score):.3f}",
    }
