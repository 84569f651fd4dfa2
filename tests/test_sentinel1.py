"""Sentinel-1 acquisition from a STAC ItemCollection of local COGs: orbit filter, same-day frame
mosaic, nodata → NaN, values on the area's grid, and the faults reported in one line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from landslide_sar.errors import InputError
from landslide_sar.grid import area_grid
from landslide_sar.io import write_cog
from landslide_sar.sentinel1 import download_sentinel1

BBOX = (-66.70, 18.25, -66.685, 18.265)
NODATA = -32768.0


def _item(
    tmp: Path, item_id: str, when: str, state: str, rel: int, grid, rows: slice, value: float, assets=("vv", "vh")
) -> dict:
    """One PC-like item whose COGs hold `value` (VV) and value/10 (VH) on `rows`, nodata elsewhere."""
    hrefs = {}
    for pol, v in (("vv", value), ("vh", value / 10)):
        if pol not in assets:
            continue
        data = np.full(grid.shape, NODATA, "float32")
        data[rows] = v
        write_cog(tmp / f"{item_id}_{pol}.tif", data, grid, nodata=NODATA)
        hrefs[pol] = {
            "href": f"{item_id}_{pol}.tif",
            "type": "image/tiff; application=geotiff; profile=cloud-optimized",
            "roles": ["data"],
        }
    w, s, e, n = grid.lonlat_bbox()
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "id": item_id,
        "collection": "sentinel-1-rtc",
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {
            "datetime": when,
            "platform": "SENTINEL-1A",
            "sat:orbit_state": state,
            "sat:relative_orbit": rel,
            "proj:epsg": int(grid.crs.split(":")[1]),
            "proj:shape": [grid.height, grid.width],
            "proj:transform": list(grid.transform)[:6],
        },
        "assets": hrefs,
        "links": [],
    }


@pytest.fixture()
def area() -> dict:
    return {
        "bbox": list(BBOX),
        "resolution": 10,
        "event_time": "2017-09-20T00:00:00Z",
        "sentinel1": {
            "source": "synthetic",
            "collection": "sentinel-1-rtc",
            "acquisitions_pre": 2,
            "acquisitions_post": 1,
            "orbit_state": "ascending",
            "relative_orbit": 135,
            "search_days": 45,
        },
        "download": {"http_retries": 0, "backoff_s": 0.1, "timeout_s": 10, "job_retries": 0},
    }


def _write(tmp: Path, items: list[dict]) -> Path:
    path = tmp / "items.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": items}))
    return path


def test_orbit_filter_mosaic_and_grid(tmp_path, area) -> None:
    grid = area_grid(BBOX, 10)
    h = grid.height
    north, south = slice(0, int(0.6 * h)), slice(int(0.4 * h), h)
    items = [
        _item(tmp_path, "a1", "2017-08-23T22:36:37Z", "ascending", 135, grid, slice(None), 0.1),
        _item(tmp_path, "a2", "2017-09-04T22:36:37Z", "ascending", 135, grid, slice(None), 0.2),
        _item(tmp_path, "a3", "2017-09-16T22:36:37Z", "ascending", 135, grid, slice(None), 0.3),
        _item(tmp_path, "d1", "2017-09-18T10:00:00Z", "descending", 62, grid, slice(None), 9.0),
        _item(tmp_path, "p1n", "2017-09-22T22:35:44Z", "ascending", 135, grid, north, 0.5),
        _item(tmp_path, "p1s", "2017-09-22T22:36:09Z", "ascending", 135, grid, south, 0.5),
        _item(tmp_path, "p2", "2017-10-10T22:36:38Z", "ascending", 135, grid, slice(None), 0.6),
    ]
    ds = download_sentinel1(area, tmp_path / "s1.zarr", _write(tmp_path, items))
    assert ds.sizes["timestep"] == 3  # the 2 closest before (a2, a3) and the first after (p1)
    assert ds["vv"].dtype == np.float32
    np.testing.assert_allclose(
        ds["vv"].isel(y=slice(1, -1), x=slice(1, -1)).mean(("y", "x")).values, [0.2, 0.3, 0.5], rtol=1e-5
    )
    assert list(ds["sat:orbit_state"].values) == ["ascending"] * 3
    assert ds["n_frames"].values.tolist() == [1, 1, 2]
    assert float(ds["coverage"][2]) > 0.99  # the two frames together cover the area
    assert ds.sizes["y"] == grid.height and ds.sizes["x"] == grid.width
    np.testing.assert_allclose(ds.x.values, grid.x_coords())
    assert ds.rio.crs.to_string() == grid.crs
    back = xr.open_zarr(tmp_path / "s1.zarr")
    assert back["vh"].shape == (3, grid.height, grid.width)


def test_partial_coverage_is_nan_and_reported(tmp_path, area) -> None:
    grid = area_grid(BBOX, 10)
    half = slice(0, grid.height // 2)
    items = [
        _item(tmp_path, "a2", "2017-09-04T22:36:37Z", "ascending", 135, grid, slice(None), 0.2),
        _item(tmp_path, "a3", "2017-09-16T22:36:37Z", "ascending", 135, grid, slice(None), 0.3),
        _item(tmp_path, "p1", "2017-09-22T22:36:37Z", "ascending", 135, grid, half, 0.5),
    ]
    ds = download_sentinel1(area, tmp_path / "s1.zarr", _write(tmp_path, items))
    assert 0.45 < float(ds["coverage"][2]) < 0.55
    assert np.isnan(ds["vv"].values[2, -5:]).all() and np.isfinite(ds["vv"].values[2, 5:10]).all()


def test_faults(tmp_path, area) -> None:
    grid = area_grid(BBOX, 10)
    one = [_item(tmp_path, "a3", "2017-09-16T22:36:37Z", "ascending", 135, grid, slice(None), 0.3)]
    with pytest.raises(InputError, match="found 1 acquisition\\(s\\) before and 0 after"):
        download_sentinel1(area, tmp_path / "x.zarr", _write(tmp_path, one))
    assert not (tmp_path / "x.zarr").exists()  # no partial output
    novh = [_item(tmp_path, "b", "2017-09-16T22:36:37Z", "ascending", 135, grid, slice(None), 0.3, assets=("vv",))]
    with pytest.raises(InputError, match="has no asset vh"):
        download_sentinel1(area, tmp_path / "x.zarr", _write(tmp_path, novh))
    with pytest.raises(InputError, match="no Sentinel-1 items"):
        download_sentinel1(area, tmp_path / "x.zarr", _write(tmp_path, []))


def test_both_directions_keep_the_other_directions_orbit_too(tmp_path, area, caplog) -> None:
    """Known answer: with sentinel1.both_directions the models' orbit (ascending/135) gives its 2 + 1
    steps and the other direction's orbit with most days (descending/62, not 99) 2 + 1 more, all
    sorted by time; only descending/99 is filtered out; the `orbit` attribute lists the models'
    orbit first. Too few steps on the other direction fail naming it."""
    grid = area_grid(BBOX, 10)
    full = slice(None)
    ascending = [
        _item(tmp_path, "a1", "2017-08-23T22:36:37Z", "ascending", 135, grid, full, 0.1),
        _item(tmp_path, "a2", "2017-09-04T22:36:37Z", "ascending", 135, grid, full, 0.2),
        _item(tmp_path, "a3", "2017-09-16T22:36:37Z", "ascending", 135, grid, full, 0.3),
        _item(tmp_path, "p1", "2017-09-22T22:36:37Z", "ascending", 135, grid, full, 0.5),
        _item(tmp_path, "p2", "2017-10-10T22:36:38Z", "ascending", 135, grid, full, 0.6),
    ]
    descending = [
        _item(tmp_path, "d1", "2017-09-06T10:00:00Z", "descending", 62, grid, full, 2.0),
        _item(tmp_path, "d2", "2017-09-18T10:00:00Z", "descending", 62, grid, full, 3.0),
        _item(tmp_path, "d9", "2017-09-10T10:00:00Z", "descending", 99, grid, full, 9.0),
        _item(tmp_path, "d3", "2017-09-24T10:00:00Z", "descending", 62, grid, full, 4.0),
    ]
    area["sentinel1"]["both_directions"] = True
    with caplog.at_level("INFO", logger="landslide_sar.sentinel1"):
        ds = download_sentinel1(area, tmp_path / "s1.zarr", _write(tmp_path, ascending + descending))
    assert [str(t)[:10] for t in ds["timestep"].values] == [
        "2017-09-04",
        "2017-09-06",
        "2017-09-16",
        "2017-09-18",
        "2017-09-22",
        "2017-09-24",
    ]
    assert list(ds["sat:orbit_state"].values) == ["ascending", "descending"] * 3
    assert ds["sat:relative_orbit"].values.tolist() == [135, 62] * 3
    assert list(ds["side"].values) == ["pre"] * 4 + ["post"] * 2
    np.testing.assert_allclose(
        ds["vv"].isel(y=slice(1, -1), x=slice(1, -1)).mean(("y", "x")).values, [0.2, 2.0, 0.3, 3.0, 0.5, 4.0], rtol=1e-5
    )
    assert ds.attrs["orbit"] == "ascending/135, descending/62"
    assert ds.attrs["items"].split() == ["a2", "d1", "a3", "d2", "p1", "d3"]
    filtered = [r.getMessage() for r in caplog.records if r.getMessage().startswith("filtered out")]
    assert filtered == ["filtered out 1 item(s) of orbit descending/99"]

    # the other direction short of steps after the event: the error names it, and counts only 99 out
    few = ascending + descending[:3]
    with pytest.raises(InputError) as err:
        download_sentinel1(area, tmp_path / "s1b.zarr", _write(tmp_path, few))
    line = str(err.value)
    assert "found 2 acquisition(s) before and 0 after 2017-09-20 on orbit descending/62 (the other direction" in line
    assert "filtered out: 1 on orbit descending/99)" in line and "expected 2 before and 1 after" in line
    assert not (tmp_path / "s1b.zarr").exists()
    # no item of the other direction at all
    with pytest.raises(InputError, match="both_directions.*no items on orbit descending/any relative orbit"):
        download_sentinel1(area, tmp_path / "s1c.zarr", _write(tmp_path, ascending))
