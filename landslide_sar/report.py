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
    axes[0].set_ylabel("y [m]")
    fig.legend(handles=[Patch(color=c, label=l) for c, l in zip(CLASS_COLOURS, CLASS_LABELS)], loc="lower center", ncol=3, bbox_to_anchor=(0.5, -0.06))
    fig.savefig(out_png, dpi=130, bbox_inches="tight")
    plt.close(fig)


def plot_example_chip(map_gpkg: str | Path, chips_zarr: str | Path, embeddings: list[str], out_png: str | Path) -> int:
    """A typical chip of the densest class (count nearest that class's median): VH before/after (mean of the acquisitions, dB),
    their difference with the inventory's heads, and the cross-predicting model's output map."""
    table = gpd.read_file(map_gpkg, layer="chips")
    candidates = table[table["predicted_class"].notna()]
    top = candidates[candidates["density_class"] == candidates["density_class"].max()]
    median = top["landslide_count"].median()
    row = top.assign(d=(top["landslide_count"] - median).abs()).sort_values(["d", "chip"]).iloc[0]
    chip_id, half = int(row["chip"]), int(row["half"])
    ds = xr.open_zarr(chips_zarr)
    chip = ds["chips"].sel(chip=chip_id).load()
    names = [str(c) for c in ds["channel"].values]
    pre = np.nanmean([chip.sel(channel=c).values for c in names if c.startswith("vh_pre")], axis=0)
    post = np.nanmean([chip.sel(channel=c).values for c in names if c.startswith("vh_post")], axis=0)
    heads = np.argwhere(chip.sel(channel="landslides").values > 0)
    embedding = xr.open_zarr(embeddings[1 - half])["embedding"].sel(chip=chip_id).values.astype("float32")
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.4), constrained_layout=True)
    lo, hi = np.nanpercentile(_db(np.stack([pre, post])), [2, 98])
    panels = (
        (_db(pre), "VH before (mean, dB)", "gray", (lo, hi)),
        (_db(post), "VH after (mean, dB)", "gray", (lo, hi)),
        (_db(post) - _db(pre), "VH change after − before (dB) + heads", "RdBu", (-6, 6)),
        (embedding, f"Net output (model of half {1 - half}) + heads", "viridis", (0, 1)),
    )
    for ax, (img, title, cmap, (vmin, vmax)) in zip(axes, panels):
        im = ax.imshow(img, cmap=cmap, vmin=vmin, vmax=vmax)
        if "heads" in title:
            ax.scatter(heads[:, 1], heads[:, 0], s=8, facecolors="none", edgecolors="k", linewidths=0.7)
        ax.set_title(title, fontsize=10)
        ax.set_axis_off()
        fig.colorbar(im, ax=ax, shrink=0.8)
    fig.suptitle(f"Chip {chip_id}: {int(row['landslide_count'])} landslide heads, class {int(row['density_class'])}, predicted {int(row['predicted_class'])}")
    fig.savefig(out_png, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return chip_id


def plot_training_curves(histories: list[str], out_png: str | Path) -> None:
    """Train and validation loss per epoch of every model; a dot at the kept (best) epoch."""
    fig, ax = plt.subplots(figsize=(8, 5), constrained_layout=True)
    for i, path in enumerate(histories):
        h = pd.read_csv(path)
        name = f"{Path(path).parent.parent.name} {Path(path).parent.name}"
        colour = f"C{i % 10}"
        ax.plot(h["epoch"], h["train_loss"], color=colour, ls="--", lw=1)
        ax.plot(h["epoch"], h["val_loss"], color=colour, lw=1.5, label=name)
        best = h["val_loss"].idxmin()
        ax.plot(h.loc[best, "epoch"], h.loc[best, "val_loss"], "o", color=colour)
    ax.set_xlabel("epoch")
    ax.set_ylabel("batch loss (1 − mean E⁺) + mean E⁻")
    ax.set_title("Density nets: validation (solid) and training (dashed) loss")
    ax.legend(fontsize=8)
    fig.savefig(out_png, dpi=120)
    plt.close(fig)


def make_report(
    map_gpkg: str | Path,
    chips_zarr: str | Path,
    embeddings: list[str],
    histories: list[str],
    map_png: str | Path,
    chip_png: str | Path,
    curves_png: str | Path,
) -> None:
    """All figures of one area."""
    for path in (map_png, chip_png, curves_png):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    plot_map_vs_truth(map_gpkg, map_png)
    chip_id = plot_example_chip(map_gpkg, chips_zarr, embeddings, chip_png)
    plot_training_curves(histories, curves_png)
    log.info("figures written: %s, %s (chip %d), %s", map_png, chip_png, chip_id, curves_png)
