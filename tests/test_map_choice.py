"""The density map's experiment, chosen by validation scores only (density.map: best): known
scores give the known choice, perturbing every reported (cross) or ensemble score changes nothing,
undefined AUCs are counted rather than averaged, and the map says what it shows and why."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from landslide_sar.density.choice import choice_tags, read_choice
from landslide_sar.density.evaluate import METRIC_COLUMNS
from landslide_sar.density.experiments import experiments, map_candidates, map_experiment, selection_scheme
from landslide_sar.density.selection import choose_density_map, label_free_validation, validation_scores
from landslide_sar.errors import InputError
from landslide_sar.nn import METRICS_DTYPES

SEEDS = [42, 43]


def _metrics(val: list[list[float]], cross: float = 0.7) -> pd.DataFrame:
    """evaluate_density's table with validation class AUCs val[member*2 + half] (three per row)
    and a cross AUC for every member and the ensemble."""
    rows = []
    for i, aucs in enumerate(val):
        member, half = divmod(i, 2)
        rows.append(
            {"seed": member, "ensemble": False, "split": str(half), "subset": "val", "n_chips": 7}
            | {f"auc_class{c}": a for c, a in enumerate(aucs)}
            | {"auc_macro_ovr": float(np.mean(aucs))}
        )
        rows.append(
            {"seed": member, "ensemble": False, "split": str(half), "subset": "cross", "n_chips": 60}
            | {f"auc_class{c}": cross for c in range(3)}
            | {"auc_macro_ovr": cross}
        )
    rows.append({"seed": pd.NA, "ensemble": True, "split": "both", "subset": "cross", "auc_macro_ovr": cross})
    return pd.DataFrame(rows, columns=METRIC_COLUMNS).astype(METRICS_DTYPES)


GRID = {
    "sar_r1_blocked": _metrics([[0.6, 0.7, 0.8], [0.7, 0.7, 0.7]]),  # mean 0.70
    "sar_r1_blocked_s43": _metrics([[0.7, 0.7, 0.7], [0.7, 0.7, 0.7]]),
    "baseline_r1_blocked": _metrics([[0.9, 0.8, 0.85], [0.85, 0.85, 0.85]]),  # mean 0.85
    "baseline_r1_blocked_s43": _metrics([[0.85, 0.85, 0.85], [0.85, 0.85, 0.85]]),
    "fused_r2_blocked": _metrics([[0.8, np.nan, 0.8], [0.8, 0.8, 0.8]]),  # one undefined: mean 0.80
    "fused_r2_blocked_s43": _metrics([[0.8, 0.8, 0.8], [0.8, 0.8, 0.8]]),
}


def test_validation_scores_average_every_defined_class_auc_and_count_the_undefined() -> None:
    scores = validation_scores(GRID, SEEDS).set_index("setting")
    np.testing.assert_allclose(scores.loc["sar_r1", "val_auc_mean"], 0.70)
    np.testing.assert_allclose(scores.loc["baseline_r1", "val_auc_mean"], 0.85)
    np.testing.assert_allclose(scores.loc["fused_r2", "val_auc_mean"], 0.80)
    assert scores.loc["fused_r2", "n_undefined"] == 1 and scores.loc["fused_r2", "n_scores"] == 11
    assert scores.loc["sar_r1", "n_scores"] == 12 and scores.loc["sar_r1", "n_undefined"] == 0


def test_best_is_chosen_by_validation_alone_and_mapped_under_the_map_split(tmp_path: Path) -> None:
    choice = choose_density_map("best", GRID, SEEDS, "blocked", tmp_path / "choice.json")
    assert choice["experiment"] == "baseline_r1" and choice["rule"] == "best"
    assert choice["validation_auc"] == pytest.approx(0.85) and choice["net"] == "fused_r2"  # the best net
    assert read_choice(tmp_path / "choice.json") == choice
    # the reported scores (every cross row, members' and the ensemble's) reversed: the same choice
    flipped = {}
    for k, v in GRID.items():
        v = v.copy()
        reported = v["subset"] == "cross"
        v.loc[reported, ["auc_macro_ovr", "auc_class0", "auc_class1", "auc_class2"]] = (
            0.1 if k.startswith("baseline") else 0.99
        )
        flipped[k] = v
    assert choose_density_map("best", flipped, SEEDS, "blocked", tmp_path / "again.json") == choice
    # the validation scores moved: the choice follows
    better_sar = dict(GRID, sar_r1_blocked=_metrics([[0.95] * 3] * 2), sar_r1_blocked_s43=_metrics([[0.95] * 3] * 2))
    chosen = choose_density_map("best", better_sar, SEEDS, "blocked", tmp_path / "c.json")
    assert chosen["experiment"] == "sar_r1" and chosen["net"] == "sar_r1"
    assert chosen["validation_auc"] == pytest.approx(0.95)


def test_a_named_map_is_the_configs_and_no_defined_score_is_refused(tmp_path: Path) -> None:
    named = choose_density_map({"inputs": "fused", "revisits": 3}, {}, SEEDS, "blocked", tmp_path / "n.json")
    assert named["experiment"] == "fused_r3" and named["rule"] == "config" and named["validation_auc"] is None
    assert choice_tags(named) == {
        "experiment": "fused_r3",
        "experiment_choice": "density.map in the config",
        "validation_auc": "n/a",
    }
    undefined = {"sar_r1_blocked": _metrics([[np.nan] * 3, [np.nan] * 3])}
    with pytest.raises(InputError, match="no experiment has a defined validation AUC under the blocked split"):
        choose_density_map("best", undefined, SEEDS, "blocked", tmp_path / "u.json")
    assert not (tmp_path / "u.json").exists()


def test_the_candidates_are_the_blocked_grid_and_a_named_map_needs_none() -> None:
    config = {
        "splits": {"seeds": SEEDS, "schemes": ["random", "blocked"]},
        "density": {"inputs": ["dem", "sar"], "revisits": [1, 2], "map": "best"},
    }
    ids = [e.id for e in map_candidates(config)]
    assert ids == [e.id for e in experiments(config) if e.scheme == "blocked"] and "baseline_r2_blocked_s43" in ids
    assert selection_scheme(config) == "blocked" and map_experiment(config) is None
    random_only = {**config, "splits": {"seeds": SEEDS, "schemes": ["random"]}}
    assert selection_scheme(random_only) == "random" and all(e.scheme == "random" for e in map_candidates(random_only))
    named = {**config, "density": {**config["density"], "map": {"inputs": "sar", "revisits": 2}}}
    assert map_candidates(named) == [] and map_experiment(named).id == "sar_r2"


def test_the_map_carries_its_choice_as_tags(tmp_path: Path) -> None:
    """density_map writes the choice's experiment, why and its validation score into both COGs."""
    import geopandas as gpd
    import rasterio
    from shapely.geometry import box

    from landslide_sar.density.map import density_map

    chips = gpd.GeoDataFrame(
        {"chip": [0, 1], "row": [0, 0], "col": [0, 1], "valid_fraction": [1.0, 1.0], "density_class": [0, 2]},
        geometry=[box(0, 0, 100, 100), box(100, 0, 200, 100)],
        crs="EPSG:32619",
    )
    chips.to_file(tmp_path / "chips.gpkg", layer="chips", driver="GPKG")
    pd.DataFrame(
        {
            "chip": [0, 1],
            "predicted_class": [0, 2],
            "prob_class0": [0.8, 0.1],
            "prob_class1": [0.1, 0.2],
            "prob_class2": [0.1, 0.7],
        }
    ).to_csv(tmp_path / "pred.csv", index=False)
    choose_density_map("best", GRID, SEEDS, "blocked", tmp_path / "choice.json")
    density_map(
        tmp_path / "chips.gpkg",
        tmp_path / "pred.csv",
        tmp_path / "map.tif",
        tmp_path / "map.gpkg",
        tmp_path / "prob.tif",
        min_valid_fraction=0.9,
        choice=tmp_path / "choice.json",
    )
    for tif in ("map.tif", "prob.tif"):
        with rasterio.open(tmp_path / tif) as src:
            tags = src.tags()
        assert tags["experiment"] == "baseline_r1"
        assert tags["experiment_choice"] == "best validation AUC under the blocked split"
        assert tags["validation_auc"] == "0.850"
    assert json.loads((tmp_path / "choice.json").read_text())["scores"][0]["setting"] == "sar_r1"


DETECTION = {
    "within": {"region": "region_a", "inputs": ["sar"], "revisits": [4], "augment": False, "elevation": True},
    "transfer": {
        "train_region": "region_a",
        "test_region": "region_b",
        "inputs": ["sar", "fused"],
        "revisits": 4,
        "augment": [False, True],
        "elevation": False,
    },
    "chips": {"split_seeds": SEEDS},
    "map": "best",
}


def _detection_metrics(
    val: list[float], test: float, baseline_val: float = 0.2, label_free_val: float = 0.3
) -> pd.DataFrame:
    """train_detection's rows: U-Net members' val AUPRCs `val` in region_a, an ensemble row, test
    rows in both regions (`test`) and the VH-change baseline's and the label-free detector's val rows."""
    rows = [
        {"method": "unet", "seed": s, "ensemble": False, "region": "region_a", "subset": "val", "auprc": a}
        for s, a in enumerate(val)
    ]
    rows.append(
        {"method": "unet", "seed": pd.NA, "ensemble": True, "region": "region_a", "subset": "val", "auprc": 0.99}
    )
    rows.append(
        {
            "method": "handwerger",
            "seed": pd.NA,
            "ensemble": False,
            "region": "region_a",
            "subset": "val",
            "auprc": baseline_val,
        }
    )
    rows.append(
        {
            "method": "label_free",
            "seed": pd.NA,
            "ensemble": False,
            "region": "region_a",
            "subset": "val",
            "auprc": label_free_val,
        }
    )
    for region in ("region_a", "region_b"):
        rows.append({"method": "unet", "seed": 0, "ensemble": False, "region": region, "subset": "test", "auprc": test})
        rows.append(
            {"method": "unet", "seed": pd.NA, "ensemble": True, "region": region, "subset": "test", "auprc": test}
        )
    return pd.DataFrame(rows).astype({"seed": "Int64", "ensemble": bool})


def test_the_detection_map_is_the_best_validated_transfer_unet_whatever_the_test_scores(tmp_path: Path) -> None:
    from landslide_sar.detection.experiments import map_candidates
    from landslide_sar.detection.experiments import map_experiment as detection_map_experiment
    from landslide_sar.detection.selection import choice_tags as detection_tags
    from landslide_sar.detection.selection import choose_detection_map

    ids = [e.id for e in map_candidates(DETECTION)]
    assert ids == [
        "transfer/sar_r4_noaug",
        "transfer/sar_r4_aug",
        "transfer/fused_r4_noaug",
        "transfer/fused_r4_aug",
        "transfer/sar_r4_noaug_s43",
        "transfer/sar_r4_aug_s43",
        "transfer/fused_r4_noaug_s43",
        "transfer/fused_r4_aug_s43",
    ]
    assert detection_map_experiment(DETECTION) is None
    val = {"sar_r4_noaug": 0.5, "sar_r4_aug": 0.55, "fused_r4_noaug": 0.6, "fused_r4_aug": 0.58}

    def grid(test_of) -> dict[str, pd.DataFrame]:
        return {i: _detection_metrics([val[i.split("/")[1].removesuffix("_s43")]] * 3, test_of(i)) for i in ids}

    choice = choose_detection_map("best", grid(lambda i: 0.1), DETECTION, tmp_path / "c.json")
    assert choice["experiment"] == "transfer/fused_r4_noaug" and choice["validation_auprc"] == pytest.approx(0.6)
    # each reference under its own key (the label-free detector's 0.3 is not the VH change's)
    assert choice["baseline_validation_auprc"] == pytest.approx(0.2)
    assert choice["label_free_validation_auprc"] == pytest.approx(0.3)
    # the test scores turned upside down (the fused_noaug U-Net now the worst on test): the same choice
    upside = choose_detection_map(
        "best", grid(lambda i: 0.1 if "fused_r4_noaug" in i else 0.9), DETECTION, tmp_path / "u.json"
    )
    assert upside == choice
    assert detection_tags(choice)["experiment_choice"] == "best validation AUPRC of the transfer U-Nets"
    named = choose_detection_map(
        {"inputs": "sar", "augment": True}, {}, {**DETECTION, "map": None}, tmp_path / "n.json"
    )
    assert named["experiment"] == "transfer/sar_r4_aug" and named["rule"] == "config"
    assert (
        detection_map_experiment({**DETECTION, "map": {"inputs": "sar", "augment": True}}).id == "transfer/sar_r4_aug"
    )


def test_the_label_free_detector_is_scored_on_the_same_validation_chips_beside_the_candidates(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Validation chips 0-5 of each half, the flagged share increasing with the class: every class
    AUC 1 (a perfect ranking); training chips, ranked backwards, change nothing. It is recorded and
    warned about when above the map, never mapped."""
    import logging

    table = pd.DataFrame(
        {
            "chip": np.arange(24),
            "density_class": np.tile([0, 0, 1, 1, 2, 2], 4),
            "half": np.repeat([0, 1, 0, 1], 6),
            "subset": np.repeat(["val", "val", "train", "train"], 6),
        }
    )
    share = np.where(table["subset"] == "val", table["density_class"] * 0.1, 1.0 - table["density_class"] * 0.1)
    chips = pd.DataFrame({"chip": table["chip"], "revisits": 1, "share_above": share})
    scores = label_free_validation(chips, {"_blocked": table})
    row = scores.iloc[0]
    assert row["setting"] == "label_free_r1" and row["inputs"] == "label_free"
    # class 1 ranked by closeness to the median: the middle two of six chips, AUC 1 as well
    assert row["val_auc_mean"] == pytest.approx(1.0) and row["n_scores"] == 6 and row["n_undefined"] == 0
    with caplog.at_level(logging.WARNING, logger="landslide_sar.density.selection"):
        choice = choose_density_map(
            "best", GRID, SEEDS, "blocked", tmp_path / "c.json", label_free=chips, split_tables={"_blocked": table}
        )
    assert choice["experiment"] == "baseline_r1" and choice["label_free_validation_auc"] == pytest.approx(1.0)
    assert "label_free_r1" in {r["setting"] for r in choice["scores"]}
    assert "the label-free detector's validation AUC 1.000 is above the map's 0.850" in caplog.text
    missing = chips[chips["chip"] != 3]
    with pytest.raises(InputError, match="1 validation chip"):
        label_free_validation(missing, {"_blocked": table})


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"rule": "best"', "not JSON"),
        ('["baseline_r1"]', "a JSON list, not an object"),
        ('{"rule": "best"}', "no 'experiment'"),
    ],
)
def test_a_broken_choice_file_is_refused_in_one_line_naming_it(tmp_path: Path, text: str, says: str) -> None:
    """Both branches read their choice through landslide_sar.io.read_json: a truncated file, a
    list or a choice without its experiment stops the map job with the file and the writer named."""
    from landslide_sar.detection.selection import read_choice as read_detection_choice

    path = tmp_path / "map_choice.json"
    path.write_text(text)
    for read, writer in ((read_choice, "choose_density_map"), (read_detection_choice, "choose_detection_map")):
        with pytest.raises(InputError) as err:
            read(path)
        message = str(err.value)
        assert "\n" not in message and message.startswith(str(path)) and says in message and writer in message
