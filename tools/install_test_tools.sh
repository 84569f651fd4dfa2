#!/usr/bin/env bash
# Install the Debian tools the tests use beyond Python: gdalinfo (gdal-bin: reads the maps'
# category names and colour tables as QGIS does) and a headless Chromium with its driver (opens
# the web maps and the HTML report). Idempotent: does nothing when they are already there.
# Needs root (CI runs as root). Usage: bash tools/install_test_tools.sh
set -euo pipefail
need=()
command -v gdalinfo >/dev/null 2>&1 || need+=(gdal-bin)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
if [ ${#need[@]} -eq 0 ]; then
  echo "test tools: already installed (gdalinfo, chromium, chromedriver)"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "test tools: missing ${need[*]}; run as root to install (apt-get install ${need[*]})" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${need[@]}" >/dev/null
echo "test tools: installed ${need[*]}"
