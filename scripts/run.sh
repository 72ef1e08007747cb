#!/usr/bin/env bash
# Run the whole system locally: install, write the demo data, start Airflow (SQLite, standalone)
# with this project's DAGs and plugins. Ctrl-C stops every process it started.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/scripts/install.sh"
# shellcheck source=scripts/env.sh
source "$REPO/scripts/env.sh"
mkdir -p "$AIRFLOW_HOME" "$HEP_DATA_ROOT" "$HEP_OUTPUT_ROOT"

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
# standalone runs the scheduler, dag-processor, triggerer and api-server (and the executor's
# workers) as its children, in a process group of its own. On Ctrl-C or SIGTERM it gets SIGTERM
# and 30 s to stop them; whatever is left of its group then gets SIGKILL, so nothing strays.
setsid airflow standalone &
standalone=$!
stop() {
  trap - INT TERM
  echo "[run] stopping Airflow"
  kill -TERM -- "-$standalone" 2>/dev/null || true
  for _ in $(seq 1 30); do
    pgrep -g "$standalone" >/dev/null || break
    sleep 1
  done
  kill -KILL -- "-$standalone" 2>/dev/null || true
  wait "$standalone" 2>/dev/null || true
  echo "[run] stopped"
}
trap 'stop; exit 130' INT
trap 'stop; exit 143' TERM
wait "$standalone" || true
stop
