"""Connect arguments for Airflow's metadata database on SQLite (``scripts/run.sh``).

run.sh points ``[database] sql_alchemy_connect_args`` and ``sql_alchemy_connect_args_async`` at
:data:`CONNECT_ARGS` and :data:`CONNECT_ARGS_ASYNC` when the database is SQLite. SQLite lets one
connection write at a time, and
Python's default busy timeout of 5 s made the REST API answer HTTP 500 ("database is locked")
while the scheduler and eight task processes were writing. A connection now waits up to 60 s for
its turn. PostgreSQL deployments do not use this module.
"""

from __future__ import annotations

from typing import Any

BUSY_TIMEOUT_S = 60.0

# Two dicts: Airflow adds its own keys to the sync engine's (check_same_thread).
CONNECT_ARGS: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S}
CONNECT_ARGS_ASYNC: dict[str, Any] = {"timeout": BUSY_TIMEOUT_S}
