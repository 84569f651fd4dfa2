"""Small shared I/O helpers: logging set-up for rule logs, atomic outputs, raster writing."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import shutil
import socket
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import numpy as np
import rasterio
from rasterio.shutil import copy as rio_copy

from .grid import Grid


def setup_logging(log_path: str | Path | None = None, level: int = logging.INFO) -> logging.Logger:
    """Send library logging (and warnings) to the rule's log file, or to stderr when run by hand."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler: logging.Handler
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)
    return logging.getLogger("landslide_sar")


class LogStream:
    """A file-like object that tqdm can write progress bars into; lines go to a logger."""

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    def write(self, text: str) -> None:
        text = text.strip("\r\n ")
        if text:
            self.logger.info(text)

    def flush(self) -> None:  # tqdm calls it
        pass


def unique_sibling(path: str | Path, tag: str) -> Path:
    """A hidden sibling of `path` no other process uses: `.{stem}.{tag}-{host}-{pid}-{random}{suffix}`.

    A job orphaned by a killed Snakemake and the rerun of that job never share one, and
    `remove_stale_siblings` can tell whose it is."""
    path = Path(path)
    return path.with_name(f".{path.stem}.{tag}-{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(4)}{path.suffix}")


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


#: Environment variable naming the Snakemake invocation (set in rules/common.smk, inherited by jobs).
RUN_ID_ENV = "LANDSLIDE_SAR_RUN_ID"
#: Where a job's input error is remembered for the retries of the same invocation.
INPUT_ERROR_DIR = Path(".snakemake") / "landslide_sar" / "input_errors"


def _job_marker() -> Path | None:
    """The input-error marker of the Snakemake job running this script (None outside Snakemake or
    without a run id): one file per job, named by a hash of its rule and outputs."""
    job = getattr(sys.modules.get("__main__"), "snakemake", None)
    run_id = os.environ.get(RUN_ID_ENV)
    if job is None or not run_id:
        return None
    key = "\0".join([str(getattr(job, "rule", "")), *map(str, getattr(job, "output", []))])
    return INPUT_ERROR_DIR / f"{hashlib.sha1(key.encode()).hexdigest()}.txt"


def run_rule(func, log_path: str | Path | None, /, **kwargs):  # type: ignore[no-untyped-def]
    """Run one library function for a rule: logging into the rule's log, and bad input reported
    as ONE line (on stderr and in the log) with a non-zero exit instead of a traceback.

    Bad input (InputError, ConfigError) cannot change between attempts: it is remembered for this
    Snakemake invocation, and a retry of the job (`retries:`) ends at once without repeating the
    work or the line. A NetworkError is reported the same way but not remembered: a retry may help."""
    from .config import ConfigError
    from .grid import InputError, NetworkError

    logger = setup_logging(log_path)
    marker = _job_marker()
    run_id = os.environ.get(RUN_ID_ENV, "")
    if marker is not None and marker.exists():
        first = marker.read_text().split("\n", 1)
        if first[0] == run_id:
            logger.error("not retried: bad input does not change between attempts: %s", first[1] if len(first) > 1 else "")
            print("not retried: the bad input reported by the first attempt does not change", file=sys.stderr)
            raise SystemExit(1)
        marker.unlink()  # from an earlier invocation: the input may have been fixed since
    try:
        return func(**kwargs)
    except (InputError, ConfigError) as err:
        logger.error("%s", err)
        print(f"ERROR: {err}", file=sys.stderr)
        if marker is not None:
            marker.parent.mkdir(parents=True, exist_ok=True)
            marker.write_text(f"{run_id}\n{err}")
        raise SystemExit(1) from None
    except NetworkError as err:
        logger.error("%s", err)
        print(f"ERROR: {err}", file=sys.stderr)
        raise SystemExit(1) from None
    except Exception:
        logger.exception("failed")
        raise


def usable_threads(threads: int) -> int:
    """Threads for a compute library: what the rule was given, but never more than the cores this
    process may run on (a --cores larger than the machine would otherwise oversubscribe it)."""
    import os

    return max(1, min(int(threads), len(os.sched_getaffinity(0))))


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
