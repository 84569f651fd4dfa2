"""Known answers for the radar statistics: gamma speckle of L looks gives ENL ≈ L, a per-date
field correlated over 30 and 120 m gives back its log-ratio sd at each pixel size, block averages
of known arrays, the offset of a stack shifted by a known dB, the contrast of a known truth; and
on the real OPERA crops, structure and plausible ranges (not a calibration band)."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from conftest import realdata

from landslide_sar import radar_stats as rs
from landslide_sar.errors import InputError

DAYS = np.array(["2020-01-01", "2020-01-13", "2020-01-25"], "datetime64[D]")


def _blocky(rng: np.random.Generator, n: int, block: int, sd_db: float) -> np.ndarray:
    """A (n, n) field in dB, constant over block × block pixels, N(0, sd_db) per block."""
    return np.kron(rng.normal(0.0, sd_db, (n // block, n // block)), np.ones((block, block)))


def test_block_average_of_known_arrays() -> None:
    a = np.arange(16, dtype=float).reshape(4, 4)
    assert np.array_equal(rs.block_average(a, 2), [[2.5, 4.5], [10.5, 12.5]])
    assert np.array_equal(rs.block_average(a, 1), a)
    assert rs.block_average(np.ones((2, 5, 7)), 2).shape == (2, 2, 3)  # the edge is dropped
    a[0, 0] = np.nan
    b = rs.block_average(a, 2)
    assert np.isnan(b[0, 0]) and np.isfinite(b[1:, :]).all() and np.isfinite(b[0, 1])
    mask = np.zeros((4, 4), bool)
    mask[0, :3] = True
    assert np.array_equal(rs.block_fraction(mask, 2), [[0.5, 0.25], [0, 0]])
    assert rs.scale_factor(10, 30) == 3 and rs.scale_factor(30, 30) == 1
    assert rs.scale_factor(30, 45) is None and rs.scale_factor(30, 10) is None


@pytest.mark.parametrize("looks", [1, 4, 10])
def test_gamma_speckle_of_l_looks_gives_enl_l(looks: int) -> None:
    rng = np.random.default_rng(looks)
    power = 0.1 * rng.gamma(looks, 1.0 / looks, (700, 700))
    assert rs.enl(power, window=15) == pytest.approx(looks, rel=0.05)
    stack = rs.Stack(DAYS[:2], 10.0, [rs.Tile({"vv": np.stack([power, power[::-1]])})])
    assert rs.looks(stack, window=15)["vv"] == pytest.approx(looks, rel=0.05)


def test_correlated_field_gives_back_its_sd_at_each_pixel_size() -> None:
    """Per date: a field constant over 120 m (sd a) plus one constant over 30 m (sd b), in dB, no
    speckle; the log-ratio of two dates at s m then has var 2·(a² + b² · min(1, (30/s)²))."""
    rng = np.random.default_rng(0)
    n, a, b = 1200, 0.3, 0.4
    db = np.stack([_blocky(rng, n, 12, a) + _blocky(rng, n, 3, b) - 10.0 for _ in DAYS])
    power = 10 ** (db / 10)
    stack = rs.Stack(DAYS, 10.0, [rs.Tile({"vv": power, "vh": power / 10})])
    rows = rs.pair_statistics(stack)
    head = rs.headline(rows)  # the 12-day pairs
    for size in (10.0, 30.0, 60.0, 120.0):
        expected = np.sqrt(2 * (a**2 + b**2 * min(1.0, (30.0 / size) ** 2)))
        for pol in ("vv", "vh"):
            median, low, high, n_pairs = head[(pol, size)]
            assert n_pairs == 2
            assert median == pytest.approx(expected, rel=0.04), (pol, size)
    lags = rs.by_lag(rows, 120.0)
    assert set(lags) == {("vv", "12 d"), ("vv", "24 d"), ("vh", "12 d"), ("vh", "24 d")}
    assert lags[("vv", "24 d")][1] == 1


def test_offsets_of_a_stack_shifted_by_a_known_db() -> None:
    rng = np.random.default_rng(1)
    base = rng.gamma(5, 0.02, (90, 90))
    shifts = np.array([0.0, 0.7, -0.4])  # dB of each date
    power = np.stack([base * 10 ** (s / 10) for s in shifts])
    stack = rs.Stack(DAYS, 30.0, [rs.Tile({"vv": power})])
    offsets = rs.consecutive_offsets(stack)
    assert [r.offset_db for r in offsets] == pytest.approx([0.7, -1.1], abs=1e-9)
    assert [r.sd_db for r in offsets] == pytest.approx([0.0, 0.0], abs=1e-9)
    assert rs.rms([0.7, -1.1, np.nan]) == pytest.approx(np.sqrt((0.49 + 1.21) / 2))
    rows = rs.pair_statistics(stack, sizes_m=(60.0,))
    assert {(r.first, r.second, r.size_m): round(r.offset_db, 9) for r in rows} == {
        ("2020-01-01", "2020-01-13", 30.0): 0.7,
        ("2020-01-13", "2020-01-25", 30.0): -1.1,
        ("2020-01-01", "2020-01-25", 30.0): -0.4,
        ("2020-01-01", "2020-01-13", 60.0): 0.7,
        ("2020-01-13", "2020-01-25", 60.0): -1.1,
        ("2020-01-01", "2020-01-25", 60.0): -0.4,
    }


def test_a_truth_with_a_known_contrast_gives_back_its_signal() -> None:
    """Landslides: squares of 120 m (aligned to every block) whose VH drops 3 dB after the event;
    the rest gets speckle only. The stable sd comes from pre-event pairs outside the squares."""
    rng = np.random.default_rng(2)
    n = 480
    truth = np.zeros((n, n), bool)
    for y0, x0 in [(0, 0), (120, 240), (360, 120), (240, 360)]:
        truth[y0 : y0 + 12, x0 : x0 + 12] = True
    times = np.array(["2020-01-01", "2020-01-13", "2020-01-25", "2020-02-06"], "datetime64[D]")
    pre = np.array([True, True, False, False])
    power = 0.05 * rng.gamma(4, 0.25, (4, n, n))
    power[2:, truth] *= 10 ** (-3 / 10)
    power[:, 5, 5] = np.nan  # no data inside a landslide is left out
    stack = rs.Stack(times, 10.0, [rs.Tile({"vh": power}, truth)], pre)
    head = rs.headline(rs.pair_statistics(stack))
    assert {r.first for r in rs.pair_statistics(stack)} == {"2020-01-01"}  # pre-event pairs only
    noise = {k: v[0] for k, v in head.items()}
    signal = {s.size_m: s for s in rs.landslide_signal(stack, noise)}
    assert set(signal) == {10.0, 30.0, 60.0, 120.0}
    for size, s in signal.items():
        assert s.signal_db == pytest.approx(-3.0, abs=0.25 if size == 10 else 0.1), size
        assert s.share == pytest.approx(1.0)
        assert s.snr == pytest.approx(abs(s.signal_db) / noise[("vh", size)])
    assert signal[10.0].n_inside == 4 * 144 - 1
    assert signal[120.0].n_inside == 3  # a coarse pixel with no data in it is left out
    assert signal[120.0].snr > 5 * signal[10.0].snr  # averaging lowers the noise, not the contrast
    with pytest.raises(InputError):
        rs.landslide_signal(rs.Stack(times, 10.0, [rs.Tile({"vh": power})], pre), noise)


def test_levels_and_a_cube_as_a_stack() -> None:
    rng = np.random.default_rng(3)
    vv = 10 ** (-8 / 10) * rng.gamma(20, 1 / 20, (4, 60, 60))
    vh = vv * 10 ** (-6 / 10)
    labels = np.zeros((60, 60), np.uint16)
    labels[:6, :6] = 1
    cube = xr.Dataset(
        {"vv": (("timestep", "y", "x"), vv), "vh": (("timestep", "y", "x"), vh), "landslides": (("y", "x"), labels)},
        coords={
            "timestep": np.array(["2020-01-01", "2020-01-13", "2020-01-25", "2020-02-06"], "datetime64[ns]"),
            "x": 500000 + 10.0 * np.arange(60),
            "y": 4000000 - 10.0 * np.arange(60),
            "side": ("timestep", ["pre", "pre", "post", "post"]),
        },
    )
    stack = rs.cube_stack(cube)
    assert stack.pixel_m == 10.0 and stack.pre.tolist() == [True, True, False, False]
    assert stack.tiles[0].truth is not None and stack.tiles[0].truth.sum() == 36
    assert rs.cube_stack(cube, truth=False).tiles[0].truth is None
    lv = rs.levels(stack)
    assert lv["vv"] == pytest.approx(-8, abs=0.2) and lv["vh"] == pytest.approx(-14, abs=0.2)
    assert lv["vh/vv"] == pytest.approx(-6, abs=1e-5)


def test_the_real_crops_give_plausible_statistics() -> None:
    """The 7 OPERA RTC-S1 crops of stable California ground: every burst and date read, the sd
    falls with pixel size and lies in a plausible range (1–4 dB at 30 m), VH darker than VV."""
    stack = rs.read_rtc_stack(realdata("opera_rtc_10SGD"))
    assert len(stack.tiles) == 7 and len(stack.times) == 21 and stack.pixel_m == 30.0
    assert stack.pols == ["vv", "vh"] and stack.pre.all()
    assert all(t.power["vv"].shape == (21, 100, 100) for t in stack.tiles)
    rows = rs.pair_statistics(stack, sizes_m=(120.0,))
    assert len(rows) == 2 * 2 * 7 * 21 * 20 // 2  # pols × sizes × bursts × pairs
    head = rs.headline(rows)
    for pol in ("vv", "vh"):
        assert 1.0 < head[(pol, 30.0)][0] < 4.0
        assert 0.3 < head[(pol, 120.0)][0] < head[(pol, 30.0)][0]
    lags = rs.by_lag(rows, 30.0)
    assert {"6 d", "12 d", "24 d", "36 d", "~1 yr"} <= {lab for _, lab in lags}
    lv = rs.levels(stack)
    assert -20 < lv["vh"] < lv["vv"] < 0 and lv["vh/vv"] < 0
    offsets = rs.consecutive_offsets(stack)
    assert all(r.lag_days <= 60 for r in offsets) and 0.1 < rs.rms(r.offset_db for r in offsets) < 3


def test_sd_by_level_bins_pixels_by_their_level():
    """Two halves of known level and known noise: the bright half (-10 dB) with a log-ratio of sd
    0.5 dB, the dark half (-20 dB) with 2 dB; each lands in its 3 dB bin with its sd."""
    rng = np.random.default_rng(3)
    shape = (2, 60, 120)
    level = np.where(np.arange(120) < 60, -10.5, -20.5)[None, None, :] * np.ones(shape)
    sd = np.where(np.arange(120) < 60, 0.5, 2.0)
    noise = rng.standard_normal((60, 120)) * sd / 2.0  # +-half on each date: the ratio has sd `sd`
    db = level.copy()
    db[0] -= noise
    db[1] += noise
    stack = rs.Stack(np.array(["2020-01-01", "2020-01-13"], "datetime64[D]"), 30.0, [rs.Tile({"vh": 10 ** (db / 10)})])
    got = rs.sd_by_level(stack, "vh", size_m=30.0, min_pixels=10)
    assert set(got) == {-13.0, -22.0}  # -10.5 dB lies in -13 … -10, -20.5 in -22 … -19 (noise stays inside)
    assert got[-13.0][0] == pytest.approx(0.5, rel=0.05)
    assert got[-22.0][0] == pytest.approx(2.0, rel=0.05)
