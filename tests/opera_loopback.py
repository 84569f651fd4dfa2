"""The real OPERA RTC-S1 crops of ../shared/realdata/ served on loopback as NASA's CMR-STAC lists
them: one item per burst and date (collection `OPERA_L2_RTC-S1_V1`, asset keys `0_VV`/`0_VH`, item
properties only `datetime`, `start_datetime`, `end_datetime`), the files behind a Range-capable
file server. Shared by tests/test_opera.py (which adds token-checking servers) and
tools/false_alarms_real.py (plain servers: the token is optional)."""

from __future__ import annotations

import contextlib
import http.server
import json
import multiprocessing
import shutil
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import rasterio
from rasterio.warp import transform_bounds
from test_faults import QuietServer, RangeHandler
from test_stac_server import _free_port, _serve

COLLECTION = "OPERA_L2_RTC-S1_V1"


def opera_item(tif_vv: Path, href_of: Callable[[Path], str]) -> dict:
    """One item as CMR-STAC lists an OPERA RTC-S1 product: id = the file name without the
    polarisation, assets named from the file names, the footprint, the three times, nothing else."""
    item_id = tif_vv.name.removesuffix("_VV.tif")
    acquired = item_id.split("_")[4]
    when = datetime.strptime(acquired, "%Y%m%dT%H%M%SZ").strftime("%Y-%m-%dT%H:%M:%SZ")
    with rasterio.open(tif_vv) as src:
        w, s, e, n = transform_bounds(src.crs, "EPSG:4326", *src.bounds)
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "id": item_id,
        "collection": COLLECTION,
        "bbox": [w, s, e, n],
        "geometry": {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
        "properties": {"datetime": when, "start_datetime": when, "end_datetime": when},
        "assets": {
            f"0_{pol}": {
                "href": href_of(tif_vv.with_name(tif_vv.name.replace("_VV.tif", f"_{pol}.tif"))),
                "type": "image/tiff; application=geotiff",
                "title": f"RTC-S1 {pol} backscatter",
                "roles": ["data"],
            }
            for pol in ("VV", "VH")
        },
        "links": [],
    }


def serve_in_child(server: http.server.ThreadingHTTPServer) -> multiprocessing.Process:
    """Serve from a forked process: GDAL holds the GIL while it reads a file header
    (rasterio.open), so a server thread of the reading process would never answer."""
    proc = multiprocessing.get_context("fork").Process(target=server.serve_forever, daemon=True)
    proc.start()
    return proc


def rustac_path() -> str | None:
    """`rustac` (PyPI package rustac) beside this Python, else on PATH; None when absent."""
    return shutil.which("rustac", path=str(Path(sys.executable).parent)) or shutil.which("rustac")


@contextlib.contextmanager
def serve_opera_stack(stack: Path, folder: Path) -> Iterator[str]:
    """Every `<date>/*_VV.tif` of `stack` (with its `_VH.tif`) as items of `rustac serve`, the files
    behind a Range file server (a forked child); yields the STAC API's URL. No token is checked."""
    rustac = rustac_path()
    if rustac is None:
        raise RuntimeError("rustac (PyPI package rustac) is not installed")
    folder.mkdir(parents=True, exist_ok=True)
    files = QuietServer(("127.0.0.1", 0), lambda *a, **k: RangeHandler(*a, directory=str(stack), **k))
    files.broken_head = False
    base = f"http://127.0.0.1:{files.server_port}"
    features = [opera_item(vv, lambda p: f"{base}/{p.relative_to(stack)}") for vv in sorted(stack.glob("*/*_VV.tif"))]
    items_json = folder / "items.json"
    items_json.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    stac = _serve(
        [rustac, "serve", "--create-collections", "--addr", f"127.0.0.1:{port}", str(items_json)],
        f"{url}/",
        folder / "rustac.log",
    )
    next(stac)
    child = serve_in_child(files)
    try:
        yield url
    finally:
        next(stac, None)
        child.terminate()
        child.join(10)
        files.server_close()
