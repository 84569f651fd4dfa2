"""The density map for responders: one pixel per chip (COG) and a GeoPackage of chips with the
predicted class, class probabilities, landslide count and the inventory's class."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from ..grid import Grid
from ..io import atomic_path, write_cog

log = logging.getLogger(__name__)

NODATA = 255


def chip_grid(table: gpd.GeoDataFrame) -> Grid:
    """The grid whose pixels are the chips: same origin as the area, pixel = chip size."""
    left, _, right, top = table.total_bounds
    n_cols, n_rows = int(table["col"].max()) + 1, int(table["row"].max()) + 1
    size = (right - left) / n_cols
    return Grid(table.crs.to_string(), Affine(size, 0.0, left, 0.0, -size, top), n_cols, n_rows)


def density_map(chips_table: str | Path, predictions: str | Path, tif_out: str | Path, gpkg_out: str | Path) -> None:
    """Write the cross-predicted class of every chip as a uint8 COG (255 where a chip was
    excluded) and the chips with predictions as a GeoPackage layer "chips"."""
    table = gpd.read_file(chips_table, layer="chips")
    pred = pd.read_csv(predictions)
    merged = table.merge(pred.drop(columns=[c for c in ("half", "density_class") if c in pred]), on="chip", how="left")
    grid = chip_grid(table)
    classes = np.full(grid.shape, NODATA, dtype="uint8")
    have = merged["predicted_class"].notna()
    classes[merged.loc[have, "row"].to_numpy(), merged.loc[have, "col"].to_numpy()] = merged.loc[have, "predicted_class"].astype("uint8")
    write_cog(tif_out, classes, grid, nodata=NODATA, descriptions=["density_class"], resampling="nearest")
    merged["predicted_class"] = merged["predicted_class"].astype("Int8")
    with atomic_path(gpkg_out) as tmp:
        merged.to_file(tmp, layer="chips", driver="GPKG")
    counts = merged.loc[have, "predicted_class"].value_counts().sort_index().to_dict()
    log.info("map %s: %d x %d chips, predicted classes %s, %d without prediction", tif_out, grid.width, grid.height, counts, int((~have).sum()))
