"""The report's figures as a document: the density map over the DEM's hillshade with the heads on
top, the confusion matrix whose numbers are those of metrics_confusion.csv, and the detection
maps' truth overlay with its own legend entry. Each figure exists and is not blank."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from PIL import Image
from shapely.geometry import box

from landslide_sar.density.figures import plot_confusion_matrix, plot_map_vs_truth, terrain_and_heads
from landslide_sar.density.map import CLASS_COLOURS
from landslide_sar.detection.figures import PROBABILITY_CMAP, TRUTH_COLOUR, plot_transfer_maps, probability_scale

CRS = "EPSG:32619"


def pixels(png) -> np.ndarray:
    return np.asarray(Image.open(png).convert("RGB")).reshape(-1, 3)


def assert_not_blank(png) -> None:
    rgb = pixels(png)
    assert rgb.std() > 10 and len(np.unique(rgb, axis=0)) > 20, png


def has_colour(png, hex_colour: str, tol: int = 12, at_least: int = 20) -> bool:
    want = np.array([int(hex_colour.lstrip("#")[k : k + 2], 16) for k in (0, 2, 4)])
    return int((np.abs(pixels(png).astype(int) - want).max(axis=1) <= tol).sum()) >= at_least


def cube(path, n: int = 64, res: float = 10.0):
    """A ridge (so the hillshade has light and shadow), heads at three known pixels."""
    yy, xx = np.mgrid[0:n, 0:n]
    dem = (300.0 + 80.0 * np.sin(xx / 6.0) + 2.0 * yy).astype("float32")
    lab = np.zeros((n, n), "uint16")
    lab[5, 7] = lab[40, 12] = lab[60, 50] = 1
    x = 500_000.0 + res * (np.arange(n) + 0.5)
    y = 2_000_000.0 - res * (np.arange(n) + 0.5)
    xr.Dataset({"dem": (("y", "x"), dem), "landslides": (("y", "x"), lab)}, coords={"y": y, "x": x}).to_zarr(path)
    return x, y


def chips_gpkg(path, n_px: int = 64, size: int = 16, res: float = 10.0) -> gpd.GeoDataFrame:
    rows = []
    k = 0
    for r in range(n_px // size):
        for c in range(n_px // size):
            left, top = 500_000.0 + c * size * res, 2_000_000.0 - r * size * res
            true = (r + c) % 3
            pred = np.nan if k == 5 else float((true + (k % 4 == 0)) % 3)
            prob = np.full(3, np.nan) if k == 5 else np.eye(3)[int(pred)] if k == 0 else np.full(3, 1 / 3)
            rows.append(
                {
                    "chip": k,
                    "density_class": true,
                    "predicted_class": pred,
                    **{f"prob_class{c}": prob[c] for c in range(3)},
                    **{f"prob_class{c}_sd": 0.0 if k != 3 else 0.2 for c in range(3)},
                    "geometry": box(left, top - size * res, left + size * res, top),
                }
            )
            k += 1
    table = gpd.GeoDataFrame(rows, crs=CRS)
    table.to_file(path, layer="chips", driver="GPKG")
    return table


def test_terrain_and_heads_gives_the_labelled_pixels_and_a_shaded_relief(tmp_path) -> None:
    x, y = cube(tmp_path / "cube.zarr")
    t = terrain_and_heads(tmp_path / "cube.zarr")
    assert sorted(zip(t["heads_x"], t["heads_y"])) == sorted([(x[7], y[5]), (x[12], y[40]), (x[50], y[60])])
    assert t["extent"] == (500_000.0, 500_640.0, 1_999_360.0, 2_000_000.0)
    shade = t["shade"][2:-2, 2:-2]
    assert shade.shape == (60, 60) and np.nanmax(shade) - np.nanmin(shade) > 100  # both slopes of the ridge
    coarse = terrain_and_heads(tmp_path / "cube.zarr", max_pixels=16)  # strided: 4 px blocks
    assert coarse["shade"].shape == (16, 16) and len(coarse["heads_x"]) == 3


def test_map_figure_draws_the_classes_over_the_hillshade_with_the_heads(tmp_path) -> None:
    cube(tmp_path / "cube.zarr")
    chips_gpkg(tmp_path / "map.gpkg")
    plain, over = tmp_path / "plain.png", tmp_path / "over.png"
    plot_map_vs_truth(tmp_path / "map.gpkg", plain, None, (0, 25))
    plot_map_vs_truth(tmp_path / "map.gpkg", over, tmp_path / "cube.zarr", (0, 25))
    assert_not_blank(plain)
    assert_not_blank(over)
    assert has_colour(plain, CLASS_COLOURS[2])  # opaque classes without a base layer
    # the confidence panel: chip 0 is certain (viridis' top, yellow), the others a three-way guess
    # (its bottom, dark purple); the spread panel: chip 3's sd 0.2 is the top of Reds. Whole chips,
    # not only the colour bars' ends (a few dozen pixels each).
    import matplotlib

    def colour(name: str, at: float) -> str:
        return matplotlib.colors.to_hex(matplotlib.colormaps[name](at))

    assert has_colour(plain, colour("viridis", 1.0), at_least=300)
    assert has_colour(plain, colour("viridis", 0.0), at_least=3000)  # 14 chips
    assert has_colour(plain, colour("Reds", 1.0), at_least=300)

    # the hillshade shows through the classes: many more distinct colours than the flat classes
    def class_panel(png) -> np.ndarray:  # the top-left panel: predicted classes
        rgb = np.asarray(Image.open(png).convert("RGB"))
        return rgb[: rgb.shape[0] // 2, : rgb.shape[1] // 2].reshape(-1, 3)

    assert len(np.unique(class_panel(over), axis=0)) > 3 * len(np.unique(class_panel(plain), axis=0))


def test_confusion_matrix_figure_shows_the_csvs_numbers(tmp_path) -> None:
    counts = np.array([[40, 3, 0], [7, 31, 9], [0, 12, 25]])
    csv = tmp_path / "metrics_confusion.csv"
    pd.DataFrame(counts, index=pd.Index([0, 1, 2], name="true_class"), columns=["pred_0", "pred_1", "pred_2"]).to_csv(
        csv
    )
    png = tmp_path / "confusion.png"
    drawn = plot_confusion_matrix(csv, png, (0, 25), "fused_r3")
    np.testing.assert_array_equal(drawn, pd.read_csv(csv, index_col="true_class").to_numpy())
    assert_not_blank(png)


def test_probability_scale_spans_the_probabilities_shown_so_low_ones_stand_apart() -> None:
    from matplotlib import colormaps

    # a U-Net's low probabilities: 99 % of them at most 0.2, a few near 1
    values = np.concatenate([np.linspace(0, 0.2, 9900), np.full(100, 0.95), [np.nan]])
    top, norm = probability_scale(values)
    assert top == pytest.approx(0.2, abs=0.01)  # the 99th percentile, not 1
    cmap = colormaps[PROBABILITY_CMAP]
    low, high = (np.array(cmap(float(norm(v)))[:3]) for v in (0.05, 0.2))
    assert np.abs(high - low).max() > 0.4  # 0.05 and 0.2 are far apart on the scale
    assert float(norm(0.95)) == 1.0  # beyond the top: the top colour
    assert probability_scale(np.full(10, 0.8))[0] == 0.8 and probability_scale(np.zeros(5))[0] == 0.01


def transfer_predictions(path, seed: int) -> None:
    """Two regions of four 16 px chips; a landslide square per chip, probability high on it."""
    rng = np.random.default_rng(seed)
    n, s = 8, 16
    label = np.zeros((n, s, s), "uint8")
    label[:, 4:10, 5:11] = 1
    prob = np.clip(0.8 * label + rng.uniform(0, 0.3, label.shape), 0, 1).astype("float16")
    row0 = np.array([0, 0, 16, 16] * 2)
    col0 = np.array([0, 16, 0, 16] * 2)
    region = np.array(["region_a"] * 4 + ["region_b"] * 4)
    subset = np.array(["val"] * 4 + ["test"] * 4)
    xr.Dataset(
        {
            "prob": (("chip", "y", "x"), prob),
            "label": (("chip", "y", "x"), label),
            "valid": (("chip", "y", "x"), np.ones_like(label, bool)),
        },
        coords={
            "chip": np.arange(n),
            "region": ("chip", region),
            "subset": ("chip", subset),
            "row0": ("chip", row0),
            "col0": ("chip", col0),
        },
    ).to_zarr(path)


@pytest.mark.filterwarnings("ignore:Consolidated metadata")
def test_transfer_maps_overlay_the_truth_with_its_own_legend_entry(tmp_path) -> None:
    from landslide_sar.detection.experiments import Experiment

    paths = {}
    for k, (inputs, aug) in enumerate((("sar", False), ("fused", True))):
        e = Experiment("transfer", inputs, 4, aug, "a", "b", False)
        paths[e] = tmp_path / "transfer" / e.name / "predictions.zarr"
        transfer_predictions(paths[e], k)
    png = tmp_path / "maps.png"
    labels = plot_transfer_maps(paths, png)
    assert labels[0].startswith("truth") and any(label.startswith("not evaluated") for label in labels)
    assert_not_blank(png)
    assert has_colour(png, TRUTH_COLOUR, tol=40, at_least=300)  # the outline is drawn (and its legend line)
