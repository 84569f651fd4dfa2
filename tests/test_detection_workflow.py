"""The detection part of the workflow (rules/detection.smk) end to end on two tiny regions of
config.yaml's detection setup: train_detection per experiment, detection_oracle, detection_table,
detection_differences, detection_figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import ROOT, snakemake, write_config

from landslide_sar.nn import ENSEMBLE, METRICS_DTYPES

pytestmark = pytest.mark.filterwarnings("ignore:Consolidated metadata")


def tiny_detection_config() -> dict:
    """config.yaml's detection regions and section alone (no density area: `embedded` dropped) on
    two ~2 x 2 km regions, 32-pixel chips (36 a region), 2 epochs, a reduced grid, 200 bootstrap samples."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    del cfg["areas"]["embedded"]
    cfg["density"]["areas"] = []
    cfg["areas"]["region_a"]["bbox"] = [-66.70, 18.25, -66.68, 18.27]
    cfg["areas"]["region_b"]["bbox"] = [-67.05, 18.15, -67.03, 18.17]  # apart from region_a, as config.yaml
    for area in cfg["areas"].values():
        area["sentinel1"]["acquisitions_pre"] = area["sentinel1"]["acquisitions_post"] = 2
    det = cfg["detection"]
    det["within"].update(inputs=["vh", "fused"], revisits=[1, 2])
    det["transfer"].update(inputs=["sar"], revisits=2, augment=[False, True])
    det["map"] = {"inputs": "sar", "augment": True}
    det["chips"].update(size=32, max_revisits=2)
    det["model"].update(base_width=4, depth=2, blocks_per_stage=1)
    det["training"].update(seeds=[0, 1], max_epochs=2, patience=2, device="cpu")
    det.setdefault("evaluation", {})["curve_points"] = 50  # the rest: the schema's defaults
    cfg["bootstrap"]["samples"] = 200
    return cfg


@pytest.fixture(scope="module")
def detection_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("detection_run")
    config = write_config(workdir / "config.yaml", tiny_detection_config())
    snakemake(workdir, config, "--cores", "2", "detection_all")
    return workdir


def test_detection_table_and_figures(detection_run: Path) -> None:
    out = detection_run / "results" / "detection"
    table = pd.read_csv(out / "metrics.csv", dtype=METRICS_DTYPES)
    assert {
        "experiment",
        "method",
        "seed",
        "ensemble",
        "region",
        "subset",
        "auprc",
        "no_skill",
        "inputs",
        "revisits",
        "augment",
    } <= set(table.columns)
    all_unet = table[table["method"] == "unet"]
    # each member (its training seed), and their mean probability (seed empty, flagged `ensemble`)
    assert set(all_unet.loc[~all_unet[ENSEMBLE], "seed"]) == {0, 1}
    assert all_unet.loc[all_unet[ENSEMBLE], "seed"].isna().all()
    # every experiment under both split seeds (chips.split_seeds), each its own test chips
    assert set(all_unet["split_seed"]) == {42, 43}
    assert (
        all_unet.groupby(["experiment", "inputs", "revisits", "augment", "region", "subset"])["split_seed"]
        .nunique()
        .eq(2)
        .all()
    )
    assert (out / "within" / "vh_r1_noaug_s43" / "metrics.csv").exists() and (
        out / "within" / "vh_r1_noaug" / "metrics.csv"
    ).exists()
    both = all_unet[all_unet[ENSEMBLE] & (all_unet["subset"] == "test") & (all_unet["experiment"] == "within")]
    split_rows = both.set_index(["inputs", "revisits", "split_seed"])["n_positive"].unstack()
    assert (split_rows[42] != split_rows[43]).any()  # another split: other test chips
    unet = all_unet[all_unet[ENSEMBLE] & (all_unet["split_seed"] == 42)]
    # within: 2 input sets x 2 revisits x (train, val, test); transfer: 2 augmentations x (train, val,
    # test of region_a; test of region_b)
    within = unet[unet["experiment"] == "within"]
    assert set(zip(within["inputs"], within["revisits"])) == {(b, n) for b in ("vh", "fused") for n in (1, 2)}
    assert set(within["subset"]) == {"train", "val", "test"} and set(within["region"]) == {"region_a"}
    transfer = unet[unet["experiment"] == "transfer"]
    assert set(transfer["augment"]) == {True, False} and set(transfer["inputs"]) == {"sar"}
    assert set(zip(transfer["subset"], transfer["region"])) == {
        ("train", "region_a"),
        ("val", "region_a"),
        ("test", "region_a"),
        ("test", "region_b"),
    }
    assert len(table[table["method"] == "handwerger"]) == 2 * len(unet)  # per split seed
    assert len(table[table["method"] == "label_free"]) == 2 * len(unet)  # the label-free detector's too
    assert table["auprc"].between(0, 1).all() and table["no_skill"].between(0, 1).all()
    # the reported sets: every chip of the area (evaluation: all), some without landslides; train:
    # labelled chips only; every reported row has its interval around the estimate
    test = unet[unet["subset"] == "test"]
    assert (test["n_chips"] >= test["n_labelled_chips"]).all() and (test["n_chips"] > test["n_labelled_chips"]).any()
    train = unet[unet["subset"] == "train"]
    assert (train["n_chips"] == train["n_labelled_chips"]).all()
    rated = table[(table["subset"] == "test") & table["seed"].isna()]
    assert rated["auprc_ci_low"].notna().all()
    assert ((rated["auprc_ci_low"] <= rated["auprc"] + 1e-4) & (rated["auprc"] <= rated["auprc_ci_high"] + 1e-4)).all()
    # the oracle: the true covered fraction, on the same chips, far above no skill
    oracle = table[table["method"] == "oracle"].set_index(["experiment", "region", "subset"])
    assert {("within", "region_a", "test"), ("transfer", "region_b", "test")} <= set(oracle.index)
    ref = unet.set_index(["experiment", "region", "subset"]).sort_index()
    for key in oracle.index:
        assert oracle.loc[key, "n_chips"] == ref.loc[key, "n_chips"].iloc[0]
        assert oracle.loc[key, "auprc"] > 0.5 > ref.loc[key, "no_skill"].iloc[0]
    # the no-skill rows: AUPRC = the positive fraction of the chips they describe
    ns = table[table["method"] == "no_skill"]
    assert len(ns) == 2 * len(unet.drop_duplicates(["experiment", "region", "subset", "revisits"]))  # per split seed
    np.testing.assert_allclose(ns["auprc"], ns["n_positive"] / ns["n_pixels"], atol=1e-4)
    np.testing.assert_allclose(ns["auprc"], ns["no_skill"], atol=1e-6)
    md = (out / "metrics.md").read_text()
    assert "Within region_a: test AUPRC" in md and "Transfer region_a → region_b" in md and "no skill" in md
    assert " ± " in md and "oracle" in md and "label-free" in md and "] |" in md  # runs' sd, ensembles' intervals
    assert "2 seeds × 2 splits (mean ± sd)" in md and "ensemble, split 42 [interval]" in md
    for name in ("auprc_vs_revisits", "pr_curves", "transfer_maps"):
        png = out / "report" / f"{name}.png"
        assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"
    for f in ("model.pt", "history.csv", "curves.csv", "predictions.zarr"):
        assert (out / "transfer" / "sar_r2_aug" / f).exists()
    assert (detection_run / "logs" / "detection" / "train_detection" / "within_vh_r1_noaug.log").exists()
    assert (detection_run / "benchmarks" / "detection" / "detection_table.tsv").exists()


def test_detection_differences_are_paired_with_verdicts(detection_run: Path) -> None:
    out = detection_run / "results" / "detection"
    diff = pd.read_csv(out / "differences.csv")
    table = pd.read_csv(out / "metrics.csv", dtype=METRICS_DTYPES)
    assert set(diff["verdict"]) <= {"holds", "reversed", "within noise"}
    labels = set(diff["comparison"])
    assert {"VH: 2 - 1 revisits", "SAR+DEM: 2 - 1 revisits", "VV+VH: with - without augmentation"} <= labels
    assert {"U-Net VH - label-free detector, 2 revisits", "U-Net VV+VH, aug - label-free detector"} <= labels
    assert set(diff.loc[diff["comparison"] == "VV+VH: with - without augmentation", "region"]) == {
        "region_a",
        "region_b",
    }
    for _, r in diff.iterrows():
        assert r["ci_low"] <= r["ensemble_diff"] + 1e-4 and r["ensemble_diff"] <= r["ci_high"] + 1e-4
        assert r["verdict"] == ("holds" if r["ci_low"] > 0 else "reversed" if r["ci_high"] < 0 else "within noise")
    # the ensembles' AUPRC in the differences: the mean over split seeds of the table's (each
    # split's ensembles on that split's test chips)
    r = diff[diff["comparison"] == "VH: 2 - 1 revisits"].iloc[0]
    ens = table[table[ENSEMBLE] & (table["subset"] == "test") & (table["experiment"] == "within")]
    got = ens[ens["inputs"] == "vh"].groupby("revisits")["auprc"].mean()
    assert r["ensemble_a"] == pytest.approx(got[2], abs=1e-3) and r["ensemble_b"] == pytest.approx(got[1], abs=1e-3)
    # run differences: member k against member k of the same split seed, over both split seeds
    members = table[
        (table["method"] == "unet")
        & table["seed"].isin([0, 1])
        & (table["subset"] == "test")
        & (table["experiment"] == "within")
        & (table["inputs"] == "vh")
    ].set_index(["split_seed", "seed", "revisits"])["auprc"]
    d = [members[(sp, k, 2)] - members[(sp, k, 1)] for sp in (42, 43) for k in (0, 1)]
    assert r["member_diff"] == pytest.approx(np.mean(d), abs=1e-3) and r["n_runs"] == 4 and r["n_splits"] == 2
    assert "| verdict |" in (out / "differences.md").read_text()


def test_detection_maps_of_both_regions(detection_run: Path) -> None:
    """detection.map's transfer model on both regions' grids: region_b's test chips, region_a's
    validation and test chips (never trained on), recalibrated by the calibration fitted on
    region_a's validation chips (tag CALIBRATION); polygons of the uncalibrated probability in
    the GeoPackage; a web map of each region."""
    import geopandas as gpd
    import rasterio
    import rioxarray  # noqa: F401 - the .rio accessor
    import xarray as xr

    from landslide_sar.calibration import Calibrator

    config = detection_run / "config.yaml"
    targets = [
        f"results/{r}/{f}"
        for r in ("region_a", "region_b")
        for f in ("detection/probability.tif", "detection/landslides.gpkg", "webmap.html")
    ]
    snakemake(detection_run, config, "--cores", "2", *targets)
    pred = xr.open_zarr(detection_run / "results/detection/transfer/sar_r2_aug/predictions.zarr").load()
    cal = Calibrator.from_json((detection_run / "results/detection/calibration.json").read_text())
    assert cal.method == "isotonic" and cal.n_fitted > 0  # the schema's default, calibration.detection
    for region, subset in (("region_a", "test, val"), ("region_b", "test")):
        cube = xr.open_zarr(detection_run / f"results/{region}/cube.zarr", decode_coords="all")
        with rasterio.open(detection_run / f"results/{region}/detection/probability.tif") as src:
            assert src.crs == cube.rio.crs and src.shape == (cube.sizes["y"], cube.sizes["x"])
            assert src.tags()["chip_subsets"] == subset and src.tags()["experiment"] == "transfer/sar_r2_aug"
            assert src.tags()["CALIBRATION"] == cal.tag(f"test {region}")
            prob = src.read(1)
        sel = pred.isel(chip=np.flatnonzero(pred["region"].values.astype(str) == region))
        assert np.isfinite(prob).sum() == int(sel["valid"].sum())
        k = 0
        r, c = int(sel["row0"][k]), int(sel["col0"][k])
        chip = np.where(sel["valid"][k], sel["prob"][k].astype("float32"), np.nan)
        np.testing.assert_array_equal(
            prob[r : r + chip.shape[0], c : c + chip.shape[1]], cal.apply(chip).astype("float32")
        )
        polys = gpd.read_file(detection_run / f"results/{region}/detection/landslides.gpkg", layer="landslides")
        assert int(((sel["prob"] >= 0.5) & sel["valid"]).sum()) == int(polys["n_pixels"].sum())
        assert (detection_run / f"results/{region}/webmap.html").stat().st_size > 100_000


def test_adding_an_input_set_trains_only_the_new_models(detection_run: Path) -> None:
    cfg = tiny_detection_config()
    cfg["detection"]["within"]["inputs"] = ["vv", "vh", "fused"]
    config = write_config(detection_run / "config_more.yaml", cfg)
    proc = snakemake(detection_run, config, "-n", "detection_all")
    counts = {
        parts[0]: int(parts[1])
        for parts in (line.split() for line in proc.stdout.splitlines())
        if len(parts) == 2 and parts[1].isdigit()
    }
    assert counts.get("train_detection") == 4  # vv with 1 and 2 revisits, 2 split seeds; nothing else is retrained
    assert "generate_event" not in counts and "assemble_cube" not in counts


def test_a_misspelt_detection_key_is_one_line_and_a_missing_one_the_schemas_default(tmp_path: Path) -> None:
    cfg = tiny_detection_config()
    cfg["detection"]["training"]["patiense"] = cfg["detection"]["training"].pop("patience")
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "-n", "detection_all", check=False)
    errors = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("ERROR")]
    assert proc.returncode != 0 and len(errors) == 1, proc.stderr[-2000:]
    assert errors[0].startswith(
        "ERROR: config key detection.training.patiense is not allowed; allowed keys at detection.training:"
    )
    del cfg["detection"]["training"]["patiense"]  # left out: the schema's default (config.yaml's 2)
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "-n", "detection_all", check=False)
    assert proc.returncode == 0 and "train_detection" in proc.stdout + proc.stderr, proc.stderr[-2000:]


def test_all_builds_the_detection_targets(detection_run: Path) -> None:
    """Rule `all` includes detection_all's targets (here the only ones: density.areas is empty)."""
    proc = snakemake(detection_run, detection_run / "config.yaml", "-n", "all")
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-2000:]
