#!/usr/bin/env bash
# Run the whole system locally: install, write the demo data, start Airflow (SQLite, standalone)
# with this project's DAGs and plugins. Ctrl-C stops every process it started.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/scripts/install.sh"
"$REPO/scripts/install-demo-tools.sh" || true  # apptainer inside the checkout; else one line says why
# shellcheck source=scripts/env.sh
source "$REPO/scripts/env.sh"
mkdir -p "$AIRFLOW_HOME" "$HEP_DATA_ROOT" "$HEP_OUTPUT_ROOT"
# The productions run by themselves from the start (the daily follow-up, the watcher every 15 min),
# as in production. It also spares the UI's trigger form its "unpause" request, which it sends
# together with the trigger: on SQLite the two deadlocked in the API server for the busy timeout
# (the unpause answered 500 and the run stayed queued behind a paused DAG).
export AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION=${AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION:-False}

echo "[run] demo data in $HEP_DATA_ROOT"
python -m include.demo --data-root "$HEP_DATA_ROOT"
echo "[run] metadata database: $AIRFLOW_HOME/airflow.db"
airflow db migrate >"$AIRFLOW_HOME/db-migrate.log" 2>&1 || { cat "$AIRFLOW_HOME/db-migrate.log"; exit 1; }
echo "[run] parsing DAGs"
airflow dags reserialize >"$AIRFLOW_HOME/reserialize.log" 2>&1 || { cat "$AIRFLOW_HOME/reserialize.log"; exit 1; }
airflow dags list -o plain 2>/dev/null | sed 's/^/[run]   /' || true

cat <<MSG
[run] Airflow UI:  http://localhost:$AIRFLOW_PORT   (user admin)
[run] password:    $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated  (written at first start)
[run] Ctrl-C stops everything.
MSG
# The metadata database is SQLite: a connection waits up to 60 s for its turn to write instead of
# failing after 5 s (which the API answered with HTTP 500); see include/core/sqlite_metadb.py.
if [[ "${AIRFLOW__DATABASE__SQL_ALCHEMY_CONN:-sqlite}" == sqlite* ]]; then
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS=include.core.sqlite_metadb.CONNECT_ARGS
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC=include.core.sqlite_metadb.CONNECT_ARGS_ASYNC
fi

# Tasks talk to an execution API server of their own (AIRFLOW_EXECUTION_PORT, default AIRFLOW_PORT+1).
# On SQLite, the UI's audit log writes from the server's event loop: it waited there for the write
# lock that a task request of the same server held until its teardown, which needs that loop, so
# the UI froze until the busy timeout and answered 500. Split, neither server waits on itself.
export AIRFLOW_EXECUTION_PORT=${AIRFLOW_EXECUTION_PORT:-$((AIRFLOW_PORT + 1))}
if ! python -c 'import socket, sys; socket.create_server(("127.0.0.1", int(sys.argv[1]))).close()' \
    "$AIRFLOW_EXECUTION_PORT" 2>/dev/null; then
  echo "[run] port $AIRFLOW_EXECUTION_PORT (the tasks' execution API) is in use: set AIRFLOW_EXECUTION_PORT" >&2
  exit 1
fi
export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$AIRFLOW_EXECUTION_PORT/execution/

# standalone runs the scheduler, dag-processor, triggerer and api-server as its children, and the
# executor runs every task in a process group of its own; all of them (and the execution API
# server) stay in the session that setsid starts here (setsid execs in place: a background job of a
# script is no group leader, so its pid is the session id). Ctrl-C or SIGTERM: SIGTERM to every
# process of that session, 30 s to end, then SIGKILL to whatever is left; "[run] stopped" is
# printed only once none is left.
setsid bash -c 'airflow api-server --apps execution --host 127.0.0.1 --port "$1" 2>&1 | sed -u "s/^/execution  | /" &
exec airflow standalone' run.sh "$AIRFLOW_EXECUTION_PORT" &
standalone=$!
session=$standalone

session_members() {  # pids of the session's processes that are not zombies
  ps -e -o pid=,sid=,stat= | awk -v s="$session" '$2 == s && $3 !~ /^Z/ {print $1}'
}
signal_session() {
  local pids
  pids=$(session_members)
  [ -n "$pids" ] || return 0
  # shellcheck disable=SC2086
  kill "-$1" $pids 2>/dev/null || true
}
stop() {
  trap 'echo "[run] still stopping (at most 40 s)"' INT TERM  # a second Ctrl-C must not orphan the session
  echo "[run] stopping Airflow"
  signal_session TERM
  for _ in $(seq 1 60); do
    [ -n "$(session_members)" ] || break
    sleep 0.5
  done
  for _ in $(seq 1 20); do
    [ -n "$(session_members)" ] || break
    signal_session KILL
    sleep 0.5
  done
  wait "$standalone" 2>/dev/null || true
  left=$(session_members)
  if [ -n "$left" ]; then
    echo "[run] could not stop: $(echo "$left" | tr '\n' ' ')" >&2
    exit 1
  fi
  echo "[run] stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
wait "$standalone" || true
stop
