"""The detection tables: every experiment's metrics in one CSV and the Markdown of the poster's
AUPRC grid and the transfer paper's Table 1 (runs' mean ± sd, the ensemble with its interval,
the reference rows)."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.detection.experiments import INPUT_LABELS, parse
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


TABLE_KEYS = ["experiment", "inputs", "revisits", "augment"]


def first_split_seed(rows: pd.DataFrame) -> int | None:
    """The split seed of the first row that has one: the first of chips.split_seeds, since
    experiments() lists its experiments first and the tables keep that order (None: no split_seed)."""
    seeds = rows["split_seed"].dropna() if "split_seed" in rows else pd.Series(dtype=float)
    return int(seeds.iloc[0]) if len(seeds) else None


def _read(files: Mapping[str, PathLike], detection: Mapping[str, Any]) -> pd.DataFrame:
    """The CSVs of experiment id -> file (ids decoded by detection.experiments.parse with the
    config's `detection` section), in order, each tagged with its experiment (within | transfer)."""
    frames = []
    for experiment_id, path in files.items():
        df = pd.read_csv(path, dtype=METRICS_DTYPES)
        df.insert(0, "experiment", parse(experiment_id, detection).experiment)
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def detection_table(
    metrics: Mapping[str, PathLike],
    detection: Mapping[str, Any],
    csv_out: PathLike,
    md_out: PathLike,
    oracle: PathLike | None = None,
    interval_level: float = 0.95,
) -> pd.DataFrame:
    """All experiments' metrics in one CSV, with a `no_skill` row (AUPRC = the positive fraction,
    with its interval) per (experiment, region, subset, revisits) and, when given, the oracle's
    rows (detection_oracle); and a Markdown file holding the poster's grid (test AUPRC, input
    set x revisits) and the transfer paper's Table 1 (test AUPRC in both regions)."""
    df = _read(metrics, detection)
    if df.empty:
        raise InputError("no detection metrics rows; expected at least one experiment")
    if "split_seed" not in df.columns:  # metrics of one split (e.g. written before split seeds)
        df["split_seed"] = 0
    first_split = first_split_seed(df)
    keys = ["experiment", "region", "subset", "revisits", "n_pre", "split_seed"]
    counts = ["n_chips", "n_labelled_chips", "n_pixels", "n_positive"]
    ens = df[(df["method"] == "unet") & df[ENSEMBLE]]
    ns = ens.drop_duplicates(keys)[keys + ["no_skill", "no_skill_ci_low", "no_skill_ci_high", *counts]].copy()
    ns["method"], ns["inputs"], ns[ENSEMBLE] = "no_skill", "", False
    ns["seed"] = pd.array([pd.NA] * len(ns), dtype="Int64")
    ns["auprc"], ns["auprc_ci_low"], ns["auprc_ci_high"] = ns["no_skill"], ns["no_skill_ci_low"], ns["no_skill_ci_high"]
    frames = [df, ns]
    if oracle is not None:
        frames.append(pd.read_csv(oracle, dtype=METRICS_DTYPES))
    table = pd.concat(frames, ignore_index=True)
    for col in ("revisits", "n_pre"):  # integers; empty on the oracle's rows (any revisits)
        table[col] = table[col].astype("Int64")
    table = table.astype(METRICS_DTYPES)  # seed: empty on the rows of no member
    table["method"] = pd.Categorical(table["method"], list(METHODS), ordered=True)
    table = table.sort_values(
        ["experiment", "subset", "region", "method", "inputs", "revisits", "augment"], kind="stable"
    )
    table["split_seed"] = table["split_seed"].astype("Int64")  # empty on the oracle's rows (the first split's chips)
    table["method"] = table["method"].astype(str)
    table = table[["experiment", *[c for c in df.columns if c != "experiment"]]].reset_index(drop=True)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_out) as tmp:
        with open(tmp, "w") as f:
            f.write(markdown_tables(table, interval_level, first_split))
    logger.info("detection table: %d rows from %d experiment file(s)", len(table), len(metrics))
    return table


METHODS = {
    "no_skill": "no skill",
    "handwerger": "VH change baseline",
    "label_free": "label-free z-score detector (no training)",
    "oracle": "oracle (true covered fraction)",
    "unet": "U-Net",
}


def _fmt(x: float, sd: float | None = None) -> str:
    if pd.isna(x):
        return ""
    return f"{x:.3f}" if sd is None or pd.isna(sd) else f"{x:.3f} ± {sd:.3f}"


def _fmt_ci(x: float, low: float, high: float) -> str:
    if pd.isna(x):
        return ""
    return f"{x:.3f}" if pd.isna(low) else f"{x:.3f} [{low:.3f}, {high:.3f}]"


MEMBER_KEYS = ["experiment", "region", "subset", "inputs", "revisits", "n_pre", "augment", "elevation"]


def unet_summary(table: pd.DataFrame, first_split: int | None = None) -> pd.DataFrame:
    """The U-Net rows collapsed over their runs (training seed x split seed): per experiment,
    region, subset and setting, `auprc` = mean over runs, `auprc_sd`, `n_runs`, `n_seeds`,
    `n_splits`; `auprc_ensemble` (the members' mean probability) of the first split seed with
    its interval `ensemble_ci_low` / `ensemble_ci_high`, and the ensembles' mean and sd over the
    split seeds (`ensemble_split_mean`, `ensemble_split_sd`)."""
    u = table[table["method"] == "unet"].copy()
    if "seed" not in u:  # one member, seed 0
        u["seed"], u[ENSEMBLE] = 0, False
    if "split_seed" not in u:
        u["split_seed"] = 0
    if first_split is None:
        first_split = first_split_seed(u) or 0
    members = u[u["seed"].notna()]
    g = members.groupby(MEMBER_KEYS, sort=False)["auprc"]
    out = g.mean().to_frame("auprc")
    out["auprc_sd"] = g.std(ddof=1)
    out["n_runs"] = g.size()
    out["n_seeds"] = members.groupby(MEMBER_KEYS, sort=False)["seed"].nunique()
    out["n_splits"] = members.groupby(MEMBER_KEYS, sort=False)["split_seed"].nunique()
    ens_all = u[u[ENSEMBLE]]
    ens = ens_all[ens_all["split_seed"].astype(int) == int(first_split)].set_index(MEMBER_KEYS)
    out["auprc_ensemble"] = ens["auprc"].reindex(out.index)
    for side in ("low", "high"):
        col = f"auprc_ci_{side}"
        out[f"ensemble_ci_{side}"] = ens[col].reindex(out.index) if col in ens else np.nan
    by_split = ens_all.groupby(MEMBER_KEYS, sort=False)["auprc"]
    out["ensemble_split_mean"] = by_split.mean().reindex(out.index)
    out["ensemble_split_sd"] = by_split.std(ddof=1).reindex(out.index)
    return out.reset_index().assign(method="unet")


def _reference_rows(t: pd.DataFrame, columns: Sequence[Any], column_of: str) -> list[str]:
    """Markdown rows of no skill, the baseline, the label-free detector and the oracle: value
    [interval] per column."""
    out = []
    for method in ("no_skill", "handwerger", "label_free", "oracle"):
        r = t[t["method"] == method]
        if r.empty:
            continue
        cells = []
        for c in columns:
            v = r if r[column_of].isna().all() else r[r[column_of] == c]  # the oracle: one row for every column
            cells.append(_fmt_ci(*v[["auprc", "auprc_ci_low", "auprc_ci_high"]].iloc[0]) if len(v) else "")
        out.append(f"| {METHODS[method]} | " + " | ".join(cells) + " |")
    return out


def _chips_line(t: pd.DataFrame) -> str:
    """Chip counts of every (region, subset) of one experiment kind's rows."""
    ns = t[(t["method"] == "unet") & t[ENSEMBLE]].drop_duplicates(["region", "subset"])
    parts = [
        f"{r['region']} {r['subset']}: {int(r['n_chips'])} chips ({int(r['n_labelled_chips'])} with landslides)"
        for _, r in ns.iterrows()
    ]
    return "Chips: " + "; ".join(parts) + "." if parts else ""


def markdown_tables(table: pd.DataFrame, level: float = 0.95, first_split: int | None = None) -> str:
    """The two tables of the papers as Markdown, from detection_table's rows: U-Nets as the runs'
    mean ± sd (training seed x split seed) and the first split seed's ensemble with its bootstrap
    interval over chips; the reference rows of the first split seed's test chips."""
    out = []
    split = table["split_seed"] if "split_seed" in table else pd.Series(pd.NA, index=table.index)
    if first_split is None:
        first_split = first_split_seed(table) or 0
    first = table[split.isna() | (split == first_split)]  # the reference rows and chips: the first split's
    n_splits = int(split.dropna().nunique()) or 1

    def runs(vals: pd.DataFrame) -> str:
        n_seeds = int(vals["n_seeds"].max())
        return f"{n_seeds} seeds × {n_splits} splits" if n_splits > 1 else f"{n_seeds} members"

    ensemble = f"ensemble, split {first_split} [interval]" if n_splits > 1 else "ensemble [interval]"

    w = table[(table["experiment"] == "within") & (table["subset"] == "test")]
    if not w.empty:
        revisits = sorted(int(n) for n in w["revisits"].dropna().unique())
        region = w["region"].iloc[0]
        out += [
            f"### Within {region}: test AUPRC (poster's grid; test chips never trained on or selected with)\n",
            "| inputs | " + " | ".join(f"{n} revisit{'s' if n > 1 else ''}" for n in revisits) + " |",
            "|---" * (len(revisits) + 1) + "|",
        ]
        u = unet_summary(w, first_split)
        for b in [b for b in INPUT_LABELS if b in set(u["inputs"])]:
            vals = u[u["inputs"] == b].set_index("revisits")
            out.append(
                f"| U-Net {INPUT_LABELS[b]}, {runs(vals)} (mean ± sd) | "
                + " | ".join(_fmt(vals["auprc"].get(n), vals["auprc_sd"].get(n)) for n in revisits)
                + " |"
            )
            out.append(
                f"| U-Net {INPUT_LABELS[b]}, {ensemble} | "
                + " | ".join(
                    _fmt_ci(
                        vals["auprc_ensemble"].get(n), vals["ensemble_ci_low"].get(n), vals["ensemble_ci_high"].get(n)
                    )
                    for n in revisits
                )
                + " |"
            )
        out += _reference_rows(w.loc[w.index.intersection(first.index)], revisits, "revisits")
        line = _chips_line(first[first["experiment"] == "within"])
        out.append(f"\n{line}" if line else "")
        out.append("")
    t = table[(table["experiment"] == "transfer") & (table["subset"] == "test")]
    if not t.empty:
        regions = list(dict.fromkeys(t["region"]))
        train_r = table.loc[(table["experiment"] == "transfer") & (table["subset"] == "train"), "region"]
        train_r = train_r.iloc[0] if len(train_r) else regions[0]
        test_r = [r for r in regions if r != train_r]
        order = [r for r in (train_r, *test_r) if r in regions]
        out += [
            f"### Transfer {train_r} → {', '.join(test_r)}: test AUPRC (transfer paper's Table 1)\n",
            "| inputs | augmentation | " + " | ".join(f"{r} (test)" for r in order) + " |",
            "|---|---|" + "---|" * len(order),
        ]
        for line in _reference_rows(t.loc[t.index.intersection(first.index)], order, "region"):
            name, rest = line[2:].split(" | ", 1)
            out.append(f"| {name} | | {rest}")
        u = unet_summary(t, first_split)
        for (b, a), g in u.groupby(["inputs", "augment"], sort=False):
            el = " (no elevation)" if b in ("fused", "change") and not g["elevation"].iloc[0] else ""
            g = g.set_index("region")
            name = f"U-Net {INPUT_LABELS.get(b, b)}{el}"
            aug = "with" if a else "without"
            out.append(
                f"| {name}, {runs(g)} | {aug} | "
                + " | ".join(_fmt(g["auprc"].get(r), g["auprc_sd"].get(r)) for r in order)
                + " |"
            )
            out.append(
                f"| {name}, {ensemble} | {aug} | "
                + " | ".join(
                    _fmt_ci(g["auprc_ensemble"].get(r), g["ensemble_ci_low"].get(r), g["ensemble_ci_high"].get(r))
                    for r in order
                )
                + " |"
            )
        out.append("\n" + _chips_line(first[first["experiment"] == "transfer"]))
        out.append("")
    out.append(
        "Runs: mean ± sd over the members (training seeds) of every split seed (chips.split_seeds; each "
        "its own train / val / test chips of the training region); ensemble: the members' mean probability, of "
        f"split seed {first_split} (the map's); [interval]: the {100 * level:g} % percentile interval of a "
        "bootstrap over its test chips (stratified by chips with / without landslides; config `bootstrap`). "
        f"Reference rows and chip counts: split seed {first_split}'s test chips; metrics.csv holds every "
        "split's. The oracle reads the generated truth (a reference, never a model input)."
    )
    return "\n".join(out) + "\n"
