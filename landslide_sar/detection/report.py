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

    @property
    def name(self) -> str:
        """The target's folder under results/detection/{experiment}/."""
        return f"{self.inputs}_r{self.revisits}_{'aug' if self.augment else 'noaug'}"

    def path(self, root: str, filename: str) -> str:
        return f"{root}/{self.experiment}/{self.name}/{filename}"


def experiments(detection: Mapping[str, Any]) -> list[Experiment]:
    """Every experiment of the config's `detection` section (as landslide_sar.config.validate_config
    checked it: regions are areas, revisits within chips.max_revisits), within first."""
    within, transfer = detection["within"], detection["transfer"]
    out = [
        Experiment("within", b, int(n), bool(within["augment"]), within["region"], None, bool(within["elevation"]))
        for b in within["inputs"]
        for n in within["revisits"]
    ]
    out += [
        Experiment("transfer", b, int(transfer["revisits"]), bool(a), transfer["train_region"],
                   transfer["test_region"], bool(transfer["elevation"]))  # fmt: skip
        for b in transfer["inputs"]
        for a in transfer["augment"]
    ]
    return out


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


def detection_table(metrics: Sequence[PathLike], csv_out: PathLike, md_out: PathLike) -> pd.DataFrame:
    """All experiments' metrics in one CSV, with a `no_skill` row (AUPRC = the positive fraction)
    per (experiment, region, subset, revisits), and a Markdown file holding the poster's grid
    (val AUPRC, input set x revisits) and the transfer paper's Table 1 (val AUPRC in the training
    region, test AUPRC in the other region)."""
    df = _read(metrics, [{"experiment": _experiment_of(p)} for p in metrics])
    if df.empty:
        raise InputError("no detection metrics rows; expected at least one experiment")
    keys = ["experiment", "region", "subset", "revisits", "n_pre"]
    ns = df[df["method"] == "unet"].drop_duplicates(keys)[keys + ["no_skill", "n_chips", "n_pixels", "n_positive"]].copy()
    ns["method"], ns["auprc"], ns["inputs"], ns["seed"] = "no_skill", ns["no_skill"], "", ""
    table = pd.concat([df, ns], ignore_index=True)
    table["method"] = pd.Categorical(table["method"], ["no_skill", "handwerger", "unet"], ordered=True)
    table = table.sort_values(["experiment", "subset", "method", "inputs", "revisits", "augment"], kind="stable")
    table["method"] = table["method"].astype(str)
    table = table[["experiment", *[c for c in df.columns if c != "experiment"]]].reset_index(drop=True)
    with atomic_path(csv_out) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_path(md_out) as tmp:
        with open(tmp, "w") as f:
            f.write(markdown_tables(table))
    logger.info("detection table: %d rows from %d experiment file(s)", len(table), len(metrics))
    return table


def _fmt(x: float, sd: float | None = None) -> str:
    if pd.isna(x):
        return ""
    return f"{x:.3f}" if sd is None or pd.isna(sd) else f"{x:.3f} ± {sd:.3f}"


MEMBER_KEYS = ["experiment", "region", "subset", "inputs", "revisits", "n_pre", "augment", "elevation"]


def unet_summary(table: pd.DataFrame) -> pd.DataFrame:
    """The U-Net rows collapsed over their members (training seeds): per experiment, region,
    subset and setting, `auprc` = mean over seeds, `auprc_sd`, `n_seeds`, and `auprc_ensemble`
    (the members' mean probability)."""
    u = table[table["method"] == "unet"].copy()
    u["seed"] = u["seed"].astype(str) if "seed" in u else "0"
    members = u[u["seed"] != ENSEMBLE]
    g = members.groupby(MEMBER_KEYS, sort=False)["auprc"]
    out = g.mean().to_frame("auprc")
    out["auprc_sd"] = g.std(ddof=1)
    out["n_seeds"] = g.size()
    ens = u[u["seed"] == ENSEMBLE].set_index(MEMBER_KEYS)["auprc"]
    out["auprc_ensemble"] = ens.reindex(out.index)
    return out.reset_index().assign(method="unet")


def markdown_tables(table: pd.DataFrame) -> str:
    """The two tables of the papers as Markdown, from detection_table's rows."""
    out = []
    w = table[(table["experiment"] == "within") & (table["subset"] == "val")]
    if not w.empty:
        revisits = sorted(w["revisits"].unique())
        region = w["region"].iloc[0]
        out += [f"### Within {region}: validation AUPRC (poster)\n",
                "| inputs | " + " | ".join(f"{n} revisit{'s' if n > 1 else ''}" for n in revisits) + " |",
                "|---" * (len(revisits) + 1) + "|"]  # fmt: skip
        u = unet_summary(w)
        for b in [b for b in INPUT_LABELS if b in set(u["inputs"])]:
            vals = u[u["inputs"] == b].set_index("revisits")
            out.append(f"| U-Net {INPUT_LABELS[b]} | " + " | ".join(
                _fmt(vals["auprc"].get(n), vals["auprc_sd"].get(n)) for n in revisits) + " |")  # fmt: skip
        for method, label in (("handwerger", "VH change baseline"), ("no_skill", "no skill")):
            vals = w[w["method"] == method].groupby("revisits")["auprc"].first()
            out.append(f"| {label} | " + " | ".join(_fmt(vals.get(n)) for n in revisits) + " |")
        n = w[w["method"] == "no_skill"]
        out.append(f"\n{int(n['n_chips'].iloc[0]) if len(n) else 0} validation chips; "
                   f"train chips: {int(table[(table['experiment'] == 'within') & (table['subset'] == 'train')]['n_chips'].iloc[0])}.\n")  # fmt: skip
    t = table[table["experiment"] == "transfer"]
    if not t.empty:
        train_r = t.loc[t["subset"] == "val", "region"].iloc[0]
        test_r = t.loc[t["subset"] == "test", "region"].iloc[0]
        out += [f"### Transfer {train_r} → {test_r}: AUPRC (transfer paper's Table 1)\n",
                f"| inputs | augmentation | {train_r} (val) | {test_r} (test) |", "|---|---|---|---|"]  # fmt: skip
        for method, label in (("no_skill", "no skill"), ("handwerger", "VH change baseline")):
            r = t[t["method"] == method]
            v = r[r["subset"] == "val"]["auprc"]
            s = r[r["subset"] == "test"]["auprc"]
            out.append(f"| {label} | | {_fmt(v.iloc[0] if len(v) else np.nan)} | {_fmt(s.iloc[0] if len(s) else np.nan)} |")
        u = unet_summary(t)
        for (b, a), g in u.groupby(["inputs", "augment"], sort=False):
            el = " (no elevation)" if b == "fused" and not g["elevation"].iloc[0] else ""
            v, s = g[g["subset"] == "val"], g[g["subset"] == "test"]
            cell = [_fmt(r["auprc"].iloc[0], r["auprc_sd"].iloc[0]) if len(r) else "" for r in (v, s)]
            out.append(f"| U-Net {INPUT_LABELS.get(b, b)}{el} | {'with' if a else 'without'} | {cell[0]} | {cell[1]} |")
        out.append("")
    return "\n".join(out) + "\n"


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_auprc_vs_revisits(table: pd.DataFrame, out_png: PathLike) -> None:
    """The poster's figure: validation AUPRC against revisits, one line per input set, with the
    VH-change baseline and the no-skill line."""
    plt = _plt()
    w = table[(table["experiment"] == "within") & (table["subset"] == "val")]
    fig, ax = plt.subplots(figsize=(6, 4.2))
    u = unet_summary(w)
    for b in [b for b in INPUT_LABELS if b in set(u["inputs"])]:
        g = u[u["inputs"] == b].sort_values("revisits")
        ax.errorbar(g["revisits"], g["auprc"], yerr=g["auprc_sd"].fillna(0.0), marker="o", capsize=3,
                    label=f"U-Net {INPUT_LABELS[b]} (mean ± sd, {int(g['n_seeds'].max())} seeds)")  # fmt: skip
    for method, style, color, label in (("handwerger", "s--", "grey", "VH change baseline"), ("no_skill", ":", "k", "no skill")):
        g = w[w["method"] == method].groupby("revisits")["auprc"].first()
        if len(g):
            ax.plot(g.index, g.values, style, color=color, label=label)
    revisits = sorted(w["revisits"].unique()) if len(w) else [1]
    ax.set_xticks(revisits)
    ax.set_xlabel("revisits: acquisitions averaged after the event (and as many before)")
    ax.set_ylabel("AUPRC (validation chips)")
    ax.set_ylim(0, 1)
    ax.set_title(f"Detection within {w['region'].iloc[0] if len(w) else '?'}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_pr_curves(table: pd.DataFrame, curves: Sequence[PathLike], out_png: PathLike) -> None:
    """Precision-recall curves: within (validation chips, the most revisits, each input set) and
    transfer (test region, each input set and augmentation), the baseline, and no-skill lines."""
    plt = _plt()
    c = _read(curves, [{"experiment": _experiment_of(p)} for p in curves])
    # the experiment folder names the input set / revisits / augmentation of each curve file
    names = pd.Series([os.path.basename(os.path.dirname(str(p))) for p in curves])
    lengths = [len(pd.read_csv(p, usecols=["method"])) for p in curves]
    c["name"] = np.repeat(names.values, lengths)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, exp, subset in ((axes[0], "within", "val"), (axes[1], "transfer", "test")):
        e = c[(c["experiment"] == exp) & (c["subset"] == subset)]
        t = table[(table["experiment"] == exp) & (table["subset"] == subset)]
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
    """The transfer paper's Figure 1: per region (rows: the training region's validation chips,
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
        subset = str(preds[0][1]["subset"].values[np.asarray(preds[0][1]["region"].values) == region][0])
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
