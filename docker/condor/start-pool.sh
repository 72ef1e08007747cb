#!/bin/bash
# start-pool.sh -- start the personal HTCondor pool built by setup-pool.sh and wait until the
# collector lists the schedd and a startd slot. Idempotent. See docker/condor/README.md.
#   CONDOR_POOL_DIR     (default /var/lib/hep-productions/condor-pool)
#   CONDOR_ROOT         (default $CONDOR_POOL_DIR/root)
#   CONDOR_ROOT_BINDS   host dirs visible (same path) inside the pool and its jobs
#                       (default "/tmp /var/tmp /root /home $CONDOR_POOL_DIR <project checkout>")
#   CONDOR_EXTRA_BINDS  more host dirs, appended to that list
#   POOL_START_TIMEOUT  seconds to wait for readiness (default 60)
#   POOL_CLEAN=1        wipe the job queue, history and logs before starting
# The bind list is fixed while the pool runs: to change it, stop and start the pool.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROJECT_DIR=$(cd "$SCRIPT_DIR/../.." && pwd)
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/hep-productions/condor-pool}
CONDOR_ROOT=${CONDOR_ROOT:-$CONDOR_POOL_DIR/root}
export CONDOR_POOL_DIR CONDOR_ROOT
# A client configuration in the caller's environment (a site's, or another pool's env.sh) is not
# this pool's and is not visible inside its root: condor's postinst and the daemons would read it.
unset CONDOR_CONFIG
STATE=$CONDOR_POOL_DIR/state
BIN=$CONDOR_POOL_DIR/bin
TIMEOUT=${POOL_START_TIMEOUT:-60}
PIDFILE=$STATE/master.pid
log() { printf '[start-pool %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

[ "$(id -u)" = 0 ] || { log "must run as root"; exit 1; }
[ -e "$CONDOR_ROOT/.root-complete" ] && [ -x "$BIN/condor-root-exec" ] \
  || { log "no pool at $CONDOR_POOL_DIR: run $SCRIPT_DIR/setup-pool.sh"; exit 1; }
mkdir -p "$STATE"

alive() {  # running (not a zombie)
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
master_alive() {
  [ -s "$PIDFILE" ] || return 1
  local pid; pid=$(cat "$PIDFILE")
  alive "$pid" && grep -q condor_master "/proc/$pid/cmdline" 2>/dev/null
}
pool_ready() {
  local out
  out=$("$BIN/condor-root-exec" --pool-user condor_status -any -af MyType 2>/dev/null) || return 1
  grep -qx Scheduler <<<"$out" && grep -qx Machine <<<"$out"
}
dump_logs() {
  cat "$STATE/master.out" 2>/dev/null || true
  tail -20 "$CONDOR_ROOT/var/log/condor/MasterLog" 2>/dev/null || true
}

t0=$(date +%s.%N)
if master_alive; then
  log "pool already running (condor_master pid $(cat "$PIDFILE"), binds: $(cat "$STATE/binds" 2>/dev/null))"
else
  # something on the collector's port that is not ours (another pool) would take it
  port=$(sed -n 's/^COLLECTOR_HOST = 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$CONDOR_POOL_DIR/client/condor_config")
  [ -n "$port" ] || { log "no COLLECTOR_HOST in $CONDOR_POOL_DIR/client/condor_config: run $SCRIPT_DIR/setup-pool.sh"; exit 1; }
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    log "127.0.0.1:$port is already in use (another HTCondor pool?); stop it first, or set up this one with another CONDOR_POOL_PORT"; exit 1
  fi
  binds="${CONDOR_ROOT_BINDS-/tmp /var/tmp /root /home $CONDOR_POOL_DIR $PROJECT_DIR} ${CONDOR_EXTRA_BINDS:-}"
  binds=$(echo $binds)
  # jobs see only bound host paths: warn if the caller's cwd or the project's python is outside
  covered() { local b; for b in $binds; do case "$1/" in "$b"/*) return 0 ;; esac; done; return 1; }
  for b in $binds; do [ -d "$b" ] || log "WARNING: bind dir $b does not exist: skipped"; done
  covered "$PWD" || log "WARNING: $PWD is not under the bind list ($binds): jobs will not see it"
  if [ -L "$PROJECT_DIR/.venv/bin/python" ]; then
    py=$(readlink -f "$PROJECT_DIR/.venv/bin/python")
    covered "$py" || log "WARNING: $PROJECT_DIR/.venv's interpreter $py is not under the bind list: jobs cannot run it"
  fi
  rm -f "$PIDFILE" "$STATE/ns"
  echo "$binds" > "$STATE/binds"
  if [ "${POOL_CLEAN:-0}" = 1 ]; then
    log "POOL_CLEAN=1: wiping queue, history and logs"
    rm -rf "${CONDOR_ROOT:?}/var/spool/condor/"* "${CONDOR_ROOT:?}/var/log/condor/"* \
           "${CONDOR_ROOT:?}/var/lib/condor/execute/"*
  fi
  # the daemons run detached in their own session; the mounts live in their private namespace
  CONDOR_ROOT_BINDS=$binds CONDOR_EXTRA_BINDS="" setsid "$BIN/condor-root-exec" --pool-user \
      condor_master -f -pidfile "$PIDFILE" > "$STATE/master.out" 2>&1 < /dev/null &
  echo $! > "$STATE/launcher.pid"
  log "launched condor_master (launcher pid $!; binds: $binds)"
fi

deadline=$(( $(date +%s) + TIMEOUT ))
until pool_ready; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    log "pool not ready after ${TIMEOUT}s"; dump_logs; exit 1
  fi
  if [ -s "$STATE/launcher.pid" ] && ! alive "$(cat "$STATE/launcher.pid")" && ! master_alive; then
    log "condor_master exited"; dump_logs; exit 1
  fi
  sleep 0.5
done
# remember the pool's namespaces: stop-pool.sh also sweeps processes left in them
if [ ! -s "$STATE/ns" ] && master_alive; then
  m=$(cat "$PIDFILE")
  echo "$(readlink "/proc/$m/ns/mnt") $(readlink "/proc/$m/ns/user")" > "$STATE/ns"
fi
log "pool ready in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}')s (condor_master pid $(cat "$PIDFILE"))"
log "client: source $CONDOR_POOL_DIR/env.sh   (CONDOR_CONFIG=$CONDOR_POOL_DIR/client/condor_config)"
