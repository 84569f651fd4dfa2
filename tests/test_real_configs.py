"""The shipped real-data configs: valid, and their dry runs build the full DAG without the network
(every HTTP request would go to a closed proxy port and fail), downloads first and under resources/."""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, realdata, snakemake

from landslide_sar.config import validate_config
from landslide_sar.grid import area_grid
from landslide_sar.products import product_of

CONFIGS = ROOT / "config"
#: every shipped config a user runs alone: the real events and the examples (not the overlays)
SHIPPED = sorted(CONFIGS.glob("*.yaml")) + sorted((CONFIGS / "examples").glob("*.yaml"))


def _jobs(dry_run_stdout: str) -> dict[str, int]:
    table = dry_run_stdout.split("Job stats:")[-1]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def _outputs_by_rule(workdir, config) -> dict[str, list[str]]:
    """rule -> output files, from `snakemake --summary` (which runs nothing)."""
    proc = snakemake(workdir, config, "--summary", "all")
    out: dict[str, list[str]] = {}
    for line in proc.stdout.splitlines()[1:]:
        cols = line.split("\t")
        if len(cols) >= 3:
            out.setdefault(cols[2], []).append(cols[0])
    return out


@pytest.fixture()
def offline(monkeypatch) -> None:
    """Any HTTP(S) request a dry run might make goes to a closed port."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("NO_PROXY", "")


def test_puerto_rico_config_is_the_density_papers_setup() -> None:
    cfg = yaml.safe_load((CONFIGS / "puerto_rico.yaml").read_text())
    validate_config(cfg)
    area = cfg["areas"]["puerto_rico"]
    s1 = area["sentinel1"]
    assert (s1["source"], s1["collection"], s1["orbit_state"], s1["relative_orbit"]) == (
        "stac",
        "sentinel-1-rtc",
        "ascending",
        135,
    )
    assert s1["endpoint"] == "https://planetarycomputer.microsoft.com/api/stac/v1"
    assert (s1["acquisitions_pre"], s1["acquisitions_post"]) == (3, 3) and area["event_time"].startswith("2017-09-20")
    assert area["dem"] == {"source": "stac", "endpoint": s1["endpoint"], "collection": "cop-dem-glo-30"}
    assert area["inventory"]["source"] == "url" and "5d4c8b26e4b01d82ce8dfeb0" in area["inventory"]["url"]
    grid = area_grid(area["bbox"], area["resolution"])
    assert grid.crs == "EPSG:32619"
    km2 = grid.width * grid.height * area["resolution"] ** 2 / 1e6
    assert 12_000 < km2 < 16_000  # the island's ~9,000 km² of land inside its bounding box


def test_hokkaido_talakmau_config_uses_the_published_cubes() -> None:
    cfg = yaml.safe_load((CONFIGS / "hokkaido_talakmau.yaml").read_text())
    validate_config(cfg)
    assert set(cfg["areas"]) == {"hokkaido_japan", "talakmau_indonesia"}
    for name, area in cfg["areas"].items():
        assert area["sentinel1"]["source"] == "datacube"
        assert area["datacube"]["url"] == f"https://zenodo.org/records/7248056/files/{name}.zip"
        assert not {"dem", "inventory", "synthetic"} & set(area)


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "puerto_rico",
            {
                "download_sentinel1": 1,
                "download_dem": 1,
                "download_inventory": 1,
                "rasterize_labels": 1,
                "dem_derivatives": 1,
                "assemble_cube": 1,
                "make_chips": 1,
                "density_map": 1,
                "density_figures": 1,
            },
        ),
        (
            "hokkaido_talakmau",
            {"download_datacube": 2, "import_datacube": 2, "make_chips": 2, "density_map": 2, "density_figures": 2},
        ),
        (
            "examples/new_event",  # acquired from STAC like puerto_rico: the same jobs
            {
                "download_sentinel1": 1,
                "download_dem": 1,
                "download_inventory": 1,
                "rasterize_labels": 1,
                "dem_derivatives": 1,
                "assemble_cube": 1,
                "make_chips": 1,
                "density_map": 1,
                "density_figures": 1,
            },
        ),
    ],
)
def test_dry_run_builds_the_full_dag_offline(tmp_path, offline, name, expected) -> None:
    proc = snakemake(tmp_path, CONFIGS / f"{name}.yaml", "-n", "all")
    jobs = _jobs(proc.stdout)
    for rule, count in expected.items():
        assert jobs.get(rule) == count, (rule, jobs)
    assert jobs["train_density"] >= len(yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())["areas"])
    if name == "hokkaido_talakmau":  # the cube replaces acquisition and assembly
        assert not {"download_sentinel1", "download_dem", "rasterize_labels", "assemble_cube", "generate_event"} & set(
            jobs
        )
    else:
        assert "generate_event" not in jobs
    outputs = _outputs_by_rule(tmp_path, CONFIGS / f"{name}.yaml")
    downloads = [
        p
        for rule in ("download_sentinel1", "download_dem", "download_inventory", "download_datacube")
        for p in outputs.get(rule, [])
    ]
    assert downloads and all(p.startswith("resources/") for p in downloads), downloads
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


def test_default_dry_run_has_the_density_grid_on_embedded_and_the_detection_grids(tmp_path, offline) -> None:
    """config.yaml's `all`: the density grid and map on density.areas (embedded) only, and every
    detection experiment (3 input sets x 4 revisits within, 3 input sets x 2 augmentations transfer)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert cfg["density"]["areas"] == ["embedded"] and {"region_a", "region_b"} <= set(cfg["areas"])
    proc = snakemake(tmp_path, ROOT / "config.yaml", "-n", "all")
    jobs = _jobs(proc.stdout)
    assert (
        jobs["train_detection"] == 2 * (3 * 4 + 3 * 2) and jobs["detection_table"] == jobs["detection_figures"] == 1
    )  # 2 split seeds
    assert jobs["detection_oracle"] == jobs["detection_differences"] == 1
    assert jobs["assemble_cube"] == 3 and jobs["make_chips"] == jobs["density_table"] == jobs["density_map"] == 1
    # split schemes (random, blocked) x split seeds (42, 43) x (DEM once + SAR, fused, change x 2 revisits)
    assert cfg["splits"]["seeds"] == [42, 43] and cfg["splits"]["schemes"] == ["random", "blocked"]
    assert cfg["density"]["revisits"] == [1, 3]
    assert jobs["train_density"] == 2 * 2 * (1 + 3 * 2)  # one job per experiment and split: both halves
    assert jobs["split_chips"] == 3  # make_chips's table is the first random split
    assert jobs["density_oracle"] == jobs["density_differences"] == jobs["density_label_free"] == 1
    # one baseline feature job per revisits; one evaluation per setting (nets and baseline), every split
    assert jobs["baseline_features"] == 2 and jobs["evaluate_density"] == 7 + 2
    assert "density_forests" not in jobs  # only for rapid response, which config.yaml does not run
    for area in ("region_a", "region_b"):
        assert f"results/{area}/density" not in proc.stdout and f"results/{area}/chips" not in proc.stdout


# --- from the repository root, as a user types it: `snakemake -n all --configfile X` -------------


def _in_root(*args: str) -> subprocess.CompletedProcess:
    """Snakemake in the repository root, as a user types it; --nolock, so that a user's run in
    the root is not disturbed (a dry run and a summary write no outputs)."""
    cmd = [*SNAKEMAKE, "--nolock", *args]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _root_jobs_and_areas(*args: str) -> tuple[dict[str, int], set[str]]:
    """Jobs of `snakemake -n -F all` (forced: existing results change nothing) and the areas (or
    `detection`) of every output of `all`'s DAG (`--summary`: results/, resources/ folders)."""
    dry = _in_root("-n", "-F", "all", *args)
    assert "Shell command: None" not in dry.stdout + dry.stderr  # no printshellcmds noise for script rules
    jobs = _jobs(dry.stdout)
    summary = _in_root("--summary", "all", *args).stdout.splitlines()[1:]
    areas = {m.group(1) for line in summary if (m := re.match(r"(?:results|resources)/(\w+)/", line))}
    return jobs, areas


def test_the_enga_config_maps_a_real_event_from_opera_with_the_twins_models(offline) -> None:
    """config/enga_2024.yaml: OPERA RTC-S1 from NASA's CMR-STAC over the event file's bounds,
    mapped by rapid response with models trained on the twin (same resolution and chips)."""
    cfg = yaml.safe_load((CONFIGS / "enga_2024.yaml").read_text())
    validate_config(cfg)
    event = yaml.safe_load(realdata("landslide_outlines", "papau_new_guinea_landslide_2024.yml").read_text())["event"]
    area = cfg["areas"]["enga_2024"]
    assert area["bbox"] == event["bounds"] and area["sentinel1"]["relative_orbit"] in event["rtc_track_numbers"]
    assert area["event_time"].startswith("2024-05-23T17")  # 03:00 on the 24th, local time (UTC+10)
    product = product_of(area["sentinel1"])
    assert (product.collection, product.endpoint) == ("OPERA_L2_RTC-S1_V1", "https://cmr.earthdata.nasa.gov/stac/ASF")
    assert product.token_env == "EARTHDATA_TOKEN" and area["inventory"] == {"source": "none"}
    assert cfg["rapid_response"]["enga_2024"]["model_area"] == "embedded"
    assert area["resolution"] == cfg["areas"]["embedded"]["resolution"]
    args = ("results/enga_2024/rapid/map.tif", "--configfile", "config/enga_2024.yaml")
    jobs = _jobs(_in_root("-n", "-F", *args).stdout)
    assert jobs["download_sentinel1"] == 2 and jobs["predict_rapid"] == 2 and jobs["rapid_map"] == 1
    summary = [line.split("\t") for line in _in_root("--summary", *args).stdout.splitlines()[1:]]
    assert ["resources/enga_2024/sentinel1.zarr", "download_sentinel1"] in [cols[:3:2] for cols in summary]
    assert area_grid(area["bbox"], area["resolution"]).crs == "EPSG:32754"


def test_the_example_of_a_new_event_is_short_and_valid() -> None:
    """config/examples/new_event.yaml: a real event in at most 30 lines, the rest the schema's defaults."""
    path = CONFIGS / "examples" / "new_event.yaml"
    assert len(path.read_text().splitlines()) <= 30
    cfg = yaml.safe_load(path.read_text())
    validate_config(cfg)
    assert cfg["splits"]["seeds"] == [42, 43] and cfg["density"]["forest"]["n_estimators"] == 300


@pytest.mark.parametrize("config_path", SHIPPED, ids=lambda p: p.stem)
def test_root_dry_run_of_a_shipped_config_has_only_its_areas(offline, config_path) -> None:
    """`--configfile X` replaces config.yaml instead of being merged into it: no demo area, no
    detection job unless X has a detection section, and the jobs are those of X alone."""
    cfg = yaml.safe_load(config_path.read_text())
    validate_config(cfg)  # the settings X leaves out: the schema's defaults
    jobs, areas = _root_jobs_and_areas("--configfile", str(config_path.relative_to(ROOT)))
    assert areas == set(cfg["areas"]) | ({"detection"} if "detection" in cfg else set()), areas
    twins = [a for a, area in cfg["areas"].items() if area["sentinel1"]["source"] == "synthetic"]
    assert jobs.get("generate_event", 0) == len(twins)  # only a config with a twin (a model area) has one
    if "detection" not in cfg:
        assert not {"train_detection", "detection_table", "detection_figures"} & set(jobs), jobs
    n, rapid = len(cfg["density"]["areas"]), len(cfg.get("rapid_response", {}))
    assert jobs["density_table"] == jobs["density_map"] == n and jobs["make_chips"] == n + rapid
    assert jobs.get("rapid_map", 0) == rapid
    assert jobs["density_label_free"] == n  # the label-free reference row of each density table
    # split schemes x split seeds x halves x (DEM once + SAR, fused, change x each revisits); the oracle needs a twin
    d = cfg["density"]
    nets = ("dem" in d["inputs"]) + len({"sar", "fused", "change"} & set(d["inputs"])) * len(d["revisits"])
    n_splits = len(cfg["splits"]["schemes"]) * len(cfg["splits"]["seeds"])
    assert jobs["train_density"] == n_splits * n * nets
    assert jobs.get("density_oracle", 0) == len(set(twins) & set(d["areas"]))


def test_root_default_dry_run_is_config_yaml() -> None:
    """Without --configfile the root's config.yaml runs, the same jobs as naming it explicitly."""
    jobs, areas = _root_jobs_and_areas()
    assert (jobs, areas) == _root_jobs_and_areas("--configfile", "config.yaml")
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert areas == set(cfg["areas"]) | {"detection"}
    # 2 split seeds x (3 input sets x 4 revisits within + 3 input sets x 2 augmentations in transfer)
    assert jobs["generate_event"] == len(cfg["areas"]) and jobs["train_detection"] == 2 * (3 * 4 + 3 * 2)
    assert set(cfg["density"]["inputs"]) == {"dem", "sar", "fused", "change"}


def test_the_one_split_overlay_runs_every_experiment_under_one_split() -> None:
    """config/overlays/one_split.yaml merged after config.yaml (the README's shorter run): the
    same experiments and seeds, one density split and one detection split."""
    jobs, areas = _root_jobs_and_areas("--configfile", "config.yaml", "config/overlays/one_split.yaml")
    full, _ = _root_jobs_and_areas()
    assert jobs["train_density"] == 1 + 3 * 2 and full["train_density"] == 4 * jobs["train_density"]
    assert jobs["train_detection"] == 3 * 4 + 3 * 2 and full["train_detection"] == 2 * jobs["train_detection"]
    assert "split_chips" not in jobs and jobs["evaluate_density"] == full["evaluate_density"]
    assert areas == set(yaml.safe_load((ROOT / "config.yaml").read_text())["areas"]) | {"detection"}


def test_the_full_grids_overlay_adds_density_at_2_revisits_and_the_single_polarisation_u_nets() -> None:
    """config/overlays/full_grids.yaml merged after config.yaml: every density net but DEM-only
    and the baseline at 2 revisits too (every split), VV-only and VH-only U-Nets at every within
    revisits and split seed; nothing else trains."""
    jobs, areas = _root_jobs_and_areas("--configfile", "config.yaml", "config/overlays/full_grids.yaml")
    default, _ = _root_jobs_and_areas()
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    det, d = cfg["detection"], cfg["density"]
    assert not {"vv", "vh"} & set(det["within"]["inputs"]) and d["revisits"] == [1, 3]
    extra = 2 * len(det["within"]["revisits"]) * len(det["chips"]["split_seeds"])
    assert jobs["train_detection"] == default["train_detection"] + extra
    n_splits = len(cfg["splits"]["schemes"]) * len(cfg["splits"]["seeds"])
    nets = len(set(d["inputs"]) - {"dem"})  # sar, fused, change: one more revisits value each
    assert jobs["train_density"] == default["train_density"] + n_splits * nets
    assert jobs["evaluate_density"] == default["evaluate_density"] + nets + 1  # + the baseline at 2 revisits
    assert areas == set(cfg["areas"]) | {"detection"}
