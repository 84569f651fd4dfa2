"""Known answers for the density grid's reference rows and its differences: the multilooked
net, the change baseline's features, the oracle of a hand-built truth, the paired differences."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import torch
import xarray as xr
from rasterio.transform import from_origin
from scipy.stats import poisson
from shapely.geometry import box

from landslide_sar.density.baseline import BASELINE_LAYERS, baseline_features, change_layers, chip_statistics
from landslide_sar.density.differences import comparisons, density_differences
from landslide_sar.density.experiments import Experiment
from landslide_sar.density.model import DensityNet
from landslide_sar.density.oracle import class_probabilities, oracle_metrics
from landslide_sar.errors import InputError
from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES
from landslide_sar.stats import HOLDS, REVERSED, WITHIN_NOISE, macro_auc

NAMES = [
    "dem",
    "dem_slope_radians",
    "dem_curvature",
    "dem_aspect",
    "vv_pre1",
    "vh_pre1",
    "vv_pre2",
    "vh_pre2",
    "vv_post1",
    "vh_post1",
    "vv_post2",
    "vh_post2",
    "landslides",
]


# --- multilook ----------------------------------------------------------------------------------


def test_multilooked_net_is_the_net_on_averaged_inputs_repeated_over_its_pixels() -> None:
    torch.manual_seed(0)
    net = DensityNet(4, 8, width=5, depth=2, multilook=2).eval()
    plain = DensityNet(4, 8, width=5, depth=2, multilook=1).eval()
    plain.load_state_dict(net.state_dict())
    x = torch.randn(3, 12, 16, 16)
    out = net(x)
    assert out.shape == (3, 1, 16, 16)
    want = plain(torch.nn.functional.avg_pool2d(x, 2))  # (3, 1, 8, 8)
    torch.testing.assert_close(out[..., ::2, ::2], want)
    torch.testing.assert_close(out[..., 1::2, 1::2], want)
    with pytest.raises(ValueError, match="multiple of multilook"):
        net(torch.randn(1, 12, 15, 16))
    with pytest.raises(InputError, match="multilook=0"):
        DensityNet(4, 8, width=5, depth=2, multilook=0)


# --- change baseline ------------------------------------------------------------------------------


def _chips(n: int = 2, size: int = 4) -> np.ndarray:
    data = np.ones((n, len(NAMES), size, size), np.float32)
    for c, name in enumerate(NAMES):
        if name.startswith("vv_pre") or name.startswith("vh_pre"):
            data[:, c] = 0.1  # -10 dB
        elif name.endswith("post1"):
            data[:, c] = 0.01  # -20 dB
        elif name.endswith("post2"):
            data[:, c] = 0.1  # -10 dB
    data[:, NAMES.index("dem")] = np.arange(size * size).reshape(size, size)
    return data


def test_change_layers_known_answers() -> None:
    data = _chips()
    one = change_layers(data, NAMES, 1)
    assert one.shape == (2, len(BASELINE_LAYERS), 4, 4)
    np.testing.assert_allclose(one[:, 0], -10.0, atol=1e-5)  # vv: post1 -20 dB minus pre -10 dB
    np.testing.assert_allclose(one[:, 1], -10.0, atol=1e-5)
    np.testing.assert_allclose(change_layers(data, NAMES, 2)[:, 0], -5.0, atol=1e-5)  # mean(-20, -10) + 10
    np.testing.assert_array_equal(one[:, 2], data[:, 0])  # the DEM as is
    data[0, NAMES.index("vv_pre2"), 0, 0] = np.nan
    assert np.isnan(change_layers(data, NAMES, 1)[0, 0, 0, 0])
    with pytest.raises(InputError, match="revisits=3"):
        change_layers(data, NAMES, 3)


def test_chip_statistics_are_nan_safe_percentiles() -> None:
    layers = np.arange(2 * 1 * 4 * 4, dtype=np.float32).reshape(2, 1, 4, 4)
    layers[1, 0, 0, :] = np.nan
    stats = chip_statistics(layers, [0, 50, 100])
    np.testing.assert_allclose(stats[0], [0, 7.5, 15])
    np.testing.assert_allclose(stats[1], [20, 25.5, 31])  # 16..31 without 16..19


def test_baseline_features_ignore_the_labels(tmp_path: Path) -> None:
    data = _chips(3)
    ids = np.array([5, 6, 7])

    def write(d: np.ndarray, name: str) -> pd.DataFrame:
        ds = xr.Dataset({"chips": (("chip", "channel", "y", "x"), d)}, coords={"chip": ids, "channel": NAMES})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.to_zarr(tmp_path / f"{name}.zarr", mode="w")
        baseline_features(tmp_path / f"{name}.zarr", 1, [10, 90], tmp_path / f"{name}.csv")
        return pd.read_csv(tmp_path / f"{name}.csv")

    a = write(data, "a")
    assert a["chip"].tolist() == [5, 6, 7] and a.shape[1] == 1 + 2 * len(BASELINE_LAYERS)
    assert a["vv_change_db_p10"].tolist() == pytest.approx([-10.0] * 3, abs=1e-4)
    data[:, -1] = 1.0  # every pixel a landslide: nothing a real run would not have may change
    pd.testing.assert_frame_equal(a, write(data, "b"))


# --- oracle ---------------------------------------------------------------------------------------


def test_class_probabilities_of_poisson_counts() -> None:
    p = class_probabilities(np.array([0.0, 2.0, 60.0]), chip_km2=1.6384, class_edges=[0, 25])
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[0].tolist() == [1.0, 0.0, 0.0]  # no expected head: certainly class 0
    assert p[1, 0] == pytest.approx(math.exp(-2.0))  # P(N = 0)
    assert p[2, 2] == pytest.approx(1 - poisson.cdf(40, 60.0))  # class 2: more than 25 * 1.6384 heads


def test_oracle_of_a_hand_built_truth_gives_the_analytic_auc(tmp_path: Path) -> None:
    """4 chips of 2 x 2 px (10 m): rates per chip 0, 0.5, 5, 50 expected heads; the oracle row's
    AUC is the AUC of their Poisson class probabilities against the observed classes."""
    res, size = 10.0, 2
    mu = np.array([0.0, 0.5, 5.0, 50.0])
    rate = np.zeros((2 * size, 2 * size), np.float32)
    geoms = []
    for i, m in enumerate(mu):
        r, c = divmod(i, 2)
        rate[r * size : (r + 1) * size, c * size : (c + 1) * size] = m / size**2
        geoms.append(box(c * size * res, -(r + 1) * size * res, (c + 1) * size * res, -r * size * res))
    classes = [0, 2, 1, 2]  # observed classes (a draw of the counts)
    table = gpd.GeoDataFrame(
        {
            "chip": range(4),
            "density_class": classes,
            "half": [0, 1, 0, 1],
            "subset": ["train", "train", "val", "train"],
        },
        geometry=geoms,
        crs="EPSG:32619",
    )
    table.to_file(tmp_path / "chips.gpkg", layer="chips", driver="GPKG")
    bands = np.zeros((9, *rate.shape), np.float32)
    bands[5] = rate
    names = (
        "elevation",
        "rain",
        "land_cover",
        "landslide_fraction",
        "storm_damage",
        "rate",
        "layover_shadow",
        "incidence_deg",
        "epicentre_distance_m",
    )
    with rasterio.open(
        tmp_path / "truth.tif",
        "w",
        driver="GTiff",
        width=rate.shape[1],
        height=rate.shape[0],
        count=9,
        dtype="float32",
        crs="EPSG:32619",
        transform=from_origin(0, 0, res, res),
    ) as dst:
        dst.write(bands)
        dst.descriptions = names
    chip_km2 = (size * res) ** 2 / 1e6  # 0.0004 km²: class 1 holds 1 head (2500 per km²), class 2 more
    out = oracle_metrics(
        tmp_path / "chips.gpkg",
        tmp_path / "truth.tif",
        [0, 2500],
        0.2,
        {"samples": 200, "seed": 0, "interval": 0.95},
        tmp_path / "oracle.csv",
    )
    want = class_probabilities(0.8 * mu, chip_km2, [0, 2500])  # 20 % of the heads are not mapped
    assert out["auc_macro_ovr"].iloc[0] == pytest.approx(float(macro_auc(np.array(classes), want, (0, 1, 2))))
    assert pd.isna(out["seed"].iloc[0]) and not out[ENSEMBLE].iloc[0] and out["subset"].iloc[0] == "oracle_rate"
    assert pd.read_csv(tmp_path / "oracle.csv")["n_chips"].iloc[0] == 4


@pytest.mark.parametrize("terrain", ["3x rate", "flat"])
def test_oracle_dem_row_from_the_terrain_part_of_the_rate(tmp_path: Path, terrain: str) -> None:
    """The DEM row scales the terrain part of the rate to the area's mean: a terrain part
    proportional to the rate knows everything the rate knows (the same AUC as the full oracle);
    a flat one knows nothing (every class's AUC 0.5)."""
    res, size = 10.0, 2
    mu = np.array([0.0, 0.5, 5.0, 50.0, 2.0, 20.0])
    rate = np.zeros((3 * size, 2 * size), np.float32)
    geoms = []
    for i, m in enumerate(mu):
        r, c = divmod(i, 2)
        rate[r * size : (r + 1) * size, c * size : (c + 1) * size] = m / size**2
        geoms.append(box(c * size * res, -(r + 1) * size * res, (c + 1) * size * res, -r * size * res))
    classes = [0, 1, 2, 2, 1, 2]
    table = gpd.GeoDataFrame(
        {"chip": range(6), "density_class": classes, "half": [0, 1] * 3, "subset": ["train"] * 6},
        geometry=geoms,
        crs="EPSG:32619",
    )
    table.to_file(tmp_path / "chips.gpkg", layer="chips", driver="GPKG")
    from landslide_sar.synthetic.files import TRUTH_BANDS

    bands = np.zeros((len(TRUTH_BANDS), *rate.shape), np.float32)
    bands[TRUTH_BANDS.index("rate")] = rate
    bands[TRUTH_BANDS.index("terrain_rate")] = 3 * rate if terrain == "3x rate" else 1.0
    with rasterio.open(
        tmp_path / "truth.tif",
        "w",
        driver="GTiff",
        width=rate.shape[1],
        height=rate.shape[0],
        count=len(TRUTH_BANDS),
        dtype="float32",
        crs="EPSG:32619",
        transform=from_origin(0, 0, res, res),
    ) as dst:
        dst.write(bands)
        dst.descriptions = TRUTH_BANDS
    out = oracle_metrics(
        tmp_path / "chips.gpkg",
        tmp_path / "truth.tif",
        [0, 2500],
        0.0,
        {"samples": 200, "seed": 0, "interval": 0.95},
        tmp_path / "oracle.csv",
    ).set_index("subset")
    assert list(out.index) == ["oracle_rate", "oracle_dem"]
    if terrain == "3x rate":
        assert out.loc["oracle_dem", "auc_macro_ovr"] == pytest.approx(out.loc["oracle_rate", "auc_macro_ovr"])
    else:
        assert out.loc["oracle_dem", ["auc_class0", "auc_class1", "auc_class2"]].tolist() == [0.5] * 3


# --- paired differences ---------------------------------------------------------------------------


def test_comparisons_of_a_grid() -> None:
    grid = [("dem", 0), ("sar", 1), ("sar", 3), ("fused", 1), ("fused", 3), ("baseline", 1), ("baseline", 3)]
    pairs = {(a, b) for _, a, b in comparisons([Experiment(i, r) for i, r in grid])}
    assert {
        ("fused_r3", "sar_r3"),
        ("sar_r1", "dem_r0"),
        ("fused_r3", "fused_r1"),
        ("fused_r3", "baseline_r3"),
    } <= pairs
    assert ("fused_r2", "sar_r2") not in pairs  # not in the grid


def _experiment(d: Path, name: str, y: np.ndarray, probs: list[np.ndarray]) -> tuple[Path, Path]:
    rows = [
        {"seed": k, ENSEMBLE: False, "split": "both", "subset": "cross", "auc_macro_ovr": macro_auc(y, p, (0, 1, 2))}
        for k, p in enumerate(probs)
    ]
    mean = np.mean(probs, axis=0)
    ens_auc = macro_auc(y, mean, (0, 1, 2))
    rows.append({"seed": pd.NA, ENSEMBLE: True, "split": "both", "subset": "cross", "auc_macro_ovr": ens_auc})
    (d / name).mkdir()
    pd.DataFrame(rows).to_csv(d / name / "metrics.csv", index=False)
    pred = pd.DataFrame(
        {"chip": np.arange(y.size), "density_class": y, **{f"prob_class{c}": mean[:, c] for c in range(3)}}
    )
    pred.to_csv(d / name / "predictions.csv", index=False)
    return d / name / "metrics.csv", d / name / "predictions.csv"


def test_differences_known_answers(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1, 2], 40)
    good = [np.eye(3)[y] * 2 + rng.random((y.size, 3)) for _ in range(3)]
    good = [g / g.sum(axis=1, keepdims=True) for g in good]
    noise = [rng.dirichlet([1, 1, 1], y.size) for _ in range(3)]
    paths = [
        _experiment(tmp_path, "fused_r1", y, good),
        _experiment(tmp_path, "sar_r1", y, good),
        _experiment(tmp_path, "dem_r0", y, noise),
    ]
    out = density_differences(
        {e: m for e, (m, _) in zip(("fused_r1", "sar_r1", "dem_r0"), paths)},
        {e: p for e, (_, p) in zip(("fused_r1", "sar_r1", "dem_r0"), paths)},
        [42],
        {"samples": 300, "seed": 0, "interval": 0.95},
        tmp_path / "d.csv",
        tmp_path / "d.md",
    ).set_index(["a", "b"])
    same = out.loc[("fused_r1", "sar_r1")]  # identical scores: exactly no difference
    assert (same["member_diff"], same["member_diff_sd"], same["ensemble_diff"], same["ci_low"], same["ci_high"]) == (
        0,
        0,
        0,
        0,
        0,
    )
    assert same["verdict"] == WITHIN_NOISE
    vs_dem = out.loc[("sar_r1", "dem_r0")]
    assert vs_dem["n_runs"] == 3 and vs_dem["ci_low"] > 0.2 and vs_dem["verdict"] == HOLDS
    want = np.mean([macro_auc(y, g, (0, 1, 2)) - macro_auc(y, n, (0, 1, 2)) for g, n in zip(good, noise)])
    assert vs_dem["member_diff"] == pytest.approx(want)
    assert "holds" in (tmp_path / "d.md").read_text()


def test_differences_pool_split_seeds_and_pair_the_baseline_within_each_split(tmp_path: Path) -> None:
    """Two split seeds: runs are (split seed, training seed) pairs; the one-member baseline of a
    split is paired with every net member of that split; the ensembles average every run's
    probabilities (density.pool), so the ensemble difference is that of the pooled means."""
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], 30)
    exps, paths, pooled = [], [], {}
    for split_seed in (42, 43):
        for name, n_members in (("sar_r1", 3), ("baseline_r1", 1)):
            probs = [rng.dirichlet([1, 1, 1], y.size) + np.eye(3)[y] * rng.uniform(0.2, 1.0) for _ in range(n_members)]
            probs = [p / p.sum(axis=1, keepdims=True) for p in probs]
            sub = tmp_path / str(split_seed)
            sub.mkdir(exist_ok=True)
            paths.append(_experiment(sub, name, y, probs))
            exps.append(name + ("" if split_seed == 42 else f"_s{split_seed}"))
            pooled.setdefault(name, []).append(np.mean(probs, axis=0))
    out = density_differences(
        {e: m for e, (m, _) in zip(exps, paths)},
        {e: p for e, (_, p) in zip(exps, paths)},
        [42, 43],
        {"samples": 200, "seed": 0, "interval": 0.95},
        tmp_path / "d.csv",
        tmp_path / "d.md",
    ).set_index(["a", "b"])
    row = out.loc[("sar_r1", "baseline_r1")]
    runs = []
    for split_seed in (42, 43):
        m = {
            n: pd.read_csv(tmp_path / str(split_seed) / n / "metrics.csv", dtype=METRICS_DTYPES)
            for n in ("sar_r1", "baseline_r1")
        }
        base = m["baseline_r1"].loc[m["baseline_r1"]["seed"] == 0, "auc_macro_ovr"].iloc[0]
        net = m["sar_r1"][~m["sar_r1"][ENSEMBLE]]["auc_macro_ovr"]
        runs += list(net - base)
    assert row["n_runs"] == 6 and row["member_diff"] == pytest.approx(np.mean(runs))
    want = macro_auc(y, np.mean(pooled["sar_r1"], axis=0), (0, 1, 2)) - macro_auc(
        y, np.mean(pooled["baseline_r1"], axis=0), (0, 1, 2)
    )
    assert row["ensemble_diff"] == pytest.approx(want)


def test_differences_against_the_label_free_detector(tmp_path: Path) -> None:
    """The label-free chips table joins the differences as b (no split, no training): its
    "probabilities" are the rank_probabilities of each chip's flagged share, its one run is paired
    with every member of a under each split seed, and a chip ranking that follows the classes
    beats a net of noise while a net that knows the classes beats it."""
    from landslide_sar.density.label_free import rank_probabilities

    rng = np.random.default_rng(2)
    y = np.repeat([0, 1, 2], 30)
    share = y * 0.1 + rng.uniform(0, 0.15, y.size)  # ranks the classes, not perfectly
    free = pd.DataFrame({"chip": np.arange(y.size), "revisits": 1, "density_class": y, "share_above": share})
    free = pd.concat([free, free.assign(revisits=2, share_above=rng.random(y.size))])  # 2 revisits: no information
    free.to_csv(tmp_path / "chips.csv", index=False)
    noise = [rng.dirichlet([1, 1, 1], y.size) for _ in range(3)]
    sure = [np.eye(3)[y] * 0.9 + 0.1 / 3 for _ in range(3)]
    paths = {
        "sar_r1": _experiment(tmp_path, "sar_r1", y, noise),
        "baseline_r1": _experiment(tmp_path, "baseline_r1", y, sure[:1]),
        "sar_r2": _experiment(tmp_path, "sar_r2", y, noise),
    }
    out = density_differences(
        {e: m for e, (m, _) in paths.items()},
        {e: p for e, (_, p) in paths.items()},
        [42],
        {"samples": 300, "seed": 0, "interval": 0.95},
        tmp_path / "d.csv",
        tmp_path / "d.md",
        label_free_chips=tmp_path / "chips.csv",
    ).set_index("comparison")
    free_auc = macro_auc(y, rank_probabilities(share), (0, 1, 2))
    net = out.loc["SAR-only - label-free detector, 1 revisits"]
    assert net["b"] == "label_free_r1" and net["n_runs"] == 3
    assert net["ensemble_b"] == pytest.approx(free_auc) and net["verdict"] == REVERSED
    want = np.mean([macro_auc(y, p, (0, 1, 2)) for p in noise]) - free_auc
    assert net["member_diff"] == pytest.approx(want)
    base = out.loc["change baseline - label-free detector, 1 revisits"]
    assert base["n_runs"] == 1 and base["ensemble_a"] == pytest.approx(1.0) and base["verdict"] == HOLDS
    assert out.loc["SAR-only - label-free detector, 2 revisits", "verdict"] == WITHIN_NOISE
    assert "label-free detector" in (tmp_path / "d.md").read_text()
