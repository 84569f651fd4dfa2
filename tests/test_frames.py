"""Overlapping frames of one acquisition: one documented rule (frames by time, then item id; the
first valid value wins), and the size and disagreement of the overlap in the log: an info line,
a warning when VV differs by more than frames cut from one acquisition may (stac.OVERLAP_WARN_DB).
The frames are COGs written here, read by stackstac as the download does."""

from __future__ import annotations

import logging

import dask
import numpy as np
import pystac
import pytest
import rasterio
from test_stac_server import BBOX, NODATA, _footprint, _s1_item

from landslide_sar.download import Network
from landslide_sar.grid import area_grid
from landslide_sar.io import write_cog
from landslide_sar.stac import OVERLAP_WARN_DB, stack_on_grid


def _frames(folder, ratio: float, north_time: str, south_time: str) -> list[pystac.Item]:
    """Two frames of 2017-09-22: the north 60 % and the south 60 % of a grid wider than the area
    (20 % of rows in both); the south frame's values are `ratio` times the north's. Ids in the
    opposite order of time, so that the order by time is what decides."""
    wide = area_grid((BBOX[0] - 0.003, BBOX[1] - 0.003, BBOX[2] + 0.003, BBOX[3] + 0.003), 10)
    north = _s1_item(folder, "S1A_b_north", "s1", north_time, "ascending", 135, _footprint(wide, "north"), ("vv", "vh"))
    south = _s1_item(folder, "S1A_a_south", "s1", south_time, "ascending", 135, _footprint(wide, "south"), ("vv", "vh"))
    sub = _footprint(wide, "south")
    for asset in south["assets"].values():
        with rasterio.open(asset["href"]) as src:
            data = src.read(1)
        write_cog(asset["href"], np.where(data == NODATA, NODATA, data * ratio).astype("float32"), sub, nodata=NODATA)
    return [pystac.Item.from_dict(south), pystac.Item.from_dict(north)]  # not in mosaic order


def _read(items: list[pystac.Item]) -> tuple[np.ndarray, object]:
    grid = area_grid(BBOX, 10)
    mosaic = stack_on_grid(items, ["vv", "vh"], grid, 1024, Network(0, 0.1, 10))
    return dask.compute(mosaic.sel(band="vv").data, mosaic.attrs["overlap"])


@pytest.mark.parametrize("ratio", [2.0, 1.0], ids=["3-dB-apart", "agreeing"])
def test_overlapping_frames_earlier_wins_and_the_overlap_is_logged(tmp_path, caplog, ratio) -> None:
    items = _frames(tmp_path, ratio, "2017-09-22T22:35:44Z", "2017-09-22T22:36:09Z")
    with caplog.at_level(logging.INFO, logger="landslide_sar.stac"):
        vv, overlap = _read(items)
    north_value = 0.001 * (9 * 31 + 22)  # test_stac_server.vv_value of 2017-09-22, ascending
    rows = np.nanmedian(vv, axis=1)
    both = np.abs(rows / north_value - 1) < 0.01
    assert np.isfinite(vv).all()
    # the north frame (earlier) covers the top rows and wins where both frames have data; below
    # its edge the south frame's values (ratio x) fill in
    if ratio != 1.0:
        np.testing.assert_allclose(rows[both], north_value, rtol=2e-3)
        np.testing.assert_allclose(rows[~both], ratio * north_value, rtol=2e-3)
        assert 0.4 < both.mean() < 0.8
    assert overlap.frames == ("S1A_b_north", "S1A_a_south") and overlap.asset == "vv"
    assert 0.1 < overlap.share < 0.35 and overlap.pixels == round(overlap.share * vv.size)
    expected_db = 10 * np.log10(ratio) if ratio != 1.0 else 0.0
    assert abs(overlap.median_db - expected_db) < 0.02, overlap
    lines = [r for r in caplog.records if "overlap on" in r.getMessage()]
    assert len(lines) == 1, caplog.text
    line = lines[0].getMessage()
    assert line.startswith(
        f"acquisition 2017-09-22: frames ['S1A_b_north', 'S1A_a_south'] overlap on {overlap.pixels} px "
        f"({100 * overlap.share:.1f} % of the area); vv differs there by median |10·log10 ratio| "
        f"{overlap.median_db:.2f} dB; the first frame's value is used there"
    ), line
    if ratio != 1.0:
        assert lines[0].levelno == logging.WARNING and f"more than the {OVERLAP_WARN_DB:g} dB" in line
    else:
        assert lines[0].levelno == logging.INFO and "more than" not in line


def test_frames_at_the_same_time_are_ordered_by_item_id(tmp_path) -> None:
    """Same time: the smaller item id ('S1A_a_south') is first, whatever the order of the items."""
    items = _frames(tmp_path, 2.0, "2017-09-22T22:36:09Z", "2017-09-22T22:36:09Z")
    for order in (items, items[::-1]):
        vv, overlap = _read(order)
        assert overlap.frames == ("S1A_a_south", "S1A_b_north")
        rows = np.nanmedian(vv, axis=1) / (0.001 * (9 * 31 + 22))
        south_rows, north_rows = np.abs(rows - 2) < 0.02, np.abs(rows - 1) < 0.01
        # the south frame wins its whole footprint; the north frame shows only north of it
        assert (south_rows | north_rows).all() and 0.5 < south_rows.mean() < 0.8 and north_rows[0], rows


def test_one_frame_has_no_overlap(tmp_path) -> None:
    items = _frames(tmp_path, 1.0, "2017-09-22T22:35:44Z", "2017-09-22T22:36:09Z")
    mosaic = stack_on_grid(items[:1], ["vv", "vh"], area_grid(BBOX, 10), 1024, Network(0, 0.1, 10))
    assert "overlap" not in mosaic.attrs


def test_the_overlap_comes_back_in_its_place_next_to_a_delayed_and_an_array(tmp_path) -> None:
    """As download_sentinel1 computes it: dask.compute(zarr write (Delayed), coverage (array),
    overlap). dask 2026.8 swaps the last two results when the third is a Delayed."""
    from landslide_sar.stac import Overlap

    items = _frames(tmp_path, 1.0, "2017-09-22T22:35:44Z", "2017-09-22T22:36:09Z")
    mosaic = stack_on_grid(items, ["vv", "vh"], area_grid(BBOX, 10), 1024, Network(0, 0.1, 10))
    write = dask.delayed(lambda: "written")()
    done, valid, overlap = dask.compute(write, np.isfinite(mosaic.data).mean(), mosaic.attrs["overlap"])
    assert done == "written" and 0.99 < valid <= 1.0 and isinstance(overlap, Overlap)
