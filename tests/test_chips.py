"""Chips: channel order, density classes at the edges, split invariants, and chip counts on a
tiny hand-made cube."""

from __future__ import annotations

from datetime import UTC

import numpy as np
import pandas as pd
import pytest
import rioxarray  # noqa: F401
import xarray as xr
from affine import Affine

from landslide_sar.chips import chip_channels, density_class, sar_timesteps
from landslide_sar.density.chips import make_chips
from landslide_sar.density.splits import assign_blocked_splits, assign_splits
from landslide_sar.errors import InputError


def test_chip_channels_follow_the_paper() -> None:
    names = chip_channels(3, 3)
    assert len(names) == 17
    assert names[:4] == ["dem", "dem_slope_radians", "dem_curvature", "dem_aspect"]
    assert names[4:6] == ["vv_pre1", "vh_pre1"] and names[10:12] == ["vv_post1", "vh_post1"]
    assert names[-1] == "landslides"


def test_density_class_edges() -> None:
    d = np.array([0.0, 0.01, 25.0, 25.0001, 300.0])
    assert density_class(d, (0, 25)).tolist() == [0, 1, 1, 2, 2]


@pytest.mark.parametrize("n", [10, 101, 1000])
def test_split_invariants(n: int) -> None:
    valid = np.ones(n, bool)
    valid[::17] = False
    half, subset = assign_splits(valid, seed=3, train_fraction=0.4, val_fraction=0.1)
    n_valid = valid.sum()
    assert set(half[~valid]) == {-1} and set(subset[~valid]) == {"excluded"}
    assert abs((half == 0).sum() - (half == 1).sum()) <= 1  # two halves, disjoint by construction
    for k in (0, 1):
        assert abs((subset[half == k] == "train").sum() - 0.4 * n_valid) <= 1
        assert abs((subset[half == k] == "val").sum() - 0.1 * n_valid) <= 1
    again = assign_splits(valid, seed=3, train_fraction=0.4, val_fraction=0.1)
    assert np.array_equal(half, again[0]) and np.array_equal(subset, again[1])  # seeded
    other = assign_splits(valid, seed=4, train_fraction=0.4, val_fraction=0.1)
    assert not np.array_equal(half, other[0]) or n < 20


def test_split_fractions_must_make_halves() -> None:
    with pytest.raises(InputError, match="expected 0.5"):
        assign_splits(np.ones(10, bool), 0, 0.5, 0.1)


def test_sar_timesteps_picks_closest_before_and_first_after() -> None:
    t = pd.to_datetime(["2017-08-23", "2017-09-04", "2017-09-16", "2017-09-22", "2017-10-10", "2017-10-22"]).values
    from datetime import datetime

    event = datetime(2017, 9, 20, tzinfo=UTC)
    assert sar_timesteps(t, event, 2, 1) == ([1, 2], [3])
    with pytest.raises(InputError, match="expected at least 4 before"):
        sar_timesteps(t, event, 4, 1)


def test_make_chips_on_a_hand_made_cube(tmp_path) -> None:
    """A 70 x 100 px cube → 2 x 3 chips of 32 px; known heads per chip; a NaN block excludes one."""
    ny, nx, res = 70, 100, 10.0
    x = 500000 + (np.arange(nx) + 0.5) * res
    y = 2000000 - (np.arange(ny) + 0.5) * res
    times = pd.to_datetime(["2017-09-04", "2017-09-16", "2017-09-22"])
    vv = np.full((3, ny, nx), 0.1, "float32")
    vv[2, 40:64, 64:96] = np.nan  # chip (1, 2) mostly without SAR after the event
    count = np.zeros((ny, nx), "uint16")
    count[5, 5] = 3  # chip 0: 3 landslides
    count[40, 40] = 1  # chip 4: 1
    count[65, 99] = 7  # outside the chipped area (row 65 >= 64, col 99 >= 96)
    cube = (
        xr.Dataset(
            {
                "vv": (("timestep", "y", "x"), vv),
                "vh": (("timestep", "y", "x"), vv / 10),
                "dem": (("y", "x"), np.ones((ny, nx), "float32")),
                "dem_slope_radians": (("y", "x"), np.zeros((ny, nx), "float32")),
                "dem_aspect": (("y", "x"), np.zeros((ny, nx), "float32")),
                "dem_curvature": (("y", "x"), np.zeros((ny, nx), "float32")),
                "landslides": (("y", "x"), (count > 0).astype("uint16")),
                "landslide_count": (("y", "x"), count),
            },
            coords={"timestep": times.values, "x": x, "y": y},
        )
        .rio.write_crs("EPSG:32619")
        .rio.write_transform(Affine(res, 0, 500000, 0, -res, 2000000))
    )
    cube.to_zarr(tmp_path / "cube.zarr")
    table = make_chips(
        tmp_path / "cube.zarr",
        tmp_path / "chips.zarr",
        tmp_path / "chips.gpkg",
        size=32,
        event_time="2017-09-20T00:00:00Z",
        n_pre=2,
        n_post=1,
        min_valid_fraction=0.9,
        class_edges=(0, 25),
        split_seed=0,
        train_fraction=0.4,
        val_fraction=0.1,
    )
    assert table["landslide_count"].tolist() == [3, 0, 0, 0, 1, 0]
    # 32 px at 10 m = 0.1024 km²: 3 heads = 29.3 /km² (class 2), 1 head = 9.8 /km² (class 1)
    assert table["density_class"].tolist() == [2, 0, 0, 0, 1, 0]
    assert table.loc[5, "subset"] == "excluded" and table.loc[5, "valid_fraction"] == pytest.approx(1 - 24 / 32)
    chips = xr.open_zarr(tmp_path / "chips.zarr")["chips"]
    assert chips.shape == (6, 4 + 2 * 3 + 1, 32, 32)
    assert float(chips.sel(chip=0, channel="landslides").sum()) == 1.0  # label is 0/1, count is 3
    assert table.geometry.iloc[1].bounds == (500320.0, 2000000.0 - 320.0, 500640.0, 2000000.0)


def _grid(n_rows: int = 12, n_cols: int = 12, seed: int = 0) -> tuple[np.ndarray, ...]:
    rows, cols = np.divmod(np.arange(n_rows * n_cols), n_cols)
    rng = np.random.default_rng(seed)
    return rows, cols, rng.integers(0, 3, rows.size), rng.random(rows.size) > 0.1


@pytest.mark.parametrize("seed", [0, 42])
def test_blocked_split_keeps_whole_blocks_and_no_train_neighbours_across_halves(seed: int) -> None:
    rows, cols, classes, valid = _grid(seed=seed)
    half, subset = assign_blocked_splits(rows, cols, classes, valid, 1.28, 3.5, seed, 0.4, 0.1)
    # invalid chips out; every valid chip in exactly one half and one subset
    assert (half[~valid] == -1).all() and (subset[~valid] == "excluded").all()
    assert set(half[valid]) == {0, 1} and set(subset[valid]) <= {"train", "val"}
    # 3.5 km over 1.28 km chips: blocks of 3 x 3 chips, none split between the halves
    block = (rows // 3) * 4 + cols // 3
    for b in np.unique(block[valid]):
        assert len(set(half[valid & (block == b)])) == 1
    # no train chip touches (8-neighbourhood) a train chip of the other half
    train = {(r, c): h for r, c, h, s in zip(rows, cols, half, subset) if s == "train"}
    for (r, c), h in train.items():
        for dr in (-1, 0, 1):
            for dc in (-1, 0, 1):
                assert train.get((r + dr, c + dc), h) == h
    # comparable halves: class counts within 20 % of each other, most chips still train
    counts = [np.bincount(classes[half == h], minlength=3) for h in (0, 1)]
    assert (np.abs(counts[0] - counts[1]) <= 0.2 * np.maximum(counts[0], counts[1]) + 2).all()
    assert (subset == "train").sum() > 0.5 * valid.sum()
    # seeded: same seed, same split; another seed, another one
    again = assign_blocked_splits(rows, cols, classes, valid, 1.28, 3.5, seed, 0.4, 0.1)
    assert np.array_equal(half, again[0]) and np.array_equal(subset, again[1])
    other = assign_blocked_splits(rows, cols, classes, valid, 1.28, 3.5, seed + 1, 0.4, 0.1)
    assert not np.array_equal(half, other[0])


def test_blocked_split_of_one_chip_blocks_is_a_random_split_by_chip_and_bad_sizes_fail() -> None:
    rows, cols, classes, valid = _grid(4, 4)
    half, _ = assign_blocked_splits(rows, cols, classes, valid, 1.28, 0.5, 0, 0.4, 0.1)  # 1-chip blocks
    assert abs(int((half == 0).sum()) - int((half == 1).sum())) <= 2
    with pytest.raises(InputError, match="block_km"):
        assign_blocked_splits(rows, cols, classes, valid, 1.28, 0.0, 0, 0.4, 0.1)


def test_sar_timesteps_keep_the_models_direction_of_a_two_direction_cube() -> None:
    """Known answers: steps interleaved a/d; the models' direction (from the cube's `orbit` or
    `orbit_state` attribute) picks its own steps only, as indices into all the steps."""
    from datetime import datetime

    from landslide_sar.chips import model_direction

    t = pd.to_datetime(["2017-09-04", "2017-09-06", "2017-09-16", "2017-09-18", "2017-09-22", "2017-09-24"]).values
    states = np.array(["a", "d"] * 3)
    event = datetime(2017, 9, 20, tzinfo=UTC)
    assert sar_timesteps(t, event, 2, 1, states, "ascending") == ([0, 2], [4])
    assert sar_timesteps(t, event, 2, 1, states, "d") == ([1, 3], [5])
    assert sar_timesteps(t, event, 2, 1, np.array(["descending"] * 6), None) == ([2, 3], [4])  # one direction
    with pytest.raises(InputError, match="2 time step\\(s\\) before and 0 after 2017-09-20 on orbit direction desc"):
        sar_timesteps(t[:4], event, 2, 1, states[:4], "d")
    with pytest.raises(InputError, match="orbit directions \\['ascending', 'descending'\\]"):
        sar_timesteps(t, event, 2, 1, states, None)
    assert model_direction({"orbit": "ascending/135, descending/62"}) == "ascending"
    assert model_direction({"orbit": "descending/62"}) == "descending"
    assert model_direction({"orbit_state": "descending"}) == "descending"
    assert model_direction({"source": "x"}) is None


def test_chips_of_a_two_direction_cube_use_the_models_direction_only(tmp_path) -> None:
    """A cube as download_sentinel1 writes it with sentinel1.both_directions (ascending the
    models' direction, listed first in `orbit`): its chips hold the ascending steps' values
    (0.1, 0.2 before, 0.3 after the event), never the descending ones (9.0)."""
    ny = nx = 64
    res = 10.0
    times = pd.to_datetime(["2017-09-04", "2017-09-06", "2017-09-16", "2017-09-18", "2017-09-22", "2017-09-24"])
    values = [0.1, 9.0, 0.2, 9.0, 0.3, 9.0]
    vv = np.stack([np.full((ny, nx), v, "float32") for v in values])
    count = np.zeros((ny, nx), "uint16")
    count[5, 5] = 1
    cube = (
        xr.Dataset(
            {
                "vv": (("timestep", "y", "x"), vv),
                "vh": (("timestep", "y", "x"), vv / 10),
                "dem": (("y", "x"), np.ones((ny, nx), "float32")),
                "dem_slope_radians": (("y", "x"), np.zeros((ny, nx), "float32")),
                "dem_aspect": (("y", "x"), np.zeros((ny, nx), "float32")),
                "dem_curvature": (("y", "x"), np.zeros((ny, nx), "float32")),
                "landslides": (("y", "x"), (count > 0).astype("uint16")),
                "landslide_count": (("y", "x"), count),
            },
            coords={
                "timestep": times.values,
                "x": 500000 + (np.arange(nx) + 0.5) * res,
                "y": 2000000 - (np.arange(ny) + 0.5) * res,
                "sat:orbit_state": ("timestep", np.array(["a", "d"] * 3)),
            },
            attrs={"orbit": "ascending/135, descending/62", "event_time": "2017-09-20T00:00:00+00:00"},
        )
        .rio.write_crs("EPSG:32619")
        .rio.write_transform(Affine(res, 0, 500000, 0, -res, 2000000))
    )
    cube.to_zarr(tmp_path / "cube.zarr")
    make_chips(
        tmp_path / "cube.zarr",
        tmp_path / "chips.zarr",
        tmp_path / "chips.gpkg",
        size=32,
        event_time="2017-09-20T00:00:00Z",
        n_pre=2,
        n_post=1,
        min_valid_fraction=0.9,
        class_edges=(0, 25),
        split_seed=0,
        train_fraction=0.25,
        val_fraction=0.25,
        min_train_chips=0,
        min_val_chips=0,
    )
    chips = xr.open_zarr(tmp_path / "chips.zarr")["chips"]
    got = [float(chips.sel(channel=c).mean()) for c in ("vv_pre1", "vv_pre2", "vv_post1", "vh_post1")]
    np.testing.assert_allclose(got, [0.1, 0.2, 0.3, 0.03], rtol=1e-6)
