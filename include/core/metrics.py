"""Counters in Airflow's metrics (StatsD or OpenTelemetry, as the deployment's ``[metrics]``
section configures them), named ``hep.<...>``. Where Airflow is not installed (a job, a terminal)
or metrics are off, counting costs nothing and sends nothing."""

from __future__ import annotations

import functools
from typing import Any


@functools.cache
def _stats() -> Any:
    try:
        from airflow.sdk.observability import stats
    except ImportError:
        return None
    return stats


def incr(name: str, count: int = 1) -> None:
    """Add ``count`` to the counter ``hep.<name>``."""
    stats = _stats()
    if stats is not None:
        stats.incr(f"hep.{name}", count)
