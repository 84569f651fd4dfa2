#!/usr/bin/env bash
# Build (once) a small virtualenv with the software stack of the published datacubes' reader
# (landslide-sar-unet, which reads the Zenodo 7248056 cubes): xarray 2022.12, zarr 2, numpy 1.26,
# pandas 1.5, dask 2023.1, and no torch (the reader's data path needs none). tests/ runs
# tools/published_reader.py in it to read the pipeline's cubes as that code does.
# Idempotent: rebuilt only when the pins below change. Needs the package registry (PyPI) and a
# Python 3.11 (zarr 2.18.7 needs >= 3.11; pandas 1.5 has no wheels past 3.11).
# Usage: bash tools/published_reader_env.sh [DIR]   (DIR: default ~/.cache/landslide-sar/published-reader)
# Prints the venv's python on its last line.
set -euo pipefail
DIR=${1:-${LANDSLIDE_SAR_CACHE:-$HOME/.cache/landslide-sar}/published-reader}
PYTHON=${PYTHON:-$(command -v python3.11 || command -v python3)}
PINS=(
  "xarray==2022.12.0"
  "zarr==2.18.7"
  "numpy==1.26.4"
  "pandas==1.5.3"
  "dask==2023.1.1"
)
want=$(printf '%s\n' "${PINS[@]}" | sha256sum | cut -d' ' -f1)
stamp="$DIR/.pins.sha256"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$DIR"
  mkdir -p "$(dirname "$DIR")"
  "$PYTHON" -m venv "$DIR"
  # wheels only: nothing compiles, so a missing wheel fails fast rather than building for minutes
  "$DIR/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: "${PINS[@]}"
  echo "$want" > "$stamp"
fi
"$DIR/bin/python" -c 'import xarray, zarr, numpy, pandas; print("published reader env: xarray", xarray.__version__, "zarr", zarr.__version__, "numpy", numpy.__version__, "pandas", pandas.__version__)' >&2
echo "$DIR/bin/python"
