#!/bin/bash
# status-pool.sh -- is the personal HTCondor pool built, running, and advertising a schedd
# and slots?
# Exit status: 0 running (schedd and a slot advertised), 2 condor_master runs but the schedd
# or slot is not advertised (yet), 3 built but not running, 1 not built.
#   CONDOR_POOL_DIR    (default /var/lib/hep-productions/condor-pool)
set -uo pipefail
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/hep-productions/condor-pool}
CONDOR_ROOT=${CONDOR_ROOT:-$CONDOR_POOL_DIR/root}
export CONDOR_POOL_DIR CONDOR_ROOT
STATE=$CONDOR_POOL_DIR/state
BIN=$CONDOR_POOL_DIR/bin
PIDFILE=$STATE/master.pid

if [ ! -e "$CONDOR_ROOT/.root-complete" ] || [ ! -x "$BIN/condor-root-exec" ]; then
  echo "pool: not built ($CONDOR_POOL_DIR; run docker/condor/setup-pool.sh)"; exit 1
fi
echo "pool: built at $CONDOR_POOL_DIR (client config $CONDOR_POOL_DIR/client/condor_config)"
master=""
[ -s "$PIDFILE" ] && master=$(cat "$PIDFILE")
if [ -z "$master" ] || ! grep -q condor_master "/proc/$master/cmdline" 2>/dev/null; then
  echo "pool: not running"; exit 3
fi
echo "pool: running, condor_master pid $master"
echo "binds: $(cat "$STATE/binds" 2>/dev/null)"
[ "$(id -u)" = 0 ] || { echo "(run as root to query the daemons)"; exit 2; }
q() { timeout 20 "$BIN/condor-root-exec" --pool-user "$@" 2>&1; }
schedds=$(q condor_status -schedd -af Name CondorVersion TotalIdleJobs TotalRunningJobs)
rc_s=$?
slots=$(q condor_status -af Name State Activity Cpus Memory HasSIF)
rc_m=$?
echo "schedd (name version idle running):"; sed 's/^/  /' <<<"$schedds"
echo "slots (name state activity cpus memory HasSIF):"; sed 's/^/  /' <<<"$slots"
if [ $rc_s -ne 0 ] || [ $rc_m -ne 0 ] || [ -z "$schedds" ] || [ -z "$slots" ]; then
  echo "pool: schedd or slot not advertised"; exit 2
fi
exit 0
