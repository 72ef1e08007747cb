"""A held job in a production DAG (egamma_tnp on the condor backend) meets the form's hold policy.

``HEP_FAULT_SUBMIT_HELD`` submits the chunk's job on hold (HoldReasonCode 15). ``release``: the
trigger releases it and the run succeeds; ``wait``: the task waits (deferred) until someone runs
condor_release (here a thread, 10 s after it saw the job held), then succeeds; ``fail``: the job is
removed and the task fails (the DAG's retries are off: dag.test() would wait out the backoff).
The form's *Memory per job* is the job's RequestMemory.
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from test_dag_condor import HLT, _dag

from include.condor.hook import HTCondorHook

pytestmark = [pytest.mark.condor, pytest.mark.slow]

MEMORY_MB = 1024
RELEASE_AFTER_S = 10.0


def _conf(policy: str) -> dict:
    return {
        "config": json.dumps(
            {
                "workflow": "ElectronTagNProbeFromNanoAOD",
                "workflow_args": {"filters": [HLT], "trigger_pt": [32], "filterbit": [1]},
                "methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "vars": ["el_pt"]}}],
            }
        ),
        "fileset": json.dumps({"sample": {"files": {"DYto2E.root": "Events"}}}),
        "chunk_size": 1_000_000,  # one chunk: one job
        "backend": "condor",
        "hold_policy": policy,
        "request_memory_mb": MEMORY_MB,
        "output": f"hold-{policy}",
    }


def _release_when_held(hook: HTCondorHook, released: list[str], stop: threading.Event) -> None:
    """Release this test's held job RELEASE_AFTER_S after it is first seen held."""
    seen = None
    while not stop.is_set():
        ads = hook.get_schedd().query("JobStatus == 5", ["ClusterId", "ProcId", "JobBatchName"])
        held = [f"{a['ClusterId']}.{a['ProcId']}" for a in ads if "egamma_tnp" in str(a.get("JobBatchName"))]
        if held and seen is None:
            seen = time.monotonic()
        if held and time.monotonic() - seen >= RELEASE_AFTER_S:
            hook.release(held, "released by the test")
            released.extend(held)
            return
        stop.wait(1.0)


@pytest.mark.parametrize("policy", ["release", "wait", "fail"])
def test_held_chunk_job_meets_the_hold_policy_of_the_form(
    pool, roots, tnp_data: Path, monkeypatch: pytest.MonkeyPatch, policy: str
) -> None:
    data, _output = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    monkeypatch.setenv("HEP_FAULT_SUBMIT_HELD", "true")
    hook = HTCondorHook(None, backoff=(1.0, 2.0))
    released: list[str] = []
    stop = threading.Event()
    helper = threading.Thread(target=_release_when_held, args=(hook, released, stop), daemon=True)
    if policy == "wait":
        helper.start()
    started = time.monotonic()
    try:
        run = _dag().test(run_conf=_conf(policy))
    finally:
        stop.set()
    took = time.monotonic() - started
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    clusters = _clusters_of(hook, run)
    history = {
        c: ad
        for c in clusters
        for ad in hook.get_schedd().history(f"ClusterId == {c}", ["JobStatus", "RequestMemory"], match=1)
    }
    print(f"[hold] {policy}: {states.get('process_chunk')} in {took:.0f} s; clusters {sorted(history)}")
    assert len(history) == 1, history
    (ad,) = history.values()
    assert int(ad["RequestMemory"]) == MEMORY_MB
    if policy == "fail":
        assert str(run.state) == "failed" and states["process_chunk"] == "failed"
        assert int(ad["JobStatus"]) == 3  # removed, not left held in the queue
    else:
        assert str(run.state) == "success" and states["process_chunk"] == "success"
        assert int(ad["JobStatus"]) == 4  # completed
    if policy == "wait":
        assert released and took >= RELEASE_AFTER_S  # the trigger waited for the manual release


def _clusters_of(hook: HTCondorHook, run) -> dict:
    """The run's chunk clusters, by the batch name the operator gives them."""
    from include.condor.submit import batch_name

    names = [batch_name(run.dag_id, "process_chunk", run.run_id, 0, try_number=1)]
    return hook.find_batch(names, history=True)
