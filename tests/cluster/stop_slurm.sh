#!/usr/bin/env bash
# Stops the daemons that tests/cluster/start_slurm.sh started, by the pid files in its state
# folder ($1, else $LARGELR_SLURM_DIR), and nothing else. Add --clean to delete the folder too.
#
#   bash tests/cluster/stop_slurm.sh "$LARGELR_SLURM_DIR" [--clean]
set -uo pipefail

STATE="${1:-${LARGELR_SLURM_DIR:-}}"
if [[ -z "$STATE" || ! -f "$STATE/slurm.conf" ]]; then
  echo "stop_slurm: no state folder of start_slurm.sh given (got '${STATE}')" >&2
  exit 1
fi
export SLURM_CONF="$STATE/slurm.conf"

stop() {  # stop <name> <pid file>: SIGTERM, then SIGKILL after 15 s
  local name="$1" pidfile="$2" pid
  [[ -f "$pidfile" ]] || return 0
  pid="$(cat "$pidfile")"
  if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 150); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "stop_slurm: $name (pid $pid) ignored SIGTERM, killing it" >&2
      kill -KILL "$pid" 2>/dev/null
    fi
  fi
  rm -f "$pidfile"
}

# cancel what is left in the queue, so that no job step outlives its slurmd
if [[ -f "$STATE/slurmctld.pid" ]] && kill -0 "$(cat "$STATE/slurmctld.pid")" 2>/dev/null; then
  scancel --full --partition "${LARGELR_SLURM_PARTITION:-debug}" 2>/dev/null || true
  sleep 1
fi
stop slurmd "$STATE/slurmd.pid"
stop slurmctld "$STATE/slurmctld.pid"
stop munged "$STATE/munge/munged.pid"
echo "stop_slurm: stopped the cluster of $STATE" >&2

if [[ "${2:-}" == "--clean" ]]; then
  rm -rf "$STATE"
fi
