"""Figures of a run: the density map beside the inventory's classes, an example chip before and
after the event with its heads and the net's output, and the training curves."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import xarray as xr  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

log = logging.getLogger(__name__)

CLASS_COLOURS = ["#f2f0e6", "#f4a259", "#bc4b51"]
CLASS_LABELS = ["0: none", "1: 1–25 /km²", "2: > 25 /km²"]


def _db(x: np.ndarray) -> np.ndarray:
    return 10 * np.log10(np.clip(x, 1e-6, None))


def plot_map_vs_truth(map_gpkg: str | Path, out_png: str | Path) -> None:
    """Predicted (cross-prediction) and inventory density class per chip, side by side."""
    chips = gpd.read_file(map_gpkg, layer="chips")
    cmap = ListedColormap(CLASS_COLOURS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True, constrained_layout=True)
    have = chips["predicted_class"].notna()
    accuracy = float((chips.loc[have, "predicted_class"] == chips.loc[have, "density_class"]).mean())
    for ax, column, title in (
        (axes[0], "predicted_class", f"Predicted density class (cross-prediction, accuracy {accuracy:.2f})"),
        (axes[1], "density_class", "Inventory density class (truth)"),
    ):
        shown = chips[have] if column == "predicted_class" else chips
        shown.plot(column=column, ax=ax, cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.6", linewidth=0.2)
        if column == "predicted_class" and (~have).any():
            chips[~have].plot(ax=ax, color="0.75", edgecolor="0.6", linewidth=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel(f"x ({chips.crs.to_string()}) [m]")
        ax.set_ylabel("")
        ax.ticklabel_format(style="plain", useOffset=False)
    axes[0].set_ylabel(f"y ({chips.crs.to_string()}) [m]")
    fig.legend(handles=[Patch(color=c, label=l) for c, l in zip(CLASS_COLOURS, CLASS_LABELS)], loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
    fig.savefig(out_png, dpi=130, bbox_inches="tight")
    plt.close(fig)


def _typical_chip(table: gpd.GeoDataFrame, cls: int) -> pd.Series | None:
    """The predicted chip of true class `cls` whose landslide count is nearest the class median."""
    rows = table[table["predicted_class"].notna() & (table["density_class"] == cls)]
    if rows.empty:
        return None
    median = rows["landslide_count"].median()
    return rows.assign(d=(rows["landslide_count"] - median).abs()).sort_values(["d", "chip"]).iloc[0]


def plot_example_chip(map_gpkg: str | Path, chips_zarr: str | Path, embeddings: list[str], out_png: str | Path) -> list[int]:
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
        embedding = xr.open_zarr(embeddings[1 - half])["embedding"].sel(chip=chip_id).isel(seed=0).values.astype("float32")
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
            -0.08, 0.5,
            f"chip {chip_id}: {int(row['landslide_count'])} heads\nclass {int(row['density_class'])}, predicted {int(row['predicted_class'])}",
            transform=ax_row[0].transAxes, rotation=90, va="center", ha="right", fontsize=10,
        )  # fmt: skip
    fig.savefig(out_png, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return [int(r["chip"]) for r in rows]


def plot_training_curves(histories: list[str], out_png: str | Path) -> None:
    """Train and validation loss per epoch of every model (one line per member seed, one colour
    per model); a dot at each member's kept (best) epoch."""
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for i, path in enumerate(histories):
        hist = pd.read_csv(path)
        name = f"{Path(path).parent.parent.name} {Path(path).parent.name}"
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
    histories: list[str],
    map_png: str | Path,
    chip_png: str | Path,
    curves_png: str | Path,
    metrics_csv: str | Path,
    grid_png: str | Path,
) -> None:
    """All figures of one area."""
    for path in (map_png, chip_png, curves_png, grid_png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    plot_map_vs_truth(map_gpkg, map_png)
    chip_ids = plot_example_chip(map_gpkg, chips_zarr, embeddings, chip_png)
    plot_training_curves(histories, curves_png)
    plot_density_grid(metrics_csv, grid_png)
    log.info("figures written: %s, %s (chips %s), %s, %s", map_png, chip_png, chip_ids, curves_png, grid_png)


def plot_density_grid(metrics_csv: str | Path, out_png: str | Path) -> None:
    """AUC against post-event revisits per input set: cross-prediction (solid), validation
    (dashed), the paper's fused validation AUC (grey) and chance."""
    from .density.table import INPUT_NAMES, PAPER_AUC, summarise

    summary = summarise(pd.read_csv(metrics_csv))
    revisits = sorted(r for r in summary["revisits"].unique() if r > 0) or [0]
    fig, ax = plt.subplots(figsize=(7, 4.6), constrained_layout=True)
    for i, (inputs, df) in enumerate(summary.groupby("inputs", sort=False)):
        colour = f"C{i}"
        xs = revisits if (df["revisits"] == 0).all() else df["revisits"].tolist()
        once = (df["revisits"] == 0).all()

        def col(key: str) -> list[float]:
            return [df[key].iloc[0]] * len(xs) if once else df[key].tolist()

        name = INPUT_NAMES.get(inputs, inputs)
        ax.errorbar(xs, col("cross"), yerr=np.nan_to_num(col("cross_sd")), fmt="o-", color=colour, capsize=3,
                    label=f"{name} (cross, mean ± sd over seeds)")  # fmt: skip
        ax.errorbar(np.asarray(xs) + 0.06, col("val"), yerr=np.nan_to_num(col("val_sd")), fmt="s--", color=colour,
                    alpha=0.6, capsize=3, label=f"{name} (val)")  # fmt: skip
    ax.plot(revisits, [PAPER_AUC["fused"].get(r, (np.nan, np.nan))[1] for r in revisits], "x:", color="0.4", label="paper: fused (val)")
    ax.axhline(0.5, color="0.7", lw=1, label="chance")
    ax.set_xticks(revisits)
    ax.set_xlabel("post-event revisits")
    ax.set_ylabel("AUC (one-vs-rest, macro)")
    ax.set_ylim(0.4, 1.0)
    ax.legend(fontsize=8, ncol=2)
    ax.set_title("Density class AUC by input set and revisits")
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def rapid_truth_check(map_gpkg: str | Path, truth_gpkg: str | Path, class_edges: tuple[float, float], csv_out: str | Path, png_out: str | Path) -> pd.DataFrame:
    """Score a rapid-response map against the synthetic truth (heads counted per chip square):
    AUC (one-vs-rest macro), accuracy and the confusion matrix; draw both maps side by side."""
    from sklearn.metrics import confusion_matrix, roc_auc_score

    from .chips import density_class

    chips = gpd.read_file(map_gpkg, layer="chips")
    heads = gpd.read_file(truth_gpkg, layer="heads").to_crs(chips.crs)
    inside = gpd.sjoin(heads, chips[["chip", "geometry"]], predicate="within")
    counts = inside.groupby("chip").size().reindex(chips["chip"], fill_value=0).to_numpy()
    km2 = chips.geometry.area.to_numpy() / 1e6
    chips["true_class"] = density_class(counts / km2, class_edges)
    have = chips["predicted_class"].notna()
    y = chips.loc[have, "true_class"].to_numpy()
    prob = chips.loc[have, ["prob_class0", "prob_class1", "prob_class2"]].to_numpy()
    auc = roc_auc_score(y, prob, multi_class="ovr", average="macro", labels=[0, 1, 2]) if len(set(y)) == 3 else float("nan")
    accuracy = float((chips.loc[have, "predicted_class"].to_numpy() == y).mean())
    cm = confusion_matrix(y, chips.loc[have, "predicted_class"].to_numpy().astype(int), labels=[0, 1, 2])
    result = pd.DataFrame([{"n_chips": int(have.sum()), "auc_macro_ovr": auc, "accuracy": accuracy,
                            **{f"true{i}_pred{j}": int(cm[i, j]) for i in range(3) for j in range(3)}}])  # fmt: skip
    result.to_csv(csv_out, index=False)
    cmap = ListedColormap(CLASS_COLOURS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 5.2), sharex=True, sharey=True, constrained_layout=True)
    chips[have].plot(column="predicted_class", ax=axes[0], cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.6", linewidth=0.2)
    chips.plot(column="true_class", ax=axes[1], cmap=cmap, vmin=-0.5, vmax=2.5, edgecolor="0.6", linewidth=0.2)
    axes[0].set_title(f"Rapid response: predicted class (AUC {auc:.2f}, accuracy {accuracy:.2f})", fontsize=10)
    axes[1].set_title("Synthetic truth (never read by the pipeline)", fontsize=10)
    fig.legend(handles=[Patch(color=c, label=l) for c, l in zip(CLASS_COLOURS, CLASS_LABELS)], loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
    fig.savefig(png_out, dpi=130, bbox_inches="tight")
    plt.close(fig)
    log.info("rapid response vs truth: %d chips, AUC %.3f, accuracy %.3f", int(have.sum()), auc, accuracy)
    return result
