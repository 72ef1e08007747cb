# Source this to get the project's local Airflow environment (used by run.sh and the Makefile).
# Everything lives inside the checkout: .airflow (Airflow home, SQLite DB), .local/hep (data, outputs).
REPO=${REPO:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export AIRFLOW_HOME=${AIRFLOW_HOME:-$REPO/.airflow}
export HEP_HOME=${HEP_HOME:-$REPO/.local/hep}
export HEP_DATA_ROOT=${HEP_DATA_ROOT:-$HEP_HOME/data}
export HEP_OUTPUT_ROOT=${HEP_OUTPUT_ROOT:-$HEP_HOME/output}
export AIRFLOW__CORE__DAGS_FOLDER=$REPO/dags
export AIRFLOW__CORE__PLUGINS_FOLDER=$REPO/plugins
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=${AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS:-admin:admin}
# New DAG files are picked up within 30 s instead of 300 s.
export AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL=${AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL:-30}
# A laptop-sized executor: 8 task slots instead of 32.
export AIRFLOW__CORE__PARALLELISM=${AIRFLOW__CORE__PARALLELISM:-8}
export AIRFLOW_PORT=${AIRFLOW_PORT:-8080}
export AIRFLOW__API__HOST=${AIRFLOW__API__HOST:-127.0.0.1}
export AIRFLOW__API__PORT=$AIRFLOW_PORT
export AIRFLOW__API__BASE_URL=${AIRFLOW__API__BASE_URL:-http://localhost:$AIRFLOW_PORT}
export PATH=$REPO/.venv/bin:$PATH
# The HTCondor pool is chosen explicitly, never attached because one happens to be installed:
# HEP_CONDOR_POOL_DIR names a personal pool built by docker/condor/setup-pool.sh (e.g.
# /var/lib/hep-productions/condor-pool; its client config and CLI wrappers are used, overriding
# CONDOR_CONFIG), or CONDOR_CONFIG names a site's HTCondor configuration. Neither: no pool.
if [ -n "${HEP_CONDOR_POOL_DIR:-}" ]; then
  if [ -f "$HEP_CONDOR_POOL_DIR/client/condor_config" ]; then
    export CONDOR_CONFIG=$HEP_CONDOR_POOL_DIR/client/condor_config
    export PATH=$HEP_CONDOR_POOL_DIR/bin:$PATH
  else
    echo "[env] HEP_CONDOR_POOL_DIR=$HEP_CONDOR_POOL_DIR has no client/condor_config (build it with" \
      "docker/condor/setup-pool.sh): no HTCondor pool attached" >&2
  fi
fi
# The demo's tools, unless set: apptainer inside the checkout (scripts/install-demo-tools.sh; when
# it is not there, apptainer on PATH) and the DEMO STAND-IN Mu2e dbTool that the demo data holds
# (include/mu2e/demo_dbtool.py; the conditions database cannot be reached from here).
if [ -z "${HEP_APPTAINER_BIN:-}" ] && [ -x "$REPO/.local/condor-pool/bin/apptainer" ]; then
  export HEP_APPTAINER_BIN=$REPO/.local/condor-pool/bin/apptainer
fi
if [ -z "${HEP_RUNTIME_IMAGE:-}" ] && [ -s "$REPO/.local/runtime.sif" ]; then  # scripts/install-demo-tools.sh
  export HEP_RUNTIME_IMAGE=$REPO/.local/runtime.sif
fi
if [ -z "${HEP_MU2E_DBTOOL:-}" ] && ! command -v dbTool >/dev/null 2>&1; then  # a Mu2e environment's wins
  export HEP_MU2E_DBTOOL=$HEP_DATA_ROOT/mu2e/demo-dbtool/dbTool
fi
