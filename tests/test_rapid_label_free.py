"""Rapid response with no trained model (rapid_response.<area>.method label_free): the label-free
detector maps a toy cube with known answers (a known dB drop inside a known square is flagged and
outlined; water and flat ground are masked), the config's method rules, and the workflow's DAG."""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from conftest import snakemake, tiny_config, write_config
from rasterio.transform import from_origin
from shapely.geometry import box

from landslide_sar.config import validate_config
from landslide_sar.density.transfer import check_rapid_config
from landslide_sar.detection.label_free_map import POLYGON_COLUMNS, label_free_map, score_cube
from landslide_sar.errors import ConfigError, InputError
from landslide_sar.label_free import LabelFreeSettings

N = 48  # pixels a side
RES = 10.0
X0, Y0 = 500_000.0, 2_000_000.0  # top-left corner (UTM 19N)
SQUARE = (slice(10, 22), slice(14, 26))  # rows, cols of the scar
WATER = (slice(38, 48), slice(0, 12))
FLAT = (slice(0, 8), slice(34, 48))  # flat ground, with the same drop as the scar


def toy_cube(n_pre: int = 4, n_post: int = 3, seed: int = 0) -> xr.Dataset:
    """VV -8 dB, VH -15 dB with 0.5 dB noise; after the event VH drops 6 dB and VV rises 3 dB on
    SQUARE and on FLAT (slope 2°, elsewhere 30°); WATER's VV is -25 dB (below water_db)."""
    rng = np.random.default_rng(seed)
    nt = n_pre + n_post
    times = pd.date_range("2024-04-01", periods=nt, freq="12D")
    event = times[n_pre - 1] + pd.Timedelta(days=6)
    vv = -8.0 + rng.normal(0, 0.5, (nt, N, N))
    vh = -15.0 + rng.normal(0, 0.5, (nt, N, N))
    vv[(slice(None), *WATER)] = -25.0 + rng.normal(0, 0.5, (nt, 10, 12))
    for rows, cols in (SQUARE, FLAT):
        vh[n_pre:, rows, cols] -= 6.0
        vv[n_pre:, rows, cols] += 3.0
    slope = np.full((N, N), np.deg2rad(30.0), np.float32)
    slope[FLAT] = np.deg2rad(2.0)
    lin = {k: (10 ** (v / 10)).astype(np.float32) for k, v in (("vv", vv), ("vh", vh))}
    ds = xr.Dataset(
        {
            "vv": (("timestep", "y", "x"), lin["vv"]),
            "vh": (("timestep", "y", "x"), lin["vh"]),
            "dem": (("y", "x"), np.full((N, N), 500.0, np.float32)),
            "dem_slope_radians": (("y", "x"), slope),
        },
        coords={
            "timestep": times.values,
            "y": Y0 - RES * (np.arange(N) + 0.5),
            "x": X0 + RES * (np.arange(N) + 0.5),
        },
        attrs={"event_time": event.isoformat() + "Z"},
    )
    return ds.rio.write_crs("EPSG:32619").rio.write_transform(from_origin(X0, Y0, RES, RES))


def write_cube(tmp_path: Path, cube: xr.Dataset) -> Path:
    path = tmp_path / "results" / "new" / "cube.zarr"
    cube.to_zarr(path, mode="w")
    return path


def test_a_known_drop_is_flagged_and_outlined_and_water_and_flat_are_masked(tmp_path) -> None:
    cube = write_cube(tmp_path, toy_cube())
    tif, gpkg = tmp_path / "label_free.tif", tmp_path / "label_free.gpkg"
    label_free_map(cube, tif, gpkg, settings={}, provenance={"area": "new"})
    with rasterio.open(tif) as src:
        assert src.descriptions == ("score", "flagged")
        assert src.crs.to_epsg() == 32619 and src.transform == from_origin(X0, Y0, RES, RES)
        assert src.width == src.height == N
        tags = src.tags()
        assert tags["method"] == "label_free" and tags["revisits"] == "3" and tags["area"] == "new"
        assert "threshold=3.0" in tags["settings"] and tags["event_time"].startswith("2024-05")
        assert "masked" in src.tags(1)["long_name"] and "masked" in src.tags(2)["long_name"]
        score, flagged = src.read(1), src.read(2)
    inside = np.zeros((N, N), bool)
    inside[SQUARE] = True
    water, flat = np.zeros((N, N), bool), np.zeros((N, N), bool)
    water[WATER], flat[FLAT] = True, True
    assert np.isnan(score[water]).all() and np.isnan(flagged[water]).all()
    assert np.isnan(score[flat]).all() and np.isnan(flagged[flat]).all()  # the drop there is not called
    scored = ~water & ~flat
    assert np.isfinite(score[scored]).all()
    np.testing.assert_array_equal(flagged[scored], (score[scored] >= 3.0).astype(np.float32))
    assert flagged[inside].mean() == 1.0  # a 6 dB drop over 0.5 dB noise: z far above 3 everywhere
    assert flagged[scored & ~inside].mean() < 0.02  # no-change false alarms
    polys = gpd.read_file(gpkg, layer="flagged")
    assert list(polys.columns) == [*POLYGON_COLUMNS, "geometry"]
    biggest = polys.loc[polys["n_pixels"].idxmax()]
    square = box(X0 + RES * 14, Y0 - RES * 22, X0 + RES * 26, Y0 - RES * 10)
    assert biggest.geometry.buffer(1e-6).covers(square)
    assert biggest["n_pixels"] >= 144 and biggest["area_m2"] == biggest["n_pixels"] * RES**2
    assert biggest["max_score"] >= biggest["mean_score"] >= 3.0
    assert int(polys["n_pixels"].sum()) == int(np.nansum(flagged))


def test_log_counts_masks_and_flagged_share(tmp_path, caplog) -> None:
    cube = write_cube(tmp_path, toy_cube())
    with caplog.at_level("INFO"):
        label_free_map(cube, tmp_path / "a.tif", tmp_path / "a.gpkg", revisits=1)
    line = next(r.getMessage() for r in caplog.records if "label-free map" in r.getMessage())
    assert "4 acquisition(s) before / 1 after" in line
    assert "'nodata': 0, 'water': 120, 'flat': 112" in line and "flagged" in line


def test_web_map_shows_the_flagged_layer(tmp_path) -> None:
    from landslide_sar.cube import published_layout
    from landslide_sar.webmap import LABEL_FREE_LAYER, web_map

    cube = write_cube(tmp_path, published_layout(toy_cube()))  # CF grid mapping: GDAL reads the DEM
    label_free_map(cube, tmp_path / "a.tif", tmp_path / "a.gpkg")
    web_map(cube, tmp_path / "w.html", "new", label_free_tif=tmp_path / "a.tif")
    page = (tmp_path / "w.html").read_text()
    assert LABEL_FREE_LAYER in page and "label_free.threshold" in page


def test_strips_score_as_the_whole_grid() -> None:
    cube, s = toy_cube(), LabelFreeSettings()
    pre, post = [0, 1, 2, 3], [4, 5, 6]
    whole, mask = score_cube(cube, pre, post, s, strip_rows=1000)
    strips, mask7 = score_cube(cube, pre, post, s, strip_rows=7)
    np.testing.assert_array_equal(whole, strips)
    np.testing.assert_array_equal(mask, mask7)


def test_too_few_acquisitions_is_one_line(tmp_path) -> None:
    cube = write_cube(tmp_path, toy_cube(n_pre=1))
    with pytest.raises(InputError, match=r"1 acquisition\(s\) before .*expected at least 2 before"):
        label_free_map(cube, tmp_path / "a.tif", tmp_path / "a.gpkg")
    cube = write_cube(tmp_path, toy_cube(n_post=2))
    with pytest.raises(InputError, match="expected at least 2 before .* and 3 after"):
        label_free_map(cube, tmp_path / "a.tif", tmp_path / "a.gpkg", revisits=3)


# ---------------------------------------------------------------- config


def label_free_config(rapid: dict) -> dict:
    cfg = tiny_config()
    cfg["rapid_response"] = {"tiny_new": rapid}
    return cfg


@pytest.mark.parametrize("rapid", [{}, {"method": "label_free"}, {"revisits": 2}])
def test_label_free_needs_no_model_area(rapid: dict) -> None:
    cfg = label_free_config(rapid)
    validate_config(cfg)
    check_rapid_config(cfg)
    assert cfg["rapid_response"]["tiny_new"]["method"] == "label_free"


def test_a_model_area_means_method_model() -> None:
    cfg = tiny_config()
    validate_config(cfg)
    assert cfg["rapid_response"]["tiny_new"]["method"] == "model"


@pytest.mark.parametrize(
    ("rapid", "message"),
    [
        (
            {"method": "label_free", "model_area": "tiny"},
            "config rapid_response.tiny_new: model_area is not allowed with method label_free",
        ),
        ({"method": "model"}, "config rapid_response.tiny_new: method model needs model_area, inputs, revisits"),
        ({"model_area": "tiny", "inputs": "fused"}, "config rapid_response.tiny_new: method model needs revisits"),
        ({"method": "label_free", "revisits": 4}, "config rapid_response.tiny_new.revisits = 4 is not allowed"),
    ],
)
def test_a_wrong_method_combination_is_one_line(rapid: dict, message: str) -> None:
    # the post-event count is validate_config's; the method's keys both check
    checks = (validate_config,) if "revisits = 4" in message else (validate_config, check_rapid_config)
    for check in checks:
        with pytest.raises(ConfigError) as err:
            check(label_free_config(dict(rapid)))
        assert str(err.value).startswith(message) and "\n" not in str(err.value)


def job_stats(dry_run_stdout: str) -> dict[str, str]:
    """The 'Job stats' table of a dry run: rule -> count."""
    return dict(re.findall(r"^(\w+)\s+(\d+)$", dry_run_stdout.split("Job stats:")[-1], re.M))


def test_dry_run_lists_the_label_free_map_and_no_training_for_it(tmp_path) -> None:
    config = write_config(tmp_path / "config.yaml", label_free_config({"method": "label_free"}))
    proc = snakemake(tmp_path, config, "-n", "results/tiny_new/rapid/label_free.tif")
    jobs = job_stats(proc.stdout)
    assert jobs.get("rapid_label_free") == "1" and jobs.get("assemble_cube") == "1"
    assert not {"train_density", "predict_rapid", "classify_rapid", "make_chips", "rasterize_labels"} & set(jobs)
    proc = snakemake(tmp_path, config, "-n", "all")
    jobs = job_stats(proc.stdout)
    assert jobs.get("rapid_label_free") == "1"
    assert not {"predict_rapid", "classify_rapid", "rapid_map", "rapid_truth_check"} & set(jobs)


def test_the_label_free_map_of_a_generated_event_finds_its_landslides(tmp_path) -> None:
    """The whole chain through Snakemake on a generated event mapped with no model (its truth is
    read only here): the flagged pixels lie on landslides far more often than the area's pixels
    do, the COG is on the cube's grid and the polygons are where the flags are."""
    config = write_config(tmp_path / "config.yaml", label_free_config({"method": "label_free"}))
    snakemake(tmp_path, config, "--cores", "2", "results/tiny_new/rapid/label_free.tif")
    with rasterio.open(tmp_path / "results/tiny_new/rapid/label_free.tif") as src:
        score, flagged = src.read(1), src.read(2)
        assert src.tags()["method"] == "label_free"
        bounds, shape = src.bounds, src.shape
    with rasterio.open(tmp_path / "resources/tiny_new/synthetic/truth.tif") as truth:
        assert truth.shape == shape and truth.bounds == bounds
        fraction = truth.read(list(truth.descriptions).index("landslide_fraction") + 1)
    scored = np.isfinite(score)
    hit = scored & (flagged == 1)
    assert scored.mean() > 0.3 and 0 < hit.sum() < 0.2 * scored.sum()
    # landslide cover under flagged pixels against the scored area's: the detector sees the scars
    assert fraction[hit].mean() > 2.0 * fraction[scored].mean()
    polygons = gpd.read_file(tmp_path / "results/tiny_new/rapid/label_free.gpkg", layer="flagged")
    assert len(polygons) > 0 and polygons["n_pixels"].sum() == hit.sum()
