"""include.core.metrics: the project's counters reach StatsD through Airflow's metrics settings."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SEND = """
from include.condor.hook import HTCondorHook
hook = HTCondorHook(None, collector="127.0.0.1:9", schedd="nowhere")
hook._count("query")
hook._count("query")
hook._count("history")
assert hook.queries == 3
"""


def _run_with_statsd(env: dict[str, str], timeout: float = 120.0) -> list[str]:
    """Run SEND in a fresh interpreter with these settings; the StatsD lines it sent."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    port = sock.getsockname()[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__METRICS__")}
    base.update({"AIRFLOW__METRICS__STATSD_HOST": "127.0.0.1", "AIRFLOW__METRICS__STATSD_PORT": str(port), **env})
    proc = subprocess.run(
        [sys.executable, "-c", SEND], cwd=REPO, env=base, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = []
    try:
        while True:
            lines += sock.recv(65535).decode().splitlines()
    except TimeoutError:
        pass
    finally:
        sock.close()
    return lines


def test_schedd_round_trips_are_counted_in_statsd() -> None:
    lines = _run_with_statsd({"AIRFLOW__METRICS__STATSD_ON": "True"})
    counted = [line for line in lines if ".hep.condor.schedd." in f".{line}"]
    assert sorted(counted) == [
        "airflow.hep.condor.schedd.history:1|c",
        "airflow.hep.condor.schedd.query:1|c",
        "airflow.hep.condor.schedd.query:1|c",
    ], lines


def test_nothing_is_sent_with_metrics_off() -> None:
    assert _run_with_statsd({"AIRFLOW__METRICS__STATSD_ON": "False"}) == []
