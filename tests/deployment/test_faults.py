"""The deployment under faults: SIGKILL a Celery worker, the scheduler or the triggerer mid-run.

Each fault strikes at a moment read from the REST API (a given task running, N tasks deferred);
the killed component's whole session dies (its task processes too, as when a host goes down) and
is started again. Then the run must succeed with the products of an undisturbed run, byte for
byte, with no temporary or partial file left and, on HTCondor, no job submitted twice.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pytest
from harness import Deployment

pytestmark = [pytest.mark.deployment, pytest.mark.slow]

FILL = 6140
RUNS_TIMEOUT_S = 1800.0
EGAMMA_CHUNK = 500  # entries per chunk: the demo's files give more than 8 chunks
# Every run of a fault test redoes these units in the same folders; its products must equal the
# undisturbed run's.
LUMI = {"fills": [FILL], "force": "all"}
EGAMMA = {"output": "faults", "chunk_size": EGAMMA_CHUNK, "force": "all"}


def lumi_dir(deployment: Deployment) -> Path:
    return deployment.output_root / "lumi_followup" / f"fill_{FILL}"


def egamma_dir(deployment: Deployment) -> Path:
    return deployment.output_root / "egamma_tnp" / "faults"


# What a run records about itself rather than computes: provenance manifests, step reports and
# egamma's per-chunk call records (they hold the times of their run), lock files, and the dated
# copies lumi keeps of the products a forced run replaced (<name>_YYYYMMDD[_HHMMSS].<ext>, the
# legacy backup naming). The histograms, tables, parquet files and plots are compared byte for byte.
RUN_RECORDS = re.compile(r"(manifest\.json|report\.json|^chunk\.json)$|^\.|_\d{8}(_\d{6})?\.\w+$")


def products(folder: Path) -> dict[str, str]:
    """sha256 of every product below ``folder`` (run records left out): the same bytes or not."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not RUN_RECORDS.search(p.name)
    }


def run_to_success(deployment: Deployment, confs: dict[str, dict[str, Any]]) -> dict[str, str]:
    runs = deployment.trigger_all(confs)
    final = deployment.wait_for(runs, RUNS_TIMEOUT_S)
    assert {d: r["state"] for d, r in final.items()} == dict.fromkeys(runs, "success"), {
        d: [(t["task_id"], t["map_index"], t["state"]) for t in deployment.task_instances(d, r)]
        for d, r in runs.items()
    }
    return runs


def running(deployment: Deployment, dag_id: str, run_id: str, prefix: str) -> list[dict[str, Any]]:
    return [
        ti
        for ti in deployment.task_instances(dag_id, run_id)
        if ti["task_id"].startswith(prefix) and ti["state"] == "running"
    ]


@pytest.fixture(scope="module")
def undisturbed(deployment: Deployment) -> dict[str, dict[str, str]]:
    """Products of undisturbed runs: lumi fill 6140 (every step) and egamma_tnp's demo."""
    run_to_success(deployment, {"lumi_followup": LUMI, "egamma_tnp": EGAMMA})
    return {"lumi": products(lumi_dir(deployment)), "egamma": products(egamma_dir(deployment))}


def test_a_killed_worker_s_tasks_are_retried_on_the_other(deployment: Deployment, undisturbed: dict) -> None:
    assert len(undisturbed["lumi"]) > 10 and len(undisturbed["egamma"]) > 3
    deployment.kill("worker-2")  # everything starts on worker-1, the one that will die
    status, lumi = deployment.trigger("lumi_followup", LUMI)
    assert status == 200, lumi
    lumi_run = lumi["dag_run_id"]
    deployment.wait_until("a lumi step running", lambda: running(deployment, "lumi_followup", lumi_run, "fill."), 600)
    status, egamma = deployment.trigger("egamma_tnp", EGAMMA)
    assert status == 200, egamma
    egamma_run = egamma["dag_run_id"]

    def both_running() -> tuple[list, list] | None:
        steps = running(deployment, "lumi_followup", lumi_run, "fill.")
        chunks = running(deployment, "egamma_tnp", egamma_run, "process_chunk")
        return (steps, chunks) if steps and chunks else None

    steps, chunks = deployment.wait_until("a lumi step and an egamma chunk running together", both_running, 600, 0.3)
    deployment.restart("worker-2")
    killed = deployment.kill("worker-1")
    struck = {("lumi_followup", t["task_id"], t["map_index"]) for t in steps} | {
        ("egamma_tnp", t["task_id"], t["map_index"]) for t in chunks
    }
    print(f"[faults] SIGKILL worker-1 ({killed} processes) while running: {sorted(struck)}")

    final = deployment.wait_for({"lumi_followup": lumi_run, "egamma_tnp": egamma_run}, RUNS_TIMEOUT_S)
    assert {d: r["state"] for d, r in final.items()} == {"lumi_followup": "success", "egamma_tnp": "success"}
    tries = {}
    for dag_id, run_id in (("lumi_followup", lumi_run), ("egamma_tnp", egamma_run)):
        for ti in deployment.task_instances(dag_id, run_id):
            if (dag_id, ti["task_id"], ti["map_index"]) in struck:
                tries[(dag_id, ti["task_id"], ti["map_index"])] = (ti["state"], ti["try_number"])
    assert tries and all(state == "success" and n >= 2 for state, n in tries.values()), tries  # retried
    assert not deployment.processes("worker-1")  # so every retry ran on worker-2
    assert products(lumi_dir(deployment)) == undisturbed["lumi"]
    assert products(egamma_dir(deployment)) == undisturbed["egamma"]
    assert deployment.leftovers() == []
    deployment.restart("worker-1")


def test_a_killed_scheduler_restarted_completes_the_run(deployment: Deployment, undisturbed: dict) -> None:
    status, egamma = deployment.trigger("egamma_tnp", EGAMMA)
    assert status == 200, egamma
    run_id = egamma["dag_run_id"]

    def mid_run() -> bool:
        states = [ti["state"] for ti in deployment.task_instances("egamma_tnp", run_id)]
        return "success" in states and any(s in ("running", "queued", "scheduled", None) for s in states)

    deployment.wait_until("egamma_tnp half-way", mid_run, 600, 0.5)
    deployment.kill("scheduler")
    time.sleep(5)
    deployment.restart("scheduler")
    final = deployment.wait_for({"egamma_tnp": run_id}, RUNS_TIMEOUT_S)
    assert final["egamma_tnp"]["state"] == "success"
    assert products(egamma_dir(deployment)) == undisturbed["egamma"]
    assert deployment.leftovers() == []


def _pool_startd(on: bool) -> None:
    """Switch the pool's execute daemon off (jobs stay idle, tasks stay deferred) or on again."""
    import htcondor2 as htcondor

    collector = htcondor.Collector()
    (master,) = collector.query(htcondor.AdType.Master)
    command = htcondor.DaemonCommand.DaemonOn if on else htcondor.DaemonCommand.DaemonOff
    htcondor.send_command(master, command, "STARTD")
    deadline = time.monotonic() + 120
    while bool(collector.query(htcondor.AdType.Startd, projection=["Name"])) != on:
        assert time.monotonic() < deadline, f"the pool's startd did not turn {'on' if on else 'off'}"
        time.sleep(1)


def _clusters_by_task(deployment: Deployment, runs: dict[str, str]) -> dict[str, set[int]]:
    """Clusters in the schedd's queue and history per task instance of these runs, any try."""
    import htcondor2 as htcondor

    from include.condor.submit import batch_name

    names = {
        batch_name(dag_id, ti["task_id"], run_id, ti["map_index"])
        for dag_id, run_id in runs.items()
        for ti in deployment.task_instances(dag_id, run_id)
    }
    schedd = htcondor.Schedd()
    projection = ["ClusterId", "JobBatchName"]
    ads = list(schedd.query("true", projection)) + list(schedd.history("true", projection, match=-1))
    found: dict[str, set[int]] = {}
    for ad in ads:
        name = str(ad.get("JobBatchName", "")).rsplit(".t", 1)[0]  # the task instance, whatever its try
        if name in names:
            found.setdefault(name, set()).add(int(ad["ClusterId"]))
    return found


def test_a_killed_triggerer_loses_no_deferred_task_and_submits_nothing_twice(deployment: Deployment, pool: str) -> None:
    confs = {  # up to 5 + 8 + 8 + 4 units at once (8 per mapped task and run)
        "lumi_followup": {"backend": "condor", "force": "all", "fills": [6140, 6141, 6142, 6143, 6146]},
        "egamma_tnp": {"backend": "condor", "output": "triggerer_killed", "chunk_size": EGAMMA_CHUNK},
        "mu2e_ensemble": {"backend": "condor", "force": "all", "njobs": 8},
        "ecal_windows_dataset": {"backend": "condor", "output_dir": "triggerer_killed", "files_per_group": 1},
    }
    _pool_startd(on=False)
    try:
        runs = deployment.trigger_all(confs)

        def deferred() -> int:
            n = sum(ti["state"] == "deferred" for d, r in runs.items() for ti in deployment.task_instances(d, r))
            return n if n >= 20 else 0

        n_deferred = deployment.wait_until("20 tasks deferred on HTCondor jobs", deferred, 900, 2.0)
        killed = deployment.kill("triggerer")
        print(f"[faults] SIGKILL triggerer ({killed} processes) with {n_deferred} tasks deferred")
        time.sleep(5)
        deployment.restart("triggerer")
    finally:
        _pool_startd(on=True)
    final = deployment.wait_for(runs, RUNS_TIMEOUT_S)
    assert {d: r["state"] for d, r in final.items()} == dict.fromkeys(runs, "success")
    clusters = _clusters_by_task(deployment, runs)
    twice = {unit: ids for unit, ids in clusters.items() if len(ids) != 1}
    print(f"[faults] {len(clusters)} task instances ran on HTCondor, clusters submitted twice: {twice}")
    assert len(clusters) >= 20 and twice == {}
    assert deployment.leftovers() == []
