#!/usr/bin/env bash
# Create .venv and install the project with every dependency pinned by constraints-3.11.txt: the
# runtime (requirements.txt) and the test, lint and demo-data tools (requirements-test.txt).
# Idempotent and fast when nothing changed (a stamp holds the hash of the install inputs).
#   PYTHON   interpreter to build the venv from (default: python3.11, else python3 if it is 3.11)
#   VENV     venv folder (default: <repo>/.venv)
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=${VENV:-$REPO/.venv}
log() { printf '[install] %s\n' "$*" >&2; }

pick_python() {
  if [ -n "${PYTHON:-}" ]; then echo "$PYTHON"; return; fi
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1 &&
       "$cand" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
      echo "$cand"; return
    fi
  done
  log "Python 3.11 is required (set PYTHON=/path/to/python3.11)"; exit 1
}

if [ ! -x "$VENV/bin/python" ]; then
  py=$(pick_python)
  log "creating $VENV with $py"
  if ! "$py" -m venv "$VENV" 2>/dev/null; then
    # Debian's python3 ships venv support separately.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      log "installing python3-venv"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      rm -rf "$VENV"; "$py" -m venv "$VENV"
    else
      log "cannot create a venv: install python3-venv (apt-get install python3-venv)"; exit 1
    fi
  fi
fi

stamp=$VENV/.hep-install-stamp
want=$(cat "$REPO/requirements.txt" "$REPO/requirements-test.txt" "$REPO/constraints-3.11.txt" "$REPO/pyproject.toml" | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && "$VENV/bin/python" -c 'import include, airflow' 2>/dev/null; then
  log "up to date ($VENV)"
  exit 0
fi
t0=$(date +%s)
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -r "$REPO/requirements.txt" -r "$REPO/requirements-test.txt" -c "$REPO/constraints-3.11.txt"
"$VENV/bin/python" -m pip install -q --no-deps -e "$REPO"
"$VENV/bin/python" -m pip check >/dev/null || { "$VENV/bin/python" -m pip check; exit 1; }
echo "$want" > "$stamp"
log "installed in $(( $(date +%s) - t0 )) s"
