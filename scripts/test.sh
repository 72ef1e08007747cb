#!/usr/bin/env bash
# Install (idempotent) and run the test suite. Extra arguments go to pytest.
# Exit code is pytest's: non-zero on any failure, and on zero tests collected.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$REPO/scripts/install.sh"
cd "$REPO"
# shellcheck source=scripts/env.sh
REPO=$REPO source "$REPO/scripts/env.sh"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
exec .venv/bin/python -m pytest "$@"
