"""Published datacubes (Zenodo record 7248056) as an area's source: a cube shaped like the
published ones (zarr v2, zipped; vv/vh by timestep, DEM and derivatives, landslides;
`sat:orbit_state` spelt "a"/"d"; an extra `timepair` dimension) written here goes through the
pipeline's own rules — download (file:// URL), unpack, import, chips — and the faults are one line."""

from __future__ import annotations

import copy
import shutil
import zipfile
from datetime import UTC
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr
from conftest import snakemake, tiny_config, write_config

from landslide_sar.errors import InputError
from landslide_sar.published_cube import import_datacube, open_datacube, prepare_datacube

SIZE = 96  # px; 3 x 3 chips of 32
RES = 10.0
EVENT = "2018-09-05T18:08:00Z"
# ten passes around the event: descending ("d") on 12-day repeats, ascending ("a") in between
DATES = [
    "2018-08-01",
    "2018-08-07",
    "2018-08-13",
    "2018-08-19",
    "2018-08-25",
    "2018-08-31",
    "2018-09-06",
    "2018-09-12",
    "2018-09-18",
    "2018-09-24",
    "2018-09-30",
    "2018-10-06",
]
ORBITS = ["d", "a"] * 6


def sar_value(k: int) -> float:
    return 0.01 * (k + 1)


def published_cube(y_up: bool = False, crs: str | None = "EPSG:32654") -> xr.Dataset:
    """A small cube with the published datacubes' variables, dims and coordinates."""
    rng = np.random.default_rng(1)
    x = 500_000 + (np.arange(SIZE) + 0.5) * RES
    y = 4_700_000 - (np.arange(SIZE) + 0.5) * RES
    if y_up:
        y = y[::-1]
    n = len(DATES)
    vv = np.stack([np.full((SIZE, SIZE), sar_value(k), "float32") for k in range(n)])
    rows = np.arange(SIZE)[:, None] * np.ones((1, SIZE))
    dem = (100.0 + 3.0 * rows).astype("float32")
    landslides = np.zeros((SIZE, SIZE), "float32")
    landslides[rng.integers(0, SIZE, 60), rng.integers(0, SIZE, 60)] = 1.0
    landslides[0, :5] = np.nan  # published labels are floats, with gaps
    ds = xr.Dataset(
        {
            "vv": (("timestep", "y", "x"), vv),
            "vh": (("timestep", "y", "x"), vv / 10),
            "dem": (("y", "x"), dem),
            "dem_aspect": (("y", "x"), np.full((SIZE, SIZE), 180.0, "float32")),
            "dem_curvature": (("y", "x"), np.zeros((SIZE, SIZE), "float32")),
            "dem_slope_radians": (("y", "x"), np.full((SIZE, SIZE), 0.29, "float32")),
            "landslides": (("y", "x"), landslides),
            "coherence": (("timepair", "y", "x"), np.ones((2, SIZE, SIZE), "float32")),
        },
        coords={
            "timestep": pd.to_datetime(DATES).values,
            "timepair": [0, 1],
            "y": y,
            "x": x,
            "sat:orbit_state": ("timestep", np.array(ORBITS)),
        },
    )
    return ds.rio.write_crs(crs) if crs else ds


def write_published(ds: xr.Dataset, folder: Path, name: str = "hokkaido_japan") -> Path:
    """The cube as published: `<name>.zarr` (zarr v2) zipped into `<name>.zip`."""
    store = folder / f"{name}.zarr"
    ds.to_zarr(store, mode="w", zarr_format=2, consolidated=True)
    archive = folder / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(store.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    shutil.rmtree(store)
    return archive


def cube_config(datacube: dict, pre: int = 3, post: int = 3, orbit_state: str | None = "descending") -> dict:
    cfg = tiny_config()
    cfg["chips"]["size"] = 32
    cfg["splits"].update(min_train_chips=1, min_val_chips=1)  # a 3 x 3 chip toy cube
    cfg.pop("rapid_response", None)  # the tiny config maps a second area with the first
    cfg["areas"] = {
        "cube": {
            "event_time": EVENT,
            "sentinel1": {
                "source": "datacube",
                "acquisitions_pre": pre,
                "acquisitions_post": post,
                "orbit_state": orbit_state,
            },
            "datacube": datacube,
            "download": {"http_retries": 0, "job_retries": 0},
        }
    }
    cfg["density"]["areas"] = ["cube"]
    return cfg


def test_published_cube_goes_through_chips(tmp_path) -> None:
    archive = write_published(published_cube(), tmp_path)
    config = write_config(tmp_path / "config.yaml", cube_config({"url": archive.as_uri()}))
    proc = snakemake(tmp_path, config, "--cores", "2", "results/cube/chips/chips.zarr")
    assert "download_datacube" in proc.stderr and "import_datacube" in proc.stderr
    assert "assemble_cube" not in proc.stderr and "download_sentinel1" not in proc.stderr

    unpacked = tmp_path / "resources/cube/datacube.zarr"
    assert (unpacked / ".zgroup").exists() and unpacked.stat().st_mode & 0o222 == 0  # protected download
    assert not list((tmp_path / "resources/cube").glob("*.zip"))  # the archive is not kept
    cube = xr.open_zarr(tmp_path / "results/cube/cube.zarr", decode_coords="all")
    assert set(cube["sat:orbit_state"].values) == {"d"}  # written as the published cubes spell it
    assert cube.sizes["timestep"] == 6 and "coherence" not in cube and cube.sizes["timepair"] == 0
    assert cube.rio.crs.to_epsg() == 32654 and cube["landslides"].dtype == np.uint16

    chips = xr.open_zarr(tmp_path / "results/cube/chips/chips.zarr")
    table = gpd.read_file(tmp_path / "results/cube/chips/chips.gpkg", layer="chips")
    assert chips["chips"].shape == (9, 17, 32, 32) and len(table) == 9
    # the SAR channels are the 3 descending passes before the event and the 3 after, in order
    descending = [k for k, o in enumerate(ORBITS) if o == "d"]  # 08-01, 08-13, 08-25 | 09-06, 09-18, 09-30
    expected = [sar_value(k) for k in descending]
    got = [
        float(chips["chips"].sel(channel=c).mean())
        for c in ("vv_pre1", "vv_pre2", "vv_pre3", "vv_post1", "vv_post2", "vv_post3")
    ]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(float(chips["chips"].sel(channel="vh_post1").mean()), expected[3] / 10, rtol=1e-6)
    # labels: every labelled pixel counted once in its chip; DEM channels as published
    label = chips["chips"].sel(channel="landslides").sum(dim=("y", "x")).values
    np.testing.assert_array_equal(table.sort_values("chip")["landslide_count"].to_numpy(), label)
    assert label.sum() == int((np.nan_to_num(published_cube()["landslides"].values) > 0).sum())
    dem = chips["chips"].sel(channel="dem").isel(chip=0).values
    assert dem[0, 0] == pytest.approx(100.0) and dem[-1, 0] == pytest.approx(100.0 + 3 * 31)  # north-up kept


def test_cube_layouts_are_normalised(tmp_path) -> None:
    from datetime import datetime

    event = datetime(2018, 9, 5, 18, 8, tzinfo=UTC)
    south_up = published_cube(y_up=True)
    up = prepare_datacube(south_up, "up", event, 3, 3)
    assert up["y"].values[0] > up["y"].values[-1]  # flipped north-up, values kept with their y
    assert float(up["dem"][0, 0]) == float(south_up["dem"].sel(y=south_up["y"].max())[0])
    assert set(up["sat:orbit_state"].values) == {"ascending"}  # 6 each: a tie goes to ascending
    asc = prepare_datacube(published_cube(), "asc", event, 3, 3, orbit_state="ascending")
    assert [str(t)[:10] for t in asc["timestep"].values] == DATES[1::2]
    # a cube in lon/lat is resampled onto UTM (chip areas are in metres)
    geo = (
        published_cube(crs=None)
        .assign_coords(x=139.9 + np.arange(SIZE) * 1e-4, y=42.7 - np.arange(SIZE) * 1e-4)
        .rio.write_crs("EPSG:4326")
    )
    utm = prepare_datacube(geo, "geo", event, 3, 3)
    assert utm.rio.crs.to_epsg() == 32654 and abs(float(utm.x[1] - utm.x[0]) - 8.0) < 1.01
    # a folder holding <name>.zarr opens as well as the zip or the store itself
    (tmp_path / "folder").mkdir()
    published_cube().to_zarr(tmp_path / "folder" / "talakmau_indonesia.zarr", zarr_format=2, consolidated=True)
    assert open_datacube(tmp_path / "folder").sizes["timestep"] == len(DATES)


def test_both_directions_keep_every_step_and_the_chips_use_the_models(tmp_path) -> None:
    """sentinel1.both_directions on a published cube (six a, six d steps): the area's cube keeps
    all twelve, spelt a/d, and names the models' direction (ascending); its chips hold the
    ascending steps only. A cube of one direction fails, naming the setting."""
    from landslide_sar.density.chips import make_chips

    archive = write_published(published_cube(), tmp_path)
    area = cube_config({"path": str(archive)}, orbit_state="ascending")["areas"]["cube"]
    area["sentinel1"]["both_directions"] = True
    import_datacube(area, archive, tmp_path / "cube.zarr")
    cube = xr.open_zarr(tmp_path / "cube.zarr", decode_coords="all")
    assert [str(t)[:10] for t in cube["timestep"].values] == DATES
    assert cube["sat:orbit_state"].values.tolist() == ORBITS and cube.attrs["orbit_state"] == "ascending"
    make_chips(
        tmp_path / "cube.zarr",
        tmp_path / "chips.zarr",
        tmp_path / "chips.gpkg",
        size=32,
        event_time=EVENT,
        n_pre=3,
        n_post=3,
        min_valid_fraction=0.9,
        class_edges=(0, 25),
        split_seed=0,
        train_fraction=0.25,
        val_fraction=0.25,
    )
    chips = xr.open_zarr(tmp_path / "chips.zarr")["chips"]
    ascending = [k for k, o in enumerate(ORBITS) if o == "a"]  # 08-07, 08-19, 08-31 | 09-12, 09-24, 10-06
    got = [float(chips.sel(channel=f"vv_{side}{i}").mean()) for side in ("pre", "post") for i in (1, 2, 3)]
    np.testing.assert_allclose(got, [sar_value(k) for k in ascending], rtol=1e-6)

    one = published_cube().isel(timestep=ascending)
    with pytest.raises(InputError, match="has time steps of sat:orbit_state ascending only; expected the other"):
        prepare_datacube(one, "one", pd.Timestamp(EVENT).to_pydatetime(), 3, 3, "ascending", both_directions=True)


@pytest.mark.parametrize(
    "cube, cfg, message",
    [
        (published_cube().drop_vars("dem_curvature"), {}, "lacks variable(s) ['dem_curvature']"),
        (published_cube(crs=None), {}, "has no CRS (no spatial_ref/crs); set datacube.crs"),
        (
            published_cube(),
            {"pre": 6},
            "cube: 3 time step(s) before and 3 after 2018-09-05; expected at least 6 before",
        ),
        (
            published_cube().assign_coords({"sat:orbit_state": ("timestep", np.array(["x"] * len(DATES)))}),
            {},
            "sat:orbit_state 'x' is not a known orbit direction",
        ),
    ],
    ids=["missing-variable", "no-crs", "too-few-steps", "unknown-orbit"],
)
def test_bad_cubes_are_one_line(tmp_path, cube, cfg, message) -> None:
    archive = write_published(cube, tmp_path)
    area = cube_config({"path": str(archive)}, pre=cfg.get("pre", 3))["areas"]["cube"]
    with pytest.raises(InputError) as err:
        import_datacube(area, archive, tmp_path / "out.zarr")
    assert message in str(err.value) and "\n" not in str(err.value)
    assert not (tmp_path / "out.zarr").exists()


def test_bad_cube_through_snakemake_is_one_line_on_stderr(tmp_path) -> None:
    archive = write_published(published_cube().drop_vars("vh"), tmp_path)
    config = write_config(tmp_path / "config.yaml", cube_config({"path": str(archive)}))
    proc = snakemake(tmp_path, config, "--cores", "1", "results/cube/cube.zarr", check=False)
    assert proc.returncode != 0
    lines = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert lines == [
        f"ERROR: datacube: {archive} lacks variable(s) ['vh']; has "
        f"{sorted(['coherence', 'dem', 'dem_aspect', 'dem_curvature', 'dem_slope_radians', 'landslides', 'vv'])}"
    ]
    assert not (tmp_path / "results/cube/cube.zarr").exists()


def test_datacube_config_is_checked(tmp_path, monkeypatch) -> None:
    from landslide_sar.config import validate_config
    from landslide_sar.errors import ConfigError

    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.zip").write_bytes(b"")
    cfg = cube_config({"path": "x.zip"})
    validate_config(cfg)
    bad = copy.deepcopy(cfg)
    bad["areas"]["cube"]["datacube"] = {"path": "x.zip", "url": "https://zenodo.org/x.zip"}
    with pytest.raises(ConfigError, match="expected exactly one of datacube.url or datacube.path"):
        validate_config(bad)
    bad = copy.deepcopy(cfg)
    bad["areas"]["cube"]["dem"] = {"source": "file", "path": "dem.tif"}
    with pytest.raises(ConfigError, match="config areas.cube.dem is not allowed with sentinel1.source 'datacube'"):
        validate_config(bad)
