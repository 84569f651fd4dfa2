#!/usr/bin/env bash
# Install the Debian packages of a one-node SLURM (slurmctld, slurmd, the client commands, munge)
# when they are missing. Idempotent: does nothing when the binaries are already there.
# Needs root (CI runs as root). Usage: bash tools/slurm/install.sh
set -euo pipefail
version() { dpkg-query -W -f='${Version}' slurmctld 2>/dev/null || echo "on PATH"; }
need=()
for bin in slurmctld slurmd sbatch squeue scontrol munged mungekey; do
  command -v "$bin" >/dev/null 2>&1 || need+=("$bin")
done
if [ ${#need[@]} -eq 0 ]; then
  echo "slurm: already installed ($(version))"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "slurm: missing ${need[*]}; run as root to install (apt-get install slurmctld slurmd slurm-client munge)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null
echo "slurm: installed ($(version))"
