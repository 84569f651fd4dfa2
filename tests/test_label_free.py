"""The label-free z-score detector (landslide_sar.label_free) with known answers: a known dB shift
inside a known polygon, the masks, the no-change false-alarm share, the chip summaries; and its
reference rows in the detection and density grids."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from conftest import snakemake, tiny_config, write_config
from rasterio.features import rasterize
from rasterio.transform import from_origin
from scipy import integrate, stats
from shapely.geometry import Polygon

from landslide_sar.config import validate_config
from landslide_sar.errors import ConfigError, InputError
from landslide_sar.label_free import (
    MAD_TO_SIGMA,
    SUMMARY_COLUMNS,
    LabelFreeScore,
    LabelFreeSettings,
    chip_summary,
    label_free_score,
    nanmedian_last,
    pooled_sigma,
    z_score,
)

ROOT = Path(__file__).resolve().parent.parent
N = 40  # pixels a side of the hand-built grids


def polygon_mask(n: int = N) -> np.ndarray:
    """A known polygon (a triangle) rasterised on an n x n grid of unit pixels."""
    poly = Polygon([(8, 8), (30, 10), (14, 32)])
    return rasterize([(poly, 1)], out_shape=(n, n), transform=from_origin(0, n, 1, 1)).astype(bool)[::-1]


def alternating_stack(level: np.ndarray, n_dates: int, a: float) -> np.ndarray:
    """n_dates acquisitions of `level` +a, -a, +a, ... dB: every deviation from the (even n) mean is a."""
    signs = np.array([1.0 if t % 2 == 0 else -1.0 for t in range(n_dates)])
    return level[None] + a * signs[:, None, None]


def test_a_known_shift_inside_a_polygon_gives_the_analytic_z_and_zero_outside() -> None:
    rng = np.random.default_rng(1)
    inside = polygon_mask()
    assert 150 < inside.sum() < 300
    level_vv = rng.uniform(-12, -6, (N, N))  # every pixel its own level: the mean is per pixel
    level_vh = level_vv - 7.0
    a, n_pre, n_post, shift = 0.5, 4, 2, -3.0
    pre_vv, pre_vh = alternating_stack(level_vv, n_pre, a), alternating_stack(level_vh, n_pre, a)
    post_vv = np.repeat(level_vv[None], n_post, axis=0)
    post_vh = np.repeat((level_vh + shift * inside)[None], n_post, axis=0)
    sigma = MAD_TO_SIGMA * a * np.sqrt(n_pre / (n_pre - 1))  # |deviation| = a everywhere
    np.testing.assert_allclose(pooled_sigma(pre_vh, 5), sigma, rtol=1e-9)
    z_vh, mean_vh = z_score(pre_vh, post_vh, 5)
    expected = shift / (sigma * np.sqrt(1 / n_post + 1 / n_pre))
    np.testing.assert_allclose(z_vh[inside], expected, rtol=1e-9)
    np.testing.assert_allclose(z_vh[~inside], 0.0, atol=1e-9)
    np.testing.assert_allclose(mean_vh, level_vh, atol=1e-9)
    slope = np.full((N, N), 30.0)
    for w_vv in (0.0, 0.5, 0.8):
        r = label_free_score(pre_vv, pre_vh, post_vv, post_vh, slope, LabelFreeSettings(vv_weight=w_vv))
        # VV unchanged: the score is the VH decrease, Stouffer-weighted
        w_vh = 1 - w_vv
        np.testing.assert_allclose(r.score[inside], w_vh * -expected / np.hypot(w_vh, w_vv), rtol=1e-5)
        np.testing.assert_allclose(r.score[~inside], 0.0, atol=1e-6)
        assert (r.mask == 0).all() and r.counts == {"scored": N * N, "nodata": 0, "water": 0, "flat": 0}
    # a VV change of either sign adds its magnitude; a VH rise lowers the score
    up = label_free_score(pre_vv, pre_vh, post_vv + 2.0 * inside, post_vh, slope).score
    down = label_free_score(pre_vv, pre_vh, post_vv - 2.0 * inside, post_vh, slope).score
    np.testing.assert_allclose(up, down, rtol=1e-6)
    assert (up[inside] > label_free_score(pre_vv, pre_vh, post_vv, post_vh, slope).score[inside]).all()
    rise = label_free_score(pre_vv, pre_vh, post_vv, post_vh - 2 * shift * inside, slope)
    assert (rise.score[inside] < 0).all()


def test_a_noisy_shift_is_found_near_its_analytic_z() -> None:
    rng = np.random.default_rng(2)
    inside = polygon_mask()
    sd, n_pre, n_post, shift = 1.0, 4, 3, -4.0
    pre = rng.normal(-15, sd, (n_pre, N, N))
    post = rng.normal(-15, sd, (n_post, N, N)) + shift * inside
    z, _ = z_score(pre, post, 5)
    expected = shift / (sd * np.sqrt(1 / n_post + 1 / n_pre))  # -5.2
    assert np.median(z[inside]) == pytest.approx(expected, rel=0.15)
    assert abs(np.median(z[~inside])) < 0.15


def test_masks_land_where_expected_and_are_counted() -> None:
    rng = np.random.default_rng(3)
    pre_vv, pre_vh = rng.normal(-8, 1, (3, N, N)), rng.normal(-15, 1, (3, N, N))
    post_vv, post_vh = rng.normal(-8, 1, (2, N, N)), rng.normal(-15, 1, (2, N, N))
    slope = np.full((N, N), 25.0)
    water = np.zeros((N, N), bool)
    water[:5, :] = True  # a lake: dark VV before the event
    pre_vv[:, water] = -24.0 + rng.normal(0, 0.5, (3, int(water.sum())))
    flat = np.zeros((N, N), bool)
    flat[-6:, :] = True
    slope[flat] = 4.0
    nodata = np.zeros((N, N), bool)
    nodata[20, 20] = nodata[21, 3] = nodata[0, 0] = True  # (0, 0) is also water: no data comes first
    pre_vh[:, 20, 20] = np.nan  # no pre-event VH at all
    post_vv[:, 21, 3] = np.nan  # no post-event VV
    slope[0, 0] = np.nan  # no slope
    pre_vh[1, 30, 30] = np.nan  # one date missing: still scored, from the other two
    r = label_free_score(pre_vv, pre_vh, post_vv, post_vh, slope)
    assert (r.mask[nodata] == 1).all()
    assert (r.mask[water & ~nodata] == 2).all()
    assert (r.mask[flat] == 3).all()
    assert (r.mask[~(nodata | water | flat)] == 0).all() and np.isfinite(r.score[30, 30])
    assert np.isneginf(r.score[r.mask > 0]).all() and np.isfinite(r.score[r.mask == 0]).all()
    assert r.counts == {
        "scored": int((~(nodata | water | flat)).sum()),
        "nodata": 3,
        "water": int((water & ~nodata).sum()),
        "flat": int(flat.sum()),
    }
    # the thresholds come from the settings
    loose = label_free_score(pre_vv, pre_vh, post_vv, post_vh, slope, LabelFreeSettings(water_db=-30, min_slope_deg=0))
    assert loose.counts["water"] == loose.counts["flat"] == 0


def stouffer_tail(threshold: float, vv_weight: float) -> float:
    """P(score > threshold) on unchanged ground with known spread: -z_vh and |z_vv| independent
    standard normal and half-normal."""
    a, b = 1.0 - vv_weight, vv_weight
    if b == 0:
        return float(stats.norm.sf(threshold))
    t = threshold * np.hypot(a, b)
    return float(integrate.quad(lambda y: 2 * stats.norm.pdf(y) * stats.norm.sf((t - b * y) / a), 0, np.inf)[0])


@pytest.mark.parametrize("vv_weight", [0.0, 0.5])
def test_no_change_flags_about_the_expected_false_alarm_share(vv_weight: float) -> None:
    """Gaussian dB noise, no change: the share above z 3 is the normal (or, with VV's magnitude,
    the Stouffer sum's) tail, once the pooled spread rests on many samples (a 13 x 13 window); with
    the default 5 x 5 window and 4 dates (~100 deviations) the estimated spread's own noise
    roughly doubles it (docs/method.md)."""
    rng = np.random.default_rng(4)
    n = 160
    pre = rng.normal(-12, 1.0, (2, 4, n, n))
    post = rng.normal(-12, 1.0, (2, 3, n, n))
    slope = np.full((n, n), 30.0)
    expected = stouffer_tail(3.0, vv_weight)
    assert expected == pytest.approx(0.00135 if vv_weight == 0 else 0.0027, rel=0.01)
    wide = label_free_score(pre[0], pre[1], post[0], post[1], slope, LabelFreeSettings(13, vv_weight))
    share = float((wide.score > 3.0).mean())
    assert 0.6 * expected < share < 1.6 * expected
    default = label_free_score(pre[0], pre[1], post[0], post[1], slope, LabelFreeSettings(vv_weight=vv_weight))
    assert 1.0 * expected < float((default.score > 3.0).mean()) < 2.6 * expected


def test_chip_summary_of_a_hand_made_score() -> None:
    score = np.array([[1.0, 2.0, 3.5, 4.0], [5.0, -np.inf, -np.inf, -np.inf]], dtype=np.float32)
    mask = np.array([[0, 0, 0, 0], [0, 1, 2, 3]], dtype=np.uint8)
    z = np.zeros_like(score)
    s = chip_summary(LabelFreeScore(score, z, z, mask), threshold=3.0)
    assert list(s) == list(SUMMARY_COLUMNS)
    assert s["share_above"] == pytest.approx(3 / 5)  # 3.5, 4, 5 of the five scored pixels
    assert s["score_p50"] == pytest.approx(3.5)
    assert s["score_p90"] == pytest.approx(np.percentile([1, 2, 3.5, 4, 5], 90))
    assert s["score_p99"] == pytest.approx(np.percentile([1, 2, 3.5, 4, 5], 99))
    assert (s["n_scored"], s["n_nodata"], s["n_water"], s["n_flat"]) == (5, 1, 1, 1)
    empty = chip_summary(LabelFreeScore(score, z, z, np.ones_like(mask)))
    assert np.isnan(empty["share_above"]) and np.isnan(empty["score_p50"]) and empty["n_scored"] == 0


def test_settings_are_the_schemas_defaults_and_bad_ones_are_refused() -> None:
    schema = yaml.safe_load((ROOT / "schemas" / "config.schema.yaml").read_text())
    props = schema["properties"]["label_free"]["properties"]
    assert {k: v["default"] for k, v in props.items()} == LabelFreeSettings().__dict__
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(config)
    assert LabelFreeSettings.from_config(config["label_free"]) == LabelFreeSettings()
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["label_free"] = {"window_px": 4}
    with pytest.raises(ConfigError, match="label_free.window_px = 4"):
        validate_config(config)
    with pytest.raises(InputError, match="unknown key"):
        LabelFreeSettings.from_config({"window": 5})
    with pytest.raises(InputError, match="vv_weight"):
        LabelFreeSettings(vv_weight=1.5)


# --- the detection grid ---------------------------------------------------------------------------


def detection_chips_with_a_scar(n_chips: int = 3, size: int = 24):  # noqa: ANN201 - DetectionChips
    """Linear VV/VH chips, 4 dates before and 2 after; a VH drop of 6 dB on the labelled pixels."""
    from landslide_sar.detection.data import DetectionChips

    rng = np.random.default_rng(5)
    label = np.zeros((n_chips, size, size), np.uint8)
    label[:, 8:14, 6:16] = 1
    pre = 10 ** (rng.normal([-8, -15], 0.7, (n_chips, 4, size, size, 2)).transpose(0, 1, 4, 2, 3) / 10)
    post = 10 ** (rng.normal([-8, -15], 0.7, (n_chips, 2, size, size, 2)).transpose(0, 1, 4, 2, 3) / 10)
    post[:, :, 1] *= np.where(label[:, None] > 0, 10 ** (-0.6), 1.0)
    dem = np.zeros((n_chips, 4, size, size))
    dem[:, 1] = 25.0
    dem[:, 1, :, :3] = 2.0  # a flat strip: no call there
    zeros = np.zeros(n_chips, int)
    return DetectionChips(pre, post, dem, label, zeros, zeros, np.zeros((n_chips, size)), np.zeros((n_chips, size)))


def test_detection_label_free_score_ranks_the_scar_first_and_keeps_masked_pixels_lowest() -> None:
    from landslide_sar.detection.baseline import label_free_score as detection_score
    from landslide_sar.detection.evaluate import auprc

    chips = detection_chips_with_a_scar()
    score = detection_score(chips, 2)
    assert score.shape == chips.label.shape and score.dtype == np.float32
    assert np.isneginf(score[:, :, :3]).all()  # the flat strip
    assert auprc(chips.label, score) > 0.95
    # masked pixels stay in the evaluation, ranked lowest: a scar pixel masked costs recall
    masked = chips.label.copy()
    masked[:, 8:14, :3] = 1
    assert auprc(masked, score) < auprc(chips.label, score)
    with pytest.raises(InputError, match="revisits=3"):
        detection_score(chips, 3)


def test_detection_grid_has_label_free_rows_and_differences() -> None:
    from landslide_sar.detection.differences import LABEL_FREE, PAIRED_REFS, comparisons
    from landslide_sar.detection.experiments import Experiment
    from landslide_sar.detection.table import METHODS, markdown_tables

    exps = [Experiment("within", i, r, False, "a", None, True) for i in ("sar", "fused") for r in (1, 4)]
    exps += [Experiment("transfer", "sar", 4, False, "a", "b", False)]
    pairs = {(label, exp, a, b) for label, exp, a, b in comparisons(exps)}
    assert ("U-Net SAR+DEM - label-free detector, 4 revisits", "within", "fused_r4_noaug", LABEL_FREE) in pairs
    assert ("U-Net VV+VH - label-free detector", "transfer", "sar_r4_noaug", LABEL_FREE) in pairs
    # the references against each other: once per within revisits and once in transfer, hosted
    # by the first input set run (they read no net)
    refs = {p for p in pairs if p[3] == PAIRED_REFS}
    assert refs == {
        ("label-free detector - VH change baseline, 1 revisits", "within", "sar_r1_noaug", PAIRED_REFS),
        ("label-free detector - VH change baseline, 4 revisits", "within", "sar_r4_noaug", PAIRED_REFS),
        ("label-free detector - VH change baseline", "transfer", "sar_r4_noaug", PAIRED_REFS),
    }
    rows = [
        {"experiment": "within", "method": m, "seed": pd.NA, "ensemble": m == "unet", "region": "a", "subset": "test"}
        | {"auprc": v, "auprc_ci_low": v - 0.1, "auprc_ci_high": v + 0.1, "inputs": "sar", "revisits": 4, "n_pre": 4}
        | {"augment": False, "elevation": False, "split_seed": 0, "n_chips": 3, "n_labelled_chips": 2}
        for m, v in (("unet", 0.5), ("handwerger", 0.3), ("label_free", 0.4), ("no_skill", 0.05))
    ]
    table = pd.DataFrame(rows)
    table["n_seeds"] = 1
    md = markdown_tables(table)
    assert f"| {METHODS['label_free']} | 0.400 [0.300, 0.500] |" in md


# --- the density grid -----------------------------------------------------------------------------


def test_rank_probabilities_order_the_classes() -> None:
    from landslide_sar.density.label_free import rank_probabilities
    from landslide_sar.stats import macro_auc

    score = np.array([0.0, 0.01, 0.02, 0.2, 0.25, 0.3, 0.6, 0.7, 0.9])
    p = rank_probabilities(score)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert (np.diff(p[:, 2]) > 0).all() and (np.diff(p[:, 0]) < 0).all() and p[:, 1].argmax() == 4
    y = np.repeat([0, 1, 2], 3)
    assert float(macro_auc(y, p, (0, 1, 2))) == pytest.approx(1.0)
    p = rank_probabilities(np.array([np.nan, 0.5, 0.1]))  # no scored pixel: the lowest rank
    assert p[0, 2] < p[2, 2] < p[1, 2]


def write_density_chips(path: Path, classes: list[int], size: int = 32) -> pd.DataFrame:
    """Density chips (linear VV/VH of 3 dates before and 2 after, DEM, label) with a VH scar
    covering a share of each chip that grows with its class; the chip table."""
    from landslide_sar.chips import DEM_CHANNELS, LABEL_CHANNEL

    rng = np.random.default_rng(6)
    names = [f"{p}_{s}{k}" for s, n in (("pre", 3), ("post", 2)) for k in range(1, n + 1) for p in ("vv", "vh")]
    names += [*DEM_CHANNELS, LABEL_CHANNEL]
    data = np.empty((len(classes), len(names), size, size), np.float32)
    for i, c in enumerate(classes):
        for j, name in enumerate(names):
            if name.startswith(("vv", "vh")):
                level = -8.0 if name.startswith("vv") else -15.0
                db = rng.normal(level, 0.7, (size, size))
                if name.startswith("vh_post"):
                    db[: 6 * c + (i % 3), :] -= 6.0  # the scar's rows
                data[i, j] = 10 ** (db / 10)
            else:
                data[i, j] = np.radians(30.0) if name == "dem_slope_radians" else 0.0
    ids = np.arange(10, 10 + len(classes))
    ds = xr.Dataset({"chips": (("chip", "channel", "y", "x"), data)}, coords={"chip": ids, "channel": names})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ds.to_zarr(path, mode="w")
    half = [k % 2 for k in range(len(classes))]
    subset = ["excluded" if k == len(classes) - 1 else "train" for k in range(len(classes))]
    return pd.DataFrame({"chip": ids, "density_class": classes, "half": half, "subset": subset})


def test_density_label_free_rows_rank_chips_by_their_flagged_share(tmp_path: Path) -> None:
    from landslide_sar.density.label_free import label_free_metrics

    classes = [0, 1, 2] * 4 + [1]
    table = write_density_chips(tmp_path / "chips.zarr", classes)
    table.to_csv(tmp_path / "chips.csv", index=False)
    metrics = label_free_metrics(
        tmp_path / "chips.zarr",
        tmp_path / "chips.csv",
        [2, 1],
        {"threshold": 3.0},
        {"samples": 200, "seed": 0, "interval": 0.9},
        tmp_path / "metrics.csv",
        tmp_path / "scores.csv",
    )
    assert metrics["revisits"].tolist() == [1, 2] and (metrics["subset"] == "label_free").all()
    assert (metrics["n_chips"] == 12).all()  # the excluded chip is not scored
    np.testing.assert_allclose(metrics["auc_macro_ovr"], 1.0)
    assert (metrics["auc_ci_low"] <= metrics["auc_macro_ovr"]).all() and metrics["seed"].isna().all()
    scores = pd.read_csv(tmp_path / "scores.csv")
    assert len(scores) == 24 and set(SUMMARY_COLUMNS) <= set(scores.columns)
    by_class = scores[scores["revisits"] == 2].groupby("density_class")["share_above"].mean()
    assert by_class[0] < 0.02 < by_class[1] < by_class[2]
    # labels never enter: other classes, the same scores
    table["density_class"] = table["density_class"][::-1].to_numpy()
    table.to_csv(tmp_path / "other.csv", index=False)
    label_free_metrics(
        tmp_path / "chips.zarr", tmp_path / "other.csv", [1, 2], None, None, tmp_path / "m2.csv", tmp_path / "s2.csv"
    )
    other = pd.read_csv(tmp_path / "s2.csv")
    pd.testing.assert_frame_equal(scores.drop(columns="density_class"), other.drop(columns="density_class"))


def test_density_table_and_figure_show_the_label_free_row(tmp_path: Path) -> None:
    from landslide_sar.density.evaluate import METRIC_COLUMNS
    from landslide_sar.density.figures import plot_density_grid
    from landslide_sar.density.table import REFERENCE_NAMES, density_table

    def net_rows(auc: float) -> pd.DataFrame:
        rows = [
            {"seed": 0, "ensemble": False, "split": str(h), "subset": s, "auc_macro_ovr": auc}
            for h in (0, 1)
            for s in ("train", "val")
        ]
        rows += [{"seed": 0, "ensemble": False, "split": "both", "subset": "cross", "auc_macro_ovr": auc}]
        rows += [{"seed": pd.NA, "ensemble": True, "split": "both", "subset": "cross", "auc_macro_ovr": auc}]
        df = pd.DataFrame(rows).reindex(columns=METRIC_COLUMNS)
        return df.assign(n_chips=40, auc_ci_low=auc - 0.1, auc_ci_high=auc + 0.1)

    files = {}
    for exp, auc in (("dem_r0", 0.6), ("fused_r1", 0.7), ("fused_r2", 0.75)):
        files[exp] = tmp_path / f"{exp}.csv"
        net_rows(auc).to_csv(files[exp], index=False)
    free = pd.DataFrame(
        [{"revisits": r, "seed": pd.NA, "ensemble": False, "split": "both", "subset": "label_free"} for r in (1, 2)]
    ).reindex(columns=["revisits", *METRIC_COLUMNS])
    free = free.assign(n_chips=40, auc_macro_ovr=[0.81, 0.83], auc_ci_low=[0.71, 0.74], auc_ci_high=[0.9, 0.91])
    free.to_csv(tmp_path / "free.csv", index=False)
    table = density_table(
        files, [42], tmp_path / "metrics.csv", tmp_path / "metrics.md", label_free_paths=[tmp_path / "free.csv"]
    )
    rows = table[table["inputs"] == "label_free"]
    assert rows["revisits"].tolist() == [1, 2] and rows["auc_macro_ovr"].tolist() == [0.81, 0.83]
    md = (tmp_path / "metrics.md").read_text()
    line = next(x for x in md.splitlines() if x.startswith(f"| {REFERENCE_NAMES['label_free']} |"))
    assert line.split(" | ")[3] == "0.810 [0.71, 0.90]" and line.split(" | ")[7] == "0.830 [0.74, 0.91]"
    plot_density_grid(tmp_path / "metrics.csv", tmp_path / "grid.png")
    assert (tmp_path / "grid.png").read_bytes()[:4] == b"\x89PNG"


def test_the_density_label_free_rule_on_the_tiny_event(tmp_path: Path) -> None:
    """The rule alone with what it needs (the tiny event up to its chips, ~35 s on 2 cores): its
    rows, per-chip summaries, log and benchmark; every chip the nets are scored on is ranked."""
    import geopandas as gpd

    cfg = tiny_config()
    cfg["label_free"] = {"threshold": 2.5}
    config = write_config(tmp_path / "config.yaml", cfg)
    snakemake(tmp_path, config, "--cores", "2", "results/tiny/density/label_free/metrics.csv")
    out = tmp_path / "results" / "tiny" / "density" / "label_free"
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["revisits"].tolist() == [1, 3] and (metrics["subset"] == "label_free").all()
    assert metrics["auc_macro_ovr"].between(0.5, 1).all()  # the twin's scars: better than chance, untrained
    table = gpd.read_file(tmp_path / "results" / "tiny" / "chips" / "chips.gpkg", layer="chips")
    scored = table[table["half"].isin([0, 1]) & table["subset"].isin(["train", "val"])]
    assert (metrics["n_chips"] == len(scored)).all()
    chips = pd.read_csv(out / "chips.csv")
    assert sorted(chips.loc[chips["revisits"] == 1, "chip"]) == sorted(scored["chip"])
    assert chips["n_flat"].sum() > 0 and chips["share_above"].between(0, 1).all()
    assert "label-free, 3 revisit(s)" in (tmp_path / "logs" / "tiny" / "density_label_free.log").read_text()
    assert (tmp_path / "benchmarks" / "tiny" / "density_label_free.tsv").exists()


def test_the_pooled_median_is_numpys_nanmedian_to_the_bit() -> None:
    """nanmedian_last replaces np.nanmedian in pooled_sigma for speed, so every z-score, change
    channel and AUC stays what it was: odd and even counts, rows with NaN and with no finite value."""
    rng = np.random.default_rng(3)
    samples = rng.normal(-10.0, 2.0, (40, 30, 100))
    samples[rng.random(samples.shape) < 0.3] = np.nan
    samples[3, 4, :] = np.nan  # no finite sample
    samples[5, 6, 0], samples[5, 6, 1:] = -9.0, np.nan  # one
    samples[7, 8, :2], samples[7, 8, 2:] = (-9.0, -8.5), np.nan  # two: the mean of both
    samples[9, 10, :] = np.round(samples[9, 10, :])  # ties
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nanmedian(samples, axis=-1)
    got = nanmedian_last(samples)
    assert np.isnan(got[3, 4]) and got[5, 6] == -9.0 and got[7, 8] == -8.75
    np.testing.assert_array_equal(got, expected)
