"""A real headless Chromium (Debian's chromium + chromium-driver, through selenium) for the tests
of the HTML outputs: open a local page offline, collect console messages, take a screenshot."""

from __future__ import annotations

import io
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium_paths() -> tuple[str, str]:
    """chromium and chromedriver, or a skip (a failure under CI=true, where .ci/run installs them)."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium / chromedriver missing (tools/install_test_tools.sh installs them)")
        pytest.skip("chromium / chromedriver not installed (bash tools/install_test_tools.sh)")
    return chromium, driver


def open_page(
    path: Path, width: int = 1000, height: int = 800, settle_s: float = 1.0, click: tuple[str, ...] = ()
) -> tuple[list[dict], np.ndarray, dict]:
    """Open `path` in a fresh headless Chromium with no network (a proxy on a closed port: any
    request to the outside fails, and shows as a console error). Returns the console messages,
    the screenshot as an (h, w, 3) uint8 array and what the page shows (image layers, circle
    markers, legend text, title, body text), after clicking the elements with the texts `click`."""
    from PIL import Image
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver_path = chromium_paths()
    profile = tempfile.mkdtemp(prefix="chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        *CHROMIUM_FLAGS,
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(driver_path), options=opts)
    try:
        driver.get(Path(path).resolve().as_uri())
        time.sleep(settle_s)
        for text in click:
            from selenium.webdriver.common.by import By

            driver.find_element(By.XPATH, f"//*[normalize-space(text())='{text}']").click()
            time.sleep(settle_s)
        results = {
            "layers": driver.execute_script("return document.querySelectorAll('.leaflet-image-layer').length"),
            "markers": driver.execute_script(
                "if (typeof L === 'undefined') return null;"
                "var m = Object.values(window).find(v => v instanceof L.Map); var n = 0;"
                "m.eachLayer(l => { if (l instanceof L.CircleMarker) n++; }); return n;"
            ),
            "text": driver.execute_script("return document.body.innerText"),
            "legend": driver.execute_script("var e = document.getElementById('legend'); return e ? e.innerText : null"),
            "title": driver.title,
        }
        logs = driver.get_log("browser")
        shot = np.asarray(Image.open(io.BytesIO(driver.get_screenshot_as_png())).convert("RGB"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    return logs, shot, results


def has_colour(shot: np.ndarray, rgb: tuple[int, int, int], tol: int = 40, min_pixels: int = 50) -> bool:
    """Whether at least min_pixels of the screenshot are within tol of colour rgb (per channel)."""
    return int((np.abs(shot.astype(int) - np.array(rgb)).max(axis=-1) <= tol).sum()) >= min_pixels
