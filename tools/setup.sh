#!/usr/bin/env bash
# Create or update .venv/ in the repository root from requirements.txt (idempotent, offline
# apart from the package registry). Usage: bash tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.requirements.sha256
want=$(sha256sum requirements.txt | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  # torch first, alone, so that nothing resolves it to another (CUDA) build.
  .venv/bin/python -m pip install --quiet "$(grep -E '^torch==' requirements.txt)"
  .venv/bin/python -m pip install --quiet -r requirements.txt
  .venv/bin/python -m pip install --quiet --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "setup: .venv ready ($(.venv/bin/python -c 'import snakemake, torch; print("snakemake", snakemake.__version__, "torch", torch.__version__)'))"
