"""A self-contained offline web map per area for responders: one HTML page (Leaflet through
folium-offline, every script, style and image inlined: it opens from a USB stick with no network)
with a hillshade rendered from the area's DEM as the base layer, the density classes, the
detection probability, the inventory's landslide heads and a legend. No tiles are fetched."""

from __future__ import annotations

import base64
import html
import io
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.warp import calculate_default_transform, reproject, transform_bounds

from landslide_sar.errors import InputError

from .density.map import CLASS_COLOURS, NODATA, class_names
from .io import atomic_path
from .terrain import hillshade

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: Web maps are shown in Web Mercator: each raster is resampled onto it, so that Leaflet's
#: image overlay (stretched between its corners in Mercator metres) lies exactly in place.
WEB_CRS = "EPSG:3857"
#: Most pixels along the longer side of an overlay image (keeps the page small at any area size).
MAX_PIXELS = 1600


def _to_web(
    src_path: PathLike, band: int, resampling: Resampling, max_pixels: int = MAX_PIXELS
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """Band `band` of a raster resampled onto Web Mercator (at most max_pixels on a side), NaN
    where it has no data; and its lon/lat bounds (west, south, east, north)."""
    with rasterio.open(src_path) as src:
        transform, width0, height0 = calculate_default_transform(src.crs, WEB_CRS, src.width, src.height, *src.bounds)
        left, top = transform.c, transform.f
        right, bottom = left + transform.a * width0, top + transform.e * height0
        scale = max(1.0, max(width0, height0) / max_pixels)
        width, height = max(1, int(round(width0 / scale))), max(1, int(round(height0 / scale)))
        dst_transform = rasterio.transform.from_bounds(left, bottom, right, top, width, height)
        out = np.full((height, width), np.nan, dtype="float32")
        data = src.read(band).astype("float32")
        if src.nodata is not None and not np.isnan(src.nodata):
            data[data == src.nodata] = np.nan
        reproject(
            data,
            out,
            src_transform=src.transform,
            src_crs=src.crs,
            src_nodata=np.nan,
            dst_transform=dst_transform,
            dst_crs=WEB_CRS,
            dst_nodata=np.nan,
            resampling=resampling,
        )
    w, s, e, n = transform_bounds(WEB_CRS, "EPSG:4326", left, bottom, right, top)
    return out, (w, s, e, n)


def _hex_rgb(colour: str) -> tuple[int, int, int]:
    c = colour.lstrip("#")
    return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


def _png(rgba: np.ndarray) -> str:
    """A (y, x, 4) uint8 image as a data: URL (PNG)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def grey_rgba(shade: np.ndarray) -> np.ndarray:
    """Hillshade values as opaque grey pixels, transparent where NaN."""
    rgba = np.zeros((*shade.shape, 4), dtype="uint8")
    ok = np.isfinite(shade)
    rgba[ok, :3] = np.clip(shade[ok], 0, 255).astype("uint8")[:, None]
    rgba[ok, 3] = 255
    return rgba


def class_rgba(classes: np.ndarray, colours: Sequence[str] = CLASS_COLOURS) -> np.ndarray:
    """Density classes 0, 1, 2 in their colours; transparent without a prediction (NaN, 255)."""
    rgba = np.zeros((*classes.shape, 4), dtype="uint8")
    for c, colour in enumerate(colours):
        sel = classes == c
        rgba[sel, :3] = _hex_rgb(colour)
        rgba[sel, 3] = 255
    return rgba


def probability_rgba(prob: np.ndarray, cmap: str = "magma") -> np.ndarray:
    """Probabilities 0-1 through a matplotlib colour map, transparent where NaN."""
    from matplotlib import colormaps

    rgba = (colormaps[cmap](np.nan_to_num(np.clip(prob, 0, 1))) * 255).astype("uint8")
    rgba[~np.isfinite(prob), 3] = 0
    return rgba


def _legend(title: str, class_labels: Sequence[str] | None, probability: bool, heads: bool) -> str:
    """The legend box (HTML, fixed bottom-left)."""
    from matplotlib import colormaps

    rows = [f"<b>{html.escape(title)}</b>"]
    if class_labels:
        rows.append("<i>landslide density</i>")
        rows += [
            f'<span style="background:{c};border:1px solid '
            f'#555;display:inline-block;width:14px;height:10px"></span> {html.escape(n)}'
            for c, n in zip(CLASS_COLOURS, class_labels)
        ]
    if probability:
        stops = ", ".join(f"rgb{tuple(int(255 * v) for v in colormaps['magma'](x)[:3])}" for x in np.linspace(0, 1, 6))
        rows.append("<i>detection: landslide probability</i>")
        rows.append(
            '0 <span style="background:linear-gradient(to right, '
            f'{stops});display:inline-block;width:110px;height:10px"></span> 1'
        )
    if heads:
        rows.append(
            '<span style="background:#1f78b4;border-radius:50%;display:inline-block;width:8px;height:8px"></span>'
            " landslide head (inventory)"
        )
    rows.append('<span style="color:#666">base: hillshade of the DEM</span>')
    return (
        '<div id="legend" style="position:fixed;bottom:18px;left:10px;z-index:9999;background:rgba(255,255,255,0.92);'
        'padding:6px 9px;border:1px solid #888;border-radius:4px;font:12px sans-serif;line-height:17px">'
        + "<br>".join(rows)
        + "</div>"
    )


def web_map(
    cube_zarr: PathLike,
    html_out: PathLike,
    title: str,
    density_tif: PathLike | None = None,
    class_edges: Sequence[float] = (0, 25),
    probability_tif: PathLike | None = None,
    inventory: PathLike | None = None,
    max_heads: int = 20000,
) -> None:
    """Write the area's offline web map: the hillshade of the cube's DEM (base layer; read through
    GDAL's Zarr driver, which finds its CRS from the cube's CF attributes), the density classes
    (`density_tif`, the density or rapid-response map), the detection probability
    (`probability_tif`), the inventory's landslide heads (`inventory`; points, or polygons'
    representative points; at most max_heads, a warning beyond), a layer switcher and a legend."""
    import offlinefolium as folium
    from branca.element import Element

    from landslide_sar.cube import cube_grid

    from .labels import read_inventory

    grid = cube_grid(cube_zarr)
    dem, bounds = _to_web(f'ZARR:"{cube_zarr}":/dem', 1, Resampling.bilinear)
    if not np.isfinite(dem).any():
        raise InputError(f"{cube_zarr}: variable dem has no data; expected the area's DEM for the hillshade")
    res = abs(grid.transform.a) * max(1.0, max(grid.width, grid.height) / MAX_PIXELS)
    w, s, e, n = bounds
    m = folium.Map(location=[(s + n) / 2, (w + e) / 2], tiles=None, control_scale=True, prefer_canvas=True)
    m.fit_bounds([[s, w], [n, e]])
    folium.raster_layers.ImageOverlay(
        _png(grey_rgba(hillshade(dem, res))),
        bounds=[[s, w], [n, e]],
        name="hillshade (DEM)",
        overlay=False,
        control=True,
    ).add_to(m)
    labels = None
    if density_tif is not None:
        classes, b = _to_web(density_tif, 1, Resampling.nearest)
        classes[classes == NODATA] = np.nan
        labels = class_names(class_edges)
        folium.raster_layers.ImageOverlay(
            _png(class_rgba(classes)),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name="density class",
            opacity=0.6,
            interactive=False,
        ).add_to(m)
    if probability_tif is not None:
        prob, b = _to_web(probability_tif, 1, Resampling.bilinear)
        folium.raster_layers.ImageOverlay(
            _png(probability_rgba(prob)),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name="detection probability",
            opacity=0.75,
        ).add_to(m)
    n_heads = 0
    if inventory is not None:
        inv = read_inventory(inventory, grid)
        pts = inv.geometry.where(inv.geometry.geom_type == "Point", inv.geometry.representative_point()).to_crs(
            "EPSG:4326"
        )
        if len(pts) > max_heads:
            log.warning("%s: %d heads; the web map shows the first %d", inventory, len(pts), max_heads)
            pts = pts.iloc[:max_heads]
        n_heads = len(pts)
        folium.GeoJson(
            pts.__geo_interface__,
            name="landslide heads (inventory)",
            marker=folium.CircleMarker(
                radius=2, color="#1f78b4", weight=1, fill=True, fill_color="#1f78b4", fill_opacity=0.9
            ),
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    m.get_root().html.add_child(Element(_legend(title, labels, probability_tif is not None, n_heads > 0)))
    m.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"))
    with atomic_path(html_out) as tmp:
        m.save(str(tmp))
    log.info(
        "web map %s: %s%s%s, %d heads, %.1f MB",
        html_out,
        "hillshade",
        ", density classes" if density_tif else "",
        ", detection probability" if probability_tif else "",
        n_heads,
        Path(html_out).stat().st_size / 1e6,
    )
