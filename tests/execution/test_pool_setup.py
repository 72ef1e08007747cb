"""The personal HTCondor pool of docker/condor/ answers and runs a job.

Needs a started pool (docker/condor/pool.sh start) and CONDOR_CONFIG pointing at its client
config (source /var/lib/hep-productions/condor-pool/env.sh); skipped otherwise.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest
from dag_support import pool_collector

COLLECTOR = pool_collector()
PROJECT_DIR = Path(__file__).resolve().parents[2]
JOB_TIMEOUT = 600  # bounds a hang only: a loaded machine's pool may take minutes to start a job


def _unavailable() -> str | None:
    if not os.environ.get("CONDOR_CONFIG"):
        return "CONDOR_CONFIG is not set (start docker/condor/pool.sh, source $CONDOR_POOL_DIR/env.sh)"
    try:
        with socket.create_connection(COLLECTOR, timeout=1):
            return None
    except OSError as exc:
        return f"no HTCondor collector at {COLLECTOR[0]}:{COLLECTOR[1]} ({exc}); run docker/condor/pool.sh start"


_REASON = _unavailable()
pytestmark = [pytest.mark.condor, pytest.mark.skipif(_REASON is not None, reason=_REASON or "")]


def test_collector_lists_schedd_and_slot():
    import htcondor2 as htcondor

    coll = htcondor.Collector()
    assert coll.query(htcondor.AdType.Schedd, projection=["Name"]), "no Scheduler ad"
    assert coll.query(htcondor.AdType.Startd, projection=["Name"]), "no Machine ad"


def test_venv_python_job_runs(tmp_path):
    import htcondor2 as htcondor

    python = PROJECT_DIR / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    out = tmp_path / "out.txt"
    log = tmp_path / "job.log"
    code = f"import sys; open({str(out)!r}, 'w').write(sys.executable)"
    schedd = htcondor.Schedd()
    cluster = schedd.submit(
        htcondor.Submit(
            {
                "executable": str(python),
                "arguments": "\"-c '" + code.replace("'", "''") + "'\"",
                "transfer_executable": "false",
                "initialdir": str(tmp_path),
                "log": str(log),
                "error": str(tmp_path / "job.err"),
                "request_memory": "64MB",
                "request_disk": "10MB",
            }
        )
    ).cluster()
    final = {htcondor.JobEventType.JOB_TERMINATED, htcondor.JobEventType.JOB_ABORTED, htcondor.JobEventType.JOB_HELD}
    event = None
    deadline = time.monotonic() + JOB_TIMEOUT
    with htcondor.JobEventLog(str(log)) as jel:
        while event is None and time.monotonic() < deadline:
            event = next((e for e in jel.events(stop_after=1) if e.cluster == cluster and e.type in final), None)
    if event is None or event.type != htcondor.JobEventType.JOB_TERMINATED:
        schedd.act(htcondor.JobAction.Remove, f"ClusterId == {cluster}")
    err = (tmp_path / "job.err").read_text() if (tmp_path / "job.err").exists() else ""
    assert event is not None, f"job {cluster} did not finish within {JOB_TIMEOUT}s"
    assert event.type == htcondor.JobEventType.JOB_TERMINATED, dict(event.items())
    assert event["ReturnValue"] == 0, err
    assert out.read_text() == str(python)
