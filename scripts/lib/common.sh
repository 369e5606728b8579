#!/usr/bin/env bash
# What every script needs (sourced, not executed): messages, the layout of the checkout and the cache, ports,
# and the processes and steps to undo on exit. Definitions only: sourcing this file does nothing until the
# script calls `cartograph_init`. The scripts run under `set -euo pipefail`, which these functions count on.

log() { printf '\033[1;34m==>\033[0m %s\n' "$*" >&2; }
warn() { printf '\033[1;33mwarning:\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31merror:\033[0m %s\n' "$*" >&2; exit 1; }

# Sets ROOT (the checkout), CARGO_TARGET_DIR (exported), STATE_DIR (services' data and logs) and SITE_DIR (the
# built site), creates STATE_DIR, and installs the exit trap that stops what the script started.
# The other files in scripts/lib and the scripts read these variables.
# shellcheck disable=SC2034
cartograph_init() {
  ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  local cache_dir=${CARTOGRAPH_CACHE_DIR:-$HOME/.cache/cartograph}
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache_dir/target}
  STATE_DIR=$cache_dir/state
  SITE_DIR=$CARGO_TARGET_DIR/site
  mkdir -p "$STATE_DIR"

  STARTED_PIDS=()
  EXIT_STEPS=()
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

# start_bg NAME LOGFILE COMMAND...: runs a command in the background and stops it on exit.
start_bg() {
  local name=$1 logfile=$2
  shift 2
  log "starting $name (log: $logfile)"
  "$@" >"$logfile" 2>&1 &
  STARTED_PIDS+=($!)
}

# at_exit FUNCTION: runs FUNCTION on exit, once the background processes have stopped (the step registered last
# runs first).
at_exit() { EXIT_STEPS+=("$1"); }

cleanup() {
  local i pid
  # In reverse start order, one at a time: the web server and the worker finish their requests and commit their
  # offsets while the broker and the provider still run.
  for ((i = ${#STARTED_PIDS[@]} - 1; i >= 0; i--)); do
    pid=${STARTED_PIDS[i]}
    kill -TERM "$pid" 2>/dev/null || continue
    for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  # Then what outlives the processes: a private PostgreSQL cluster (scripts/lib/services.sh).
  for ((i = ${#EXIT_STEPS[@]} - 1; i >= 0; i--)); do "${EXIT_STEPS[i]}" || true; done
}

# True when something accepts TCP connections on host:port.
port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# A TCP port on 127.0.0.1 that nothing listens on now (from the dynamic range).
free_port() {
  local port
  for _ in $(seq 1 100); do
    port=$((20000 + RANDOM % 30000))
    port_open 127.0.0.1 "$port" || { echo "$port"; return; }
  done
  die "no free port found on 127.0.0.1"
}

# wait_port HOST PORT SECONDS NAME LOGFILE: waits for a service, or dies naming it with its log's tail.
wait_port() {
  local deadline=$((SECONDS + $3))
  until port_open "$1" "$2"; do
    if ((SECONDS > deadline)); then
      [[ -f $5 ]] && tail -n 20 "$5" >&2
      die "$4 did not start on $1:$2 within $3 s (log: $5)"
    fi
    sleep 0.2
  done
}
