"""Random forest on the percentile features, AUCs per half and of the combined cross-prediction.

For half k the forest is fitted on half k's TRAIN chips (features from model k) and scored on
half k's train and val chips and on the other half's chips (cross). Combined, every chip is
predicted by the models (net + forest) of the half it does NOT belong to: that is the map's AUC.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import confusion_matrix

from landslide_sar.density.chip_io import read_chips_table
from landslide_sar.density.map import CLASSES
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import DEFAULT_BOOTSTRAP, auc_interval, binary_auc

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
METRIC_COLUMNS = [
    "seed",
    ENSEMBLE,
    "split",
    "subset",
    "n_chips",
    "auc_macro_ovr",
    "auc_ci_low",
    "auc_ci_high",
    "auc_class0",
    "auc_class1",
    "auc_class2",
    "accuracy",
]
PREDICTION_COLUMNS = ["chip", "half", "density_class", "predicted_class", "prob_class0", "prob_class1", "prob_class2"]
#: predictions_val.csv: each half's val chips predicted by its own models (what calibration is fitted on)
VALIDATION_COLUMNS = ["chip", "half", "subset", "density_class", "predicted_class", *PREDICTION_COLUMNS[4:]]
SPREAD_COLUMNS = ["prob_class0_sd", "prob_class1_sd", "prob_class2_sd"]


def class_metrics(y: np.ndarray, prob: np.ndarray, where: str = "") -> dict:
    """n_chips, macro one-vs-rest AUC, per-class one-vs-rest AUC and accuracy of (n, 3) probabilities.

    An AUC that is undefined (its class absent from, or the only class in, `y`) is NaN with a log
    warning; the macro AUC is NaN unless all three per-class AUCs are defined.
    """
    y = np.asarray(y, dtype=int)
    prob = np.asarray(prob, dtype=float)
    row: dict = {"n_chips": int(y.size)}
    per_class = []
    for c in CLASSES:  # stats.binary_auc: sklearn's roc_auc_score on ranks, without its 15 ms of checks per call
        auc = float(binary_auc(y == c, prob[:, c]))
        per_class.append(auc)
        row[f"auc_class{c}"] = auc
    if all(np.isfinite(per_class)):
        row["auc_macro_ovr"] = float(np.mean(per_class))  # macro one-vs-rest: the mean of the classes' AUCs
    else:
        absent = [c for c, a in zip(CLASSES, per_class) if not np.isfinite(a)]
        logger.warning(
            "%s: AUC undefined for class(es) %s (%d chips, classes %s): NaN",
            where,
            absent,
            y.size,
            sorted(set(y.tolist())),
        )
        row["auc_macro_ovr"] = float("nan")
    row["accuracy"] = float(np.mean(prob.argmax(axis=1) == y)) if y.size else float("nan")
    return row


def read_features(features: PathLike | pd.DataFrame) -> dict[int, pd.DataFrame]:
    """A features CSV of predict_density as {seed: the member's features (chip + percentiles)}."""
    df = features if isinstance(features, pd.DataFrame) else pd.read_csv(features)
    if "seed" not in df.columns:
        df = df.assign(seed=0)
    return {int(seed): part.drop(columns="seed") for seed, part in df.groupby("seed", sort=True)}


def member_seeds(frames: list[dict[int, pd.DataFrame]], where: str) -> list[int]:
    """The seeds present in every features file (each must hold the same members)."""
    seeds = [sorted(f) for f in frames]
    if any(s != seeds[0] for s in seeds):
        raise InputError(f"{where}: the features files hold different seeds {seeds}; expected the same members")
    return seeds[0]


def member_features(features: PathLike | pd.DataFrame, chips: np.ndarray, where: str) -> np.ndarray:
    """Feature rows (all columns but chip) of ONE member for the chip ids, in their order."""
    df = features if isinstance(features, pd.DataFrame) else pd.read_csv(features)
    df = df.drop(columns="seed", errors="ignore").set_index("chip")
    absent = np.setdiff1d(chips, df.index.to_numpy())
    if absent.size:
        raise InputError(f"{where}: no features for chip ids {absent[:5].tolist()} (of {absent.size})")
    return df.loc[chips].to_numpy(dtype=np.float64)


def forest_proba(forest: RandomForestClassifier, x: np.ndarray) -> np.ndarray:
    """(n, 3) class probabilities; a class the forest never saw gets 0."""
    out = np.zeros((x.shape[0], len(CLASSES)))
    if x.shape[0]:
        out[:, forest.classes_.astype(int)] = forest.predict_proba(x)
    return out


def _out_of_bag(forest: RandomForestClassifier, train: pd.DataFrame, half: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Out-of-bag class probabilities of the train chips (a forest scored on the very chips it
    was fitted on gives AUC 1 and says nothing). Chips that were in every tree's bootstrap have
    no out-of-bag score: they are left out of the train row, and the log says how many."""
    oob = np.zeros((len(train), len(CLASSES)))
    oob[:, forest.classes_.astype(int)] = forest.oob_decision_function_
    scored = np.isfinite(oob).all(axis=1) & (oob.sum(axis=1) > 0)
    if not scored.all():
        logger.warning(
            "half %d: %d of %d train chips have no out-of-bag score (too few trees); left out of the train AUC",
            half,
            int((~scored).sum()),
            len(train),
        )
    return oob[scored], train[scored]


def fit_forest(
    x_train: np.ndarray, y_train: np.ndarray, forest_cfg: Mapping, threads: int = 1
) -> RandomForestClassifier:
    """The random forest of one half's train chips (forest_cfg: n_estimators, seed); out-of-bag
    scores kept for the train row (each train chip scored by the trees that did not see it)."""
    forest = RandomForestClassifier(
        n_estimators=int(forest_cfg["n_estimators"]),
        random_state=int(forest_cfg["seed"]),
        n_jobs=threads,
        oob_score=True,
    )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some inputs do not have OOB scores")
        forest.fit(x_train, y_train)
    return forest


def check_forest_cfg(forest_cfg: Mapping) -> None:
    if "seed" not in forest_cfg or "n_estimators" not in forest_cfg:
        raise InputError(f"forest_cfg={dict(forest_cfg)}; expected keys seed and n_estimators")


def train_val_table(chips_table: PathLike | pd.DataFrame) -> pd.DataFrame:
    """The chip table's train and val chips of halves 0 and 1, with checked density classes."""
    table = read_chips_table(chips_table)
    table = table[table["half"].isin([0, 1]) & table["subset"].isin(["train", "val"])]
    bad = sorted(set(table["density_class"].tolist()) - set(CLASSES))
    if bad:
        raise InputError(f"density_class values {bad} in the chip table; expected {list(CLASSES)}")
    return table


def fit_half_forest(
    table: pd.DataFrame, features: PathLike | pd.DataFrame, half: int, forest_cfg: Mapping, threads: int = 1
) -> tuple[RandomForestClassifier, pd.DataFrame]:
    """The forest of one member's half: fitted on that half's train chips of the chip table
    (train_val_table) with the member's features; returns it and those train chips. The one
    place both evaluate_density and density_forests fit, so the saved trees are the scored ones."""
    train = table[(table["half"] == half) & (table["subset"] == "train")]
    if train.empty:
        raise InputError(f"half {half} has no train chips in the chip table; expected some")
    x_train = member_features(features, train["chip"].to_numpy(), f"features of half {half}")
    return fit_forest(x_train, train["density_class"].to_numpy(dtype=int), forest_cfg, threads), train


def _evaluate_member(
    table: pd.DataFrame, feats: dict[int, pd.DataFrame], forest_cfg: Mapping, threads: int, where: str
) -> tuple[list[dict], dict[int, np.ndarray], np.ndarray, dict[int, np.ndarray]]:
    """One member: a forest per half on its train chips, scored on train (out of bag), val and
    the other half (cross). Returns the metric rows, each half's cross-predicted probabilities,
    the pooled train class counts and each half's val chips' probabilities (its own models':
    what a calibration is fitted on)."""
    rows: list[dict] = []
    cross_prob: dict[int, np.ndarray] = {}  # half h's chips, predicted by the other half's models
    val_prob: dict[int, np.ndarray] = {}  # half h's val chips, predicted by its own models
    priors = []
    for k in (0, 1):
        mine, other = table[table["half"] == k], table[table["half"] == 1 - k]
        forest, train = fit_half_forest(table, feats[k], k, forest_cfg, threads)
        y_train = train["density_class"].to_numpy(dtype=int)
        priors.append(np.bincount(y_train, minlength=len(CLASSES))[: len(CLASSES)])
        for subset, chips in (("train", train), ("val", mine[mine["subset"] == "val"]), ("cross", other)):
            if subset == "train":
                prob, chips = _out_of_bag(forest, chips, k)
            else:
                prob = forest_proba(
                    forest, member_features(feats[k], chips["chip"].to_numpy(), f"features of half {k}")
                )
            if subset == "cross":
                cross_prob[1 - k] = prob
            elif subset == "val":
                val_prob[k] = prob
            y = chips["density_class"].to_numpy(dtype=int)
            rows.append({"split": str(k), "subset": subset, **class_metrics(y, prob, f"{where}half {k} {subset}")})
    return rows, cross_prob, np.sum(priors, axis=0), val_prob


def evaluate_density(
    chips_table: PathLike | pd.DataFrame,
    features_half0: PathLike | pd.DataFrame,
    features_half1: PathLike | pd.DataFrame,
    forest_cfg: Mapping,
    metrics_out: PathLike,
    predictions_out: PathLike,
    *,
    bootstrap: Mapping | None = None,
    threads: int = 1,
    predictions_val_out: PathLike | None = None,
) -> None:
    """Per member (training seed) of the halves' models: fit one forest per half, score it,
    cross-predict every chip; then score the members' mean probabilities (the ensemble).

    metrics_out CSV: seed (the member's training seed, an integer; empty on the ensemble's and the
    no_skill rows), ensemble (True on the rows scoring the members' mean probabilities; read back
    with landslide_sar.nn.METRICS_DTYPES), split (0, 1, both), subset (train, val, cross,
    no_skill), n_chips, auc_macro_ovr, auc_ci_low, auc_ci_high, auc_class0..2, accuracy. The
    interval (rows of split "both") is the stratified bootstrap over chips of bootstrap (the
    config's `bootstrap`: samples, seed, interval; landslide_sar.stats). The no_skill row scores
    the combined set with the pooled train class prior as a constant probability (AUC 0.5,
    accuracy = majority class). predictions_out CSV: chip, half, density_class, predicted_class,
    prob_class0..2 (the members' mean) and prob_class0..2_sd (their spread over members), one row
    per non-excluded chip, predicted by the other half's models. The ensemble's confusion matrix
    (rows true class, columns predicted) goes to <metrics_out stem>_confusion.csv beside it.
    The forests themselves are saved by density_forests (the same trees), for rapid response.
    predictions_val_out CSV (VALIDATION_COLUMNS): the val chips of each half predicted by that
    half's own models (members' mean), the only rows a calibration is fitted on (subset "val").
    """
    check_forest_cfg(forest_cfg)
    table = train_val_table(chips_table)
    ev = {**DEFAULT_BOOTSTRAP, **(bootstrap or {})}

    def interval(y: np.ndarray, prob: np.ndarray) -> dict:
        iv = auc_interval(y, prob, CLASSES, int(ev["samples"]), int(ev["seed"]), float(ev["interval"]))
        return {"auc_ci_low": iv.low, "auc_ci_high": iv.high}

    frames = [read_features(features_half0), read_features(features_half1)]
    seeds = member_seeds(frames, "evaluate_density")
    rows: list[dict] = []
    members_prob: list[dict[int, np.ndarray]] = []
    members_val: list[dict[int, np.ndarray]] = []
    prior = np.zeros(len(CLASSES))
    y_half = {h: table.loc[table["half"] == h, "density_class"].to_numpy(dtype=int) for h in (0, 1)}
    y_all = np.concatenate([y_half[0], y_half[1]])
    for seed in seeds:
        where = f"seed {seed} " if len(seeds) > 1 else ""
        member_rows, cross_prob, counts, val_prob = _evaluate_member(
            table, {0: frames[0][seed], 1: frames[1][seed]}, forest_cfg, threads, where
        )
        prob = np.concatenate([cross_prob[0], cross_prob[1]])
        member_rows.append(
            {
                "split": "both",
                "subset": "cross",
                **class_metrics(y_all, prob, f"{where}both cross"),
                **interval(y_all, prob),
            }
        )
        rows += [{"seed": int(seed), ENSEMBLE: False, **r} for r in member_rows]
        members_prob.append(cross_prob)
        members_val.append(val_prob)
        prior = counts / counts.sum()

    mean = {h: np.mean([m[h] for m in members_prob], axis=0) for h in (0, 1)}
    sd = {h: np.std([m[h] for m in members_prob], axis=0) for h in (0, 1)}
    pred = pd.concat(
        [
            pd.DataFrame(
                {
                    "chip": table.loc[table["half"] == h, "chip"].to_numpy(),
                    "half": h,
                    "density_class": y_half[h],
                    **{f"prob_class{c}": mean[h][:, c] for c in CLASSES},
                    **{f"prob_class{c}_sd": sd[h][:, c] for c in CLASSES},
                }
            )
            for h in (0, 1)
        ],
        ignore_index=True,
    )
    prob_all = pred[[f"prob_class{c}" for c in CLASSES]].to_numpy()
    pred["predicted_class"] = prob_all.argmax(axis=1)
    pred = pred.sort_values("chip", kind="stable")[PREDICTION_COLUMNS + SPREAD_COLUMNS]
    y_sorted = pred["density_class"].to_numpy()
    prob_all = pred[[f"prob_class{c}" for c in CLASSES]].to_numpy()
    rows.append(
        {
            "seed": pd.NA,
            ENSEMBLE: True,
            "split": "both",
            "subset": "cross",
            **class_metrics(y_sorted, prob_all, "ensemble cross"),
            **interval(y_sorted, prob_all),
        }
    )
    constant = np.tile(prior, (y_sorted.size, 1))
    rows.append(
        {
            "seed": pd.NA,
            ENSEMBLE: False,
            "split": "both",
            "subset": "no_skill",
            **class_metrics(y_sorted, constant, "no_skill"),
            **interval(y_sorted, constant),
        }
    )

    metrics = pd.DataFrame(rows, columns=METRIC_COLUMNS).astype(METRICS_DTYPES)
    member_cross = metrics[metrics["seed"].notna() & (metrics["split"] == "both")]["auc_macro_ovr"]
    logger.info(
        "cross-prediction over %d chips: AUC per member %s (mean %.3f, sd %.3f), ensemble AUC %.3f, accuracy %.3f "
        "(no skill: accuracy %.3f)",
        y_sorted.size,
        [round(v, 3) for v in member_cross],
        member_cross.mean(),
        member_cross.std(ddof=1) if len(member_cross) > 1 else 0.0,
        metrics.iloc[-2]["auc_macro_ovr"],
        metrics.iloc[-2]["accuracy"],
        metrics.iloc[-1]["accuracy"],
    )
    confusion = pd.DataFrame(
        confusion_matrix(y_sorted, pred["predicted_class"].to_numpy(), labels=list(CLASSES)),
        index=pd.Index(CLASSES, name="true_class"),
        columns=[f"pred_{c}" for c in CLASSES],
    )
    outputs = [
        (metrics, metrics_out, False),
        (pred, predictions_out, False),
        (confusion, confusion_path(metrics_out), True),
    ]
    if predictions_val_out is not None:
        outputs.append((validation_predictions(table, members_val), predictions_val_out, False))
    for frame, path, index in outputs:
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=index)


def validation_predictions(table: pd.DataFrame, members_val: list[dict[int, np.ndarray]]) -> pd.DataFrame:
    """The val chips of both halves with the members' mean probabilities of their own half's
    models (VALIDATION_COLUMNS), sorted by chip."""
    parts = []
    for h in (0, 1):
        val = table[(table["half"] == h) & (table["subset"] == "val")]
        mean = np.mean([m[h] for m in members_val], axis=0) if members_val else np.zeros((0, len(CLASSES)))
        parts.append(
            pd.DataFrame(
                {
                    "chip": val["chip"].to_numpy(),
                    "half": h,
                    "subset": "val",
                    "density_class": val["density_class"].to_numpy(dtype=int),
                    **{f"prob_class{c}": mean[:, c] for c in CLASSES},
                }
            )
        )
    out = pd.concat(parts, ignore_index=True).sort_values("chip", kind="stable")
    prob = out[[f"prob_class{c}" for c in CLASSES]].to_numpy()
    out["predicted_class"] = prob.argmax(axis=1) if len(out) else np.zeros(0, dtype=int)
    return out[VALIDATION_COLUMNS]


def confusion_path(metrics_out: PathLike) -> Path:
    """Where evaluate_density writes the confusion matrix: <metrics_out stem>_confusion.csv."""
    p = Path(metrics_out)
    return p.with_name(f"{p.stem}_confusion.csv")


def evaluate_density_splits(
    chips_tables: Sequence[PathLike],
    features: Sequence[PathLike],
    forest_cfg: Mapping,
    metrics_out: Sequence[PathLike],
    predictions_out: Sequence[PathLike],
    *,
    bootstrap: Mapping | None = None,
    threads: int = 1,
    predictions_val_out: Sequence[PathLike] | None = None,
) -> None:
    """evaluate_density of one experiment under each of its splits, in ONE process (Python and
    scikit-learn start once: 4 s of every job, docs/benchmark_training.md): split i has the chip
    table chips_tables[i], the halves' features features[2i] and features[2i + 1], and writes
    metrics_out[i], predictions_out[i] and predictions_val_out[i]."""
    n = len(chips_tables)
    if predictions_val_out is not None and len(predictions_val_out) != n:
        raise InputError(f"evaluate_density_splits: {len(predictions_val_out)} validation outputs for {n} tables")
    if len(features) != 2 * n or len(metrics_out) != n or len(predictions_out) != n:
        raise InputError(
            f"evaluate_density_splits: {n} chip table(s), {len(features)} features file(s), {len(metrics_out)} metrics "
            f"and {len(predictions_out)} predictions output(s); expected 2 features files and one of each "
            "output per table"
        )
    for i, table in enumerate(chips_tables):
        logger.info("split %d of %d: %s", i + 1, n, table)
        evaluate_density(
            table,
            features[2 * i],
            features[2 * i + 1],
            forest_cfg,
            metrics_out[i],
            predictions_out[i],
            bootstrap=bootstrap,
            threads=threads,
            predictions_val_out=None if predictions_val_out is None else predictions_val_out[i],
        )
