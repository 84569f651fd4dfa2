"""Unit tests of the embedded synthetic event (landslide_sar.synthetic) on tiny areas."""

from __future__ import annotations

import copy
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio
import shapely
import yaml
from rasterio.warp import Resampling, reproject

from landslide_sar import synthetic as syn
from landslide_sar.chips import density_class
from landslide_sar.config import expand_presets, synthetic_presets
from landslide_sar.errors import InputError
from landslide_sar.grid import area_grid
from landslide_sar.synthetic.backscatter import view_geometry
from landslide_sar.synthetic.files import TRUTH_LAYERS

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
expand_presets(CONFIG)  # each area's full synthetic block: its preset and its own values
TINY_BBOX = [-66.70, 18.25, -66.67, 18.28]
EVENT = datetime(2017, 9, 20, tzinfo=UTC)


def config_block() -> dict:
    """A fresh copy of the default run's ``areas.embedded.synthetic`` block of config.yaml (the
    storm preset, expanded, with the area's seed)."""
    return copy.deepcopy(CONFIG["areas"]["embedded"]["synthetic"])


def synthetic_block(seed: int, **sections: dict) -> dict:
    """config.yaml's block with another seed and some keys of its sections replaced."""
    block = config_block()
    block["seed"] = seed
    for section, values in sections.items():
        assert set(values) <= set(block[section]), values  # a typo would test nothing
        block[section].update(values)
    return block


def tiny_area(seed: int = 7, pre: int = 2, post: int = 2, **sections: dict) -> dict:
    return {
        "bbox": TINY_BBOX,
        "resolution": 10,
        "event_time": "2017-09-20T00:00:00Z",
        "sentinel1": {
            "collection": "sentinel-1-rtc",
            "acquisitions_pre": pre,
            "acquisitions_post": post,
            "orbit_state": "ascending",
            "relative_orbit": 135,
        },
        "synthetic": synthetic_block(seed, **sections),
    }


@pytest.fixture(scope="module")
def event(tmp_path_factory):
    out = tmp_path_factory.mktemp("event")
    area = tiny_area()
    paths = syn.generate_event(area, out)
    return area, paths


def read_items(paths) -> list[pystac.Item]:
    return list(pystac.ItemCollection.from_file(str(paths.items)))


def read_sar(paths, item: pystac.Item, pol: str) -> np.ndarray:
    with rasterio.open(paths.items.parent / item.assets[pol].href) as src:
        a = src.read(1)
    return np.where(a == syn.SAR_NODATA, np.nan, a)


def read_mask(paths, item: pystac.Item) -> np.ndarray:
    with rasterio.open(paths.items.parent / item.assets["mask"].href) as src:
        return src.read(1)


def truth(paths) -> dict[str, np.ndarray]:
    with rasterio.open(paths.truth_raster) as src:
        return {d: src.read(i + 1) for i, d in enumerate(src.descriptions)}


def mean_by_date(paths, items, pol) -> list[np.ndarray]:
    """One image per date, slices of the same datetime mosaicked (mean where both cover)."""
    by: dict[datetime, list[np.ndarray]] = {}
    for it in items:
        by.setdefault(it.datetime, []).append(read_sar(paths, it, pol))
    return [np.nanmean(np.stack(v), axis=0) for _, v in sorted(by.items())]


def main_items(items, post: bool) -> list[pystac.Item]:
    return [it for it in items if it.properties["sat:orbit_state"] == "ascending" and (it.datetime > EVENT) == post]


# ------------------------------------------------------------------------------ files, georef


def test_output_files_exist(event):
    _, paths = event
    for name in ("sentinel1_items.json", "dem.tif", "inventory.gpkg", "truth.gpkg", "truth.tif"):
        assert (paths.root / name).is_file(), name
    # 2 before + 2 after (the first as two slices) + 1 distractor, VV and VH each
    assert len(list(paths.sentinel1_dir.glob("*_vv.tif"))) == 6
    assert len(list(paths.sentinel1_dir.glob("*_vh.tif"))) == 6
    assert len(list(paths.sentinel1_dir.glob("*_mask.tif"))) == 6  # layover/shadow mask per item
    assert len(paths.sar_files) == 18


def test_sar_cogs_on_area_grid(event):
    area, paths = event
    grid = area_grid(area["bbox"], area["resolution"])
    for f in paths.sar_files:
        with rasterio.open(f) as src:
            assert src.crs.to_string() == grid.crs
            assert src.transform == grid.transform
            assert (src.height, src.width) == grid.shape
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            a = src.read(1)
            if f.name.endswith("_mask.tif"):
                assert src.dtypes == ("uint8",) and src.nodata == 255
                assert set(np.unique(a)) <= {0, 1, 2, 3, 255}
                continue
            assert src.dtypes == ("float32",)
            assert src.nodata == syn.SAR_NODATA
            with rasterio.open(str(f).replace(f.name[-6:], "mask.tif")) as m:
                mask = m.read(1)
            np.testing.assert_array_equal(a == syn.SAR_NODATA, mask != 0)  # nodata exactly where masked
        valid = a != syn.SAR_NODATA
        assert valid.any()
        # linear power, not dB: positive, mostly between -30 and +5 dB
        assert (a[valid] > 0).all()
        db = 10 * np.log10(a[valid])
        assert np.percentile(db, 1) > -35 and np.percentile(db, 99) < 8


def test_dem_is_geographic_cog_covering_the_area(event):
    area, paths = event
    grid = area_grid(area["bbox"], area["resolution"])
    with rasterio.open(paths.dem) as src:
        assert src.crs.to_epsg() == 4326
        assert src.dtypes == ("float32",)
        assert src.res == pytest.approx((1 / 3600, 1 / 3600))
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        w, s, e, n = grid.lonlat_bbox()
        b = src.bounds
        assert b.left < w and b.bottom < s and b.right > e and b.top > n
        dem = src.read(1)
        assert not (dem == src.nodata).any()
        back = np.zeros(grid.shape, dtype=np.float32)
        reproject(
            dem,
            back,
            src_transform=src.transform,
            src_crs=src.crs,
            dst_transform=grid.transform,
            dst_crs=grid.crs,
            resampling=Resampling.bilinear,
        )
    elev = truth(paths)["elevation"]
    # the DEM is the truth terrain, seen at 1 arcsecond
    assert np.sqrt(np.mean((back - elev) ** 2)) < 5.0
    assert np.corrcoef(back.ravel(), elev.ravel())[0, 1] > 0.999


# ------------------------------------------------------------------------------ STAC items


def test_items_shaped_like_planetary_computer(event):
    area, paths = event
    raw = json.loads(paths.items.read_text())
    assert raw["type"] == "FeatureCollection"
    grid = area_grid(area["bbox"], area["resolution"])
    for f in raw["features"]:
        p = f["properties"]
        assert f["collection"] == "sentinel-1-rtc"
        assert f["id"].endswith("_rtc") and f["id"][:4] in ("S1A_", "S1B_")
        for key in (
            "datetime",
            "platform",
            "constellation",
            "sat:orbit_state",
            "sat:relative_orbit",
            "sat:absolute_orbit",
            "s1:datatake_id",
            "sar:polarizations",
            "sar:instrument_mode",
            "sar:product_type",
            "proj:code",
            "proj:shape",
            "proj:transform",
            "proj:bbox",
        ):
            assert key in p, key
        assert p["platform"] in ("SENTINEL-1A", "SENTINEL-1B")
        assert p["sar:polarizations"] == ["VV", "VH"]
        assert p["sar:instrument_mode"] == "IW" and p["sar:product_type"] == "GRD"
        assert p["proj:code"] == grid.crs
        assert p["proj:shape"] == [grid.height, grid.width]
        assert p["proj:transform"] == list(grid.transform)[:6] + [0.0, 0.0, 1.0]
        # relative orbit consistent with the absolute one
        offset = 73 if p["platform"] == "SENTINEL-1A" else 27
        assert (p["sat:absolute_orbit"] - offset) % 175 + 1 == p["sat:relative_orbit"]
        assert any("/sat/" in u for u in f["stac_extensions"])
        assert any("/sar/" in u for u in f["stac_extensions"])
        assert any("/projection/" in u for u in f["stac_extensions"])
        assert any("/raster/" in u for u in f["stac_extensions"])
        for pol in ("vv", "vh"):
            a = f["assets"][pol]
            assert a["href"] == f"sentinel1/{f['id']}_{pol}.tif"  # relative to the json
            assert (paths.items.parent / a["href"]).is_file()
            assert a["type"] == "image/tiff; application=geotiff; profile=cloud-optimized"
            assert a["roles"] == ["data"]
            assert a["raster:bands"] == [{"nodata": -32768.0, "data_type": "float32"}]
        m = f["assets"]["mask"]
        assert m["roles"] == ["data-mask"] and m["raster:bands"] == [{"nodata": 255, "data_type": "uint8"}]
        assert (paths.items.parent / m["href"]).is_file()
    items = read_items(paths)
    assert len(items) == len(raw["features"]) == 6
    assert all(it.collection_id == "sentinel-1-rtc" for it in items)


def test_acquisitions_like_table_1(event):
    _, paths = event
    items = read_items(paths)
    asc = [it for it in items if it.properties["sat:orbit_state"] == "ascending"]
    assert {it.properties["sat:relative_orbit"] for it in asc} == {135}
    dates = sorted({it.datetime.strftime("%Y-%m-%d") for it in asc})
    assert dates == ["2017-09-04", "2017-09-16", "2017-09-22", "2017-10-10"]
    s1b = [it for it in asc if it.properties["platform"] == "SENTINEL-1B"]
    assert len(s1b) == 2 and {it.datetime for it in s1b} == {datetime(2017, 9, 22, 22, 35, 44, tzinfo=UTC)}
    first = [it for it in asc if it.datetime.date().isoformat() == "2017-09-16"][0]
    assert first.id == "S1A_IW_GRDH_1SDV_20170916T223637_20170916T223702_018407_01E5F7_AE4E_rtc"


def test_one_distractor_from_the_other_orbit_direction(event):
    _, paths = event
    items = read_items(paths)
    desc = [it for it in items if it.properties["sat:orbit_state"] == "descending"]
    assert len(desc) == 1
    d = desc[0]
    assert d.properties["sat:relative_orbit"] == 62
    assert abs((d.datetime - EVENT).days) <= 45  # inside the search window
    valid = read_mask(paths, d) == 0
    assert 0.8 < valid.mean() < 1.0  # its own layover/shadow only
    np.testing.assert_array_equal(np.isfinite(read_sar(paths, d, "vv")), valid)


def test_other_frame_is_two_overlapping_slices(event):
    area, paths = event
    items = read_items(paths)
    slices = [it for it in items if it.properties["platform"] == "SENTINEL-1B"]
    assert len(slices) == 2
    a, b = slices
    assert a.datetime == b.datetime and a.id != b.id
    assert a.properties["s1:datatake_id"] == b.properties["s1:datatake_id"]
    grid = area_grid(area["bbox"], area["resolution"])
    for pol in ("vv", "vh"):
        va, vb = (read_mask(paths, it) != 255 for it in (a, b))  # the slice's frame
        for v in (va, vb):
            assert 0.5 < v.mean() < 0.7  # each covers only part (about 60 %)
        assert (va | vb).all()  # together all of it
        assert (va & vb).any()  # overlapping
        both = va & vb & (read_mask(paths, a) == 0)
        np.testing.assert_array_equal(read_sar(paths, a, pol)[both], read_sar(paths, b, pol)[both])
    # footprints: each slice's geometry covers only its part of the area
    lats = sorted((it.bbox[1], it.bbox[3]) for it in slices)
    w, s, e, n = grid.lonlat_bbox()
    assert lats[0][0] <= s + 1e-6 and lats[0][1] < n  # south slice
    assert lats[1][0] > s and lats[1][1] >= n - 1e-6  # north slice


def test_acquisition_plan_extends_every_12_days():
    area = tiny_area(pre=4, post=4)
    plan = syn.acquisition_plan(area)
    main = [a for a in plan if a.role == "main"]
    days = sorted({math.floor(a.days_from_event) for a in main})
    assert days == [-40, -28, -16, -4, 2, 20, 32, 44]  # 4 before, 4 after (one date = 2 slices)
    assert len(main) == 9
    assert sum(a.role == "distractor" for a in plan) == 1
    # the default 3 + 3 are Table 1 of the density paper
    plan = syn.acquisition_plan(tiny_area(pre=3, post=3))
    ids = [a.id for a in plan if a.role == "main" and a.coverage != "north"]
    assert [i[17:32] for i in ids] == [
        "20170823T223637",
        "20170904T223637",
        "20170916T223637",
        "20170922T223519",
        "20171010T223637",
        "20171022T223637",
    ]
    assert [i[49:55] for i in ids] == ["018057", "018232", "018407", "007511", "018757", "018932"]
    assert [i[63:67] for i in ids] == ["9D3C", "B225", "AE4E", "D309", "99FA", "26BB"]
    assert ids[0] == "S1A_IW_GRDH_1SDV_20170823T223637_20170823T223702_018057_01E4C2_9D3C_rtc"


def test_acquisition_plan_rejects_zero_acquisitions():
    with pytest.raises(InputError, match="acquisitions_pre"):
        syn.acquisition_plan(tiny_area(pre=0))


# ------------------------------------------------------------------------------ inventory, truth


def test_inventory_is_usgs_like_heads(event):
    area, paths = event
    inv = gpd.read_file(paths.inventory, layer="landslides")
    assert inv.crs.to_epsg() == 4326
    assert list(inv.columns) == ["id", "geometry"]
    assert (inv.geom_type == "Point").all()
    heads = gpd.read_file(paths.truth_vectors, layer="heads").set_index("id")
    assert len(heads) > 50 and set(inv["id"]) < set(heads.index)  # some heads omitted
    back = inv.to_crs(heads.crs)
    err = area["synthetic"]["landslides"]["inventory_position_error_m"]
    dx = back.geometry.x.to_numpy() - heads.loc[inv["id"]].geometry.x.to_numpy()
    dy = back.geometry.y.to_numpy() - heads.loc[inv["id"]].geometry.y.to_numpy()
    assert 0 < np.abs(np.concatenate([dx, dy])).max() < 6 * err
    w, s, e, n = area_grid(area["bbox"], area["resolution"]).lonlat_bbox()
    pad = 6 * err / 1e5  # degrees
    assert inv.geometry.x.between(w - pad, e + pad).all() and inv.geometry.y.between(s - pad, n + pad).all()


def test_heads_at_continuous_positions(event):
    _, paths = event
    heads = gpd.read_file(paths.truth_vectors, layer="heads")
    frac_x = np.mod(heads.geometry.x, 10.0)
    assert np.unique(np.round(frac_x, 3)).size > 0.9 * len(heads)  # not pixel centres


def test_truth_layers_and_bands(event):
    area, paths = event
    grid = area_grid(area["bbox"], area["resolution"])
    heads = gpd.read_file(paths.truth_vectors, layer="heads")
    bodies = gpd.read_file(paths.truth_vectors, layer="bodies")
    assert heads.crs.to_string() == grid.crs == bodies.crs.to_string()
    assert {"id", "length_m", "width_m", "area_m2"} <= set(heads.columns)
    assert (bodies.geom_type.isin(["Polygon", "MultiPolygon"])).all()
    assert len(bodies) == len(heads)
    np.testing.assert_allclose(bodies.area, heads.area_m2, rtol=1e-6)
    with rasterio.open(paths.truth_raster) as src:
        assert src.descriptions == syn.TRUTH_BANDS
        assert src.crs.to_string() == grid.crs and src.transform == grid.transform
    t = truth(paths)
    f = t["landslide_fraction"]
    assert f.min() >= 0 and f.max() <= 1 and f.max() > 0.9
    assert set(np.unique(t["land_cover"]).astype(int)) <= set(syn.LAND_COVER_CODES.values())
    # covered area: the fraction sums to the union of the bodies (within rasterisation error)
    union = bodies.geometry.union_all().intersection(shapely.box(*grid.bounds)).area
    assert f.sum() * 100 == pytest.approx(union, rel=0.05)


def test_bodies_run_downslope_and_are_thin(event):
    area, paths = event
    grid = area_grid(area["bbox"], area["resolution"])
    elev = truth(paths)["elevation"]
    bodies = gpd.read_file(paths.truth_vectors, layer="bodies")
    heads = gpd.read_file(paths.truth_vectors, layer="heads")

    def sample(x, y):
        col = np.clip(((x - grid.transform.c) / 10).astype(int), 0, grid.width - 1)
        row = np.clip(((grid.transform.f - y) / 10).astype(int), 0, grid.height - 1)
        return elev[row, col]

    long = heads.length_m.to_numpy() > 20
    c = bodies.geometry.centroid
    z_head = sample(heads.geometry.x.to_numpy(), heads.geometry.y.to_numpy())
    z_cent = sample(c.x.to_numpy(), c.y.to_numpy())
    assert (z_cent[long] < z_head[long]).mean() > 0.9
    # long and thin; many narrower than a 10 m pixel
    assert np.median(heads.length_m / heads.width_m) > 2
    assert 0.3 < (heads.width_m < 10).mean() < 0.6


def test_rate_rises_with_slope(event):
    _, paths = event
    t = truth(paths)
    gy, gx = np.gradient(t["elevation"], 10.0)
    slope = np.degrees(np.arctan(np.hypot(gx, gy)))
    heads = gpd.read_file(paths.truth_vectors, layer="heads")
    with rasterio.open(paths.truth_raster) as src:
        rows, cols = rasterio.transform.rowcol(src.transform, heads.geometry.x, heads.geometry.y)
    counts = np.zeros(slope.shape)
    np.add.at(counts, (np.asarray(rows), np.asarray(cols)), 1)
    lo, hi = np.percentile(slope, [100 / 3, 200 / 3])
    flat, steep = counts[slope <= lo].mean(), counts[slope > hi].mean()
    assert steep > 2 * flat
    # and the simulated rate does too
    assert t["rate"][slope > hi].mean() > 2 * t["rate"][slope <= lo].mean()


def test_vh_drops_inside_bodies(event):
    _, paths = event
    items = read_items(paths)
    f = truth(paths)["landslide_fraction"]
    pre = np.mean(mean_by_date(paths, main_items(items, False), "vh"), axis=0)
    post = np.mean(mean_by_date(paths, main_items(items, True), "vh"), axis=0)
    change = 10 * np.log10(post / pre)
    inside, outside = np.nanmean(change[f > 0.5]), np.nanmean(change[f == 0])
    assert inside < outside - 1.0
    # VV changes less than VH
    pre_vv = np.mean(mean_by_date(paths, main_items(items, False), "vv"), axis=0)
    post_vv = np.mean(mean_by_date(paths, main_items(items, True), "vv"), axis=0)
    vv_change = 10 * np.log10(post_vv / pre_vv)
    assert abs(np.nanmean(vv_change[f > 0.5]) - np.nanmean(vv_change[f == 0])) < abs(inside - outside)


# ------------------------------------------------------------------------------ determinism


def _content(paths) -> dict:
    out = {"items": paths.items.read_text()}
    for f in sorted(paths.sar_files) + [paths.dem, paths.truth_raster]:
        with rasterio.open(f) as src:
            out[f.name] = src.read()
    out["heads"] = gpd.read_file(paths.truth_vectors, layer="heads")
    return out


def test_same_seed_same_event_different_seed_different(event, tmp_path):
    area, paths = event
    again = syn.generate_event(area, tmp_path / "again")
    a, b = _content(paths), _content(again)
    assert a.keys() == b.keys()
    for k in a:
        if k == "heads":
            assert a[k].equals(b[k])
        elif k == "items":
            assert a[k] == b[k]
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    other = syn.generate_event(tiny_area(seed=8), tmp_path / "other")
    c = _content(other)
    assert not np.array_equal(a["dem.tif"], c["dem.tif"])
    assert len(c["heads"]) != len(a["heads"]) or not a["heads"].geometry.equals(c["heads"].geometry)
    first_a = sorted(k for k in a if k.endswith("_vv.tif"))[0]
    first_c = sorted(k for k in c if k.endswith("_vv.tif"))[0]
    assert first_a[:32] == first_c[:32]  # same platform and times, new product ids
    assert not np.array_equal(a[first_a], c[first_c])


def test_blocks_do_not_change_the_event(event, tmp_path):
    """The generator works in blocks of rows (and batches of heads) to bound its memory; the
    files are those of one block: pixels, vectors, items and summary identical."""
    area, paths = event
    assert area_grid(area["bbox"], area["resolution"]).height <= syn.BLOCK_ROWS  # one block
    tiled = syn.generate_event(area, tmp_path / "tiled", block_rows=37, head_batch=97)
    a, b = _content(paths), _content(tiled)
    assert a.keys() == b.keys()
    for k in a:
        if k == "heads":
            assert a[k].equals(b[k])
        elif k == "items":
            assert a[k] == b[k]
        else:
            np.testing.assert_array_equal(a[k], b[k], err_msg=k)
    for f in (paths.truth_vectors, paths.inventory):
        for layer in TRUTH_LAYERS if f == paths.truth_vectors else ("landslides",):
            got = gpd.read_file(Path(tiled.root) / f.name, layer=layer)
            assert gpd.read_file(f, layer=layer).equals(got), (f.name, layer)
    assert paths.truth_summary.read_text() == tiled.truth_summary.read_text()


def test_speckle_rows_are_the_whole_field():
    """SpeckleRows: blocks smaller and larger than the blur's halo give the whole-area field and
    leave the random stream where the whole-area draw does."""
    from landslide_sar.synthetic.backscatter import SpeckleRows, speckle

    for cell in ((2.2, 2.0), (6.0, 1.0), (1.0, 1.0)):
        a, b = np.random.default_rng(4), np.random.default_rng(4)
        whole = speckle((53, 41), 4.4, cell, a)
        stream = SpeckleRows((53, 41), 4.4, cell, b)
        edges = [0, 1, 2, 5, 6, 20, 53]
        got = np.concatenate([stream.rows(r0, r1) for r0, r1 in zip(edges[:-1], edges[1:])])
        np.testing.assert_array_equal(got, whole, err_msg=str(cell))
        assert a.random() == b.random()


def test_frame_masks_by_rows_are_the_whole_masks():
    g = area_grid(TINY_BBOX, 10)
    whole = syn.frame_masks(g, 0.2, -12.0)
    for r0, r1 in ((0, 1), (1, 40), (40, g.height)):
        part = syn.frame_masks(g, 0.2, -12.0, (r0, r1))
        for k in whole:
            np.testing.assert_array_equal(part[k], whole[k][r0:r1])


def test_more_acquisitions_keep_the_world():
    """Named random streams: asking for more dates leaves terrain and heads unchanged."""
    p = syn.check_params(tiny_area(seed=3)["synthetic"])
    w1 = syn.build_world(tiny_area(seed=3, pre=1, post=1), p)
    w2 = syn.build_world(tiny_area(seed=3, pre=4, post=4), p)
    np.testing.assert_array_equal(w1.elevation_w, w2.elevation_w)
    np.testing.assert_array_equal(w1.rate, w2.rate)


# ------------------------------------------------------------------------------ backscatter model


#: The date-to-date terms beyond speckle and the common date factor, off.
QUIET = {"date_vh_sd_db": 0.0, "change_fast_db": 0.0, "change_slow_db": 0.0, "noise_residual": 0.0}


def _plain_world(**sar):
    """No texture, terrain term, noise, masking or moisture: one mechanism at a time."""
    plain = {"texture_db": 0.0, "terrain_exponent": 0.0, "nesz_db": -60.0, "mask_layover_shadow": 0, **QUIET}
    if "looks" in sar:  # one speckle for both polarisations
        sar = {"looks_vh": sar["looks"], **sar}
    area = tiny_area(seed=11, sar={**plain, **sar}, moisture={"peak_vol_pct": 0.0})
    p = syn.check_params(area["synthetic"])
    w = syn.build_world(area, p)
    plan = syn.acquisition_plan(area, p)
    return w, p, plan


def test_speckle_cv_is_one_over_sqrt_looks():
    w, p, plan = _plain_world()
    pre = [a for a in plan if a.role == "main" and not a.post]
    forest = w.land_cover == syn.LAND_COVER_CODES["forest"]
    assert forest.sum() > 10_000
    L = p["sar"]["looks"]
    assert p["sar"]["looks_vh"] < L  # VH has its own, fewer looks
    vv, vh = syn.simulate_acquisition(w, p, pre[0])
    for img, looks in ((vv, L), (vh, p["sar"]["looks_vh"])):
        cv = img[forest].std() / img[forest].mean()
        assert cv == pytest.approx(1 / math.sqrt(looks), rel=0.04)
    # independent per acquisition: averaging two dates divides the variance by two
    vv2, _ = syn.simulate_acquisition(w, p, pre[1])
    avg = (vv / vv[forest].mean() + vv2 / vv2[forest].mean())[forest] / 2
    assert avg.std() == pytest.approx(1 / math.sqrt(2 * L), rel=0.05)
    # VV and VH speckle independent
    assert abs(np.corrcoef(vv[forest], vh[forest])[0, 1]) < 0.03


def _equivalent_width(s: np.ndarray, axis: int, max_lag: int = 6) -> float:
    """Sum of the normalised autocorrelation over lags -max_lag..max_lag along ``axis`` (pixels)."""
    d = s - s.mean()
    var = (d * d).mean()
    rho = [1.0]
    for k in range(1, max_lag + 1):
        a = d[:, :-k] * d[:, k:] if axis == 1 else d[:-k] * d[k:]
        rho.append(float(a.mean() / var))
    return rho[0] + 2 * sum(rho[1:])


def test_speckle_correlation_length_is_the_resolution_cell():
    """The autocorrelation of the speckle integrates to the resolution cell (20 m across track,
    22 m along track at 10 m pixels), with the pixel variance still 1/L."""
    from landslide_sar.synthetic.backscatter import speckle

    block = config_block()["sar"]
    res = 10.0
    cell = (block["resolution_azimuth_m"] / res, block["resolution_range_m"] / res)
    s = speckle((1200, 1200), block["looks"], cell, np.random.default_rng(1))
    assert s.mean() == pytest.approx(1.0, abs=0.005)
    assert s.std() == pytest.approx(1 / math.sqrt(block["looks"]), rel=0.02)
    assert _equivalent_width(s, axis=1) * res == pytest.approx(block["resolution_range_m"], rel=0.05)
    assert _equivalent_width(s, axis=0) * res == pytest.approx(block["resolution_azimuth_m"], rel=0.05)
    white = speckle((1200, 1200), block["looks"], (1.0, 1.0), np.random.default_rng(1))
    assert _equivalent_width(white, axis=1) == pytest.approx(1.0, abs=0.05)


def test_noise_floor_bounds_the_dark_end():
    """A target far below the NESZ reads as the noise floor NESZ / cos(incidence), not darker."""
    w, p, plan = _plain_world(looks=1e6, date_sd_db=0.0, nesz_db=-22.0)
    for name in ("vv_db", "vh_db"):
        p["land_cover"]["water"][name] = -40.0
    w.land_cover[:] = syn.LAND_COVER_CODES["water"]
    pre = next(a for a in plan if not a.post and a.role == "main")
    vv, vh = syn.simulate_acquisition(w, p, pre)
    theta = np.radians(view_geometry(w, p, "ascending").theta_deg)
    floor = 10 ** (-2.2) / np.cos(theta) + 10 ** (-4.0)
    np.testing.assert_allclose(vh, floor, rtol=0.01)
    assert 10 * np.log10(vh.min()) > -22.0  # the dark end is the floor
    p["sar"]["nesz_db"] = -60.0  # without it the target's own -40 dB shows
    w.views.clear()
    _, vh = syn.simulate_acquisition(w, p, pre)
    assert 10 * np.log10(np.median(vh)) == pytest.approx(-40.0, abs=0.1)


def test_scar_contrast_at_day_d_follows_its_law():
    """Covered pixels mix (area-weighted, in power) towards the scar, whose contrast to the
    pre-event cover decays as exp(-d / regrowth_days); VV gets the debris roughness on top."""
    w, p, plan = _plain_world(looks=1e7, date_sd_db=0.0, regrowth_days=30.0)
    p["storm"]["extent"] = 0.0
    w.storm_damage = np.zeros_like(w.storm_damage)
    w.fraction = np.random.default_rng(0).random(w.land_cover.shape).astype(np.float32)
    pre = next(a for a in plan if not a.post and a.role == "main")
    posts = [a for a in plan if a.post and a.role == "main" and a.coverage != "north"]
    assert [math.floor(a.days_from_event) for a in posts] == [2, 20]
    forest = w.land_cover == syn.LAND_COVER_CODES["forest"]
    f = w.fraction[forest]
    sar = p["sar"]
    vv0, vh0 = syn.simulate_acquisition(w, p, pre)
    for acq in posts:
        vv1, vh1 = syn.simulate_acquisition(w, p, acq)
        k = math.exp(-acq.days_from_event / 30.0)
        for pol, before, after in (("vv", vv0, vv1), ("vh", vh0, vh1)):
            cover = p["land_cover"]["forest"][f"{pol}_db"]
            fresh = sar[f"bare_{pol}_db"] + (sar["debris_vv_db"] if pol == "vv" else 0.0)
            scar = 10 ** ((cover + (fresh - cover) * k) / 10)
            want = (1 - f) + f * scar / 10 ** (cover / 10)
            np.testing.assert_allclose(after[forest] / before[forest], want, rtol=1e-2)
    # contrast shrinks between day 2 and day 20: regrowth
    full = forest & (w.fraction > 0.99)
    _, vh2 = syn.simulate_acquisition(w, p, posts[0])
    _, vh20 = syn.simulate_acquisition(w, p, posts[1])
    assert np.mean(vh20[full] / vh0[full]) > np.mean(vh2[full] / vh0[full])


def test_soil_moisture_follows_rain_with_vv_more_sensitive_than_vh():
    area = tiny_area(
        seed=11,
        sar={
            "texture_db": 0.0,
            "terrain_exponent": 0.0,
            "nesz_db": -60.0,
            "mask_layover_shadow": 0,
            "looks": 1e7,
            "looks_vh": 1e7,
            "date_sd_db": 0.0,
            **QUIET,
        },
    )
    p = syn.check_params(area["synthetic"])
    w = syn.build_world(area, p)
    plan = syn.acquisition_plan(area, p)
    w.storm_damage = np.zeros_like(w.storm_damage)
    w.fraction = np.zeros(w.land_cover.shape, dtype=np.float32)
    pre = next(a for a in plan if not a.post and a.role == "main")
    post = next(a for a in plan if a.post and a.role == "main")
    vv0, vh0 = syn.simulate_acquisition(w, p, pre)
    vv1, vh1 = syn.simulate_acquisition(w, p, post)
    mo = p["moisture"]
    pasture = w.land_cover == syn.LAND_COVER_CODES["pasture"]
    dmv = (
        mo["peak_vol_pct"]
        * np.maximum(1 + mo["rain_relative_sd"] * w.rain, 0)
        * math.exp(-post.days_from_event / mo["drying_days"])
    )
    vis = p["land_cover"]["pasture"]["soil_visibility"]
    for pol, a, b in (("vv", vv0, vv1), ("vh", vh0, vh1)):
        change = 10 * np.log10(b[pasture] / a[pasture])
        np.testing.assert_allclose(change, mo[f"{pol}_db_per_pct"] * vis * dmv[pasture], atol=0.02)
        assert np.corrcoef(change, w.rain[pasture])[0, 1] > 0.99  # tied to the rain
    assert np.mean(10 * np.log10(vv1 / vv0)) > np.mean(10 * np.log10(vh1 / vh0)) > 0


def test_storm_damage_changes_backscatter_outside_landslides():
    w, p, plan = _plain_world(looks=1e7, date_sd_db=0.0)
    w.storm_damage = np.ones_like(w.storm_damage)
    w.fraction = np.zeros(w.land_cover.shape, dtype=np.float32)
    pre = next(a for a in plan if not a.post and a.role == "main")
    post = next(a for a in plan if a.post and a.role == "main")
    vv0, vh0 = syn.simulate_acquisition(w, p, pre)
    vv1, vh1 = syn.simulate_acquisition(w, p, post)
    forest = w.land_cover == syn.LAND_COVER_CODES["forest"]
    assert 10 * np.log10(np.median(vh1[forest] / vh0[forest])) == pytest.approx(p["storm"]["vh_db"], abs=0.05)
    assert 10 * np.log10(np.median(vv1[forest] / vv0[forest])) == pytest.approx(p["storm"]["vv_db"], abs=0.05)


# ------------------------------------------------------------------------------ radar geometry


def _ridge(alpha_deg: float, h: float = 200.0, n: int = 200, res: float = 10.0):
    """A north-south triangular ridge of slope alpha and height h on flat ground, crest at x = 1000 m."""
    x = (np.arange(n) + 0.5) * res
    z = np.maximum(0.0, h - np.abs(x - 1000.0) * math.tan(math.radians(alpha_deg)))
    return x, np.tile(z, (40, 1))


def _analytic(alpha_deg: float, theta_deg: float, h: float, x: np.ndarray):
    """Layover and shadow of the ridge seen from the west at incidence theta (plane wave):
    layover from h cot(theta) in front of the crest to d* behind it (where the back slope's
    slant range passes the foot's), shadow behind the crest for h tan(theta) when the back slope is
    steeper than 90 - theta."""
    t, a = math.radians(theta_deg), math.radians(alpha_deg)
    d = h * (math.cos(t) - math.sin(t) / math.tan(a)) / (math.sin(t) + math.tan(a) * math.cos(t))
    lay = (x > 1000.0 - h / math.tan(t)) & (x < 1000.0 + max(d, 0.0)) if alpha_deg > theta_deg else x < -1
    sha = (x > 1000.0) & (x < 1000.0 + h * math.tan(t)) if alpha_deg > 90 - theta_deg else x < -1
    return lay, sha


@pytest.mark.parametrize("alpha", [30.0, 45.0, 60.0])
def test_ridge_at_known_incidence_gives_the_analytic_layover_and_shadow(alpha):
    from landslide_sar.synthetic.geometry import LAYOVER, SHADOW, SwathGeometry, layover_shadow

    theta = 39.0
    x, z = _ridge(alpha)
    geom = SwathGeometry(90.0, theta, theta, 250e3, 0.5)  # looking east, constant incidence
    m = layover_shadow(z, 10.0, geom, (20.0, 100.0))
    assert (m == m[0]).all()  # every range line alike
    lay, sha = _analytic(alpha, theta, 200.0, x)
    got_l, got_s = (m[0] & LAYOVER) > 0, (m[0] & SHADOW) > 0
    assert abs(int(got_l.sum()) - int(lay.sum())) <= 2 and (got_l != lay).sum() <= 2
    assert abs(int(got_s.sum()) - int(sha.sum())) <= 2 and (got_s != sha).sum() <= 2
    if alpha < theta:
        assert not m.any()  # gentler than the incidence and than 90 - incidence: nothing masked


def test_rotated_ridge_and_flat_ground():
    """The ascending look (azimuth 78 deg) on a ridge across it: the mask is the analytic band
    along the look direction, up to a pixel at its edges; flat ground and a gentle plane give none."""
    from landslide_sar.synthetic.geometry import LAYOVER, SwathGeometry, layover_shadow, pixel_offsets

    res, h, alpha, theta = 10.0, 150.0, 50.0, 39.0
    geom = SwathGeometry(78.0, theta, theta, 250e3, 0.5)
    east, north = pixel_offsets((300, 300), res, (150.0, 150.0))
    s = geom.cross_track(east, north)  # distance along the look direction from the crest
    z = np.maximum(0.0, h - np.abs(s) * math.tan(math.radians(alpha)))
    m = layover_shadow(z, res, geom, (150.0, 150.0))
    lay, _ = _analytic(alpha, theta, h, s + 1000.0)
    centre = np.hypot(east, north) < 1000.0
    wrong = centre & (((m & LAYOVER) > 0) != lay)
    t, a = math.radians(theta), math.radians(alpha)
    edges = (
        -h / math.tan(t),
        h * (math.cos(t) - math.sin(t) / math.tan(a)) / (math.sin(t) + math.tan(a) * math.cos(t)),
    )
    near_edge = np.minimum(np.abs(s - edges[0]), np.abs(s - edges[1])) < 1.5 * res
    assert lay[centre].sum() > 1000 and not (wrong & ~near_edge).any()
    assert not layover_shadow(np.full((100, 120), 300.0), res, geom, (50.0, 60.0)).any()
    plane = 300.0 + east * 0.3 + north * 0.1  # 17 deg, facing away from the radar: no shadow
    varying = SwathGeometry(78.0, 29.1, 46.0, 250e3, 0.5)
    assert not layover_shadow(plane, res, varying, (50.0, 60.0)).any() if plane.shape == (100, 120) else True
    east2, north2 = pixel_offsets((100, 120), res, (50.0, 60.0))
    assert not layover_shadow(300.0 + east2 * 0.3 + north2 * 0.1, res, varying, (50.0, 60.0)).any()


def test_incidence_varies_across_the_swath():
    from landslide_sar.synthetic.geometry import SwathGeometry

    sar = config_block()["sar"]
    geom = SwathGeometry.from_params(sar, -12.0)  # ascending: looks towards azimuth 78 deg
    near, far = sar["incidence_near_deg"], sar["incidence_far_deg"]
    assert geom.incidence_deg(0.0) == pytest.approx(near + (far - near) * sar["swath_position"])
    slope = (far - near) / sar["swath_width_m"]
    le, ln = geom.look
    assert geom.incidence_deg(geom.cross_track(np.array(1000.0 * le), np.array(1000.0 * ln))) == pytest.approx(
        geom.incidence_deg(0.0) + 1000.0 * slope
    )
    assert geom.incidence_deg(-1e7) == near and geom.incidence_deg(1e7) == far
    # over the tiny area, the truth's incidence grows towards far range (east-north-east)
    w, p, plan = _plain_world()
    view = view_geometry(w, p, "ascending")
    assert view.theta_deg[:, -1].mean() > view.theta_deg[:, 0].mean()
    assert view.theta_deg.max() - view.theta_deg.min() == pytest.approx(
        slope * 10.0 * (abs(le) * w.grid.width + abs(ln) * w.grid.height), rel=0.02
    )


def test_event_masks_layover_and_shadow_from_its_terrain(event):
    """The tiny event's nodata are the terrain's layover and shadow: they sit on steep slopes
    facing the radar (layover) or away from it (shadow), a few percent of the area."""
    area, paths = event
    t = truth(paths)
    m = t["layover_shadow"].astype(np.uint8)
    assert 0.001 < (m > 0).mean() < 0.2
    gy, gx = np.gradient(t["elevation"], 10.0)
    gy = -gy
    look = math.radians(-12.0 + 90.0)
    facing = gx * math.sin(look) + gy * math.cos(look)  # > 0: slope rising towards far range, faces the radar
    assert np.median(facing[(m & 1) > 0]) > 0.3
    items = main_items(read_items(paths), False)
    vv = read_sar(paths, items[0], "vv")
    np.testing.assert_array_equal(np.isnan(vv), m > 0)


# ------------------------------------------------------------------------------ inventory errors


def test_omission_and_position_error_change_the_inventory_by_the_configured_amounts():
    from types import SimpleNamespace

    from landslide_sar.synthetic.landslides import mapped_inventory

    n = 200_000
    heads = {"id": np.arange(1, n + 1), "x": np.zeros(n), "y": np.zeros(n)}
    p = syn.check_params(
        synthetic_block(3, landslides={"inventory_omission_rate": 0.1, "inventory_position_error_m": 5.0})
    )
    inv = mapped_inventory(SimpleNamespace(heads=heads), p)
    assert 1 - inv["id"].size / n == pytest.approx(0.1, abs=0.003)
    assert np.std(inv["x"]) == pytest.approx(5.0, rel=0.01) and np.std(inv["y"]) == pytest.approx(5.0, rel=0.01)
    p = syn.check_params(
        synthetic_block(3, landslides={"inventory_omission_rate": 0.0, "inventory_position_error_m": 0.0})
    )
    exact = mapped_inventory(SimpleNamespace(heads=heads), p)
    assert exact["id"].size == n and not exact["x"].any()


# ------------------------------------------------------------------------------ region B: an earthquake


def test_region_b_rate_depends_on_epicentre_distance_not_rain():
    from landslide_sar.synthetic.fields import landslide_rate

    area = copy.deepcopy(CONFIG["areas"]["region_b"])
    p = syn.check_params(area["synthetic"])
    w = syn.build_world(area, p)
    ls, sh = p["landslides"], p["shaking"]
    r = w.epicentre_distance_m
    assert r.min() > sh["depth_m"] and r.max() / r.min() > 1.2
    # the law: log-linear in slope and concavity, times (r / depth)^-k, no rain term, no gate
    lc = np.array([0, *(p["land_cover"][c]["rate_factor"] for c in ("forest", "pasture", "urban", "water"))])
    want = (
        ls["base_density_per_km2"]
        * 1e-4
        * np.exp(
            ls["slope_coef"] * (w.slope_deg - ls["slope_ref_deg"]) / 10
            + ls["concavity_coef"] * np.clip(w.concavity / ls["concavity_scale"], -3, 3)
        )
        * (r / sh["depth_m"]) ** -sh["distance_coef"]
        * lc[w.land_cover]
    )
    np.testing.assert_allclose(w.rate, want, rtol=1e-4)
    # another rain field changes nothing; a storm's rate does follow rain
    before = w.rate.copy()
    w.rain = -w.rain
    np.testing.assert_array_equal(landslide_rate(w, p), before)
    storm_area = tiny_area()
    a = syn.check_params(storm_area["synthetic"])
    wa = syn.build_world(storm_area, a)
    ra = wa.rate.copy()
    wa.rain = wa.rain + 1.0
    assert (landslide_rate(wa, a)[ra > 0] > ra[ra > 0]).all()
    # and the epicentre: moving it 3 km further away divides the rate by (r2 / r1)^k
    r1 = w.epicentre_distance_m.copy()
    p["shaking"]["epicentre_east_m"] -= 3000.0
    moved = landslide_rate(w, p)
    np.testing.assert_allclose(moved / before, (w.epicentre_distance_m / r1) ** -sh["distance_coef"], rtol=1e-4)
    # convex ridges, not hollows
    assert ls["concavity_coef"] < 0 < a["landslides"]["concavity_coef"]


def _chip_label_share(w, size: int) -> tuple[float, int]:
    """Share of landslide pixels in the chips of ``size`` px that hold any, with the bodies burnt
    all_touched as rasterize_labels burns the inventory, and the number of such chips."""
    from rasterio import features

    g = w.grid
    label = features.rasterize(
        ((b, 1) for b in w.bodies), out_shape=g.shape, transform=g.transform, all_touched=True, dtype="uint8"
    )
    ny, nx = g.height // size, g.width // size
    counts = label[: ny * size, : nx * size].reshape(ny, size, nx, size).sum(axis=(1, 3))
    bearing = counts > 0
    return float(counts[bearing].sum() / (bearing.sum() * size * size)), int(bearing.sum())


@pytest.mark.parametrize(
    ("region", "preset", "share"),
    [("region_a", "hokkaido", (0.07, 0.11)), ("region_b", "talakmau", (0.045, 0.08))],
)
def test_detection_regions_resemble_the_papers_events(region, preset, share):
    """region_a stands for the 2018 Iburi earthquake (the papers' train region, ~9 % landslide
    pixels in landslide-bearing chips), region_b for the 2022 Talakmau earthquake (~6 %): an
    earthquake trigger (no rain gate, no storm, dry soil), bodies tens of metres wide, and the
    papers' shares of landslide pixels in the landslide-bearing 64-px chips of the truth."""
    area = CONFIG["areas"][region]
    p = syn.check_params(area["synthetic"])
    assert yaml.safe_load((ROOT / "config.yaml").read_text())["areas"][region]["synthetic"]["preset"] == preset
    ls = p["landslides"]
    assert ls["rain_gate"] == 0 and ls["rain_coef"] == 0 and p["shaking"]["distance_coef"] > 0
    assert p["storm"]["extent"] == 0 and p["moisture"]["peak_vol_pct"] == 0
    assert ls["width_median_m"] >= 20 and ls["length_median_m"] >= 50
    assert p["land_cover"]["forest_fraction"] >= 0.7  # mostly forest, as both events
    w = syn.build_world(area, p)
    syn.place_landslides(w, p)
    assert np.median(w.heads["width_m"]) >= 20
    got, chips = _chip_label_share(w, CONFIG["detection"]["chips"]["size"])
    assert share[0] <= got <= share[1], got
    assert chips >= 30


def test_default_area_has_all_three_density_classes():
    """The default run's event (10 714 heads) and class balance (heads per 128-px chip: 0 / 1-40 / >40)."""
    area = copy.deepcopy(CONFIG["areas"]["embedded"])
    p = syn.check_params(area["synthetic"])
    w = syn.build_world(area, p)
    syn.place_landslides(w, p)
    assert w.heads["id"].size == 10_714  # the pipeline's results depend on this very event
    size = CONFIG["chips"]["size"]
    counts = syn.chip_counts(w.heads["x"], w.heads["y"], w.grid, size)
    assert counts.shape == (12, 12)
    whole = (w.heads["x"] < w.grid.transform.c + 12 * size * 10) & (w.heads["y"] > w.grid.transform.f - 12 * size * 10)
    assert counts.sum() == whole.sum()  # heads in partial chips at the right/bottom edges dropped
    edges = tuple(CONFIG["chips"]["density_class_edges_per_km2"])
    classes = density_class(counts / (size * size * 100 / 1e6), edges)
    fractions = [(classes == c).mean() for c in (0, 1, 2)]
    assert all(fr >= 0.15 for fr in fractions), fractions


# ------------------------------------------------------------------------------ parameters


def _flat(d: dict, pre: str = "") -> dict:
    """{"a.b.c": value} of a nested mapping."""
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{pre}{k}.") if isinstance(v, dict) else {f"{pre}{k}": v})
    return out


def _schema_leaves(node: dict, pre: str = "") -> dict:
    """{"a.b.c": leaf schema} of the synthetic schema."""
    if node.get("type") != "object":
        return {pre[:-1]: node}
    out = {}
    for k, v in node["properties"].items():
        out.update(_schema_leaves(v, f"{pre}{k}."))
    return out


def _without(block: dict, key: str) -> dict:
    b = copy.deepcopy(block)
    *parents, last = key.split(".")
    node = b
    for k in parents:
        node = node[k]
    del node[last]
    return b


def _with(block: dict, key: str, value) -> dict:
    b = copy.deepcopy(block)
    *parents, last = key.split(".")
    node = b
    for k in parents:
        node = node[k]
    node[last] = value
    return b


def test_config_block_is_used_as_given():
    block = config_block()
    p = syn.check_params(block)
    assert p == block and _flat(p).keys() == _flat(block).keys()
    leaves = _schema_leaves(syn.parameter_schema())
    for key, value in _flat(p).items():  # integers as int, numbers as float
        assert type(value) is (int if leaves[key]["type"] == "integer" else float), key
    assert syn.check_params(synthetic_block(1, sar={"looks": 3}))["sar"]["looks"] == 3.0


def test_every_preset_is_a_full_valid_block():
    """Each preset of schemas/synthetic.presets.yaml with a seed is a block check_params accepts,
    with every key of the schema; a block naming a preset is checked as that full block."""
    leaves = _schema_leaves(syn.parameter_schema())
    for name in synthetic_presets():
        p = syn.check_params({"preset": name, "seed": 11})
        assert list(_flat(p)) == list(leaves), name
        for key, value in _flat(p).items():  # integers as int, numbers as float
            assert type(value) is (int if leaves[key]["type"] == "integer" else float), (name, key)
    assert syn.check_params({"preset": "storm", "seed": 2017}) == config_block()
    _one_line_error({"preset": "storm"}, r"^config synthetic: 'seed' is a required property$")
    calm = {"preset": "calm", "seed": 1}
    _one_line_error(calm, r"^config synthetic\.preset = 'calm' is not allowed; allowed presets: ")


BOUNDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")


def _missing(key: str) -> str:
    """The main validator's line for a missing key path under ``synthetic``."""
    parent, _, last = f"synthetic.{key}".rpartition(".")
    return rf"^config {parent.replace('.', '[.]')}: '{last}' is a required property"


def _one_line_error(block, match: str) -> str:
    with pytest.raises(InputError, match=match) as err:
        syn.check_params(block)
    assert "\n" not in str(err.value)
    return str(err.value)


def test_every_key_is_required():
    block = config_block()
    _one_line_error(
        _without(block, "landslides.slope_coef"), r"^config synthetic\.landslides: 'slope_coef' is a required property$"
    )
    _one_line_error(_without(block, "sar"), r"^config synthetic: 'sar' is a required property$")
    _one_line_error({"seed": 1}, r"^config synthetic: '\w+' is a required property$")
    _one_line_error(None, r"^synthetic is missing")
    for key in _flat(block):  # every single parameter, and every section
        _one_line_error(_without(block, key), _missing(key))
    for section in (k for k, v in block.items() if isinstance(v, dict)):
        _one_line_error(_without(block, section), _missing(section))


def test_unknown_keys_and_bad_values_fail():
    block = config_block()
    _one_line_error(
        _with(block, "sar.lookz", 3),
        r"^config key synthetic\.sar\.lookz is not allowed; allowed keys at synthetic\.sar: ",
    )
    _one_line_error(_with(block, "colour", 3), r"^config key synthetic\.colour is not allowed")
    _one_line_error(
        _with(block, "sar.looks", 0), r"^config synthetic\.sar\.looks = 0 is not allowed; expected a value > 0"
    )
    _one_line_error(_with(block, "sar.incidence_far_deg", 90), r"synthetic\.sar\.incidence_far_deg = 90 .* < 90")
    _one_line_error(_with(block, "seed", "x"), r"^config synthetic\.seed = 'x' is not allowed; expected type integer")
    _one_line_error(_with(block, "seed", True), "expected type integer")
    _one_line_error(_with(block, "storm.vv_db", float("nan")), "expected a finite number")
    _one_line_error(_with(block, "seed", 1.5), r"^config synthetic\.seed = 1\.5 is not allowed; expected type integer")
    _one_line_error(_with(block, "sar", 3), r"^config synthetic\.sar = 3 is not allowed; expected type object")
    for what, below in (("length", 4.0), ("width", 1.5)):  # below the configured minimum
        _one_line_error(
            _with(block, f"landslides.{what}_max_m", below),
            rf"landslides\.{what}_max_m = {below} is not allowed; expected >= {what}_min_m",
        )


def test_generate_event_fails_before_writing(tmp_path):
    area = tiny_area()
    area["synthetic"] = _without(area["synthetic"], "landslides.slope_coef")
    with pytest.raises(InputError, match=_missing("landslides.slope_coef")):
        syn.generate_event(area, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    area = tiny_area()
    del area["sentinel1"]["orbit_state"]
    with pytest.raises(InputError, match=r"^sentinel1\.orbit_state is missing"):
        syn.acquisition_plan(area)
    area = tiny_area()
    del area["synthetic"]
    with pytest.raises(InputError, match=r"^synthetic is missing"):
        syn.build_world(area)


def _doc_tables() -> dict[str, str]:
    """{key: value column} of the parameter tables of docs/synthetic_event.md."""
    doc = (ROOT / "docs" / "synthetic_event.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            key = cells[0].strip("`")
            assert key not in rows, f"{key} listed twice"
            rows[key] = cells[1]
    return rows


def test_config_schema_and_docs_agree():
    import jsonschema

    schema = syn.parameter_schema()
    jsonschema.Draft7Validator.check_schema(schema)
    jsonschema.Draft202012Validator.check_schema(schema)  # the main schema's draft
    validator = jsonschema.Draft7Validator(schema)
    block = config_block()
    validator.validate(block)

    def objects(node, where="synthetic"):
        yield where, node
        for k, v in node["properties"].items():
            if v.get("type") == "object":
                yield from objects(v, f"{where}.{k}")

    for where, node in objects(schema):  # every key required at every level, nothing else allowed
        assert node["required"] == list(node["properties"]), where
        assert node["additionalProperties"] is False, where
    leaves = _schema_leaves(schema)
    for key, node in leaves.items():  # all of it is what check_params enforces; no defaults
        assert node["type"] in ("number", "integer"), key
        assert set(node) <= {"type", "description", *BOUNDS}, key
    # the same keys in schema, config.yaml and the doc (whose values are config.yaml's)
    doc = _doc_tables()
    assert list(leaves) == list(_flat(block))
    assert set(doc) == set(leaves)
    for key, value in _flat(block).items():
        assert float(doc[key].split()[0]) == pytest.approx(value, rel=1e-12), key

    # check_params and the schema reject the same blocks
    def both_reject(b):
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(b)
        with pytest.raises(InputError):
            syn.check_params(b)

    both_reject(_with(block, "unknown", 1))
    both_reject(_with(block, "sar", {"looks": 4.5}))
    both_reject(_without(block, "dem.margin_deg"))
    both_reject(_with(block, "seed", 1.5))
    for key, node in leaves.items():
        step = 1 if node["type"] == "integer" else 1e-9
        for bound, past in (("minimum", -step), ("exclusiveMinimum", 0), ("maximum", step), ("exclusiveMaximum", 0)):
            if bound in node:
                both_reject(_with(block, key, node[bound] + past))
                if not bound.startswith("exclusive"):  # the bound itself is allowed
                    ok = _with(block, key, node[bound])
                    validator.validate(ok)
                    syn.check_params(ok)


def test_one_plus_one_acquisitions(tmp_path):
    """The smallest request: 1 pre + 1 post (two slices) + the distractor."""
    area = tiny_area(seed=5, pre=1, post=1)
    area["bbox"] = [-66.70, 18.25, -66.69, 18.26]
    paths = syn.generate_event(area, tmp_path)
    items = read_items(paths)
    assert len(items) == 4
    days = sorted(it.datetime.strftime("%m-%d") for it in items)
    assert days == ["09-10", "09-16", "09-22", "09-22"]
    assert len(list(paths.sentinel1_dir.glob("*.tif"))) == 12  # vv, vh, mask
