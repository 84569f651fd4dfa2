#!/usr/bin/env bash
# Stop the cluster that tools/slurm/start.sh started in DIR: cancel its jobs, then stop slurmd,
# slurmctld and munged by the pids start.sh recorded (SIGTERM, then SIGKILL after 15 s).
# Idempotent. Usage: bash tools/slurm/stop.sh DIR
set -uo pipefail
dir=${1:?usage: stop.sh DIR}
[ -d "$dir/pids" ] || exit 0
export SLURM_CONF="$dir/slurm.conf"
pid_of() { cat "$dir/pids/$1" 2>/dev/null; }
alive() { [ -n "$1" ] && kill -0 "$1" 2>/dev/null; }
if alive "$(pid_of slurmctld)"; then
  scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
  for _ in $(seq 1 20); do
    [ -z "$(squeue -h -t R,PD,CG -o %i 2>/dev/null)" ] && break
    sleep 0.5
  done
fi
for name in slurmd slurmctld munged; do
  pid=$(pid_of "$name")
  if alive "$pid"; then
    kill -TERM "$pid"
    for _ in $(seq 1 30); do alive "$pid" || break; sleep 0.5; done
    alive "$pid" && kill -KILL "$pid"
  fi
  rm -f "$dir/pids/$name"
done
echo "stopped the SLURM cluster in $dir"
