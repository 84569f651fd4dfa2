"""The `change` input set of both branches: nets fed the change (post - pre in dB per polarisation
and the label-free z-score) beside fused's DEM channels. Known answers on hand-made chips with a
known dB shift, channel names and order, experiment ids, differences and the overlay."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
import yaml
from conftest import ROOT
from snakemake.utils import update_config

from landslide_sar.config import validate_config
from landslide_sar.label_free import (
    CHANGE_CHANNELS,
    LabelFreeSettings,
    change_channels,
    label_free_score,
    stouffer,
    unmasked_score,
    z_score,
)

SHIFT_VV, SHIFT_VH = -3.0, -6.0
SETTINGS = LabelFreeSettings(window_px=3, vv_weight=0.3)


def default_config() -> dict:
    """config.yaml as the validator leaves it: the change input set is in its grids."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(cfg)
    return cfg


def db_stacks(times: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(VV, VH) stacks (times, size, size) in dB: speckle-like noise around -8 and -15 dB."""
    rng = np.random.default_rng(seed)
    return rng.normal(-8.0, 0.8, (times, size, size)), rng.normal(-15.0, 0.8, (times, size, size))


# --- the shared core: landslide_sar.label_free ------------------------------------------------------


def test_change_channels_equal_the_shift_and_the_label_free_score() -> None:
    """Post-event dates = the pre-event dates shifted by a known dB step: the difference channels
    are that step, the z channel the label-free detector's score where it masks nothing."""
    pre_vv, pre_vh = db_stacks(4, 12, 0)
    post_vv, post_vh = pre_vv + SHIFT_VV, pre_vh + SHIFT_VH
    out = change_channels(pre_vv, pre_vh, post_vv, post_vh, SETTINGS)
    assert out.shape == (3, 12, 12) and out.dtype == np.float32 and len(CHANGE_CHANNELS) == 3
    np.testing.assert_allclose(out[0], SHIFT_VV, atol=1e-5)
    np.testing.assert_allclose(out[1], SHIFT_VH, atol=1e-5)
    steep = np.full((12, 12), 30.0)
    free = label_free_score(pre_vv, pre_vh, post_vv, post_vh, steep, SETTINGS)
    assert (free.mask == 0).all()
    np.testing.assert_allclose(out[2], free.score, rtol=1e-6)
    z_vv, _ = z_score(pre_vv, post_vv, SETTINGS.window_px)
    z_vh, _ = z_score(pre_vh, post_vh, SETTINGS.window_px)
    np.testing.assert_allclose(out[2], stouffer(z_vv, z_vh, SETTINGS.vv_weight), rtol=1e-6)


def test_unmasked_score_keeps_water_and_flat_ground() -> None:
    """The z channel is the score before the masks: flat or dark pixels keep their value (the
    net sees the DEM); only no data is NaN."""
    pre_vv, pre_vh = db_stacks(3, 8, 1)
    post_vv, post_vh = pre_vv[:2] - 2.0, pre_vh[:2] - 4.0
    pre_vv[:, 0, 0] = np.nan  # no pre-event date at this pixel: no mean, no spread
    z = unmasked_score(pre_vv, pre_vh, post_vv, post_vh)
    free = label_free_score(pre_vv, pre_vh, post_vv, post_vh, np.zeros((8, 8)))  # all flat: all masked
    assert np.isneginf(free.score).all() and np.isnan(z[0, 0]) and np.isfinite(z[1:, 1:]).all()


# --- density --------------------------------------------------------------------------------------


def channel_names(n_pre: int = 3, n_post: int = 3) -> list[str]:
    names = ["dem", "dem_slope_radians", "dem_curvature", "dem_aspect"]
    for when, m in (("pre", n_pre), ("post", n_post)):
        names += [f"{p}_{when}{k}" for k in range(1, m + 1) for p in ("vv", "vh")]
    return names + ["landslides"]


def shifted_chips(path: Path, n: int = 3, size: int = 16, revisits_shifted: int = 2) -> tuple[list[str], np.ndarray]:
    """Density chips (linear SAR) whose first `revisits_shifted` post-event dates are the first
    pre-event dates shifted by SHIFT_VV / SHIFT_VH dB, so that with revisits = n_pre the change is
    exactly the shift. Returns the channel names and the data."""
    names = channel_names()
    rng = np.random.default_rng(3)
    data = np.zeros((n, len(names), size, size), np.float32)
    data[:, 0] = rng.normal(500, 50, (n, size, size))
    data[:, 1] = rng.uniform(0.3, 0.8, (n, size, size))
    data[:, 2] = rng.normal(0, 1, (n, size, size))
    data[:, 3] = rng.uniform(0, 360, (n, size, size))
    for i in range(n):
        vv, vh = db_stacks(3, size, 10 + i)
        for k in range(3):
            data[i, names.index(f"vv_pre{k + 1}")] = 10 ** (vv[k] / 10)
            data[i, names.index(f"vh_pre{k + 1}")] = 10 ** (vh[k] / 10)
            data[i, names.index(f"vv_post{k + 1}")] = 10 ** ((vv[k] + SHIFT_VV) / 10)
            data[i, names.index(f"vh_post{k + 1}")] = 10 ** ((vh[k] + SHIFT_VH) / 10)
    data[:, -1, 4:6, 4:6] = 1.0
    ds = xr.Dataset({"chips": (("chip", "channel", "y", "x"), data)}, coords={"chip": np.arange(n), "channel": names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, mode="w")
    return names, data


def test_density_change_channels_names_and_order() -> None:
    from landslide_sar.density.chip_io import model_channels

    names = channel_names()
    channels, is_sar, n_dem = model_channels(names, "change", 2)
    assert channels == [*names[:4], "vv_change_r2", "vh_change_r2", "z_change_r2"]
    assert is_sar == [False] * 7 and n_dem == 4
    fused, fused_sar, fused_dem = model_channels(names, "fused", 2)
    assert fused[:4] == channels[:4] and fused_dem == n_dem  # the same DEM branch as fused
    assert fused_sar == [False] * 4 + [True] * 10  # 3 pre + 2 post dates, VV and VH


def test_density_change_channels_read_from_chips_equal_the_shift_and_the_z_score(tmp_path: Path) -> None:
    from landslide_sar.density.change import load_model_units
    from landslide_sar.density.chip_io import model_channels, open_chips
    from landslide_sar.nn.preprocess import to_db

    names, data = shifted_chips(tmp_path / "chips.zarr")
    ds = open_chips(tmp_path / "chips.zarr")
    channels, is_sar, _ = model_channels(names, "change", 3)
    x, extra = load_model_units(ds, [2, 0], channels, is_sar, {"window_px": 3, "vv_weight": 0.3}, ["landslides"])
    assert x.shape == (2, 7, 16, 16) and extra.shape == (2, 1, 16, 16)
    np.testing.assert_array_equal(x[:, :4], data[[2, 0], :4])  # DEM channels as stored
    np.testing.assert_allclose(x[:, 4], SHIFT_VV, atol=1e-4)
    np.testing.assert_allclose(x[:, 5], SHIFT_VH, atol=1e-4)
    db = to_db(data[2])
    stack = {
        f"{p}_{w}": db[[names.index(f"{p}_{w}{k}") for k in (1, 2, 3)]] for p in ("vv", "vh") for w in ("pre", "post")
    }
    z = unmasked_score(stack["vv_pre"], stack["vh_pre"], stack["vv_post"], stack["vh_post"], SETTINGS)
    np.testing.assert_allclose(x[0, 6], z, rtol=1e-5)
    np.testing.assert_array_equal(extra[:, 0], data[[2, 0], -1])


def test_density_change_net_trains_and_its_saved_model_predicts_the_same(tmp_path: Path) -> None:
    """A tiny change net: 7 channels (3 in the SAR branch), the label-free settings in its
    checkpoint, and the saved model applied to the chips gives the training job's outputs."""
    import torch

    from landslide_sar.density.predict import predict_density
    from landslide_sar.density.train import train_density

    shifted_chips(tmp_path / "chips.zarr", n=6)
    table = pd.DataFrame(
        {"chip": range(6), "density_class": [0, 1, 2] * 2, "half": [0] * 6, "subset": ["train"] * 4 + ["val"] * 2}
    )
    free = {"window_px": 3, "vv_weight": 0.3}
    train_density(
        tmp_path / "chips.zarr",
        table,
        half=0,
        inputs="change",
        revisits=2,
        model_cfg=dict(width=4, depth=2, dilated=True, batch_norm=False),
        training_cfg=dict(seeds=[0], max_epochs=2, batch_size=4, learning_rate=0.01, patience=2, device="cpu"),
        threads=1,
        model_out=tmp_path / "model.pt",
        history_out=tmp_path / "history.csv",
        percentiles=[50, 90],
        features_out=tmp_path / "features.csv",
        embeddings_out=tmp_path / "embeddings.zarr",
        label_free=free,
    )
    ckpt = torch.load(tmp_path / "model.pt", weights_only=True)
    assert ckpt["channels"][4:] == ["vv_change_r2", "vh_change_r2", "z_change_r2"]
    assert (ckpt["config"]["n_dem"], ckpt["config"]["n_sar"]) == (4, 3) and ckpt["label_free"] == free
    predict_density(
        tmp_path / "chips.zarr", tmp_path / "model.pt", [50, 90], 1, tmp_path / "f2.csv", tmp_path / "e2.zarr"
    )
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "features.csv"), pd.read_csv(tmp_path / "f2.csv"))


def test_density_change_experiment_ids_round_trip_and_differences() -> None:
    from landslide_sar.density.differences import comparisons
    from landslide_sar.density.experiments import Experiment, experiments, parse
    from landslide_sar.density.table import INPUT_NAMES

    for e in (Experiment("change", 3), Experiment("change", 2, "blocked", 7, False)):
        assert parse(e.id, [42, 7]) == e
    assert parse("change_r1", [42]).inputs == "change" and "change" in INPUT_NAMES
    cfg = default_config()
    grid = experiments(cfg)
    assert {e.setting for e in grid if e.inputs == "change"} >= {"change_r1", "change_r3_blocked"}
    labels = {label: (a, b) for label, a, b in comparisons(grid)}
    assert labels["change net - fused, 3 revisits"] == ("change_r3", "fused_r3")
    assert labels["change net - change baseline, 1 revisits"] == ("change_r1", "baseline_r1")
    assert "change net - fused, 3 revisits (blocked split)" in labels


# --- detection ------------------------------------------------------------------------------------


def shifted_detection_chips(n: int = 2, size: int = 12):  # noqa: ANN201 - DetectionChips
    """4 dates before and 2 after; post date k = pre date k (k-th closest) shifted by the known dB step."""
    from landslide_sar.detection.data import DetectionChips

    rng = np.random.default_rng(9)
    pre_db = np.stack([np.stack(db_stacks(4, size, 20 + i), axis=1) for i in range(n)])  # (n, 4, 2, H, W)
    post_db = pre_db[:, :2] + np.array([SHIFT_VV, SHIFT_VH])[None, None, :, None, None]
    dem = np.stack([rng.normal(500, 50, (n, size, size)), rng.uniform(20, 40, (n, size, size))], axis=1)
    dem = np.concatenate([dem, rng.uniform(0, 360, (n, 1, size, size)), rng.normal(0, 1, (n, 1, size, size))], 1)
    zeros = np.zeros(n, int)
    label = np.zeros((n, size, size), np.uint8)
    yx = np.zeros((n, size))
    return DetectionChips(10 ** (pre_db / 10), 10 ** (post_db / 10), dem, label, zeros, zeros, yx, yx), pre_db, post_db


def test_detection_change_channels_equal_the_shift_and_the_label_free_score() -> None:
    from landslide_sar.detection.data import build_channels, input_channels

    chips, pre_db, post_db = shifted_detection_chips()
    out = build_channels(chips, "change", revisits=2, elevation=True, label_free=SETTINGS)
    assert out.channels == ["vv_change", "vh_change", "z_change", "aspect", "slope", "curvature", "elevation"]
    assert out.is_log == [True, True, False, False, False, False, False]
    assert input_channels("change", False) == ["vv_change", "vh_change", "z_change", "aspect", "slope", "curvature"]
    np.testing.assert_allclose(out.x[:, 0], SHIFT_VV, atol=1e-4)
    np.testing.assert_allclose(out.x[:, 1], SHIFT_VH, atol=1e-4)
    for i in range(len(chips)):  # every pre-event date and the first 2 after, as the label-free detector
        free = label_free_score(
            pre_db[i, :, 0], pre_db[i, :, 1], post_db[i, :, 0], post_db[i, :, 1], chips.dem[i, 1], SETTINGS
        )
        assert (free.mask == 0).all()
        np.testing.assert_allclose(out.x[i, 2], free.score, rtol=1e-4)
    fused = build_channels(chips, "fused", revisits=2, elevation=True)
    np.testing.assert_array_equal(out.x[:, 3:], fused.x[:, 4:])  # the same DEM channels as fused
    np.testing.assert_allclose(out.x[:, 0], fused.x[:, 1] - fused.x[:, 0], atol=1e-5)  # vv_post - vv_pre


def test_detection_change_experiment_ids_round_trip_and_differences() -> None:
    from landslide_sar.detection.differences import comparisons
    from landslide_sar.detection.experiments import INPUT_LABELS, experiments, parse

    cfg = default_config()
    grid = experiments(cfg["detection"])
    mine = [e for e in grid if e.inputs == "change"]
    assert {e.experiment for e in mine} == {"within", "transfer"} and "change" in INPUT_LABELS
    for e in mine:
        assert parse(e.id, cfg["detection"]) == e
    assert parse("within/change_r2_noaug", cfg["detection"]).inputs == "change"
    labels = {label for label, *_ in comparisons([e for e in grid if e.first_split])}
    assert "change+DEM - SAR+DEM, 4 revisits" in labels
    assert "U-Net change+DEM - VH change baseline, 4 revisits" in labels
    assert "change+DEM - SAR+DEM (no elevation), with augmentation" in labels
    assert "U-Net change+DEM, aug - VH change baseline" in labels


# --- config ---------------------------------------------------------------------------------------


def test_config_yaml_runs_change_in_both_branches_and_the_full_grids_overlay_adds_vv_vh() -> None:
    cfg = default_config()
    assert cfg["density"]["inputs"] == ["dem", "sar", "fused", "change"]
    for grid in ("within", "transfer"):
        assert cfg["detection"][grid]["inputs"] == ["sar", "fused", "change"]
    overlay = yaml.safe_load((ROOT / "config" / "overlays" / "full_grids.yaml").read_text())
    update_config(cfg, overlay)
    validate_config(cfg)
    assert cfg["detection"]["within"]["inputs"] == ["vv", "vh", "sar", "fused", "change"]
    assert cfg["density"]["revisits"] == [1, 2, 3] and cfg["density"]["inputs"] == ["dem", "sar", "fused", "change"]
    assert cfg["detection"]["transfer"]["inputs"] == ["sar", "fused", "change"]
    rules = (ROOT / "rules" / "density.smk").read_text() + (ROOT / "rules" / "detection.smk").read_text()
    assert 'inputs="dem|sar|fused|change"' in rules and 'inputs="vv|vh|sar|fused|change"' in rules


def test_change_is_accepted_by_both_schemas_and_map_choices() -> None:
    cfg = default_config()
    cfg["density"]["map"] = {"inputs": "change", "revisits": 3}
    cfg["detection"]["map"] = {"inputs": "change", "augment": True}
    validate_config(cfg)


def test_a_tiny_change_u_net_trains_and_scores(tmp_path: Path) -> None:
    """One within experiment of the change input set on a toy cube (2 epochs): it runs end to
    end and writes the U-Net's rows beside the references."""
    import torch
    from test_detection import MODEL, TRAINING, detection_section, toy_cube

    from landslide_sar.detection.experiments import Experiment
    from landslide_sar.detection.run import Outputs, run_detection_experiment

    toy_cube(0, 64, 64).to_zarr(tmp_path / "cube.zarr", mode="w")
    cfg = detection_section(
        chips={"size": 16, "split_seeds": [0], "max_revisits": 2},
        model=MODEL,
        training={**TRAINING, "max_epochs": 2},
    )
    cfg["label_free"] = {"window_px": 3}  # the top-level section, as detection_settings passes it
    out = [tmp_path / n for n in ("model.pt", "history.csv", "metrics.csv", "curves.csv", "pred.zarr")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        metrics = run_detection_experiment(
            Experiment("within", "change", 1, False, "regionA", None, False, 0),
            cfg,
            cubes={"train": tmp_path / "cube.zarr"},
            outputs=Outputs(*out),
            bootstrap={"samples": 50, "seed": 0, "interval": 0.9},
            threads=1,
        )
    assert {"unet", "handwerger", "label_free"} <= set(metrics["method"])
    assert metrics.loc[metrics["method"] == "unet", "auprc"].notna().all()
    ckpt = torch.load(out[0], weights_only=True)
    assert list(ckpt["channels"]) == ["vv_change", "vh_change", "z_change", "aspect", "slope", "curvature"]
