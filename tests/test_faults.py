"""Fault injection on every hop of a download: a proxy on loopback, in front of a real STAC API
(`rustac serve`) and in front of an HTTP server with Range support that serves the COGs (so GDAL
reads them over HTTP, as from Planetary Computer's blob storage), answers 20 % of requests with
503 and resets 10 % of connections (seeded). The download rules, run by Snakemake, must give the
same arrays as a clean run. A server whose HEAD answers `Content-Length: 0` must not matter
either (GDAL is told not to send HEAD)."""

from __future__ import annotations

import copy
import hashlib
import http.client
import http.server
import json
import random
import re
import socket
import struct
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr
from conftest import snakemake, write_config
from test_stac_server import AREA, BBOX, _dem_item, _free_port, _s1_item, _serve, loop_config

from landslide_sar.grid import area_grid

DAYS = [
    "2017-08-23T22:36:37Z",
    "2017-09-04T22:36:37Z",
    "2017-09-16T22:36:38Z",
    "2017-09-22T22:36:09Z",
    "2017-10-04T22:36:38Z",
    "2017-10-10T22:36:38Z",
]


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Static files with `Range: bytes=a-b` (206 Partial Content), keep-alive; HEAD answers
    `Content-Length: 0` when the server's `broken_head` is set (as some proxies and stores do).
    When its `cut_body` is set, a ranged GET is answered 200 with the whole file's Content-Length,
    half of the file, and the connection closed (a transfer cut mid-body)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def do_HEAD(self) -> None:  # noqa: N802
        if self.server.broken_head:  # type: ignore[attr-defined]
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            return
        super().do_HEAD()

    def do_GET(self) -> None:  # noqa: N802
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        match = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if match and getattr(self.server, "cut_body", False):
            self.send_response(200)
            self.send_header("Content-Type", "image/tiff")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.close_connection = True
            return
        if match:
            start = int(match.group(1))
            end = min(int(match.group(2)) if match.group(2) else len(data) - 1, len(data) - 1)
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = data[start : end + 1]
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        else:
            body = data
            self.send_response(200)
        self.send_header("Content-Type", "image/tiff")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FaultProxy(http.server.BaseHTTPRequestHandler):
    """Forwards each request to the server's `upstream`; a seeded draw per request answers 503
    (`p_503`) or resets the connection (`p_reset`, RST after the request is read). Upstream URLs in
    bodies are rewritten to the proxy's, so that links (the STAC API's search link) lead back here."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass

    def _fault(self) -> str:
        srv = self.server
        with srv.lock:  # type: ignore[attr-defined]
            u = srv.rng.random()  # type: ignore[attr-defined]
            srv.counts["requests"] += 1  # type: ignore[attr-defined]
            kind = "503" if u < srv.p_503 else "reset" if u < srv.p_503 + srv.p_reset else "ok"  # type: ignore[attr-defined]
            srv.counts[kind] += 1  # type: ignore[attr-defined]
        return kind

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        kind = self._fault()
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        if kind == "503":
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        host, port = self.server.upstream  # type: ignore[attr-defined]
        conn = http.client.HTTPConnection(host, port, timeout=30)
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("host", "connection", "accept-encoding", "keep-alive")
        }
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        up, me = f"http://{host}:{port}".encode(), f"http://127.0.0.1:{self.server.server_port}".encode()
        if "json" in (resp.getheader("Content-Type") or ""):
            data = data.replace(up, me)
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = _handle  # noqa: N815

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass  # the connection was reset on purpose


class QuietServer(http.server.ThreadingHTTPServer):
    """A threading HTTP server that does not print the connection resets it sees (on purpose)."""

    daemon_threads = True

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _start(server: http.server.ThreadingHTTPServer) -> http.server.ThreadingHTTPServer:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _proxy(upstream_port: int, seed: int, p_503: float = 0.2, p_reset: float = 0.1) -> http.server.ThreadingHTTPServer:
    server = QuietServer(("127.0.0.1", 0), FaultProxy)
    server.upstream, server.rng, server.lock = ("127.0.0.1", upstream_port), random.Random(seed), threading.Lock()
    server.p_503, server.p_reset = p_503, p_reset
    server.counts = {"requests": 0, "503": 0, "reset": 0, "ok": 0}
    return _start(server)


def _files(folder: Path, broken_head: bool, cut_body: bool = False) -> http.server.ThreadingHTTPServer:
    def handler(*args, **kw):  # noqa: ANN002, ANN003, ANN202
        return RangeHandler(*args, directory=str(folder), **kw)

    server = QuietServer(("127.0.0.1", 0), handler)
    server.broken_head, server.cut_body = broken_head, cut_body
    return _start(server)


@pytest.fixture(scope="module")
def faulty_world(tmp_path_factory):  # noqa: ANN201
    """COGs and a DEM tile; a Range file server (and one with broken HEAD); `rustac serve` with
    the same items in three collections whose hrefs go straight to the file server, through a
    fault proxy, or to the broken-HEAD server; and a fault proxy in front of the STAC API."""
    import shutil

    folder = tmp_path_factory.mktemp("faulty_world")
    w, s, e, n = BBOX
    wide = area_grid((w - 0.003, s - 0.003, e + 0.003, n + 0.003), 10)
    base = [
        _s1_item(folder, f"S1A_{k}", "s1", when, "ascending", 135, wide, ("vv", "vh")) for k, when in enumerate(DAYS)
    ]
    dem = _dem_item(folder)
    files, badhead = _files(folder, broken_head=False), _files(folder, broken_head=True)
    cut = _files(folder, broken_head=False, cut_body=True)
    cog_proxy = _proxy(files.server_port, seed=4)  # 14-26 % 503s, 6-14 % resets over any first 35-90 draws
    hosts = {
        "direct": files.server_port,
        "faulty": cog_proxy.server_port,
        "badhead": badhead.server_port,
        "cut": cut.server_port,
    }
    features = []
    for name, port in hosts.items():
        for item in [*base, dem]:
            item = copy.deepcopy(item)
            is_dem = item["collection"] == "cop-dem-glo-30"
            item["collection"] = f"{'dem' if is_dem else 's1'}-{name}"
            item["id"] = f"{item['id']}-{name}"
            for asset in item["assets"].values():
                asset["href"] = f"http://127.0.0.1:{port}/{Path(asset['href']).name}"
            features.append(item)
    items_json = folder / "items.json"
    items_json.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    rustac = shutil.which("rustac", path=str(Path(sys.executable).parent)) or shutil.which("rustac")
    if rustac is None:
        pytest.skip("rustac (PyPI package rustac) is not installed")
    stac_port = _free_port()
    stac = _serve(
        [rustac, "serve", "--create-collections", "--addr", f"127.0.0.1:{stac_port}", str(items_json)],
        f"http://127.0.0.1:{stac_port}/",
        folder / "rustac.log",
    )
    next(stac)
    stac_proxy = _proxy(stac_port, seed=1)  # its first four draws: a 503 and a reset
    try:
        yield {
            "stac": f"http://127.0.0.1:{stac_port}",
            "stac_faulty": f"http://127.0.0.1:{stac_proxy.server_port}",
            "http": f"http://127.0.0.1:{files.server_port}",
            "files": files,
            "badhead": badhead,
            "cut": cut,
            "cog_proxy": cog_proxy,
            "stac_proxy": stac_proxy,
            "folder": folder,
        }
    finally:
        next(stac, None)
        for server in (files, badhead, cut, cog_proxy, stac_proxy):
            server.shutdown()
            server.server_close()


def _download(tmp_path: Path, world: dict, endpoint: str, hosts: str, retries: int) -> dict[str, str]:
    """Run download_sentinel1 and download_dem through Snakemake; the hash of each array."""
    world = {**world, "stac": endpoint}
    cfg = loop_config(world, collection=f"s1-{hosts}")
    area = cfg["areas"][AREA]
    area["dem"]["collection"] = f"dem-{hosts}"
    area["dem"]["asset"] = "data"
    area["download"] = {"http_retries": retries, "backoff_s": 0.05, "timeout_s": 10, "job_retries": 0}
    config = write_config(tmp_path / "config.yaml", cfg)
    snakemake(tmp_path, config, "--cores", "2", f"resources/{AREA}/sentinel1.zarr", f"resources/{AREA}/dem.tif")
    s1 = xr.open_zarr(tmp_path / f"resources/{AREA}/sentinel1.zarr")
    out = {v: hashlib.sha256(np.ascontiguousarray(s1[v].values).tobytes()).hexdigest() for v in ("vv", "vh")}
    with rasterio.open(tmp_path / f"resources/{AREA}/dem.tif") as src:
        out["dem"] = hashlib.sha256(src.read().tobytes()).hexdigest()
    out["finite"] = float(np.isfinite(s1["vv"].values).mean())
    return out


@pytest.fixture(scope="module")
def clean(tmp_path_factory, faulty_world) -> dict[str, str]:
    return _download(tmp_path_factory.mktemp("clean"), faulty_world, faulty_world["stac"], "direct", retries=0)


def test_downloads_survive_503s_and_resets_on_every_hop(tmp_path, faulty_world, clean) -> None:
    assert clean["finite"] > 0.99
    for proxy in ("stac_proxy", "cog_proxy"):
        faulty_world[proxy].counts.update(requests=0, ok=0, reset=0, **{"503": 0})
    faulty = _download(tmp_path, faulty_world, faulty_world["stac_faulty"], "faulty", retries=10)
    assert faulty == clean
    stac, cogs = faulty_world["stac_proxy"].counts, faulty_world["cog_proxy"].counts
    print(f"fault injection: STAC hop {stac}, COG hop {cogs}")
    for counts in (stac, cogs):  # the faults really happened, at about the rates asked for
        assert counts["503"] >= 1 and counts["reset"] >= 1, counts
    assert 0.1 < cogs["503"] / cogs["requests"] < 0.3 and 0.02 < cogs["reset"] / cogs["requests"] < 0.2, cogs


def test_a_server_with_broken_head_reads_the_same(tmp_path, faulty_world, clean) -> None:
    assert _download(tmp_path, faulty_world, faulty_world["stac"], "badhead", retries=1) == clean


def test_broken_head_is_what_gdal_would_trip_on(faulty_world) -> None:
    """The control: with HEAD requests (GDAL's default) the broken-HEAD server's COG is unreadable;
    without them (what the pipeline sets) it reads."""
    url = f"/vsicurl/http://127.0.0.1:{faulty_world['badhead'].server_port}/S1A_0_{{}}.tif"  # GDAL caches a URL's size
    with rasterio.Env(CPL_VSIL_CURL_USE_HEAD="YES", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with pytest.raises(rasterio.errors.RasterioIOError, match="not recognized as being in a supported file format"):
            rasterio.open(url.format("vv")).close()
    with rasterio.Env(CPL_VSIL_CURL_USE_HEAD="NO", GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with rasterio.open(url.format("vh")) as src:
            assert src.read(1).shape == (src.height, src.width)


def test_unreachable_cog_server_is_a_network_error(tmp_path, faulty_world) -> None:
    """A COG host that refuses connections: one line that says network error, not 'not a readable COG'."""
    stopped = faulty_world["folder"] / "stopped.json"
    items = json.loads((faulty_world["folder"] / "items.json").read_text())
    dead = _free_port()
    from landslide_sar.download import Network
    from landslide_sar.errors import NetworkError
    from landslide_sar.sentinel1 import download_sentinel1

    feats = [f for f in items["features"] if f["collection"] == "s1-direct"]
    for f in feats:
        for a in f["assets"].values():
            a["href"] = re.sub(r"127\.0\.0\.1:\d+", f"127.0.0.1:{dead}", a["href"])
    stopped.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    area = loop_config(faulty_world)["areas"][AREA]
    area["sentinel1"]["source"] = "synthetic"  # items from the file, assets over HTTP
    with pytest.raises(NetworkError) as err:
        download_sentinel1(area, tmp_path / "s1.zarr", stopped, network=Network(1, 0.05, 5))
    line = str(err.value)
    assert f"network error reading http://127.0.0.1:{dead}/" in line and "not a readable COG" not in line, line
    assert "\n" not in line and not (tmp_path / "s1.zarr").exists()


def test_cog_cut_mid_body_is_a_network_error_retried_with_each_attempt_logged(tmp_path, faulty_world) -> None:
    """A COG server that answers 200 with half the body and closes: a network error naming the
    file with GDAL's detail (libtiff's short read), not "not a readable COG"; the job is retried
    (job_retries: 1), and the log keeps both attempts."""
    cfg = loop_config({**faulty_world}, collection="s1-cut")
    cfg["areas"][AREA]["download"] = {"http_retries": 1, "backoff_s": 0.05, "timeout_s": 10, "job_retries": 1}
    config = write_config(tmp_path / "config.yaml", cfg)
    proc = snakemake(tmp_path, config, "--cores", "1", f"resources/{AREA}/sentinel1.zarr", check=False)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 2, proc.stderr[-3000:]  # two attempts: a network error is retried
    port = faulty_world["cut"].server_port
    for line in errors:
        assert f"network error reading http://127.0.0.1:{port}/S1A_" in line, line
        assert "the transfer ended short" in line and "not a readable COG" not in line, line
        assert re.search(r"got \d+ bytes, expected \d+", line), line  # GDAL's detail kept
    assert "not retried" not in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / f"resources/{AREA}/sentinel1.zarr").exists()
    log = (tmp_path / f"logs/{AREA}/download_sentinel1.log").read_text()
    headers = [line.split(" (")[0] for line in log.splitlines() if line.startswith("--- attempt ")]
    assert headers == ["--- attempt 1", "--- attempt 2"], log
    assert len(re.findall(r"ERROR .*the transfer ended short .*got \d+ bytes, expected \d+", log)) == 2, log


def test_a_corrupt_cog_read_over_http_is_still_bad_input(tmp_path, faulty_world) -> None:
    """The control: a COG whose transfer is complete but whose bytes are not a TIFF is the file's
    fault (InputError, not retried), over HTTP as on disk."""
    from landslide_sar.download import Network
    from landslide_sar.errors import InputError
    from landslide_sar.sentinel1 import download_sentinel1

    folder = faulty_world["folder"]
    items = json.loads((folder / "items.json").read_text())
    feats = [copy.deepcopy(f) for f in items["features"] if f["collection"] == "s1-direct"]
    good = folder / "S1A_4_vv.tif"
    (folder / "garbled_4_vv.tif").write_bytes(bytes(len(good.read_bytes())))  # full length, all zeros
    feats[4]["assets"]["vv"]["href"] = feats[4]["assets"]["vv"]["href"].replace("S1A_4_vv", "garbled_4_vv")
    path = tmp_path / "garbled.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    area = loop_config(faulty_world)["areas"][AREA]
    area["sentinel1"]["source"] = "synthetic"  # items from the file, assets over HTTP
    with pytest.raises(InputError) as err:
        download_sentinel1(area, tmp_path / "s1.zarr", path, network=Network(1, 0.05, 5))
    line = str(err.value)
    assert f"{faulty_world['http']}/garbled_4_vv.tif is not a readable COG" in line and "\n" not in line, line
    assert not (tmp_path / "s1.zarr").exists()
