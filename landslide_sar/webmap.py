"""A self-contained offline web map per area for responders: one HTML page (Leaflet through
folium-offline, every script, style and image inlined: it opens from a USB stick with no network)
with a hillshade rendered from the area's DEM as the base layer and, each a layer of its own with
its own legend (shown while the layer is): the density classes, their confidence, the detection
probability at its real range, and the inventory's landslide heads as small fixed-pixel dots, off
by default so they never hide the map. No tiles are fetched."""

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
from .detection.figures import PROBABILITY_CMAP, probability_scale
from .io import atomic_path
from .terrain import hillshade

log = logging.getLogger(__name__)

PathLike = str | os.PathLike
#: Web maps are shown in Web Mercator: each raster is resampled onto it, so that Leaflet's
#: image overlay (stretched between its corners in Mercator metres) lies exactly in place.
WEB_CRS = "EPSG:3857"
#: Most pixels along the longer side of an overlay image (keeps the page small at any area size).
MAX_PIXELS = 1600
#: The layers' names in the layer switcher (and the keys of their legends).
DENSITY_LAYER = "density class"
CONFIDENCE_LAYER = "density confidence"
PROBABILITY_LAYER = "detection probability"
LABEL_FREE_LAYER = "label-free flagged"
LABEL_FREE_COLOUR = "#e31a1c"
HEADS_LAYER = "landslide heads (inventory)"
HEAD_COLOUR = "#1f78b4"
#: A head's dot: a fixed screen radius (pixels), whatever the zoom, with no outline.
HEAD_RADIUS_PX = 2
CONFIDENCE_CMAP = "viridis"


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


def probability_rgba(prob: np.ndarray, cmap: str = PROBABILITY_CMAP, norm=None) -> np.ndarray:  # noqa: ANN001
    """Probabilities through a matplotlib colour map (with `norm`, a matplotlib norm, or 0-1
    linear), transparent where NaN."""
    from matplotlib import colormaps

    x = np.nan_to_num(np.clip(prob, 0, 1)) if norm is None else np.ma.filled(norm(np.nan_to_num(prob)), 0.0)
    rgba = (colormaps[cmap](np.clip(x, 0, 1)) * 255).astype("uint8")
    rgba[~np.isfinite(prob), 3] = 0
    return rgba


def confidence(probability_tif: PathLike) -> tuple[np.ndarray, tuple[float, float, float, float], int]:
    """The density map's confidence on Web Mercator: per pixel the probability of the predicted
    class (the largest of the class-probability bands prob_class0.., the sd bands left out), NaN
    without prediction; its lon/lat bounds and the number of classes."""
    with rasterio.open(probability_tif) as src:
        names = src.descriptions
    bands = [i + 1 for i, d in enumerate(names) if d and d.startswith("prob_class") and not d.endswith("_sd")]
    if not bands:
        raise InputError(f"{probability_tif}: no band prob_class0..; expected the density map's class probabilities")
    layers = [_to_web(probability_tif, b, Resampling.nearest) for b in bands]
    stack = np.stack([a for a, _ in layers])
    conf = np.full(stack.shape[1:], np.nan, dtype="float32")
    have = np.isfinite(stack).all(axis=0)
    conf[have] = stack[:, have].max(axis=0)
    return conf, layers[0][1], len(bands)


def _gradient(cmap: str, positions: Sequence[float]) -> str:
    from matplotlib import colormaps

    return ", ".join(f"rgb{tuple(int(255 * v) for v in colormaps[cmap](x)[:3])}" for x in positions)


def _bar(cmap: str, ticks: Sequence[str]) -> str:
    """A colour bar (HTML): the colour map left to right, labels spread under it."""
    labels = "".join(f"<span>{html.escape(t)}</span>" for t in ticks)
    return (
        f'<div style="background:linear-gradient(to right, {_gradient(cmap, np.linspace(0, 1, 8))});'
        'width:150px;height:10px;border:1px solid #555"></div>'
        f'<div style="display:flex;justify-content:space-between;width:152px;font-size:11px">{labels}</div>'
    )


def _legend(title: str, sections: Sequence[tuple[str, str, bool]]) -> str:
    """The legend box (HTML, fixed bottom-left): the title, then one section per layer
    (layer name, its HTML, shown at first), each shown while its layer is on the map (see
    _LEGEND_SCRIPT)."""
    rows = [f"<b>{html.escape(title)}</b>"]
    hidden = ' style="display:none"'
    rows += [
        f'<div class="legend-layer" data-layer="{html.escape(name)}"{"" if shown else hidden}>{body}</div>'
        for name, body, shown in sections
    ]
    rows.append('<span style="color:#666">base: hillshade of the DEM</span>')
    return (
        '<div id="legend" style="position:fixed;bottom:18px;left:10px;z-index:9999;background:rgba(255,255,255,0.92);'
        'padding:6px 9px;border:1px solid #888;border-radius:4px;font:12px sans-serif;line-height:17px">'
        + "".join(f"<div>{r}</div>" for r in rows)
        + "</div>"
    )


#: Shows each layer's legend section while the layer is on the map (`{map}`: the map's variable).
_LEGEND_SCRIPT = """
window.addEventListener("load", function () {
  var map = {map};
  function show(name, on) {
    document.querySelectorAll("#legend .legend-layer").forEach(function (e) {
      if (e.dataset.layer === name) { e.style.display = on ? "" : "none"; }
    });
  }
  map.on("overlayadd", function (e) { show(e.name, true); });
  map.on("overlayremove", function (e) { show(e.name, false); });
});
"""


def _class_legend(labels: Sequence[str]) -> str:
    return "<i>landslide density</i>" + "".join(
        f'<div><span style="background:{c};border:1px solid '
        f'#555;display:inline-block;width:14px;height:10px"></span> {html.escape(n)}</div>'
        for c, n in zip(CLASS_COLOURS, labels)
    )


def _fmt(x: float) -> str:
    return f"{x:.2g}"


def web_map(
    cube_zarr: PathLike,
    html_out: PathLike,
    title: str,
    density_tif: PathLike | None = None,
    class_edges: Sequence[float] = (0, 25),
    probability_tif: PathLike | None = None,
    inventory: PathLike | None = None,
    max_heads: int = 20000,
    density_probability_tif: PathLike | None = None,
    label_free_tif: PathLike | None = None,
) -> None:
    """Write the area's offline web map: the hillshade of the cube's DEM (base layer; read through
    GDAL's Zarr driver, which finds its CRS from the cube's CF attributes) and, each a layer with
    its own legend: the density classes (`density_tif`, the density or rapid-response map; on),
    their confidence (`density_probability_tif`, the map's class probabilities: the probability of
    the class shown, from chance to 1; off), the detection probability (`probability_tif`; on;
    its colour scale from 0 to the 99th percentile of the area's probabilities, a power scale, as
    the detection figure's), the inventory's landslide heads (`inventory`; points, or polygons'
    representative points; at most max_heads, a warning beyond; small dots of a fixed pixel size,
    off: on at first they hide the map), the label-free map's flagged pixels (`label_free_tif`,
    rule rapid_label_free's band flagged; on). A layer switcher."""
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
    legends: list[tuple[str, str, bool]] = []
    if density_tif is not None:
        classes, b = _to_web(density_tif, 1, Resampling.nearest)
        classes[classes == NODATA] = np.nan
        folium.raster_layers.ImageOverlay(
            _png(class_rgba(classes)),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name=DENSITY_LAYER,
            opacity=0.6,
            interactive=False,
        ).add_to(m)
        legends.append((DENSITY_LAYER, _class_legend(class_names(class_edges)), True))
    if density_probability_tif is not None:
        from matplotlib.colors import Normalize

        conf, b, n_classes = confidence(density_probability_tif)
        folium.raster_layers.ImageOverlay(
            _png(probability_rgba(conf, CONFIDENCE_CMAP, Normalize(1 / n_classes, 1.0, clip=True))),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name=CONFIDENCE_LAYER,
            opacity=0.75,
            interactive=False,
            show=False,
        ).add_to(m)
        legends.append(
            (
                CONFIDENCE_LAYER,
                "<i>density: probability of the class shown</i>"
                + _bar(CONFIDENCE_CMAP, [f"{1 / n_classes:.2f} (chance)", "1"]),
                False,
            )
        )
    if probability_tif is not None:
        prob, b = _to_web(probability_tif, 1, Resampling.bilinear)
        top, norm = probability_scale(prob)
        folium.raster_layers.ImageOverlay(
            _png(probability_rgba(prob, PROBABILITY_CMAP, norm)),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name=PROBABILITY_LAYER,
            opacity=0.75,
            interactive=False,
        ).add_to(m)
        legends.append(
            (
                PROBABILITY_LAYER,
                "<i>detection: landslide probability</i>"
                + _bar(PROBABILITY_CMAP, ["0", _fmt(top / 4), f"{_fmt(top)}+"])
                + '<div style="color:#666;font-size:11px">power scale; top: the 99th percentile</div>',
                True,
            )
        )
    if label_free_tif is not None:
        flagged, b = _to_web(label_free_tif, 2, Resampling.max)
        rgba = np.zeros((*flagged.shape, 4), dtype=np.uint8)
        rgba[flagged == 1] = (*_hex_rgb(LABEL_FREE_COLOUR), 255)
        folium.raster_layers.ImageOverlay(
            _png(rgba),
            bounds=[[b[1], b[0]], [b[3], b[2]]],
            name=LABEL_FREE_LAYER,
            opacity=0.8,
            interactive=False,
        ).add_to(m)
        legends.append(
            (
                LABEL_FREE_LAYER,
                f'<span style="background:{LABEL_FREE_COLOUR};display:inline-block;width:10px;height:10px"></span>'
                " change score at or above label_free.threshold (no trained model)",
                True,
            )
        )
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
            name=HEADS_LAYER,
            show=False,
            marker=folium.CircleMarker(
                radius=HEAD_RADIUS_PX, stroke=False, fill=True, fill_color=HEAD_COLOUR, fill_opacity=0.9
            ),
        ).add_to(m)
        legends.append(
            (
                HEADS_LAYER,
                f'<span style="background:{HEAD_COLOUR};border-radius:50%;display:inline-block;'
                f'width:{2 * HEAD_RADIUS_PX}px;height:{2 * HEAD_RADIUS_PX}px"></span>'
                f" landslide head (inventory, {n_heads})",
                False,
            )
        )
    folium.LayerControl(collapsed=False).add_to(m)
    m.get_root().html.add_child(Element(_legend(title, legends)))
    m.get_root().html.add_child(Element(f"<script>{_LEGEND_SCRIPT.replace('{map}', m.get_name())}</script>"))
    m.get_root().header.add_child(Element(f"<title>{html.escape(title)}</title>"))
    with atomic_path(html_out) as tmp:
        m.save(str(tmp))
    log.info(
        "web map %s: %s%s%s%s%s, %d heads (off at first), %.1f MB",
        html_out,
        "hillshade",
        ", density classes" if density_tif else "",
        ", density confidence" if density_probability_tif else "",
        ", detection probability" if probability_tif else "",
        ", label-free flagged" if label_free_tif else "",
        n_heads,
        Path(html_out).stat().st_size / 1e6,
    )
