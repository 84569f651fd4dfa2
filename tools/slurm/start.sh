#!/usr/bin/env bash
# Start a one-node SLURM cluster on loopback in DIR: a private munged, slurmctld and slurmd, with
# state, spool, logs and the munge key all under DIR, and free TCP ports, so that several can run
# side by side on one machine and nothing outside DIR is touched. No systemd, no slurmdbd.
#
#   bash tools/slurm/start.sh DIR     # returns once the node is idle
#   source DIR/env                    # SLURM_CONF and PATH for sbatch/squeue/snakemake --profile ...
#   bash tools/slurm/stop.sh DIR      # cancels jobs and stops the three daemons by their pids
#
# DIR/bin holds wrappers of the client commands (srun, sbatch, squeue, ...) that set SLURM_CONF
# themselves: snakemake-executor-plugin-slurm-jobstep removes every SLURM_* variable (SLURM_CONF
# included) before it calls `srun` inside a job, so a cluster whose slurm.conf is not at the
# compiled-in /etc/slurm/slurm.conf needs them on PATH (PATH reaches the job: sbatch --export=ALL).
#
# The node line is `slurmd -C`'s; when the machine has less memory than MIN_MEM_MB (default
# 8192, the largest mem_mb the tiny test run asks for) the node is declared with MIN_MEM_MB and
# slurmd told to trust the config (memory is not enforced here: no cgroups).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: start.sh DIR}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
min_mem=${MIN_MEM_MB:-8192}
for bin in munged mungekey slurmctld slurmd sinfo scontrol; do
  command -v "$bin" >/dev/null || { echo "start.sh: $bin not found (bash tools/slurm/install.sh)" >&2; exit 1; }
done
if [ -e "$dir/pids" ] && [ -n "$(ls -A "$dir/pids" 2>/dev/null)" ]; then
  echo "start.sh: $dir already holds a cluster (bash tools/slurm/stop.sh $dir first)" >&2
  exit 1
fi
mkdir -p "$dir"/{munge,state,spool,run,log,pids,bin}
chmod 711 "$dir" "$dir/munge"   # munged insists: its socket's folders searchable by all, not writable

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ctld_port=${SLURMCTLD_PORT:-$(free_port)}
slurmd_port=${SLURMD_PORT:-$(free_port)}
while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done

host=$(hostname -s)
node_line=$(slurmd -C | head -1)                      # NodeName=<host> CPUs=... RealMemory=...
real_mem=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$node_line")
slurmd_params=""
if [ "${real_mem:-0}" -lt "$min_mem" ]; then
  node_line=$(sed "s/RealMemory=[0-9]*/RealMemory=$min_mem/" <<<"$node_line")
  slurmd_params="SlurmdParameters=config_overrides"
fi
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@CTLD_PORT@|$ctld_port|g" \
    -e "s|@SLURMD_PORT@|$slurmd_port|g" -e "s|@NODE_LINE@|$node_line|" -e "s|@USER@|$(id -un)|g" \
    -e "s|@SLURMD_PARAMETERS@|$slurmd_params|" "$here/slurm.conf.in" > "$dir/slurm.conf"
export SLURM_CONF="$dir/slurm.conf"
mkdir -p "$dir/bin"
for cmd in srun sbatch squeue scontrol scancel sinfo sacct salloc; do
  real=$(command -v "$cmd" || true)
  [ -n "$real" ] || continue
  printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$real" > "$dir/bin/$cmd"
  chmod +x "$dir/bin/$cmd"
done
printf 'export SLURM_CONF=%s\nexport PATH=%s/bin:$PATH\n' "$SLURM_CONF" "$dir" > "$dir/env"

# munge: a private key owned by root (munged refuses /etc/munge/munge.key owned by munge as root)
[ -f "$dir/munge/munge.key" ] || mungekey --create --keyfile="$dir/munge/munge.key" --bits=1024
chmod 600 "$dir/munge/munge.key"
munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
  --pid-file="$dir/munge/munged.pid" --seed-file="$dir/munge/munged.seed" \
  --log-file="$dir/log/munged.log"
cp "$dir/munge/munged.pid" "$dir/pids/munged"

# slurmctld and slurmd in the foreground (-D), in the background of this shell: $! is their pid.
nohup slurmctld -D -i -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
echo $! > "$dir/pids/slurmctld"
nohup slurmd -D -N "$host" -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
echo $! > "$dir/pids/slurmd"

for _ in $(seq 1 120); do
  state=$(sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
  case "$state" in
    idle*|mixed*|allocated*) echo "slurm: one-node cluster up in $dir (source $dir/env)"; exit 0 ;;
  esac
  for name in slurmctld slurmd; do
    if ! kill -0 "$(cat "$dir/pids/$name")" 2>/dev/null; then
      echo "start.sh: $name exited; its log:" >&2; tail -20 "$dir/log/$name.out" "$dir/log/$name.log" >&2 2>/dev/null || true
      bash "$here/stop.sh" "$dir" >&2 || true
      exit 1
    fi
  done
  sleep 0.5
done
echo "start.sh: the node did not become idle within 60 s (state: ${state:-none})" >&2
tail -20 "$dir/log/slurmctld.log" "$dir/log/slurmd."*.log >&2 2>/dev/null || true
bash "$here/stop.sh" "$dir" >&2 || true
exit 1
