"""Network helpers shared by the download rules: HTTP retries, secrets kept out of messages, a
file downloaded once into resources/ (atomically), and an archive unpacked.

Every failure a user can act on is raised as InputError with one line naming the URL or file;
query strings (Planetary Computer SAS tokens) and the subscription key never appear in it.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
import zipfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from landslide_sar.errors import InputError, NetworkError

from .io import atomic_path

log = logging.getLogger(__name__)

PC_KEY_ENV = "PC_SDK_SUBSCRIPTION_KEY"
#: environment variables whose values are secrets: never in a log or a message
SECRET_ENVS = (PC_KEY_ENV, "EARTHDATA_TOKEN")


@dataclass(frozen=True)
class Network:
    """How downloads behave on a flaky network (the area's `download` config block)."""

    http_retries: int  # retries of each HTTP request (STAC search, COG reads, files)
    backoff_s: float  # first wait between retries (s); doubles each retry
    timeout_s: float  # connect/read timeout of one request (s)
    #: sent as `Authorization: Bearer` to the STAC API and the file hosts (Earthdata Login); never shown
    bearer_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_config(cls, area: dict) -> Network:
        """From the area's `download` block (defaults filled from the schema by validate_config)."""
        return cls.from_settings(area["download"])

    @classmethod
    def from_settings(cls, d: dict) -> Network:
        """From a `download` block: http_retries, backoff_s, timeout_s."""
        return cls(
            http_retries=int(d["http_retries"]), backoff_s=float(d["backoff_s"]), timeout_s=float(d["timeout_s"])
        )

    def with_token_from(self, env: str | None) -> Network:
        """This network with the bearer token held by environment variable `env` (when set)."""
        token = os.environ.get(env, "").strip() if env else ""
        return replace(self, bearer_token=token or None)

    def headers(self) -> dict[str, str]:
        """HTTP headers of every request: the bearer token, when there is one."""
        return {"Authorization": f"Bearer {self.bearer_token}"} if self.bearer_token else {}

    def urllib3_retry(self):  # noqa: ANN201 - urllib3.Retry
        from urllib3 import Retry

        return Retry(
            total=self.http_retries,
            backoff_factor=self.backoff_s,
            status_forcelist=[429, 500, 502, 503, 504],
            allowed_methods=None,  # POST searches are retried too (they are read-only)
            raise_on_status=False,
        )

    def gdal_env(self) -> dict[str, str]:
        """GDAL's own HTTP settings for COG reads (rasterio/stackstac): retries of 429/5xx answers
        and of dropped connections, timeouts, and no HEAD requests. Some proxies and object
        stores answer HEAD with `Content-Length: 0`; GDAL would then take every COG for an empty
        file. With CPL_VSIL_CURL_USE_HEAD=NO it learns the size from a ranged GET instead."""
        env = {
            "GDAL_HTTP_MAX_RETRY": str(self.http_retries),
            "GDAL_HTTP_RETRY_DELAY": str(max(self.backoff_s, 0.1)),
            "GDAL_HTTP_TIMEOUT": str(max(1, int(round(self.timeout_s)))),
            "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, int(round(self.timeout_s)))),
            "CPL_VSIL_CURL_USE_HEAD": "NO",
        }
        if self.bearer_token:
            # curl drops an Authorization header on a redirect to another host (signed S3 URLs)
            env["GDAL_HTTP_HEADERS"] = f"Authorization: Bearer {self.bearer_token}"
        return env

    def session(self, retry: bool = True):  # noqa: ANN201 - requests.Session
        """A requests session that retries connection failures and 429/5xx answers (none when
        not `retry`: the caller counts its own attempts)."""
        import requests
        from requests.adapters import HTTPAdapter

        session = requests.Session()
        session.headers.update(self.headers())
        adapter = HTTPAdapter(max_retries=self.urllib3_retry() if retry else 0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def budget_s(self) -> float:
        """The longest one request may take before it is given up: every try's timeout plus the
        backoff waits between them (urllib3: backoff_s x 2^(k-1) after the k-th retry, none
        before the first retry)."""
        waits = sum(self.wait_s(k) for k in range(1, self.http_retries + 1))
        return (self.http_retries + 1) * self.timeout_s + waits

    def wait_s(self, retry: int) -> float:
        """The wait before the `retry`-th retry (1, 2, …), as urllib3 waits: none before the first."""
        return self.backoff_s * 2 ** (retry - 1) if retry >= 2 else 0.0


def tries(attempts: int) -> str:
    """How often a request was sent, as a line says it: '1 attempt', '3 attempts (2 retries)'."""
    if attempts <= 1:
        return "1 attempt"
    return f"{attempts} attempts ({attempts - 1} {'retry' if attempts == 2 else 'retries'})"


def tries_of(err: BaseException | None, network: Network) -> str:
    """`tries` of a request that urllib3 retried (`Network.urllib3_retry`) and that failed with
    `err` (None: it answered 429/5xx after the retries). urllib3 gives up with MaxRetryError, or
    returns the last 429/5xx answer, only when all retries are spent; any other failure (a body cut
    short, a timeout while reading it) ended an attempt that had been answered: it is counted as
    one (whether connection failures were retried before it is not known here)."""
    import requests
    import urllib3.exceptions

    exhausted, seen, depth = err is None, err, 0
    while seen is not None and not exhausted and depth < 10:
        exhausted = isinstance(seen, (urllib3.exceptions.MaxRetryError, requests.exceptions.RetryError))
        exhausted = exhausted or getattr(seen, "status_code", None) in (429, 500, 502, 503, 504)
        seen, depth = seen.__cause__ or seen.__context__, depth + 1
    return tries(network.http_retries + 1 if exhausted else 1)


def is_network_failure(err: BaseException) -> bool:
    """Whether an exception from requests/urllib3/pystac-client is the network's or the server's
    fault (unreachable, reset, timed out, 429/5xx after the retries), not the request's."""
    import requests
    import urllib3.exceptions

    network = (
        requests.ConnectionError,
        requests.Timeout,
        requests.exceptions.RetryError,
        requests.exceptions.ChunkedEncodingError,
        urllib3.exceptions.MaxRetryError,
        urllib3.exceptions.ProtocolError,
        urllib3.exceptions.TimeoutError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(err, network):
        return True
    status = getattr(err, "status_code", None) or getattr(getattr(err, "response", None), "status_code", None)
    return status is not None and (int(status) == 429 or int(status) >= 500)


_QUERY = re.compile(r"(https?://[^\s'\"?]+)\?[^\s'\")]*")


_BEARER = re.compile(r"Bearer\s+[^\s'\",]+")


def redact(text: object) -> str:
    """`text` on one line, with URL query strings (signed-URL tokens), bearer tokens, the Planetary
    Computer subscription key and the Earthdata token removed."""
    out = " ".join(str(text).split())
    out = _QUERY.sub(r"\1?<redacted>", out)
    out = _BEARER.sub("Bearer <redacted>", out)
    for env in SECRET_ENVS:
        key = os.environ.get(env, "").strip()
        if key:
            out = out.replace(key, "<redacted>")
    return out


def download_url(url: str, out_path: str | Path, network: Network, what: str = "download") -> Path:
    """Fetch `url` into `out_path` (streamed to a temporary sibling, moved into place only when
    complete). Connection failures and 429/5xx answers are retried with exponential backoff."""
    import requests

    out_path = Path(out_path)
    if url.startswith("file://") or "://" not in url:
        from urllib.parse import unquote, urlparse

        src = Path(unquote(urlparse(url).path)) if url.startswith("file://") else Path(url)
        if not src.exists():
            raise InputError(f"{what}: {src} does not exist")
        with atomic_path(out_path) as tmp:
            shutil.copyfile(src, tmp)
        return out_path
    session = network.session(retry=False)  # attempts counted here: a body cut short is retried too
    start = time.monotonic()
    attempt = 0
    while True:
        attempt += 1
        try:
            with session.get(url, stream=True, timeout=network.timeout_s) as response:
                if response.status_code == 429 or response.status_code >= 500:
                    failure = f"answered HTTP {response.status_code} ({response.reason}) after {{tries}}"
                elif response.status_code >= 400:
                    raise InputError(f"{what}: {redact(url)} answered HTTP {response.status_code} ({response.reason})")
                else:
                    size = 0
                    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
                        for block in response.iter_content(chunk_size=1 << 20):
                            f.write(block)
                            size += len(block)
                    break
        except requests.RequestException as err:
            failure = f"could not be downloaded after {{tries}}: {type(err).__name__}: {redact(err)}"
        if attempt > network.http_retries:
            raise NetworkError(f"{what}: network error: {redact(url)} {failure.format(tries=tries(attempt))}")
        log.warning("%s: %s %s; retrying", what, redact(url), failure.format(tries=tries(attempt)))
        time.sleep(network.wait_s(attempt))
    log.info("downloaded %s → %s: %.1f MB in %.1f s", redact(url), out_path, size / 1e6, time.monotonic() - start)
    return out_path


def unpack_zarr(archive: str | Path, out_dir: str | Path, what: str = "datacube") -> Path:
    """Extract the (first, shallowest) zarr store of a zip archive to `out_dir` (atomically)."""
    archive, out_dir = Path(archive), Path(out_dir)
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as err:
        raise InputError(f"{what}: {archive} is not a readable zip archive ({err})") from None
    with zf:
        root = zarr_root_in(zf.namelist())
        if root is None:
            raise InputError(f"{what}: {archive} holds no zarr store (no .zgroup, .zmetadata or zarr.json)")
        prefix = f"{root}/" if root else ""
        with atomic_path(out_dir) as tmp:
            tmp.mkdir()
            for member in zf.infolist():
                if member.is_dir() or not member.filename.startswith(prefix):
                    continue
                rel = Path(member.filename[len(prefix) :])
                if rel.is_absolute() or ".." in rel.parts:
                    raise InputError(f"{what}: {archive} has an unsafe member path {member.filename!r}")
                target = tmp / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(member) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
    log.info("unpacked %s (store %r) → %s", archive, root or "/", out_dir)
    return out_dir


ZARR_MARKERS = (".zgroup", ".zmetadata", "zarr.json")


def zarr_root_in(names: list[str]) -> str | None:
    """The shallowest folder (\"\" for the top) among archive member names that is a zarr group."""
    roots = []
    for name in names:
        parts = name.rstrip("/").split("/")
        if parts[-1] in ZARR_MARKERS:
            roots.append("/".join(parts[:-1]))
    if not roots:
        return None
    return min(roots, key=lambda r: (r.count("/") if r else -1, r))


def download_datacube(url: str, out_zarr: str | Path, network: Network, what: str = "datacube") -> None:
    """A published datacube (zip of a zarr store) downloaded next to `out_zarr`, unpacked into it,
    the archive removed whether or not the unpacking succeeded."""
    archive = Path(out_zarr).with_name(Path(out_zarr).name + ".zip")
    try:
        download_url(url, archive, network, what=what)
        unpack_zarr(archive, out_zarr, what=what)
    finally:
        archive.unlink(missing_ok=True)
