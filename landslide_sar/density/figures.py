"""Figures of a run: the density map beside the inventory's classes over a hillshade of the DEM
with the inventory's heads on top, the map experiment's confusion matrix, an example chip before
and after the event with its heads and the net's output, and the training curves."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from landslide_sar.density.choice import choice_tags, read_choice  # noqa: E402
from landslide_sar.density.map import CLASS_COLOURS, class_names  # noqa: E402
from landslide_sar.nn import METRICS_DTYPES  # noqa: E402
from landslide_sar.terrain import hillshade  # noqa: E402

log = logging.getLogger(__name__)

DEFAULT_EDGES = (0, 25)  # chips.density_class_edges_per_km2 of config.yaml, for figures made by hand
HEADS_STYLE = {"marker": ".", "s": 6, "color": "k", "linewidths": 0}


def _db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.clip(x, 1e-6, None))


def _class_legend(class_edges: Sequence[float], heads: bool = False) -> list:
    """Legend handles: one patch per density class (named from the edges), the heads' marker."""
    handles: list = [Patch(color=c, label=n) for c, n in zip(CLASS_COLOURS, class_names(class_edges))]
    if heads:
        handles.append(Line2D([], [], ls="", marker="o", ms=3, color="k", label="inventory heads (labelled pixels)"))
    return handles


def terrain_and_heads(cube_zarr: str | Path, max_pixels: int = 1200) -> dict:
    """From the area's cube: the DEM's hillshade (at most `max_pixels` a side, by striding),
    its extent (left, right, bottom, top in the cube's CRS) and the x, y of the pixels labelled
    landslide (`landslides` > 0, the rasterised inventory), pooled onto the same stride."""
    cube = xr.open_zarr(cube_zarr, decode_coords="all")
    step = max(1, int(np.ceil(max(cube.sizes["y"], cube.sizes["x"]) / max_pixels)))
    xs, ys = cube["x"].values, cube["y"].values
    res = float(abs(xs[1] - xs[0])) if xs.size > 1 else 1.0
    dem = cube["dem"].isel(y=slice(None, None, step), x=slice(None, None, step)).values.astype("float32")
    shade = hillshade(dem, res * step)
    if ys[0] < ys[-1]:  # south-up: draw north-up
        shade = shade[::-1]
    extent = (xs.min() - res / 2, xs.max() + res / 2, ys.min() - res / 2, ys.max() + res / 2)
    labelled = cube["landslides"] > 0
    if step > 1:
        labelled = labelled.coarsen(y=step, x=step, boundary="trim").max()
    rows, cols = np.nonzero(labelled.values)
    return {
        "shade": shade,
        "extent": extent,
        "heads_x": labelled["x"].values[cols],
        "heads_y": labelled["y"].values[rows],
    }


def plot_map_vs_truth(
    map_gpkg: str | Path,
    out_png: str | Path,
    cube_zarr: str | Path | None = None,
    class_edges: Sequence[float] = DEFAULT_EDGES,
) -> None:
    """Predicted (cross-prediction) and inventory density class per chip, side by side, drawn
    over a hillshade of the DEM with the inventory's heads on top (both from `cube_zarr`); below
    them how sure the map is: the ensemble's probability of the class it predicts (confidence)
    and, from a seed ensemble, the sd of that probability over the members (spread)."""
    chips = gpd.read_file(map_gpkg, layer="chips")
    terrain = terrain_and_heads(cube_zarr) if cube_zarr is not None else None
    cmap = ListedColormap(CLASS_COLOURS)
    fig, axes = plt.subplots(2, 2, figsize=(11, 10.4), sharex=True, sharey=True, constrained_layout=True)
    have = chips["predicted_class"].notna()
    accuracy = float((chips.loc[have, "predicted_class"] == chips.loc[have, "density_class"]).mean())
    alpha = 0.6 if terrain is not None else 1.0
    predicted = chips.loc[have, "predicted_class"].to_numpy(dtype=int)
    prob_cols, sd_cols = [f"prob_class{c}" for c in range(3)], [f"prob_class{c}_sd" for c in range(3)]
    if all(c in chips for c in prob_cols):
        probs = chips.loc[have, prob_cols].to_numpy(dtype=float)
        chips.loc[have, "confidence"] = probs[np.arange(predicted.size), predicted]
    if all(c in chips for c in sd_cols):
        sds = chips.loc[have, sd_cols].to_numpy(dtype=float)
        chips.loc[have, "spread"] = sds[np.arange(predicted.size), predicted]
    panels = [
        (axes[0, 0], "predicted_class", f"Predicted density class (cross-prediction, accuracy {accuracy:.2f})"),
        (axes[0, 1], "density_class", "Inventory density class (truth)"),
        (axes[1, 0], "confidence", "Confidence: the ensemble's probability of the predicted class"),
        (axes[1, 1], "spread", "Spread: sd of that probability over the seeds"),
    ]
    for ax, column, title in panels:
        if terrain is not None:
            ax.imshow(
                terrain["shade"], cmap="gray", vmin=0, vmax=255, extent=terrain["extent"], interpolation="bilinear"
            )
        if column not in chips:
            ax.set_title(
                f"{title}: not in the map (no {'seeds' if column == 'spread' else 'probabilities'})", fontsize=10
            )
            continue
        shown = chips if column == "density_class" else chips[have]
        if column in ("predicted_class", "density_class"):
            shown.plot(
                column=column, ax=ax, cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.4", linewidth=0.2, alpha=alpha
            )
        else:  # 1/3 is no better than a guess among three classes; 1 is certain
            lims = (1 / 3, 1.0) if column == "confidence" else (0.0, max(0.05, float(np.nanmax(shown[column]))))
            shown.plot(
                column=column,
                ax=ax,
                cmap="viridis" if column == "confidence" else "Reds",
                vmin=lims[0],
                vmax=lims[1],
                edgecolor="0.4",
                linewidth=0.2,
                legend=True,
                legend_kwds={"shrink": 0.7, "label": "probability" if column == "confidence" else "sd"},
            )
        if column != "density_class" and (~have).any():
            chips[~have].plot(ax=ax, facecolor="none", edgecolor="0.4", linewidth=0.3, hatch="//")
        if terrain is not None and column in ("predicted_class", "density_class"):
            ax.scatter(terrain["heads_x"], terrain["heads_y"], **HEADS_STYLE)
        ax.set_title(title, fontsize=10)
    for ax in axes.ravel():
        ax.set_xlabel(f"x ({chips.crs.to_string()}) [m]")
        ax.set_ylabel("")
        ax.ticklabel_format(style="plain", useOffset=False)
        left, bottom, right, top = chips.total_bounds
        ax.set_xlim(left, right)
        ax.set_ylim(bottom, top)
    for ax in axes[:, 0]:
        ax.set_ylabel(f"y ({chips.crs.to_string()}) [m]")
    handles = _class_legend(class_edges, heads=terrain is not None)
    if (~have).any():
        handles.append(Patch(facecolor="none", edgecolor="0.4", hatch="//", label="excluded (too little valid data)"))
    base = "; base: hillshade of the DEM" if terrain is not None else ""
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        bbox_to_anchor=(0.5, -0.04),
        fontsize=8,
        title=f"density class{base}",
        title_fontsize=8,
    )
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)


def plot_confusion_matrix(
    confusion_csv: str | Path,
    out_png: str | Path,
    class_edges: Sequence[float] = DEFAULT_EDGES,
    title: str = "",
) -> np.ndarray:
    """The confusion matrix of the map experiment (`metrics_confusion.csv`: rows true_class, columns
    pred_<class>): chip counts written in the cells, shaded by the share of the true class's chips.
    Returns the counts as drawn (read back from the cells' text), rows true, columns predicted."""
    cm = pd.read_csv(confusion_csv, index_col="true_class")
    counts = cm.to_numpy(dtype=int)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    names = class_names(class_edges)
    fig, ax = plt.subplots(figsize=(6.2, 5.2), constrained_layout=True)
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, str(n), ha="center", va="center", fontsize=12, color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(counts.shape[1]), [names[int(c.split("_")[-1])] for c in cm.columns], fontsize=8)
    ax.set_yticks(range(counts.shape[0]), [names[int(c)] for c in cm.index], fontsize=8)
    ax.set_xlabel("predicted class (cross-prediction)")
    ax.set_ylabel("inventory class (truth)")
    total = int(counts.sum())
    right = int(np.trace(counts))
    ax.set_title(
        f"{title}{chr(10) if title else ''}{right} of {total} chips right ({right / max(total, 1):.0%})", fontsize=10
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="share of the true class's chips")
    drawn = np.array([int(t.get_text()) for t in ax.texts]).reshape(counts.shape)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)
    return drawn


def _typical_chip(table: gpd.GeoDataFrame, cls: int) -> pd.Series | None:
    """The predicted chip of true class `cls` whose landslide count is nearest the class median."""
    rows = table[table["predicted_class"].notna() & (table["density_class"] == cls)]
    if rows.empty:
        return None
    median = rows["landslide_count"].median()
    return rows.assign(d=(rows["landslide_count"] - median).abs()).sort_values(["d", "chip"]).iloc[0]


def plot_example_chip(
    map_gpkg: str | Path, chips_zarr: str | Path, embeddings: list[str], out_png: str | Path
) -> list[int]:
    """Like the density paper's Figure 5: for a typical chip of class 2 and one of class 1, VH
    before and after the event (mean of the acquisitions, dB), their difference with the
    inventory's heads, and the output map of the model that never saw the chip."""
    table = gpd.read_file(map_gpkg, layer="chips")
    rows = [r for r in (_typical_chip(table, 2), _typical_chip(table, 1)) if r is not None]
    ds = xr.open_zarr(chips_zarr)
    names = [str(c) for c in ds["channel"].values]
    fig, axes = plt.subplots(len(rows), 4, figsize=(16, 4.3 * len(rows)), constrained_layout=True, squeeze=False)
    for ax_row, row in zip(axes, rows):
        chip_id, half = int(row["chip"]), int(row["half"])
        chip = ds["chips"].sel(chip=chip_id).load()
        pre = np.nanmean([chip.sel(channel=c).values for c in names if c.startswith("vh_pre")], axis=0)
        post = np.nanmean([chip.sel(channel=c).values for c in names if c.startswith("vh_post")], axis=0)
        heads = np.argwhere(chip.sel(channel="landslides").values > 0)
        embedding = (
            xr.open_zarr(embeddings[1 - half])["embedding"].sel(chip=chip_id).isel(seed=0).values.astype("float32")
        )
        lo, hi = np.nanpercentile(_db(np.stack([pre, post])), [2, 98])
        panels = (
            (_db(pre), "VH before (mean, dB)", "gray", (lo, hi)),
            (_db(post), "VH after (mean, dB)", "gray", (lo, hi)),
            (_db(post) - _db(pre), "VH after − before (dB) + heads", "RdBu", (-6, 6)),
            (embedding, f"net output (model of half {1 - half}) + heads", "viridis", (0, 1)),
        )
        for ax, (img, title, cmap, (vmin, vmax)) in zip(ax_row, panels):
            im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
            if "heads" in title:
                ax.scatter(heads[:, 1], heads[:, 0], s=8, facecolors="none", edgecolors="k", linewidths=0.7)
            ax.set_title(title, fontsize=10)
            ax.set_axis_off()
            fig.colorbar(im, ax=ax, shrink=0.8)
        ax_row[0].text(
            -0.08,
            0.5,
            f"chip {chip_id}: {int(row['landslide_count'])} heads\nclass {int(row['density_class'])}, "
            f"predicted {int(row['predicted_class'])}",
            transform=ax_row[0].transAxes,
            rotation=90,
            va="center",
            ha="right",
            fontsize=10,
        )
    fig.savefig(out_png, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return [int(r["chip"]) for r in rows]


def plot_training_curves(histories: Mapping[str, str | Path], out_png: str | Path) -> None:
    """Train and validation loss per epoch of every model (histories: its label, e.g. "fused_r3
    half0", -> its history.csv; one line per member seed, one colour per model); a dot at each
    member's kept (best) epoch."""
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for i, (name, path) in enumerate(histories.items()):
        hist = pd.read_csv(path)
        colour = plt.get_cmap("tab20")(i % 20)  # a distinct colour per model (the grid has 14)
        for j, (_, h) in enumerate(hist.groupby("seed", sort=True) if "seed" in hist else [(0, hist)]):
            ax.plot(h["epoch"], h["train_loss"], color=colour, ls="--", lw=0.8)
            ax.plot(h["epoch"], h["val_loss"], color=colour, lw=1.2, label=name if j == 0 else None)
            best = h["val_loss"].idxmin()
            ax.plot(h.loc[best, "epoch"], h.loc[best, "val_loss"], "o", color=colour, ms=4)
    ax.set_xlabel("epoch")
    ax.set_ylabel("batch loss (1 − mean E⁺) + mean E⁻")
    ax.set_title("Density nets: validation (solid) and training (dashed) loss")
    ax.legend(fontsize=8)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def density_figures(
    map_gpkg: str | Path,
    chips_zarr: str | Path,
    embeddings: list[str],
    histories: Mapping[str, str | Path],
    *,
    map_png: str | Path,
    chip_png: str | Path,
    curves_png: str | Path,
    metrics_csv: str | Path,
    grid_png: str | Path,
    cube_zarr: str | Path | None = None,
    confusion_csv: str | Path | None = None,
    confusion_png: str | Path | None = None,
    class_edges: Sequence[float] = DEFAULT_EDGES,
    choice: str | Path | None = None,
) -> None:
    """All figures of one area (the confusion matrix when `confusion_csv` and `confusion_png`,
    titled with the map's experiment and why it was chosen, from the `choice` file)."""
    for path in (map_png, chip_png, curves_png, grid_png, confusion_png):
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
    plot_map_vs_truth(map_gpkg, map_png, cube_zarr, class_edges)
    if confusion_csv is not None and confusion_png is not None:
        title = ""
        if choice is not None:
            tags = choice_tags(read_choice(choice))
            title = f"{tags['experiment']} ({tags['experiment_choice']}: {tags['validation_auc']})"
        plot_confusion_matrix(confusion_csv, confusion_png, class_edges, title)
    chip_ids = plot_example_chip(map_gpkg, chips_zarr, embeddings, chip_png)
    plot_training_curves(histories, curves_png)
    plot_density_grid(metrics_csv, grid_png)
    log.info(
        "figures written: %s, %s (chips %s), %s, %s, %s",
        map_png,
        chip_png,
        chip_ids,
        curves_png,
        grid_png,
        confusion_png,
    )


def plot_density_grid(metrics_csv: str | Path, out_png: str | Path) -> None:
    """AUC against post-event revisits per input set: cross-prediction under the random split
    (solid, mean ± sd over runs: training seeds x split seeds), under the blocked split (dotted),
    validation (dashed), the change baseline, the label-free detector, the twin's information limit (oracle), the
    paper's fused validation AUC (grey) and chance."""
    from landslide_sar.density.table import INPUT_NAMES, PAPER_AUC, REFERENCE_NAMES, summarise

    metrics = pd.read_csv(metrics_csv, dtype=METRICS_DTYPES)
    if "scheme" not in metrics.columns:
        metrics["scheme"] = "random"
    oracle = metrics[metrics["inputs"] == "oracle"]
    free = metrics[metrics["inputs"] == "label_free"].sort_values("revisits")
    metrics = metrics[~metrics["inputs"].isin(["oracle", "label_free"])]
    schemes = list(dict.fromkeys(metrics["scheme"]))
    summaries = {sc: summarise(metrics[metrics["scheme"] == sc]) for sc in schemes}
    revisits = sorted(r for r in summaries[schemes[0]]["revisits"].unique() if r > 0) or [0]
    fig, ax = plt.subplots(figsize=(8, 7), constrained_layout=True)
    for i, inputs in enumerate(summaries[schemes[0]]["inputs"].unique()):
        colour = f"C{i}"
        name = INPUT_NAMES.get(inputs) or REFERENCE_NAMES.get(inputs, inputs)
        for k, scheme in enumerate(schemes):
            df = summaries[scheme][summaries[scheme]["inputs"] == inputs]
            if df.empty:
                continue
            once = (df["revisits"] == 0).all()
            xs = np.asarray(revisits if once else df["revisits"].tolist(), dtype=float) + 0.05 * k

            def col(key: str, df: pd.DataFrame = df, once: bool = once, n: int = len(xs)) -> list[float]:
                return [df[key].iloc[0]] * n if once else df[key].tolist()

            ax.errorbar(
                xs,
                col("cross"),
                yerr=np.nan_to_num(col("cross_sd")),
                fmt="o-" if k == 0 else "^:",
                color=colour,
                capsize=3,
                label=f"{name} (cross, {scheme} split)",
            )
            if k == 0 and inputs != "baseline":
                ax.errorbar(
                    xs + 0.1,
                    col("val"),
                    yerr=np.nan_to_num(col("val_sd")),
                    fmt="s--",
                    color=colour,
                    alpha=0.5,
                    capsize=3,
                    label=f"{name} (val)",
                )
    if len(free):  # nothing trained: one AUC per revisits over every chip, with its interval
        ax.errorbar(
            free["revisits"].to_numpy(dtype=float) - 0.05,
            free["auc_macro_ovr"],
            yerr=np.abs(free[["auc_ci_low", "auc_ci_high"]].to_numpy().T - free["auc_macro_ovr"].to_numpy()),
            fmt="D-.",
            color="0.3",
            capsize=3,
            label=REFERENCE_NAMES["label_free"],
        )
    for _, o in oracle.iterrows():  # the information limit, and what the DEM alone can know
        dem = o.get("subset") == "oracle_dem"
        ax.axhline(
            o["auc_macro_ovr"],
            color="C0" if dem else "k",
            lw=1.2,
            ls="-." if not dem else (0, (1, 2)),
            label="oracle: terrain part of the twin's rate" if dem else "oracle: the twin's true rate",
        )
        if np.isfinite(o.get("auc_ci_low", np.nan)):
            ax.axhspan(o["auc_ci_low"], o["auc_ci_high"], color="C0" if dem else "k", alpha=0.06)
    ax.plot(
        revisits,
        [PAPER_AUC["fused"].get(r, (np.nan, np.nan))[1] for r in revisits],
        "x:",
        color="0.4",
        label="paper: fused (val)",
    )
    ax.axhline(0.5, color="0.7", lw=1, label="chance")
    ax.set_xticks(revisits)
    ax.set_xlabel("post-event revisits")
    ax.set_ylabel("AUC (one-vs-rest, macro)")
    ax.set_ylim(0.4, 1.0)
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, ncol=2, loc="outside lower center")
    ax.set_title("Density class AUC: error bars are the sd over runs (training seeds x split seeds)")
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def rapid_truth_check(
    map_gpkg: str | Path,
    truth_gpkg: str | Path,
    class_edges: tuple[float, float],
    csv_out: str | Path,
    png_out: str | Path,
) -> pd.DataFrame:
    """Score a rapid-response map against the synthetic truth (heads counted per chip square):
    AUC (one-vs-rest macro), accuracy and the confusion matrix; draw both maps side by side."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    from landslide_sar.chips import density_class

    chips = gpd.read_file(map_gpkg, layer="chips")
    heads = gpd.read_file(truth_gpkg, layer="heads").to_crs(chips.crs)
    inside = gpd.sjoin(heads, chips[["chip", "geometry"]], predicate="within")
    counts = inside.groupby("chip").size().reindex(chips["chip"], fill_value=0).to_numpy()
    km2 = chips.geometry.area.to_numpy() / 1e6
    chips["true_class"] = density_class(counts / km2, class_edges)
    have = chips["predicted_class"].notna()
    y = chips.loc[have, "true_class"].to_numpy()
    prob = chips.loc[have, ["prob_class0", "prob_class1", "prob_class2"]].to_numpy()
    auc = (
        roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=[0, 1, 2])
        if len(set(y)) == 3
        else float("nan")
    )
    accuracy = float((chips.loc[have, "predicted_class"].to_numpy() == y).mean())
    cm = confusion_matrix(y, chips.loc[have, "predicted_class"].to_numpy().astype(int), labels=[0, 1, 2])
    result = pd.DataFrame(
        [
            {
                "n_chips": int(have.sum()),
                "auc_macro_ovr": auc,
                "accuracy": accuracy,
                **{f"true{i}_pred{j}": int(cm[i, j]) for i in range(3) for j in range(3)},
            }
        ]
    )
    result.to_csv(csv_out, index=False)
    cmap = ListedColormap(CLASS_COLOURS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True, constrained_layout=True)
    chips[have].plot(
        column="predicted_class", ax=axes[0], cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.6", linewidth=0.2
    )
    chips.plot(column="true_class", ax=axes[1], cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.6", linewidth=0.2)
    axes[0].set_title(f"Rapid response: predicted class (AUC {auc:.2f}, accuracy {accuracy:.2f})", fontsize=10)
    axes[1].set_title("Synthetic truth (never read by the pipeline)", fontsize=10)
    fig.legend(handles=_class_legend(class_edges), loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
    fig.savefig(png_out, dpi=130, bbox_inches="tight")
    plt.close(fig)
    log.info("rapid response vs truth: %d chips, AUC %.3f, accuracy %.3f", int(have.sum()), auc, accuracy)
    return result
