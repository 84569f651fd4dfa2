"""Which transfer U-Net maps the detection regions: the config's, or the best by VALIDATION score.

`detection.map: best` picks, among the transfer experiments (input set x augmentation), the one
whose U-Net members score the highest mean AUPRC on the training region's validation chips (the
chips early stopping already looked at, never trained on), over every member and split seed. The
reported test AUPRCs (the table, the differences) are never read. The VH-change baseline's and
the label-free detector's validation AUPRCs are recorded beside them, each under its own key: a
map can only come from a model with probabilities, but a reader should see when a reference
would have been the better choice.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.detection.experiments import BEST, Experiment, parse
from landslide_sar.errors import InputError
from landslide_sar.io import read_json, write_json
from landslide_sar.nn import METRICS_DTYPES

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The columns of the validation-score table in the choice file, one row per setting and method.
SCORE_COLUMNS = ["setting", "method", "inputs", "augment", "val_auprc_mean", "val_auprc_sd", "n_scores"]


#: The references scored beside the U-Nets (metrics method -> name), never mapped.
REFERENCES = {"handwerger": "VH-change baseline", "label_free": "label-free detector"}


def _best_of(scores: pd.DataFrame, method: str) -> float:
    """The best mean validation AUPRC of one method over the settings (NaN: none defined)."""
    values = scores.loc[scores["method"] == method, "val_auprc_mean"].to_numpy(dtype=float)
    return float(np.nanmax(values)) if np.isfinite(values).any() else float("nan")


def validation_scores(metrics: Mapping[str, PathLike | pd.DataFrame], detection: Mapping[str, Any]) -> pd.DataFrame:
    """Mean and sd of the validation AUPRC per transfer setting: of the U-Net's members (method
    unet, ensemble rows left out) and of the VH-change baseline (method handwerger), on the
    training region's val chips, over every split seed of `metrics` ({experiment id: its
    metrics.csv of train_detection}; `detection`: the config's section, to parse the ids)."""
    scores: dict[tuple[str, str], list[float]] = {}
    keys: dict[tuple[str, str], Experiment] = {}
    for experiment_id, source in metrics.items():
        e = parse(experiment_id, detection)
        m = source if isinstance(source, pd.DataFrame) else pd.read_csv(source, dtype=METRICS_DTYPES)
        val = m[(m["subset"] == "val") & (m["region"] == e.train_region) & ~m["ensemble"].astype(bool)]
        if not (val["method"] == "unet").any():
            raise InputError(f"{source}: no validation rows of the U-Net; expected train_detection's metrics")
        for method, rows in val.groupby("method", sort=False):
            auprc = rows["auprc"].to_numpy(dtype=float)
            scores.setdefault((e.setting, str(method)), []).extend(auprc[np.isfinite(auprc)].tolist())
            keys[(e.setting, str(method))] = e
    return pd.DataFrame(
        [
            {
                "setting": setting,
                "method": method,
                "inputs": keys[(setting, method)].inputs,
                "augment": bool(keys[(setting, method)].augment),
                "val_auprc_mean": float(np.mean(s)) if s else float("nan"),
                "val_auprc_sd": float(np.std(s, ddof=1)) if len(s) > 1 else float("nan"),
                "n_scores": len(s),
            }
            for (setting, method), s in scores.items()
        ],
        columns=SCORE_COLUMNS,
    )


def choose_detection_map(
    map_setting: str | Mapping[str, Any],
    metrics: Mapping[str, PathLike | pd.DataFrame],
    detection: Mapping[str, Any],
    choice_out: PathLike,
) -> dict[str, Any]:
    """Write (and return) the detection map's choice as JSON: the transfer experiment id (first
    split), the rule (best or config), its validation AUPRC and every setting's (U-Net and
    VH-change baseline). `map_setting`: detection.map, "best" or {inputs, augment}. Ties go to the
    setting listed first (the config's order)."""
    scores = validation_scores(metrics, detection) if metrics else pd.DataFrame(columns=SCORE_COLUMNS)
    nets = scores[(scores["method"] == "unet") & np.isfinite(scores["val_auprc_mean"].to_numpy(dtype=float))]
    if map_setting == BEST:
        if nets.empty:
            raise InputError(
                f"detection.map: best, but no transfer U-Net has a validation AUPRC ({len(metrics)} experiments); "
                "expected landslide pixels in the training region's val chips (detection.chips.val_fraction)"
            )
        top = nets.loc[nets["val_auprc_mean"].idxmax()]
        inputs, augment = str(top["inputs"]), bool(top["augment"])
    else:
        inputs, augment = str(map_setting["inputs"]), bool(map_setting["augment"])
    transfer = detection["transfer"]
    experiment = parse(f"transfer/{inputs}_r{int(transfer['revisits'])}_{'aug' if augment else 'noaug'}", detection)
    row = nets[nets["setting"] == experiment.setting]
    score = float(row["val_auprc_mean"].iloc[0]) if not row.empty else float("nan")
    references = {name: _best_of(scores, method) for method, name in REFERENCES.items()}
    baseline_best = references["VH-change baseline"]
    choice = {
        "experiment": experiment.id,
        "rule": BEST if map_setting == BEST else "config",
        "validation_auprc": round(score, 4) if np.isfinite(score) else None,
        "baseline_validation_auprc": round(baseline_best, 4) if np.isfinite(baseline_best) else None,
        "label_free_validation_auprc": (
            round(references["label-free detector"], 4) if np.isfinite(references["label-free detector"]) else None
        ),
        "scores": scores.round(4).astype(object).where(scores.notna(), None).to_dict(orient="records"),
    }
    log.info(
        "detection map: %s (%s; validation AUPRC on %s's val chips %s; VH-change baseline %s); every setting: %s",
        experiment.id,
        "the best validated" if map_setting == BEST else "detection.map",
        experiment.train_region,
        "n/a" if choice["validation_auprc"] is None else f"{score:.3f}",
        "n/a" if choice["baseline_validation_auprc"] is None else f"{baseline_best:.3f}",
        ", ".join(f"{r.setting} {r.method} {r.val_auprc_mean:.3f}" for r in scores.itertuples()) or "not scored",
    )
    for name, best in references.items():
        if np.isfinite(best) and np.isfinite(score) and best > score:
            log.warning(
                "the %s's validation AUPRC %.3f beats the mapped U-Net's %.3f; the map shows the U-Net (a map needs "
                "probabilities)",
                name,
                best,
                score,
            )
    write_json(choice_out, choice)
    return choice


def read_choice(path: PathLike) -> dict[str, Any]:
    """The choice JSON of choose_detection_map (one place reads it)."""
    return read_json(path, ["experiment"], "choose_detection_map's choice")


def choice_tags(choice: Mapping[str, Any]) -> dict[str, str]:
    """The detection map's provenance tags of a choice: which experiment, why, its validation score."""
    score = choice.get("validation_auprc")
    return {
        "experiment": str(choice["experiment"]),
        "experiment_choice": (
            "best validation AUPRC of the transfer U-Nets" if choice["rule"] == BEST else "detection.map in the config"
        ),
        "validation_auprc": "n/a" if score is None else f"{float(score):.3f}",
    }
