"""Bad input stopped where it enters, with one line; retries that help; temporaries per process;
forests loaded without running code. Each case here is a row of docs/reliability.md."""

from __future__ import annotations

import copy
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
import yaml
from affine import Affine
from conftest import snakemake, tiny_config, write_config

from landslide_sar.config import validate_config
from landslide_sar.errors import ConfigError, InputError, NetworkError
from landslide_sar.grid import area_grid

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def default() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def _set(path: str, value):  # noqa: ANN202 - an edit of the config
    def edit(c: dict) -> None:
        *keys, last = path.split(".")
        d = c
        for k in keys:
            d = d.setdefault(k, {})
        d[last] = value

    return edit


def _datacube_area(c: dict) -> None:
    c["areas"]["cube"] = {
        "event_time": "2018-09-06T00:00:00Z",
        "sentinel1": {"source": "datacube", "acquisitions_pre": 1, "acquisitions_post": 1},
        "datacube": {"path": "data/nowhere.zarr"},
    }


# (edit of config.yaml, the exact line (prefix) the user sees after "ERROR: ")
CONFIG_MISTAKES = {
    "class-edges-decreasing": (
        _set("chips.density_class_edges_per_km2", [25, 0]),
        "config chips.density_class_edges_per_km2 = [25, 0] is not allowed; expected two increasing values "
        "[upper edge of class 0, upper edge of class 1] per km², e.g. [0, 25]",
    ),
    "class-edges-equal": (
        _set("chips.density_class_edges_per_km2", [10, 10]),
        "config chips.density_class_edges_per_km2 = [10, 10] is not allowed; expected two increasing values",
    ),
    "class-edge-negative": (
        _set("chips.density_class_edges_per_km2", [-1, 25]),
        "config chips.density_class_edges_per_km2.0 = -1 is not allowed; expected a value >= 0",
    ),
    "split-fractions-sum": (
        _set("splits.train_fraction", 0.45),
        "config splits.train_fraction + splits.val_fraction = 0.45 + 0.1 = 0.55 is not allowed; expected 0.5 "
        "(each of the two random halves is split into train and val)",
    ),
    "val-fraction-too-large": (
        _set("splits.val_fraction", 0.5),
        "config splits.val_fraction = 0.5 is not allowed; expected a value < 0.5",
    ),
    "min-val-chips-zero": (
        _set("splits.min_val_chips", 0),
        "config splits.min_val_chips = 0 is not allowed; expected a value >= 1",
    ),
    "inventory-path-missing": (
        _set("areas.region_b.inventory.path", "data/heads.gpkg"),
        "config areas.region_b.inventory.path = 'data/heads.gpkg' does not exist (working directory ",
    ),
    "dem-path-missing": (
        _set("areas.region_b.dem", {"source": "file", "path": "dem/srtm.tif"}),
        "config areas.region_b.dem.path = 'dem/srtm.tif' does not exist (working directory ",
    ),
    "dem-path-absent": (
        _set("areas.region_b.dem", {"source": "file"}),
        "config areas.region_b.dem.path is missing; expected a file path when source is 'file'",
    ),
    "datacube-path-missing": (
        _datacube_area,
        "config areas.cube.datacube.path = 'data/nowhere.zarr' does not exist (working directory ",
    ),
    "area-too-large": (
        _set("areas.embedded.bbox", [-67.5, 17.0, -64.5, 20.0]),
        "config areas.embedded.bbox = [-67.5, 17.0, -64.5, 20.0] covers 1",  # ~105,000 km²
    ),
    "area-over-lowered-limit": (
        _set("limits.max_area_km2", 100),
        "config areas.embedded.bbox = [-66.75, 18.2, -66.6, 18.34] covers 253 km² (1608 x 1571 px at 10 m); "
        "expected at most limits.max_area_km2 = 100 km² (raise it for a larger area)",
    ),
    "antimeridian-crossing": (
        _set("areas.embedded.bbox", [179.9, -16.9, -179.9, -16.8]),
        "config areas.embedded.bbox: [179.9, -16.9, -179.9, -16.8] crosses the antimeridian (min_lon 179.9 > "
        "max_lon -179.9), which is not supported; expected an area on one side of 180°",
    ),
    "antimeridian-written-as-world": (
        _set("areas.embedded.bbox", [-179.98, -16.9, 179.98, -16.87]),
        "config areas.embedded.bbox: [-179.98, -16.9, 179.98, -16.87] spans 359.96° of longitude",
    ),
    "lat-200-no-swap-hint": (
        _set("areas.embedded.bbox", [-66.75, 200, -66.6, 201]),
        "config areas.embedded.bbox: [-66.75, 200, -66.6, 201] is not on Earth; expected [min_lon, min_lat, "
        "max_lon, max_lat]",
    ),
    "lat-lon-swapped": (
        _set("areas.embedded.bbox", [18.2, -166.75, 18.34, -166.6]),
        "config areas.embedded.bbox: [18.2, -166.75, 18.34, -166.6] is not on Earth (lon/lat swapped?)",
    ),
    "min-lat-above-max": (
        _set("areas.embedded.bbox", [-66.75, 18.34, -66.6, 18.2]),
        "config areas.embedded.bbox: [-66.75, 18.34, -66.6, 18.2] has min >= max",
    ),
    "coverage-above-one": (
        _set("areas.embedded.sentinel1.min_coverage", 1.5),
        "config areas.embedded.sentinel1.min_coverage = 1.5 is not allowed; expected a value <= 1",
    ),
    "limits-typo": (
        _set("limits.max_area", 10),
        "config key limits.max_area is not allowed; allowed keys at limits: max_area_km2",
    ),
    "event-time-not-iso": (
        _set("areas.embedded.event_time", "2017-09-40"),
        "config areas.embedded.event_time = '2017-09-40' is not an ISO 8601 time",
    ),
    "inventory-url-not-http": (
        _set("areas.region_b.inventory", {"source": "url", "url": "ftp://x/heads.gpkg"}),
        "config areas.region_b.inventory.url = 'ftp://x/heads.gpkg' is not allowed; expected a value matching '^(https?|file)://'",
    ),
}


@pytest.mark.parametrize("case", list(CONFIG_MISTAKES))
def test_config_mistake_is_one_line(default, case) -> None:
    edit, expected = CONFIG_MISTAKES[case]
    edit(default)
    with pytest.raises(ConfigError) as err:
        validate_config(default)
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_file_sources_made_by_a_rule_are_accepted(default, tmp_path, monkeypatch) -> None:
    """config.yaml's region_a/region_b inventories lie under resources/<area>/synthetic/, which
    generate_event makes: accepted before they exist; an existing file anywhere is accepted too."""
    monkeypatch.chdir(tmp_path)
    assert not (tmp_path / "resources").exists()
    validate_config(copy.deepcopy(default))
    (tmp_path / "heads.gpkg").write_text("x")
    cfg = copy.deepcopy(default)
    cfg["areas"]["region_b"]["inventory"]["path"] = "heads.gpkg"
    validate_config(cfg)
    # the same folder of an area WITHOUT a synthetic block is nobody's output
    cfg = copy.deepcopy(default)
    cfg["areas"]["region_b"].pop("synthetic")
    cfg["areas"]["region_b"]["sentinel1"]["source"] = "stac"
    cfg["areas"]["region_b"]["dem"] = {"source": "file", "path": "heads.gpkg"}
    with pytest.raises(ConfigError, match="inventory.path = 'resources/region_b/synthetic/truth.gpkg' does not exist"):
        validate_config(cfg)


def test_puerto_rico_fits_the_default_area_limit() -> None:
    cfg = yaml.safe_load((ROOT / "config" / "puerto_rico.yaml").read_text())
    validate_config(cfg)
    assert cfg["limits"]["max_area_km2"] == 50000
    grid = area_grid(cfg["areas"][next(iter(cfg["areas"]))]["bbox"], 10)
    assert 9000 < grid.width * grid.height / 1e4 < 50000 / 3  # its bbox: ~13,200 km², well below the limit


@pytest.mark.parametrize(
    "edit, key",
    [
        (
            lambda c: c["areas"]["tiny"].update(inventory={"source": "file", "path": "data/heads.gpkg"}),
            "areas.tiny.inventory.path",
        ),
        (lambda c: c["chips"].update(density_class_edges_per_km2=[25, 0]), "chips.density_class_edges_per_km2"),
        (lambda c: c["splits"].update(train_fraction=0.3), "splits.train_fraction"),
    ],
    ids=["inventory-path", "class-edges", "split-fractions"],
)
def test_config_mistakes_stop_snakemake_before_any_job(tmp_path, edit, key) -> None:
    """Through Snakemake: one ERROR line naming the key (no MissingInputException block), no job."""
    cfg = tiny_config()
    edit(cfg)
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "--cores", "1", "all", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert len(lines) == 1 and lines[0].startswith(f"ERROR: config {key}"), out[-2000:]
    assert "MissingInputException" not in out and "Traceback" not in out
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


TINY_NET = (
    "dem, dem_slope_radians, dem_curvature, dem_aspect, vv_pre1, vh_pre1, vv_pre2, vh_pre2, vv_pre3, vh_pre3, "
    "vv_post1, vh_post1, vv_post2, vh_post2, vv_post3, vh_post3"
)
TINY_NET_4_PRE = TINY_NET.replace("vh_pre3, ", "vh_pre3, vv_pre4, vh_pre4, ")


@pytest.mark.parametrize(
    "edit, line",
    [
        (
            lambda c: c["areas"]["tiny_new"].update(resolution=30),
            f"config rapid_response.tiny_new: model trained on tiny at 10 m, chips 32 px, channels [{TINY_NET}]; "
            f"area tiny_new is 30 m, chips 32 px, channels [{TINY_NET}]; expected the same resolution (a model reads "
            "pixels, chips and channels as it was trained on)",
        ),
        (
            lambda c: c["areas"]["tiny_new"]["sentinel1"].update(acquisitions_pre=4),
            f"config rapid_response.tiny_new: model trained on tiny at 10 m, chips 32 px, channels [{TINY_NET}]; "
            f"area tiny_new is 10 m, chips 32 px, channels [{TINY_NET_4_PRE}]; "
            "expected the same channels (a model reads pixels, chips and channels as it was trained on)",
        ),
    ],
    ids=["resolution", "channels"],
)
def test_rapid_response_on_another_grid_or_channels_stops_snakemake_before_any_job(tmp_path, edit, line) -> None:
    """Models trained at 10 m on 3 acquisitions before the event are not applied to an area at
    30 m, nor to one with 4 before (its vv_pre1 is another acquisition): one line naming both,
    from the config, before any job (nothing under resources/ or results/)."""
    from landslide_sar.density.transfer import check_rapid_config

    cfg = tiny_config()
    edit(cfg)
    checked = copy.deepcopy(cfg)
    validate_config(checked)
    with pytest.raises(ConfigError) as err:
        check_rapid_config(checked)
    assert str(err.value) == line
    proc = snakemake(tmp_path, write_config(tmp_path / "config.yaml", cfg), "--cores", "1", "all", check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert [x for x in out.splitlines() if x.startswith("ERROR:")] == [f"ERROR: {line}"], out[-2000:]
    assert "Traceback" not in out
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


# --- bad data where it enters ---------------------------------------------------------------


def test_empty_acquisition_fails_download_naming_date_and_file(tmp_path) -> None:
    from test_sentinel1 import BBOX, _item, _write

    from landslide_sar.sentinel1 import download_sentinel1

    grid = area_grid(BBOX, 10)
    items = [
        _item(tmp_path, "a2", "2017-09-04T22:36:37Z", "ascending", 135, grid, slice(None), 0.2),
        _item(tmp_path, "a3", "2017-09-16T22:36:37Z", "ascending", 135, grid, slice(None), 0.3),
        _item(tmp_path, "p1", "2017-09-22T22:36:37Z", "ascending", 135, grid, slice(0, 0), 0.5),  # all nodata
    ]
    area = {
        "bbox": list(BBOX),
        "resolution": 10,
        "event_time": "2017-09-20T00:00:00Z",
        "sentinel1": {
            "source": "synthetic",
            "acquisitions_pre": 2,
            "acquisitions_post": 1,
            "orbit_state": "ascending",
            "relative_orbit": 135,
            "search_days": 45,
            "min_coverage": 0.5,
        },
        "download": {"http_retries": 0, "backoff_s": 0.1, "timeout_s": 10, "job_retries": 0},
    }
    with pytest.raises(InputError) as err:
        download_sentinel1(area, tmp_path / "s1.zarr", _write(tmp_path, items))
    line = str(err.value)
    assert "acquisition 2017-09-22 (post-event, items ['p1']) has valid VV+VH on 0.0 % of the area" in line
    assert str(tmp_path / "p1_vv.tif") in line and "expected at least 50 % (sentinel1.min_coverage)" in line
    assert "\n" not in line and not (tmp_path / "s1.zarr").exists()
    area["sentinel1"]["min_coverage"] = 0.0  # accepted when the config says so: coverage recorded
    ds = download_sentinel1(area, tmp_path / "s1.zarr", _write(tmp_path, items))
    assert float(ds["coverage"][2]) == 0.0


def _cube(path: Path, ny: int, nx: int, nan_post: bool = False) -> Path:
    """A hand-made cube of ny x nx px (10 m), 2 steps before and 1 after 2017-09-20, heads spread."""
    res = 10.0
    rng = np.random.default_rng(0)
    vv = np.full((3, ny, nx), 0.1, "float32")
    if nan_post:
        vv[2] = np.nan
    count = (rng.random((ny, nx)) < 0.002).astype("uint16")
    cube = (
        xr.Dataset(
            {
                "vv": (("timestep", "y", "x"), vv),
                "vh": (("timestep", "y", "x"), vv / 10),
                **{
                    v: (("y", "x"), np.ones((ny, nx), "float32"))
                    for v in ("dem", "dem_slope_radians", "dem_aspect", "dem_curvature")
                },
                "landslides": (("y", "x"), (count > 0).astype("uint16")),
                "landslide_count": (("y", "x"), count),
            },
            coords={
                "timestep": pd.to_datetime(["2017-09-04", "2017-09-16", "2017-09-22"]).values,
                "x": 500000 + (np.arange(nx) + 0.5) * res,
                "y": 2000000 - (np.arange(ny) + 0.5) * res,
            },
        )
        .rio.write_crs("EPSG:32619")
        .rio.write_transform(Affine(res, 0, 500000, 0, -res, 2000000))
    )
    cube.to_zarr(path)
    return path


def _chips(tmp_path: Path, cube: Path, size: int, **kw):  # noqa: ANN202
    from landslide_sar.density.chips import make_chips

    args = (
        dict(
            size=size,
            event_time="2017-09-20T00:00:00Z",
            n_pre=2,
            n_post=1,
            min_valid_fraction=0.9,
            class_edges=(0, 25),
            split_seed=0,
            train_fraction=0.4,
            val_fraction=0.1,
            min_train_chips=4,
            min_val_chips=3,
        )
        | kw
    )
    return make_chips(cube, tmp_path / "chips.zarr", tmp_path / "chips.gpkg", **args)


def test_too_few_chips_per_half_fails_make_chips_with_the_numbers(tmp_path) -> None:
    """300 x 300 px with 100-px chips: 9 chips, 1 validation chip per half (the issue's case)."""
    cube = _cube(tmp_path / "cube.zarr", 300, 300)
    with pytest.raises(InputError) as err:
        _chips(tmp_path, cube, 100)
    line = str(err.value)
    assert line.startswith(
        "chips: 9 chips of 100 px, 9 usable (valid fraction >= chips.min_valid_fraction 0.9); half 0 has"
    )
    assert (
        "half 0 has 4 train and 1 validation chip(s), expected at least splits.min_train_chips = 4 and "
        "splits.min_val_chips = 3" in line
    )
    assert not (tmp_path / "chips.zarr").exists() and not (tmp_path / "chips.gpkg").exists()
    table = _chips(tmp_path, cube, 30)  # 100 chips: 10 validation chips per half
    assert ((table["half"] == 1) & (table["subset"] == "val")).sum() == 10


def test_an_all_nan_acquisition_fails_make_chips_naming_its_channel_and_date(tmp_path) -> None:
    cube = _cube(tmp_path / "cube.zarr", 300, 300, nan_post=True)
    with pytest.raises(InputError) as err:
        _chips(tmp_path, cube, 30)
    line = str(err.value)
    assert (
        "100 chips of 30 px, 0 usable" in line
        and "least valid channel vv_post1 (2017-09-22): 0.0 % of its pixels valid" in line
    )
    assert "half 0 has 0 train and 0 validation chip(s)" in line


def test_auc_is_never_computed_from_fewer_chips_than_its_classes_need() -> None:
    from landslide_sar.density.evaluate import class_metrics

    one = class_metrics(np.array([1]), np.array([[0.2, 0.5, 0.3]]))
    assert np.isnan([one["auc_macro_ovr"], one["auc_class0"], one["auc_class1"], one["auc_class2"]]).all()
    two = class_metrics(np.array([0, 1]), np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1]]))
    assert two["auc_class0"] == 1.0 and np.isnan(two["auc_class2"]) and np.isnan(two["auc_macro_ovr"])
    three = class_metrics(np.array([0, 1, 2]), np.eye(3))
    assert three["auc_macro_ovr"] == 1.0


# --- retries that help -----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _inventory_url_config(tmp_path: Path, url: str, job_retries: int) -> Path:
    cfg = tiny_config()
    cfg["areas"]["tiny"]["inventory"] = {"source": "url", "url": url, "filename": "heads.gpkg"}
    cfg["areas"]["tiny"]["download"] = {"http_retries": 1, "backoff_s": 0.1, "timeout_s": 5, "job_retries": job_retries}
    return write_config(tmp_path / "config.yaml", cfg)


def test_bad_input_is_not_retried_by_snakemake(tmp_path) -> None:
    """download_inventory has `retries: 2`; a missing file cannot appear between attempts: the
    first attempt reports it, the two retries end at once without repeating the work or the line."""
    config = _inventory_url_config(tmp_path, f"file://{tmp_path}/nowhere/heads.gpkg", job_retries=2)
    proc = snakemake(tmp_path, config, "--cores", "1", "resources/tiny/inventory/heads.gpkg", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert errors == [f"ERROR: areas.tiny.inventory.url: {tmp_path}/nowhere/heads.gpkg does not exist"], proc.stderr[
        -3000:
    ]
    assert proc.stderr.count("not retried: the bad input reported by the first attempt does not change") == 2
    log = (tmp_path / "logs/tiny/download_inventory/heads.gpkg.log").read_text()
    assert "not retried: bad input does not change between attempts" in log  # the last attempt's log
    # a later invocation tries again (the input may have been fixed in between)
    (tmp_path / "nowhere").mkdir()
    (tmp_path / "nowhere/heads.gpkg").write_text("x")
    snakemake(tmp_path, config, "--cores", "1", "resources/tiny/inventory/heads.gpkg")
    assert (tmp_path / "resources/tiny/inventory/heads.gpkg").read_text() == "x"


def test_network_failure_is_named_and_retried(tmp_path) -> None:
    """An unreachable server is a network error, retried by the job (http_retries) and by
    Snakemake (job_retries): two attempts, each one line saying so."""
    url = f"http://127.0.0.1:{_free_port()}/heads.gpkg"
    config = _inventory_url_config(tmp_path, url, job_retries=1)
    proc = snakemake(tmp_path, config, "--cores", "1", "resources/tiny/inventory/heads.gpkg", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2, proc.stderr[-3000:]
    for line in errors:
        assert line.startswith(
            f"ERROR: areas.tiny.inventory.url: network error: {url} could not be downloaded after 2 attempts "
            "(1 retry): ConnectionError"
        )
    assert "not retried" not in proc.stderr
    assert not (tmp_path / "resources/tiny/inventory/heads.gpkg").exists()
    # both attempts' logs are kept, one after the other, each under its header
    log = (tmp_path / "logs/tiny/download_inventory/heads.gpkg.log").read_text()
    headers = [line for line in log.splitlines() if line.startswith("--- attempt ")]
    assert [h.split(" (")[0] for h in headers] == ["--- attempt 1", "--- attempt 2"], log
    assert log.count("could not be downloaded after 2 attempts (1 retry)") == 2, log


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with the server's `status` and `body` (JSON), counting requests."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.count += 1  # type: ignore[attr-defined]
        body = json.dumps(self.server.body).encode()  # type: ignore[attr-defined]
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Content-Type", "application/json")
        # `cut`: a Content-Length twice the body sent, then the connection closed (cut mid-body)
        self.send_header("Content-Length", str(len(body) * (2 if self.server.cut else 1)))  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.server.cut  # type: ignore[attr-defined]

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture()
def json_server():  # noqa: ANN201
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.count, server.status, server.body, server.cut = 0, 200, {}, False
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_server_errors_after_retries_are_network_errors(tmp_path, json_server) -> None:
    from landslide_sar.download import Network, download_url

    json_server.status = 503
    url = f"http://127.0.0.1:{json_server.server_port}/heads.gpkg"
    with pytest.raises(NetworkError) as err:
        download_url(url, tmp_path / "x.gpkg", Network(2, 0.01, 5), what="inventory")
    assert (
        str(err.value)
        == f"inventory: network error: {url} answered HTTP 503 (Service Unavailable) after 3 attempts (2 retries)"
    )
    assert json_server.count == 3 and not (tmp_path / "x.gpkg").exists()


@pytest.mark.parametrize("retries, said", [(0, "1 attempt"), (2, "3 attempts (2 retries)")])
def test_a_body_cut_short_is_retried_and_counted_truly(tmp_path, json_server, retries, said) -> None:
    """A server that answers 200 and closes mid-body: each attempt is a request, the retries are
    `http_retries`, and the line says how many attempts there were."""
    from landslide_sar.download import Network, download_url

    json_server.cut, json_server.body = True, {"features": list(range(2000))}
    url = f"http://127.0.0.1:{json_server.server_port}/heads.gpkg"
    with pytest.raises(NetworkError) as err:
        download_url(url, tmp_path / "x.gpkg", Network(retries, 0.01, 5), what="inventory")
    assert str(err.value).startswith(
        f"inventory: network error: {url} could not be downloaded after {said}: ChunkedEncodingError: "
    ), err.value
    assert "IncompleteRead" in str(err.value) and "\n" not in str(err.value)
    assert json_server.count == retries + 1 and not list(tmp_path.iterdir())


def _pc_item():  # noqa: ANN202
    import pystac

    item = pystac.Item(
        "s1", {"type": "Point", "coordinates": [0, 0]}, [0, 0, 0, 0], pd.Timestamp("2017-09-22").to_pydatetime(), {}
    )
    item.add_asset("vv", pystac.Asset("https://sentinel1euwestrtc.blob.core.windows.net/sentinel1-grd-rtc/x_vv.tif"))
    item.add_asset("thumbnail", pystac.Asset("https://planetarycomputer.microsoft.com/api/data/v1/preview.png"))
    return item


@pytest.fixture()
def sas_url(monkeypatch):  # noqa: ANN201
    """Point the Planetary Computer SDK's token service at a URL (its settings are cached)."""
    from planetary_computer.settings import Settings

    from landslide_sar import stac

    def point(url: str) -> None:
        monkeypatch.setenv("PC_SDK_SAS_URL", url)
        Settings.get.cache_clear()
        stac._TOKENS.clear()

    yield point
    monkeypatch.delenv("PC_SDK_SAS_URL", raising=False)
    Settings.get.cache_clear()
    stac._TOKENS.clear()


def test_planetary_computer_signing_uses_the_tokens_service(json_server, sas_url) -> None:
    from landslide_sar.download import Network
    from landslide_sar.stac import PLANETARY_COMPUTER_STAC, sign_items

    json_server.body = {"msft:expiry": "2099-01-01T00:00:00Z", "token": "st=2026&se=2099&sig=abc"}
    sas_url(f"http://127.0.0.1:{json_server.server_port}/api/sas/v1/token")
    signed = sign_items([_pc_item(), _pc_item()], PLANETARY_COMPUTER_STAC, Network(1, 0.1, 5))
    assert signed[0].assets["vv"].href.endswith("/x_vv.tif?st=2026&se=2099&sig=abc")
    assert "?" not in signed[0].assets["thumbnail"].href  # not in blob storage: left alone
    assert json_server.count == 1  # one token per container, cached


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_unreachable_token_service_gives_up_within_the_download_budget(sas_url, kind) -> None:
    """The SDK's own get_token would retry 10 times with backoff up to 120 s (475 s measured
    against a refused port) and has no timeout at all (for ever against a silent one); signing
    here gives up within the area's download budget: (retries + 1) x timeout + backoff."""
    from landslide_sar.download import Network
    from landslide_sar.stac import PLANETARY_COMPUTER_STAC, sign_items

    silent = socket.socket()  # accepts connections (backlog) but never answers
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1] if kind == "silent" else _free_port()
    sas_url(f"http://127.0.0.1:{port}/api/sas/v1/token")
    network = Network(http_retries=2, backoff_s=0.2, timeout_s=1.0)
    start = time.monotonic()
    try:
        with pytest.raises(NetworkError) as err:
            sign_items([_pc_item()], PLANETARY_COMPUTER_STAC, network)
    finally:
        silent.close()
    took = time.monotonic() - start
    print(f"signing against a {kind} token service gave up after {took:.2f} s (budget {network.budget_s():.1f} s)")
    assert took <= network.budget_s() + 1.0
    line = str(err.value)
    assert line.startswith(
        f"Planetary Computer: network error: the token service http://127.0.0.1:{port}/api/sas/v1/token/"
    )
    assert "could not be reached after 3 attempts (2 retries)" in line and "\n" not in line


@pytest.mark.parametrize(
    "detail, kind",
    [
        ("HTTP response code: 503", NetworkError),
        ("CURL error: Failed to connect to 127.0.0.1 port 9: Connection refused", NetworkError),
        ("CURL error: Recv failure: Connection reset by peer", NetworkError),
        ("HTTP response code: 404", InputError),
        ("'/x/a_vv.tif' not recognized as being in a supported file format.", InputError),
    ],
)
def test_cog_read_failures_are_named_network_or_file(detail, kind) -> None:
    from landslide_sar.stac import raise_read_error

    err = RuntimeError(f"Error opening 'http://h/a_vv.tif': RasterioIOError('{detail}')")
    with pytest.raises(kind) as caught:
        raise_read_error(err, "sentinel1: items.json")
    line = str(caught.value)
    expected = (
        "network error reading http://h/a_vv.tif" if kind is NetworkError else "http://h/a_vv.tif is not a readable COG"
    )
    assert line.startswith(f"sentinel1: items.json: {expected}")


@pytest.mark.parametrize(
    "href, kind",
    [("http://h/a_vv.tif", NetworkError), ("/vsicurl/http://h/a_vv.tif", NetworkError), ("/x/a_vv.tif", InputError)],
)
def test_a_short_read_is_the_network_for_a_remote_file_and_the_file_for_a_local_one(href, kind) -> None:
    """rasterio chains GDAL's errors: 'Read failed. See previous exception …' ← libtiff's short
    read. Over the network the transfer was cut (retry); on disk the file is short (bad input).
    GDAL's detail is in the line either way."""
    from landslide_sar.stac import raise_read_error

    short = "TIFFFillTile:Read error at row 4294967295, col 4294967295, tile 0; got 69426 bytes, expected 139440"
    try:
        try:
            try:
                raise OSError(short)
            except OSError as gdal:
                raise OSError("Read failed. See previous exception for details.") from gdal
        except OSError as io:
            raise RuntimeError(f"Error reading Window(...) from '{href}': {io!r}") from io
    except RuntimeError as err:
        with pytest.raises(kind) as caught:
            raise_read_error(err, "sentinel1: items.json")
    line = str(caught.value)
    assert "got 69426 bytes, expected 139440" in line and "\n" not in line
    if kind is NetworkError:
        assert line.startswith(f"sentinel1: items.json: network error reading {href}: the transfer ended short (")
    else:
        assert line.startswith(f"sentinel1: items.json: {href} is not a readable COG (")


def test_gdal_never_sends_head() -> None:
    from landslide_sar.download import Network

    env = Network(3, 0.5, 20).gdal_env()
    assert (
        env["CPL_VSIL_CURL_USE_HEAD"] == "NO" and env["GDAL_HTTP_MAX_RETRY"] == "3" and env["GDAL_HTTP_TIMEOUT"] == "20"
    )


# --- temporaries per process -----------------------------------------------------------------


def test_temporaries_are_unique_per_process_and_stale_ones_removed(tmp_path) -> None:
    from landslide_sar.io import atomic_path, unique_sibling

    out = tmp_path / "out.zarr"
    a, b = unique_sibling(out, "partial"), unique_sibling(out, "partial")
    assert a != b and f"-{os.getpid()}-" in a.name and a.name.startswith(".out.partial-") and a.suffix == ".zarr"
    # a temporary of a dead process (an earlier killed job) and one of a live process (an orphan still writing)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    host = socket.gethostname()
    stale = tmp_path / f".out.partial-{host}-{int(dead.stdout)}-deadbeef.zarr"
    live_proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        live = tmp_path / f".out.partial-{host}-{live_proc.pid}-cafebabe.zarr"
        other_host = tmp_path / f".out.partial-elsewhere-{int(dead.stdout)}-0badf00d.zarr"
        for p in (stale, live, other_host):
            p.mkdir()
        with atomic_path(out) as tmp:
            assert tmp not in (stale, live) and not stale.exists()
            tmp.mkdir()
            (tmp / "x").write_text("1")
        assert (out / "x").read_text() == "1"
        assert live.exists() and other_host.exists()  # not ours to remove
        with pytest.raises(RuntimeError), atomic_path(tmp_path / "failed.tif") as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
        assert not list(tmp_path.glob(".failed.partial-*")) and not (tmp_path / "failed.tif").exists()
    finally:
        live_proc.kill()
        live_proc.wait()


# --- forests loaded without running code -------------------------------------------------------


@pytest.fixture()
def forests():  # noqa: ANN201
    from sklearn.ensemble import RandomForestClassifier

    rng = np.random.default_rng(0)
    x, y = rng.random((60, 19)), np.arange(60) % 3
    return {
        s: {k: RandomForestClassifier(n_estimators=10, random_state=10 * s + k).fit(x, y) for k in (0, 1)}
        for s in (0, 3)
    }, x


def test_forests_round_trip_without_pickle(tmp_path, forests) -> None:
    import zipfile

    from landslide_sar.density.forest_io import load_forests, save_forests

    fitted, x = forests
    save_forests(fitted, tmp_path / "forests.skops")
    assert zipfile.is_zipfile(tmp_path / "forests.skops")
    back = load_forests(tmp_path / "forests.skops")
    assert sorted(back) == [0, 3]
    for s in (0, 3):
        for k in (0, 1):
            np.testing.assert_array_equal(back[s][k].predict_proba(x), fitted[s][k].predict_proba(x))


def test_tampered_forests_file_is_refused_without_running_it(tmp_path, forests) -> None:
    import pickle

    import skops.io as sio

    from landslide_sar.density.forest_io import FORMAT, load_forests

    fitted, _ = forests
    # a file that names os.system (what a malicious pickle would call): refused before it is built
    sio.dump(
        {
            "format": FORMAT,
            "seeds": [0],
            "seed0_half0": fitted[0][0],
            "seed0_half1": fitted[0][1],
            "payload": os.system,
        },
        tmp_path / "evil.skops",
    )
    with pytest.raises(InputError) as err:
        load_forests(tmp_path / "evil.skops")
    assert str(err.value).startswith(
        f"{tmp_path / 'evil.skops'}: holds type(s) ['posix.system'] that are not trusted; refused without loading"
    )
    # the old format (a pickle, as joblib wrote it) is not read at all
    (tmp_path / "forests.joblib").write_bytes(pickle.dumps(fitted))
    with pytest.raises(InputError, match=r"forests.joblib: not a skops forests file \(BadZipFile"):
        load_forests(tmp_path / "forests.joblib")
    # a skops file of something else
    sio.dump({"half0": 1}, tmp_path / "other.skops")
    with pytest.raises(InputError, match="not a forests file of this pipeline"):
        load_forests(tmp_path / "other.skops")


def test_network_failures_are_told_from_bad_requests() -> None:
    import requests
    from pystac_client.exceptions import APIError

    from landslide_sar.download import is_network_failure

    def api(status: int) -> APIError:
        err = APIError(f"HTTP {status}")
        err.status_code = status
        return err

    assert is_network_failure(requests.ConnectionError("refused")) and is_network_failure(requests.ReadTimeout("slow"))
    assert is_network_failure(api(503)) and is_network_failure(api(429)) and is_network_failure(ConnectionResetError())
    assert (
        not is_network_failure(api(404))
        and not is_network_failure(api(400))
        and not is_network_failure(ValueError("bad json"))
    )
