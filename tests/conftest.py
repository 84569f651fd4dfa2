"""Shared fixtures: a tiny embedded event config derived from the default config.yaml."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from landslide_sar.config import expand_presets

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def tiny_config() -> dict:
    """The default config on two ~3 x 3 km events with 32-pixel chips and small, quick models:
    `tiny` is trained on (a reduced density grid), `tiny_new` (another seed, further east) is
    mapped by tiny's models and forests without its inventory being read (rapid response). The
    detection regions and section of config.yaml are dropped (tests/test_detection_workflow.py)."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    expand_presets(cfg)  # the areas' full synthetic blocks, edited below
    cfg.pop("detection")
    area = copy.deepcopy(cfg["areas"]["embedded"])
    area["bbox"] = [-66.70, 18.25, -66.67, 18.28]
    new = copy.deepcopy(area)
    new["bbox"] = [-66.66, 18.25, -66.63, 18.28]
    new["synthetic"]["seed"] = 7
    new["inventory"] = {"source": "none"}
    # Every mechanism of the twin stays on (layover/shadow nodata, correlated speckle, scar regrowth,
    # inventory omissions and position error) but the two that only weaken the signal, the noise
    # floor and the rain-driven soil moisture: 95 chips of 32 px must carry enough of it for the
    # "beats chance" assertions; the default run keeps them.
    for a in (area, new):
        a["synthetic"]["sar"]["nesz_db"] = -60.0
        a["synthetic"]["moisture"]["peak_vol_pct"] = 0.0
    cfg["areas"] = {"tiny": area, "tiny_new": new}
    cfg["rapid_response"] = {"tiny_new": {"model_area": "tiny", "inputs": "fused", "revisits": 3}}
    cfg["chips"]["size"] = 32
    cfg["density"]["areas"] = ["tiny"]
    cfg["density"]["inputs"] = ["dem", "fused"]
    cfg["density"]["revisits"] = [1, 3]
    cfg["density"]["model"].update(width=8, depth=3)
    cfg["density"]["training"].update(seeds=[0, 1], max_epochs=40, patience=6, batch_size=8)
    cfg["density"]["forest"]["n_estimators"] = 100
    cfg["splits"]["block_km"] = 1.0  # blocks of 4 x 4 chips of 320 m: about 9 blocks on the tiny area
    return cfg


def write_config(path: Path, cfg: dict) -> Path:
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def snakemake(workdir: Path, config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run this repository's workflow in `workdir` with `config` (outputs land in workdir)."""
    cmd = [
        *SNAKEMAKE,
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        "--configfile",
        str(config),
        *args,
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole DAG run once on the tiny event; returns its working directory."""
    workdir = tmp_path_factory.mktemp("tiny_run")
    config = write_config(workdir / "config.yaml", tiny_config())
    snakemake(workdir, config, "--cores", "2", "all")
    return workdir


#: real radar products and outlines, beside the repository, never in it (../shared/realdata/README.md)
REALDATA = ROOT.parent / "shared" / "realdata"


def realdata(*parts: str) -> Path:
    """A path under ../shared/realdata; the test skips when it is absent, and fails under CI=true."""
    path = REALDATA.joinpath(*parts)
    if not path.exists():
        message = f"real data {path} is absent (expected ../shared/realdata beside the repository)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path
