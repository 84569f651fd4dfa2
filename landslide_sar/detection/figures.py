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
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from landslide_sar.detection.experiments import INPUT_LABELS, Experiment, parse
from landslide_sar.detection.table import _read, first_split_seed, unet_summary
from landslide_sar.errors import InputError
from landslide_sar.io import atomic_path
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES

logger = logging.getLogger(__name__)

PathLike = str | os.PathLike


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_auprc_vs_revisits(table: pd.DataFrame, out_png: PathLike) -> None:
    """The poster's figure: test AUPRC against revisits, one line per input set (the first split
    seed's ensemble with its bootstrap interval over chips as error bars, the runs' mean over
    every split seed as open markers), with that split's VH-change baseline, label-free detector
    and no-skill line, and the oracle."""
    plt = _plt()
    w = table[(table["experiment"] == "within") & (table["subset"] == "test")]
    split = w["split_seed"] if "split_seed" in w else pd.Series(pd.NA, index=w.index)
    first_split = first_split_seed(w)
    fig, ax = plt.subplots(figsize=(8.8, 4.4))
    u = unet_summary(w, first_split)
    for k, b in enumerate([b for b in INPUT_LABELS if b in set(u["inputs"])]):
        g = u[u["inputs"] == b].sort_values("revisits")
        x = g["revisits"].to_numpy(dtype=float) + 0.06 * (k - 1.5)  # side by side, so the bars do not overlap
        yerr = np.vstack([g["auprc_ensemble"] - g["ensemble_ci_low"], g["ensemble_ci_high"] - g["auprc_ensemble"]])
        bars = ax.errorbar(
            x,
            g["auprc_ensemble"],
            yerr=np.nan_to_num(yerr),
            marker="o",
            capsize=3,
            label=f"U-Net {INPUT_LABELS[b]}: ensemble of {int(g['n_seeds'].max())}"
            f"{'' if first_split is None or int(g['n_splits'].max()) < 2 else f', split {first_split}'}, interval",
        )
        ax.plot(x, g["auprc"], "o", mfc="none", color=bars[0].get_color(), ms=5)
    for method, style, color, label in (
        ("handwerger", "s--", "grey", "VH change baseline"),
        ("label_free", "D-.", "0.3", "label-free detector"),
        ("no_skill", ":", "k", "no skill"),
    ):
        ref = w[(w["method"] == method) & (split.isna() | (split == first_split))]
        g = ref.groupby("revisits")["auprc"].first()
        if len(g):
            ax.plot(g.index, g.values, style, color=color, label=label)
    oracle = w[w["method"] == "oracle"]
    if len(oracle):
        ax.axhline(
            float(oracle["auprc"].iloc[0]), color="tab:green", ls="-.", lw=1, label="oracle (true covered fraction)"
        )
    ax.plot([], [], "o", mfc="none", color="0.4", label="runs' mean (seeds x splits)")
    revisits = sorted(w.loc[w["method"] != "oracle", "revisits"].dropna().unique()) if len(w) else [1]
    ax.set_xticks(revisits)
    ax.set_xlabel("revisits: acquisitions averaged after the event (and as many before)")
    ax.set_ylabel("AUPRC (test chips)")
    ax.set_ylim(0, 1.02)
    ax.set_title(
        f"Detection within {w['region'].iloc[0] if len(w) else '?'}: test chips, bootstrap intervals over chips",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))  # outside: it hid the references' lines
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def plot_pr_curves(
    table: pd.DataFrame, curves: Mapping[str, PathLike], detection: Mapping[str, Any], out_png: PathLike
) -> None:
    """Precision-recall curves (curves: experiment id -> its curves.csv, ids decoded with the
    config's `detection` section): within (test chips, the most revisits, each input set) and
    transfer (test region, each input set and augmentation), the baseline, and no-skill lines."""
    plt = _plt()
    c = _read(curves, detection)
    experiments = {e.name: e for e in (parse(i, detection) for i in curves)}
    lengths = [len(pd.read_csv(p, usecols=["method"])) for p in curves.values()]
    c["name"] = np.repeat([parse(i, detection).name for i in curves], lengths)
    fig, axes = plt.subplots(1, 2, figsize=(11, 6.0))
    train_region = table.loc[table["subset"] == "train", "region"]
    train_region = train_region.iloc[0] if len(train_region) else ""
    for ax, exp, subset in ((axes[0], "within", "test"), (axes[1], "transfer", "test")):
        e = c[(c["experiment"] == exp) & (c["subset"] == subset)]
        t = table[(table["experiment"] == exp) & (table["subset"] == subset)]
        if exp == "transfer":  # the other region's chips
            e, t = e[e["region"] != train_region], t[t["region"] != train_region]
        if exp == "within" and len(e):
            n_max = int(t["revisits"].max())
            e = e[e["name"].map({n: x.revisits == n_max for n, x in experiments.items()})]
        ens = t[(t["method"] == "unet") & t[ENSEMBLE]] if ENSEMBLE in t else t[t["method"] == "unet"]
        for name, g in e[e["method"] == "unet"].groupby("name", sort=False):
            band, revisits, aug = experiments[name].inputs, experiments[name].revisits, experiments[name].augment
            label = f"{INPUT_LABELS.get(band, band)}, {revisits} revisits" + (", aug" if aug else "")
            score = ens[(ens["inputs"] == band) & (ens["revisits"] == revisits) & (ens["augment"].astype(bool) == aug)][
                "auprc"
            ]
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
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=1)  # below: inside, it hid curves
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


TRUTH_COLOUR = "#00e5ff"  # the truth's thin outline over the probability maps (cyan on magma)
PROBABILITY_CMAP = "magma"  # perceptually uniform
PROBABILITY_GAMMA = 0.5  # power norm: the low probabilities a U-Net gives are spread over the scale
PROBABILITY_PERCENTILE = 99.0  # the scale's top: this percentile of the probabilities shown


def probability_scale(values: np.ndarray) -> tuple[float, Any]:
    """The colour scale of predicted probabilities at their real range: a power norm (gamma
    PROBABILITY_GAMMA) from 0 to the PROBABILITY_PERCENTILE-th percentile of the finite `values`
    (rounded up to two significant digits, within 0.01-1); higher values take the top colour.
    Returns (top, norm)."""
    from matplotlib.colors import PowerNorm

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top = float(np.percentile(v, PROBABILITY_PERCENTILE)) if v.size else 1.0
    if top > 0:
        digits = 1 - int(np.floor(np.log10(top)))
        top = float(np.ceil(top * 10**digits) / 10**digits)
    top = min(1.0, max(0.01, top))
    return top, PowerNorm(gamma=PROBABILITY_GAMMA, vmin=0.0, vmax=top, clip=True)


def _probability_ticks(top: float) -> list[float]:
    ticks = [t for t in (0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0) if t < 0.9 * top]
    return ticks + [top]


def plot_transfer_maps(predictions: Mapping[Experiment, PathLike], out_png: PathLike) -> list[str]:
    """The transfer paper's Figure 1 (predictions: each transfer Experiment's predictions.zarr):
    per region (rows: the training region's val and test chips, the test region's chips), the
    truth and one panel per transfer model: its predicted probability at its real range (a
    perceptually uniform colour map on a power scale from 0 to the 99th percentile of every
    probability shown, see `probability_scale`; the colour bar says the range) under the truth's
    thin outline; a legend names the truth overlay and the chips not evaluated.
    Returns the legend's labels."""
    import xarray as xr
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    plt = _plt()
    preds = []
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Consolidated metadata", category=UserWarning)
        for e, p in predictions.items():
            preds.append((e, xr.open_zarr(p).load()))
    if not preds:
        raise InputError("no transfer predictions; expected at least one transfer experiment")
    regions = list(dict.fromkeys(preds[0][1]["region"].values.tolist()))
    mosaics = {
        (i, j): _mosaic(pred, region, "prob") for i, region in enumerate(regions) for j, (_, pred) in enumerate(preds)
    }
    top, norm = probability_scale(np.concatenate([m[np.isfinite(m)] for m in mosaics.values()]))
    side, head = 3.3, 0.9
    fig, axes = plt.subplots(
        len(regions),
        len(preds) + 1,
        figsize=(side * (len(preds) + 1) + 1.2, side * len(regions) + head),
        squeeze=False,
    )
    fig.subplots_adjust(
        left=0.02,
        right=0.88,
        top=1 - 0.35 / (side * len(regions) + head),
        wspace=0.04,
        hspace=0.14,
        bottom=0.55 / (side * len(regions) + head),  # room for the legend
    )
    for i, region in enumerate(regions):
        subset = ", ".join(
            sorted(set(preds[0][1]["subset"].values[np.asarray(preds[0][1]["region"].values) == region].astype(str)))
        )
        truth = _mosaic(preds[0][1], region, "label")
        axes[i, 0].imshow(truth, cmap="Reds", vmin=0, vmax=1, interpolation="nearest")
        axes[i, 0].set_title(f"truth, {region} ({subset})", fontsize=9)
        outline = np.nan_to_num(truth, nan=0.0)
        for j, (e, _) in enumerate(preds, start=1):
            im = axes[i, j].imshow(mosaics[i, j - 1], cmap=PROBABILITY_CMAP, norm=norm, interpolation="nearest")
            if outline.any():
                axes[i, j].contour(outline, levels=[0.5], colors=TRUTH_COLOUR, linewidths=0.5)
            axes[i, j].set_title(
                f"{INPUT_LABELS.get(e.inputs, e.inputs)}{', aug' if e.augment else ''}: {region}", fontsize=9
            )
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_facecolor("0.85")
    cax = fig.add_axes((0.9, 0.25, 0.015, 0.5))
    bar = fig.colorbar(im, cax=cax, extend="max" if top < 1 else "neither", ticks=_probability_ticks(top))
    bar.set_label(
        f"predicted landslide probability: 0 to {top:g}, the {PROBABILITY_PERCENTILE:g}th percentile shown"
        " (power scale)",
        fontsize=8,
    )
    bar.ax.tick_params(labelsize=8)
    handles = [
        Line2D([], [], color=TRUTH_COLOUR, lw=1.0, label="truth: landslide bodies (thin outline)"),
        Patch(facecolor=plt.get_cmap("Reds")(1.0), label="truth: landslide pixel (first column)"),
        Patch(facecolor="0.85", edgecolor="0.6", label="not evaluated (no chip, or no valid radar)"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=9, frameon=False)
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
    return [h.get_label() for h in handles]


def detection_figures(
    table_csv: PathLike,
    curves: Mapping[str, PathLike],
    transfer_predictions: Mapping[str, PathLike],
    detection: Mapping[str, Any],
    auprc_png: PathLike,
    pr_png: PathLike,
    maps_png: PathLike,
) -> None:
    """The three detection figures from the table, the curves and the transfer predictions (each
    experiment id -> its file; ids decoded with the config's `detection` section)."""
    table = pd.read_csv(table_csv, keep_default_na=False, na_values=[""], dtype=METRICS_DTYPES)
    table["inputs"] = table["inputs"].fillna("")
    plot_auprc_vs_revisits(table, auprc_png)
    plot_pr_curves(table, curves, detection, pr_png)
    plot_transfer_maps({parse(i, detection): p for i, p in transfer_predictions.items()}, maps_png)
    logger.info("detection figures: %s, %s, %s", auprc_png, pr_png, maps_png)
