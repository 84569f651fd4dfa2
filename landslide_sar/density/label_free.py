"""The label-free reference row of the density grid: every chip ranked by the share of its pixels
that the label-free z-score detector (landslide_sar.label_free) flags, scored against the density
classes with the table's AUC (macro over the three one-vs-rest AUCs), nothing fitted.

A scalar score orders chips but gives no class probabilities, and the table's AUC needs three.
Each chip's rank u in (0, 1) among the scored chips (ties averaged) becomes the "probabilities"
((1 - u)^2, 2u(1 - u), u^2) of classes 0, 1, 2 (they sum to 1): class 2 is ranked by the score,
class 0 by its reverse, class 1 by closeness to the median chip. Only the class-1 AUC rests on
that choice (the middle class is the middle of the ranking); no label enters it. A chip with no
scored pixel (all masked) ranks lowest. The chips are those every density row is scored on (both
halves' train and val chips, as the oracle's), so one row per number of revisits, no split.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from landslide_sar.density.chip_io import load_chips, open_chips, read_chips_table, sar_channel_groups
from landslide_sar.density.evaluate import CLASSES, METRIC_COLUMNS, class_metrics
from landslide_sar.density.pool import PROB_COLUMNS
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.label_free import SUMMARY_COLUMNS, LabelFreeSettings, chip_summary, label_free_score
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.nn.preprocess import to_db
from landslide_sar.nn.runtime import progress
from landslide_sar.stats import DEFAULT_BOOTSTRAP, auc_interval

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: The subset (and table inputs) name of the label-free rows.
LABEL_FREE = "label_free"
#: The chip summary that ranks the chips.
RANK_BY = "share_above"
SLOPE_CHANNEL = "dem_slope_radians"


def setting(revisits: int) -> str:
    """label_free_r<revisits>: the label-free row's name among the density settings (one place
    builds it; no split: it trains on nothing, so every split scheme and seed shares it)."""
    return f"{LABEL_FREE}_r{int(revisits)}"


def chip_predictions(chips: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """setting(r) -> the label-free "predictions" of every chip at r revisits (chip, density_class,
    prob_class0..2 = rank_probabilities of its share of flagged pixels), from label_free_metrics'
    chips table: what the paired differences compare the nets and the baseline with."""
    missing = [c for c in ("chip", "revisits", "density_class", RANK_BY) if c not in chips.columns]
    if missing:
        raise InputError(f"label-free chips table lacks column(s) {missing}; expected label_free_metrics' chips.csv")
    out = {}
    for r, sub in chips.groupby("revisits", sort=True):
        sub = sub.sort_values("chip")
        prob = rank_probabilities(sub[RANK_BY].to_numpy())
        frame = sub[["chip", "density_class"]].reset_index(drop=True)
        frame[PROB_COLUMNS] = prob
        out[setting(int(r))] = frame
    return out


def rank_probabilities(score: np.ndarray) -> np.ndarray:
    """(n, 3) class "probabilities" ((1 - u)^2, 2u(1 - u), u^2) of each chip's rank u = (rank -
    0.5) / n by `score` (ties averaged; NaN ranks lowest)."""
    s = np.asarray(score, dtype=np.float64)
    if s.size == 0:
        return np.zeros((0, 3))
    finite = np.isfinite(s)
    floor = s[finite].min() - 1.0 if finite.any() else 0.0
    u = (rankdata(np.where(finite, s, floor)) - 0.5) / s.size
    return np.stack([(1.0 - u) ** 2, 2.0 * u * (1.0 - u), u**2], axis=1)


def chip_scores(
    chips_zarr: PathLike, chip_ids: Sequence[int], revisits: Sequence[int], settings: LabelFreeSettings
) -> pd.DataFrame:
    """The label-free summaries (landslide_sar.label_free.SUMMARY_COLUMNS) of every chip and
    number of revisits: columns chip, revisits and the summaries."""
    ds = open_chips(chips_zarr)
    names = [str(c) for c in ds["channel"].values]
    if SLOPE_CHANNEL not in names:
        raise InputError(f"chips lack channel {SLOPE_CHANNEL!r}; expected the density chips")
    groups = {r: sar_channel_groups(names, int(r)) for r in revisits}
    wanted = list(dict.fromkeys(c for g in groups.values() for chans in g.values() for c in chans)) + [SLOPE_CHANNEL]
    ids = np.asarray(chip_ids)
    rows = []
    step = 16
    for s in progress(range(0, ids.size, step), "label-free scores", logger):
        raw = load_chips(ds, ids[s : s + step], wanted)
        slope = np.degrees(raw[:, -1])
        db = to_db(raw[:, :-1])
        for i, chip in enumerate(ids[s : s + step]):
            for r, g in groups.items():
                stack = {k: db[i, [wanted.index(c) for c in chans]] for k, chans in g.items()}
                result = label_free_score(
                    stack["vv_pre"], stack["vh_pre"], stack["vv_post"], stack["vh_post"], slope[i], settings
                )
                rows.append({"chip": int(chip), "revisits": int(r), **chip_summary(result, settings.threshold)})
    return pd.DataFrame(rows, columns=["chip", "revisits", *SUMMARY_COLUMNS])


def label_free_metrics(
    chips_zarr: PathLike,
    chips_table: PathLike,
    revisits: Sequence[int],
    settings: Mapping[str, Any] | None,
    bootstrap: Mapping[str, Any] | None,
    metrics_out: PathLike,
    chips_out: PathLike,
) -> pd.DataFrame:
    """Write the label-free rows (revisits + the metrics layout: seed empty, ensemble False, split
    "both", subset "label_free"; one per number of revisits) and every chip's summaries (chip,
    revisits, density_class, the summaries) over the chips the density rows are scored on (both
    halves' train and val chips). Chips ranked by their share of flagged pixels; AUC as the table's
    (macro one-vs-rest, rank_probabilities) with its stratified bootstrap interval over chips."""
    cfg = LabelFreeSettings.from_config(settings)
    table = read_chips_table(chips_table)
    table = table[table["half"].isin([0, 1]) & table["subset"].isin(["train", "val"])].sort_values("chip")
    if table.empty:
        raise InputError(f"{chips_table}: no chips in train or val; expected a labelled area")
    revisits = sorted({int(r) for r in revisits})
    scores = chip_scores(chips_zarr, table["chip"].to_numpy(), revisits, cfg)
    scores = scores.merge(table[["chip", "density_class"]], on="chip", how="left")
    ev = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}
    rows = []
    for r in revisits:
        sub = scores[scores["revisits"] == r].sort_values("chip")
        y = sub["density_class"].to_numpy(dtype=int)
        prob = rank_probabilities(sub[RANK_BY].to_numpy())
        iv = auc_interval(y, prob, CLASSES, int(ev["samples"]), int(ev["seed"]), float(ev["interval"]))
        row = {
            "revisits": r,
            "seed": pd.NA,
            ENSEMBLE: False,
            "split": "both",
            "subset": LABEL_FREE,
            **class_metrics(y, prob, f"label-free, {r} revisits"),
            "auc_ci_low": iv.low,
            "auc_ci_high": iv.high,
        }
        rows.append(row)
        masked = sub[["n_nodata", "n_water", "n_flat"]].sum()
        logger.info(
            "label-free, %d revisit(s), %d chips: AUC %.3f [%.3f, %.3f]; masked pixels %s, scored %d",
            r,
            len(y),
            row["auc_macro_ovr"],
            iv.low,
            iv.high,
            masked.to_dict(),
            int(sub["n_scored"].sum()),
        )
    metrics = pd.DataFrame(rows, columns=["revisits", *METRIC_COLUMNS]).astype(METRICS_DTYPES)
    with atomic_path(metrics_out) as tmp:
        metrics.to_csv(tmp, index=False)
    with atomic_path(chips_out) as tmp:
        scores[["chip", "revisits", "density_class", *SUMMARY_COLUMNS]].to_csv(tmp, index=False, float_format="%.5g")
    return metrics
