"""Calibration with known answers: the ECE of a calibrated sample is ~0 and of a known
miscalibration its analytic value; temperature scaling recovers a known temperature; isotonic
regression repairs a known distortion; the fit refuses test rows; the maps' probability COGs
carry the CALIBRATION tag (read back with rasterio); the density and detection calibration
steps write calibration.csv, reliability.png and the fitted calibrator."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import rasterio
import rioxarray  # noqa: F401 - the .rio accessor
import xarray as xr
from affine import Affine
from scipy.special import expit, softmax
from shapely.geometry import box

from landslide_sar.calibration import (
    CALIBRATION_COLUMNS,
    Calibrator,
    ValidationSet,
    class_ece,
    confidence_and_hit,
    expected_calibration_error,
    fit_calibrator,
    fit_temperature,
    reliability_bins,
)
from landslide_sar.cube import published_layout
from landslide_sar.errors import InputError
from landslide_sar.grid import Grid

CRS = "EPSG:32619"


def _val(prob: np.ndarray, y: np.ndarray) -> ValidationSet:
    return ValidationSet(prob, y, np.full(len(y), "val"))


def test_ece_of_a_calibrated_sample_is_about_zero() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 400_000)
    y = rng.uniform(0, 1, p.size) < p  # the outcome happens with exactly the stated probability
    assert expected_calibration_error(p, y) < 0.005
    # multi-class: labels drawn from the stated class probabilities
    prob = rng.dirichlet([1.0, 1.0, 1.0], 200_000)
    y3 = (rng.uniform(0, 1, (prob.shape[0], 1)) > prob.cumsum(axis=1)).sum(axis=1)
    assert expected_calibration_error(prob, y3) < 0.01
    assert max(class_ece(prob, y3)) < 0.01


def test_ece_of_a_known_miscalibration_is_its_analytic_value() -> None:
    # stated p uniform on [0, 1], true frequency p²: per bin [a, b] the gap is mean(p - p²) over
    # the bin = (a + b) / 2 - (a² + ab + b²) / 3, each bin holding a tenth of the rows
    edges = np.linspace(0, 1, 11)
    a, b = edges[:-1], edges[1:]
    analytic = float(np.mean(np.abs((a + b) / 2 - (a**2 + a * b + b**2) / 3)))
    assert analytic == pytest.approx(1 / 6)  # p - p² >= 0 everywhere: the integral of p - p² over [0, 1]
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 1_000_000)
    y = rng.uniform(0, 1, p.size) < p**2
    assert expected_calibration_error(p, y) == pytest.approx(analytic, abs=0.003)
    # exact: top label 0.7 right half the time -> 0.2; binary 0.8 stated, 60 % observed -> 0.2
    prob = np.tile([0.7, 0.2, 0.1], (10, 1))
    assert expected_calibration_error(prob, np.array([0] * 5 + [1] * 5)) == pytest.approx(0.2)
    assert expected_calibration_error(np.full(10, 0.8), np.array([1] * 6 + [0] * 4)) == pytest.approx(0.2)
    y = np.array([0] * 5 + [1] * 5)
    rel = pd.DataFrame(reliability_bins(*confidence_and_hit(prob, y)))  # the reliability figure's top-label bins
    top = rel[rel["n"] > 0]
    assert top[["bin", "n", "accuracy"]].values.tolist() == [[6, 10, 0.5]]
    assert top["mean_confidence"].iloc[0] == pytest.approx(0.7)
    for c, (conf, right) in enumerate(((0.7, 0.5), (0.2, 0.5), (0.1, 0.0))):  # each class against the rest
        one = pd.DataFrame(reliability_bins(prob[:, c], (y == c).astype(float)))
        assert one.loc[one["n"] > 0, ["mean_confidence", "accuracy"]].values.tolist() == [[pytest.approx(conf), right]]


def _overconfident_binary(n: int, temperature: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2.0, n)
    y = (rng.uniform(0, 1, n) < expit(z)).astype(int)
    return expit(z * temperature), y  # logits multiplied by T: the model is over-confident


def test_temperature_scaling_recovers_a_known_temperature_and_lowers_ece() -> None:
    prob, y = _overconfident_binary(200_000, 2.5, seed=2)
    t = fit_temperature(_val(prob, y))
    assert t == pytest.approx(2.5, rel=0.04)
    test_p, test_y = _overconfident_binary(100_000, 2.5, seed=3)
    cal = fit_calibrator("temperature", _val(prob, y), fitted_on="synthetic val")
    before, after = expected_calibration_error(test_p, test_y), expected_calibration_error(cal.apply(test_p), test_y)
    assert before > 0.05 and after < 0.01
    # multi-class on the log-probabilities
    rng = np.random.default_rng(4)
    z = rng.normal(0, 1.5, (100_000, 3))
    y3 = (rng.uniform(0, 1, (z.shape[0], 1)) > softmax(z, axis=1).cumsum(axis=1)).sum(axis=1)
    stated = softmax(z * 2.0, axis=1)
    t3 = fit_temperature(_val(stated, y3))
    assert t3 == pytest.approx(2.0, rel=0.05)
    cal3 = fit_calibrator("temperature", _val(stated, y3), fitted_on="synthetic val")
    assert expected_calibration_error(cal3.apply(stated), y3) < 0.01 < expected_calibration_error(stated, y3)
    np.testing.assert_array_equal(cal3.apply(stated).argmax(axis=1), stated.argmax(axis=1))  # ranks kept


def test_isotonic_regression_repairs_a_known_distortion() -> None:
    rng = np.random.default_rng(5)
    p = rng.uniform(0, 1, 50_000)
    y = (rng.uniform(0, 1, p.size) < p**2).astype(int)
    cal = fit_calibrator("isotonic", _val(p, y), fitted_on="synthetic val")
    p2 = rng.uniform(0, 1, 50_000)
    y2 = (rng.uniform(0, 1, p2.size) < p2**2).astype(int)
    assert expected_calibration_error(p2, y2) > 0.15
    assert expected_calibration_error(cal.apply(p2), y2) < 0.02
    # multi-class: one-vs-rest curves, rows renormalised
    prob = rng.dirichlet([1.0, 1.0, 1.0], 60_000)
    truth = prob**3 / (prob**3).sum(axis=1, keepdims=True)  # the stated probabilities are too soft
    y3 = (rng.uniform(0, 1, (prob.shape[0], 1)) > truth.cumsum(axis=1)).sum(axis=1)
    cal3 = fit_calibrator("isotonic", _val(prob[:30_000], y3[:30_000]), fitted_on="synthetic val")
    out = cal3.apply(prob[30_000:])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)
    assert expected_calibration_error(out, y3[30_000:]) < expected_calibration_error(prob[30_000:], y3[30_000:]) / 3


def test_the_fit_refuses_rows_that_are_not_validation_rows() -> None:
    p, y = np.array([0.2, 0.7, 0.9]), np.array([0, 1, 1])
    with pytest.raises(InputError) as err:
        ValidationSet(p, y, ["val", "test", "val"])
    message = str(err.value)
    assert "calibration is fitted on validation rows only; got 1 of 3 rows of subset(s) ['test']" in message
    assert "\n" not in message
    with pytest.raises(InputError, match="takes a ValidationSet"):
        fit_calibrator("temperature", (p, y), fitted_on="x")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="expected one of"):
        fit_calibrator("platt", _val(p, y), fitted_on="x")


def test_a_calibrator_round_trips_through_json_and_keeps_nan() -> None:
    p, y = _overconfident_binary(5000, 2.0, seed=6)
    for method in ("none", "temperature", "isotonic"):
        cal = fit_calibrator(method, _val(p, y), fitted_on="val pixels")
        back = Calibrator.from_json(cal.to_json())
        q = np.array([0.01, 0.5, np.nan, 0.99])
        np.testing.assert_allclose(back.apply(q), cal.apply(q), equal_nan=True)
        assert np.isnan(back.apply(q)[2])
        scored = back.with_ece({"test": {"before": 0.1, "after": 0.05, "n": 9}})
        expected = {"none": "none (", "temperature": "temperature scaling (T = ", "isotonic": "isotonic regression"}
        assert scored.tag().startswith(expected[method]) and "0.1000 before, 0.0500 after" in scored.tag("test")


# --- the density branch: predictions -> calibration -> map COG tag ------------------------------


def _density_predictions(tmp_path: Path, n: int = 400) -> tuple[Path, Path, Path]:
    """Over-confident class probabilities (softmax of logits x 3) of n chips on a 20 x 20 chip
    grid: predictions_val.csv (subset val), predictions.csv (the cross-predicted test chips)
    and the chip table."""
    rng = np.random.default_rng(7)

    def draw(m: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        r = np.random.default_rng(seed)
        z = r.normal(0, 1.2, (m, 3))
        y = (r.uniform(0, 1, (m, 1)) > softmax(z, axis=1).cumsum(axis=1)).sum(axis=1)
        return softmax(3 * z, axis=1), y

    pv, yv = draw(n, 8)
    pt, yt = draw(n, 9)
    probs = [f"prob_class{c}" for c in range(3)]
    val = pd.DataFrame({"chip": np.arange(n), "half": 0, "subset": "val", "density_class": yv})
    val[probs] = pv
    val["predicted_class"] = pv.argmax(axis=1)
    test = pd.DataFrame({"chip": np.arange(n), "half": 1, "density_class": yt, "predicted_class": pt.argmax(axis=1)})
    test[probs] = pt
    rows, cols = np.divmod(np.arange(n), 20)
    table = gpd.GeoDataFrame(
        {"chip": np.arange(n), "row": rows, "col": cols, "valid_fraction": rng.uniform(0.95, 1.0, n)},
        geometry=[
            box(700000 + 320 * c, 2000000 - 320 * (r + 1), 700000 + 320 * (c + 1), 2000000 - 320 * r)
            for r, c in zip(rows, cols)
        ],
        crs=CRS,
    )
    val.to_csv(tmp_path / "predictions_val.csv", index=False)
    test.to_csv(tmp_path / "predictions.csv", index=False)
    table.to_file(tmp_path / "chips.gpkg", layer="chips", driver="GPKG")
    return tmp_path / "predictions_val.csv", tmp_path / "predictions.csv", tmp_path / "chips.gpkg"


def test_density_calibration_lowers_test_ece_and_the_map_carries_the_tag(tmp_path) -> None:
    from landslide_sar.density.calibrate import TEST_SET, density_calibration
    from landslide_sar.density.map import density_map

    val, test, table = _density_predictions(tmp_path)
    out = {k: tmp_path / f"{k}.{e}" for k, e in (("cal", "json"), ("csv", "csv"), ("png", "png"))}
    cal = density_calibration(
        val, test, method="temperature", calibration_out=out["cal"], csv_out=out["csv"], png_out=out["png"]
    )
    assert cal.method == "temperature" and cal.temperature == pytest.approx(3.0, rel=0.35)
    assert cal.ece[TEST_SET]["after"] < cal.ece[TEST_SET]["before"] / 2
    csv = pd.read_csv(out["csv"])
    assert list(csv.columns) == CALIBRATION_COLUMNS
    assert (
        set(csv["method"]) == {"none", "temperature", "isotonic"} and csv["applied"].sum() == 8
    )  # 4 curves, validation and test
    assert {"top_label", "class0", "class1", "class2"} <= set(csv["curve"])
    assert out["png"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads(out["cal"].read_text())["method"] == "temperature"

    kwargs = {"class_edges": (0, 25), "min_valid_fraction": 0.9}
    density_map(table, test, tmp_path / "raw.tif", tmp_path / "raw.gpkg", tmp_path / "raw_p.tif", **kwargs)
    density_map(
        table, test, tmp_path / "m.tif", tmp_path / "m.gpkg", tmp_path / "p.tif", calibration=out["cal"], **kwargs
    )
    with rasterio.open(tmp_path / "p.tif") as src:
        tag = src.tags()["CALIBRATION"]
        calibrated = src.read(1)
    with rasterio.open(tmp_path / "raw_p.tif") as src:
        assert "CALIBRATION" not in src.tags()
        raw = src.read(1)
    assert tag.startswith("temperature scaling (T = ") and "fitted on 400 validation chips" in tag
    assert f"{cal.ece[TEST_SET]['before']:.4f} before, {cal.ece[TEST_SET]['after']:.4f} after" in tag
    finite = np.isfinite(raw)
    assert finite.sum() == 400 and not np.allclose(raw[finite], calibrated[finite])
    with rasterio.open(tmp_path / "m.tif") as src, rasterio.open(tmp_path / "raw.tif") as src_raw:
        np.testing.assert_array_equal(src.read(1), src_raw.read(1))  # the classes are the forest's


def test_density_calibration_refuses_test_rows_as_validation(tmp_path) -> None:
    from landslide_sar.density.calibrate import density_calibration

    val, test, _ = _density_predictions(tmp_path)
    df = pd.read_csv(val)
    df.loc[:9, "subset"] = "test"
    df.to_csv(val, index=False)
    with pytest.raises(InputError, match=r"validation rows only; got 10 of 400 rows of subset\(s\) \['test'\]"):
        density_calibration(
            val, test, method="isotonic", calibration_out=tmp_path / "c.json", csv_out=tmp_path / "c.csv",
            png_out=tmp_path / "r.png",
        )  # fmt: skip
    assert not (tmp_path / "c.json").exists()


# --- the detection branch: predictions zarr -> calibration -> probability COG tag ---------------

GRID = Grid(CRS, Affine(10.0, 0.0, 743000.0, 0.0, -10.0, 2022000.0), 64, 64)


def _cube(path: Path) -> Path:
    y = GRID.transform.f + GRID.transform.e * (np.arange(GRID.height) + 0.5)
    x = GRID.transform.c + GRID.transform.a * (np.arange(GRID.width) + 0.5)
    dem = np.full(GRID.shape, 100.0, dtype="float32")
    ds = xr.Dataset({"dem": (("y", "x"), dem)}, coords={"y": y, "x": x}).rio.write_crs(CRS)
    published_layout(ds.rio.write_transform(GRID.transform)).to_zarr(path, mode="w", consolidated=True)
    return path


def _detection_predictions(path: Path) -> Path:
    """16 chips of 16 px per region, over-confident pixel probabilities (logits x 2.5): region_a's
    chips 0-7 val, 8-15 test; region_b's all test."""
    rng = np.random.default_rng(10)
    n, size = 32, 16
    z = rng.normal(-1.0, 2.0, (n, size, size))
    label = (rng.uniform(0, 1, z.shape) < expit(z)).astype("uint8")
    prob = expit(2.5 * z).astype("float32")
    valid = np.ones(z.shape, bool)
    valid[:, 0, 0] = False
    origins = [(16 * (i // 4), 16 * (i % 4)) for i in range(16)] * 2
    ds = xr.Dataset(
        {
            "prob": (("chip", "y", "x"), prob),
            "label": (("chip", "y", "x"), label),
            "valid": (("chip", "y", "x"), valid),
        },
        coords={
            "chip": np.arange(n),
            "region": ("chip", ["region_a"] * 16 + ["region_b"] * 16),
            "subset": ("chip", ["val"] * 8 + ["test"] * 24),
            "row0": ("chip", [r for r, _ in origins]),
            "col0": ("chip", [c for _, c in origins]),
        },
        attrs={"crs": json.dumps({"region_a": CRS, "region_b": CRS})},
    )
    ds.to_zarr(path, mode="w")
    return path


def test_detection_calibration_fits_on_val_pixels_and_tags_each_regions_cog(tmp_path) -> None:
    from landslide_sar.detection.calibrate import detection_calibration, region_test_set
    from landslide_sar.detection.map import detection_map

    preds, cube = _detection_predictions(tmp_path / "predictions.zarr"), _cube(tmp_path / "cube.zarr")
    out = {k: tmp_path / f"{k}.{e}" for k, e in (("cal", "json"), ("csv", "csv"), ("png", "png"))}
    cal = detection_calibration(
        preds, train_region="region_a", method="temperature", calibration_out=out["cal"], csv_out=out["csv"],
        png_out=out["png"],
    )  # fmt: skip
    assert cal.n_fitted == 8 * (16 * 16 - 1) and cal.temperature == pytest.approx(2.5, rel=0.15)
    assert set(cal.ece) == {"validation (5-fold)", region_test_set("region_a"), region_test_set("region_b")}
    for region in ("region_a", "region_b"):
        ece = cal.ece[region_test_set(region)]
        assert ece["after"] < ece["before"] / 2 and ece["n"] == (8 if region == "region_a" else 16) * 255
    for region in ("region_a", "region_b"):
        tif = tmp_path / f"{region}.tif"
        detection_map(preds, cube, region, 0.5, tif, tmp_path / f"{region}.gpkg", {}, calibration=out["cal"])
        with rasterio.open(tif) as src:
            tag, shown = src.tags()["CALIBRATION"], src.read(1)
        assert tag.startswith("temperature scaling (T = ") and "validation chips of region_a" in tag
        other = "region_b" if region == "region_a" else "region_a"
        assert f"on {region_test_set(region)} (" in tag and region_test_set(other) not in tag
        raw = xr.open_zarr(preds)["prob"].values
        first = 0 if region == "region_a" else 16
        np.testing.assert_allclose(shown[0, 1:16], cal.apply(raw[first, 0, 1:16]), rtol=1e-5)
    assert out["png"].stat().st_size > 10_000


def test_evaluate_density_writes_the_val_chips_of_each_half_by_its_own_models(tmp_path) -> None:
    """predictions_val.csv: exactly the val chips of both halves (subset val), each predicted by
    its own half's forest (members' mean), while predictions.csv keeps every chip cross-predicted."""
    from landslide_sar.density.chip_io import TABLE_COLUMNS
    from landslide_sar.density.evaluate import VALIDATION_COLUMNS, evaluate_density

    rng = np.random.default_rng(11)
    n = 240
    y = rng.integers(0, 3, n)
    table = pd.DataFrame(
        {
            "chip": np.arange(n),
            "half": np.arange(n) % 2,
            "subset": np.where(np.arange(n) % 10 < 8, "train", "val"),
            "density_class": y,
        }
    )
    assert set(TABLE_COLUMNS) <= set(table)
    feats = {}
    for h in (0, 1):
        rows = []
        for seed in (0, 1):
            x = y[:, None] + rng.normal(0, 0.8, (n, 4))
            rows.append(pd.DataFrame({"seed": seed, "chip": np.arange(n), **{f"p{i}": x[:, i] for i in range(4)}}))
        feats[h] = pd.concat(rows, ignore_index=True)
    forest = {"seed": 0, "n_estimators": 30}
    evaluate_density(
        table, feats[0], feats[1], forest, tmp_path / "metrics.csv", tmp_path / "predictions.csv",
        predictions_val_out=tmp_path / "predictions_val.csv",
    )  # fmt: skip
    val = pd.read_csv(tmp_path / "predictions_val.csv")
    assert list(val.columns) == VALIDATION_COLUMNS and set(val["subset"]) == {"val"}
    expected = table[table["subset"] == "val"]
    assert val["chip"].tolist() == expected["chip"].tolist() and (val["half"] == expected["half"].to_numpy()).all()
    probs = val[[f"prob_class{c}" for c in range(3)]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert (probs.argmax(axis=1) == val["density_class"]).mean() > 0.5
    assert len(pd.read_csv(tmp_path / "predictions.csv")) == n


@pytest.mark.parametrize("n", [1, 3])
def test_a_handful_of_validation_rows_still_gives_every_output(tmp_path, n: int) -> None:
    """A small area may have very few val chips: every method still fits, the report is written."""
    from landslide_sar.calibration import calibrate_and_report

    prob = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.2, 0.2, 0.6]])[:n]
    cal = calibrate_and_report(
        _val(prob, np.array([0, 1, 1])[:n]),
        {"test": (np.tile([0.5, 0.3, 0.2], (20, 1)), np.arange(20) % 3)},
        method="isotonic", fitted_on="val chips", calibration_out=tmp_path / "c.json", csv_out=tmp_path / "c.csv",
        png_out=tmp_path / "r.png", title="tiny",
    )  # fmt: skip
    assert cal.method == "isotonic" and set(cal.ece) == {"validation (5-fold)", "test"}
    assert len(pd.read_csv(tmp_path / "c.csv")) == 3 * 2 * 4 and (tmp_path / "r.png").exists()
