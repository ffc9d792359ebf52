#!/usr/bin/env bash
# A single-node Slurm cluster on loopback for tests: munged, slurmctld and slurmd from Debian's
# slurm-wlm and munge packages, every file (keys, sockets, state, spool, logs, pid files) under one
# folder. Daemons are stopped by the PIDs their pid files name, after every job is cancelled.
#
#   build/slurm-fixture.sh install          install the Debian packages if missing (root or sudo)
#   build/slurm-fixture.sh start DIR        write DIR/slurm.conf, start the daemons, wait for the node
#   build/slurm-fixture.sh stop DIR         scancel every job, stop the daemons, end leftover job steps
#
# Clients and the program under test need SLURM_CONF=DIR/slurm.conf.
set -euo pipefail

install_packages() {
  local missing=()
  for p in slurm-wlm munge; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { echo "slurm-fixture: need root or sudo to install ${missing[*]}" >&2; return 1; }
    sudo="sudo"
  fi
  echo "slurm-fixture: installing Debian packages: ${missing[*]}" >&2
  $sudo apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# A process that exists and is not a zombie (PID 1 here reaps orphans only now and then).
running() {
  local pid="$1"
  [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
  local state
  state=$(sed -E 's/^[0-9]+ \(.*\) ([A-Z]).*/\1/' "/proc/$pid/stat" 2>/dev/null || echo Z)
  [ "$state" != Z ]
}

stop_pidfile() {
  local file="$1" pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file" 2>/dev/null || true)
  if running "$pid"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do running "$pid" || break; sleep 0.1; done
    running "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

stop() {
  local dir="$1"
  if [ -f "$dir/slurm.conf" ] && [ -f "$dir/slurmctld.pid" ] && running "$(cat "$dir/slurmctld.pid")"; then
    SLURM_CONF="$dir/slurm.conf" scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    # Give running steps a moment to end before their daemon goes.
    for _ in $(seq 1 30); do
      [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -t running,completing -o %i 2>/dev/null)" ] && break
      sleep 0.2
    done
  fi
  stop_pidfile "$dir/slurmd.pid"
  stop_pidfile "$dir/slurmctld.pid"
  stop_pidfile "$dir/munged.pid"
  # slurmstepd outlives slurmd: end the ones of this folder by PID.
  for proc in /proc/[0-9]*; do
    local pid=${proc#/proc/}
    if grep -qa -- "$dir" "$proc/cmdline" 2>/dev/null && grep -qa slurmstepd "$proc/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop "$dir"   # whatever an aborted run left behind
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
  chmod 755 "$dir" "$dir/munge"
  [ -f "$dir/munge/munge.key" ] || mungekey -c -k "$dir/munge/munge.key" >/dev/null 2>&1
  chmod 600 "$dir/munge/munge.key"
  munged --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" --pid-file="$dir/munged.pid" \
    --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munge.seed" --force
  local cpus memory user
  cpus=$(nproc)
  memory=$(awk '/MemAvailable/ { printf "%d", $2 / 1024 / 2 }' /proc/meminfo)
  user=$(id -un)
  cat >"$dir/slurm.conf" <<EOF
ClusterName=smec-test
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=$user
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmctldPort=${SLURM_FIXTURE_PORT:-6817}
SlurmdPort=$(( ${SLURM_FIXTURE_PORT:-6817} + 1 ))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MailProg=/bin/true
CommunicationParameters=NoInAddrAny
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$dir/slurm.conf"
  slurmd -f "$dir/slurm.conf" -N localhost
  for _ in $(seq 1 100); do
    if sinfo -h -o %t 2>/dev/null | grep -qE '^idle'; then
      echo "slurm-fixture: node idle; SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.2
  done
  echo "slurm-fixture: the node did not become idle; logs in $dir/log" >&2
  sinfo >&2 || true
  return 1
}

case "${1:-}" in
  install) install_packages ;;
  start) [ -n "${2:-}" ] || { echo "usage: $0 start DIR" >&2; exit 2; }; install_packages; start "$2" ;;
  stop) [ -n "${2:-}" ] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop "$(cd "$2" 2>/dev/null && pwd || echo "$2")" ;;
  *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
