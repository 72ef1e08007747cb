#!/bin/bash
# stop-pool.sh -- stop the personal HTCondor pool started by start-pool.sh: SIGTERM to
# condor_master (graceful: jobs are killed, daemons exit), then SIGKILL for anything left.
# Only the recorded pids, their descendants and processes still inside the pool's own
# (private) mount or user namespace are signalled. Idempotent.
#   CONDOR_POOL_DIR    (default /var/lib/hep-productions/condor-pool)
#   POOL_STOP_TIMEOUT  seconds to wait for the graceful stop (default 30)
set -uo pipefail
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/hep-productions/condor-pool}
STATE=$CONDOR_POOL_DIR/state
PIDFILE=$STATE/master.pid
TIMEOUT=${POOL_STOP_TIMEOUT:-30}
log() { printf '[stop-pool %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

alive() {  # running (not a zombie)
  local st
  st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}
descendants() {  # all descendant pids of the given pids
  local p c
  for p in "$@"; do
    for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
      echo "$c"; descendants "$c"
    done
  done
}
in_pool_ns() {  # pids whose mount or user namespace is the pool's (never the host's own)
  [ -s "$STATE/ns" ] || return 0
  local mnt user p ns
  read -r mnt user < "$STATE/ns"
  [ "$mnt" = "$(readlink /proc/1/ns/mnt)" ] && mnt=none
  [ "$mnt" = "$(readlink /proc/self/ns/mnt)" ] && mnt=none
  [ "$user" = "$(readlink /proc/1/ns/user)" ] && user=none
  [ "$user" = "$(readlink /proc/self/ns/user)" ] && user=none
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = $$ ] && continue
    alive "$p" || continue
    for ns in mnt user; do
      if [ "$(readlink "/proc/$p/ns/$ns" 2>/dev/null)" = "${!ns}" ]; then echo "$p"; break; fi
    done
  done
}

master=""; launcher=""
[ -s "$PIDFILE" ] && master=$(cat "$PIDFILE")
[ -s "$STATE/launcher.pid" ] && launcher=$(cat "$STATE/launcher.pid")
if [ -n "$master" ] && ! grep -q condor_master "/proc/$master/cmdline" 2>/dev/null; then master=""; fi
if [ -n "$launcher" ] && ! alive "$launcher"; then launcher=""; fi

if [ -n "$master" ]; then
  log "SIGTERM to condor_master $master (graceful shutdown)"
  kill -TERM "$master" 2>/dev/null
  for _ in $(seq 1 $((TIMEOUT * 2))); do
    alive "$master" || break
    sleep 0.5
  done
elif [ -z "$launcher" ]; then
  log "pool is not running"
fi
# anything left (hung daemons, jobs, orphans in the pool's namespaces): kill it, by pid
roots=""
for p in $master $launcher; do alive "$p" && roots="$roots $p"; done
left=$( { for p in $roots; do echo "$p"; done; descendants $roots; in_pool_ns; } | sort -un)
if [ -n "$left" ]; then
  log "killing remaining pids: $(echo $left)"
  kill -KILL $left 2>/dev/null
fi
# wait until the old pids are gone from /proc, zombies included (so pgrep shows nothing)
for _ in $(seq 1 20); do
  gone=1
  for p in $master $launcher $left; do [ -e "/proc/$p" ] && gone=0; done
  [ "$gone" = 1 ] && break
  sleep 0.25
done
[ "$gone" = 1 ] || log "note: pids $(echo $master $launcher $left) not yet reaped (zombies of a slow init?)"
rm -f "$PIDFILE" "$STATE/launcher.pid" "$STATE/ns" "$STATE/binds"
log "pool stopped"
