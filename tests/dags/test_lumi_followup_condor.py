"""lumi_followup on the HTCondor pool under the real scheduler and triggerer (run.sh's stack, REST).

1. Four demo fills on the condor backend with executor parallelism 2: the step tasks are
   ``deferred`` while their jobs run (the worker slots are free), the jobs of all four fills are in
   the schedd at the same time, the run succeeds, and the products equal those of the same fills
   computed locally (in this process, into another output root).
2. SIGKILL of the worker running a step right after it submitted its job (the moment is made
   deterministic by ``HEP_FAULT_PAUSE_AFTER_SUBMIT_S``, set as an Airflow Variable for that run
   only): the retry reconnects to the same cluster, the schedd's queue and history hold exactly
   one cluster for that step of that fill, and the fill's products are complete.
The stack is shared by the tests of this module (one run.sh start). The form's hold policies are
met by a production DAG in tests/tnp/test_dag_condor_hold.py.
"""

from __future__ import annotations

import os
import signal
import time
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import runsh_stack
from airflow_rest import FINISHED
from dag_support import pool_unavailable

pytestmark = [pytest.mark.condor, pytest.mark.slow]

DAG = "lumi_followup"
FILLS = [6140, 6141, 6142, 6143]
KILL_FILL = 6146
PRODUCTS = ("sb", "lumi_calc", "lumi_meas", "lifetime", "fits")
RUN_TIMEOUT_S = 2400.0
STEP = "sb"  # a first step of a fill: the one killed right after it submitted
PAUSE_VARIABLE = "HEP_FAULT_PAUSE_AFTER_SUBMIT_S"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reason = pool_unavailable(timeout=120)
    if reason:
        pytest.skip(f"HTCondor pool not reachable: {reason} (start docker/condor/start-pool.sh)")
    env = {
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        # a killed worker's task is noticed after this long (default 300 s)
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
        "CONDOR_CONFIG": os.environ["CONDOR_CONFIG"],
    }
    stack = runsh_stack.start(tmp_path_factory.mktemp("condor") / "stack", extra_env=env)
    try:
        yield stack
    finally:
        stack.kill()


def _queue_units(dag_run: str) -> set[int]:
    """Map indexes of this run's step jobs now in the schedd's queue (idle, running or held)."""
    from include.condor.hook import HTCondorHook

    ads = HTCondorHook(None, backoff=(1.0, 2.0)).get_schedd().query("True", ["JobBatchName"])
    units = set()
    for ad in ads:
        name = str(ad.get("JobBatchName", ""))
        if name.startswith(f"{DAG}.") and dag_run in name and ".m" in name:
            units.add(int(name.rsplit(".m", 1)[1].split(".", 1)[0]))
    return units


def _follow(stack: runsh_stack.RunSh, run_id: str) -> tuple[dict[str, Any], set[tuple[str, int]], int]:
    """Poll the run until it ends: (final run, step tasks seen deferred, most units queued at once)."""
    from include.condor.submit import _UNSAFE_NAME_CHARS

    safe_run = _UNSAFE_NAME_CHARS.sub("_", run_id)
    deferred: set[tuple[str, int]] = set()
    most = 0
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        run = stack.run(DAG, run_id)
        if run["state"] in FINISHED:
            return run, deferred, most
        for ti in stack.task_instances(DAG, run_id):
            if ti["state"] == "deferred" and ti["task_id"].startswith("fill."):
                deferred.add((ti["task_id"], ti["map_index"]))
        most = max(most, len(_queue_units(safe_run)))
        assert time.monotonic() < deadline, f"{run_id} not finished after {RUN_TIMEOUT_S:.0f} s"
        time.sleep(1.0)


def _wait_idle(stack: runsh_stack.RunSh) -> None:
    """Wait until no lumi_followup run is running (max_active_runs is 1)."""
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while any(r["state"] not in FINISHED for r in stack.runs(DAG)):
        assert time.monotonic() < deadline, "a lumi_followup run did not finish"
        time.sleep(3)


def _local_reference(stack: runsh_stack.RunSh, out: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from include.lumi.tasks import process_fill

    data = stack.home / "hep" / "data"
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(out))
    for fill in FILLS:
        assert process_fill(fill, config=2017)["ok"], fill
    return out


def _unpause(stack: runsh_stack.RunSh) -> None:
    """Unpause the DAG; the scheduled run that unpausing creates (every new demo fill, locally) is
    stopped at once: these tests trigger their own runs."""
    status, body = stack.request("PATCH", f"/api/v2/dags/{DAG}", {"is_paused": False})
    assert status == 200, body
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        scheduled = [r for r in stack.runs(DAG) if r["run_type"] == "scheduled"]
        for run in scheduled:
            if run["state"] not in FINISHED:
                quoted = urllib.request.quote(run["dag_run_id"], safe="")
                stack.request("PATCH", f"/api/v2/dags/{DAG}/dagRuns/{quoted}", {"state": "failed"})
        if scheduled:
            break
        time.sleep(2)
    _wait_idle(stack)


@pytest.mark.timeout(3600)  # a loaded CI machine: the run takes minutes, the guard only catches a hang
def test_condor_steps_defer_run_together_and_match_local(
    stack: runsh_stack.RunSh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _unpause(stack)

    t0 = time.monotonic()
    status, run = stack.trigger(DAG, {"fills": FILLS, "backend": "condor", "force": "all"})
    assert status == 200, run
    final, deferred, most = _follow(stack, run["dag_run_id"])
    took = time.monotonic() - t0
    tis = stack.task_instances(DAG, run["dag_run_id"])
    bad = [(t["task_id"], t["map_index"], t["state"]) for t in tis if t["state"] not in ("success", "skipped")]
    assert final["state"] == "success", bad
    steps = {t["task_id"] for t in tis if t["task_id"].startswith("fill.") and t["task_id"] != "fill.publish"}
    print(
        f"[condor] 4 fills x {len(steps)} steps in {took:.0f} s; {len(deferred)} step tasks seen deferred; "
        f"at most {most} fills' jobs in the schedd at once"
    )
    assert {index for _task, index in deferred} == set(range(len(FILLS))), deferred
    assert len({task for task, _index in deferred}) >= len(steps) // 2, deferred
    assert most == len(FILLS)

    reference = _local_reference(stack, tmp_path / "local", monkeypatch)
    for fill in FILLS:
        for name in PRODUCTS:
            rel = Path("lumi_followup") / f"fill_{fill}" / f"fill_{fill}_{name}.parquet"
            pd.testing.assert_frame_equal(pd.read_parquet(stack.output_root / rel), pd.read_parquet(reference / rel))


@pytest.mark.timeout(3600)
def test_a_worker_killed_after_submitting_reconnects_to_its_cluster(stack: runsh_stack.RunSh) -> None:
    _unpause(stack)
    status, body = stack.request("POST", "/api/v2/variables", {"key": PAUSE_VARIABLE, "value": "600"})
    assert status in (200, 201), body
    status, run = stack.trigger(DAG, {"fills": [KILL_FILL], "backend": "condor", "force": "all"})
    assert status == 200, run
    run_id = run["dag_run_id"]
    pids_file = _wait_for_pids(stack.output_root)
    task_pid, worker_pid = (int(p) for p in pids_file.read_text().split())
    stack.request("DELETE", f"/api/v2/variables/{PAUSE_VARIABLE}")
    for pid in (task_pid, worker_pid):
        os.kill(pid, signal.SIGKILL)
    final, _deferred, _most = _follow(stack, run_id)
    tis = {(t["task_id"], t["map_index"]): t for t in stack.task_instances(DAG, run_id)}
    killed = tis[(f"fill.{STEP}", 0)]
    assert final["state"] == "success", {k: t["state"] for k, t in tis.items()}
    assert killed["try_number"] >= 2, killed
    log = stack.task_log(DAG, run_id, f"fill.{STEP}", killed["try_number"], map_index=0)
    assert "not submitting again" in log, log[-3000:]

    from include.condor.hook import HTCondorHook
    from include.condor.submit import batch_name

    names = [batch_name(DAG, f"fill.{STEP}", run_id, 0, try_number=t) for t in range(1, killed["try_number"] + 1)]
    clusters = HTCondorHook(None, backoff=(1.0, 2.0)).find_batch(names, history=True)
    print(
        f"[condor] worker pid {worker_pid} killed after submitting; try {killed['try_number']} reconnected; "
        f"clusters of the step: {sorted(clusters)}"
    )
    assert len(clusters) == 1, clusters
    fill_dir = stack.output_root / "lumi_followup" / f"fill_{KILL_FILL}"
    for name in PRODUCTS:
        assert (fill_dir / f"fill_{KILL_FILL}_{name}.parquet").is_file(), name


def _wait_for_pids(output_root: Path) -> Path:
    deadline = time.monotonic() + RUN_TIMEOUT_S
    while True:
        # the STEP's own job folder: cycle, the fill's other first step, pauses and records its pids too
        folder = output_root / "_condor"
        found = list(folder.glob(f"{DAG}.fill.{STEP}.*/submitted.pid")) if folder.is_dir() else []
        if found:
            return found[0]
        assert time.monotonic() < deadline, "no step submitted its job"
        time.sleep(0.5)
