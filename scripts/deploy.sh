#!/usr/bin/env bash
# The production deployment without containers, from this checkout: Airflow on PostgreSQL with the
# CeleryExecutor (Redis as broker) as separate processes: api-server, scheduler, dag-processor,
# triggerer and DEPLOY_WORKERS Celery workers. The same Airflow settings as docker-compose.yaml
# (docker/airflow.env); only addresses, ports, secrets and roots are this deployment's own.
#
#   scripts/deploy.sh start               install, create the database, migrate, start everything
#   scripts/deploy.sh status              each component: pid and alive or not; the API's health
#   scripts/deploy.sh stop                SIGTERM, then SIGKILL after DEPLOY_STOP_S, to exactly the
#                                         sessions it started (tasks included); nothing else
#   scripts/deploy.sh start-one NAME      (re)start one component, e.g. after killing it
#   scripts/deploy.sh kill NAME [SIGNAL]  signal a component's whole session (default KILL)
#   scripts/deploy.sh destroy             stop, drop the databases, remove DEPLOY_HOME
#   scripts/deploy.sh print-env           the components' environment, secrets left out
#
# Components: api-server scheduler dag-processor triggerer worker-1 .. worker-N.
# Settings (environment; start writes them to DEPLOY_HOME/deploy.env, later commands read that):
#   DEPLOY_HOME     state, logs, pids, Airflow home (default .local/deploy)
#   DEPLOY_NAME     database name and Celery queue (default hep_deploy); the Massi fill
#                   database is DEPLOY_NAME_filldb on the same server (HEP_FILLDB_URL overrides it)
#   DEPLOY_PORT     API server port (default 8090); scheduler health DEPLOY_PORT+4, triggerer log
#                   server +5, worker N's log server +10+N
#   DEPLOY_WORKERS  number of Celery workers (default 2); DEPLOY_CONCURRENCY task slots each (4)
#   DEPLOY_PG       PostgreSQL server URL without database (postgresql+psycopg2://postgres@127.0.0.1:5432)
#   DEPLOY_BROKER   Celery broker (redis://127.0.0.1:6379/0)
#   DEPLOY_DEMO     1: write the demo data into HEP_DATA_ROOT at start (default 1)
#   HEP_HOME / HEP_DATA_ROOT / HEP_OUTPUT_ROOT, HEP_CONDOR_POOL_DIR, AIRFLOW__*: as for run.sh
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DEPLOY_HOME=${DEPLOY_HOME:-$REPO/.local/deploy}
DEPLOY_HOME=$(mkdir -p "$DEPLOY_HOME" && cd "$DEPLOY_HOME" && pwd)
log() { printf '[deploy] %s\n' "$*" >&2; }

components() {
  echo api-server scheduler dag-processor triggerer
  for n in $(seq 1 "$DEPLOY_WORKERS"); do echo "worker-$n"; done
}

configure() {  # the whole environment of every component; written to deploy.env by start
  export DEPLOY_HOME
  export DEPLOY_NAME=${DEPLOY_NAME:-hep_deploy}
  export DEPLOY_PORT=${DEPLOY_PORT:-8090}
  export DEPLOY_WORKERS=${DEPLOY_WORKERS:-2}
  export DEPLOY_CONCURRENCY=${DEPLOY_CONCURRENCY:-4}
  export DEPLOY_PG=${DEPLOY_PG:-postgresql+psycopg2://postgres@127.0.0.1:5432}
  export DEPLOY_BROKER=${DEPLOY_BROKER:-redis://127.0.0.1:6379/0}
  export DEPLOY_STOP_S=${DEPLOY_STOP_S:-30}
  export AIRFLOW_HOME=$DEPLOY_HOME/airflow
  export HEP_HOME=${HEP_HOME:-$DEPLOY_HOME/hep}
  export AIRFLOW_PORT=$DEPLOY_PORT
  # shellcheck source=scripts/env.sh
  REPO=$REPO source "$REPO/scripts/env.sh"
  local key value
  while IFS='=' read -r key value; do  # the shared settings; one already in the environment wins
    [[ $key =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    [ -n "${!key+set}" ] || export "$key=$value"
  done < "$REPO/docker/airflow.env"
  export AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=$DEPLOY_PG/$DEPLOY_NAME
  export AIRFLOW__CELERY__RESULT_BACKEND=db+$DEPLOY_PG/$DEPLOY_NAME
  # The Massi fill database on the same server (every worker and job host sees it; not SQLite)
  export HEP_FILLDB_URL=${HEP_FILLDB_URL:-$DEPLOY_PG/${DEPLOY_NAME}_filldb}
  export AIRFLOW__CELERY__BROKER_URL=$DEPLOY_BROKER
  export AIRFLOW__OPERATORS__DEFAULT_QUEUE=$DEPLOY_NAME  # deployments sharing a broker never swap tasks
  export AIRFLOW__CORE__EXECUTION_API_SERVER_URL=http://127.0.0.1:$DEPLOY_PORT/execution/
  export AIRFLOW__CORE__AUTH_MANAGER=airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager
  export AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_SERVER_PORT=$((DEPLOY_PORT + 4))
  export AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT=$((DEPLOY_PORT + 5))
  local secrets=$DEPLOY_HOME/secrets.env
  if [ ! -s "$secrets" ]; then
    (umask 077
     printf 'AIRFLOW__API_AUTH__JWT_SECRET=%s\nAIRFLOW__API__SECRET_KEY=%s\n' \
       "$(python -c 'import secrets; print(secrets.token_urlsafe(48))')" \
       "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')" > "$secrets.tmp" && mv "$secrets.tmp" "$secrets")
  fi
  set -a
  # shellcheck disable=SC1090
  source "$secrets"
  set +a
}

load() {  # the environment start wrote
  [ -s "$DEPLOY_HOME/deploy.env" ] || { log "no deployment in $DEPLOY_HOME (run: scripts/deploy.sh start)"; exit 1; }
  set -a
  # shellcheck disable=SC1091
  source "$DEPLOY_HOME/deploy.env"
  set +a
  export PATH=$REPO/.venv/bin:$PATH
}

pidfile() { echo "$DEPLOY_HOME/pids/$1.pid"; }

session_members() {  # live, non-zombie pids of the session led by $1
  ps -e -o pid=,sid=,stat= | awk -v s="$1" '$2 == s && $3 !~ /^Z/ {print $1}'
}

alive() {
  local f; f=$(pidfile "$1")
  [ -s "$f" ] && [ -n "$(session_members "$(cat "$f")")" ]
}

command_of() {
  case $1 in
    api-server) echo "airflow api-server --host 127.0.0.1 --port $DEPLOY_PORT" ;;
    scheduler) echo "airflow scheduler" ;;
    dag-processor) echo "airflow dag-processor" ;;
    triggerer) echo "airflow triggerer" ;;
    worker-*)
      echo "airflow celery worker --celery-hostname $1@%h --queues $DEPLOY_NAME --concurrency $DEPLOY_CONCURRENCY"
      ;;
    *) log "unknown component $1 (one of: $(components | tr '\n' ' '))"; exit 2 ;;
  esac
}

start_one() {
  local name=$1 cmd
  cmd=$(command_of "$name")
  if alive "$name"; then log "$name is running (pid $(cat "$(pidfile "$name")"))"; return 0; fi
  mkdir -p "$DEPLOY_HOME/pids" "$DEPLOY_HOME/logs"
  local env_extra=()
  if [[ $name == worker-* ]]; then
    env_extra=("AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=$((DEPLOY_PORT + 10 + ${name#worker-}))")
  fi
  # A session of its own: stop and kill reach the component and every task process it started.
  # shellcheck disable=SC2086
  env "${env_extra[@]}" setsid $cmd >>"$DEPLOY_HOME/logs/$name.log" 2>&1 < /dev/null &
  echo $! > "$(pidfile "$name")"
  log "$name started (pid $!, log $DEPLOY_HOME/logs/$name.log)"
}

signal_session() {  # signal every member of a component's session
  local f pids; f=$(pidfile "$1")
  [ -s "$f" ] || return 0
  pids=$(session_members "$(cat "$f")")
  # shellcheck disable=SC2086
  [ -z "$pids" ] || kill "-$2" $pids 2>/dev/null || true
}

stop_all() {
  local name left
  for name in $(components); do signal_session "$name" TERM; done
  for _ in $(seq 1 $((DEPLOY_STOP_S * 2))); do
    left=""
    for name in $(components); do alive "$name" && left="$left $name"; done
    [ -n "$left" ] || break
    sleep 0.5
  done
  for name in $(components); do
    if alive "$name"; then log "$name did not stop in ${DEPLOY_STOP_S} s: SIGKILL"; signal_session "$name" KILL; fi
  done
  for _ in $(seq 1 20); do
    left=""
    for name in $(components); do alive "$name" && left="$left $name"; done
    [ -n "$left" ] || break
    sleep 0.5
  done
  [ -z "$left" ] || { log "could not stop:$left"; exit 1; }
  rm -f "$DEPLOY_HOME"/pids/*.pid
  log "stopped"
}

database() {  # create (or with "drop", drop) the databases DEPLOY_NAME and DEPLOY_NAME_filldb
  python - "$DEPLOY_PG" "$DEPLOY_NAME" "$1" <<'PY'
import re, sys
import sqlalchemy as sa
server, name, action = sys.argv[1:]
if not re.fullmatch(r"[a-z_][a-z0-9_]{0,55}", name):
    sys.exit(f"DEPLOY_NAME {name!r}: lower-case letters, digits and _ only (56 at most)")
engine = sa.create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
with engine.connect() as conn:
    for db in (name, f"{name}_filldb"):  # Airflow's metadata, the Massi fill database
        exists = conn.execute(sa.text("select 1 from pg_database where datname = :n"), {"n": db}).scalar()
        if action == "create" and not exists:
            conn.execute(sa.text(f'create database "{db}"'))
        elif action == "drop" and exists:
            conn.execute(sa.text(f'drop database "{db}" with (force)'))
engine.dispose()
PY
}

wait_healthy() {
  local deadline=$((SECONDS + ${DEPLOY_START_S:-300}))
  until python - "$DEPLOY_PORT" <<'PY' 2>/dev/null
import json, sys, urllib.request
health = json.load(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/api/v2/monitor/health", timeout=5))
sys.exit(0 if health["metadatabase"]["status"] == "healthy" and health["scheduler"]["status"] == "healthy" else 1)
PY
  do
    [ $SECONDS -lt "$deadline" ] || { log "not healthy after ${DEPLOY_START_S:-300} s; logs in $DEPLOY_HOME/logs"; exit 1; }
    sleep 2
  done
}

case ${1:-} in
  start)
    "$REPO/scripts/install.sh"
    configure
    mkdir -p "$AIRFLOW_HOME" "$HEP_DATA_ROOT" "$HEP_OUTPUT_ROOT" "$DEPLOY_HOME/logs"
    (umask 077; export -p | grep -E ' (AIRFLOW|HEP_|DEPLOY_|CONDOR_CONFIG|PATH=)' | sed "s/^declare -x //" > "$DEPLOY_HOME/deploy.env")
    if [ "${DEPLOY_DEMO:-1}" = 1 ]; then
      log "demo data in $HEP_DATA_ROOT"
      python -m include.demo --data-root "$HEP_DATA_ROOT" >>"$DEPLOY_HOME/logs/demo.log" 2>&1 \
        || { tail -20 "$DEPLOY_HOME/logs/demo.log"; exit 1; }
    fi
    log "database $DEPLOY_NAME on ${DEPLOY_PG#*@}"
    database create
    airflow db migrate >>"$DEPLOY_HOME/logs/db-migrate.log" 2>&1 || { tail -30 "$DEPLOY_HOME/logs/db-migrate.log"; exit 1; }
    for name in $(components); do start_one "$name"; done
    wait_healthy
    log "API http://localhost:$DEPLOY_PORT (user admin, password in $AIRFLOW_HOME/simple_auth_manager_passwords.json.generated)"
    ;;
  print-env)
    configure
    env | grep -E '^(AIRFLOW|HEP_|DEPLOY_)' | grep -vE '_SECRET|SECRET_KEY' | sort
    ;;
  status)
    load
    for name in $(components); do
      if alive "$name"; then echo "$name running pid $(cat "$(pidfile "$name")")"; else echo "$name stopped"; fi
    done
    python -c "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=5).read().decode())" \
      "http://127.0.0.1:$DEPLOY_PORT/api/v2/monitor/health" 2>/dev/null || echo "api: no answer"
    ;;
  stop)
    load
    stop_all
    ;;
  start-one)
    load
    start_one "${2:?component}"
    ;;
  kill)
    load
    command_of "${2:?component}" > /dev/null
    signal_session "$2" "${3:-KILL}"
    log "$2: SIG${3:-KILL} to its session"
    ;;
  destroy)
    if [ -s "$DEPLOY_HOME/deploy.env" ]; then
      load
      stop_all
      database drop
    fi
    rm -rf "$DEPLOY_HOME"
    log "destroyed"
    ;;
  *)
    sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
