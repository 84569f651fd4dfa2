"""Small shared I/O helpers: logging set-up for rule logs, atomic outputs, raster writing, the
zarr encoding every written store uses."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy

from .errors import InputError
from .grid import Grid

if TYPE_CHECKING:
    import xarray as xr


def zarr_encoding(ds: xr.Dataset, encoding: Mapping[str, Mapping[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """`encoding` (per variable) completed so that every zarr reader, v2 or v3, reads `ds` back as
    written, including the chunks a writer leaves out (zarr 3 skips a chunk equal to the fill value).

    Floating-point arrays get an explicit NaN fill value: an unwritten chunk is nodata. Every other
    array (integer labels and counts, booleans, strings, integer coordinates) has every chunk
    written: without a fill value zarr 2 reads a missing chunk as uninitialised memory, and with
    one (0) xarray would read each 0 as missing, since it takes a zarr v2 fill value for
    `_FillValue`."""
    given = encoding or {}
    out: dict[str, dict[str, Any]] = {}
    for name, var in ds.variables.items():
        # what xarray would use without an `encoding` argument (a grid_mapping, say), then the caller's
        enc = {**var.encoding, **given.get(str(name), {})}
        if var.dtype.kind == "f":
            if enc.get("_FillValue") is None:
                enc["_FillValue"] = np.nan
        else:
            enc.setdefault("write_empty_chunks", True)
        out[str(name)] = enc
    return out


def check_writable(folders: Iterable[str | Path]) -> None:
    """InputError naming the first folder this process cannot write: an existing folder is probed
    by creating (and removing) a hidden file in it, a missing one through its nearest existing
    parent (where it would be created). Permissions, immutable folders and read-only mounts all
    show, as root too."""
    probed: dict[Path, str | None] = {}
    for folder in folders:
        where = Path(folder)
        while not where.exists() and where != where.parent:
            where = where.parent
        if where not in probed:
            probed[where] = _probe(where)
        if probed[where] is not None:
            target = str(folder) if where == Path(folder) else f"{folder} (to be created in {where.resolve()})"
            raise InputError(
                f"{target}: cannot be written ({probed[where]}); expected a folder this user can write "
                "(the workflow writes its outputs, logs and benchmarks there)"
            )


def _probe(folder: Path) -> str | None:
    """None when a file can be created in `folder`; the operating system's reason otherwise."""
    try:
        fd, name = tempfile.mkstemp(dir=folder, prefix=".write-probe-")
    except OSError as err:
        return err.strerror or type(err).__name__
    os.close(fd)
    os.unlink(name)
    return None


def unique_sibling(path: str | Path, tag: str) -> Path:
    """A hidden sibling of `path` no other process uses: `.{stem}.{tag}-{host}-{pid}-{random}{suffix}`.

    A job orphaned by a killed Snakemake and the rerun of that job never share one, and
    `remove_stale_siblings` can tell whose it is."""
    path = Path(path)
    return path.with_name(
        f".{path.stem}.{tag}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}"
    )


def remove_stale_siblings(path: str | Path, tag: str) -> None:
    """Remove temporaries of `path` (see unique_sibling) left by dead processes of this host; those of
    live processes (an orphaned job still writing) and of other hosts are left alone."""
    path = Path(path)
    host = socket.gethostname()
    prefix = f".{path.stem}.{tag}-{host}-"
    if not path.parent.is_dir():
        return
    for sibling in path.parent.iterdir():
        name = sibling.name
        if not (name.startswith(prefix) and name.endswith(path.suffix)):
            continue
        try:
            pid = int(name[len(prefix) :].split("-")[0])
        except ValueError:
            continue
        if not _alive(pid):
            _remove(sibling)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary sibling path unique to this process; move it onto `path` only if the block
    succeeds.

    Keeps a failed run from leaving a partial output that looks complete, and a rerun from writing
    through the temporary file of an orphaned earlier job (temporaries of dead processes are
    removed first)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_siblings(path, "partial")
    tmp = unique_sibling(path, "partial")
    try:
        yield tmp
    except BaseException:
        _remove(tmp)
        raise
    _remove(path)
    tmp.rename(path)


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


#: GDAL block cache (MB) while a COG is written: bounds its memory at any raster size.
GDAL_CACHE_MB = 256


@contextmanager
def cog_writer(
    path: str | Path,
    grid: Grid,
    count: int,
    dtype: str | np.dtype,
    nodata: float | int | None = None,
    descriptions: list[str] | None = None,
    resampling: str = "average",
) -> Iterator[rasterio.io.DatasetWriter]:
    """Yield an open (tiled, on-disk) GeoTIFF on `grid` to write windows into; when the block
    ends it is copied to `path` as a Cloud-Optimized GeoTIFF (DEFLATE) and removed.

    The intermediate file lies beside the output (not in memory), so a raster written window by
    window never needs to be held whole; `path` appears only complete (atomic_path), and neither
    it nor the intermediate file is left behind when the block fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_siblings(path.with_suffix(".tif"), "scratch")
    scratch = unique_sibling(path.with_suffix(".tif"), "scratch")
    profile = {
        "driver": "GTiff",
        "count": count,
        "height": grid.height,
        "width": grid.width,
        "dtype": np.dtype(dtype).name,
        "crs": grid.crs,
        "transform": grid.transform,
        "nodata": nodata,
        "tiled": True,
        "blockxsize": 256,
        "blockysize": 256,
    }
    try:
        # GDAL's block cache (default 5 % of the machine's RAM) would otherwise fill with
        # written tiles up to the raster's size
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            with rasterio.open(scratch, "w", **profile) as dst:
                for i, desc in enumerate(descriptions or [], start=1):
                    dst.set_band_description(i, desc)
                yield dst
            with rasterio.open(scratch) as src, atomic_path(path) as tmp:
                rio_copy(
                    src,
                    tmp,
                    driver="COG",
                    compress="DEFLATE",
                    blocksize=256,
                    overview_resampling=resampling,
                )
    finally:
        _remove(scratch)


def write_cog(
    path: str | Path,
    bands: np.ndarray,
    grid: Grid,
    nodata: float | int | None = None,
    descriptions: list[str] | None = None,
    resampling: str = "average",
) -> None:
    """Write a (bands, y, x) or (y, x) array on `grid` as a Cloud-Optimized GeoTIFF (DEFLATE)."""
    data = bands[np.newaxis] if bands.ndim == 2 else bands
    with cog_writer(path, grid, data.shape[0], data.dtype, nodata, descriptions, resampling) as dst:
        dst.write(data)


def write_cog_annotated(
    path: str | Path,
    bands: np.ndarray,
    grid: Grid,
    nodata: float | int | None = None,
    descriptions: list[str] | None = None,
    units: list[str] | None = None,
    tags: dict[str, str] | None = None,
    band_tags: list[dict[str, str]] | None = None,
    colormap: dict[int, tuple[int, int, int, int]] | None = None,
    resampling: str = "average",
) -> None:
    """write_cog with the metadata a GIS shows: per-band units and tags (e.g. long_name),
    dataset tags (provenance) and a colour table of band 1, all carried into the COG."""
    data = bands[np.newaxis] if bands.ndim == 2 else bands
    with cog_writer(path, grid, data.shape[0], data.dtype, nodata, descriptions, resampling) as dst:
        if units:
            dst.units = tuple(units)
        for i, band in enumerate(band_tags or [], start=1):
            dst.update_tags(i, **band)
        if tags:
            dst.update_tags(**tags)
        if colormap:
            dst.write_colormap(1, colormap)
        dst.write(data)


def write_category_names(tif: str | Path, names: list[str], band: int = 1) -> Path:
    """Category names of a band of `tif` (value i is names[i]) in GDAL's PAM sidecar
    `<tif>.aux.xml`, where GDAL keeps them for a GeoTIFF (gdalinfo and QGIS read them)."""
    import xml.etree.ElementTree as ET

    root = ET.Element("PAMDataset")
    rb = ET.SubElement(root, "PAMRasterBand", band=str(band))
    cats = ET.SubElement(rb, "CategoryNames")
    for name in names:
        ET.SubElement(cats, "Category").text = name
    out = Path(f"{tif}.aux.xml")
    with atomic_path(out) as tmp:
        ET.ElementTree(root).write(tmp, encoding="UTF-8", xml_declaration=False)
    return out


def write_json(path: str | Path, data: Mapping[str, Any]) -> None:
    """Write `data` as indented, newline-terminated JSON, atomically (atomic_path): the map choices."""
    with atomic_path(path) as tmp:
        Path(tmp).write_text(json.dumps(data, indent=2) + "\n")


def read_json(path: str | Path, required: Sequence[str], expected: str) -> dict[str, Any]:
    """The JSON object at `path`, refused in one line naming the file and `expected` (what should
    have written it) unless it parses to an object holding every key of `required`."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"{path}: not JSON ({err.msg} at line {err.lineno}); expected {expected}") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: a JSON {type(data).__name__}, not an object; expected {expected}")
    missing = [k for k in required if k not in data]
    if missing:
        raise InputError(f"{path}: no {', '.join(repr(k) for k in missing)}; expected {expected}")
    return data
