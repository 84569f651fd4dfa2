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
    "one-block-for-two-halves": (
        lambda c: c["splits"].update(block_km=20),
        "config splits.block_km = 20 gives areas.embedded (1608 x 1571 px at 10 m, bbox [-66.75, 18.2, -66.6, 18.34]) "
        "1 block of 16 x 16 chips (12 x 12 chips of 128 px); expected at least 2 blocks for the blocked scheme's two "
        "halves",
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
    from landslide_sar.chips import half_sizes
    from landslide_sar.density.splits import assign_splits

    for n in range(1, 60):
        half, subset = assign_splits(np.ones(n, bool), 0, 0.4, 0.1)
        drawn = [
            (int(((half == k) & (subset == "train")).sum()), int(((half == k) & (subset == "val")).sum()))
            for k in (0, 1)
        ]
        assert half_sizes(n, 0.1) == drawn, n


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


# --- inventories --------------------------------------------------------------------------------


def _heads(n: int, seed: int = 0) -> list[Point]:
    rng = np.random.default_rng(seed)
    return [Point(-66.699 + 0.028 * a, 18.251 + 0.028 * b) for a, b in rng.random((n, 2))]


def _rasterize(tmp_path: Path, inv: gpd.GeoDataFrame, caplog, **inventory) -> tuple[np.ndarray, str]:
    from landslide_sar.labels import rasterize_labels

    path = tmp_path / "inventory.gpkg"
    inv.to_file(path)
    area = {"bbox": BBOX, "resolution": 10, "inventory": {"source": "file", "path": str(path), **inventory}}
    out = tmp_path / "labels.tif"
    with caplog.at_level(logging.INFO, logger="landslide_sar"):
        rasterize_labels(area, path, out)
    with rasterio.open(out) as src:
        return src.read(), caplog.text


def test_duplicate_heads_are_counted_once_and_logged(tmp_path, caplog) -> None:
    """50 features, 10 of them the same head again: 40 landslides, and the log says so."""
    heads = _heads(40)
    inv = gpd.GeoDataFrame({"id": range(50)}, geometry=heads + heads[:10], crs="EPSG:4326")
    bands, log = _rasterize(tmp_path, inv, caplog)
    assert int(bands[1].sum()) == 40
    assert "10 of 50 features repeat the geometry of an earlier one" in log and "dropped" in log
    assert "40 features → 40 landslides" in log


def test_duplicate_heads_are_refused_when_the_config_says_so(tmp_path) -> None:
    from landslide_sar.labels import rasterize_labels

    heads = _heads(5)
    path = tmp_path / "inventory.gpkg"
    gpd.GeoDataFrame(geometry=heads + heads[:1], crs="EPSG:4326").to_file(path)
    area = {"bbox": BBOX, "resolution": 10, "inventory": {"source": "file", "duplicates": "refuse"}}
    with pytest.raises(InputError) as err:
        rasterize_labels(area, path, tmp_path / "labels.tif")
    line = str(err.value)
    assert line.startswith(f"{path}: 1 of 6 features repeat the geometry of an earlier one (e.g. 2 x POINT (")
    assert line.endswith("expected each landslide once (inventory.duplicates: drop keeps the first of each)")
    assert not (tmp_path / "labels.tif").exists()


def test_duplicates_setting_is_in_the_schema(default) -> None:
    cfg = copy.deepcopy(default)
    validate_config(cfg)
    assert cfg["areas"]["embedded"]["inventory"]["duplicates"] == "drop"
    cfg["areas"]["embedded"]["inventory"]["duplicates"] = "keep"
    with pytest.raises(
        ConfigError, match=r"areas.embedded.inventory.duplicates = 'keep' is not allowed; allowed: 'drop', 'refuse'"
    ):
        validate_config(cfg)


def test_z_empty_and_invalid_geometries_are_handled_and_counted(tmp_path, caplog) -> None:
    """Z dropped; an empty geometry dropped; a self-intersecting polygon (a bow tie) repaired: each
    logged with its count, and the rest rasterised as usual."""
    z_heads = [Point(p.x, p.y, 250.0) for p in _heads(5)]
    bowtie = Polygon([(-66.690, 18.260), (-66.688, 18.262), (-66.688, 18.260), (-66.690, 18.262)])
    assert not bowtie.is_valid
    inv = gpd.GeoDataFrame(geometry=[*z_heads, Point(), bowtie], crs="EPSG:4326")
    bands, log = _rasterize(tmp_path, inv, caplog)
    assert "1 of 7 features have no geometry (empty or missing) and are dropped" in log
    assert "5 of 6 features have Z coordinates: Z dropped" in log
    assert "1 invalid geometries (e.g. self-intersecting polygons) repaired by shapely.make_valid" in log
    assert int(bands[1].sum()) == 6 and bands[0].sum() > 6  # 5 heads + the bow tie's two triangles


def test_points_on_a_detection_region_are_refused(tmp_path) -> None:
    from landslide_sar.labels import rasterize_labels

    path = tmp_path / "heads.gpkg"
    gpd.GeoDataFrame(geometry=_heads(3), crs="EPSG:4326").to_file(path)
    area = {"bbox": BBOX, "resolution": 10, "inventory": {"source": "file"}}
    with pytest.raises(InputError) as err:
        rasterize_labels(area, path, tmp_path / "labels.tif", geometry="polygons")
    assert str(err.value) == (
        f"{path}: inventory holds 3 point(s) of 3 features ({{'Point': 3}}); a detection region learns landslide "
        "bodies: expected polygons (inventory.layer: a layer of outlines)"
    )
    assert not (tmp_path / "labels.tif").exists()


def test_only_detection_regions_need_polygons(default) -> None:
    """The rule's geometry param: polygons on config.yaml's detection regions, any on the density area."""
    import re

    text = (ROOT / "rules" / "common.smk").read_text()
    assert re.search(r"def inventory_geometry\(wildcards\):", text)
    ns: dict = {"config": copy.deepcopy(default)}
    src = text[text.index("def inventory_geometry") :]
    exec(src[: src.index("\n\n\n")], ns)  # noqa: S102 - the helper as the Snakefile defines it

    class W:
        def __init__(self, area: str) -> None:
            self.area = area

    assert [ns["inventory_geometry"](W(a)) for a in ("embedded", "region_a", "region_b")] == [
        "any",
        "polygons",
        "polygons",
    ]


# --- DEMs ---------------------------------------------------------------------------------------

#: a 45 x 45 DEM in EPSG:4326 over the area, 0.001 degree pixels: a tilted plane, 1220-1594 m
DEM_GRID = Grid("EPSG:4326", Affine(0.001, 0, -66.705, 0, -0.001, 18.285), 45, 45)


def _dem(
    path: Path, metres_per_unit: float = 1.0, unit: str | None = None, crs: str | None = None, offset: float = 0.0
) -> Path:
    """The DEM of DEM_GRID written in a unit (`metres_per_unit`), stated or not by a band unit tag
    and by the CRS (a compound one with a vertical CRS), `offset` added (in that unit)."""
    yy, xx = np.mgrid[0:45, 0:45]
    metres = (1220.0 + 8.0 * xx + 0.5 * yy).astype("float64")
    values = (metres / metres_per_unit + offset).astype("float32")
    profile = {"driver": "GTiff", "width": 45, "height": 45, "count": 1, "dtype": "float32", "nodata": np.nan}
    with rasterio.open(path, "w", crs=crs or DEM_GRID.crs, transform=DEM_GRID.transform, **profile) as dst:
        dst.write(values, 1)
        if unit is not None:
            dst.units = (unit,)
    return path


def _download(tmp_path: Path, src: Path, name: str = "dem.tif") -> Path:
    from landslide_sar.terrain import download_dem

    area = {"bbox": BBOX, "resolution": 10, "dem": {"source": "file", "path": str(src)}}
    out = tmp_path / name
    download_dem(area, src, out)
    return out


@pytest.mark.parametrize(
    "unit, factor, crs",
    [
        ("ft", 0.3048, None),
        ("US survey foot", 1200 / 3937, None),
        (None, 1200 / 3937, "EPSG:4326+6360"),  # NAVD88 height (ftUS): the vertical CRS says it
    ],
    ids=["band-unit-ft", "band-unit-us-survey-foot", "vertical-crs-ftUS"],
)
def test_a_dem_in_feet_is_converted_to_metres(tmp_path, unit, factor, crs, caplog) -> None:
    metres = _download(tmp_path, _dem(tmp_path / "m.tif"), "dem_m.tif")
    with caplog.at_level(logging.INFO, logger="landslide_sar"):
        feet = _download(tmp_path, _dem(tmp_path / "ft.tif", factor, unit, crs), "dem_ft.tif")
    with rasterio.open(metres) as a, rasterio.open(feet) as b:
        assert b.units == ("m",)
        np.testing.assert_allclose(b.read(1), a.read(1), rtol=1e-5, equal_nan=True)
    assert "converted to metres" in caplog.text
    from landslide_sar.terrain import dem_derivatives

    dem_derivatives(metres, tmp_path / "d_m.tif")
    dem_derivatives(feet, tmp_path / "d_ft.tif")
    with rasterio.open(tmp_path / "d_m.tif") as a, rasterio.open(tmp_path / "d_ft.tif") as b:
        assert b.units == ("rad", "degree", "1/(100 m)")
        np.testing.assert_allclose(b.read(1), a.read(1), rtol=1e-3, equal_nan=True)  # the same slope (float32)


def test_a_dem_in_an_unknown_unit_is_refused(tmp_path) -> None:
    src = _dem(tmp_path / "furlong.tif", 201.168, "furlong")
    with pytest.raises(InputError) as err:
        _download(tmp_path, src)
    assert str(err.value) == (
        f"{src}: DEM vertical unit 'furlong' (band unit tag) is not known; expected metres or feet (m, ft, US survey "
        "ft): convert the DEM to metres"
    )
    assert not (tmp_path / "dem.tif").exists()


@pytest.mark.parametrize(
    "offset, fragment",
    [(-12000.0, "DEM values -10"), (9000.0, "DEM values 10")],
    ids=["below", "above"],
)
def test_dem_values_implausible_in_metres_are_refused(tmp_path, offset, fragment) -> None:
    src = _dem(tmp_path / "odd.tif", offset=offset)
    with pytest.raises(InputError) as err:
        _download(tmp_path, src)
    assert str(err.value).startswith(f"{src}: {fragment}"), str(err.value)
    assert "expected values in [-500, 9000] m" in str(err.value)
    assert not (tmp_path / "dem.tif").exists()


def test_a_dem_without_a_unit_is_taken_as_metres_and_the_log_says_so(tmp_path, caplog) -> None:
    with caplog.at_level(logging.INFO, logger="landslide_sar"):
        out = _download(tmp_path, _dem(tmp_path / "plain.tif"))
    assert "states no vertical unit (band unit tag, vertical CRS): taken as metres" in caplog.text
    with rasterio.open(out) as dst:
        assert dst.units == ("m",)


# --- outputs that cannot be written ---------------------------------------------------------------


def _immutable(folder: Path) -> None:
    """`folder` made immutable (chattr +i): not writable even by root; the test is skipped where
    the file system or the user cannot do that."""
    if shutil.which("chattr") is None:
        pytest.skip("no chattr")
    proc = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"chattr +i not possible here: {proc.stderr.strip()}")


def _mutable(folder: Path) -> None:
    subprocess.run(["chattr", "-i", str(folder)], capture_output=True)


def test_an_output_that_cannot_be_written_is_one_error_line(tmp_path, capsys) -> None:
    """A job writing into a folder it cannot write: one `ERROR:` line naming the folder, no traceback."""
    from landslide_sar.labels import rasterize_labels
    from landslide_sar.runner import run_rule

    inv = tmp_path / "heads.gpkg"
    gpd.GeoDataFrame(geometry=_heads(3), crs="EPSG:4326").to_file(inv)
    results = tmp_path / "results" / "tiny"
    results.mkdir(parents=True)
    _immutable(results)
    try:
        area = {"bbox": BBOX, "resolution": 10, "inventory": {"source": "file"}}
        with pytest.raises(SystemExit) as exit_:
            run_rule(
                rasterize_labels, tmp_path / "log.txt", area=area, inventory_path=inv, out_tif=results / "labels.tif"
            )
    finally:
        _mutable(results)
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("ERROR:")]
    assert lines == [
        f"ERROR: {results}: cannot be written (Operation not permitted); expected a folder this user can write"
    ], err
    assert not list(results.iterdir())


def test_unwritable_results_stop_snakemake_before_any_job(tmp_path) -> None:
    config = write_config(tmp_path / "config.yaml", tiny_config())
    (tmp_path / "results").mkdir()
    _immutable(tmp_path / "results")
    try:
        proc = snakemake(tmp_path, config, "-n", "all", check=False)
    finally:
        _mutable(tmp_path / "results")
    out = proc.stdout + proc.stderr
    lines = [line for line in out.splitlines() if line.startswith("ERROR:")]
    assert proc.returncode != 0 and lines == [
        "ERROR: results: cannot be written (Operation not permitted); expected a folder this user can write "
        "(the workflow writes its outputs, logs and benchmarks there)"
    ], out[-2000:]
    assert "Traceback" not in out and not (tmp_path / "resources").exists()


def test_unwritable_output_lines_name_the_path() -> None:
    """GDAL's words (a RasterioIOError) and the operating system's (PermissionError) alike."""
    from rasterio.errors import RasterioIOError

    from landslide_sar.runner import unwritable_output

    gdal = RasterioIOError(
        "Attempt to create new tiff file 'results/a/.labels.partial-h-1-ab12.tif' failed: Operation not permitted"
    )
    assert unwritable_output(gdal) == (
        "results/a: cannot be written (Operation not permitted); expected a folder this user can write"
    )
    os_error = PermissionError(13, "Permission denied", "results/a/table.csv")
    assert (
        unwritable_output(os_error)
        == "results/a/table.csv: Permission denied; expected a path this user can read and write"
    )
    assert unwritable_output(FileNotFoundError(2, "No such file or directory", "x")) is None
