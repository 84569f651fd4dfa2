#!/usr/bin/env bash
# How far the density nets' results move with the floating-point path (not a test): in copies of
# a finished default run, the fused 3-revisit experiment (4 splits x 2 halves) is retrained from
# the same chips (1) as it was, (2) with 2 threads per job instead of 1, (3) with oneDNN off
# (torch.backends.mkldnn), (4) with oneDNN and MKL limited to SSE4.1 (as an older CPU would run),
# then rescored; tools/float_paths_compare.py prints the differences.
# Usage: bash tools/float_paths.sh RUN_DIR OUT_DIR [variant ...]  (RUN_DIR: a checkout with a finished
# run; variants: same threads2 nodnn sse41, all by default)
set -u
RUN=$(realpath "$1"); OUT=$(realpath -m "$2"); shift 2
VARIANTS=("$@"); [ $# -eq 0 ] && VARIANTS=(same threads2 nodnn sse41)
NODNN=$OUT/sitecustomize_nodnn  # not a variant folder: each variant folder is replaced below
mkdir -p "$NODNN"
SNAKEMAKE=${SNAKEMAKE:-$RUN/.venv/bin/snakemake}
printf 'import torch\n\ntorch.backends.mkldnn.enabled = False\n' > "$NODNN/sitecustomize.py"
T=results/embedded/density/fused_r3/metrics.csv
for v in "${VARIANTS[@]}"; do
  d=$OUT/$v
  rm -rf "$d"; cp -a "$RUN" "$d"; cd "$d" || exit 1
  extra=(); envs=(PYTHONPATH="$d")
  case $v in
    threads2) extra=(--set-threads train_density=2);;
    nodnn) envs=(PYTHONPATH="$d:$NODNN");;
    sse41) envs=(PYTHONPATH="$d" ONEDNN_MAX_CPU_ISA=SSE41 MKL_ENABLE_INSTRUCTIONS=SSE4_2);;
  esac
  start=$(date +%s)
  env "${envs[@]}" "$SNAKEMAKE" --cores 2 --forcerun train_density --allowed-rules train_density evaluate_density \
    "${extra[@]}" -- $T > "$OUT/$v.log" 2>&1
  echo "$v rc=$? $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
done
