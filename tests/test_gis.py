"""GIS outputs with known answers: the detection probability mosaic and its landslide polygons
(rasterio, GeoPackage), and the offline web map in a real headless Chromium."""

from __future__ import annotations

import json
import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr
from affine import Affine
from browser import has_colour, open_page
from shapely.geometry import Point

from landslide_sar.cube import published_layout
from landslide_sar.detection.map import detection_map, landslide_polygons
from landslide_sar.errors import InputError
from landslide_sar.grid import Grid
from landslide_sar.io import write_category_names, write_cog_annotated
from landslide_sar.webmap import CONFIDENCE_LAYER, HEAD_COLOUR, HEADS_LAYER, web_map

CRS = "EPSG:32619"
GRID = Grid(CRS, Affine(10.0, 0.0, 743000.0, 0.0, -10.0, 2022000.0), 64, 48)  # 640 x 480 m


def test_polygons_are_the_connected_pixels_above_the_threshold() -> None:
    prob = np.full(GRID.shape, 0.1, dtype="float32")
    prob[5:8, 10:13] = 0.9  # 3 x 3 pixels
    prob[20, 30:32] = 0.6  # 2 pixels
    prob[21, 32] = 0.7  # touches the pair diagonally: the same landslide (8-connected)
    prob[40, 40] = 0.49  # below the threshold
    prob[0:2, 0:2] = np.nan
    polys = landslide_polygons(prob, GRID, 0.5).sort_values("n_pixels", ascending=False)
    assert polys.crs == CRS and len(polys) == 2
    assert polys["n_pixels"].tolist() == [9, 3] and polys["area_m2"].tolist() == [900.0, 300.0]
    np.testing.assert_allclose(polys["max_probability"], [0.9, 0.7], rtol=1e-6)
    np.testing.assert_allclose(polys["mean_probability"], [0.9, (0.6 + 0.6 + 0.7) / 3], rtol=1e-6)
    np.testing.assert_allclose(polys.geometry.iloc[0].bounds, (743100.0, 2021920.0, 743130.0, 2021950.0))
    assert polys.geometry.area.tolist() == [900.0, 300.0]
    assert len(landslide_polygons(prob, GRID, 0.95)) == 0


def _cube(path: Path, grid: Grid = GRID) -> Path:
    y = grid.transform.f + grid.transform.e * (np.arange(grid.height) + 0.5)
    x = grid.transform.c + grid.transform.a * (np.arange(grid.width) + 0.5)
    yy, xx = np.meshgrid(np.arange(grid.height), np.arange(grid.width), indexing="ij")
    dem = (200 + 30 * np.sin(xx / 6.0) + 20 * np.cos(yy / 5.0) + 2 * yy).astype("float32")
    ds = (
        xr.Dataset({"dem": (("y", "x"), dem)}, coords={"y": y, "x": x})
        .rio.write_crs(CRS)
        .rio.write_transform(grid.transform)
    )
    published_layout(ds).to_zarr(path, mode="w", consolidated=True)
    return path


def _predictions(path: Path, chip: int = 16) -> tuple[Path, np.ndarray]:
    """Two chips of region_b (test) and one of region_a, with their origins; region_b's chip 1
    holds a 4 x 4 landslide at 0.8 and a nodata pixel."""
    rng = np.random.default_rng(0)
    prob = rng.uniform(0.0, 0.3, (3, chip, chip)).astype("float16")
    prob[1, 4:8, 4:8] = 0.8
    valid = np.ones((3, chip, chip), bool)
    valid[1, 0, 0] = False
    ds = xr.Dataset(
        {"prob": (("chip", "y", "x"), prob), "valid": (("chip", "y", "x"), valid)},
        coords={
            "chip": np.arange(3),
            "region": ("chip", ["region_b", "region_b", "region_a"]),
            "subset": ("chip", ["test", "test", "val"]),
            "row0": ("chip", [0, 16, 0]),
            "col0": ("chip", [0, 32, 16]),
        },
        attrs={"crs": json.dumps({"region_a": CRS, "region_b": CRS})},
    )
    ds.to_zarr(path, mode="w")
    return path, prob.astype("float32")


def test_detection_map_mosaics_the_chips_on_the_region_grid(tmp_path) -> None:
    cube = _cube(tmp_path / "cube.zarr")
    preds, prob = _predictions(tmp_path / "predictions.zarr")
    tif, gpkg = tmp_path / "probability.tif", tmp_path / "landslides.gpkg"
    detection_map(preds, cube, "region_b", 0.5, tif, gpkg, {"experiment": "transfer/sar_r4_aug"})
    with rasterio.open(tif) as src:
        assert src.crs == CRS and src.transform == GRID.transform and src.shape == GRID.shape
        assert src.descriptions == ("landslide_probability",) and src.units == ("1",)
        assert src.tags()["experiment"] == "transfer/sar_r4_aug" and src.tags()["chip_subsets"] == "test"
        assert src.tags()["probability_threshold"] == "0.5"
        out = src.read(1)
    np.testing.assert_array_equal(out[0:16, 0:16], prob[0])
    assert np.isnan(out[16, 32]) and out[20, 36] == np.float32(prob[1][4, 4]) == np.float32(np.float16(0.8))
    assert np.isnan(out[0:16, 16:32]).all()  # region_a's chip is not region_b's
    assert np.isfinite(out).sum() == 2 * 16 * 16 - 1
    polys = gpd.read_file(gpkg, layer="landslides")
    assert len(polys) == 1 and polys["n_pixels"].tolist() == [16] and polys.crs == CRS
    np.testing.assert_allclose(
        polys.geometry.iloc[0].bounds, (743000 + 36 * 10, 2022000 - 24 * 10, 743000 + 40 * 10, 2022000 - 20 * 10)
    )
    with pytest.raises(InputError, match="no chip of region 'region_c'"):
        detection_map(preds, cube, "region_c", 0.5, tmp_path / "c.tif", tmp_path / "c.gpkg")
    assert not (tmp_path / "c.tif").exists() and not (tmp_path / "c.gpkg").exists()


def _web_map_inputs(tmp_path: Path) -> dict:
    cube = _cube(tmp_path / "cube.zarr")
    chip_grid = Grid(CRS, Affine(160.0, 0.0, 743000.0, 0.0, -160.0, 2022000.0), 4, 3)
    classes = np.array([[0, 1, 2, 2], [1, 2, 0, 255], [2, 2, 1, 0]], dtype="uint8")
    density = tmp_path / "map.tif"
    colours = {0: (242, 240, 230, 255), 1: (244, 162, 89, 255), 2: (188, 75, 81, 255)}
    write_cog_annotated(density, classes, chip_grid, nodata=255, descriptions=["density_class"], colormap=colours)
    write_category_names(density, ["0: no landslides", "1: up to 25 /km²", "2: more than 25 /km²"])
    prob = np.zeros(GRID.shape, dtype="float32")
    prob[:, 40:] = np.nan
    prob[10:20, 10:20] = 1.0
    probability = tmp_path / "probability.tif"
    write_cog_annotated(probability, prob, GRID, nodata=np.nan)
    inventory = tmp_path / "inventory.gpkg"
    pts = [Point(743000 + 50 * i + 25, 2022000 - 60 * i - 25) for i in range(6)]
    gpd.GeoDataFrame(geometry=pts, crs=CRS).to_crs("EPSG:4326").to_file(inventory, layer="heads")
    # the class probabilities: the predicted class's probability 0.9 (yellow in viridis), sd bands
    class_prob = np.full((6, *chip_grid.shape), np.nan, dtype="float32")
    for c in range(3):
        class_prob[c] = np.where(classes == 255, np.nan, np.where(classes == c, 0.9, 0.05))
        class_prob[3 + c] = np.where(classes == 255, np.nan, 0.01)
    density_probability = tmp_path / "map_probability.tif"
    write_cog_annotated(
        density_probability,
        class_prob,
        chip_grid,
        nodata=np.nan,
        descriptions=[f"prob_class{c}" for c in range(3)] + [f"prob_class{c}_sd" for c in range(3)],
    )
    return {
        "cube_zarr": cube,
        "density_tif": density,
        "density_probability_tif": density_probability,
        "probability_tif": probability,
        "inventory": inventory,
    }


def test_web_map_is_offline_and_shows_every_layer_in_chromium(tmp_path) -> None:
    page = tmp_path / "webmap.html"
    web_map(html_out=page, title="landslide-sar: test", class_edges=(0, 25), **_web_map_inputs(tmp_path))
    text = page.read_text()
    # self-contained: no script, style or image from outside (the one link is Leaflet's attribution)
    external = set(re.findall(r'<(?:script|link|img)[^>]+(?:src|href)="((?:https?:)?//[^"]+)"', text))
    assert not external, external
    logs, shot, page_info = open_page(page)
    assert [m for m in logs if m["level"] in ("SEVERE", "WARNING")] == [], logs
    assert page_info["title"] == "landslide-sar: test"
    # at first: hillshade, density classes, detection probability; the confidence and the heads off
    assert page_info["layers"] == 3 and page_info["markers"] == 0, page_info
    legend = page_info["legend"]
    assert "2: more than 25 /km²" in legend and "landslide probability" in legend
    assert "landslide head" not in legend and "class shown" not in legend  # a layer's legend shows with it
    # not blank: the hillshade's greys, the density classes (over it, 60 % opaque) and the
    # probability's bright 1.0 block (magma's pale yellow) are on screen
    r, g, b = (shot[..., i].astype(int) for i in range(3))
    grey = (np.abs(r - g) < 6) & (np.abs(g - b) < 6) & (r > 60) & (r < 235)
    reddish = (r - g > 50) & (r - b > 40)
    yellow = (r > 220) & (g > 200) & (b < 190) & (b > 120)
    assert grey.sum() > 2000 and reddish.sum() > 2000 and yellow.sum() > 200, (grey.sum(), reddish.sum(), yellow.sum())
    # switched on: the heads (six dots) and the confidence (viridis: 0.9 is yellow-green), each with its legend
    logs, shot, page_info = open_page(page, click=(HEADS_LAYER, CONFIDENCE_LAYER))
    assert [m for m in logs if m["level"] in ("SEVERE", "WARNING")] == [], logs
    assert page_info["layers"] == 4 and page_info["markers"] == 6, page_info
    assert "landslide head (inventory, 6)" in page_info["legend"] and "class shown" in page_info["legend"]
    from matplotlib import colormaps

    assert has_colour(shot, tuple(int(255 * v) for v in colormaps["viridis"](0.85)[:3]), tol=45, min_pixels=2000)


def test_web_map_at_its_initial_view_shows_the_density_classes_not_a_blanket_of_heads(tmp_path) -> None:
    """The embedded area's case: thousands of inventory heads over a density map. Opened as it
    comes, the page shows the classes; the heads (off at first) cover almost nothing."""
    inputs = _web_map_inputs(tmp_path)
    rng = np.random.default_rng(0)
    x = 743000 + rng.uniform(0, GRID.width * 10, 5000)
    y = 2022000 - rng.uniform(0, GRID.height * 10, 5000)
    gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs=CRS).to_file(inputs["inventory"], layer="heads")
    page = tmp_path / "webmap.html"
    web_map(
        inputs["cube_zarr"],
        page,
        "landslide-sar: heads",
        density_tif=inputs["density_tif"],
        inventory=inputs["inventory"],
    )
    logs, shot, _ = open_page(page)
    assert [m for m in logs if m["level"] in ("SEVERE", "WARNING")] == [], logs
    r, g, b = (shot[..., i].astype(int) for i in range(3))
    heads_blue = (
        np.abs(shot.astype(int) - np.array([int(HEAD_COLOUR[k : k + 2], 16) for k in (1, 3, 5)])).max(axis=-1) <= 40
    ).mean()
    # the classes 1 and 2 (orange, red; 60 % over the hillshade): 8 of the 12 chips
    warm = ((r - b > 40) & (r > 120)).mean()
    assert heads_blue < 0.002 and warm > 0.12, (heads_blue, warm)
