"""The config schema: the default config is valid, bad keys and values give one clear line."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.utils import update_config

from landslide_sar.config import expand_preset, synthetic_presets, validate_config
from landslide_sar.errors import ConfigError
from landslide_sar.products import product_of

ROOT = Path(__file__).resolve().parent.parent


def shipped_configs() -> dict[str, dict]:
    """Every config the repository ships, as a user runs it: config.yaml, each file of config/ and
    config/examples/ alone, and each overlay of config/overlays/ merged over config.yaml the way
    Snakemake merges `--configfile config.yaml OVERLAY`."""
    configs = {"config.yaml": yaml.safe_load((ROOT / "config.yaml").read_text())}
    for path in sorted((ROOT / "config").glob("*.yaml")) + sorted((ROOT / "config" / "examples").glob("*.yaml")):
        configs[str(path.relative_to(ROOT))] = yaml.safe_load(path.read_text())
    for path in sorted((ROOT / "config" / "overlays").glob("*.yaml")):
        merged = yaml.safe_load((ROOT / "config.yaml").read_text())
        update_config(merged, yaml.safe_load(path.read_text()))
        configs[f"config.yaml + {path.relative_to(ROOT)}"] = merged
    return configs


@pytest.fixture(scope="module")
def default() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_shipped_configs_are_valid() -> None:
    configs = shipped_configs()
    assert {"config.yaml", "config/puerto_rico.yaml", "config/examples/new_event.yaml"} <= set(configs), sorted(configs)
    assert any(name.startswith("config.yaml + config/overlays/") for name in configs), sorted(configs)
    for name, cfg in configs.items():
        try:
            validate_config(cfg)
        except ConfigError as err:
            pytest.fail(f"{name}: {err}")


def test_config_yaml_fits_on_two_screens() -> None:
    assert len((ROOT / "config.yaml").read_text().splitlines()) <= 150


def test_a_preset_gives_its_values_and_the_areas_own_keys_win() -> None:
    """earthquake starts from storm; an area's keys replace the preset's one by one, at any depth."""
    block = {
        "preset": "earthquake",
        "seed": 3,
        "sar": {"swath_position": 0.5},
        "land_cover": {"forest": {"vv_db": -6.0}},
    }
    full = expand_preset(copy.deepcopy(block))
    assert "preset" not in full and full["seed"] == 3
    assert full["sar"]["swath_position"] == 0.5  # the area's
    assert full["sar"]["texture_db"] == 1.5  # earthquake's
    assert full["sar"]["looks"] == 4.4  # storm's, which earthquake starts from
    forest = {"vv_db": -6.0, "vh_db": -14.5, "rate_factor": 1.0, "storm_sensitivity": 1.0, "soil_visibility": 0.2}
    assert full["land_cover"]["forest"] == forest  # the area's, earthquake's, storm's
    assert full["landslides"]["rain_gate"] == 0 and type(full["landslides"]["rain_gate"]) is int
    assert list(full)[:2] == ["seed", "terrain"]  # the schema's order, whatever the preset's
    storm = synthetic_presets()["storm"]
    assert expand_preset({"preset": "storm", "seed": 1}) == {"seed": 1, **storm}
    assert expand_preset({"seed": 1, "terrain": {}}) == {"seed": 1, "terrain": {}}  # no preset: as given


def test_the_default_areas_are_their_presets_expanded(default) -> None:
    cfg = copy.deepcopy(default)
    assert cfg["areas"]["embedded"]["synthetic"] == {"preset": "storm", "seed": 2017}
    validate_config(cfg)
    presets = synthetic_presets()
    assert cfg["areas"]["embedded"]["synthetic"] == {"seed": 2017, **presets["storm"]}
    a = cfg["areas"]["region_a"]["synthetic"]
    assert a == expand_preset({"preset": "hokkaido", "seed": 2017})
    assert a["terrain"] == presets["storm"]["terrain"] | presets["hokkaido"]["terrain"]
    b = cfg["areas"]["region_b"]["synthetic"]
    assert (b["seed"], b["sar"]["swath_position"], b["distractor"]["relative_orbit"]) == (7, 0.35, 135)
    assert b["terrain"] == presets["storm"]["terrain"] | presets["talakmau"]["terrain"]
    validate_config(cfg)  # a resolved config validates again, unchanged
    assert cfg["areas"]["region_b"]["synthetic"] == b


@pytest.mark.parametrize("name", [None, "hurricane", ["storm"]])
def test_an_unknown_preset_is_one_line_naming_the_presets(default, name) -> None:
    cfg = copy.deepcopy(default)
    cfg["areas"]["region_b"]["synthetic"]["preset"] = name
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    assert str(err.value) == (
        f"config areas.region_b.synthetic.preset = {name!r} is not allowed; "
        "allowed presets: 'earthquake', 'hokkaido', 'storm', 'talakmau' (schemas/synthetic.presets.yaml)"
    )


def _unlabelled_region_b(c: dict) -> None:
    c["areas"]["region_b"]["inventory"] = {"source": "none"}
    c["density"]["areas"].append("region_b")


def _rapid_from_region_a(c: dict) -> None:
    c["areas"]["new"] = copy.deepcopy(c["areas"]["embedded"]) | {"inventory": {"source": "none"}}
    c["rapid_response"] = {"new": {"model_area": "region_a", "inputs": "fused", "revisits": 3}}


@pytest.mark.parametrize(
    "edit, expected",
    [
        (lambda c: c["chips"].update(size=3), "config chips.size = 3 is not allowed; expected a value >= 8"),
        (lambda c: c["chips"].update(sise=128), "config key chips.sise is not allowed; allowed keys at chips:"),
        (
            lambda c: c["density"].update(inputs=["radar"]),
            "config density.inputs.0 = 'radar' is not allowed; allowed: 'dem', 'sar', 'fused'",
        ),
        (
            lambda c: c["areas"]["embedded"].update(bbox=[-66.6, 18.2, -66.7, 18.3]),
            "config areas.embedded.bbox: [-66.6, 18.2, -66.7, 18.3] has min >= max",
        ),
        (lambda c: c["density"].update(revisits=[4]), "config density.revisits = 4 is not allowed for area embedded"),
        (
            lambda c: c["splits"].update(seeds=["x"]),
            "config splits.seeds.0 = 'x' is not allowed; expected type integer",
        ),
        (lambda c: c["splits"].update(seeds=[42, 42]), "config splits.seeds"),
        (
            lambda c: c["areas"]["embedded"]["sentinel1"].update(both_directions="yes"),
            "config areas.embedded.sentinel1.both_directions = 'yes' is not allowed; expected type boolean",
        ),
        (
            lambda c: c["density"]["areas"].append("nowhere"),
            "config density.areas: no area 'nowhere'; expected areas with an inventory among",
        ),
        (
            _unlabelled_region_b,
            "config density.areas: area 'region_b' has no inventory (areas.region_b.inventory.source = 'none')",
        ),
        (lambda c: c["density"].pop("areas"), "config density: 'areas' is a required property"),
        (
            _rapid_from_region_a,
            "config rapid_response.new.model_area = 'region_a' is not allowed; expected an area of "
            "density.areas ['embedded']",
        ),
        (
            lambda c: c["detection"]["within"].update(region="nowhere"),
            "config detection.within.region = 'nowhere' is not an area; expected one of ['embedded', "
            "'region_a', 'region_b']",
        ),
        (
            lambda c: c["detection"]["transfer"].update(test_region="region_a"),
            "config detection.transfer.test_region = 'region_a' is the training region",
        ),
        (
            lambda c: c["detection"]["chips"].update(max_revisits=3),
            "config detection.chips.max_revisits = 3 is not allowed; expected at least the largest revisits, 4",
        ),
        (
            lambda c: c["detection"].update(map={"inputs": "vv", "augment": True}),
            "config detection.map = {'inputs': 'vv', 'augment': True} is not a transfer experiment; expected "
            "inputs in detection.transfer.inputs ['sar', 'fused', 'change']",
        ),
        (
            lambda c: c["density"].update(map="worst"),
            "config density.map = 'worst' is not allowed; expected 'best' or {inputs, revisits}",
        ),
    ],
)
def test_bad_values_give_one_line(default, edit, expected) -> None:
    cfg = copy.deepcopy(default)
    edit(cfg)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    message = str(err.value)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_absent_optional_keys_get_the_schemas_documented_defaults(default) -> None:
    cfg = copy.deepcopy(default)
    s1 = cfg["areas"]["embedded"]["sentinel1"]
    s1.pop("search_days", None)
    cfg["areas"]["embedded"].pop("download", None)
    validate_config(cfg)
    area = cfg["areas"]["embedded"]
    assert area["sentinel1"]["search_days"] == 45
    assert area["sentinel1"]["both_directions"] is False  # one direction: the models'
    assert product_of(area["sentinel1"]).endpoint == "https://planetarycomputer.microsoft.com/api/stac/v1"
    assert area["download"] == {"http_retries": 5, "backoff_s": 1.0, "timeout_s": 60.0, "job_retries": 2}
    # a value set by hand is kept; the rest of its block is filled
    cfg = copy.deepcopy(default)
    cfg["areas"]["embedded"]["download"] = {"http_retries": 0}
    validate_config(cfg)
    assert cfg["areas"]["embedded"]["download"] == {
        "http_retries": 0,
        "backoff_s": 1.0,
        "timeout_s": 60.0,
        "job_retries": 2,
    }


def test_detection_settings_left_out_are_the_schemas_defaults_which_are_config_yamls(default) -> None:
    """Defaults live in the schema only: a detection section holding just its experiments (within,
    transfer) validates to config.yaml's full section, setting by setting."""
    full, cfg = copy.deepcopy(default), copy.deepcopy(default)
    cfg["detection"] = {k: cfg["detection"][k] for k in ("within", "transfer", "map")}
    validate_config(full)
    validate_config(cfg)
    assert cfg["detection"] == full["detection"]
    cfg["detection"] = {k: default["detection"][k] for k in ("within", "transfer")} | {"training": {"max_epochs": 1}}
    validate_config(cfg)
    assert cfg["detection"]["training"] == full["detection"]["training"] | {"max_epochs": 1}


@pytest.mark.parametrize(
    "where, old, new",
    [
        ("areas.embedded.sentinel1", "acquisitions_before", "acquisitions_pre"),
        ("areas.region_b.sentinel1", "acquisitions_after", "acquisitions_post"),
        ("density.training", "seed", "seeds"),
        ("detection.within", "band_sets", "inputs"),
        ("detection.within", "time_steps", "revisits"),
        ("detection.transfer", "band_sets", "inputs"),
        ("detection.transfer", "time_steps", "revisits"),
        ("detection.map", "band_set", "inputs"),
        ("detection.chips", "max_steps", "max_revisits"),
        ("detection.chips", "split_seed", "split_seeds"),
        ("detection.training", "seed", "seeds"),
        ("splits", "seed", "seeds"),
        ("bootstrap", "bootstrap_samples", "samples"),
    ],
)
def test_a_key_of_an_earlier_version_is_refused_naming_the_allowed_keys(default, where, old, new) -> None:
    """No shim reads an old key (CHANGELOG.md lists the renames): it is an unknown key, refused
    with one line naming the keys allowed there, the new one among them."""
    cfg = copy.deepcopy(default)
    validate_config(cfg)  # every key present (config.yaml leaves some to the schema's defaults)
    cfg["detection"]["map"] = {"inputs": "fused", "augment": True}  # a named map (config.yaml: best)
    section = cfg
    for key in where.split("."):
        section = section[key]
    section[old] = section.pop(new)
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    line = str(err.value)
    assert line.startswith(f"config key {where}.{old} is not allowed; allowed keys at {where}: ") and "\n" not in line
    assert new in line.split(": ", 1)[1].split(", ")


def test_the_old_evaluation_section_is_refused_as_unknown_naming_bootstrap(default) -> None:
    """The bootstrap settings were the top-level `evaluation` section (unrelated to
    detection.evaluation): an old config holding it is refused in one line naming `bootstrap`."""
    cfg = copy.deepcopy(default)
    cfg["evaluation"] = {"samples": 1000}
    cfg.pop("bootstrap")
    with pytest.raises(ConfigError) as err:
        validate_config(cfg)
    line = str(err.value)
    assert line.startswith("config key evaluation is not allowed; allowed keys at (top level): ") and "\n" not in line
    assert "bootstrap" in line.split(": ", 1)[1].split(", ")
