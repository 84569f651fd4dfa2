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

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.density.experiments import BEST, Experiment, parse
from landslide_sar.errors import InputError
from landslide_sar.io import write_json
from landslide_sar.nn import METRICS_DTYPES

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The one-vs-rest AUCs of evaluate_density's metrics that the score averages.
CLASS_AUCS = ["auc_class0", "auc_class1", "auc_class2"]
#: The columns of the validation-score table in the choice file, one row per setting.
SCORE_COLUMNS = ["setting", "inputs", "revisits", "val_auc_mean", "val_auc_sd", "n_scores", "n_undefined"]


def _score_row(setting: str, inputs: str, revisits: int, aucs: Sequence[float], undefined: int) -> dict[str, Any]:
    """One SCORE_COLUMNS row: the mean and sd of a setting's defined validation AUCs, their
    count and how many were undefined."""
    return {
        "setting": setting,
        "inputs": inputs,
        "revisits": int(revisits),
        "val_auc_mean": float(np.mean(aucs)) if len(aucs) else float("nan"),
        "val_auc_sd": float(np.std(aucs, ddof=1)) if len(aucs) > 1 else float("nan"),
        "n_scores": len(aucs),
        "n_undefined": int(undefined),
    }


def validation_scores(metrics: Mapping[str, PathLike | pd.DataFrame], seeds: Sequence[int]) -> pd.DataFrame:
    """Mean and sd of the validation one-vs-rest class AUCs per (inputs, revisits) setting, over
    every class, member (training seed), half and experiment of `metrics` ({experiment id: its
    metrics.csv of evaluate_density}; `seeds`: splits.seeds, to parse the ids): with every AUC
    defined, the mean of the members' macro AUCs. A class AUC that is undefined (the class absent
    from, or alone in, a half's few validation chips) is counted, not averaged, so that a half
    without one class still scores the others; a setting with none defined scores NaN."""
    scores: dict[str, list[float]] = {}
    undefined: dict[str, int] = {}
    settings: dict[str, Experiment] = {}
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
        settings.setdefault(e.base, e)
        scores.setdefault(e.base, []).extend(auc[np.isfinite(auc)].tolist())
        undefined[e.base] = undefined.get(e.base, 0) + int((~np.isfinite(auc)).sum())
    rows = [_score_row(k, e.inputs, e.revisits, scores[k], undefined[k]) for k, e in settings.items()]
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def label_free_validation(chips_csv: PathLike | pd.DataFrame, split_tables: Mapping[str, PathLike]) -> pd.DataFrame:
    """The label-free detector's validation score per number of revisits, as validation_scores'
    rows (inputs label_free): the one-vs-rest class AUCs of its chip ranking (rank_probabilities of
    the flagged share) on each half's validation chips of every split of `split_tables` ({split
    suffix: chip table}), averaged like the nets'. Nothing is fitted, so it is scored, not mapped:
    a ranking gives no density classes."""
    from landslide_sar.density.chip_io import read_chips_table
    from landslide_sar.density.evaluate import CLASSES, class_metrics
    from landslide_sar.density.label_free import LABEL_FREE, RANK_BY, rank_probabilities, setting

    chips = chips_csv if isinstance(chips_csv, pd.DataFrame) else pd.read_csv(chips_csv)
    rows = []
    for revisits, sub in chips.groupby("revisits", sort=True):
        scores, undefined = [], 0
        for split, path in split_tables.items():
            table = read_chips_table(path)
            for half in (0, 1):
                val = table[(table["half"] == half) & (table["subset"] == "val")][["chip", "density_class"]]
                got = val.merge(sub[["chip", RANK_BY]], on="chip", how="inner")
                if len(got) != len(val):
                    raise InputError(
                        f"{chips_csv}: {len(val) - len(got)} validation chip(s) of split {split!r} half {half} "
                        "have no label-free score; expected every train and val chip"
                    )
                m = class_metrics(got["density_class"].to_numpy(dtype=int), rank_probabilities(got[RANK_BY].to_numpy()))
                auc = np.array([m[f"auc_class{c}"] for c in CLASSES], dtype=float)
                scores += auc[np.isfinite(auc)].tolist()
                undefined += int((~np.isfinite(auc)).sum())
        rows.append(_score_row(setting(int(revisits)), LABEL_FREE, int(revisits), scores, undefined))
    return pd.DataFrame(rows, columns=SCORE_COLUMNS)


def choose_density_map(
    map_setting: str | Mapping[str, Any],
    metrics: Mapping[str, PathLike | pd.DataFrame],
    seeds: Sequence[int],
    scheme: str,
    choice_out: PathLike,
    label_free: PathLike | pd.DataFrame | None = None,
    split_tables: Mapping[str, PathLike] | None = None,
) -> dict[str, Any]:
    """Write (and return) the map's choice as JSON: the experiment id under the map's split
    (random, first split seed), the rule (best or config), the validation scores of every setting
    of `metrics` (blocked-split experiments, or `scheme`'s) and the best net (whose embeddings the
    report's example chip shows). `map_setting`: density.map, "best" or {inputs, revisits}. Ties
    go to the setting listed first in `metrics` (the grid's order: simpler inputs, fewer revisits).
    With `label_free` (density_label_free's chips.csv) and the selection scheme's `split_tables`,
    the label-free detector is scored on the same validation chips and recorded beside them (a
    warning when it scores above the chosen map: a chip ranking gives no classes to map)."""
    scores = validation_scores(metrics, seeds) if metrics else pd.DataFrame(columns=SCORE_COLUMNS)
    reference = (
        label_free_validation(label_free, split_tables)
        if label_free is not None and split_tables
        else pd.DataFrame(columns=SCORE_COLUMNS)
    )
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
    ref = reference["val_auc_mean"].to_numpy(dtype=float)
    ref_best = float(np.nanmax(ref)) if np.isfinite(ref).any() else float("nan")
    every = pd.concat([scores, reference], ignore_index=True) if not reference.empty else scores
    choice = {
        "experiment": experiment.id,
        "rule": BEST if map_setting == BEST else "config",
        "scheme": scheme,
        "validation_auc": None if not np.isfinite(score) else round(score, 4),
        "net": net.id if net is not None else None,
        "label_free_validation_auc": round(ref_best, 4) if np.isfinite(ref_best) else None,
        "scores": every.round(4).astype(object).where(every.notna(), None).to_dict(orient="records"),
    }
    ranked_text = ", ".join(
        f"{r.setting} {r.val_auc_mean:.3f}" for r in every.sort_values("val_auc_mean", ascending=False).itertuples()
    )
    log.info(
        "density map: %s (%s; validation AUC under the %s split %s); every setting: %s",
        experiment.id,
        "the best validated" if map_setting == BEST else "density.map",
        scheme,
        "n/a" if choice["validation_auc"] is None else f"{score:.3f}",
        ranked_text or "not scored",
    )
    if np.isfinite(ref_best) and np.isfinite(score) and ref_best > score:
        log.warning(
            "the label-free detector's validation AUC %.3f is above the map's %.3f; the map shows %s (a chip "
            "ranking gives no density classes)",
            ref_best,
            score,
            experiment.id,
        )
    write_json(choice_out, choice)
    return choice
