"""The twin's date-to-date noise beyond speckle (ground change, date offsets, noise residual, VH
looks) with known answers, and its calibration against real OPERA RTC-S1 (../shared/realdata)."""

from __future__ import annotations

import copy
import dataclasses
import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import realdata

from landslide_sar import radar_stats as rs
from landslide_sar import synthetic as syn
from landslide_sar.config import validate_config
from landslide_sar.errors import InputError
from landslide_sar.synthetic.backscatter import ground_change_db
from landslide_sar.synthetic.stable import stable_stack

ROOT = Path(__file__).resolve().parents[1]
#: A 6 x 6.6 km part of the default area: the statistics are those of the whole (stationary
#: fields of tens of metres), at a sixth of the cost.
PART_BBOX = [-66.72, 18.24, -66.66, 18.30]
#: The calibration band of the twin's stable-ground sd against the real California median.
BAND = (0.85, 1.15)


def default_area(bbox: list[float] | None = None, **sar) -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(config)
    area = copy.deepcopy(config["areas"]["embedded"])
    if bbox:
        area["bbox"] = bbox
    area["synthetic"]["sar"].update(sar)
    return area


#: Everything but the term under test off: no speckle, texture, terrain term, mask, noise floor.
BARE = {
    "looks": 1e7,
    "looks_vh": 1e7,
    "texture_db": 0.0,
    "terrain_exponent": 0.0,
    "nesz_db": -60.0,
    "mask_layover_shadow": 0,
    "date_sd_db": 0.0,
    "date_vh_sd_db": 0.0,
    "change_fast_db": 0.0,
    "change_slow_db": 0.0,
    "noise_residual": 0.0,
}
SMALL = [-66.70, 18.25, -66.68, 18.27]  # ~2 x 2 km


def db_change(stack: rs.Stack, pol: str, i: int, j: int) -> np.ndarray:
    a = stack.tiles[0].power[pol]
    return 10 * np.log10(a[j] / a[i])


def test_ground_change_has_its_amplitude_and_grows_with_lag():
    """Fast change alone: dates two knots apart differ by sqrt(2) x the amplitude (independent
    fields), dates a day apart by far less; VH's change is change_vh_factor x VV's, pixel by pixel."""
    area = default_area(SMALL, **{**BARE, "change_fast_db": 1.0, "change_fast_days": 12.0, "change_vh_factor": 0.8})
    st = stable_stack(area, days=(0, 1, 36))
    far = db_change(st, "vv", 0, 2)
    assert far.std() == pytest.approx(math.sqrt(2.0), rel=0.08)
    assert abs(far.mean()) < 0.05  # no offset: the fields are standardised over the area
    near = db_change(st, "vv", 0, 1)
    assert near.std() < 0.2 * far.std()
    np.testing.assert_allclose(db_change(st, "vh", 0, 2), 0.8 * far, atol=0.03)  # 1e7 looks: 0.002 dB


def test_ground_change_is_spatially_correlated_and_does_not_average_away():
    """Averaged over 120 m, independent speckle shrinks ~12x in variance; the ground change of a
    40 m correlation length keeps far more of its variance: it is a signal of the ground."""
    area = default_area(SMALL, **{**BARE, "change_fast_db": 1.0, "change_fast_length_m": 40.0})
    st = stable_stack(area, days=(0, 36))
    a = st.tiles[0].power["vv"]
    coarse = 10 * np.log10(rs.block_average(a[1], 12) / rs.block_average(a[0], 12))
    fine = db_change(st, "vv", 0, 1)
    white = np.random.default_rng(0).standard_normal(fine.shape)
    white_coarse = rs.block_average(white, 12)
    assert coarse.std() / fine.std() > 3 * white_coarse.std() / white.std()


def test_a_days_field_does_not_depend_on_the_other_dates():
    """The change of a day is a function of the day (knots from a fixed epoch): two areas' stacks
    with different other dates give the same field on a shared day."""
    area = default_area(SMALL, **{**BARE, "change_slow_db": 1.0})
    p = syn.check_params(area["synthetic"])
    w = syn.build_world(area, p)
    base = next(a for a in syn.acquisition_plan(area, p) if a.role == "main")
    when = base.datetime - timedelta(days=100)
    first = ground_change_db(w, p, when)
    ground_change_db(w, p, when + timedelta(days=7))
    np.testing.assert_array_equal(ground_change_db(w, p, when), first)
    still = {**area["synthetic"], "sar": {**area["synthetic"]["sar"], **BARE}}
    assert ground_change_db(w, syn.check_params(still), when) is None


def test_noise_residual_makes_dark_surfaces_noisier():
    """With the noise floor's per-date residual, a dark class (water, VH near the floor) changes
    from date to date far more than a bright one (urban); without it neither changes."""
    sar = {**BARE, "nesz_db": -22.0}
    for residual, expect_dark in ((1.3, True), (0.0, False)):
        area = default_area(SMALL, **{**sar, "noise_residual": residual})
        p = syn.check_params(area["synthetic"])
        w = syn.build_world(area, p)
        w.land_cover[:, : w.land_cover.shape[1] // 2] = syn.LAND_COVER_CODES["water"]
        w.land_cover[:, w.land_cover.shape[1] // 2 :] = syn.LAND_COVER_CODES["urban"]
        base = next(a for a in syn.acquisition_plan(area, p) if a.role == "main" and not a.post)
        a1 = dataclasses.replace(base, group="r1")
        a2 = dataclasses.replace(base, group="r2")
        _, vh1 = syn.simulate_acquisition(w, p, a1)
        _, vh2 = syn.simulate_acquisition(w, p, a2)
        ch = 10 * np.log10(vh2 / vh1)
        half = ch.shape[1] // 2
        dark, bright = ch[:, :half].std(), ch[:, half:].std()
        if expect_dark:
            assert dark > 1.0 and dark > 5 * bright
        else:
            assert dark < 0.01 and bright < 0.01  # the 1e7 looks' speckle: 0.002 dB


def test_vh_date_offset_is_its_own():
    """date_vh_sd_db gives VH a scene-wide offset of its own on top of the common one."""
    offsets = []
    for extra in (0.0, 1.0):
        area = default_area(SMALL, **{**BARE, "date_sd_db": 0.5, "date_vh_sd_db": extra})
        st = stable_stack(area, days=tuple(range(0, 480, 12)), before_event_days=500)
        d = [np.median(db_change(st, "vh", 0, k)) - np.median(db_change(st, "vv", 0, k)) for k in range(1, 40)]
        offsets.append(np.std(d))
    assert offsets[0] < 0.01
    assert 0.75 < offsets[1] < 1.25  # 39 N(0, 1) dB offsets less the first date's: sd 1 (+-0.12)


def test_stable_stack_refuses_dates_after_the_event():
    with pytest.raises(InputError, match="before the event"):
        stable_stack(default_area(SMALL), days=(0, 500))


@pytest.fixture(scope="module")
def twin_and_real():
    twin = stable_stack(default_area(PART_BBOX))
    real = rs.read_rtc_stack(realdata("opera_rtc_10SGD"))
    return rs.pair_statistics(twin), rs.pair_statistics(real)


@pytest.mark.parametrize("size", [30.0, 120.0])
@pytest.mark.parametrize("pol", ["vv", "vh"])
def test_twin_is_as_noisy_as_real_radar(twin_and_real, pol, size):
    """The calibration: the twin's stable-ground log-ratio sd of 12-day pairs is within 0.85-1.15
    x the real California median (OPERA RTC-S1, 7 bursts, 21 dates) at 30 and 120 m, and so is
    its sd at about a year; and it grows from 12 days to a year, as real change does."""
    twin_rows, real_rows = twin_and_real
    twin, real = rs.headline(twin_rows)[(pol, size)][0], rs.headline(real_rows)[(pol, size)][0]
    assert BAND[0] <= twin / real <= BAND[1], (pol, size, twin, real)
    twin_yr, real_yr = rs.by_lag(twin_rows, size)[(pol, "~1 yr")][0], rs.by_lag(real_rows, size)[(pol, "~1 yr")][0]
    assert BAND[0] <= twin_yr / real_yr <= BAND[1], (pol, size, twin_yr, real_yr)
    assert twin_yr > 1.03 * twin
