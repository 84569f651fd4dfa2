"""Writing the event: the DEM COG, the inventory and truth files, the SAR COGs and STAC items,
and the entry point generate_event that runs every stage in order."""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pystac
from rasterio.windows import Window

from landslide_sar.grid import Grid
from landslide_sar.io import GDAL_CACHE_MB, cog_writer, write_cog

from .acquisitions import _HEADING, acquisition_plan
from .backscatter import frame_masks, incidence_field, layover_shadow_mask, simulate_rows
from .fields import World, _dem_target, build_world, hypocentral_distance, landslide_rate, row_blocks, terrain_rate
from .files import EVENT_FILES, INVENTORY_LAYER, TRUTH_BANDS, TRUTH_LAYERS, sar_file
from .landslides import mapped_inventory, place_landslides
from .params import (
    BLOCK_ROWS,
    DEM_NODATA,
    HEAD_BATCH,
    LAND_COVER_CODES,
    SAR_NODATA,
    SUMMARY_CHIP_SIZE,
    SUMMARY_CLASS_EDGES_PER_KM2,
    check_params,
)
from .stac import MASK_NODATA, footprint_lonlat, stac_item

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EventPaths:
    """The files of one generated event (all under ``root``)."""

    root: Path
    items: Path  # sentinel1_items.json
    sentinel1_dir: Path  # sentinel1/
    dem: Path  # dem.tif
    inventory: Path  # inventory.gpkg (layer "landslides")
    truth_vectors: Path  # truth.gpkg (layers "heads", "bodies")
    truth_raster: Path  # truth.tif
    truth_summary: Path  # truth_summary.json
    sar_files: tuple[Path, ...] = ()

    @classmethod
    def under(cls, root: str | Path) -> EventPaths:
        root = Path(root)
        return cls(root=root, **{key: root / name for key, name in EVENT_FILES.items()})

    def as_dict(self) -> dict[str, str]:
        return {k: str(v) for k, v in self.__dict__.items() if k not in ("root", "sar_files")}


def _write_dem(w: World, p: dict, path: Path) -> None:
    from rasterio.warp import Resampling, reproject

    tr, width, height = _dem_target(w.grid, p)
    dem = np.full((height, width), DEM_NODATA, dtype=np.float32)
    reproject(
        w.elevation_w,
        dem,
        src_transform=w.wgrid.transform,
        src_crs=w.wgrid.crs,
        src_nodata=None,
        dst_transform=tr,
        dst_crs="EPSG:4326",
        dst_nodata=DEM_NODATA,
        resampling=Resampling.bilinear,
        num_threads=2,
    )
    n_bad = int((dem == DEM_NODATA).sum())
    if n_bad:
        raise AssertionError(f"DEM has {n_bad} nodata pixels: the padded terrain is too small")
    write_cog(path, dem, Grid("EPSG:4326", tr, width, height), DEM_NODATA, ["elevation"], "bilinear")


def _write_vectors(w: World, p: dict, paths: EventPaths) -> None:
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    h = w.heads
    for f in (paths.truth_vectors, paths.inventory):
        if f.exists():
            f.unlink()
    heads = gpd.GeoDataFrame(
        {k: h[k] for k in ("id", "length_m", "width_m", "area_m2")},
        geometry=shapely.points(h["x"], h["y"]),
        crs=w.grid.crs,
    )
    heads.to_file(paths.truth_vectors, layer=TRUTH_LAYERS[0], driver="GPKG")
    bodies = gpd.GeoDataFrame(
        {k: h[k] for k in ("id", "length_m", "width_m", "area_m2")}, geometry=w.bodies, crs=w.grid.crs
    )
    bodies.to_file(paths.truth_vectors, layer=TRUTH_LAYERS[1], driver="GPKG", mode="a")
    # inventory: heads as mapped (omissions, position error), lon/lat, id only
    inv = mapped_inventory(w, p)
    lon, lat = Transformer.from_crs(w.grid.crs, "EPSG:4326", always_xy=True).transform(inv["x"], inv["y"])
    inv = gpd.GeoDataFrame({"id": inv["id"]}, geometry=shapely.points(lon, lat), crs="EPSG:4326")
    inv.to_file(paths.inventory, layer=INVENTORY_LAYER, driver="GPKG")


def _write_truth_raster(w: World, p: dict, path: Path, main_state: str, block_rows: int) -> None:
    import rasterio

    g = w.grid
    # one band at a time, block by block of rows (callables of the rows), so memory stays bounded
    bands = {
        "elevation": lambda r0, r1: w.crop(w.elevation_w)[r0:r1],
        "rain": lambda r0, r1: w.rain[r0:r1],
        "land_cover": lambda r0, r1: w.land_cover[r0:r1].astype(np.float32),
        "landslide_fraction": lambda r0, r1: w.fraction[r0:r1],
        "storm_damage": lambda r0, r1: w.storm_damage[r0:r1],
        "rate": lambda r0, r1: landslide_rate(w, p, (r0, r1)),
        "layover_shadow": lambda r0, r1: layover_shadow_mask(w, p, main_state)[r0:r1].astype(np.float32),
        "incidence_deg": lambda r0, r1: incidence_field(w, p, main_state, (r0, r1)),
        "epicentre_distance_m": lambda r0, r1: hypocentral_distance(g, p["shaking"], (r0, r1)),
        "terrain_rate": lambda r0, r1: terrain_rate(w, p, (r0, r1)),
    }
    assert tuple(bands) == TRUTH_BANDS
    with (
        rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB),
        rasterio.open(
            path,
            "w",
            driver="GTiff",
            width=g.width,
            height=g.height,
            count=len(bands),
            dtype="float32",
            crs=g.crs,
            transform=g.transform,
            tiled=True,
            blockxsize=256,
            blockysize=256,
            compress="deflate",
            predictor=3,
            zlevel=1,
            interleave="band",  # each band's blocks written on their own (bounded cache)
        ) as dst,
    ):
        for i, (name, band) in enumerate(bands.items(), start=1):
            for r0, r1 in row_blocks(g.height, block_rows):
                dst.write(band(r0, r1).astype(np.float32, copy=False), i, window=Window(0, r0, g.width, r1 - r0))
            dst.set_band_description(i, name)


def chip_counts(x: np.ndarray, y: np.ndarray, grid: Grid, size: int) -> np.ndarray:
    """Heads per chip on a regular grid of ``size``-pixel chips from the top-left (partial chips
    at the right/bottom edges dropped), shape (rows, cols). Points must lie inside ``grid``."""
    from landslide_sar.labels import pixel_of

    nr, nc = grid.height // size, grid.width // size
    rows, cols = pixel_of(x, y, grid)
    row, col = rows // size, cols // size
    keep = (row < nr) & (col < nc)
    return np.bincount(row[keep] * nc + col[keep], minlength=nr * nc).reshape(nr, nc)


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def generate_event(
    area: dict, out_dir: str | Path, block_rows: int = BLOCK_ROWS, head_batch: int = HEAD_BATCH
) -> EventPaths:
    """Generate the synthetic event of one ``config["areas"]`` entry into ``out_dir``.

    Deterministic in ``area["synthetic"]["seed"]``. Returns the paths written (see EventPaths).
    Works in blocks of ``block_rows`` rows where it can (per-pixel fields, heads, covered
    fraction, truth raster, every acquisition's COGs), so its memory is the fields it must hold
    whole plus a few blocks; the runouts are traced ``head_batch`` heads at a time. The files do
    not depend on either."""
    t0 = time.perf_counter()
    p = check_params(area.get("synthetic"))
    plan = acquisition_plan(area, p)
    paths = EventPaths.under(out_dir)
    paths.root.mkdir(parents=True, exist_ok=True)
    if paths.sentinel1_dir.exists():
        shutil.rmtree(paths.sentinel1_dir)
    paths.sentinel1_dir.mkdir(parents=True)

    w = build_world(area, p, block_rows)
    g = w.grid
    logger.info(
        "world: grid %dx%d px (%s), padded %dx%d, %.1fs",
        g.width,
        g.height,
        g.crs,
        w.wgrid.width,
        w.wgrid.height,
        time.perf_counter() - t0,
    )
    place_landslides(w, p, block_rows, head_batch)
    logger.info("bodies and coverage done, %.1fs", time.perf_counter() - t0)

    _write_dem(w, p, paths.dem)
    _write_vectors(w, p, paths)
    main_state = next(a.orbit_state for a in plan if a.role == "main")
    _write_truth_raster(w, p, paths.truth_raster, main_state, block_rows)
    logger.info("DEM, inventory, truth and geometry written, %.1fs", time.perf_counter() - t0)

    heading = _HEADING[main_state]
    blocks = row_blocks(g.height, block_rows)
    rel_dir = paths.sentinel1_dir.name
    files: dict[str, dict[str, Path]] = {}
    # acquisitions of one group (the two slices of the other-frame acquisition) share their
    # values: simulated once, block by block, and written into each slice's COGs with its frame
    groups: dict[str, list] = {}
    for acq in plan:
        groups.setdefault(acq.group, []).append(acq)
    for acqs in groups.values():
        for acq in acqs:
            files[acq.id] = {pol: paths.sentinel1_dir / sar_file(acq.id, pol) for pol in ("vv", "vh")}
        for pol, pol_blocks in itertools.groupby(simulate_rows(w, p, acqs[0], block_rows), key=lambda b: b[0]):
            with contextlib.ExitStack() as stack:
                dsts = [stack.enter_context(cog_writer(files[a.id][pol], g, 1, "float32", SAR_NODATA)) for a in acqs]
                for _, r0, r1, arr in pol_blocks:
                    arr[np.isnan(arr)] = np.float32(SAR_NODATA)  # masked pixels -> the COGs' nodata
                    frames = frame_masks(g, p["sar"]["frame_overlap"], heading, (r0, r1))
                    for acq, dst in zip(acqs, dsts):
                        mask = frames.get(acq.coverage)
                        out = arr if mask is None else np.where(mask, arr, np.float32(SAR_NODATA))
                        dst.write(out[np.newaxis], window=Window(0, r0, g.width, r1 - r0))
        for acq in acqs:
            if p["sar"]["mask_layover_shadow"]:  # the RTC product's layover/shadow mask asset
                files[acq.id]["mask"] = f = paths.sentinel1_dir / sar_file(acq.id, "mask")
                with cog_writer(f, g, 1, "uint8", MASK_NODATA, resampling="nearest") as dst:
                    for r0, r1 in blocks:
                        frame = frame_masks(g, p["sar"]["frame_overlap"], heading, (r0, r1)).get(acq.coverage)
                        lsm = layover_shadow_mask(w, p, acq.orbit_state)[r0:r1]
                        if frame is not None:
                            lsm = np.where(frame, lsm, np.uint8(MASK_NODATA))
                        dst.write(lsm.astype(np.uint8)[np.newaxis], window=Window(0, r0, g.width, r1 - r0))
            logger.info(
                "acquisition %s (%s, %s) written, %.1fs",
                acq.id,
                acq.orbit_state,
                acq.coverage,
                time.perf_counter() - t0,
            )
    items, sar_files = [], []
    for acq in plan:
        sar_files.extend(files[acq.id].values())
        hrefs = {key: f"{rel_dir}/{f.name}" for key, f in files[acq.id].items()}
        if acq.coverage in ("north", "south"):
            full = np.empty(g.shape, dtype=bool)
            for r0, r1 in blocks:
                full[r0:r1] = frame_masks(g, p["sar"]["frame_overlap"], heading, (r0, r1))[acq.coverage]
        else:
            full = np.ones(g.shape, dtype=bool)
        items.append(stac_item(acq, g, footprint_lonlat(full, g), hrefs, p["sar"]["looks"]))
        del full
    collection = pystac.ItemCollection(items).to_dict(transform_hrefs=False)
    paths.items.write_text(json.dumps(collection, indent=1))

    from landslide_sar.chips import density_class

    chip = SUMMARY_CHIP_SIZE
    counts = chip_counts(w.heads["x"], w.heads["y"], g, chip)
    classes = density_class(counts / ((chip * g.resolution) ** 2 / 1e6), SUMMARY_CLASS_EDGES_PER_KM2)
    frac = [float((classes == c).mean()) if classes.size else 0.0 for c in (0, 1, 2)]
    summary = {
        "params": p,
        "grid": g.to_dict(),
        "n_heads": int(w.heads["id"].size),
        "n_inventory": int(mapped_inventory(w, p)["id"].size),
        "layover_shadow_fractions": {
            state: {
                "layover": float((v & 1 > 0).mean()),
                "shadow": float((v & 2 > 0).mean()),
                "masked": float((v > 0).mean()),
            }
            for state, v in w.views.items()
        },
        "heads_per_km2": float(w.heads["id"].size / (g.width * g.height * g.resolution**2 / 1e6)),
        "fraction_narrower_than_pixel": (
            float((w.heads["width_m"] < g.resolution).mean()) if w.heads["id"].size else 0.0
        ),
        "fraction_smaller_than_pixel": (
            float((w.heads["area_m2"] < g.resolution**2).mean()) if w.heads["id"].size else 0.0
        ),
        "chips_128": {"n": int(classes.size), "class_fractions": frac},
        "land_cover_fractions": {k: float((w.land_cover == v).mean()) for k, v in LAND_COVER_CODES.items()},
        "acquisitions": [
            {
                "id": a.id,
                "datetime": a.datetime.isoformat(),
                "orbit_state": a.orbit_state,
                "relative_orbit": a.relative_orbit,
                "post": a.post,
                "role": a.role,
                "coverage": a.coverage,
            }
            for a in plan
        ],
    }
    paths.truth_summary.write_text(json.dumps(summary, indent=1))
    logger.info(
        "event generated in %.1fs: %d heads, chip classes (0/1/2) %.2f/%.2f/%.2f",
        time.perf_counter() - t0,
        summary["n_heads"],
        *frac,
    )
    return EventPaths(**{**paths.__dict__, "sar_files": tuple(sar_files)})


def main(argv: list[str] | None = None) -> None:
    """``python -m landslide_sar.synthetic config.yaml AREA OUT_DIR``: generate one area by hand."""
    import argparse

    import yaml

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("config")
    ap.add_argument("area")
    ap.add_argument("out_dir")
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    cfg = yaml.safe_load(Path(a.config).read_text())
    generate_event(cfg["areas"][a.area], a.out_dir)
