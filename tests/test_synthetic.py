"""Unit tests of the embedded synthetic event (landslide_sar.synthetic) on tiny areas."""

from __future__ import annotations

import copy
import json
import math
from datetime import datetime, timezone
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
from landslide_sar.grid import InputError, area_grid

ROOT = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
TINY_BBOX = [-66.70, 18.25, -66.67, 18.28]
EVENT = datetime(2017, 9, 20, tzinfo=timezone.utc)


def config_block() -> dict:
    """A fresh copy of the default run's ``areas.embedded.synthetic`` block of config.yaml."""
    return copy.deepcopy(CONFIG["areas"]["embedded"]["synthetic"])


def synthetic_block(seed: int, **sections: dict) -> dict:
    """config.yaml's block with another seed and some keys of its sections replaced."""
    block = config_block()
    block["seed"] = seed
    for section, values in sections.items():
        assert set(values) <= set(block[section]), values  # a typo would test nothing
        block[section].update(values)
    return block


def tiny_area(seed: int = 7, before: int = 2, after: int = 2, **sections: dict) -> dict:
    return {
        "bbox": TINY_BBOX,
        "resolution": 10,
        "event_time": "2017-09-20T00:00:00Z",
        "sentinel1": {
            "collection": "sentinel-1-rtc",
            "acquisitions_before": before,
            "acquisitions_after": after,
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
    return [
        it
        for it in items
        if it.properties["sat:orbit_state"] == "ascending" and (it.datetime > EVENT) == post
    ]


# ------------------------------------------------------------------------------ files, georef


def test_output_files_exist(event):
    _, paths = event
    for name in ("sentinel1_items.json", "dem.tif", "inventory.gpkg", "truth.gpkg", "truth.tif"):
        assert (paths.root / name).is_file(), name
    # 2 before + 2 after (the first as two slices) + 1 distractor, VV and VH each
    assert len(list(paths.sentinel1_dir.glob("*_vv.tif"))) == 6
    assert len(list(paths.sentinel1_dir.glob("*_vh.tif"))) == 6
    assert len(paths.sar_files) == 12


def test_sar_cogs_on_area_grid(event):
    area, paths = event
    grid = area_grid(area["bbox"], area["resolution"])
    for f in paths.sar_files:
        with rasterio.open(f) as src:
            assert src.crs.to_string() == grid.crs
            assert src.transform == grid.transform
            assert (src.height, src.width) == grid.shape
            assert src.dtypes == ("float32",)
            assert src.nodata == syn.SAR_NODATA
            assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
            a = src.read(1)
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
    assert len(s1b) == 2 and {it.datetime for it in s1b} == {
        datetime(2017, 9, 22, 22, 35, 44, tzinfo=timezone.utc)
    }
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
    assert np.isfinite(read_sar(paths, d, "vv")).all()


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
        va, vb = (np.isfinite(read_sar(paths, it, pol)) for it in (a, b))
        for v in (va, vb):
            assert 0.5 < v.mean() < 0.7  # each covers only part (about 60 %)
        assert (va | vb).all()  # together all of it
        assert (va & vb).any()  # overlapping
        both = va & vb
        np.testing.assert_array_equal(read_sar(paths, a, pol)[both], read_sar(paths, b, pol)[both])
    # footprints: each slice's geometry covers only its part of the area
    lats = sorted((it.bbox[1], it.bbox[3]) for it in slices)
    w, s, e, n = grid.lonlat_bbox()
    assert lats[0][0] <= s + 1e-6 and lats[0][1] < n  # south slice
    assert lats[1][0] > s and lats[1][1] >= n - 1e-6  # north slice


def test_acquisition_plan_extends_every_12_days():
    area = tiny_area(before=4, after=4)
    plan = syn.acquisition_plan(area)
    main = [a for a in plan if a.role == "main"]
    days = sorted({math.floor(a.days_from_event) for a in main})
    assert days == [-40, -28, -16, -4, 2, 20, 32, 44]  # 4 before, 4 after (one date = 2 slices)
    assert len(main) == 9
    assert sum(a.role == "distractor" for a in plan) == 1
    # the default 3 + 3 are Table 1 of the density paper
    plan = syn.acquisition_plan(tiny_area(before=3, after=3))
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
    with pytest.raises(InputError, match="acquisitions_before"):
        syn.acquisition_plan(tiny_area(before=0))


# ------------------------------------------------------------------------------ inventory, truth


def test_inventory_is_usgs_like_heads(event):
    area, paths = event
    inv = gpd.read_file(paths.inventory, layer="landslides")
    assert inv.crs.to_epsg() == 4326
    assert list(inv.columns) == ["id", "geometry"]
    assert (inv.geom_type == "Point").all()
    heads = gpd.read_file(paths.truth_vectors, layer="heads")
    assert len(inv) == len(heads) > 50
    back = inv.to_crs(heads.crs)
    np.testing.assert_allclose(back.geometry.x, heads.geometry.x, atol=1e-3)
    np.testing.assert_allclose(back.geometry.y, heads.geometry.y, atol=1e-3)
    w, s, e, n = area_grid(area["bbox"], area["resolution"]).lonlat_bbox()
    assert inv.geometry.x.between(w, e).all() and inv.geometry.y.between(s, n).all()


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
    inside, outside = change[f > 0.5].mean(), change[f == 0].mean()
    assert inside < outside - 1.0
    # VV changes less than VH
    pre_vv = np.mean(mean_by_date(paths, main_items(items, False), "vv"), axis=0)
    post_vv = np.mean(mean_by_date(paths, main_items(items, True), "vv"), axis=0)
    vv_change = 10 * np.log10(post_vv / pre_vv)
    assert abs(vv_change[f > 0.5].mean() - vv_change[f == 0].mean()) < abs(inside - outside)


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


def test_more_acquisitions_keep_the_world():
    """Named random streams: asking for more dates leaves terrain and heads unchanged."""
    p = syn.check_params(tiny_area(seed=3)["synthetic"])
    w1 = syn.build_world(tiny_area(seed=3, before=1, after=1), p)
    w2 = syn.build_world(tiny_area(seed=3, before=4, after=4), p)
    np.testing.assert_array_equal(w1.elevation_w, w2.elevation_w)
    np.testing.assert_array_equal(w1.rate, w2.rate)


# ------------------------------------------------------------------------------ backscatter model


def _plain_world(**sar):
    area = tiny_area(seed=11, sar={"texture_db": 0.0, "terrain_exponent": 0.0, **sar})
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
    vv, vh = syn.simulate_acquisition(w, p, pre[0])
    for img in (vv, vh):
        cv = img[forest].std() / img[forest].mean()
        assert cv == pytest.approx(1 / math.sqrt(L), rel=0.03)
    # independent per acquisition: averaging two dates divides the variance by two
    vv2, _ = syn.simulate_acquisition(w, p, pre[1])
    avg = (vv / vv[forest].mean() + vv2 / vv2[forest].mean())[forest] / 2
    assert avg.std() == pytest.approx(1 / math.sqrt(2 * L), rel=0.04)
    # VV and VH speckle independent
    assert abs(np.corrcoef(vv[forest], vh[forest])[0, 1]) < 0.02


def test_landslide_change_is_area_weighted_mix_towards_bare_soil():
    w, p, plan = _plain_world(looks=1e7, date_sd_db=0.0, wetness_db=0.0)
    p["storm"]["extent"] = 0.0  # no storm damage
    w.storm_damage = np.zeros_like(w.storm_damage)
    rng = np.random.default_rng(0)
    w.fraction = rng.random(w.land_cover.shape).astype(np.float32)
    pre = next(a for a in plan if not a.post and a.role == "main")
    post = next(a for a in plan if a.post and a.role == "main")
    _, vh0 = syn.simulate_acquisition(w, p, pre)
    _, vh1 = syn.simulate_acquisition(w, p, post)
    forest = w.land_cover == syn.LAND_COVER_CODES["forest"]
    f = w.fraction[forest]
    bare = 10 ** (p["sar"]["bare_vh_db"] / 10)
    cover = 10 ** (p["land_cover"]["forest"]["vh_db"] / 10)
    np.testing.assert_allclose(vh1[forest] / vh0[forest], (1 - f) + f * bare / cover, rtol=1e-2)


def test_storm_damage_changes_backscatter_outside_landslides():
    w, p, plan = _plain_world(looks=1e7, date_sd_db=0.0, wetness_db=0.0)
    w.storm_damage = np.ones_like(w.storm_damage)
    w.fraction = np.zeros(w.land_cover.shape, dtype=np.float32)
    pre = next(a for a in plan if not a.post and a.role == "main")
    post = next(a for a in plan if a.post and a.role == "main")
    vv0, vh0 = syn.simulate_acquisition(w, p, pre)
    vv1, vh1 = syn.simulate_acquisition(w, p, post)
    forest = w.land_cover == syn.LAND_COVER_CODES["forest"]
    assert 10 * np.log10(np.median(vh1[forest] / vh0[forest])) == pytest.approx(p["storm"]["vh_db"], abs=0.05)
    assert 10 * np.log10(np.median(vv1[forest] / vv0[forest])) == pytest.approx(p["storm"]["vv_db"], abs=0.05)


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
        _with(block, "sar.lookz", 3), r"^config key synthetic\.sar\.lookz is not allowed; allowed keys at synthetic\.sar: "
    )
    _one_line_error(_with(block, "colour", 3), r"^config key synthetic\.colour is not allowed")
    _one_line_error(_with(block, "sar.looks", 0), r"^config synthetic\.sar\.looks = 0 is not allowed; expected a value > 0")
    _one_line_error(_with(block, "sar.incidence_deg", 90), r"synthetic\.sar\.incidence_deg = 90 .* < 90")
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
    area = tiny_area(seed=5, before=1, after=1)
    area["bbox"] = [-66.70, 18.25, -66.69, 18.26]
    paths = syn.generate_event(area, tmp_path)
    items = read_items(paths)
    assert len(items) == 4
    days = sorted(it.datetime.strftime("%m-%d") for it in items)
    assert days == ["09-10", "09-16", "09-22", "09-22"]
    assert len(list(paths.sentinel1_dir.glob("*.tif"))) == 8
