"""STAC items of the event, shaped like Planetary Computer ``sentinel-1-rtc`` items: pystac Items
with the SAR, Sat, Projection and Raster extensions, assets ``vv``, ``vh`` (and, when the terrain
masks pixels, ``mask``: the layover/shadow mask of the RTC product) as relative hrefs."""

from __future__ import annotations

import numpy as np
import pystac
from pystac.extensions.projection import ProjectionExtension
from pystac.extensions.raster import DataType, RasterBand, RasterExtension
from pystac.extensions.sar import FrequencyBand, ObservationDirection, Polarization, SarExtension
from pystac.extensions.sat import OrbitState, SatExtension

from landslide_sar.grid import Grid

from .acquisitions import PlannedItem
from .params import SAR_NODATA

COG_MEDIA_TYPE = pystac.MediaType.COG
COLLECTION = "sentinel-1-rtc"
#: Values of the ``mask`` asset (as the layover/shadow masks of RTC products: bit 0 layover,
#: bit 1 shadow); 0 where the pixel is valid.
MASK_LAYOVER, MASK_SHADOW = 1, 2
MASK_NODATA = 255
_PLATFORM = {"S1A": ("SENTINEL-1A", "2014-016A"), "S1B": ("SENTINEL-1B", "2016-025A")}


def footprint_lonlat(mask: np.ndarray, grid: Grid):
    """Lon/lat polygon of a mask's covered part (its pixel-edge outline, simplified)."""
    import shapely
    from pyproj import Transformer
    from rasterio.features import shapes
    from shapely.geometry import shape
    from shapely.ops import transform as stransform

    polys = [
        shape(geom) for geom, val in shapes(mask.astype(np.uint8), mask=mask, transform=grid.transform) if val == 1
    ]
    poly = shapely.union_all(polys).simplify(grid.resolution * 1.5)
    poly = shapely.segmentize(poly, 1000.0)
    tr = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    return stransform(tr.transform, poly)


def stac_item(acq: PlannedItem, grid: Grid, footprint, assets: dict[str, str], looks: float) -> pystac.Item:
    """The pystac Item of one acquisition; ``assets`` maps ``vv``/``vh`` (and optionally ``mask``)
    to hrefs relative to the ItemCollection file."""
    from shapely.geometry import mapping

    platform, designator = _PLATFORM[acq.platform]
    item = pystac.Item(
        id=acq.id,
        geometry=mapping(footprint),
        bbox=list(footprint.bounds),
        datetime=acq.datetime,
        start_datetime=acq.start,
        end_datetime=acq.stop,
        collection=COLLECTION,
        properties={
            "platform": platform,
            "constellation": "Sentinel-1",
            "s1:datatake_id": str(acq.datatake_id),
            "s1:product_timeliness": "Fast-24h",
            "s1:processing_level": "1",
            "s1:resolution": "high",
        },
    )
    SatExtension.ext(item, add_if_missing=True).apply(
        orbit_state=OrbitState(acq.orbit_state),
        relative_orbit=acq.relative_orbit,
        absolute_orbit=acq.absolute_orbit,
        platform_international_designator=designator,
    )
    SarExtension.ext(item, add_if_missing=True).apply(
        instrument_mode="IW",
        frequency_band=FrequencyBand.C,
        polarizations=[Polarization.VV, Polarization.VH],
        product_type="GRD",
        center_frequency=5.405,
        resolution_range=20.0,
        resolution_azimuth=22.0,
        looks_equivalent_number=float(looks),
        observation_direction=ObservationDirection.RIGHT,
    )
    ProjectionExtension.ext(item, add_if_missing=True).apply(
        epsg=int(str(grid.crs).split(":")[-1]),
        shape=[grid.height, grid.width],
        transform=[float(v) for v in list(grid.transform)[:6]] + [0.0, 0.0, 1.0],
        bbox=[float(v) for v in grid.bounds],
    )
    titles = {
        "vv": "VV: vertical transmit, vertical receive",
        "vh": "VH: vertical transmit, horizontal receive",
        "mask": "Layover (1) and shadow (2) mask; the data assets are nodata there",
    }
    for key, href in assets.items():
        is_mask = key == "mask"
        asset = pystac.Asset(
            href=href, media_type=COG_MEDIA_TYPE, title=titles[key], roles=["data-mask" if is_mask else "data"]
        )
        item.add_asset(key, asset)
        band = (
            RasterBand.create(nodata=MASK_NODATA, data_type=DataType.UINT8)
            if is_mask
            else RasterBand.create(nodata=SAR_NODATA, data_type=DataType.FLOAT32)
        )
        RasterExtension.ext(asset, add_if_missing=True).apply([band])
    return item
