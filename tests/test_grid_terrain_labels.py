"""Unit tests with known answers: the area grid, DEM derivatives, rasterised inventory."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import rasterio.windows
from affine import Affine
from shapely.geometry import Point, box

from landslide_sar.errors import InputError
from landslide_sar.grid import Grid, area_grid, check_bbox, utm_epsg
from landslide_sar.io import cog_writer, write_cog
from landslide_sar.labels import pixel_of, rasterize_inventory, read_inventory
from landslide_sar.terrain import curvature, dem_derivatives, derivatives_of, slope_aspect


def test_utm_zone_of_puerto_rico_and_southern_hemisphere() -> None:
    assert utm_epsg(-66.6, 18.2) == 32619
    assert utm_epsg(145.0, -37.8) == 32755  # Melbourne, zone 55 south


def test_area_grid_is_snapped_and_covers_bbox() -> None:
    g = area_grid((-66.70, 18.25, -66.67, 18.28), 10)
    assert g.crs == "EPSG:32619"
    left, bottom, right, top = g.bounds
    assert left % 10 == 0 and top % 10 == 0 and right % 10 == 0 and bottom % 10 == 0
    w, s, e, n = g.lonlat_bbox()
    assert w <= -66.70 and s <= 18.25 and e >= -66.67 and n >= 18.28
    # ~3.2 km x 3.3 km at 10 m
    assert 300 < g.width < 340 and 320 < g.height < 350


@pytest.mark.parametrize(
    "bbox, fragment",
    [
        ((-66.6, 18.2, -66.7, 18.3), "min >= max"),
        ((18.2, -200.0, 18.3, -199.0), "not on Earth"),
        ((10.0, 95.0, 11.0, 96.0), "lon/lat swapped"),
        ((1.0, 2.0, 3.0), "expected [min_lon"),
    ],
)
def test_bad_bbox_is_one_clear_line(bbox, fragment) -> None:
    with pytest.raises(InputError) as err:
        check_bbox(bbox)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_slope_and_aspect_of_planes() -> None:
    y, x = np.mgrid[0:15, 0:15].astype("float32") * 10
    # z rises eastward by 0.2 m/m: slope atan(0.2), the slope faces west (270°)
    slope, aspect = slope_aspect(0.2 * x, 10)
    assert np.allclose(slope[1:-1, 1:-1], np.arctan(0.2), atol=1e-5)
    assert np.allclose(aspect[1:-1, 1:-1], 270.0, atol=1e-3)
    # z rises southward (down the rows of a north-up raster): faces north (0°)
    slope, aspect = slope_aspect(0.5 * y, 10)
    assert np.allclose(slope[1:-1, 1:-1], np.arctan(0.5), atol=1e-5)
    assert np.allclose(np.mod(aspect[1:-1, 1:-1], 360), 0.0, atol=1e-3)
    _, aspect = slope_aspect(np.zeros((6, 6), "float32"), 10)
    assert np.all(aspect[1:-1, 1:-1] == -1)  # flat, as richdem


def test_curvature_of_paraboloids_has_richdem_sign_and_size() -> None:
    y, x = np.mgrid[0:21, 0:21].astype("float64") * 10
    bowl = ((x - 100) ** 2 + (y - 100) ** 2) / 1000.0  # Laplacian 0.004 /m
    c = curvature(bowl.astype("float32"), 10)
    assert np.allclose(c[1:-1, 1:-1], -0.4, atol=1e-3)  # concave: negative, -100 x Laplacian
    assert np.allclose(curvature((-bowl).astype("float32"), 10)[1:-1, 1:-1], 0.4, atol=1e-3)
    assert np.isnan(c[0]).all() and np.isnan(c[:, -1]).all()


def test_dem_derivatives_writes_three_named_bands(tmp_path) -> None:
    grid = Grid("EPSG:32619", Affine(10, 0, 700000, 0, -10, 2000000), 40, 30)
    y, x = np.mgrid[0:30, 0:40].astype("float32") * 10
    write_cog(tmp_path / "dem.tif", 100 + 0.1 * x, grid, nodata=np.nan)
    dem_derivatives(tmp_path / "dem.tif", tmp_path / "d.tif")
    with rasterio.open(tmp_path / "d.tif") as src:
        assert src.descriptions == ("dem_slope_radians", "dem_aspect", "dem_curvature")
        assert src.crs.to_epsg() == 32619 and src.transform == grid.transform
        slope, aspect, curv = src.read()
    assert np.nanmax(np.abs(slope - np.arctan(0.1))) < 1e-5
    assert np.allclose(aspect[1:-1, 1:-1], 270.0, atol=1e-3)
    assert np.nanmax(np.abs(curv)) < 1e-3


@pytest.mark.parametrize("sigma", [0.0, 1.5])
def test_dem_derivatives_in_row_strips_equal_the_whole_dem_at_once(tmp_path, sigma) -> None:
    # a rough random DEM with nodata, in strips of 13 rows (the DEM has 61): the halo makes the
    # strips' result exactly that of the whole array, smoothing included
    rng = np.random.default_rng(6)
    dem = (500 + rng.normal(size=(61, 47)).cumsum(0).cumsum(1)).astype("float32")
    dem[rng.random(dem.shape) < 0.02] = np.nan
    dem[:4, :6] = np.nan
    grid = Grid("EPSG:32619", Affine(10, 0, 700000, 0, -10, 2000000), 47, 61)
    write_cog(tmp_path / "dem.tif", dem, grid, nodata=np.nan)
    dem_derivatives(tmp_path / "dem.tif", tmp_path / "d.tif", smoothing_sigma_px=sigma, strip_rows=13)
    with rasterio.open(tmp_path / "d.tif") as src:
        strips = src.read()
    fill = float(np.nansum(dem.astype("float64")) / np.isfinite(dem).sum())
    whole = derivatives_of(dem, 10.0, sigma, fill)
    assert np.array_equal(strips, whole, equal_nan=True)
    assert np.isfinite(strips[0]).mean() > 0.5  # not vacuous: most pixels have a slope


def test_cog_writer_leaves_nothing_behind_when_it_fails(tmp_path) -> None:
    grid = Grid("EPSG:32619", Affine(10, 0, 700000, 0, -10, 2000000), 20, 10)
    with pytest.raises(RuntimeError):
        with cog_writer(tmp_path / "out.tif", grid, 1, "float32", nodata=np.nan) as dst:
            dst.write(np.ones((1, 5, 20), "float32"), window=rasterio.windows.Window(0, 0, 20, 5))
            raise RuntimeError("half-way")
    assert list(tmp_path.iterdir()) == []
    write_cog(tmp_path / "out.tif", np.arange(200, dtype="float32").reshape(10, 20), grid, nodata=np.nan)
    assert [p.name for p in tmp_path.iterdir()] == ["out.tif"]
    with rasterio.open(tmp_path / "out.tif") as src:
        assert src.read(1)[3, 4] == 64 and src.profile["tiled"]


def test_point_lands_in_the_pixel_that_contains_it() -> None:
    grid = Grid("EPSG:32619", Affine(10, 0, 1000, 0, -10, 5000), 8, 6)
    rows, cols = pixel_of(
        np.array([1000.1, 1035.0, 1079.99, 1010.0]), np.array([4999.9, 4975.0, 4940.01, 4990.0]), grid
    )
    assert rows.tolist() == [0, 2, 5, 1]
    assert cols.tolist() == [0, 3, 7, 1]


def test_rasterize_counts_heads_and_burns_polygons() -> None:
    grid = Grid("EPSG:32619", Affine(10, 0, 0, 0, -10, 100), 10, 10)
    inv = gpd.GeoDataFrame(
        geometry=[Point(15, 85), Point(16, 84), Point(55, 45), box(70, 10, 90, 30)], crs="EPSG:32619"
    )
    label, counts = rasterize_inventory(inv, grid)
    assert counts[1, 1] == 2 and counts[5, 5] == 1
    assert counts.sum() == 4  # the polygon counts once, at its representative point
    assert label[1, 1] == 1 and label[5, 5] == 1
    assert label[7:9, 7:9].all()  # the polygon's footprint is labelled
    assert label.sum() == 2 + label[6:10, 6:10].sum()


def test_inventory_faults_are_one_line(tmp_path) -> None:
    grid = area_grid((-66.70, 18.25, -66.67, 18.28), 10)
    empty = tmp_path / "empty.gpkg"
    gpd.GeoDataFrame(geometry=[], crs="EPSG:4326").to_file(empty)
    outside = tmp_path / "outside.gpkg"
    gpd.GeoDataFrame(geometry=[Point(10, 10)], crs="EPSG:4326").to_file(outside)
    for path, fragment in (
        (empty, "no features"),
        (outside, "outside the area"),
        (tmp_path / "missing.gpkg", "not a readable"),
    ):
        with pytest.raises(InputError, match=fragment):
            read_inventory(path, grid)
    partly = tmp_path / "partly.gpkg"
    gpd.GeoDataFrame(geometry=[Point(10, 10), Point(-66.68, 18.26)], crs="EPSG:4326").to_file(partly)
    assert len(read_inventory(partly, grid)) == 1


@pytest.mark.filterwarnings("ignore:'crs' was not provided")
def test_inventory_without_crs_is_one_line(tmp_path) -> None:
    grid = area_grid((-66.70, 18.25, -66.67, 18.28), 10)
    no_crs = tmp_path / "no_crs.gpkg"
    gpd.GeoDataFrame(geometry=[Point(-66.68, 18.26)]).to_file(no_crs)
    with pytest.raises(InputError) as err:
        read_inventory(no_crs, grid)
    assert str(no_crs) in str(err.value) and "CRS" in str(err.value) and "\n" not in str(err.value)


def test_dem_all_nodata_over_the_area_is_one_line_and_writes_nothing(tmp_path) -> None:
    from landslide_sar.terrain import download_dem

    bbox = [-66.70, 18.25, -66.67, 18.28]
    # a DEM in EPSG:4326 that lies 1 degree east of the area: nothing of it falls on the grid
    dem_grid = Grid("EPSG:4326", Affine(0.001, 0, -65.70, 0, -0.001, 18.28), 30, 30)
    write_cog(tmp_path / "far.tif", np.full((30, 30), 100.0, dtype="float32"), dem_grid, nodata=np.nan)
    area = {"bbox": bbox, "resolution": 10, "dem": {"source": "file", "path": str(tmp_path / "far.tif")}}
    with pytest.raises(InputError) as err:
        download_dem(area, tmp_path / "far.tif", tmp_path / "dem.tif")
    assert "all nodata over the area" in str(err.value) and str(tmp_path / "far.tif") in str(err.value)
    assert not (tmp_path / "dem.tif").exists()
