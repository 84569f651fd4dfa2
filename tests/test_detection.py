"""Known-answer tests of landslide_sar.detection: augmentations (noise statistics in log space,
blur kernels, motion-blur orientation, crop-resize alignment), U-Net shapes on odd sizes, AUPRC
on hand-computed cases, the Handwerger baseline's threshold and slope mask, channel building on a
hand-made cube, a tiny learnable run that must beat no-skill, determinism, and one end-to-end
experiment writing its files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
import yaml

from landslide_sar.config import validate_config
from landslide_sar.detection.augment import (
    augment_chip,
    crop_resize,
    gaussian_blur,
    gaussian_kernel1d,
    log_noise,
    motion_blur,
    motion_blur_kernel,
    random_box,
)
from landslide_sar.detection.baseline import percentile_map, slope_masked, vh_change_db
from landslide_sar.detection.data import (
    ChipArrays,
    build_channels,
    detection_chips,
    input_channels,
    select_chips,
    split_train_val_test,
)
from landslide_sar.detection.evaluate import auprc, binary_scores, no_skill, pr_curve, precision_recall_points
from landslide_sar.detection.experiments import Experiment
from landslide_sar.detection.model import ResNetUNet, landslide_probability
from landslide_sar.detection.predict import predict_chips
from landslide_sar.detection.run import CURVE_COLUMNS, METRIC_COLUMNS, Outputs, run_detection_experiment
from landslide_sar.detection.train import HISTORY_COLUMNS, train_detection
from landslide_sar.errors import InputError
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.nn.preprocess import to_db
from landslide_sar.stats import auprc_interval, auprc_samples, chip_weights, paired_auprc_difference

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------- augmentations


def test_log_noise_has_requested_std_and_zero_mean_on_log_channels_only() -> None:
    x = np.full((3, 300, 300), -12.0, dtype=np.float32)
    x[2] = 250.0  # a DEM channel
    out = log_noise(x, 2.0, [True, True, False], np.random.default_rng(0))
    for c in (0, 1):
        d = out[c] - x[c]
        assert abs(d.mean()) < 0.02  # standard error 2 / 300 = 0.0067
        assert d.std() == pytest.approx(2.0, rel=0.01)
    assert np.array_equal(out[2], x[2])
    assert np.array_equal(x[0], np.full((300, 300), -12.0, dtype=np.float32))  # input untouched


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5])
def test_gaussian_kernel_sums_to_one_and_blur_keeps_constant_fields(sigma: float) -> None:
    k = gaussian_kernel1d(sigma)
    assert k.sum() == pytest.approx(1.0, abs=1e-6)
    assert np.allclose(k, k[::-1])
    x = np.full((2, 20, 23), 7.5, dtype=np.float32)
    assert np.allclose(gaussian_blur(x, sigma, [0, 1]), 7.5, atol=1e-5)


def test_gaussian_blur_spreads_an_impulse_with_variance_sigma_squared_on_chosen_channels() -> None:
    x = np.zeros((2, 41, 41), dtype=np.float32)
    x[:, 20, 20] = 1.0
    out = gaussian_blur(x, 2.0, [0])
    assert out[0].sum() == pytest.approx(1.0, abs=1e-5)
    rows = np.arange(41) - 20
    var_y = float((out[0].sum(axis=1) * rows**2).sum())
    assert var_y == pytest.approx(4.0, rel=0.02)
    assert np.array_equal(out[1], x[1])  # channel not selected


def test_motion_blur_kernel_length_orientation_and_sum() -> None:
    h = motion_blur_kernel(5, 0.0)
    assert h.shape == (5, 5) and h.sum() == pytest.approx(1.0)
    assert np.allclose(h[2], 0.2) and np.count_nonzero(h) == 5  # the middle row only
    v = motion_blur_kernel(5, 90.0)
    assert np.allclose(v[:, 2], 0.2) and np.count_nonzero(v) == 5  # the middle column only
    d = motion_blur_kernel(5, 45.0)  # counter-clockwise from +x with rows down: lower-left to upper-right
    rr, cc = np.nonzero(d)
    assert np.all(rr + cc == 4) and len(rr) == 5
    assert motion_blur_kernel(4, 0.0).shape == (5, 5)  # even lengths are made odd
    assert np.array_equal(motion_blur_kernel(1, 33.0), np.ones((1, 1)))
    x = np.full((1, 16, 16), -9.0, dtype=np.float32)
    assert np.allclose(motion_blur(x, 7, 30.0, [0]), -9.0, atol=1e-5)
    imp = np.zeros((1, 11, 11), dtype=np.float32)
    imp[0, 5, 5] = 1.0
    smear = motion_blur(imp, 5, 0.0, [0])[0]
    assert np.allclose(smear[5, 3:8], 0.2) and smear.sum() == pytest.approx(1.0)


def test_crop_resize_known_box_doubles_a_label_pixel_in_place() -> None:
    x = np.zeros((2, 8, 8), dtype=np.float32)
    x[1] = 3.0
    label = np.zeros((8, 8), dtype=np.uint8)
    label[1, 1] = 1
    out, (lab,) = crop_resize(x, [label], (0.0, 0.0, 4.0, 4.0))  # top-left quarter, zoom x2
    assert out.shape == x.shape and lab.shape == label.shape and lab.dtype == np.uint8
    expected = np.zeros((8, 8), dtype=np.uint8)
    expected[2:4, 2:4] = 1
    assert np.array_equal(lab, expected)
    assert np.allclose(out[1], 3.0)


def test_random_crop_resize_keeps_label_binary_and_aligned_with_the_image() -> None:
    rng = np.random.default_rng(3)
    x = np.zeros((1, 64, 64), dtype=np.float32)
    x[0, 20:36, 28:44] = 1.0
    label = (x[0] > 0.5).astype(np.uint8)
    valid = np.ones((64, 64), dtype=bool)
    for _ in range(10):
        box = random_box((64, 64), 0.5, rng)
        out, (lab, val) = crop_resize(x, [label, valid], box)
        assert out.shape == x.shape and lab.shape == (64, 64) and val.all()
        assert set(np.unique(lab)) <= {0, 1}
        img = out[0] > 0.5
        assert np.sum(img != lab.astype(bool)) <= 2 * (img.shape[0] + img.shape[1]) * 0.1  # edge pixels at most
        if lab.sum() > 4:  # the squares move together: centres of mass within half a pixel
            com_img = np.argwhere(out[0] > 0).T @ out[0][out[0] > 0] / out[0].sum()
            com_lab = np.argwhere(lab).mean(axis=0)
            assert np.allclose(com_img, com_lab, atol=0.5)


def test_augment_chip_is_seeded_and_off_means_identity() -> None:
    rng0 = np.random.default_rng(0)
    x = rng0.normal(-12, 2, (3, 32, 32)).astype(np.float32)
    label = (rng0.uniform(size=(32, 32)) > 0.9).astype(np.uint8)
    valid = np.ones((32, 32), dtype=bool)
    is_log = [True, True, False]
    off = {"gaussian_noise": {"enabled": False, "p": 1.0, "std_db": 1.0}}
    same = augment_chip(x, label, valid, is_log, off, np.random.default_rng(1))
    assert np.array_equal(same[0], x) and np.array_equal(same[1], label)
    on = {
        "crop_resize": {"enabled": True, "p": 1.0, "min_scale": 0.6},
        "gaussian_blur": {"enabled": True, "p": 1.0, "sigma": [0.5, 1.0]},
        "motion_blur": {"enabled": True, "p": 1.0, "length": [3, 5]},
        "gaussian_noise": {"enabled": True, "p": 1.0, "std_db": 1.0},
    }
    a = augment_chip(x, label, valid, is_log, on, np.random.default_rng(5))
    b = augment_chip(x, label, valid, is_log, on, np.random.default_rng(5))
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert a[0].shape == x.shape and not np.array_equal(a[0], x) and set(np.unique(a[1])) <= {0, 1}
    with pytest.raises(InputError, match="unknown"):
        augment_chip(x, label, valid, is_log, {"rotate": {"enabled": True}}, np.random.default_rng(0))


# ---------------------------------------------------------------- model


@pytest.mark.parametrize("shape", [(37, 45), (16, 16), (5, 9)])
def test_unet_output_matches_odd_input_sizes_with_two_classes(shape: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = ResNetUNet(3, base_width=4, depth=3, blocks_per_stage=2).eval()
    x = torch.randn(2, 3, *shape)
    with torch.no_grad():
        logits = model(x)
    assert logits.shape == (2, 1, 2, *shape)
    p = landslide_probability(logits)
    assert p.shape == (2, 1, *shape) and bool(((p >= 0) & (p <= 1)).all())
    with pytest.raises(ValueError, match="channels|expected"):
        model(torch.randn(1, 4, 8, 8))


# ---------------------------------------------------------------- metrics


def test_auprc_perfect_ranking_and_a_hand_computed_case() -> None:
    label = np.array([1, 0, 1, 0])
    assert auprc(label, np.array([0.9, 0.1, 0.8, 0.2])) == pytest.approx(1.0)
    # ranked: + (P 1, R 1/2), - , + (P 2/3, R 1), - -> AP = 1/2 * 1 + 1/2 * 2/3 = 5/6
    assert auprc(label, np.array([0.9, 0.8, 0.7, 0.1])) == pytest.approx(5 / 6)
    assert no_skill(label) == 0.5
    # invalid pixels leave the set; a non-finite score ranks below every finite one
    valid = np.array([True, True, True, False])
    assert auprc(label, np.array([0.9, 0.5, -np.inf, 99.0]), valid) == pytest.approx(5 / 6)
    assert no_skill(label, valid) == pytest.approx(2 / 3)
    assert auprc(label, np.array([np.nan, 0.8, 0.7, 0.1])) == pytest.approx(0.5 * 1 / 2 + 0.5 * 2 / 4)
    assert np.isnan(auprc(np.zeros(4), np.arange(4.0)))


def test_binary_scores_and_pr_curve_points() -> None:
    s = binary_scores(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    assert s == {"precision": 0.5, "recall": 0.5, "f1": 0.5}
    rng = np.random.default_rng(0)
    label = rng.uniform(size=5000) < 0.1
    score = label + rng.normal(0, 1, 5000)
    curve = pr_curve(label, score, max_points=50)
    assert list(curve.columns) == ["recall", "precision", "threshold"] and len(curve) <= 50
    assert np.all(np.diff(curve["recall"]) >= 0) and curve["recall"].iloc[-1] == 1.0
    assert curve["precision"].iloc[-1] == pytest.approx(label.mean())


def test_cube_crs_reads_what_rioxarray_wrote() -> None:
    """detection.data reads the cube's CRS with pyproj from the grid-mapping coordinate: the
    same string as rioxarray's, for a projected and a geographic CRS; "" without one."""
    import rioxarray  # noqa: F401 - registers the .rio accessor
    import xarray as xr

    from landslide_sar.detection.data import cube_crs

    ds = xr.Dataset(
        {"vv": (("y", "x"), np.zeros((2, 3), dtype=np.float32))}, coords={"y": [1.0, 0.0], "x": [0.0, 1.0, 2.0]}
    )
    assert cube_crs(ds) == ""
    for epsg in ("EPSG:32619", "EPSG:4326"):
        written = ds.rio.write_crs(epsg)
        assert cube_crs(written) == written.rio.crs.to_string() == epsg


def test_precision_recall_points_and_auprc_are_sklearns_with_ties() -> None:
    """detection.evaluate computes the curve and average precision without importing sklearn
    (1.2 s of every detection job); they must be sklearn's, ties and all."""
    from sklearn.metrics import average_precision_score, precision_recall_curve

    rng = np.random.default_rng(3)
    for n, levels in ((50, 5), (2000, 40), (2000, None)):
        label = rng.uniform(size=n) < 0.15
        score = label * 0.5 + rng.normal(0, 1, n)
        if levels:  # coarse scores: many pixels share a threshold
            score = np.round(score * levels / 4) / levels
        want = precision_recall_curve(label, score)
        got = precision_recall_points(label, score)
        for w, g in zip(want, got):
            np.testing.assert_array_equal(g, w)
        assert auprc(label, score) == average_precision_score(label, score)
    assert precision_recall_points(np.array([True]), np.array([0.3]))[1].tolist() == [1.0, 0.0]


# ---------------------------------------------------------------- baseline


def test_vh_change_sign_median_and_slope_mask() -> None:
    before = np.full((1, 3, 2, 2), 0.1, dtype=np.float32)  # -10 dB
    before[0, 0, 0, 0] = 100.0  # one outlier: the median ignores it
    after = np.full((1, 2, 2, 2), 0.01, dtype=np.float32)  # -20 dB
    change = vh_change_db(before, after, axis=1)
    assert np.allclose(change, 10.0, atol=1e-4)  # a drop after the event is positive
    assert np.allclose(vh_change_db(before, after, axis=1, direction="increase"), -10.0, atol=1e-4)
    slope = np.array([[[5.0, 20.0], [np.nan, 10.0]]])
    masked = slope_masked(change, slope, 10.0)
    assert masked[0, 0, 0] == -np.inf and masked[0, 0, 1] == pytest.approx(10.0)
    assert np.isnan(masked[0, 1, 0]) and masked[0, 1, 1] == pytest.approx(10.0)  # 10 >= 10 kept


def test_percentile_map_selects_exactly_the_top_share_of_unmasked_pixels() -> None:
    rng = np.random.default_rng(1)
    score = rng.permutation(100).astype(np.float32).reshape(10, 10)
    slope = np.full((10, 10), 30.0)
    slope[:2] = 3.0  # 20 masked pixels, among them the row holding some of the highest scores
    score[0, 0] = 1000.0
    masked = slope_masked(score, slope, 10.0)
    selected, thr = percentile_map(masked, 90.0)
    assert selected.sum() == 8  # 10 % of 80 unmasked
    assert not selected[:2].any()
    unmasked = score[2:].ravel()
    top8 = np.sort(unmasked)[-8:]
    assert np.array_equal(np.sort(score[selected]), top8) and thr == top8[0]
    valid = np.ones((10, 10), dtype=bool)
    valid[9] = False  # 70 valid unmasked -> 7
    assert percentile_map(masked, 90.0, valid)[0].sum() == 7
    assert percentile_map(masked, 100.0)[0].sum() == 0


# ---------------------------------------------------------------- intervals over chips


def test_auprc_samples_weights_chips_by_hand_and_as_sklearn_on_repeated_chips() -> None:
    from sklearn.metrics import average_precision_score

    # chip 0: a positive at 0.9, a negative at 0.8; chip 1: a negative at 0.7, a positive at 0.6
    label = np.array([[[1, 0]], [[0, 1]]])
    score = np.array([[[0.9, 0.8]], [[0.7, 0.6]]])
    valid = np.ones_like(label, dtype=bool)
    # unit weights: precisions 1/1 and 2/4 at the positives -> AP 0.75; chip 0 twice: positives
    # at 0.9 (x2: precision 2/2) and 0.6 (precision 3/6), weights 2 and 1 -> (2 * 1 + 0.5) / 3
    got = auprc_samples(label, score, valid, np.array([[1, 1], [2, 1], [0, 1], [1, 0]]))
    np.testing.assert_allclose(got, [0.75, 2.5 / 3, 0.5, 1.0])
    rng = np.random.default_rng(0)
    lab = rng.random((12, 8, 8)) < 0.1
    sc = np.round(rng.random((12, 8, 8)) + 0.4 * lab, 1)  # many ties
    ok = rng.random((12, 8, 8)) > 0.1
    w = chip_weights(lab.any(axis=(1, 2)), 4, seed=1)
    for k in range(4):
        rep = np.repeat(np.arange(12), w[k].astype(int))
        want = average_precision_score(lab[rep][ok[rep]], sc[rep][ok[rep]])
        assert auprc_samples(lab, sc, ok, w[k : k + 1])[0] == pytest.approx(want, abs=1e-6)
    assert auprc(lab, sc, ok) == pytest.approx(auprc_samples(lab, sc, ok, np.ones((1, 12)))[0], abs=1e-6)


def test_chip_weights_keep_the_counts_of_chips_with_and_without_landslides() -> None:
    has = np.array([True, False, False, True, False])
    w = chip_weights(has, 50, seed=3)
    assert w.shape == (50, 5) and (w[:, has].sum(axis=1) == 2).all() and (w[:, ~has].sum(axis=1) == 3).all()
    assert np.array_equal(w, chip_weights(has, 50, seed=3))


def test_auprc_interval_is_a_point_where_every_chip_is_perfect_and_spreads_otherwise() -> None:
    label = np.zeros((6, 4, 4), np.uint8)
    label[:3, 0, 0] = 1
    perfect = label + 0.1 * np.arange(16).reshape(4, 4) / 16  # every positive above every negative
    valid = np.ones(label.shape, bool)
    iv = auprc_interval(label, perfect, valid, 200, seed=0)
    assert (iv.estimate, iv.low, iv.high) == (1.0, 1.0, 1.0)
    mixed = perfect.copy()
    mixed[0, 0, 0] = 0.0  # chip 0's positive now ranks last
    iv = auprc_interval(label, mixed, valid, 500, seed=0)
    assert iv.low < iv.estimate < 1.0 and iv.high == 1.0  # samples without chip 0 reach 1
    d = paired_auprc_difference(label, perfect, valid, mixed, valid, 500, seed=0)
    assert d.estimate == pytest.approx(1.0 - iv.estimate) and d.low == 0.0 and d.high > 0
    assert paired_auprc_difference(label, mixed, valid, mixed, valid, 100, 0).high == 0.0  # paired: no spread


# ---------------------------------------------------------------- chips and channels


def hand_cube(ny: int = 8, nx: int = 12, n_pre: int = 3, n_post: int = 2) -> xr.Dataset:
    """vv at step t = 0.01 * (t + 1), vh = vv / 10 everywhere; steps 0..n_pre-1 precede the
    event. Landslide pixels: 1 in chip (0, 0), 2 in chip (1, 2) of 4 px chips."""
    nt = n_pre + n_post
    times = pd.date_range("2020-01-01", periods=nt, freq="12D")
    event = times[n_pre - 1] + pd.Timedelta(days=6)
    vv = np.stack([np.full((ny, nx), 0.01 * (t + 1), np.float32) for t in range(nt)])
    slope = np.full((ny, nx), np.deg2rad(30.0), np.float32)
    lab = np.zeros((ny, nx), np.uint16)
    lab[1, 1] = 1
    lab[5, 9] = lab[6, 10] = 1
    return xr.Dataset(
        {
            "vv": (("timestep", "y", "x"), vv),
            "vh": (("timestep", "y", "x"), vv / 10),
            "dem": (("y", "x"), np.full((ny, nx), 500.0, np.float32)),
            "dem_slope_radians": (("y", "x"), slope),
            "dem_aspect": (("y", "x"), np.full((ny, nx), 90.0, np.float32)),
            "dem_curvature": (("y", "x"), np.zeros((ny, nx), np.float32)),
            "landslides": (("y", "x"), lab),
        },
        coords={"timestep": times.values, "y": 1000.0 - 10 * np.arange(ny), "x": 10 * np.arange(nx) + 5.0},
        attrs={"event_time": event.isoformat() + "Z"},
    )


def test_detection_chips_keeps_positive_chips_in_grid_order() -> None:
    cube = hand_cube()
    chips = detection_chips(cube, None, 4, 2, keep_negatives=False)
    assert len(chips) == 2 and chips.row0.tolist() == [0, 4] and chips.col0.tolist() == [0, 8]
    assert chips.sar_pre.shape == (2, 2, 2, 4, 4) and chips.sar_post.shape == (2, 2, 2, 4, 4)
    assert np.allclose(chips.sar_pre[:, 0, 0], 0.03) and np.allclose(chips.sar_pre[:, 1, 0], 0.02)  # closest first
    assert np.allclose(chips.sar_post[:, 0, 0], 0.04) and np.allclose(chips.sar_post[:, 1, 1], 0.005)
    assert np.allclose(chips.dem[:, 1], 30.0)  # slope in degrees
    assert chips.label[0, 1, 1] == 1 and chips.label.sum() == 3
    assert np.array_equal(chips.x[1], cube.x.values[8:12])
    assert len(detection_chips(cube, None, 4, 2, keep_negatives=True)) == 6
    assert len(detection_chips(cube, None, 4, 1, keep_negatives=False, min_positive_pixels=2)) == 1
    with pytest.raises(InputError, match="before"):
        detection_chips(cube, None, 4, 4, keep_negatives=False)


def test_detection_chips_of_a_two_direction_cube_use_the_models_direction_only() -> None:
    """hand_cube as the ascending (models') direction, with a descending step of vv 9 a day after
    each of its steps (sentinel1.both_directions): the chips are those of hand_cube alone."""
    one = hand_cube()
    other = one.assign(vv=one["vv"] * 0 + 9.0, vh=one["vh"] * 0 + 0.9)
    other = other.assign_coords(timestep=one["timestep"].values + np.timedelta64(1, "D"))
    both = xr.concat([one, other], dim="timestep", data_vars="minimal", coords="minimal").sortby("timestep")
    both = both.assign_coords({"sat:orbit_state": ("timestep", np.array(["a", "d"] * one.sizes["timestep"]))})
    both.attrs = {**one.attrs, "orbit": "ascending/135, descending/62"}
    want = detection_chips(one, None, 4, 2, keep_negatives=False)
    got = detection_chips(both, None, 4, 2, keep_negatives=False)
    np.testing.assert_array_equal(got.sar_pre, want.sar_pre)
    np.testing.assert_array_equal(got.sar_post, want.sar_post)
    assert got.times_pre == want.times_pre and got.times_post == want.times_post


@pytest.mark.parametrize(("chunk", "rows"), [(8, 2), (4, 1), (6, 1), (2, 1)])
def test_detection_chips_read_whole_chunk_rows_and_cut_the_same_chips(tmp_path: Path, chunk: int, rows: int) -> None:
    """From a zarr cube whose chunk height is a multiple of the chip size, several chip rows are
    read at once (each chunk decompressed once); the chips are the same as from the cube in memory."""
    from landslide_sar.detection.data import chip_rows_per_read

    cube = hand_cube()
    path = tmp_path / "cube.zarr"
    cube.chunk({"timestep": 1, "y": chunk, "x": chunk}).to_zarr(path, mode="w")
    opened = xr.open_zarr(path, chunks=None)
    assert chip_rows_per_read(opened, 4) == rows and chip_rows_per_read(cube, 4) == 1
    want = detection_chips(cube, None, 4, 2, keep_negatives=True)
    got = detection_chips(path, None, 4, 2, keep_negatives=True)
    assert len(got) == len(want) == 6
    for name in ("sar_pre", "sar_post", "dem", "label", "row0", "col0", "y", "x"):
        np.testing.assert_array_equal(getattr(got, name), getattr(want, name))


def test_build_channels_counts_and_time_means() -> None:
    cube = hand_cube()
    cube["vv"][1, 0, 0] = np.nan  # step 1 (second closest before) missing at one pixel
    chips = detection_chips(cube, None, 4, (3, 2), keep_negatives=False)
    counts = {b: len(build_channels(chips, b, 1).channels) for b in ("vv", "vh", "sar", "fused")}
    assert counts == {"vv": 2, "vh": 2, "sar": 4, "fused": 7}
    full = build_channels(chips, "fused", 2, elevation=True)
    assert (
        full.channels
        == input_channels("fused", True)
        == ["vv_pre", "vv_post", "vh_pre", "vh_post", "aspect", "slope", "curvature", "elevation"]
    )
    assert full.is_log == [True] * 4 + [False] * 4
    a = build_channels(chips, "vv", 2)
    # linear mean of the 2 closest before (0.02, 0.03) then dB; after: 0.04, 0.05
    assert a.x[1, 0] == pytest.approx(np.full((4, 4), 10 * np.log10(0.025)), abs=1e-5)
    assert a.x[1, 1] == pytest.approx(np.full((4, 4), 10 * np.log10(0.045)), abs=1e-5)
    assert a.x[0, 0, 0, 0] == pytest.approx(10 * np.log10(0.03), abs=1e-5)  # NaN left out of the mean
    three = build_channels(chips, "vh", 1, n_pre=3)  # 3 before, 1 after
    assert three.x[1, 0, 0, 0] == pytest.approx(10 * np.log10(0.002), abs=1e-5)
    assert three.x[1, 1, 0, 0] == pytest.approx(10 * np.log10(0.004), abs=1e-5)
    with pytest.raises(InputError, match="revisits"):
        build_channels(chips, "vv", 4)
    with pytest.raises(InputError, match="inputs"):
        build_channels(chips, "hh", 1)


def test_split_chips_is_disjoint_covers_every_chip_once_and_is_stratified_and_seeded() -> None:
    labelled = np.zeros(100, dtype=bool)
    labelled[::4] = True  # 25 labelled chips, 75 without landslides
    split = split_train_val_test(labelled, 0.2, 0.4, seed=42)
    allpos = np.concatenate(list(split.values()))
    assert sorted(allpos.tolist()) == list(range(100))  # every chip exactly once
    # per stratum: round(25 * 0.4) = 10 and round(75 * 0.4) = 30 test chips; 5 + 15 val; the rest train
    assert [int(labelled[split[k]].sum()) for k in ("train", "val", "test")] == [10, 5, 10]
    assert [int((~labelled[split[k]]).sum()) for k in ("train", "val", "test")] == [30, 15, 30]
    assert all(
        np.array_equal(a, b) for a, b in zip(split.values(), split_train_val_test(labelled, 0.2, 0.4, 42).values())
    )
    assert not np.array_equal(split_train_val_test(labelled, 0.2, 0.4, 43)["test"], split["test"])
    with pytest.raises(InputError, match=r"chips.test_fraction=1.2; expected in \[0, 1\)"):
        split_train_val_test(labelled, 0.2, 1.2, 0)
    with pytest.raises(InputError, match="val_fraction \\+ chips.test_fraction = 1; expected < 1"):
        split_train_val_test(labelled, 0.5, 0.5, 0)


def test_select_chips_labelled_keeps_chips_with_landslides_and_all_keeps_every_chip() -> None:
    n_positive = np.array([0, 3, 1, 0, 7])
    assert select_chips(n_positive, "labelled", 1).tolist() == [False, True, True, False, True]
    assert select_chips(n_positive, "labelled", 3).tolist() == [False, True, False, False, True]
    assert select_chips(n_positive, "all", 3).all()
    with pytest.raises(InputError, match="selection='some'"):
        select_chips(n_positive, "some", 1)


# ---------------------------------------------------------------- training


def toy_chips(n: int, seed: int, size: int = 32) -> ChipArrays:
    """VH before/after in dB; 2-4 landslide rectangles per chip whose VH drops 4 dB after the
    event, on top of 1.5 dB noise per acquisition mean. Some nodata pixels."""
    rng = np.random.default_rng(seed)
    base = rng.normal(-13.0, 1.5, (n, size, size))
    label = np.zeros((n, size, size), np.uint8)
    for i in range(n):
        for _ in range(rng.integers(2, 5)):
            r, c = rng.integers(0, size - 6, 2)
            label[i, r : r + rng.integers(3, 7), c : c + rng.integers(2, 5)] = 1
    before = base + rng.normal(0, 1.5, base.shape)
    after = base + rng.normal(0, 1.5, base.shape) - 4.0 * label
    x = np.stack([before, after], axis=1).astype(np.float32)
    x[0, :, :2, :2] = np.nan
    return ChipArrays(x=x, label=label, channels=["vh_pre", "vh_post"], is_log=[True, True])


MODEL = {"base_width": 8, "depth": 2, "blocks_per_stage": 1}
TRAINING = {
    "seeds": [0],
    "max_epochs": 5,
    "batch_size": 8,
    "learning_rate": 0.01,
    "weight_decay": 0.0,
    "patience": 8,
    "device": "cpu",
    "monitor": "val_auprc",
    "positive_weight": 2.0,
}


def test_tiny_run_beats_no_skill_and_is_deterministic(tmp_path) -> None:
    train, val = toy_chips(16, 0), toy_chips(8, 1)
    aug = {
        "gaussian_noise": {"enabled": True, "p": 0.5, "std_db": 0.5},
        "crop_resize": {"enabled": True, "p": 0.3, "min_scale": 0.8},
    }
    runs = []
    for k in range(2):
        summary = train_detection(train, val, MODEL, TRAINING, aug, 2, tmp_path / f"m{k}.pt", tmp_path / f"h{k}.csv")
        runs.append(pd.read_csv(tmp_path / f"h{k}.csv"))
    assert list(runs[0].columns) == HISTORY_COLUMNS
    cols = ["train_loss", "val_loss", "val_auprc"]
    pd.testing.assert_frame_equal(runs[0][cols], runs[1][cols])  # same seed -> same history
    ckpt = torch.load(tmp_path / "m0.pt", weights_only=True)
    assert ckpt["channels"] == ["vh_pre", "vh_post"] and ckpt["best_epoch"] == summary["best_epoch"]
    prob = predict_chips(tmp_path / "m0.pt", val, device="cpu")
    assert prob.shape == (1, 8, 32, 32) and np.isnan(prob[0, 0, :2, :2]).all()
    prob = prob[0]
    score, base = auprc(val.label, prob, val.valid), no_skill(val.label, val.valid)
    assert score == pytest.approx(runs[0]["val_auprc"].max(), abs=1e-6)  # the best epoch's weights
    assert score > base + 0.3, (score, base)


@pytest.mark.parametrize("augment", [False, True])
def test_ensemble_member_equals_the_same_seed_trained_alone(tmp_path, augment: bool) -> None:
    """Seeds [0, 1, 2] as one grouped ensemble: member 2's history and probabilities are those
    of seed 2 trained alone (augmentations included: each member has its own random stream)."""
    train, val = toy_chips(12, 0), toy_chips(6, 1)
    aug = {"gaussian_noise": {"enabled": True, "p": 0.5, "std_db": 0.5}} if augment else None
    cfg = {**TRAINING, "max_epochs": 3, "batch_size": 4}
    train_detection(train, val, MODEL, {**cfg, "seeds": [0, 1, 2]}, aug, 1, tmp_path / "e.pt", tmp_path / "e.csv")
    train_detection(train, val, MODEL, {**cfg, "seeds": [2]}, aug, 1, tmp_path / "a.pt", tmp_path / "a.csv")
    he, ha = pd.read_csv(tmp_path / "e.csv"), pd.read_csv(tmp_path / "a.csv")
    cols = ["epoch", "train_loss", "val_loss", "val_auprc"]
    pd.testing.assert_frame_equal(he[he["seed"] == 2][cols].reset_index(drop=True), ha[cols], rtol=1e-4)
    pe, pa = predict_chips(tmp_path / "e.pt", val, device="cpu"), predict_chips(tmp_path / "a.pt", val, device="cpu")
    assert pe.shape == (3, 6, 32, 32) and pa.shape == (1, 6, 32, 32)
    np.testing.assert_allclose(pe[2], pa[0], rtol=1e-4, atol=1e-5)
    assert np.nanmax(np.abs(pe[0] - pe[2])) > 1e-3  # the members differ


# ---------------------------------------------------------------- end to end


def toy_cube(seed: int, ny: int = 64, nx: int = 64) -> xr.Dataset:
    """Two acquisitions each side; VH drops 5 dB on landslide squares after the event."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2021-01-01", periods=4, freq="12D")
    lab = np.zeros((ny, nx), np.uint16)
    for _ in range(12):
        r, c = rng.integers(0, ny - 4, 2)
        lab[r : r + 4, c : c + 3] = 1
    db = -13 + rng.normal(0, 1, (4, ny, nx))
    db[2:] -= 5.0 * lab
    vh = (10 ** (db / 10)).astype(np.float32)
    cube = hand_cube(ny, nx, 2, 2).assign_coords(timestep=times.values)
    cube["vh"] = (("timestep", "y", "x"), vh)
    cube["vv"] = (("timestep", "y", "x"), vh * 5)
    cube["landslides"] = (("y", "x"), lab)
    cube.attrs["event_time"] = "2021-01-19T00:00:00Z"
    return cube


def detection_section(**sections: dict) -> dict:
    """config.yaml's detection section with only `sections` set (besides within/transfer), as the
    config validator leaves it: every other setting is the schema's documented default."""
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["detection"] = {k: config["detection"][k] for k in ("within", "transfer")} | sections
    config["detection"]["within"]["revisits"], config["detection"]["transfer"]["revisits"] = (
        [1],
        1,
    )  # the toy cubes' 2 a side
    validate_config(config)
    return config["detection"]


def test_a_section_missing_from_the_experiments_settings_is_one_line(tmp_path) -> None:
    cfg = detection_section()
    cfg.pop("baseline")
    with pytest.raises(InputError, match=r"lacks section\(s\) \['baseline'\]; expected .*validate_config"):
        run_detection_experiment(
            Experiment("within", "vv", 1, False, "regionA", None, False, 0),
            cfg,
            cubes={"train": toy_cube(0)},
            outputs=Outputs(*(tmp_path / n for n in "abcd")),
        )


def _experiment(tmp_path: Path, out: str, cube_a: xr.Dataset, **chips) -> pd.DataFrame:
    """One fused, augmented transfer experiment of toy cubes (regionA -> regionB) into tmp_path/out."""
    (tmp_path / out).mkdir(parents=True, exist_ok=True)
    cube_a.to_zarr(tmp_path / out / "regionA" / "cube.zarr", mode="w")
    if not (tmp_path / "regionB" / "cube.zarr").exists():
        toy_cube(1, 96, 96).to_zarr(tmp_path / "regionB" / "cube.zarr", mode="w")
    cfg = detection_section(
        chips={"size": 16, "split_seeds": [0], "max_revisits": 2, **chips},
        model=MODEL,
        training={**TRAINING, "max_epochs": 2},
        baseline={"min_slope_deg": 10.0, "percentile": 90.0},
    )
    o = tmp_path / out
    return run_detection_experiment(
        Experiment("transfer", "fused", 1, True, "regionA", "regionB", False, 0),
        cfg,
        cubes={"train": o / "regionA" / "cube.zarr", "test": tmp_path / "regionB" / "cube.zarr"},
        outputs=Outputs(o / "model.pt", o / "history.csv", o / "metrics.csv", o / "curves.csv", o / "pred.zarr"),
        bootstrap={"samples": 200, "seed": 0, "interval": 0.9},
        threads=2,
    )


@pytest.mark.filterwarnings("ignore:Consolidated metadata")
def test_run_detection_experiment_writes_metrics_curves_predictions(tmp_path) -> None:
    cube = toy_cube(0, 96, 96)  # 36 chips of 16 px, some without landslides
    metrics = _experiment(tmp_path, "out", cube)
    out = tmp_path / "out"
    written = pd.read_csv(out / "metrics.csv", dtype=METRICS_DTYPES)
    assert list(written.columns) == METRIC_COLUMNS
    # seed: the member's training seed, an integer (empty on the ensemble's and the baseline's rows)
    assert pd.read_csv(out / "metrics.csv")["seed"].dropna().tolist() == [0.0] * 4
    assert str(written["seed"].dtype) == "Int64" and written[ENSEMBLE].dtype == bool
    seed = written["seed"].astype("string").fillna("")
    assert set(zip(written["method"], seed, written[ENSEMBLE], written["region"], written["subset"])) == {
        (m, seed, ens, r, s)
        for m, seed, ens in (
            ("unet", "0", False),
            ("unet", "", True),
            ("handwerger", "", False),
            ("label_free", "", False),
        )
        for r, s in (("regionA", "train"), ("regionA", "val"), ("regionA", "test"), ("regionB", "test"))
    }
    # the split: stratified 40 % test / 20 % val of the labelled and of the other chips; train keeps
    # the labelled chips only (selection.train: labelled), val and test every chip (evaluation: all)
    chips = detection_chips(cube, None, 16, 2, keep_negatives=True)
    labelled = chips.label.reshape(len(chips), -1).any(axis=1)
    split = split_train_val_test(labelled, 0.2, 0.4, 0)
    ens = written[written[ENSEMBLE]].set_index(["region", "subset"])
    for subset in ("val", "test"):
        assert ens.loc[("regionA", subset), "n_chips"] == len(split[subset])
        assert ens.loc[("regionA", subset), "n_labelled_chips"] == labelled[split[subset]].sum()
    assert ens.loc[("regionA", "test"), "n_chips"] > ens.loc[("regionA", "test"), "n_labelled_chips"] > 0
    assert (
        ens.loc[("regionA", "train"), "n_chips"]
        == ens.loc[("regionA", "train"), "n_labelled_chips"]
        == labelled[split["train"]].sum()
    )
    assert ens.loc[("regionB", "test"), "n_chips"] == 36  # every chip of the other region
    # intervals on the evaluated sets' ensemble and baseline rows, around their estimate
    rated = written[(written["subset"] == "test") & written["seed"].isna()]
    assert rated["auprc_ci_low"].notna().all() and (rated["auprc_ci_low"] <= rated["auprc"] + 1e-9).all()
    assert (rated["auprc"] <= rated["auprc_ci_high"] + 1e-9).all()
    assert (rated["no_skill_ci_low"] <= rated["no_skill"]).all() and (
        rated["no_skill"] <= rated["no_skill_ci_high"]
    ).all()
    assert written.loc[written["subset"] != "test", "auprc_ci_low"].isna().all()  # fitted or selected on
    assert (written["inputs"] == "fused").all() and written["augment"].all() and len(metrics) == 16
    hw = written[written["method"] == "handwerger"]
    assert (hw["auprc"] > hw["no_skill"] + 0.5).all()  # a 5 dB drop is easy for the baseline
    free = written[written["method"] == "label_free"]
    assert (free["auprc"] > free["no_skill"]).all() and (free["threshold"] == 3.0).all()
    curves = pd.read_csv(out / "curves.csv", dtype=METRICS_DTYPES)
    assert list(curves.columns) == CURVE_COLUMNS and set(curves["subset"]) == {"train", "val", "test"}
    assert curves["seed"].isna().all() and curves.loc[curves["method"] == "unet", ENSEMBLE].all()
    pred = xr.open_zarr(out / "pred.zarr")
    n_val, n_test = len(split["val"]), len(split["test"])
    assert pred["prob"].shape == (n_val + n_test + 36, 16, 16) and pred["prob"].dtype == np.float32
    assert list(pred["subset"].values) == ["val"] * n_val + ["test"] * (n_test + 36)
    assert pred.attrs["channels"] == ["vv_pre", "vv_post", "vh_pre", "vh_post", "aspect", "slope", "curvature"]
    assert set(np.unique(pred["label"].values)) <= {0, 1}
    assert len(pd.read_csv(out / "history.csv")) == 2
    ckpt = torch.load(out / "model.pt", weights_only=True)
    assert ckpt["config"]["in_channels"] == 7
    assert to_db(np.array([0.1]))[0] == pytest.approx(-10.0)
    # the label-free score in the predictions, paired with the U-Net on the same test chips
    from landslide_sar.detection.differences import difference_rows

    e = Experiment("transfer", "fused", 1, True, "regionA", "regionB", False, 0)
    assert np.isfinite(pred["label_free"].values).any()
    diffs = difference_rows(
        {(e.experiment, e.name): written},
        {(e.experiment, e.name): pred.load()},
        [e],
        {"samples": 200, "seed": 0} | {"interval": 0.9},
    )
    free_diffs = diffs[diffs["b"] == "label-free detector"].set_index("region")
    assert set(free_diffs.index) == {"regionA", "regionB"}
    for region, r in free_diffs.iterrows():
        ref = free[(free["region"] == region) & (free["subset"] == "test")]["auprc"].iloc[0]
        assert r["ensemble_b"] == pytest.approx(ref, abs=1e-4) and r["n_runs"] == 1
    # the two references against each other, as scored inside the experiment: one "run" each
    refs = diffs[diffs["comparison"] == "label-free detector - VH change baseline"].set_index("region")
    assert set(refs.index) == {"regionA", "regionB"}
    for region, r in refs.iterrows():
        test = written[(written["region"] == region) & (written["subset"] == "test")].set_index("method")["auprc"]
        assert (r["a"], r["b"], r["n_runs"]) == ("label-free detector", "VH change baseline", 1)
        assert r["ensemble_a"] == pytest.approx(test["label_free"], abs=1e-4)
        assert r["ensemble_b"] == pytest.approx(test["handwerger"], abs=1e-4)
        assert r["member_diff"] == pytest.approx(test["label_free"] - test["handwerger"], abs=1e-4)
        assert r["ci_low"] <= r["ensemble_diff"] <= r["ci_high"]
    # the papers' protocol as an option: evaluation on labelled chips only
    labelled_only = _experiment(tmp_path, "labelled", cube, selection={"train": "labelled", "evaluation": "labelled"})
    e = labelled_only[labelled_only[ENSEMBLE]].set_index(["region", "subset"])
    assert (e["n_chips"] == e["n_labelled_chips"]).all() and e.loc[("regionA", "test"), "n_chips"] == labelled[
        split["test"]
    ].sum()


@pytest.mark.filterwarnings("ignore:Consolidated metadata")
def test_perturbing_test_chips_changes_no_trained_model(tmp_path) -> None:
    """The test chips' SAR and DEM values (not their labels, which set the stratified split) feed
    neither fitting nor early stopping: scrambling them leaves the weights and the history as they
    were, and changes the test scores."""
    cube = toy_cube(0, 96, 96)
    first = _experiment(tmp_path, "a", cube)
    pred = xr.open_zarr(tmp_path / "a" / "pred.zarr")
    test = (pred["subset"].values == "test") & (pred["region"].values == "regionA")
    noisy = cube.copy(deep=True)
    rng = np.random.default_rng(5)
    for r, c in zip(pred["row0"].values[test], pred["col0"].values[test]):
        win = {"y": slice(int(r), int(r) + 16), "x": slice(int(c), int(c) + 16)}
        for v in ("vv", "vh"):
            block = noisy[v][dict(timestep=slice(None), **win)]
            noisy[v][dict(timestep=slice(None), **win)] = block * rng.uniform(0.2, 5.0, block.shape).astype(np.float32)
        noisy["dem_slope_radians"][win] = rng.uniform(0, 1, (16, 16))
    second = _experiment(tmp_path, "b", noisy)
    ma, mb = (torch.load(tmp_path / k / "model.pt", weights_only=True)["state_dict"] for k in "ab")
    assert ma.keys() == mb.keys() and all(torch.equal(ma[k], mb[k]) for k in ma)
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "a" / "history.csv").drop(columns="seconds"),
        pd.read_csv(tmp_path / "b" / "history.csv").drop(columns="seconds"),
    )
    key = ["method", ENSEMBLE, "region", "subset"]
    a, b = (m.set_index(key)["auprc"] for m in (first, second))
    assert a.loc[("unet", True, "regionA", "val")] == b.loc[("unet", True, "regionA", "val")]
    assert a.loc[("unet", True, "regionA", "test")] != b.loc[("unet", True, "regionA", "test")]


# ---------------------------------------------------------------- oracle and differences


def test_oracle_reads_the_covered_fraction_at_the_chips_pixel_centres(tmp_path) -> None:
    import rasterio
    from rasterio.transform import from_origin

    from landslide_sar.detection.oracle import chip_truth

    frac = (np.arange(6 * 8, dtype=np.float32).reshape(6, 8)) / 100
    path = tmp_path / "truth.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        height=6,
        width=8,
        count=2,
        dtype="float32",
        crs="EPSG:32619",
        transform=from_origin(1000.0, 2000.0, 10.0, 10.0),
    ) as dst:
        dst.write(np.zeros((6, 8), np.float32), 1)
        dst.write(frac, 2)
        dst.set_band_description(1, "elevation")
        dst.set_band_description(2, "landslide_fraction")
    # two 2 x 3 chips: rows 1-2 / cols 4-6 and rows 4-5 / cols 0-2 (pixel centres)
    y = np.array([[1985.0, 1975.0], [1955.0, 1945.0]])
    x = np.array([[1045.0, 1055.0, 1065.0], [1005.0, 1015.0, 1025.0]])
    got = chip_truth(path, y, x)
    np.testing.assert_array_equal(got[0], frac[1:3, 4:7])
    np.testing.assert_array_equal(got[1], frac[4:6, 0:3])
    with pytest.raises(InputError, match="outside the truth raster"):
        chip_truth(path, y + 100.0, x)


def test_differences_pair_the_grids_experiments() -> None:
    from landslide_sar.detection.differences import BASELINE, comparisons
    from landslide_sar.detection.experiments import Experiment

    exps = [Experiment("within", i, r, False, "a", None, True) for i in ("vv", "vh", "sar", "fused") for r in (1, 4)]
    exps += [Experiment("transfer", i, 4, a, "a", "b", False) for i in ("sar", "fused") for a in (False, True)]
    pairs = {(label, exp, a, b) for label, exp, a, b in comparisons(exps)}
    assert ("SAR+DEM - VV+VH, 1 revisits", "within", "fused_r1_noaug", "sar_r1_noaug") in pairs
    assert ("VV+VH - VH, 4 revisits", "within", "sar_r4_noaug", "vh_r4_noaug") in pairs
    assert ("VH: 4 - 1 revisits", "within", "vh_r4_noaug", "vh_r1_noaug") in pairs
    assert ("U-Net SAR+DEM - VH change baseline, 4 revisits", "within", "fused_r4_noaug", BASELINE) in pairs
    assert ("VV+VH: with - without augmentation", "transfer", "sar_r4_aug", "sar_r4_noaug") in pairs
    assert ("SAR+DEM (no elevation) - VV+VH, with augmentation", "transfer", "fused_r4_aug", "sar_r4_aug") in pairs
    # within: fused - sar x 2 revisits, sar - vv / vh x 2, 4 - 1 x 4 input sets, net - baseline and
    # net - label-free x 4, label-free - baseline x 2 revisits; transfer: with - without x 2, fused - sar x 2,
    # net - baseline and - label-free x 4, label-free - baseline once
    assert len(pairs) == 2 + 4 + 4 + 2 * 4 + 2 + 2 + 2 + 2 * 4 + 1
    # a comparison needs both experiments: without vv, no VV+VH - VV
    assert not any("- VV," in p[0] for p in comparisons([e for e in exps if e.inputs != "vv"]))


def test_detection_ids_decode_to_their_experiments_and_a_malformed_one_is_refused() -> None:
    from landslide_sar.detection.experiments import Experiment, experiments, parse

    section = {
        "within": {"region": "a", "inputs": ["vv"], "revisits": [1, 2], "augment": False, "elevation": True},
        "transfer": {
            "train_region": "a",
            "test_region": "b",
            "inputs": ["sar"],
            "revisits": 2,
            "augment": [True],
            "elevation": False,
        },
        "chips": {"split_seeds": [7, 3]},
    }
    names = [(e.experiment, e.name, e.split_seed) for e in experiments(section)]
    assert names == [
        ("within", "vv_r1_noaug", 7),
        ("within", "vv_r2_noaug", 7),
        ("within", "vv_r1_noaug_s3", 3),
        ("within", "vv_r2_noaug_s3", 3),
        ("transfer", "sar_r2_aug", 7),
        ("transfer", "sar_r2_aug_s3", 3),
    ]
    assert all(parse(e.id, section) == e for e in experiments(section))
    assert parse("transfer/sar_r2_aug_s3", section) == Experiment("transfer", "sar", 2, True, "a", "b", False, 3, False)
    assert parse("within/vv_r1_noaug", section).path("results/detection", "m.csv") == (
        "results/detection/within/vv_r1_noaug/m.csv"
    )
    for bad in ("within/vv_r1_noaug_s7", "within/vv_r1", "vv_r1_noaug", "across/vv_r1_noaug", "within/lidar_r1_aug"):
        with pytest.raises(ValueError, match="detection experiment") as err:
            parse(bad, section)
        assert "\n" not in str(err.value)


def test_the_rules_lookup_refuses_a_well_formed_id_the_config_does_not_list() -> None:
    from landslide_sar.detection.experiments import experiments, lookup, parse

    section = yaml.safe_load((ROOT / "config.yaml").read_text())["detection"]
    assert all(lookup(e.id, section) == e for e in experiments(section))
    for unlisted in ("within/vv_r7_noaug", "within/vv_r1_aug", "transfer/vv_r4_aug", "within/vv_r1_noaug_s99"):
        parse(unlisted, section)  # well formed
        with pytest.raises(ValueError, match=rf"detection experiment '{unlisted}' is not one of the config's") as err:
            lookup(unlisted, section)
        assert "\n" not in str(err.value)


def test_every_default_detection_experiment_round_trips_through_its_id() -> None:
    from landslide_sar.detection.experiments import experiments, parse

    section = yaml.safe_load((ROOT / "config.yaml").read_text())["detection"]
    exps = experiments(section)
    # 2 split seeds x (3 input sets x 4 revisits within + 3 input sets x 2 augmentations in transfer)
    assert len(exps) == len({e.id for e in exps}) == 2 * (3 * 4 + 3 * 2)
    assert all(parse(e.id, section) == e for e in exps)
