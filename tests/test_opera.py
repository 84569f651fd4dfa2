"""Real radar through a STAC API: the OPERA RTC-S1 crops of ../shared/realdata/ (real Sentinel-1,
processed by NASA/JPL's OPERA) served on loopback as NASA's CMR-STAC lists them (collection
`OPERA_L2_RTC-S1_V1`, one item per burst and date, asset keys `0_VV`/`0_VH`, item properties only
`datetime`, `start_datetime`, `end_datetime`), behind servers that require an Earthdata-style
bearer token: a proxy in front of `rustac serve` and a Range-capable file server. The zarr the
pipeline writes must hold exactly the files' pixels on their own 30 m grid; the newest processing
of a reprocessed burst wins; the token opens both servers and never reaches a log."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import random
import shutil
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import realdata
from opera_loopback import COLLECTION, opera_item, rustac_path, serve_in_child
from test_faults import FaultProxy, QuietServer, RangeHandler
from test_stac_server import _free_port, _serve

from landslide_sar.download import Network
from landslide_sar.errors import InputError
from landslide_sar.grid import area_grid

TOKEN = "edl-test-token-3f9a1c"  # what EARTHDATA_TOKEN holds in these tests
BURST = "T137-292319-IW2"  # the crop the area lies on: x 244920..247920, y 3813660..3816660 (EPSG:32611)
# ~2.9 x 1.9 km: the crop's east part and 0.6 km beyond its east edge (no file there: NaN)
BBOX = (-119.770, 34.438, -119.737, 34.455)
EVENT = "2022-06-01T00:00:00Z"  # between two winter windows of the stable stack (no event happened)
PRE = ["2021-12-07", "2021-12-13", "2021-12-19"]
POST = ["2022-11-02", "2022-11-14", "2022-11-26"]
REPROCESSED = "2021-12-13"  # an older processing of this date is served too, with other values


class TokenRangeHandler(RangeHandler):
    """The Range file server, answering 401 to a request without `Authorization: Bearer TOKEN`."""

    def _denied(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {TOKEN}":
            return False
        with self.server.denied.get_lock():  # type: ignore[attr-defined]
            self.server.denied.value += 1  # type: ignore[attr-defined]
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def do_GET(self) -> None:  # noqa: N802
        if not self._denied():
            super().do_GET()

    def do_HEAD(self) -> None:  # noqa: N802
        if not self._denied():
            super().do_HEAD()


class TokenProxy(FaultProxy):
    """A proxy in front of the STAC API that answers 401 without the bearer token (no faults)."""

    def _handle(self) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            with self.server.denied.get_lock():  # type: ignore[attr-defined]
                self.server.denied.value += 1  # type: ignore[attr-defined]
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            body = b'{"code":"Unauthorized","description":"Earthdata Login token required"}'
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super()._handle()

    do_GET = do_POST = do_HEAD = _handle  # noqa: N815


@pytest.fixture(scope="module")
def opera_world(tmp_path_factory) -> dict:
    """The real crops (and one older processing of a date, values doubled) behind a token file
    server; their items in `rustac serve`, reached directly and through a token proxy."""
    stack = realdata("opera_rtc_10SGD")
    folder = tmp_path_factory.mktemp("opera_world")
    served = folder / "files"
    served.mkdir()
    (served / "10SGD").symlink_to(stack, target_is_directory=True)
    older = served / "older"
    older.mkdir()
    for vv in sorted((stack / REPROCESSED).glob(f"*{BURST}*_VV.tif")):
        for pol in ("VV", "VH"):
            src = vv.with_name(vv.name.replace("_VV.tif", f"_{pol}.tif"))
            parts = src.name.split("_")
            parts[5] = "20220101T000000Z"  # processed earlier than the real file
            with rasterio.open(src) as r:
                profile, data = r.profile, r.read(1)
            with rasterio.open(older / "_".join(parts), "w", **profile) as dst:
                dst.write(2 * data, 1)

    files = QuietServer(("127.0.0.1", 0), lambda *a, **k: TokenRangeHandler(*a, directory=str(served), **k))
    files.broken_head, files.denied = False, multiprocessing.Value("i", 0)
    base = f"http://127.0.0.1:{files.server_port}"

    def href_of(path: Path) -> str:
        rel = path.relative_to(stack) if path.is_relative_to(stack) else None
        return f"{base}/10SGD/{rel}" if rel else f"{base}/{path.relative_to(served)}"

    features = [opera_item(vv, href_of) for vv in sorted(stack.glob("*/*_VV.tif"))]
    features += [opera_item(vv, href_of) for vv in sorted(older.glob("*_VV.tif"))]
    items_json = folder / "items.json"
    items_json.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    # the same items with other hrefs (a query string the file server ignores): GDAL caches what
    # it read of a URL for the life of the process, so a refused read needs URLs not read before
    for feature in features:
        for asset in feature["assets"].values():
            asset["href"] += "?open-api"
    other_json = folder / "items_open_api.json"
    other_json.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    rustac = rustac_path()
    if rustac is None:
        pytest.skip("rustac (PyPI package rustac) is not installed")
    port, open_port = _free_port(), _free_port()
    servers = [
        _serve(
            [rustac, "serve", "--create-collections", "--addr", f"127.0.0.1:{p}", str(items)],
            f"http://127.0.0.1:{p}/",
            folder / f"rustac_{p}.log",
        )
        for p, items in ((port, items_json), (open_port, other_json))
    ]
    for stac in servers:
        next(stac)
    proxy = QuietServer(("127.0.0.1", 0), TokenProxy)
    proxy.upstream, proxy.denied = ("127.0.0.1", port), multiprocessing.Value("i", 0)
    proxy.p_503 = proxy.p_reset = 0.0
    proxy.rng, proxy.lock = random.Random(0), threading.Lock()
    proxy.counts = {"requests": 0, "503": 0, "reset": 0, "ok": 0}
    children = [serve_in_child(files), serve_in_child(proxy)]
    try:
        yield {
            "stac": f"http://127.0.0.1:{proxy.server_port}",
            "stac_open": f"http://127.0.0.1:{open_port}",
            "files": files,
            "proxy": proxy,
            "stack": stack,
            "n_items": len(features),
        }
    finally:
        for stac in servers:
            next(stac, None)
        for child in children:
            child.terminate()
            child.join(10)
        for server in (files, proxy):
            server.server_close()


def opera_area(endpoint: str) -> dict:
    """An area on the crop of BURST at the product's own 30 m, as a user would write it."""
    return {
        "bbox": list(BBOX),
        "resolution": 30,
        "event_time": EVENT,
        "sentinel1": {
            "source": "stac",
            "endpoint": endpoint,
            "collection": COLLECTION,
            "acquisitions_pre": 3,
            "acquisitions_post": 3,
            "orbit_state": "ascending",
            "search_start": "2021-11-01T00:00:00Z",
            "search_end": "2023-01-15T00:00:00Z",
            "min_coverage": 0.5,
        },
        "download": {"http_retries": 1, "backoff_s": 0.1, "timeout_s": 20.0},
    }


def _file(stack: Path, day: str, pol: str) -> Path:
    (path,) = sorted((stack / day).glob(f"*{BURST}*_{pol}.tif"))
    return path


def test_opera_items_load_exactly_as_the_files_on_their_grid(opera_world, tmp_path, monkeypatch, caplog) -> None:
    from landslide_sar.sentinel1 import download_sentinel1

    monkeypatch.setenv("EARTHDATA_TOKEN", TOKEN)
    caplog.set_level("INFO")
    area = opera_area(opera_world["stac"])
    ds = download_sentinel1(area, tmp_path / "s1.zarr", network=Network(1, 0.1, 20.0))
    days = [str(t)[:10] for t in ds["timestep"].values]
    assert days == PRE + POST
    assert list(ds["side"].values) == ["pre"] * 3 + ["post"] * 3
    assert set(ds["sat:orbit_state"].values) == {"ascending"} and set(ds["sat:relative_orbit"].values) == {137}
    assert ds.attrs["orbit"] == "ascending/137"
    grid = area_grid(BBOX, 30)
    assert grid.crs == "EPSG:32611"
    for k, day in enumerate(days):
        for var in ("vv", "vh"):
            path = _file(opera_world["stack"], day, var.upper())
            with rasterio.open(path) as src:
                truth = src.read(1)
                col0 = int(round((src.transform.c - grid.transform.c) / 30))
                row0 = int(round((grid.transform.f - src.transform.f) / 30))
            got = ds[var].isel(timestep=k).values
            # the grids share pixel edges (both multiples of 30 m): the file's pixels, unresampled
            rows = slice(max(row0, 0), min(row0 + truth.shape[0], got.shape[0]))
            cols = slice(max(col0, 0), min(col0 + truth.shape[1], got.shape[1]))
            inside = got[rows, cols]
            want = truth[rows.start - row0 : rows.stop - row0, cols.start - col0 : cols.stop - col0]
            assert inside.size > 3000
            np.testing.assert_array_equal(inside, want)  # the newest processing, not the doubled older one
            outside = np.ones(got.shape, bool)
            outside[rows, cols] = False
            assert outside.any() and np.isnan(got[outside]).all()  # beyond the burst: no data, NaN
    coverage = ds["coverage"].values
    assert np.all((coverage > 0.6) & (coverage < 0.95))
    assert "1 older processing(s) of 1 burst acquisition(s) left out" in caplog.text
    assert "read the grid of" in caplog.text
    assert TOKEN not in caplog.text
    assert opera_world["files"].denied.value == 0


def test_a_missing_token_is_one_line_naming_the_variable(opera_world, tmp_path, monkeypatch) -> None:
    from landslide_sar.sentinel1 import download_sentinel1

    monkeypatch.delenv("EARTHDATA_TOKEN", raising=False)
    # the API refuses: the search
    with pytest.raises(InputError) as err:
        download_sentinel1(opera_area(opera_world["stac"]), tmp_path / "a.zarr", network=Network(0, 0.1, 20.0))
    message = str(err.value)
    assert "HTTP 401" in message and "EARTHDATA_TOKEN" in message and "\n" not in message
    # an API that answers, a file host that refuses: the first file read names the file
    before = opera_world["files"].denied.value
    with pytest.raises(InputError) as err:
        download_sentinel1(opera_area(opera_world["stac_open"]), tmp_path / "b.zarr", network=Network(0, 0.1, 20.0))
    message = str(err.value)
    assert "answered HTTP 401" in message and "EARTHDATA_TOKEN" in message and ".tif" in message
    assert opera_world["files"].denied.value > before
    assert not (tmp_path / "a.zarr").exists() and not (tmp_path / "b.zarr").exists()


def test_items_without_the_products_asset_keys_say_what_they_have(opera_world, tmp_path, monkeypatch) -> None:
    """The same items read as Planetary Computer's product (assets vv/vh): refused, naming the keys
    the item has; read with `product.assets` set by hand, they load."""
    from landslide_sar.sentinel1 import download_sentinel1

    monkeypatch.setenv("EARTHDATA_TOKEN", TOKEN)
    area = opera_area(opera_world["stac"])
    area["sentinel1"]["product"] = {"assets": {"vv": "vv", "vh": "vh"}}
    with pytest.raises(InputError) as err:
        download_sentinel1(area, tmp_path / "x.zarr", network=Network(0, 0.1, 20.0))
    assert "its assets: ['0_VH', '0_VV']" in str(err.value) and "expected assets 'vv' and 'vh'" in str(err.value)
    # a generic collection name: without product hints the items lack sat:* and are refused
    area = copy.deepcopy(opera_area(opera_world["stac"]))
    area["sentinel1"]["collection"] = "OPERA_L2_RTC-S1_V1"
    area["sentinel1"]["product"] = {"orbit": "properties"}
    with pytest.raises(InputError, match=r"has no sat:orbit_state/sat:relative_orbit \(its properties: \['datetime'"):
        download_sentinel1(area, tmp_path / "y.zarr", network=Network(0, 0.1, 20.0))


def test_real_radar_runs_on_to_chips_and_a_rapid_response_map(opera_world, tiny_run, tmp_path) -> None:
    """The tiny event's finished run, copied, with the real crop added as a rapid-response area
    (10 m like the tiny models' area: interpolated from 30 m, with a warning) and a DEM file:
    Snakemake downloads it with EARTHDATA_TOKEN in its environment (the proxy and the file server
    saw the token: no 401), then cube, chips and the map. Chips beyond the burst (no valid SAR)
    get no class; no log, benchmark or message holds the token."""
    from conftest import snakemake, tiny_config, write_config

    from landslide_sar.io import write_cog_annotated

    shutil.copytree(tiny_run, tmp_path / "run", symlinks=True, dirs_exist_ok=False)
    run = tmp_path / "run"
    grid = area_grid(BBOX, 30)
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    dem = (150.0 + 3.0 * rows + 1.0 * cols).astype("float32")  # a plane rising south, ~6 deg
    write_cog_annotated(run / "dem_opera.tif", dem, grid, nodata=-9999.0, units=["m"])
    cfg = tiny_config()
    area = opera_area(opera_world["stac"])
    area["resolution"] = 10
    area["dem"] = {"source": "file", "path": "dem_opera.tif"}
    area["inventory"] = {"source": "none"}
    cfg["areas"]["opera"] = area
    cfg["rapid_response"]["opera"] = {"model_area": "tiny", "inputs": "fused", "revisits": 3}
    config = write_config(run / "config_opera.yaml", cfg)
    denied = opera_world["files"].denied.value, opera_world["proxy"].denied.value
    env = os.environ.copy()
    os.environ["EARTHDATA_TOKEN"] = TOKEN
    try:
        proc = snakemake(run, config, "--cores", "2", "results/opera/rapid/map.gpkg")
    finally:
        os.environ.clear()
        os.environ.update(env)
    assert (opera_world["files"].denied.value, opera_world["proxy"].denied.value) == denied
    assert "train_density" not in proc.stderr  # the tiny models were reused, not retrained
    ds = xr.open_zarr(run / "resources/opera/sentinel1.zarr")
    assert ds.sizes["timestep"] == 6 and 0.6 < np.isfinite(ds["vv"].values).mean() < 0.95
    log = (run / "logs/opera/download_sentinel1.log").read_text()
    assert "collection OPERA_L2_RTC-S1_V1" in log and "finer than the 30 m pixels" in log
    import geopandas as gpd

    table = gpd.read_file(run / "results/opera/rapid/map.gpkg", layer="chips")
    assert len(table) > 30
    # chips east of the burst hold no SAR: no class (never one guessed); the others have one
    short = (table["valid_fraction"] < cfg["chips"]["min_valid_fraction"]).to_numpy()
    assert 3 <= short.sum() < len(table) // 2
    assert (table["predicted_class"].notna().to_numpy() == ~short).all()
    texts = [proc.stdout, proc.stderr] + [
        p.read_text(errors="replace")
        for d in ("logs", "benchmarks", ".snakemake/log")
        for p in (run / d).rglob("*")
        if p.is_file()
    ]
    assert not any(TOKEN in t for t in texts)


def test_opera_without_a_direction_or_with_unknown_product_keys_is_refused_before_any_job() -> None:
    """The config alone decides both: refused by validate_config (before Snakemake builds a DAG)."""
    from conftest import tiny_config

    from landslide_sar.config import validate_config
    from landslide_sar.errors import ConfigError

    cfg = tiny_config()
    area = opera_area("http://127.0.0.1:9")
    area.update(dem={"source": "file", "path": "config.yaml"}, inventory={"source": "none"})
    del area["sentinel1"]["orbit_state"]
    cfg["areas"]["opera"] = area
    cfg["rapid_response"]["opera"] = {"model_area": "tiny", "inputs": "fused", "revisits": 3}
    with pytest.raises(ConfigError, match=r"areas.opera.sentinel1.orbit_state is missing; the items of OPERA_L2"):
        validate_config(copy.deepcopy(cfg))
    area["sentinel1"]["orbit_state"] = "ascending"
    validate_config(copy.deepcopy(cfg))
    area["sentinel1"]["collection"] = "my-rtc"
    del area["sentinel1"]["endpoint"]
    with pytest.raises(ConfigError, match=r"sentinel1.endpoint is missing; collection 'my-rtc' has no preset"):
        validate_config(copy.deepcopy(cfg))
