#!/bin/bash
# pool.sh -- one entry point for the personal HTCondor pool (see docker/condor/README.md).
#   pool.sh install   build or update the pool       (setup-pool.sh)
#   pool.sh start     start it, wait for schedd+slot (start-pool.sh)
#   pool.sh stop      stop it                        (stop-pool.sh)
#   pool.sh restart   stop, then start
#   pool.sh status    built/running, schedd, slots   (status-pool.sh; exit 0/2/3/1)
#   pool.sh env       print the shell lines to use it: eval "$(docker/condor/pool.sh env)"
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONDOR_POOL_DIR=${CONDOR_POOL_DIR:-/var/lib/hep-productions/condor-pool}
export CONDOR_POOL_DIR
cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  install|setup) exec "$HERE/setup-pool.sh" "$@" ;;
  start)         exec "$HERE/start-pool.sh" "$@" ;;
  stop)          exec "$HERE/stop-pool.sh" "$@" ;;
  restart)       "$HERE/stop-pool.sh"; exec "$HERE/start-pool.sh" "$@" ;;
  status)        exec "$HERE/status-pool.sh" "$@" ;;
  env)
    [ -s "$CONDOR_POOL_DIR/env.sh" ] || { echo "no $CONDOR_POOL_DIR/env.sh: run $0 install" >&2; exit 1; }
    cat "$CONDOR_POOL_DIR/env.sh" ;;
  *) sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2 ;;
esac
