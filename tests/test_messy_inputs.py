"""Inputs as real sources deliver them, checked or converted where they enter: inventories with
duplicates, Z, empty and invalid geometries; DEMs in feet or in units nobody knows; times written
without a zone or left unquoted in YAML; what the config alone decides about the chips; outputs
that cannot be written. Each case is a row of docs/reliability.md, and each test builds its own
bad input."""

from __future__ import annotations

import copy
import datetime as dt
import logging
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import yaml
from affine import Affine
from conftest import snakemake, tiny_config, write_config
from shapely.geometry import Point, Polygon

from landslide_sar.config import validate_config
from landslide_sar.errors import ConfigError, InputError
from landslide_sar.grid import Grid, parse_time

ROOT = Path(__file__).resolve().parent.parent
BBOX = [-66.70, 18.25, -66.67, 18.28]


@pytest.fixture()
def default() -> dict:
    return yaml.safe_load((ROOT / "config.yaml").read_text())


# --- what the config alone decides: refused before any job ----------------------------------------


def _bbox(bbox: list[float]):  # noqa: ANN202 - an edit of the config
    return lambda c: c["areas"]["embedded"].update(bbox=bbox)


CHIP_MISTAKES = {
    "chip-larger-than-area": (
        lambda c: (c["chips"].update(size=1024), c["areas"]["embedded"].update(bbox=[-66.70, 18.25, -66.695, 18.255])),
        "config chips.size = 1024 is not allowed for areas.embedded (55 x 57 px at 10 m, bbox [-66.7, 18.25, "
        "-66.695, 18.255]); expected at most 55 px, the area's shorter side",
    ),
    "area-of-one-chip": (
        _bbox([-66.70, 18.25, -66.688, 18.262]),
        "config chips.size = 128 gives areas.embedded (130 x 135 px at 10 m, bbox [-66.7, 18.25, -66.688, 18.262]) "
        "1 chip(s) (1 x 1); even with every chip usable, half 0 has 1 train and 0 validation chip(s), expected at "
        "least splits.min_train_chips = 4 and splits.min_val_chips = 3 (a smaller chips.size or a larger area give "
        "more chips)",
    ),
    "too-few-chips-per-half": (
        lambda c: c["chips"].update(size=512),
        "config chips.size = 512 gives areas.embedded (1608 x 1571 px at 10 m, bbox [-66.75, 18.2, -66.6, 18.34]) "
        "9 chip(s) (3 x 3); even with every chip usable, half 0 has 4 train and 1 validation chip(s), expected at "
        "least splits.min_train_chips = 4 and splits.min_val_chips = 3",
    ),
    "chip-not-a-multiple-of-multilook": (
        lambda c: c["chips"].update(size=130),
        "config chips.size = 130 is not allowed with density.model.multilook = 4; expected a multiple of 4",
    ),
    "detection-chip-larger-than-region": (
        lambda c: c["detection"]["chips"].update(size=512),
        "config detection.chips.size = 512 is not allowed for areas.region_b (429 x 448 px at 10 m, bbox "
        "[-67.055, 18.145, -67.015, 18.185]); expected at most 429 px, the area's shorter side",
    ),
}


@pytest.mark.parametrize("case", list(CHIP_MISTAKES))
def test_what_the_config_decides_about_the_chips_is_one_line(default, case) -> None:
    edit, expected = CHIP_MISTAKES[case]
    edit(default)
    with pytest.raises(ConfigError) as err:
        validate_config(default)
    line = str(err.value)
    assert line.startswith(expected), line
    assert "\n" not in line


def test_the_best_case_halves_are_the_ones_the_split_draws() -> None:
    """The config check counts the chips of each half as assign_splits draws them (all usable)."""
    from landslide_sar.config import _half_sizes
    from landslide_sar.density.splits import assign_splits

    for n in range(1, 60):
        half, subset = assign_splits(np.ones(n, bool), 0, 0.4, 0.1)
        drawn = [
            (int(((half == k) & (subset == "train")).sum()), int(((half == k) & (subset == "val")).sum()))
            for k in (0, 1)
        ]
        assert _half_sizes(n, 0.1) == drawn, n


@pytest.mark.parametrize(
    "size, expected",
    [
        (
            256,
            "ERROR: config chips.size = 256 gives areas.tiny (323 x 337 px at 10 m, bbox [-66.7, 18.25, -66.67, "
            "18.28]) 1 chip(s)",
        ),
        (1000, "ERROR: config chips.size = 1000 is not allowed for areas.tiny (323 x 337 px at 10 m"),
    ],
    ids=["one-chip", "chip-larger-than-area"],
)
def test_chip_mistakes_stop_a_dry_run_before_any_job(tmp_path, size, expected) -> None:
    """Through Snakemake: `snakemake -n` already fails with the one line; no job ran or would run."""
    cfg = tiny_config()
    cfg["chips"]["size"] = size
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "-n", "all", check=False)
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode != 0 and len(lines) == 1 and lines[0].startswith(expected), out[-2000:]
    assert "Traceback" not in out and "download_sentinel1" not in out and "Job stats" not in out
    assert not (tmp_path / "resources").exists() and not (tmp_path / "results").exists()


# --- times: quoted or not; without a zone taken as UTC, said once ---------------------------------

UNQUOTED = """
areas:
  embedded:
    event_time: 2017-09-20
    sentinel1: {search_start: 2017-08-06T00:00:00Z, search_end: 2017-11-04}
"""


def test_unquoted_yaml_dates_are_accepted_and_zone_less_times_are_utc_said_once(default) -> None:
    from landslide_sar.config import zone_less_times

    over = yaml.safe_load(UNQUOTED)["areas"]["embedded"]
    assert isinstance(over["event_time"], dt.date) and isinstance(over["sentinel1"]["search_start"], dt.datetime)
    cfg = copy.deepcopy(default)
    cfg["areas"]["embedded"]["event_time"] = over["event_time"]
    cfg["areas"]["embedded"]["sentinel1"].update(over["sentinel1"])
    validate_config(cfg)
    area = cfg["areas"]["embedded"]
    assert area["event_time"] == "2017-09-20"
    assert area["sentinel1"]["search_start"] == "2017-08-06T00:00:00Z"
    assert area["sentinel1"]["search_end"] == "2017-11-04"
    assert zone_less_times(cfg) == [
        "config areas.embedded.event_time = '2017-09-20' has no time zone: taken as UTC, 2017-09-20T00:00:00Z "
        "(write '2017-09-20T00:00:00Z' to say so)",
        "config areas.embedded.sentinel1.search_end = '2017-11-04' has no time zone: taken as UTC, "
        "2017-11-04T00:00:00Z (write '2017-11-04T00:00:00Z' to say so)",
    ]
    assert parse_time(area["event_time"], "event_time") == dt.datetime(2017, 9, 20, tzinfo=dt.UTC)
    shipped = copy.deepcopy(default)
    validate_config(shipped)
    assert zone_less_times(shipped) == []  # config.yaml writes its times with Z


def test_unquoted_times_dry_run_with_one_note_each(tmp_path) -> None:
    """Through Snakemake's own YAML loader: `event_time: 2017-09-20` unquoted (a datetime.date) runs,
    and the note that it is taken as UTC is printed once, not once per job."""
    cfg = tiny_config()
    for area in cfg["areas"].values():
        area["event_time"] = dt.date(2017, 9, 20)  # yaml.safe_dump writes it unquoted
    config = write_config(tmp_path / "config.yaml", cfg)
    assert "event_time: 2017-09-20\n" in config.read_text()
    proc = snakemake(tmp_path, config, "-n", "all", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    notes = [line for line in out.splitlines() if line.startswith("NOTE:")]
    assert notes == [
        f"NOTE: config areas.{name}.event_time = '2017-09-20' has no time zone: taken as UTC, 2017-09-20T00:00:00Z "
        "(write '2017-09-20T00:00:00Z' to say so)"
        for name in ("tiny", "tiny_new")
    ], out[-3000:]
