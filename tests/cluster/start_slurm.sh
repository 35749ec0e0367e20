#!/usr/bin/env bash
# A real single-node SLURM cluster on this machine, for `pytest -m cluster` (tests/test_cluster.py).
#
#   eval "$(bash tests/cluster/start_slurm.sh)"     # installs slurm-wlm + munge if missing, starts
#   sinfo; sbatch --wrap hostname; ...              #   munged, slurmctld and slurmd
#   bash tests/cluster/stop_slurm.sh "$LARGELR_SLURM_DIR"
#
# The only setup it needs is root and the Debian/Ubuntu packages `slurm-wlm` and `munge`, which it
# installs with apt-get when they are missing (about 20 s). slurmctld and slurmd run on localhost
# with one partition (`debug`, every CPU and the memory of this machine), no accounting database
# (so the Snakemake SLURM plugin must poll with `--slurm-status-command squeue`: sacct hangs) and
# no cgroups (proctrack/linuxproc, task/none). Everything it writes - slurm.conf, spool and state
# folders, logs, pid files, the munge key and socket - lives under one state folder:
#   $1, else $LARGELR_SLURM_DIR, else a new mktemp folder under /tmp.
# It prints `export SLURM_CONF=... LARGELR_SLURM_DIR=... PATH=<state>/bin:$PATH` on stdout (also written to
# <state>/env.sh); progress goes to stderr. Ports: $LARGELR_SLURM_PORT (default 16817, slurmd
# listens on the next port), away from a system SLURM's 6817/6818.
set -euo pipefail

log() { echo "start_slurm: $*" >&2; }

STATE="${1:-${LARGELR_SLURM_DIR:-}}"
if [[ -z "$STATE" ]]; then
  STATE="$(mktemp -d /tmp/largelr-slurm.XXXXXX)"
fi
mkdir -p "$STATE"
STATE="$(cd "$STATE" && pwd)"
PORT="${LARGELR_SLURM_PORT:-16817}"
PARTITION="${LARGELR_SLURM_PARTITION:-debug}"

# ---- 1. packages ---------------------------------------------------------------------------------
need_install=0
for tool in slurmctld slurmd sbatch squeue scontrol munged; do
  if ! command -v "$tool" >/dev/null 2>&1 && [[ ! -x "/usr/sbin/$tool" ]]; then need_install=1; fi
done
if [[ $need_install == 1 ]]; then
  if [[ $(id -u) != 0 ]]; then
    log "slurm-wlm/munge are missing and this is not root: run 'apt-get install -y slurm-wlm munge' first"
    exit 1
  fi
  log "installing slurm-wlm and munge with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y --no-install-recommends slurm-wlm munge >"$STATE/apt.log" 2>&1; then
    apt-get update >>"$STATE/apt.log" 2>&1
    apt-get install -y --no-install-recommends slurm-wlm munge >>"$STATE/apt.log" 2>&1 \
      || { tail -20 "$STATE/apt.log" >&2; exit 1; }
  fi
fi
export PATH="$PATH:/usr/sbin:/sbin"

# ---- 2. munge: own key, socket, pid and log file -----------------------------------------------
mkdir -p "$STATE/munge" "$STATE/log" "$STATE/ctld" "$STATE/slurmd"
chmod 700 "$STATE/munge"
SOCKET="$STATE/munge/munge.socket"
if [[ ! -s "$STATE/munge/munge.key" ]]; then
  dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 400 "$STATE/munge/munge.key"
if [[ -f "$STATE/munge/munged.pid" ]] && kill -0 "$(cat "$STATE/munge/munged.pid")" 2>/dev/null; then
  log "munged already running (pid $(cat "$STATE/munge/munged.pid"))"
else
  # --force: /tmp is world-writable (sticky), which munged would otherwise refuse
  munged --force --socket="$SOCKET" --key-file="$STATE/munge/munge.key" \
    --pid-file="$STATE/munge/munged.pid" --log-file="$STATE/log/munged.log" \
    --seed-file="$STATE/munge/munged.seed" 2>>"$STATE/log/munged.log"
fi

# ---- 3. slurm.conf: this machine's CPUs and memory ---------------------------------------------
NODE="$(hostname -s)"
CPUS="$(nproc --all)"
MEM_MB="$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)"
# slurmd -C reports what slurmd will detect; take its numbers where it gives them (they must match)
if detected="$(slurmd -C 2>/dev/null | head -1)"; then
  c="$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$detected")"
  m="$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")"
  [[ -n "$c" ]] && CPUS="$c"
  [[ -n "$m" ]] && MEM_MB="$m"
fi
# leave a little memory to the daemons and the submitting Snakemake process
NODE_MEM=$(( MEM_MB * 95 / 100 ))

CONF="$STATE/slurm.conf"
cat >"$CONF" <<EOF
# written by tests/cluster/start_slurm.sh
ClusterName=largelr-test
SlurmctldHost=${NODE}(127.0.0.1)
SlurmctldPort=${PORT}
SlurmdPort=$(( PORT + 1 ))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=${SOCKET}
CredType=cred/munge
StateSaveLocation=${STATE}/ctld
SlurmdSpoolDir=${STATE}/slurmd
SlurmctldPidFile=${STATE}/slurmctld.pid
SlurmdPidFile=${STATE}/slurmd.pid
SlurmctldLogFile=${STATE}/log/slurmctld.log
SlurmdLogFile=${STATE}/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
SwitchType=switch/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# finished jobs stay visible to squeue for 5 minutes: the plugin's squeue status polling needs that
MinJobAge=300
SlurmdTimeout=300
InactiveLimit=0
KillWait=5
NodeName=${NODE} NodeAddr=127.0.0.1 CPUs=${CPUS} RealMemory=${NODE_MEM} State=UNKNOWN
PartitionName=${PARTITION} Nodes=${NODE} Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$CONF"

# ---- 4. daemons ---------------------------------------------------------------------------------
running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }
if running "$STATE/slurmctld.pid"; then
  log "slurmctld already running"
else
  slurmctld -f "$CONF" -i
fi
if running "$STATE/slurmd.pid"; then
  log "slurmd already running"
else
  slurmd -f "$CONF"
fi

for _ in $(seq 1 120); do
  state="$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null || true)"
  case "$state" in
    idle*|mixed*|allocated*) break ;;
    down*|drain*) scontrol update nodename="$NODE" state=resume 2>/dev/null || true ;;
  esac
  sleep 0.5
done
state="$(sinfo -h -n "$NODE" -o '%T' 2>/dev/null || true)"
if [[ "$state" != idle* && "$state" != mixed* && "$state" != allocated* ]]; then
  log "node $NODE did not come up (state: '${state}'); logs under $STATE/log:"
  tail -n 20 "$STATE"/log/*.log >&2 || true
  exit 1
fi
log "cluster up: partition $PARTITION, node $NODE ($CPUS CPUs, ${NODE_MEM} MB), state under $STATE"

# The Snakemake job step plugin (snakemake-executor-plugin-slurm-jobstep 0.6) drops every SLURM_*
# variable but the job's ids before it calls srun inside the allocation, SLURM_CONF included; on a
# real cluster that srun reads /etc/slurm/slurm.conf. This cluster leaves /etc alone, so it puts an
# srun first on PATH that sets SLURM_CONF back.
mkdir -p "$STATE/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$CONF" "$(command -v srun)" >"$STATE/bin/srun"
chmod +x "$STATE/bin/srun"

echo "export SLURM_CONF=$CONF LARGELR_SLURM_DIR=$STATE LARGELR_SLURM_PARTITION=$PARTITION PATH=$STATE/bin:\$PATH" \
  | tee "$STATE/env.sh"
