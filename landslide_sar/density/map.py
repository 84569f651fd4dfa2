"""The density map for responders: one pixel per chip (COG with a colour table, category names
from the configured class edges and provenance tags), the class probabilities (a sibling COG, one
named band per class) and a GeoPackage of chips with the predicted class, class probabilities,
landslide count and the inventory's class."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
from affine import Affine

from ..calibration import Calibrator
from ..grid import Grid
from ..io import atomic_path, write_category_names, write_cog_annotated
from .chip_io import below_min_valid
from .choice import choice_tags, read_choice

log = logging.getLogger(__name__)

NODATA = 255
CLASSES = (0, 1, 2)
#: Colours of classes 0, 1, 2 (the figures' and the web map's too).
CLASS_COLOURS = ("#f2f0e6", "#f4a259", "#bc4b51")


def class_names(edges: Sequence[float]) -> list[str]:
    """Names of density classes 0, 1, 2 from the class edges in landslides per km² (chips.
    density_class_edges_per_km2): [0, 25] -> no landslides, up to 25 /km², more than 25 /km²."""
    e0, e1 = (float(e) for e in edges)
    first = "0: no landslides" if e0 == 0 else f"0: up to {e0:g} /km²"
    return [first, f"1: {e0:g}–{e1:g} /km²" if e0 else f"1: up to {e1:g} /km²", f"2: more than {e1:g} /km²"]


def _rgba(hex_colour: str) -> tuple[int, int, int, int]:
    h = hex_colour.lstrip("#")
    return int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16), 255


def chip_grid(table: gpd.GeoDataFrame) -> Grid:
    """The grid whose pixels are the chips: same origin as the area, pixel = chip size."""
    left, _, right, top = table.total_bounds
    n_cols, n_rows = int(table["col"].max()) + 1, int(table["row"].max()) + 1
    size = (right - left) / n_cols
    return Grid(table.crs.to_string(), Affine(size, 0.0, left, 0.0, -size, top), n_cols, n_rows)


def density_map(
    chips_table: str | Path,
    predictions: str | Path,
    tif_out: str | Path,
    gpkg_out: str | Path,
    probability_out: str | Path | None = None,
    class_edges: Sequence[float] = (0, 25),
    provenance: Mapping[str, object] | None = None,
    *,
    min_valid_fraction: float,
    calibration: str | Path | None = None,
    choice: str | Path | None = None,
) -> None:
    """Write the cross-predicted class of every chip as a uint8 COG (255 where a chip has no
    prediction) with a colour table, category names (`<tif>.aux.xml`) from `class_edges` and
    `provenance` as tags; the class probabilities as a float32 COG (`probability_out`, bands
    prob_class0..2 and, from a seed ensemble, prob_class0..2_sd; NaN without prediction); the
    chips with predictions as GeoPackage layer "chips". A chip whose valid fraction is below
    `min_valid_fraction` (chips.min_valid_fraction) has no prediction whatever `predictions`
    says (a warning counts any it gave a class); the log counts them. `choice`: the
    choose_density_map file whose experiment `predictions` is; its experiment, why it was chosen
    and its validation score become tags too. With `calibration` (the JSON of
    density_calibration) the class probabilities (COG and GeoPackage) are recalibrated by it and
    the probability COG carries its tag CALIBRATION; the class map keeps the forest's class (the
    one the metrics score), and the sd bands stay those of the uncalibrated members."""
    table = gpd.read_file(chips_table, layer="chips")
    pred = pd.read_csv(predictions)
    merged = table.merge(pred.drop(columns=[c for c in ("half", "density_class") if c in pred]), on="chip", how="left")
    short = below_min_valid(merged, min_valid_fraction, f"density_map {chips_table}")
    given = short & merged["predicted_class"].notna().to_numpy()
    if given.any():
        log.warning(
            "%s gives %d chip(s) with valid fraction below chips.min_valid_fraction %g a class (chips %s): "
            "mapped without prediction",
            predictions,
            int(given.sum()),
            min_valid_fraction,
            merged.loc[given, "chip"].tolist()[:5],
        )
        merged.loc[given, [c for c in merged.columns if c == "predicted_class" or c.startswith("prob_class")]] = np.nan
    cal_tag = {}
    if calibration is not None:
        cal = Calibrator.from_json(Path(calibration).read_text())
        probs = [f"prob_class{c}" for c in CLASSES]
        rows = merged[probs].notna().all(axis=1).to_numpy()
        merged.loc[rows, probs] = cal.apply(merged.loc[rows, probs].to_numpy(dtype=float))
        cal_tag = {"CALIBRATION": cal.tag()}
        log.info("class probabilities recalibrated: %s", cal_tag["CALIBRATION"])
    grid = chip_grid(table)
    names = class_names(class_edges)
    tags = {
        "class_edges_per_km2": ", ".join(f"{float(e):g}" for e in class_edges),
        **{f"class_{c}": n for c, n in zip(CLASSES, names)},
        **{str(k): str(v) for k, v in (provenance or {}).items()},
        **(choice_tags(read_choice(choice)) if choice is not None else {}),
    }
    classes = np.full(grid.shape, NODATA, dtype="uint8")
    have = merged["predicted_class"].notna()
    rows, cols = merged.loc[have, "row"].to_numpy(), merged.loc[have, "col"].to_numpy()
    classes[rows, cols] = merged.loc[have, "predicted_class"].astype("uint8")
    write_cog_annotated(
        tif_out,
        classes,
        grid,
        nodata=NODATA,
        descriptions=["density_class"],
        units=["class"],
        tags=tags,
        band_tags=[{"long_name": "predicted landslide density class (255: no prediction)"}],
        colormap={c: _rgba(col) for c, col in zip(CLASSES, CLASS_COLOURS)},
        resampling="nearest",
    )
    write_category_names(tif_out, names)
    if probability_out is not None:
        # the members' mean probability per class and, when the predictions carry them, its sd over
        # the members (training seeds): where the seeds disagree the map is least sure
        bands = [f"prob_class{c}" for c in CLASSES] + [
            f"prob_class{c}_sd" for c in CLASSES if f"prob_class{c}_sd" in merged
        ]
        prob = np.full((len(bands), *grid.shape), np.nan, dtype="float32")
        for i, band in enumerate(bands):
            prob[i, rows, cols] = merged.loc[have, band].to_numpy(dtype="float32")
        long_names = [f"probability of density class {n} (mean over the training seeds)" for n in names]
        long_names += [f"sd over the training seeds of the probability of class {n}" for n in names][
            : len(bands) - len(CLASSES)
        ]
        write_cog_annotated(
            probability_out,
            prob,
            grid,
            nodata=np.nan,
            descriptions=bands,
            units=["1"] * len(bands),
            tags={**tags, **cal_tag},
            band_tags=[{"long_name": n} for n in long_names],
            resampling="average",
        )
    merged["predicted_class"] = merged["predicted_class"].astype("Int8")
    with atomic_path(gpkg_out) as tmp:
        merged.to_file(tmp, layer="chips", driver="GPKG")
    counts = {int(c): int(n) for c, n in merged.loc[have, "predicted_class"].value_counts().sort_index().items()}
    log.info(
        "map %s: %d x %d chips, predicted classes %s; %d chips without prediction: %d with valid fraction (SAR and "
        "DEM) below chips.min_valid_fraction %g, %d others without a row in %s",
        tif_out,
        grid.width,
        grid.height,
        counts,
        int((~have).sum()),
        int(short.sum()),
        min_valid_fraction,
        int((~have & ~short).sum()),
        predictions,
    )
