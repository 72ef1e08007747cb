"""Every production on the production deployment (scripts/deploy.sh), triggered through the REST API.

Separate api-server, scheduler, dag-processor, triggerer and two Celery workers on PostgreSQL and
Redis; the runs are triggered with the demo parameters, as a user's script would, and read back:
run and task states, which worker took the tasks, the products. The condor variants, deferred on
HTCondor jobs, are run in test_faults.py, where the triggerer is killed while they wait.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from harness import Deployment

pytestmark = [pytest.mark.deployment, pytest.mark.slow]

DAG_IDS = [
    "ecal_windows_dataset",
    "egamma_tnp",
    "ldmx_darkbrem_signal",
    "lumi_followup",
    "lumi_reprocess",
    "massi_watch",
    "mu2e_conditions",
    "mu2e_ensemble",
]
RUNS_TIMEOUT_S = 1800.0


def _not_done(deployment: Deployment, runs: dict[str, str]) -> dict[str, list[tuple[str, int, str]]]:
    return {
        dag_id: [
            (ti["task_id"], ti["map_index"], ti["state"])
            for ti in deployment.task_instances(dag_id, run_id)
            if ti["state"] not in ("success", "skipped")
        ]
        for dag_id, run_id in runs.items()
    }


def test_every_production_succeeds_with_its_demo_parameters(deployment: Deployment) -> None:
    listed = sorted(d["dag_id"] for d in deployment.get("/api/v2/dags?limit=100")["dags"])
    assert listed == DAG_IDS
    started = time.monotonic()
    runs = deployment.trigger_all({dag_id: {} for dag_id in DAG_IDS})
    final = deployment.wait_for(runs, RUNS_TIMEOUT_S)
    took = time.monotonic() - started
    print(f"[deployment] 8 productions with their demo parameters: first trigger to last end {took:.0f} s")
    assert {d: r["state"] for d, r in final.items()} == dict.fromkeys(DAG_IDS, "success"), _not_done(deployment, runs)

    executed = []
    for dag_id, run_id in runs.items():
        for ti in deployment.task_instances(dag_id, run_id):
            assert ti["state"] in ("success", "skipped"), (dag_id, ti["task_id"], ti["state"])
            if ti["state"] == "success":
                executed.append(ti)
    # every task went through Celery, on this deployment's queue, and both workers took some
    assert {ti["queue"] for ti in executed} == {deployment.name}
    received = {w: deployment.log(w, chars=10**9).count("execute_workload[") for w in ("worker-1", "worker-2")}
    assert all(n > 0 for n in received.values()) and sum(received.values()) >= len(executed), received
    print(f"[deployment] {len(executed)} tasks ran; Celery messages per worker: {received}")

    out = deployment.output_root
    for folder in ("ecal_windows_dataset", "egamma_tnp", "ldmx_darkbrem_signal", "lumi_followup", "mu2e_ensemble"):
        files = [p for p in (out / folder).rglob("*") if p.is_file()]
        assert len(files) > 5, f"{folder}: {len(files)} files"
    assert deployment.leftovers() == []
    # runs that unpausing scheduled (the daily follow-up, the watcher) must not fail either
    failed = [(d, r["dag_run_id"]) for d in DAG_IDS for r in deployment.runs(d) if r["state"] == "failed"]
    assert failed == []


SENTINEL = "/tmp/hep-productions-must-not-exist"
BAD_INPUTS: list[tuple[str, dict[str, Any], str]] = [
    ("egamma_tnp", {"chunk_size": "many"}, "chunk_size"),  # wrong type
    ("egamma_tnp", {"backend": "cloud"}, "backend"),  # unknown enum value
    ("mu2e_ensemble", {"njobs": 1.5}, "njobs"),
    ("ecal_windows_dataset", {"input_dir": "/etc"}, "input_dir"),  # outside the data root
    ("egamma_tnp", {"fileset": "../../../etc/passwd"}, "fileset"),
    ("ecal_windows_dataset", {"output_dir": f"x; touch {SENTINEL}"}, "output_dir"),  # shell metacharacters
    ("mu2e_ensemble", {"tag": f"$(touch {SENTINEL})"}, "tag"),
    ("ldmx_darkbrem_signal", {"campaign": f"`touch {SENTINEL}`"}, "campaign"),
    ("lumi_followup", {"fills": list(range(1000, 101000))}, "fills"),  # oversized array
    ("massi_watch", {"years": [2017] * 10000}, "years"),
]


def test_bad_inputs_are_refused_at_once_naming_the_field(deployment: Deployment) -> None:
    """HTTP 400 from the API, or a run whose first task fails at once naming the field; nothing
    written outside the output root."""
    data_before = sorted(p for p in deployment.data_root.rglob("*"))
    refused, runs = {}, {}
    for i, (dag_id, conf, field) in enumerate(BAD_INPUTS):
        status, body = deployment.trigger(dag_id, conf)
        if status == 400:
            refused[i] = body
            assert field in str(body), f"{dag_id} {conf}: HTTP 400 without naming {field!r}: {body}"
        else:
            assert status == 200, f"{dag_id}: HTTP {status}: {body}"
            runs[i] = body["dag_run_id"]
            final = deployment.wait_for({dag_id: runs[i]}, 600)
            assert final[dag_id]["state"] == "failed", f"{dag_id}: {conf} did not fail the run"
            tis = deployment.task_instances(dag_id, runs[i])
            failed = [ti for ti in tis if ti["state"] == "failed"]
            assert [ti["task_id"] for ti in failed] == ["validate_params"], (dag_id, conf, failed)
            assert failed[0]["try_number"] == 1  # never retried
            log = deployment.task_log(dag_id, runs[i], "validate_params", 1)
            assert field in log, f"{dag_id}: the log of validate_params does not name {field!r}"
            assert {ti["state"] for ti in tis if ti["task_id"] != "validate_params"} <= {"upstream_failed", None}
    print(f"[deployment] bad inputs: {len(refused)} refused by the API (HTTP 400), {len(runs)} failed at once")
    assert not Path(SENTINEL).exists()
    assert sorted(p for p in deployment.data_root.rglob("*")) == data_before


def test_status_then_stop_ends_exactly_the_processes_it_started(deployment: Deployment) -> None:
    """Last of the folder (conftest.py orders it): ``deploy.sh stop`` ends every component and its task processes, and
    nothing else (a process of the same user started beside it lives on)."""
    import subprocess

    status = deployment.deploy("status", timeout=120)
    components = ["api-server", "scheduler", "dag-processor", "triggerer", "worker-1", "worker-2"]
    for name in components:
        assert f"{name} running pid {deployment.session(name)}" in status
    assert '"metadatabase":{"status":"healthy"}' in status
    sessions = {name: deployment.session(name) for name in components}
    bystander = subprocess.Popen(["sleep", "600"], start_new_session=True)
    try:
        deployment.stop()
        from runsh_stack import session_processes

        assert session_processes({sid for sid in sessions.values() if sid}) == []
        assert bystander.poll() is None
        assert all(f"{name} stopped" in deployment.deploy("status", timeout=120) for name in components)
    finally:
        bystander.kill()
        bystander.wait()
