"""The pipeline's cube read by the published datacubes' reader (landslide-sar-unet's
BeforeAfterCubeDataModule) on that reader's own software stack: xarray 2022.12, zarr 2, numpy
1.26, in a virtualenv of its own (tools/published_reader_env.sh) running
tools/published_reader.py, which opens the cube as that code does. What it reads (labels,
counts, before/after means, the time steps it keeps) must be what this project's stack reads.

The cube is made by the cube rule's function from the tiny event's inputs (made by the
workflow), seen from the descending orbit (the published reader keeps only "d" steps), with
64-pixel chunks: several label chunks, some of them all zero, which a zarr writer may leave out
of the store. A second cube is an area whose models use the ascending orbit and asks for both
directions (sentinel1.both_directions): the reader must read its descending steps as it reads
the descending cube's. Without the virtualenv (no package registry) the test is skipped,
except in CI (CI=true), where that is a failure."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import warnings
from pathlib import Path

import numpy as np
import pystac
import pytest
import xarray as xr
from conftest import ROOT, snakemake, tiny_config, write_config

from landslide_sar.config import validate_config
from landslide_sar.cube import assemble_cube
from landslide_sar.sentinel1 import download_sentinel1
from landslide_sar.stac import read_item_collection
from landslide_sar.synthetic import EVENT_FILES, generate_event

AREA = "tiny"
CHUNK = 64  # px: 6 x 6 label chunks on the tiny area
SAR = ("vv", "vh")
STATIC = ("dem", "dem_slope_radians", "dem_aspect", "dem_curvature")
LABELS = ("landslides", "landslide_count")


@pytest.fixture(scope="module")
def published_python() -> Path:
    """The published reader's interpreter (tools/published_reader_env.sh builds it once)."""
    proc = subprocess.run(
        ["bash", str(ROOT / "tools/published_reader_env.sh")], capture_output=True, text=True, timeout=1200
    )
    if proc.returncode != 0:
        reason = f"the published reader's virtualenv could not be built: {proc.stderr.strip()[-1500:]}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI must run the published reader's test, but {reason}")
        pytest.skip(reason)
    return Path(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def descending_event(tmp_path_factory) -> tuple[Path, dict, dict[str, Path]]:
    """The tiny event seen from the descending orbit (relative orbit 62; the one ascending item is
    the distractor the pipeline drops), made by the workflow up to the cube's inputs: the
    workdir, the area's config and the inputs of assemble_cube."""
    workdir = tmp_path_factory.mktemp("published_reader")
    cfg = tiny_config()
    area = cfg["areas"][AREA]
    area["sentinel1"].update(orbit_state="descending", relative_orbit=62)
    area["synthetic"]["distractor"]["relative_orbit"] = 135
    cfg["areas"] = {AREA: area}
    cfg.pop("rapid_response")
    config = write_config(workdir / "config.yaml", cfg)
    inputs = {
        "sentinel1_zarr": f"resources/{AREA}/sentinel1.zarr",
        "dem_tif": f"resources/{AREA}/dem.tif",
        "derivatives_tif": f"results/{AREA}/dem_derivatives.tif",
        "labels_tif": f"results/{AREA}/labels.tif",
    }
    snakemake(workdir, config, "--cores", "2", *inputs.values())
    validate_config(cfg)  # the schema's defaults, as the workflow's scripts see them
    return workdir, cfg["areas"][AREA], {k: workdir / v for k, v in inputs.items()}


@pytest.fixture(scope="module")
def descending_cube(descending_event) -> Path:
    """The descending tiny event assembled with CHUNK-pixel chunks."""
    workdir, _, inputs = descending_event
    cube = workdir / f"results/{AREA}/cube.zarr"
    assemble_cube(**inputs, out_zarr=cube, chunk=CHUNK)
    return cube


@pytest.fixture(scope="module")
def both_directions_cube(descending_event) -> Path:
    """An area whose models use the ascending orbit (135) with sentinel1.both_directions: the
    tiny event seen from each direction (generated twice, each direction's own passes kept) is
    one ItemCollection, from which download_sentinel1 takes 3 + 3 steps of each; the DEM and
    labels are the descending event's (the same seed: the same terrain and landslides)."""
    workdir, area, inputs = descending_event
    ascending = copy.deepcopy(area)
    ascending["sentinel1"].update(orbit_state="ascending", relative_orbit=135, both_directions=True)
    ascending["synthetic"]["distractor"]["relative_orbit"] = 99
    event = generate_event(ascending, workdir / "ascending")
    items = [i for i in read_item_collection(event.items) if i.properties["sat:orbit_state"] == "ascending"] + [
        i
        for i in read_item_collection(workdir / f"resources/{AREA}/synthetic/{EVENT_FILES['items']}")
        if i.properties["sat:orbit_state"] == "descending"
    ]
    merged = workdir / "both_items.json"
    pystac.ItemCollection(items).save_object(str(merged))
    download_sentinel1(ascending, workdir / "both_sentinel1.zarr", merged)
    cube = workdir / "both_cube.zarr"
    assemble_cube(**{**inputs, "sentinel1_zarr": workdir / "both_sentinel1.zarr"}, out_zarr=cube, chunk=CHUNK)
    return cube


def read_published(python: Path, cube: Path, day: str, out: Path) -> tuple[dict[str, np.ndarray], dict]:
    """Run tools/published_reader.py on `cube` with `day` as the event's start and end date."""
    proc = subprocess.run(
        [
            str(python),
            str(ROOT / "tools/published_reader.py"),
            str(cube),
            *("--start", day, "--end", day, "--orbit-state", "d", "--out", str(out)),
            *("--used-memory", str(CHUNK * CHUNK * 2)),  # blocks of a label chunk's size
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    with np.load(out) as npz:
        arrays = {k: npz[k] for k in npz.files}
    return arrays, json.loads(out.with_suffix(".json").read_text())


def test_the_published_reader_reads_our_cube_as_we_do(published_python, descending_cube, tmp_path) -> None:
    ours = xr.open_zarr(descending_cube).load()
    labels = ours["landslides"].values
    blocks = labels[: labels.shape[0] // CHUNK * CHUNK, : labels.shape[1] // CHUNK * CHUNK]
    per_chunk = blocks.reshape(labels.shape[0] // CHUNK, CHUNK, labels.shape[1] // CHUNK, CHUNK).sum(axis=(1, 3))
    assert per_chunk.size > 1 and (per_chunk == 0).any() and (per_chunk > 0).any()  # the case that went wrong
    assert set(ours["sat:orbit_state"].values.tolist()) == {"d"}
    event = np.datetime64(ours.attrs["event_time"][:19])
    day = str(event)[:10].replace("-", "")  # the reader's date format, as its main script spells them

    theirs, summary = read_published(published_python, descending_cube, day, tmp_path / "read.npz")

    # their stack, not ours
    assert summary["versions"]["xarray"].startswith("2022.12") and summary["versions"]["zarr"].startswith("2.")
    assert summary["versions"]["numpy"].startswith("1.26")
    # every chunk a zarr 2 reader asks for is on disk, or the array says what a missing one holds
    unreadable = {
        name: a for name, a in summary["arrays"].items() if a["fill_value"] is None and a["stored"] < a["chunks"]
    }
    assert not unreadable, f"chunks missing without a fill value (zarr 2 reads uninitialised memory): {unreadable}"
    # labels and counts as stored, and the target the reader trains on
    for name in LABELS:
        np.testing.assert_array_equal(np.nan_to_num(theirs[f"{name}_read"], nan=0), ours[name].values)
    np.testing.assert_array_equal(theirs["target"], labels > 0)
    assert summary["positives"] == int((labels > 0).sum()) > 0
    # the steps it keeps: the three descending passes on each side of the event
    times = ours["timestep"].values
    pre, post = times[times < event], times[times >= event]
    assert summary["before_steps"] == [str(t)[:10] for t in pre] == ["2017-08-23", "2017-09-04", "2017-09-16"]
    assert summary["after_steps"] == [str(t)[:10] for t in post] == ["2017-09-22", "2017-10-10", "2017-10-22"]
    # before/after means of log backscatter, and the static layers
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the mean of a pixel that is nodata on every date
        for var in SAR:
            log_sar = np.log(ours[var].values)
            for side, when in (("before", times < event), ("after", times >= event)):
                np.testing.assert_allclose(
                    theirs[f"{var}_{side}"], np.nanmean(log_sar[when], axis=0), rtol=1e-5, equal_nan=True
                )
    for var in STATIC:
        np.testing.assert_allclose(theirs[var], ours[var].values, rtol=1e-6, equal_nan=True)


def test_an_ascending_area_with_both_directions_gives_the_reader_its_descending_steps(
    published_python, both_directions_cube, descending_cube, tmp_path
) -> None:
    """sentinel1.orbit_state: ascending with both_directions: true (docs/outputs.md): the reader
    keeps the 3 + 3 descending steps and reads them as from the descending area's cube; our
    chips take the 3 + 3 ascending ones."""
    ours = xr.open_zarr(both_directions_cube).load()
    states = ours["sat:orbit_state"].values
    assert sorted(states.tolist()) == ["a"] * 6 + ["d"] * 6 and ours.attrs["orbit"] == "ascending/135, descending/62"
    event = np.datetime64(ours.attrs["event_time"][:19])
    day = str(event)[:10].replace("-", "")
    from landslide_sar.chips import model_direction, sar_timesteps  # here: the test above runs on older code

    pre, post = sar_timesteps(ours["timestep"].values, event.astype(object), 3, 3, states, model_direction(ours.attrs))
    assert set(states[pre + post]) == {"a"}

    theirs, summary = read_published(published_python, both_directions_cube, day, tmp_path / "both.npz")
    alone, _ = read_published(published_python, descending_cube, day, tmp_path / "alone.npz")
    assert summary["before_steps"] == ["2017-08-23", "2017-09-04", "2017-09-16"]
    assert summary["after_steps"] == ["2017-09-22", "2017-10-10", "2017-10-22"]
    for name in ("vv_before", "vv_after", "vh_before", "vh_after", "target", *STATIC):
        np.testing.assert_allclose(theirs[name], alone[name], rtol=1e-6, equal_nan=True)


def test_zarr_encoding_fills_floats_with_nan_and_stores_every_other_chunk(tmp_path) -> None:
    """Known answers: a float array's all-NaN chunk may be left out (fill NaN); an all-zero chunk of
    a uint16, a bool array or a 0-d int (a CRS variable) is on disk, with no fill value that xarray
    would read as missing data; everything reads back as written, with its dtype."""
    from landslide_sar.io import zarr_encoding  # here: the test above also runs on older writers

    labels = np.zeros((4, 4), "uint16")
    labels[0, 0] = 1  # chunk (0, 0) has a label; the other three are all zero
    ds = xr.Dataset(
        {
            "landslides": (("y", "x"), labels),
            "valid": (("y", "x"), labels > 0),
            "vv": (("y", "x"), np.where(labels > 0, 0.1, np.nan).astype("float32")),
        },
        coords={"spatial_ref": 0, "y": [3.0, 2.0, 1.0, 0.0], "x": [0.0, 1.0, 2.0, 3.0]},
    ).chunk({"y": 2, "x": 2})
    enc = zarr_encoding(ds, {"vv": {"chunks": (2, 2)}})
    assert enc["vv"] == {"chunks": (2, 2), "_FillValue": enc["vv"]["_FillValue"]} and np.isnan(enc["vv"]["_FillValue"])
    assert enc["landslides"] == enc["valid"] == enc["spatial_ref"] == {"write_empty_chunks": True}
    ds.to_zarr(tmp_path / "a.zarr", mode="w", encoding=enc)
    meta = {
        v: json.loads((tmp_path / "a.zarr" / v / ".zarray").read_text()) for v in ("landslides", "vv", "spatial_ref")
    }
    assert meta["landslides"]["fill_value"] is None and meta["vv"]["fill_value"] == "NaN"
    stored = {
        v: sorted(p.name for p in (tmp_path / "a.zarr" / v).iterdir() if not p.name.startswith(".")) for v in meta
    }
    assert stored == {"landslides": ["0.0", "0.1", "1.0", "1.1"], "vv": ["0.0"], "spatial_ref": ["0"]}
    back = xr.open_zarr(tmp_path / "a.zarr").load()
    assert back["landslides"].dtype == np.uint16 and back["valid"].dtype == bool
    np.testing.assert_array_equal(back["landslides"].values, labels)
    np.testing.assert_array_equal(back["vv"].values, ds["vv"].values)
    assert int(back["spatial_ref"]) == 0
