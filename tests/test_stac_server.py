"""Acquisition against real servers on loopback: a STAC API (`rustac serve`, from PyPI) serving
items shaped like Planetary Computer's `sentinel-1-rtc` and `cop-dem-glo-30` whose assets are COGs
written here, and a plain HTTP server for the inventory file. The pipeline's own rules run through
Snakemake against them: two frames of one day mosaicked, mixed orbits filtered to one, partial
coverage reported, the DEM from STAC, the inventory by URL, the chain on to chips; the downloads
survive --delete-all-output; and the faults (no items, no items on the orbit, endpoint unreachable,
a corrupt COG, an inventory URL that answers 404) each end with one line on stderr, a non-zero exit
and no output."""

from __future__ import annotations

import copy
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import xarray as xr
from affine import Affine
from conftest import snakemake, tiny_config, write_config
from shapely.geometry import Point

from landslide_sar.grid import Grid, area_grid
from landslide_sar.io import write_cog

BBOX = (-66.70, 18.25, -66.685, 18.265)  # ~1.6 x 1.7 km: 160 x 166 px at 10 m
NODATA = -32768.0
AREA = "loop"
COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"

# (datetime, orbit direction, relative orbit, footprint, assets): the acquisitions served.
# Ascending 135 has 7 days (4 before, 3 after the event; 2017-09-22 in two frames, 2017-10-04 a
# frame covering only the west half); descending 62 has 6; one HH/HV item lacks vv/vh.
ACQUISITIONS = [
    ("2017-08-11T22:36:36Z", "ascending", 135, "full", ("vv", "vh")),
    ("2017-08-23T22:36:37Z", "ascending", 135, "full", ("vv", "vh")),
    ("2017-09-04T22:36:37Z", "ascending", 135, "full", ("vv", "vh")),
    ("2017-09-16T22:36:38Z", "ascending", 135, "full", ("vv", "vh")),
    ("2017-09-22T22:35:44Z", "ascending", 135, "north", ("vv", "vh")),
    ("2017-09-22T22:36:09Z", "ascending", 135, "south", ("vv", "vh")),
    ("2017-09-28T22:36:38Z", "ascending", 135, "full", ("hh", "hv")),
    ("2017-10-04T22:36:38Z", "ascending", 135, "west", ("vv", "vh")),
    ("2017-10-10T22:36:38Z", "ascending", 135, "full", ("vv", "vh")),
    ("2017-08-30T10:12:01Z", "descending", 62, "full", ("vv", "vh")),
    ("2017-09-11T10:12:02Z", "descending", 62, "full", ("vv", "vh")),
    ("2017-09-18T10:12:02Z", "descending", 62, "full", ("vv", "vh")),
    ("2017-09-24T10:12:03Z", "descending", 62, "full", ("vv", "vh")),
    ("2017-10-06T10:12:03Z", "descending", 62, "full", ("vv", "vh")),
    ("2017-10-18T10:12:03Z", "descending", 62, "full", ("vv", "vh")),
]


def vv_value(when: str, state: str) -> float:
    """The VV gamma0 of an acquisition: distinct per day (VH is a tenth of it)."""
    day = int(when[5:7]) * 31 + int(when[8:10])
    return round(0.001 * day + (0.5 if state == "descending" else 0.0), 4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(url: str, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{proc.args} exited with {proc.returncode}: {proc.stdout.read() if proc.stdout else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def _serve(cmd: list[str], url: str, log: Path):
    """Start a server process, wait for `url`, yield, stop it by its pid."""
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_until_up(url, proc)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _footprint(grid: Grid, which: str) -> Grid:
    """The sub-grid a frame covers: all of `grid`, its north 60 %, south 60 % or west half."""
    h, w, r = grid.height, grid.width, grid.resolution
    t = grid.transform
    if which == "north":
        return Grid(grid.crs, t, w, int(0.6 * h))
    if which == "south":
        top = int(0.4 * h)
        return Grid(grid.crs, Affine(r, 0, t.c, 0, -r, t.f - top * r), w, h - top)
    if which == "west":
        return Grid(grid.crs, t, w // 2, h)
    return grid


def _s1_item(folder: Path, item_id: str, collection: str, when: str, state: str, rel: int, grid: Grid, assets) -> dict:
    """One item like Planetary Computer's sentinel-1-rtc: linear gamma0 COGs, nodata -32768."""
    rng = np.random.default_rng(abs(hash(item_id)) % 2**32)
    v = vv_value(when, state)
    hrefs = {}
    for pol in assets:
        value = v if pol in ("vv", "hh") else v / 10
        data = (value * rng.uniform(0.999, 1.001, grid.shape)).astype("float32")
        path = folder / f"{item_id}_{pol}.tif"
        write_cog(path, data, grid, nodata=NODATA)
        hrefs[pol] = {
            "href": str(path),
            "type": COG_TYPE,
            "title": f"{pol.upper()}: vertical transmit, {'vertical' if pol[1] == 'v' else 'horizontal'} receive",
            "roles": ["data"],
            "raster:bands": [{"nodata": NODATA, "data_type": "float32", "spatial_resolution": 10.0}],
        }
    w, s, e, n = grid.lonlat_bbox()
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
            "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
        ],
        "id": item_id,
        "collection": collection,
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": when,
            "platform": "SENTINEL-1A",
            "constellation": "Sentinel-1",
            "sar:instrument_mode": "IW",
            "sar:polarizations": [p.upper() for p in assets],
            "sar:product_type": "GRD",
            "sat:orbit_state": state,
            "sat:relative_orbit": rel,
            "proj:epsg": int(grid.crs.split(":")[1]),
            "proj:shape": [grid.height, grid.width],
            "proj:transform": list(grid.transform)[:6],
        },
        "assets": hrefs,
        "links": [],
    }


def _dem_item(folder: Path) -> dict:
    """One cop-dem-glo-30-like tile: EPSG:4326, 1 arcsecond, asset `data`, a tilted plane."""
    res = 1 / 3600
    w, s, e, n = BBOX[0] - 0.01, BBOX[1] - 0.01, BBOX[2] + 0.01, BBOX[3] + 0.01
    width, height = int(round((e - w) / res)), int(round((n - s) / res))
    grid = Grid("EPSG:4326", Affine(res, 0, w, 0, -res, n), width, height)
    rows = np.arange(height)[:, None] + np.zeros((1, width))
    dem = (300.0 + 2.0 * (height - rows)).astype("float32")  # rises to the north, ~2 m per 30 m
    path = folder / "Copernicus_DSM_COG_10_N18_00_W067_00_DEM.tif"
    write_cog(path, dem, grid, nodata=-32767.0)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": "Copernicus_DSM_COG_10_N18_00_W067_00_DEM",
        "collection": "cop-dem-glo-30",
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": "2021-04-22T00:00:00Z",
            "platform": "TanDEM-X",
            "gsd": 30,
            "proj:epsg": 4326,
            "proj:shape": [height, width],
            "proj:transform": list(grid.transform)[:6],
        },
        "assets": {"data": {"href": str(path), "type": COG_TYPE, "roles": ["data"]}},
        "links": [],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> dict:
    """The COGs, items, inventory, and both servers; yields their URLs."""
    folder = tmp_path_factory.mktemp("stac_world")
    w, s, e, n = BBOX
    wide = area_grid((w - 0.003, s - 0.003, e + 0.003, n + 0.003), 10)  # frames overlap the area's edges
    features = []
    for k, (when, state, rel, footprint, assets) in enumerate(ACQUISITIONS):
        item_id = f"S1A_IW_GRDH_1SDV_{when[:10].replace('-', '')}_{state[:3]}{rel}_{k:02d}_rtc"
        features.append(
            _s1_item(folder, item_id, "sentinel-1-rtc", when, state, rel, _footprint(wide, footprint), assets)
        )
    # three days before and three after in a second collection, one of whose COGs is cut short
    for k, when in enumerate(
        [
            "2017-08-23T22:36:37Z",
            "2017-09-04T22:36:37Z",
            "2017-09-16T22:36:38Z",
            "2017-09-22T22:36:09Z",
            "2017-10-04T22:36:38Z",
            "2017-10-10T22:36:38Z",
        ]
    ):
        features.append(_s1_item(folder, f"corrupt_{k}", "s1-corrupt", when, "ascending", 135, wide, ("vv", "vh")))
    broken = folder / "corrupt_4_vv.tif"
    broken.write_bytes(broken.read_bytes()[:600])
    features.append(_dem_item(folder))
    items_json = folder / "items.json"
    items_json.write_text(json.dumps({"type": "FeatureCollection", "features": features}))

    files = folder / "files"
    files.mkdir()
    rng = np.random.default_rng(0)
    pts = [Point(rng.uniform(w, e), rng.uniform(s, n)) for _ in range(40)] + [Point(-66.5, 18.5), Point(-66.9, 18.1)]
    gpd.GeoDataFrame({"id": range(len(pts))}, geometry=pts, crs="EPSG:4326").to_file(
        files / "heads.gpkg", driver="GPKG"
    )

    rustac = shutil.which("rustac", path=str(Path(sys.executable).parent)) or shutil.which("rustac")
    if rustac is None:
        pytest.skip("rustac (PyPI package rustac) is not installed")
    stac_port, http_port = _free_port(), _free_port()
    stac_url = f"http://127.0.0.1:{stac_port}"
    http_url = f"http://127.0.0.1:{http_port}"
    stac = _serve(
        [rustac, "serve", "--create-collections", "--addr", f"127.0.0.1:{stac_port}", str(items_json)],
        stac_url + "/",
        folder / "rustac.log",
    )
    http = _serve(
        [sys.executable, "-m", "http.server", str(http_port), "--bind", "127.0.0.1", "--directory", str(files)],
        http_url + "/",
        folder / "http.log",
    )
    next(stac)
    next(http)
    try:
        yield {"stac": stac_url, "http": http_url, "folder": folder}
    finally:
        for gen in (stac, http):
            next(gen, None)


def loop_config(world: dict, **s1) -> dict:
    """The tiny test config with one area fetched from the loopback servers."""
    cfg = tiny_config()
    area = copy.deepcopy(cfg["areas"]["tiny"])
    area.pop("synthetic", None)
    area["bbox"] = list(BBOX)
    area["sentinel1"] = {
        "source": "stac",
        "endpoint": world["stac"],
        "collection": "sentinel-1-rtc",
        "acquisitions_pre": 3,
        "acquisitions_post": 3,
        "orbit_state": "ascending",
        "relative_orbit": 135,
        "search_days": 45,
        "min_coverage": 0.4,  # 2017-10-04 covers the west half (49.7 %): kept, reported partial
        **s1,
    }
    area["dem"] = {"source": "stac", "endpoint": world["stac"], "collection": "cop-dem-glo-30"}
    area["inventory"] = {"source": "url", "url": f"{world['http']}/heads.gpkg"}
    area["download"] = {"http_retries": 1, "backoff_s": 0.1, "timeout_s": 10, "job_retries": 0}
    cfg["areas"] = {AREA: area}
    # 25 chips, of which the 10 in the west are usable (2017-10-04 covers the west half only):
    # enough to check the chips, far too few to train on, which these tests do not (nor to split
    # into blocks: some areas here give one block, which the config check refuses)
    cfg["splits"].update(min_train_chips=1, min_val_chips=1, schemes=["random"])
    cfg["density"]["areas"] = [AREA]
    cfg.pop("rapid_response", None)  # the tiny config maps a second area with the first
    return cfg


def _error_lines(proc: subprocess.CompletedProcess) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]


def _assert_one_line_failure(proc: subprocess.CompletedProcess, workdir: Path, *needles: str) -> str:
    assert proc.returncode != 0
    lines = _error_lines(proc)
    assert len(lines) == 1, proc.stderr[-3000:]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    left = [p for p in workdir.glob("resources/**/*") if p.is_file() or p.suffix == ".zarr"]
    assert not left, left  # no partial output
    return lines[0]


@pytest.fixture(scope="module")
def loop_run(tmp_path_factory, world) -> Path:
    """The acquisition rules and the chain to chips run once against the loopback servers."""
    workdir = tmp_path_factory.mktemp("loop_run")
    config = write_config(workdir / "config.yaml", loop_config(world))
    snakemake(workdir, config, "--cores", "2", f"results/{AREA}/chips/chips.zarr")
    return workdir


DOWNLOADS = [f"resources/{AREA}/sentinel1.zarr", f"resources/{AREA}/dem.tif", f"resources/{AREA}/inventory/heads.gpkg"]


def test_pipeline_runs_on_the_stac_server(loop_run) -> None:
    tmp_path = loop_run

    s1 = xr.open_zarr(tmp_path / f"resources/{AREA}/sentinel1.zarr")
    days = [str(t)[:10] for t in s1["timestep"].values]
    assert days == ["2017-08-23", "2017-09-04", "2017-09-16", "2017-09-22", "2017-10-04", "2017-10-10"]
    assert set(s1["sat:orbit_state"].values) == {"ascending"} and set(s1["sat:relative_orbit"].values) == {135}
    assert s1["n_frames"].values.tolist() == [1, 1, 1, 2, 1, 1]  # two frames of 2017-09-22, one step
    vv = s1["vv"].isel(y=slice(1, -1), x=slice(1, -1)).values
    expected = [vv_value(f"{d}T", "ascending") for d in days]
    np.testing.assert_allclose(np.nanmedian(vv, axis=(1, 2)), expected, rtol=2e-3)
    assert np.isfinite(vv[3]).all()  # the mosaic of the two frames covers the whole area
    cov = s1["coverage"].values
    assert (cov[[0, 1, 2, 3, 5]] > 0.99).all() and 0.4 < cov[4] < 0.6  # 2017-10-04: the west half
    assert np.isnan(s1["vv"].values[4, :, -3:]).all() and np.isfinite(s1["vv"].values[4, :, 3:10]).all()

    log = (tmp_path / f"logs/{AREA}/download_sentinel1.log").read_text()
    assert "filtered out 6 item(s) of orbit descending/62" in log
    assert "1 item(s) without vv+vh assets left out" in log
    assert "WARNING" in log and "coverage 2017-10-04 (post, 1 frame(s)):" in log and "partial" in log
    # the two frames of 2017-09-22 overlap (20 % of the wide grid's rows) and agree: an info line
    overlap = [line for line in log.splitlines() if "acquisition 2017-09-22: frames [" in line]
    assert len(overlap) == 1 and " INFO " in overlap[0] and "overlap on" in overlap[0], log

    with rasterio.open(tmp_path / f"resources/{AREA}/dem.tif") as dem:
        z = dem.read(1)
        assert dem.crs.to_epsg() == 32619 and np.isfinite(z).all() and 300 < z.min() < z.max() < 560
        assert z[0].mean() > z[-1].mean()  # the tilted plane rises to the north
    with rasterio.open(tmp_path / f"results/{AREA}/labels.tif") as labels:
        assert int(labels.read(2).sum()) == 40  # 40 heads inside, 2 outside (reported)
    assert "2 of 42 features lie outside the area" in (tmp_path / f"logs/{AREA}/rasterize_labels.log").read_text()
    cube = xr.open_zarr(tmp_path / f"results/{AREA}/cube.zarr")
    assert cube["coverage"].values.tolist() == pytest.approx(cov.tolist())  # coverage kept in the cube
    chips = xr.open_zarr(tmp_path / f"results/{AREA}/chips/chips.zarr")
    assert chips.sizes["channel"] == 17

    # the downloads are write-protected (by Snakemake's protected())
    for path in DOWNLOADS:
        assert (tmp_path / path).stat().st_mode & 0o222 == 0, path


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anything: Snakemake deletes protected files for root")
def test_downloads_survive_delete_all_output(loop_run) -> None:
    snakemake(
        loop_run, loop_run / "config.yaml", "--cores", "1", "--delete-all-output", f"results/{AREA}/chips/chips.zarr"
    )
    assert all((loop_run / p).exists() for p in DOWNLOADS)
    assert not (loop_run / f"results/{AREA}/cube.zarr").exists()


def test_default_orbit_is_the_one_with_most_acquisitions(tmp_path, world) -> None:
    from landslide_sar.download import Network
    from landslide_sar.sentinel1 import download_sentinel1

    area = loop_config(world, orbit_state=None, relative_orbit=None)["areas"][AREA]
    ds = download_sentinel1(area, tmp_path / "any.zarr", network=Network(1, 0.1, 10))
    assert set(ds["sat:orbit_state"].values) == {"ascending"}  # 7 days against descending's 6
    area = loop_config(world, orbit_state="descending", relative_orbit=None)["areas"][AREA]
    ds = download_sentinel1(area, tmp_path / "desc.zarr", network=Network(1, 0.1, 10))
    assert set(ds["sat:relative_orbit"].values.tolist()) == {62}
    assert [str(t)[:10] for t in ds["timestep"].values] == [
        "2017-08-30",
        "2017-09-11",
        "2017-09-18",
        "2017-09-24",
        "2017-10-06",
        "2017-10-18",
    ]


@pytest.mark.parametrize(
    "edit, needles",
    [
        (  # a bbox where the server has nothing
            {"bbox": [10.0, 45.0, 10.01, 45.01]},
            [
                "collection sentinel-1-rtc",
                "bbox [10.0, 45.0, 10.01, 45.01]",
                "2017-08-06 .. 2017-11-04",
                "the search found no items",
                "orbit ascending/135",
            ],
        ),
        (  # items, but none on the asked orbit
            {"sentinel1": {"relative_orbit": 99}},
            ["no items on orbit ascending/99", "ascending/135: 4+3 days", "descending/62: 3+3 days"],
        ),
        (  # a collection with nothing
            {"sentinel1": {"collection": "sentinel-1-grd"}},
            ["collection sentinel-1-grd", "the search found no items"],
        ),
        (  # too few after the event in a short window
            {"sentinel1": {"search_start": "2017-09-01", "search_end": "2017-09-30"}},
            [
                "found 2 acquisition(s) before and 1 after 2017-09-20",
                "filtered out: 1 without vv+vh assets; 3 on orbit descending/62",
            ],
        ),
    ],
    ids=["no-items", "orbit-filter", "empty-collection", "too-few"],
)
def test_no_items_is_one_line_naming_the_search(tmp_path, world, edit, needles) -> None:
    cfg = loop_config(world)
    area = cfg["areas"][AREA]
    for key, value in edit.items():
        area[key].update(value) if isinstance(value, dict) else area.__setitem__(key, value)
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/sentinel1.zarr", check=False)
    line = _assert_one_line_failure(proc, tmp_path, *needles)
    assert world["stac"] in line or "orbit" in line


def test_unreachable_endpoint_is_one_line_after_retries(tmp_path, world) -> None:
    closed = f"http://127.0.0.1:{_free_port()}"
    config = write_config(tmp_path / "config.yaml", loop_config(world, endpoint=closed))
    start = time.monotonic()
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/sentinel1.zarr", check=False)
    _assert_one_line_failure(
        proc,
        tmp_path,
        f"sentinel1.endpoint: {closed}",
        "could not be searched after 2 attempts (1 retry)",
        "Connection refused",
    )
    assert time.monotonic() - start < 60


def test_corrupt_cog_is_one_line_naming_the_file(tmp_path, world) -> None:
    config = write_config(tmp_path / "config.yaml", loop_config(world, collection="s1-corrupt"))
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/sentinel1.zarr", check=False)
    _assert_one_line_failure(proc, tmp_path, str(world["folder"] / "corrupt_4_vv.tif"), "is not a readable COG")


def test_inventory_url_that_fails_is_one_line(tmp_path, world) -> None:
    cfg = loop_config(world)
    cfg["areas"][AREA]["inventory"]["url"] = f"{world['http']}/missing.gpkg"
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/inventory/missing.gpkg", check=False)
    _assert_one_line_failure(
        proc, tmp_path, f"areas.{AREA}.inventory.url: {world['http']}/missing.gpkg answered HTTP 404"
    )


def test_event_outside_the_search_window_is_a_config_error(tmp_path, world) -> None:
    cfg = loop_config(world, search_start="2017-09-21", search_end="2017-10-30")
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/sentinel1.zarr", check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if "search window" in line]
    assert lines == [
        f"ERROR: config areas.{AREA}.event_time = '2017-09-20T00:00:00Z' is outside the search window "
        "(sentinel1.search_start = '2017-09-21'); expected search_start < event_time < search_end"
    ]


def test_secrets_never_reach_a_message(monkeypatch) -> None:
    from landslide_sar.download import Network, redact

    monkeypatch.setenv("PC_SDK_SUBSCRIPTION_KEY", "k3y-s3cret")
    href = "https://sentinel1euwestrtc.blob.core.windows.net/rtc/a_vv.tif?st=2024&se=2025&sig=abc%2Bdef"
    signed = f"Error reading '{href}' (k3y-s3cret)"
    line = redact(signed + "\nsecond line")
    assert "sig=" not in line and "k3y-s3cret" not in line and "\n" not in line
    assert "https://sentinel1euwestrtc.blob.core.windows.net/rtc/a_vv.tif?<redacted>" in line
    net = Network.from_config({"download": {"http_retries": 3, "backoff_s": 0.5, "timeout_s": 60.0}})
    assert (net.http_retries, net.backoff_s, net.timeout_s) == (3, 0.5, 60.0)
    assert net.gdal_env()["GDAL_HTTP_MAX_RETRY"] == "3"


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")  # the cut file, on purpose
def test_corrupt_dem_file_is_one_line_naming_it(tmp_path, world) -> None:
    from landslide_sar.errors import InputError
    from landslide_sar.terrain import download_dem

    good = next(world["folder"].glob("Copernicus_*.tif"))
    cut = tmp_path / "dem_cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    area = {"bbox": list(BBOX), "resolution": 10, "dem": {"source": "file", "path": str(cut)}}
    with pytest.raises(InputError) as err:
        download_dem(area, cut, tmp_path / "dem.tif")
    assert str(err.value).startswith(f"{cut}: ") and "\n" not in str(err.value)
    assert not (tmp_path / "dem.tif").exists()
