"""Known-answer tests of landslide_sar.density: loss, network shapes, channels, stats, features,
determinism, and an end-to-end learnable toy event whose cross-prediction AUC must beat chance."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import torch
import xarray as xr
from shapely.geometry import box

from landslide_sar.density.chip_io import select_channels
from landslide_sar.density.evaluate import confusion_path, evaluate_density
from landslide_sar.density.forest_io import density_forests
from landslide_sar.density.model import (
    DensityNet,
    batch_loss,
    block_counts,
    loss_from_sums,
    multilook_chips,
    weighted_loss_sums,
)
from landslide_sar.density.predict import percentile_columns, percentile_features, predict_density
from landslide_sar.density.train import train_density
from landslide_sar.errors import InputError
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.nn.preprocess import channel_stats, to_db, to_model_units

PERCENTILES = list(range(5, 100, 5))
TRAINING = dict(seeds=[0], max_epochs=15, batch_size=8, learning_rate=0.01, patience=5, device="auto")
MODEL = dict(width=8, depth=3, dilated=True, batch_norm=False)


def channel_list(n_pre: int = 3, n_post: int = 3) -> list[str]:
    names = ["dem", "dem_slope_radians", "dem_curvature", "dem_aspect"]
    for when, m in (("pre", n_pre), ("post", n_post)):
        for k in range(1, m + 1):
            names += [f"vv_{when}{k}", f"vh_{when}{k}"]
    return names + ["landslides"]


def make_chips(path: Path, n: int = 40, size: int = 32, seed: int = 0, drop_db: float = 6.0) -> pd.DataFrame:
    """A toy event: post-event SAR drops by `drop_db` on 3x3 blobs around landslide heads.

    Classes 0/1/2 have 0, 2-5 and 15-29 heads per chip; label = 1 at each head. Chips alternate
    between halves per class; within a half every 5th chip (per class order) is val. Returns the
    chip table; writes chips.zarr with some NaN SAR pixels.
    """
    rng = np.random.default_rng(seed)
    names = channel_list()
    cls = np.tile([0, 1, 2], n // 3 + 1)[:n]
    rng.shuffle(cls)
    half = np.zeros(n, int)
    half[np.argsort(cls, kind="stable")] = np.arange(n) % 2
    subset = np.empty(n, object)
    for h in (0, 1):
        idx = np.flatnonzero(half == h)
        idx = idx[np.argsort(cls[idx], kind="stable")]
        subset[idx] = np.where(np.arange(idx.size) % 5 == 4, "val", "train")
    data = np.zeros((n, len(names), size, size), np.float32)
    counts = np.zeros(n, int)
    yy, xx = np.mgrid[:size, :size]
    for i in range(n):
        counts[i] = [0, rng.integers(2, 6), rng.integers(15, 30)][cls[i]]
        data[i, 0] = 100 + 20 * np.sin(xx / 7 + i) + rng.normal(0, 1, (size, size))
        data[i, 1] = rng.uniform(0, 0.8, (size, size))
        data[i, 2] = rng.normal(0, 1, (size, size))
        data[i, 3] = rng.uniform(0, 360, (size, size))
        base = 10 ** (rng.normal(-10, 2, (size, size)) / 10)
        disturbed = np.zeros((size, size), bool)
        for r, q in rng.integers(1, size - 1, (counts[i], 2)):
            disturbed[r - 1 : r + 2, q - 1 : q + 2] = True
            data[i, -1, r, q] = 1.0
        for j, name in enumerate(names[4:-1], start=4):
            v = base * rng.gamma(4.0, 0.25, (size, size)) * (0.5 if name.startswith("vh") else 1.0)
            data[i, j] = np.where(disturbed, v * 10 ** (-drop_db / 10), v) if "post" in name else v
    data[3, 5, :2, :3] = np.nan  # nodata in vh_pre1 of chip 103
    ids = np.arange(100, 100 + n)
    ds = xr.Dataset({"chips": (("chip", "channel", "y", "x"), data)}, coords={"chip": ids, "channel": names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, mode="w")
    return pd.DataFrame(
        {
            "chip": ids,
            "landslide_count": counts,
            "density_per_km2": counts / (size * size * 1e-4),
            "density_class": cls,
            "valid_fraction": 1.0,
            "half": half,
            "subset": subset,
        }
    )


# --- batch loss -----------------------------------------------------------------------------


def read_metrics(path: Path) -> pd.DataFrame:
    """evaluate_density's metrics indexed by (split, subset): member rows of a one-seed run, and
    the ensemble's no_skill row."""
    m = pd.read_csv(path, dtype={**METRICS_DTYPES, "split": str})
    return m[~m[ENSEMBLE]].set_index(["split", "subset"])


def test_batch_loss_perfect_and_reversed() -> None:
    label = torch.zeros(3, 1, 8, 8)
    label[0, 0, 2, 3] = label[2, 0, 5, 5] = label[2, 0, 1, 7] = 1
    assert batch_loss(label.clone(), label).item() == pytest.approx(0.0)
    assert batch_loss(1 - label, label).item() == pytest.approx(2.0)


def test_batch_loss_pools_the_whole_batch() -> None:
    out = torch.tensor([[[0.9, 0.5], [0.1, 0.4]], [[0.5, 0.3], [0.7, 0.0]]])
    label = torch.tensor([[[1, 1], [0, 0]], [[0, 0], [1, 0]]])
    # E+ = {0.9, 0.5, 0.7} -> 0.7; E- = {0.1, 0.4, 0.5, 0.3, 0.0} -> 0.26; (per-chip mean would be 0.5583)
    assert batch_loss(out, label).item() == pytest.approx(0.3 + 0.26)
    valid = torch.ones(2, 2, 2, dtype=torch.bool)
    valid[0, 0, 1] = valid[1, 0, 0] = False  # drop E+ 0.5 and E- 0.5
    assert batch_loss(out, label, valid).item() == pytest.approx((1 - 0.8) + 0.8 / 4)


def test_batch_loss_without_labels_is_the_negative_term_only() -> None:
    out = torch.full((2, 1, 4, 4), 0.3, requires_grad=True)
    loss = batch_loss(out, torch.zeros(2, 1, 4, 4))
    assert loss.item() == pytest.approx(0.3)
    loss.backward()
    assert out.grad is not None and torch.all(out.grad > 0)


@pytest.mark.parametrize("members", [1, 3])
def test_coarse_loss_with_block_counts_equals_the_full_size_loss(members: int) -> None:
    """Training runs the net at the multilooked size once (block_counts): the same loss and
    gradients as batch_loss of the full-size output, to float rounding."""
    torch.manual_seed(0)
    net = DensityNet(4, 6, 4, 2, multilook=4, members=members)
    x = torch.randn(5, 10, 16, 16)
    label = torch.rand(5, 16, 16) > 0.9
    valid = torch.rand(5, 16, 16) > 0.1
    full = batch_loss(net(x), label, valid)
    grads_full = torch.autograd.grad(full.sum(), list(net.parameters()))
    pos, neg = block_counts(label, valid, 4)
    assert pos.shape == (5, 4, 4) and float(pos.sum()) == float((label & valid).sum())
    coarse = loss_from_sums(*weighted_loss_sums(net(multilook_chips(x, 4), multilooked=True), pos, neg))
    grads_coarse = torch.autograd.grad(coarse.sum(), list(net.parameters()))
    assert coarse.shape == (members,)
    torch.testing.assert_close(coarse, full, rtol=1e-5, atol=1e-6)
    for a, b in zip(grads_coarse, grads_full):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


# --- network -------------------------------------------------------------------------------


@pytest.mark.parametrize("n_dem,n_sar", [(4, 8), (4, 0), (0, 8)])
def test_output_keeps_odd_chip_size_and_is_in_unit_interval(n_dem: int, n_sar: int) -> None:
    torch.manual_seed(0)
    net = DensityNet(n_dem, n_sar, width=4, depth=3).eval()
    with torch.no_grad():
        out = net(10 * torch.randn(2, n_dem + n_sar, 33, 35))
    assert out.shape == (2, 1, 33, 35)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_single_modality_nets_have_only_their_branch() -> None:
    dem_only, sar_only, fused = DensityNet(4, 0, 6, 2), DensityNet(0, 8, 6, 2), DensityNet(4, 8, 6, 2)
    assert dem_only.sar_in is None and dem_only.dem_in[0].in_channels == 4
    assert sar_only.dem_in is None and sar_only.sar_in[0].in_channels == 8
    assert not any(k.startswith("sar_in") for k in dem_only.state_dict())
    assert dem_only.fuse.in_channels == sar_only.fuse.in_channels == 6 and fused.fuse.in_channels == 12
    assert fused.dem_in[0].in_channels == 4 and fused.sar_in[0].in_channels == 8
    assert fused.deep[0].groups == 2 and dem_only.deep[0].groups == 1  # the branches run as one grouped conv


def test_merged_branches_equal_two_separate_branches() -> None:
    """After the first layer the DEM and SAR branches are one conv grouped by branch: the same
    arithmetic as two separate convs (the architecture of the paper)."""
    torch.manual_seed(0)
    net = DensityNet(4, 8, width=5, depth=2, dilated=True).eval()
    x = torch.randn(3, 12, 20, 20)
    conv = net.deep[0]
    w_dem, w_sar = conv.weight[:5], conv.weight[5:]
    b_dem, b_sar = conv.bias[:5], conv.bias[5:]
    dem = torch.relu(torch.nn.functional.conv2d(net.dem_in(x[:, :4]), w_dem, b_dem, padding=2, dilation=2))
    sar = torch.relu(torch.nn.functional.conv2d(net.sar_in(x[:, 4:]), w_sar, b_sar, padding=2, dilation=2))
    expected = torch.sigmoid(net.fuse(torch.cat([dem, sar], dim=1)))
    with torch.no_grad():
        torch.testing.assert_close(net(x), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("grouped", [True, False])
def test_ensemble_members_compute_exactly_their_own_net(grouped: bool) -> None:
    """Member k of a K-member module packed from K one-member nets gives net k's output, both for
    shared input (B, C, H, W) and for per-member input (B, K, C, H, W), whether the members run
    as grouped convs or one after the other."""
    from landslide_sar.nn.ensemble import pack_states, unpack_state

    nets = []
    for seed in (3, 4, 5):
        torch.manual_seed(seed)
        nets.append(DensityNet(4, 6, width=4, depth=3).eval())
    ens = DensityNet(4, 6, width=4, depth=3, members=3).eval()
    ens.grouped = grouped
    ens.load_state_dict(pack_states([n.state_dict() for n in nets]))
    x = torch.randn(2, 3, 10, 17, 19)
    with torch.no_grad():
        shared, own = ens(x[:, 0]), ens(x)
        for k, net in enumerate(nets):
            torch.testing.assert_close(shared[:, k], net(x[:, 0])[:, 0], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(own[:, k], net(x[:, k])[:, 0], rtol=1e-5, atol=1e-6)
    back = unpack_state(ens.state_dict(), 3)
    assert all(torch.equal(back[1][k], v) for k, v in nets[1].state_dict().items())


# --- channels and statistics ---------------------------------------------------------------


@pytest.mark.parametrize("revisits", [1, 2, 3])
def test_select_channels_counts(revisits: int) -> None:
    names = channel_list(3, 3)
    dem, sar = select_channels(names, "fused", revisits)
    assert [names[i] for i in dem] == ["dem", "dem_slope_radians", "dem_curvature", "dem_aspect"]
    assert len(sar) == 6 + 2 * revisits
    assert names[sar[-1]] == f"vh_post{revisits}" and "landslides" not in [names[i] for i in sar]
    assert select_channels(names, "sar", revisits) == ([], sar)
    assert select_channels(names, "dem", revisits) == (dem, [])


def test_select_channels_rejects_too_many_revisits_and_unknown_inputs() -> None:
    with pytest.raises(ValueError, match=r"revisits=4 .*3 post-event .*expected 1\.\.3") as err:
        select_channels(channel_list(3, 3), "fused", 4)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="inputs='both'"):
        select_channels(channel_list(3, 3), "both", 1)


def test_channel_stats_use_db_and_ignore_nan() -> None:
    x = np.array([0.01, 0.1, 1.0, np.nan], dtype=np.float32).reshape(1, 1, 2, 2)
    mean, std = channel_stats(to_model_units(np.concatenate([x, x], axis=1), [True, False]))
    assert mean[0] == pytest.approx(-10.0) and std[0] == pytest.approx(np.std([-20.0, -10.0, 0.0]))
    assert mean[1] == pytest.approx(0.37)
    assert to_db(np.array([0.0, -1.0], np.float32)).tolist() == pytest.approx([-50.0, -50.0])


def test_normalisation_stats_come_from_train_chips_only(tmp_path: Path) -> None:
    table = make_chips(tmp_path / "chips.zarr", n=12, size=16)
    cfg = dict(TRAINING, max_epochs=1)

    def stats(tag: str) -> tuple[torch.Tensor, torch.Tensor]:
        train_density(
            tmp_path / "chips.zarr",
            table,
            half=0,
            inputs="fused",
            revisits=2,
            model_cfg=MODEL,
            training_cfg=cfg,
            threads=1,
            model_out=tmp_path / f"{tag}.pt",
            history_out=tmp_path / f"{tag}.csv",
        )
        ckpt = torch.load(tmp_path / f"{tag}.pt", weights_only=True)
        return ckpt["mean"], ckpt["std"]

    mean0, std0 = stats("a")
    ds = xr.open_zarr(tmp_path / "chips.zarr", chunks=None)
    train_ids = table.query("half == 0 and subset == 'train'")["chip"].to_numpy()
    vv_pre1 = ds["chips"].sel(chip=train_ids, channel="vv_pre1").values
    ch = list(torch.load(tmp_path / "a.pt", weights_only=True)["channels"]).index("vv_pre1")
    assert float(mean0[ch]) == pytest.approx(float(np.nanmean(10 * np.log10(vv_pre1))), rel=1e-5)

    def perturb(chip: int) -> None:
        data = ds["chips"].values.copy()
        data[list(ds["chip"].values).index(chip), :-1] *= 7.0
        out = xr.Dataset(
            {"chips": (ds["chips"].dims, data)}, coords={"chip": ds["chip"].values, "channel": ds["channel"].values}
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out.to_zarr(tmp_path / "chips.zarr", mode="w")

    not_train = table.query("not (half == 0 and subset == 'train')")["chip"].tolist()
    for chip in not_train:  # val chips of half 0 and every chip of half 1
        perturb(chip)
    mean1, std1 = stats("b")
    assert torch.equal(mean0, mean1) and torch.equal(std0, std1)
    perturb(int(train_ids[0]))  # a train chip: now the stats must move
    mean2, _ = stats("c")
    assert not torch.equal(mean0, mean2)


# --- features ------------------------------------------------------------------------------


def test_percentile_features_of_a_known_map() -> None:
    maps = np.stack([np.linspace(0, 1, 101), np.linspace(0, 2, 101)]).reshape(2, 1, 101)
    feats = percentile_features(maps, PERCENTILES)
    np.testing.assert_allclose(feats[0], np.arange(5, 100, 5) / 100, atol=1e-12)
    np.testing.assert_allclose(feats[1], np.arange(5, 100, 5) / 50, atol=1e-12)
    valid = np.zeros_like(maps, dtype=bool)
    valid[..., :51] = True  # only values 0..0.5 (0..1.0 for the second map)
    np.testing.assert_allclose(percentile_features(maps, [10, 50], valid)[0], [0.05, 0.25], atol=1e-12)
    # a map without a valid pixel has no features (not those of all its pixels)
    assert np.isnan(percentile_features(maps, [10, 50], np.zeros_like(valid))).all()
    assert percentile_columns(PERCENTILES)[:3] == ["p05", "p10", "p15"] and percentile_columns([2.5]) == ["p2.5"]


# --- training ------------------------------------------------------------------------------


def test_training_is_deterministic(tmp_path: Path) -> None:
    table = make_chips(tmp_path / "chips.zarr", n=12, size=16)
    cfg = dict(TRAINING, max_epochs=3)
    runs = []
    for tag, seed in (("a", 0), ("b", 0), ("c", 1)):
        train_density(
            tmp_path / "chips.zarr",
            table,
            half=1,
            inputs="fused",
            revisits=3,
            model_cfg=MODEL,
            training_cfg=dict(cfg, seeds=[seed]),
            threads=1,
            model_out=tmp_path / f"{tag}.pt",
            history_out=tmp_path / f"{tag}.csv",
        )
        runs.append((torch.load(tmp_path / f"{tag}.pt", weights_only=True), pd.read_csv(tmp_path / f"{tag}.csv")))
    (ca, ha), (cb, hb), (cc, _) = runs
    assert ca["state_dict"].keys() == cb["state_dict"].keys()
    assert all(torch.equal(ca["state_dict"][k], cb["state_dict"][k]) for k in ca["state_dict"])
    pd.testing.assert_frame_equal(ha.drop(columns="seconds"), hb.drop(columns="seconds"))
    assert list(ha.columns) == ["seed", "epoch", "train_loss", "val_loss", "seconds"] and len(ha) >= 1
    assert not all(torch.equal(ca["state_dict"][k], cc["state_dict"][k]) for k in ca["state_dict"])


def test_ensemble_member_equals_the_same_seed_trained_alone(tmp_path: Path) -> None:
    """Seeds [0, 1, 2] trained as one ensemble: member 1 has the weights and history of seed 1
    trained alone (to float tolerance), and replacing seed 2 by 7 changes only member 2."""
    from landslide_sar.nn.ensemble import unpack_state

    table = make_chips(tmp_path / "chips.zarr", n=12, size=16)
    cfg = dict(TRAINING, max_epochs=5, patience=2, batch_size=4)

    def run(tag: str, seeds: list[int]) -> tuple[list[dict], pd.DataFrame, dict]:
        train_density(
            tmp_path / "chips.zarr",
            table,
            half=0,
            inputs="fused",
            revisits=3,
            model_cfg=MODEL,
            training_cfg=dict(cfg, seeds=seeds),
            threads=1,
            model_out=tmp_path / f"{tag}.pt",
            history_out=tmp_path / f"{tag}.csv",
        )
        ckpt = torch.load(tmp_path / f"{tag}.pt", weights_only=True)
        return unpack_state(ckpt["state_dict"], len(seeds)), pd.read_csv(tmp_path / f"{tag}.csv"), ckpt

    ens, hist, ckpt = run("ens", [0, 1, 2])
    alone, hist1, ckpt1 = run("alone", [1])
    other, hist_o, _ = run("other", [0, 1, 7])
    assert ckpt["seeds"] == [0, 1, 2] and ckpt["config"]["members"] == 3
    for name, value in alone[0].items():
        torch.testing.assert_close(ens[1][name], value, rtol=1e-4, atol=1e-5)
    cols = ["epoch", "train_loss", "val_loss"]
    pd.testing.assert_frame_equal(hist[hist["seed"] == 1][cols].reset_index(drop=True), hist1[cols], rtol=1e-4)
    assert ckpt["best_epoch"][1] == ckpt1["best_epoch"][0]
    for k in (0, 1):
        assert all(
            torch.equal(other[k][n], ens[k][n]) or torch.allclose(other[k][n], ens[k][n], atol=1e-6) for n in ens[k]
        )
    assert not all(torch.allclose(other[2][n], ens[2][n]) for n in ens[2])
    assert not all(torch.allclose(ens[0][n], ens[1][n]) for n in ens[0])  # members differ from each other


def test_chips_loaded_block_by_block_equal_loaded_at_once(tmp_path: Path) -> None:
    from landslide_sar.density.chip_io import load_chips, open_chips
    from landslide_sar.density.train import load_standardised
    from landslide_sar.nn.preprocess import standardise

    table = make_chips(tmp_path / "chips.zarr", n=12, size=16)
    ds = open_chips(tmp_path / "chips.zarr")
    names = [str(c) for c in ds["channel"].values]
    dem_idx, sar_idx = select_channels(names, "fused", 2)
    channels, is_sar = [names[i] for i in dem_idx + sar_idx], [False] * len(dem_idx) + [True] * len(sar_idx)
    train = table.query("half == 0 and subset == 'train'")["chip"].to_numpy()
    val = table.query("half == 0 and subset == 'val'")["chip"].to_numpy()
    raw = load_chips(ds, train, channels)
    mean, std = channel_stats(to_model_units(raw, is_sar))
    chip_bytes = (len(channels) + 1) * 16 * 16 * 4
    for block in (10**9, 3 * chip_bytes, 1):  # all at once, 3 chips a block, 1 chip a block
        (tr, va), m, sd = load_standardised(ds, [train, val], channels, is_sar, block_bytes=block)
        np.testing.assert_allclose(m, mean, rtol=1e-6)
        np.testing.assert_allclose(sd, std, rtol=1e-6)
        for (x, label, valid), ids in ((tr, train), (va, val)):
            z = to_model_units(load_chips(ds, ids, channels), is_sar)
            v = np.isfinite(z).all(axis=1)
            z = standardise(z, m, sd)
            assert np.array_equal(x.numpy(), z) and np.array_equal(valid.numpy(), v)
            assert np.array_equal(label.numpy(), np.nan_to_num(load_chips(ds, ids, ["landslides"])[:, 0]) > 0.5)


def run_toy_event(d: Path, drop_db: float) -> pd.DataFrame:
    """Both halves trained and applied to every chip, then evaluated; returns the chip table."""
    table = make_chips(d / "chips.zarr", drop_db=drop_db)
    for h in (0, 1):  # trained and applied to every chip in one call, as the rule does
        train_density(
            d / "chips.zarr",
            table,
            half=h,
            inputs="fused",
            revisits=3,
            model_cfg=MODEL,
            training_cfg=TRAINING,
            threads=1,
            model_out=d / f"model{h}.pt",
            history_out=d / f"history{h}.csv",
            percentiles=PERCENTILES,
            features_out=d / f"features{h}.csv",
            embeddings_out=d / f"embeddings{h}.zarr",
        )
    forest = dict(seed=0, n_estimators=100)
    evaluate_density(table, d / "features0.csv", d / "features1.csv", forest, d / "metrics.csv", d / "predictions.csv")
    density_forests(table, d / "features0.csv", d / "features1.csv", forest, d / "forests.skops")
    return table


def test_prediction_in_the_training_job_equals_the_saved_model_applied(toy_event: tuple[Path, pd.DataFrame]) -> None:
    """train_density's own features and maps are those of its checkpoint reloaded (predict_density,
    rapid response's path): the in-memory net is the saved one."""
    d, _ = toy_event
    predict_density(d / "chips.zarr", d / "model0.pt", PERCENTILES, 1, d / "again.csv", d / "again.zarr")
    pd.testing.assert_frame_equal(pd.read_csv(d / "again.csv"), pd.read_csv(d / "features0.csv"))
    a, b = (xr.open_zarr(d / name)["embedding"].values for name in ("again.zarr", "embeddings0.zarr"))
    assert a.shape[0] == len(TRAINING["seeds"]) and np.array_equal(a, b, equal_nan=True)


def test_both_halves_in_one_call_equal_each_half_alone(toy_event: tuple[Path, pd.DataFrame], tmp_path: Path) -> None:
    """The rule's call (half=[0, 1], one path per half) trains and predicts exactly what one call
    per half does; a list of the wrong length is one line."""
    d, table = toy_event
    outs = {
        k: [tmp_path / f"{k}{h}{ext}" for h in (0, 1)]
        for k, ext in (("model", ".pt"), ("history", ".csv"), ("features", ".csv"), ("embeddings", ".zarr"))
    }
    train_density(
        d / "chips.zarr",
        table,
        half=[0, 1],
        inputs="fused",
        revisits=3,
        model_cfg=MODEL,
        training_cfg=TRAINING,
        threads=1,
        model_out=outs["model"],
        history_out=outs["history"],
        percentiles=PERCENTILES,
        features_out=outs["features"],
        embeddings_out=outs["embeddings"],
    )
    for h in (0, 1):
        a, b = (torch.load(p, weights_only=True)["state_dict"] for p in (outs["model"][h], d / f"model{h}.pt"))
        assert all(torch.equal(a[k], b[k]) for k in a)
        pd.testing.assert_frame_equal(pd.read_csv(outs["features"][h]), pd.read_csv(d / f"features{h}.csv"))
    with pytest.raises(InputError, match="1 model_out path"):
        train_density(
            d / "chips.zarr",
            table,
            half=[0, 1],
            inputs="fused",
            revisits=3,
            model_cfg=MODEL,
            training_cfg=TRAINING,
            threads=1,
            model_out=outs["model"][:1],
            history_out=outs["history"],
        )
    # the halves share one read of the chips, so they must read the same channels
    from landslide_sar.density.chip_io import open_chips
    from landslide_sar.density.predict import Prediction, load_model, write_all_predictions

    model, ckpt = load_model(d / "model0.pt")
    other = {**ckpt, "channels": list(reversed(ckpt["channels"]))}
    with pytest.raises(InputError, match="reads channels .* expected the same"):
        write_all_predictions(
            [
                Prediction(model, ckpt, tmp_path / "a.csv", tmp_path / "a.zarr"),
                Prediction(model, other, tmp_path / "b.csv", tmp_path / "b.zarr"),
            ],
            open_chips(d / "chips.zarr"),
            PERCENTILES,
        )
    assert not (tmp_path / "a.csv").exists()


def test_saved_forests_are_the_evaluated_ones(toy_event: tuple[Path, pd.DataFrame]) -> None:
    """density_forests refits what evaluate_density scored: half k's forests, applied to the
    other half's features, give exactly the cross-predicted probabilities (members' mean)."""
    from landslide_sar.density.forest_io import load_forests

    d, _ = toy_event
    forests = load_forests(d / "forests.skops")
    pred = pd.read_csv(d / "predictions.csv").set_index("chip")
    feats = [pd.read_csv(d / f"features{h}.csv") for h in (0, 1)]
    for h in (0, 1):
        chips = pred.index[pred["half"] == 1 - h].to_numpy()
        probs = []
        for seed, by_half in sorted(forests.items()):
            f = feats[h][feats[h]["seed"] == seed].drop(columns="seed").set_index("chip").loc[chips]
            p = np.zeros((chips.size, 3))
            p[:, by_half[h].classes_.astype(int)] = by_half[h].predict_proba(f.to_numpy())
            probs.append(p)
        want = pred.loc[chips, ["prob_class0", "prob_class1", "prob_class2"]].to_numpy()
        np.testing.assert_allclose(np.mean(probs, axis=0), want, atol=1e-12)


@pytest.fixture(scope="module")
def toy_event(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    d = tmp_path_factory.mktemp("density")
    return d, run_toy_event(d, drop_db=6.0)


def test_toy_event_without_sar_signal_stays_near_chance(tmp_path: Path) -> None:
    """Negative control: no post-event SAR drop, so nothing (labels included) may leak into the AUC."""
    run_toy_event(tmp_path, drop_db=0.0)
    metrics = read_metrics(tmp_path / "metrics.csv")
    assert metrics.loc[("both", "cross"), "auc_macro_ovr"] < 0.65


def test_toy_event_cross_prediction_beats_chance(toy_event: tuple[Path, pd.DataFrame]) -> None:
    d, table = toy_event
    metrics = pd.read_csv(d / "metrics.csv", dtype={**METRICS_DTYPES, "split": str})
    assert list(metrics.columns) == [
        "seed",
        "ensemble",
        "split",
        "subset",
        "n_chips",
        "auc_macro_ovr",
        "auc_ci_low",
        "auc_ci_high",
        "auc_class0",
        "auc_class1",
        "auc_class2",
        "accuracy",
    ]
    # the interval over chips: on the rows over all chips only, around the estimate
    both_rows = metrics[metrics["split"] == "both"]
    assert metrics.loc[metrics["split"] != "both", "auc_ci_low"].isna().all()
    cross_rows = both_rows[both_rows["subset"] == "cross"]
    assert (cross_rows["auc_ci_low"] < cross_rows["auc_macro_ovr"]).all()
    assert (cross_rows["auc_macro_ovr"] < cross_rows["auc_ci_high"]).all()
    assert metrics[["split", "subset"]].values.tolist() == [
        ["0", "train"],
        ["0", "val"],
        ["0", "cross"],
        ["1", "train"],
        ["1", "val"],
        ["1", "cross"],
        ["both", "cross"],
        ["both", "cross"],
        ["both", "no_skill"],
    ]
    # seed: an integer, empty on the rows of no member; `ensemble` flags the members' mean
    assert str(metrics["seed"].dtype) == "Int64" and metrics[ENSEMBLE].dtype == bool
    assert metrics["seed"].tolist()[:7] == [0] * 7 and metrics["seed"].iloc[7:].isna().all()
    assert metrics[ENSEMBLE].tolist() == [False] * 7 + [True, False]
    assert pd.read_csv(d / "metrics.csv")["seed"].iloc[:7].tolist() == [0] * 7  # no strings in the column
    # one member: the ensemble's cross-prediction is the member's
    assert metrics["auc_macro_ovr"].iloc[6] == pytest.approx(metrics["auc_macro_ovr"].iloc[7])
    metrics = read_metrics(d / "metrics.csv").reset_index()
    both = metrics.set_index(["split", "subset"]).loc[("both", "cross")]
    no_skill = metrics.set_index(["split", "subset"]).loc[("both", "no_skill")]
    assert both["n_chips"] == 40 and both["auc_macro_ovr"] > 0.7
    assert no_skill["auc_macro_ovr"] == pytest.approx(0.5) and both["accuracy"] > no_skill["accuracy"]
    assert metrics.query("subset == 'cross' and split != 'both'")["n_chips"].tolist() == [20, 20]

    pred = pd.read_csv(d / "predictions.csv")
    assert list(pred.columns) == [
        "chip",
        "half",
        "density_class",
        "predicted_class",
        "prob_class0",
        "prob_class1",
        "prob_class2",
        "prob_class0_sd",
        "prob_class1_sd",
        "prob_class2_sd",
    ]
    assert (pred[["prob_class0_sd", "prob_class1_sd", "prob_class2_sd"]] == 0).all().all()  # one member
    assert sorted(pred["chip"]) == sorted(table["chip"])
    np.testing.assert_allclose(pred[["prob_class0", "prob_class1", "prob_class2"]].sum(axis=1), 1.0)
    merged = pred.merge(table[["chip", "half", "density_class"]], on="chip", suffixes=("", "_t"))
    assert (merged["half"] == merged["half_t"]).all() and (merged["density_class"] == merged["density_class_t"]).all()
    confusion = pd.read_csv(confusion_path(d / "metrics.csv"), index_col="true_class")
    assert confusion.shape == (3, 3) and confusion.to_numpy().sum() == 40
    assert np.trace(confusion.to_numpy()) == (pred["predicted_class"] == pred["density_class"]).sum()


def test_toy_event_outputs(toy_event: tuple[Path, pd.DataFrame]) -> None:
    d, table = toy_event
    ckpt = torch.load(d / "model0.pt", weights_only=True)
    assert ckpt["channels"][:4] == ["dem", "dem_slope_radians", "dem_curvature", "dem_aspect"]
    assert len(ckpt["channels"]) == 16 and ckpt["config"]["n_sar"] == 12 and 1 <= ckpt["best_epoch"][0] <= 15
    assert ckpt["seeds"] == [0] and ckpt["config"]["members"] == 1
    history = pd.read_csv(d / "history0.csv")
    assert history["val_loss"].min() == pytest.approx(ckpt["best_loss"][0])
    assert history["train_loss"].iloc[-1] < history["train_loss"].iloc[0]

    feats = pd.read_csv(d / "features0.csv")
    assert list(feats.columns) == ["seed", "chip"] + [f"p{p:02d}" for p in PERCENTILES]
    assert feats["chip"].tolist() == table["chip"].tolist() and (feats["seed"] == 0).all()
    values = feats.drop(columns=["seed", "chip"]).to_numpy()
    assert np.all(np.diff(values, axis=1) >= 0) and values.min() >= 0 and values.max() <= 1

    emb = xr.open_zarr(d / "embeddings0.zarr")["embedding"]
    assert emb.dims == ("seed", "chip", "y", "x") and emb.shape == (1, 40, 32, 32)
    e103 = emb.sel(seed=0, chip=103).values
    assert np.isnan(e103[:2, :3]).all() and np.isfinite(e103[2:]).all()  # nodata pixels of chip 103
    # the maps are high where the toy landslides are: class-2 chips have a higher median than class-0
    median = feats.set_index("chip")["p50"]
    assert (
        median[table.query("density_class == 2")["chip"]].mean()
        > median[table.query("density_class == 0")["chip"]].mean()
    )


# --- evaluation edge cases -----------------------------------------------------------------


def test_evaluate_absent_class_gives_nan_and_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    chips = np.arange(12)
    cls = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 0, 0])  # the val chips (9..11) hold only class 0
    table = pd.DataFrame(
        {"chip": chips, "density_class": cls, "half": np.r_[[0] * 12], "subset": ["train"] * 9 + ["val"] * 3}
    )
    table = pd.concat([table, table.assign(chip=chips + 100, half=1)], ignore_index=True)
    table.loc[len(table)] = {"chip": 999, "density_class": 2, "half": -1, "subset": "excluded"}
    rng = np.random.default_rng(0)
    all_chips = table["chip"].to_numpy()
    feats = pd.DataFrame(rng.normal(size=(all_chips.size, 3)) * 0.01, columns=["p05", "p50", "p95"])
    feats["p50"] += table["density_class"].to_numpy()  # perfectly separable
    feats.insert(0, "chip", all_chips)
    points = gpd.points_from_xy(np.arange(len(table)), np.zeros(len(table)))
    gpd.GeoDataFrame(table, geometry=points, crs="EPSG:32619").to_file(tmp_path / "chips.gpkg", layer="chips")
    with caplog.at_level(logging.WARNING, logger="landslide_sar.density.evaluate"):
        evaluate_density(
            tmp_path / "chips.gpkg", feats, feats, dict(seed=0, n_estimators=20), tmp_path / "m.csv", tmp_path / "p.csv"
        )
    metrics = read_metrics(tmp_path / "m.csv")
    assert np.isnan(metrics.loc[("0", "val"), "auc_macro_ovr"]) and np.isnan(metrics.loc[("0", "val"), "auc_class1"])
    assert metrics.loc[("0", "val"), "accuracy"] == 1.0
    assert metrics.loc[("both", "cross"), "auc_macro_ovr"] > 0.9 and metrics.loc[("both", "cross"), "n_chips"] == 24
    assert metrics.loc[("both", "no_skill"), ["auc_class0", "auc_class1", "auc_class2"]].tolist() == [0.5] * 3
    assert metrics.loc[("both", "no_skill"), "accuracy"] == pytest.approx(12 / 24)  # majority class 0
    assert "AUC undefined" in caplog.text
    assert 999 not in pd.read_csv(tmp_path / "p.csv")["chip"].tolist()


def test_rapid_response_classifies_every_chip_with_both_halves(toy_event: tuple[Path, pd.DataFrame]) -> None:
    """The saved forests + each half's features classify every chip without reading labels; the
    ensemble's probabilities are the mean of the two halves' and rank the true classes."""
    from sklearn.metrics import roc_auc_score

    from landslide_sar.density.rapid import classify_chips

    d, table = toy_event
    pred = classify_chips(
        d / "features0.csv",
        d / "features1.csv",
        d / "forests.skops",
        d / "rapid.csv",
        chips_table=table,
        min_valid_fraction=0.9,
    )
    assert sorted(pred["chip"]) == sorted(pd.read_csv(d / "features0.csv")["chip"])
    assert (pred["density_class"] == -1).all() and (pred["half"] == -1).all()
    probs = pred[["prob_class0", "prob_class1", "prob_class2"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    truth = table.set_index("chip").loc[pred["chip"], "density_class"].to_numpy()
    assert roc_auc_score(truth, probs, multi_class="ovr", average="macro", labels=[0, 1, 2]) > 0.7


def _chips_without_valid_sar(d: Path, out: Path) -> pd.DataFrame:
    """The toy event's chips as a new, unlabelled area (labels NaN) whose first 6 chips have no
    valid SAR pixel (0 %) and the 7th valid SAR on half its rows (50 %); returns its chip table
    (valid_fraction from the chips, as make_chips computes it; grid of 5 x 8 chips of 320 m)."""
    ds = xr.open_zarr(d / "chips.zarr").load()
    data = ds["chips"].values.copy()
    data[:, -1] = np.nan  # no inventory
    data[:6, 4:-1] = np.nan
    data[6, 4:-1, :16] = np.nan
    ds["chips"] = (ds["chips"].dims, data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(out, mode="w")
    valid = np.isfinite(data[:, :-1]).all(axis=1).mean(axis=(1, 2))
    ids = ds["chip"].values
    row, col = np.arange(ids.size) // 8, np.arange(ids.size) % 8
    boxes = [box(320 * c, -320 * (r + 1), 320 * (c + 1), -320 * r) for r, c in zip(row, col)]
    return gpd.GeoDataFrame(
        {
            "chip": ids,
            "row": row,
            "col": col,
            "valid_fraction": valid,
            "density_class": -1,
            "half": -1,
            "subset": np.where(valid >= 0.9, "unlabelled", "excluded"),
        },
        geometry=boxes,
        crs="EPSG:32619",
    )


def test_rapid_response_gives_no_class_to_chips_without_enough_valid_sar(
    toy_event: tuple[Path, pd.DataFrame], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Chips with 0 % valid SAR (and one with 50 %, below chips.min_valid_fraction 0.9) in a new
    area: their features are NaN, not percentiles of a map made from nodata filled in; they get
    no class (predicted_class empty, probabilities NaN), the log counts them, and the map leaves
    them 255 (no prediction); even predictions that give them a class are not mapped."""
    import rasterio

    from landslide_sar.density.map import NODATA, density_map
    from landslide_sar.density.rapid import classify_chips

    d, _ = toy_event
    table = _chips_without_valid_sar(d, tmp_path / "chips.zarr")
    table.to_file(tmp_path / "chips.gpkg", layer="chips", driver="GPKG")
    short = table["chip"].to_numpy()[:7]
    for h in (0, 1):
        predict_density(
            tmp_path / "chips.zarr", d / f"model{h}.pt", PERCENTILES, 1, tmp_path / f"f{h}.csv", tmp_path / f"e{h}.zarr"
        )
    feats = pd.read_csv(tmp_path / "f0.csv").set_index("chip").drop(columns="seed")
    assert feats.loc[short[:6]].isna().all().all() and feats.drop(index=short[:6]).notna().all().all()
    with caplog.at_level(logging.INFO, logger="landslide_sar.density"):
        pred = classify_chips(
            tmp_path / "f0.csv",
            tmp_path / "f1.csv",
            d / "forests.skops",
            tmp_path / "rapid.csv",
            chips_table=tmp_path / "chips.gpkg",
            min_valid_fraction=0.9,
        )
    assert "7 chips without prediction: valid fraction (SAR and DEM) below chips.min_valid_fraction 0.9" in caplog.text
    back = pd.read_csv(tmp_path / "rapid.csv").set_index("chip")
    probs = [f"prob_class{c}" for c in (0, 1, 2)]
    assert back.loc[short, "predicted_class"].isna().all() and back.loc[short, probs].isna().all().all()
    rest = back.drop(index=short)
    assert rest["predicted_class"].isin([0, 1, 2]).all() and len(rest) == 33 and len(pred) == 40
    np.testing.assert_allclose(rest[probs].sum(axis=1), 1.0)

    def mapped(predictions: Path) -> np.ndarray:
        density_map(
            tmp_path / "chips.gpkg",
            predictions,
            tmp_path / "map.tif",
            tmp_path / "map.gpkg",
            tmp_path / "prob.tif",
            min_valid_fraction=0.9,
        )
        with rasterio.open(tmp_path / "map.tif") as src:
            return src.read(1)

    classes = mapped(tmp_path / "rapid.csv")
    assert (classes.ravel()[:7] == NODATA).all() and (classes.ravel()[7:] != NODATA).all()
    # predictions that classify every chip (as rapid response did before): the map still gives none
    caplog.clear()
    back.assign(predicted_class=2, **{p: 1 / 3 for p in probs}).to_csv(tmp_path / "all.csv")
    with caplog.at_level(logging.INFO, logger="landslide_sar.density"):
        classes = mapped(tmp_path / "all.csv")
    assert (classes.ravel()[:7] == NODATA).all() and (classes.ravel()[7:] == 2).all()
    assert "gives 7 chip(s) with valid fraction below chips.min_valid_fraction 0.9 a class" in caplog.text
    assert "7 chips without prediction: 7 with valid fraction" in caplog.text
    gpkg = gpd.read_file(tmp_path / "map.gpkg", layer="chips").set_index("chip")
    assert gpkg.loc[short, "predicted_class"].isna().all()


def test_rapid_response_refuses_chips_of_another_resolution_size_or_channels(
    toy_event: tuple[Path, pd.DataFrame], tmp_path: Path
) -> None:
    """predict_density with the chips the model was trained on (10 m, 32 px, 3 acquisitions before
    the event) refuses, before writing anything, chips at 30 m, of 16 px, or with 4 acquisitions
    before (its vv_pre1 another acquisition than the model's): one line naming both areas."""
    d, _ = toy_event
    toy = xr.open_zarr(d / "chips.zarr").load()

    def chips(name: str, resolution: float = 10.0, size: int = 32, n_pre: int = 3) -> Path:
        ds = toy
        if size != 32:
            ds = ds.isel(y=slice(0, size), x=slice(0, size))
        if n_pre == 4:  # an earlier acquisition first: the toy's pre1 is this area's pre2
            data = ds["chips"].values
            data = np.concatenate([data[:, :4], data[:, 4:6], data[:, 4:]], axis=1)
            ds = xr.Dataset(
                {"chips": (("chip", "channel", "y", "x"), data)},
                coords={"chip": ds["chip"].values, "channel": channel_list(4, 3)},
            )
        ds = ds.assign_attrs(size=size, resolution=resolution)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.to_zarr(tmp_path / name, mode="w")
        return tmp_path / name

    trained = chips("trained.zarr")
    net = ", ".join(channel_list(3, 3)[:-1])
    cases = {
        "30 m": (chips("coarse.zarr", resolution=30.0), f"30 m, chips 32 px, channels [{net}]", "resolution"),
        "16 px": (chips("small.zarr", size=16), f"10 m, chips 16 px, channels [{net}]", "chip size"),
        "4 pre": (
            chips("longer.zarr", n_pre=4),
            f"10 m, chips 32 px, channels [{net.replace('vh_pre3, ', 'vh_pre3, vv_pre4, vh_pre4, ')}]",
            "channels",
        ),
    }
    out = tmp_path / "f.csv", tmp_path / "e.zarr"
    for new, setup, differ in cases.values():
        with pytest.raises(InputError) as err:
            predict_density(
                new, d / "model0.pt", PERCENTILES, 1, *out, trained_chips=trained, trained_area="toy", area="new"
            )
        assert str(err.value) == (
            f"rapid_response.new: model trained on toy at 10 m, chips 32 px, channels [{net}]; area new is {setup}; "
            f"expected the same {differ} (a model reads pixels, chips and channels as it was trained on)"
        )
        assert not out[0].exists() and not out[1].exists()
    with pytest.raises(
        InputError, match=r"rapid_response.new: chips of toy have no attribute\(s\) \['resolution', 'size'\]"
    ):
        predict_density(
            trained,
            d / "model0.pt",
            PERCENTILES,
            1,
            *out,
            trained_chips=d / "chips.zarr",
            trained_area="toy",
            area="new",
        )
    predict_density(
        trained, d / "model0.pt", PERCENTILES, 1, *out, trained_chips=trained, trained_area="toy", area="new"
    )
    pd.testing.assert_frame_equal(pd.read_csv(out[0]), pd.read_csv(d / "features0.csv"))


def test_train_auc_is_out_of_bag_not_in_sample(tmp_path: Path) -> None:
    """Features of pure noise: a forest scored on its own fitting chips would give AUC 1; the
    train row is out-of-bag, so it stays near chance like the val and cross rows."""
    rng = np.random.default_rng(3)
    n = 200
    chips = np.arange(2 * n)
    table = pd.DataFrame(
        {
            "chip": chips,
            "density_class": rng.integers(0, 3, chips.size),
            "half": np.repeat([0, 1], n),
            "subset": np.tile(["train"] * 160 + ["val"] * 40, 2),
        }
    )
    feats = pd.DataFrame(rng.normal(size=(chips.size, 5)), columns=[f"p{i}" for i in range(5)])
    feats.insert(0, "chip", chips)
    points = gpd.points_from_xy(np.arange(len(table)), np.zeros(len(table)))
    gpd.GeoDataFrame(table, geometry=points, crs="EPSG:32619").to_file(tmp_path / "chips.gpkg", layer="chips")
    evaluate_density(
        tmp_path / "chips.gpkg", feats, feats, dict(seed=0, n_estimators=100), tmp_path / "m.csv", tmp_path / "p.csv"
    )
    metrics = read_metrics(tmp_path / "m.csv")
    for half in ("0", "1"):
        train = metrics.loc[(half, "train")]
        assert train["n_chips"] == 160  # every train chip has an out-of-bag score with 100 trees
        assert abs(train["auc_macro_ovr"] - 0.5) < 0.1, train


# --- the experiments' codec (landslide_sar.density.experiments) -------------------------------------


def _default_config() -> dict:
    import yaml

    return yaml.safe_load((Path(__file__).resolve().parent.parent / "config.yaml").read_text())


def test_every_default_density_experiment_round_trips_through_its_id() -> None:
    from landslide_sar.density import experiments as grid

    config = _default_config()
    seeds = grid.split_seeds(config)
    exps = grid.experiments(config)
    # schemes x seeds x (DEM once + SAR, fused, change x 2 revisits + the baseline x 2 revisits)
    assert len(exps) == len({e.id for e in exps}) == 2 * 2 * (1 + 3 * 2 + 2)
    assert all(grid.parse(e.id, seeds) == e for e in exps)
    assert [e.id for e in exps[:2]] == ["dem_r0", "sar_r1"] and exps[-1].id == "baseline_r3_blocked_s43"
    assert grid.map_experiment(config) is None  # density.map: best, chosen at run time by validation scores
    assert [e.id for e in grid.map_candidates(config)] == [e.id for e in exps if e.scheme == "blocked"]
    named = {**config, "density": {**config["density"], "map": {"inputs": "fused", "revisits": 3}}}
    assert grid.map_experiment(named).path("embedded", "predictions.csv") == (
        "results/embedded/density/fused_r3/predictions.csv"
    )
    assert all(e.first_split and e.scheme == "random" for e in grid.net_experiments(config))


def test_a_density_id_decodes_to_its_fields_and_a_malformed_one_is_refused() -> None:
    from landslide_sar.density.experiments import Experiment, parse

    e = parse("fused_r3_blocked_s43", [42, 43])
    assert e == Experiment("fused", 3, "blocked", 43, False)
    assert (e.setting, e.split, e.base) == ("fused_r3_blocked", "_blocked_s43", "fused_r3")
    assert parse("dem_r0", [42, 43]) == Experiment("dem", 0, "random", 42, True)
    assert Experiment("baseline", 2, "blocked").half_features("a") == ["results/a/density/baseline_r2/features.csv"] * 2
    for bad in ("fused_r3_s42", "fused3", "fused_r3_blocky", "lidar_r1", "fused_r3/x"):
        with pytest.raises(ValueError, match="density experiment") as err:
            parse(bad, [42, 43])
        assert "\n" not in str(err.value)
