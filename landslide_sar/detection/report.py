"""The detection experiments of a config, their table and figures: the poster's AUPRC against
revisits (one line per input set) and the transfer paper's Table 1, precision-recall curves, and
predicted probability against the truth in both regions (the transfer paper's Figure 1).

No torch here: the workflow imports `experiments` while it parses, the figure rules read CSVs
and the predictions zarr written by `run_detection_experiment`.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.grid import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike
EXPERIMENTS = ("within", "transfer")
INPUT_LABELS = {"vv": "VV", "vh": "VH", "sar": "VV+VH", "fused": "SAR+DEM"}
TABLE_KEYS = ["experiment", "inputs", "revisits", "augment"]


@dataclass(frozen=True)
class Experiment:
    """One detection target: (experiment, input set, revisits, augmentation) and its regions."""

    experiment: str  # within | transfer
    inputs: str
    revisits: int
    augment: bool
    train_region: str
    test_region: str | None  # None: within one region (train / val chips only)
    elevation: bool
    split_seed: int = 42  # of the train / val / test split of the training region (chips.split_seeds)
    first_split: bool = True  # the first of chips.split_seeds: its folder has no suffix (the map's)

    @property
    def setting(self) -> str:
        """<inputs>_r<revisits>_<aug|noaug>: the experiment without its split."""
        return f"{self.inputs}_r{self.revisits}_{'aug' if self.augment else 'noaug'}"

    @property
    def name(self) -> str:
        """The target's folder under results/detection/{experiment}/: the setting, and _s<seed>
        for every split seed but the first."""
        return self.setting + ("" if self.first_split else f"_s{self.split_seed}")

    def path(self, root: str, filename: str) -> str:
        return f"{root}/{self.experiment}/{self.name}/{filename}"


def split_seeds(chips: Mapping[str, Any]) -> list[int]:
    """chips.split_seeds (a list; the first is the map's split)."""
    seeds = chips.get("split_seeds", [42])
    return [int(s) for s in ([seeds] if isinstance(seeds, (int, np.integer)) else seeds)]


def experiments(detection: Mapping[str, Any]) -> list[Experiment]:
    """Every experiment of the config's `detection` section (as landslide_sar.config.validate_config
    checked it: regions are areas, revisits within chips.max_revisits), within first, each once
    per split seed (chips.split_seeds), the first split seed's first."""
    within, transfer = detection["within"], detection["transfer"]
    seeds = split_seeds(detection.get("chips", {}))
    out = []
    for k, seed in enumerate(seeds):
        out += [
            Experiment("within", b, int(n), bool(within["augment"]), within["region"], None, bool(within["elevation"]),
                       seed, k == 0)  # fmt: skip
            for b in within["inputs"]
            for n in within["revisits"]
        ]
    for k, seed in enumerate(seeds):
        out += [
            Experiment("transfer", b, int(transfer["revisits"]), bool(a), transfer["train_region"],
                       transfer["test_region"], bool(transfer["elevation"]), seed, k == 0)  # fmt: skip
            for b in transfer["inputs"]
            for a in transfer["augment"]
        ]
    return out


def first_split_seed(rows: pd.DataFrame) -> int | None:
    """The split seed of the first row that has one: the first of chips.split_seeds, since
    experiments() lists its experiments first and the tables keep that order (None: no split_seed)."""
    seeds = rows["split_seed"].dropna() if "split_seed" in rows else pd.Series(dtype=float)
    return int(seeds.iloc[0]) if len(seeds) else None


def _read(paths: Sequence[PathLike], keys: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    if len(paths) != len(keys):
        raise InputError(f"{len(paths)} files for {len(keys)} experiments; expected one each")
    frames = []
    for path, key in zip(paths, keys):
        df = pd.read_csv(path)
        df.insert(0, "experiment", key["experiment"])
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _experiment_of(path: PathLike) -> str:
    """'within' or 'transfer' from a results/detection/{experiment}/{name}/file path."""
    parts = os.path.normpath(str(path)).split(os.sep)
    if len(parts) < 3 or parts[-3] not in EXPERIMENTS:
        raise InputError(f"{path}: expected a path .../{{within|transfer}}/<experiment>/<file>")
    return parts[-3]


def detection_table(
    metrics: Sequence[PathLike], csv_out: PathLike, md_out: PathLike, oracle: PathLike | None = None,
    interval_level: float = 0.95,
) -> pd.DataFrame:
    """All experiments' metrics in one CSV, with a `no_skill` row (AUPRC = the positive fraction,
    with its interval) per (experiment, region, subset, revisits) and, when given, the oracle's
    rows (detection_oracle); and a Markdown file holding the poster's grid (test AUPRC, input
    set x revisits) and the transfer paper's Table 1 (test AUPRC in both regions)."""
    df = _read(metrics, [{"experiment": _experiment_of(p)} for p in metrics])
    if df.empty:
        raise InputError("no detection metrics rows; expected at least one experiment")
    if "split_seed" not in df.columns:  # metrics of one split (e.g. written before split seeds)
        df["split_seed"] = 0
    first_split = first_split_seed(df)
    keys = ["experiment", "region", "subset", "revisits", "n_pre", "split_seed"]
    counts = ["n_chips", "n_labelled_chips", "n_pixels", "n_positive"]
    ens = df[(df["method"] == "unet") & (df["seed"].astype(str) == ENSEMBLE)]
    ns = ens.drop_duplicates(keys)[keys + ["no_skill", "no_skill_ci_low", "no_skill_ci_high", *counts]].copy()
    ns["method"], ns["inputs"], ns["seed"] = "no_skill", "", ""
    ns["auprc"], ns["auprc_ci_low"], ns["auprc_ci_high"] = ns["no_skill"], ns["no_skill_ci_low"], ns["no_skill_ci_high"]
    frames = [df, ns]
    if oracle is not None:
        frames.append(pd.read_csv(oracle, dtype={"seed": str}))
    table = pd.concat(frames, ignore_index=True)
    for col in ("revisits", "n_pre"):  # integers; empty on the oracle's rows (any revisits)
        table[col] = table[col].astype("Int64")
    table["method"] = pd.Categorical(table["method"], list(METHODS), ordered=True)
    table = table.sort_values(["experiment", "subset", "region", "method", "inputs", "revisits", "augment"], kind="stable")
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


METHODS = {"no_skill": "no skill", "handwerger": "VH change baseline", "oracle": "oracle (true covered fraction)",
           "unet": "U-Net"}  # fmt: skip


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
    u["seed"] = u["seed"].astype(str) if "seed" in u else "0"
    if "split_seed" not in u:
        u["split_seed"] = 0
    if first_split is None:
        first_split = first_split_seed(u) or 0
    members = u[u["seed"] != ENSEMBLE]
    g = members.groupby(MEMBER_KEYS, sort=False)["auprc"]
    out = g.mean().to_frame("auprc")
    out["auprc_sd"] = g.std(ddof=1)
    out["n_runs"] = g.size()
    out["n_seeds"] = members.groupby(MEMBER_KEYS, sort=False)["seed"].nunique()
    out["n_splits"] = members.groupby(MEMBER_KEYS, sort=False)["split_seed"].nunique()
    ens_all = u[u["seed"] == ENSEMBLE]
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
    """Markdown rows of no skill, the baseline and the oracle: value [interval] per column."""
    out = []
    for method in ("no_skill", "handwerger", "oracle"):
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
    ns = t[(t["method"] == "unet") & (t["seed"].astype(str) == ENSEMBLE)].drop_duplicates(["region", "subset"])
    parts = [f"{r['region']} {r['subset']}: {int(r['n_chips'])} chips ({int(r['n_labelled_chips'])} with landslides)"
             for _, r in ns.iterrows()]  # fmt: skip
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
        out += [f"### Within {region}: test AUPRC (poster's grid; test chips never trained on or selected with)\n",
                "| inputs | " + " | ".join(f"{n} revisit{'s' if n > 1 else ''}" for n in revisits) + " |",
                "|---" * (len(revisits) + 1) + "|"]  # fmt: skip
        u = unet_summary(w, first_split)
        for b in [b for b in INPUT_LABELS if b in set(u["inputs"])]:
            vals = u[u["inputs"] == b].set_index("revisits")
            out.append(f"| U-Net {INPUT_LABELS[b]}, {runs(vals)} (mean ± sd) | " + " | ".join(
                _fmt(vals["auprc"].get(n), vals["auprc_sd"].get(n)) for n in revisits) + " |")  # fmt: skip
            out.append(f"| U-Net {INPUT_LABELS[b]}, {ensemble} | " + " | ".join(
                _fmt_ci(vals["auprc_ensemble"].get(n), vals["ensemble_ci_low"].get(n), vals["ensemble_ci_high"].get(n))
                for n in revisits) + " |")  # fmt: skip
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
        out += [f"### Transfer {train_r} → {', '.join(test_r)}: test AUPRC (transfer paper's Table 1)\n",
                "| inputs | augmentation | " + " | ".join(f"{r} (test)" for r in order) + " |",
                "|---|---|" + "---|" * len(order)]  # fmt: skip
        for line in _reference_rows(t.loc[t.index.intersection(first.index)], order, "region"):
            name, rest = line[2:].split(" | ", 1)
            out.append(f"| {name} | | {rest}")
        u = unet_summary(t, first_split)
        for (b, a), g in u.groupby(["inputs", "augment"], sort=False):
            el = " (no elevation)" if b == "fused" and not g["elevation"].iloc[0] else ""
            g = g.set_index("region")
            name = f"U-Net {INPUT_LABELS.get(b, b)}{el}"
            aug = "with" if a else "without"
            out.append(f"| {name}, {runs(g)} | {aug} | " + " | ".join(
                _fmt(g["auprc"].get(r), g["auprc_sd"].get(r)) for r in order) + " |")  # fmt: skip
            out.append(f"| {name}, {ensemble} | {aug} | " + " | ".join(
                _fmt_ci(g["auprc_ensemble"].get(r), g["ensemble_ci_low"].get(r), g["ensemble_ci_high"].get(r))
                for r in order) + " |")  # fmt: skip
        out.append("\n" + _chips_line(first[first["experiment"] == "transfer"]))
        out.append("")
    out.append("Runs: mean ± sd over the members (training seeds) of every split seed (chips.split_seeds; each "
               "its own train / val / test chips of the training region); ensemble: the members' mean probability, of "
               f"split seed {first_split} (the map's); [interval]: the {100 * level:g} % percentile interval of a "
               "bootstrap over its test chips (stratified by chips with / without landslides; config `evaluation`). "
               f"Reference rows and chip counts: split seed {first_split}'s test chips; metrics.csv holds every "
               "split's. The oracle reads the generated truth (a reference, never a model input).")  # fmt: skip
    return "\n".join(out) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_auprc_vs_revisits(table: pd.DataFrame, out_png: PathLike) -> None:
    """The poster's figure: test AUPRC against revisits, one line per input set (the first split
    seed's ensemble with its bootstrap interval over chips as error bars, the runs' mean over
    every split seed as open markers), with that split's VH-change baseline and no-skill line,
    and the oracle."""
    plt = _plt()
    w = table[(table["experiment"] == "within") & (table["subset"] == "test")]
    split = w["split_seed"] if "split_seed" in w else pd.Series(pd.NA, index=w.index)
    first_split = first_split_seed(w)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    u = unet_summary(w, first_split)
    for k, b in enumerate([b for b in INPUT_LABELS if b in set(u["inputs"])]):
        g = u[u["inputs"] == b].sort_values("revisits")
        x = g["revisits"].to_numpy(dtype=float) + 0.06 * (k - 1.5)  # side by side, so the bars do not overlap
        yerr = np.vstack([g["auprc_ensemble"] - g["ensemble_ci_low"], g["ensemble_ci_high"] - g["auprc_ensemble"]])
        bars = ax.errorbar(x, g["auprc_ensemble"], yerr=np.nan_to_num(yerr), marker="o", capsize=3,
                           label=f"U-Net {INPUT_LABELS[b]}: ensemble of {int(g['n_seeds'].max())}"
                                 f"{'' if first_split is None or int(g['n_splits'].max()) < 2 else f', split {first_split}'}, interval")  # fmt: skip
        ax.plot(x, g["auprc"], "o", mfc="none", color=bars[0].get_color(), ms=5)
    for method, style, color, label in (("handwerger", "s--", "grey", "VH change baseline"), ("no_skill", ":", "k", "no skill")):
        ref = w[(w["method"] == method) & (split.isna() | (split == first_split))]
        g = ref.groupby("revisits")["auprc"].first()
        if len(g):
            ax.plot(g.index, g.values, style, color=color, label=label)
    oracle = w[w["method"] == "oracle"]
    if len(oracle):
        ax.axhline(float(oracle["auprc"].iloc[0]), color="tab:green", ls="-.", lw=1, label="oracle (true covered fraction)")
    ax.plot([], [], "o", mfc="none", color="0.4", label="runs' mean (seeds x splits)")
    revisits = sorted(w.loc[w["method"] != "oracle", "revisits"].dropna().unique()) if len(w) else [1]
    ax.set_xticks(revisits)
    ax.set_xlabel("revisits: acquisitions averaged after the event (and as many before)")
    ax.set_ylabel("AUPRC (test chips)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Detection within {w['region'].iloc[0] if len(w) else '?'}: test chips, "
                 "bootstrap intervals over chips", fontsize=10)  # fmt: skip
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_pr_curves(table: pd.DataFrame, curves: Sequence[PathLike], out_png: PathLike) -> None:
    """Precision-recall curves: within (test chips, the most revisits, each input set) and
    transfer (test region, each input set and augmentation), the baseline, and no-skill lines."""
    plt = _plt()
    c = _read(curves, [{"experiment": _experiment_of(p)} for p in curves])
    # the experiment folder names the input set / revisits / augmentation of each curve file
    names = pd.Series([os.path.basename(os.path.dirname(str(p))) for p in curves])
    lengths = [len(pd.read_csv(p, usecols=["method"])) for p in curves]
    c["name"] = np.repeat(names.values, lengths)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    train_region = table.loc[table["subset"] == "train", "region"]
    train_region = train_region.iloc[0] if len(train_region) else ""
    for ax, exp, subset in ((axes[0], "within", "test"), (axes[1], "transfer", "test")):
        e = c[(c["experiment"] == exp) & (c["subset"] == subset)]
        t = table[(table["experiment"] == exp) & (table["subset"] == subset)]
        if exp == "transfer":  # the other region's chips
            e, t = e[e["region"] != train_region], t[t["region"] != train_region]
        if exp == "within" and len(e):
            n_max = int(t["revisits"].max())
            e = e[e["name"].str.contains(f"_r{n_max}_")]
        ens = t[(t["method"] == "unet") & (t["seed"].astype(str) == ENSEMBLE)] if "seed" in t else t[t["method"] == "unet"]
        for name, g in e[e["method"] == "unet"].groupby("name", sort=False):
            band, rest = name.rsplit("_r", 1)
            revisits, aug = int(rest.split("_")[0]), name.endswith("_aug")
            label = f"{INPUT_LABELS.get(band, band)}, {revisits} revisits" + (", aug" if aug else "")
            score = ens[(ens["inputs"] == band) & (ens["revisits"] == revisits) & (ens["augment"].astype(bool) == aug)]["auprc"]
            if len(score):
                label += f" (AUPRC {float(score.iloc[0]):.3f}, ensemble)"
            ax.plot(g["recall"], g["precision"], label=label)
        hw = e[e["method"] == "handwerger"]
        if len(hw):
            first = hw["name"].iloc[0]
            g = hw[hw["name"] == first]
            hw_score = t[t["method"] == "handwerger"]["auprc"]
            extra = f" (AUPRC {float(hw_score.iloc[0]):.3f})" if exp == "transfer" and len(hw_score) else ""
            ax.plot(g["recall"], g["precision"], "--", color="grey", label=f"VH change baseline{extra}")
        ns = t.loc[t["method"] == "no_skill", "auprc"]
        if len(ns):
            ax.axhline(float(ns.iloc[0]), color="k", ls=":", label=f"no skill ({float(ns.iloc[0]):.3f})")
        region = t["region"].iloc[0] if len(t) else "?"
        ax.set_title(f"{exp}: {subset} chips of {region}")
        ax.set_xlabel("recall")
        ax.set_ylabel("precision")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def _mosaic(pred, region: str, var: str) -> np.ndarray:
    """A region's chips of `var` placed at their origin in the region's cube (NaN elsewhere)."""
    sel = np.asarray(pred["region"].values) == region
    row0, col0 = pred["row0"].values[sel], pred["col0"].values[sel]
    data = pred[var].values[sel].astype(np.float32)
    valid = pred["valid"].values[sel]
    h, w = data.shape[1:]
    out = np.full((int(row0.max()) + h, int(col0.max()) + w), np.nan, dtype=np.float32)
    for d, v, r, c in zip(data, valid, row0, col0):
        out[r : r + h, c : c + w] = np.where(v, d, np.nan)
    return out


TRUTH_COLOUR = "#00e5ff"  # the truth's outline over the probability maps


def plot_transfer_maps(predictions: Sequence[PathLike], out_png: PathLike) -> list[str]:
    """The transfer paper's Figure 1: per region (rows: the training region's val and test chips,
    the test region's chips), the truth and each transfer model's predicted probability with the
    truth's outline on top; a legend names the truth overlay and the chips not evaluated.
    Returns the legend's labels."""
    import xarray as xr
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    preds = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        for p in predictions:
            preds.append((os.path.basename(os.path.dirname(os.path.normpath(str(p)))), xr.open_zarr(p).load()))
    if not preds:
        raise InputError("no transfer predictions; expected at least one transfer experiment")
    regions = list(dict.fromkeys(preds[0][1]["region"].values.tolist()))
    fig, axes = plt.subplots(len(regions), len(preds) + 1, figsize=(2.6 * (len(preds) + 1), 2.7 * len(regions) + 0.6),
                             squeeze=False)  # fmt: skip
    fig.subplots_adjust(bottom=0.6 / (2.7 * len(regions) + 0.6) + 0.04)  # room for the legend
    for i, region in enumerate(regions):
        subset = ", ".join(sorted(set(preds[0][1]["subset"].values[np.asarray(preds[0][1]["region"].values) == region].astype(str))))
        truth = _mosaic(preds[0][1], region, "label")
        axes[i, 0].imshow(truth, cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
        axes[i, 0].set_title(f"truth, {region} ({subset})", fontsize=8)
        outline = np.nan_to_num(truth, nan=0.0)
        for j, (name, pred) in enumerate(preds, start=1):
            im = axes[i, j].imshow(_mosaic(pred, region, "prob"), cmap="magma", vmin=0, vmax=1, interpolation="nearest")
            if outline.any():
                axes[i, j].contour(outline, levels=[0.5], colors=TRUTH_COLOUR, linewidths=1.0)
            band, rest = name.rsplit("_r", 1)
            axes[i, j].set_title(f"{INPUT_LABELS.get(band, band)}{', aug' if name.endswith('_aug') else ''}", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("0.85")
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.6, label="landslide probability")
    handles = [
        Line2D([], [], color=TRUTH_COLOUR, lw=1.5, label="truth: landslide bodies (outline)"),
        Patch(facecolor=plt.get_cmap("Reds")(1.0), label="truth: landslide pixel (first column)"),
        Patch(facecolor="0.85", edgecolor="0.6", label="no chip evaluated"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return [h.get_label() for h in handles]


def detection_figures(
    table_csv: PathLike,
    curves: Sequence[PathLike],
    transfer_predictions: Sequence[PathLike],
    auprc_png: PathLike,
    pr_png: PathLike,
    maps_png: PathLike,
) -> None:
    """The three detection figures from the table, the curves and the transfer predictions."""
    table = pd.read_csv(table_csv, keep_default_na=False, na_values=[""])
    table["inputs"] = table["inputs"].fillna("")
    plot_auprc_vs_revisits(table, auprc_png)
    plot_pr_curves(table, curves, pr_png)
    plot_transfer_maps(transfer_predictions, maps_png)
    logger.info("detection figures: %s, %s, %s", auprc_png, pr_png, maps_png)
