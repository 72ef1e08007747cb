"""Hook, trigger, kill and the ``condor`` backend on the personal pool."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
from dag_support import pool_collector

from include.condor.hook import CondorError, HTCondorHook
from include.condor.states import State
from include.condor.submit import JobSpec, build_submit
from include.condor.triggers import HTCondorJobTrigger
from include.core.backends import TaskCall, run_call
from include.core.errors import StepError

pytestmark = pytest.mark.condor

HANG_S = 600
"""Bounds a hang only: a loaded machine's pool may take minutes to match and start a job."""


def sleeper(hook: HTCondorHook, workdir: Path, seconds: int = 300, count: int = 2):
    desc = build_submit(
        JobSpec(executable="/bin/sleep", arguments=[str(seconds)], shared_fs=True, request_memory_mb=32),
        workdir=workdir,
        batch=f"test-sleeper-{workdir.name}",
    )
    (workdir / "out").mkdir(exist_ok=True)
    return hook.submit(desc, count=count)


def wait_state(hook: HTCondorHook, job_ids: list[str], state: State, timeout: float = HANG_S) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        states = hook.job_states(job_ids)
        if len(states) == len(job_ids) and all(st.state == state for st in states.values()):
            return states
        time.sleep(0.5)
    raise AssertionError(f"{job_ids} not all {state}: {hook.job_states(job_ids)}")


def test_batched_query_history_fallback_and_batch_lookup(hook: HTCondorHook, workdir: Path) -> None:
    sub = sleeper(hook, workdir, seconds=1, count=3)
    assert sub.job_ids == [f"{sub.cluster}.{p}" for p in range(3)]
    found = hook.find_batch([f"test-sleeper-{workdir.name}"])
    assert found == {sub.cluster: {j: i for i, j in enumerate(sub.job_ids)}}
    states = wait_state(hook, sub.job_ids, State.TERMINATED)  # from history once they left the queue
    assert all(st.succeeded for st in states.values())
    before = hook.queries
    hook.job_states(sub.job_ids)
    assert hook.queries - before == 2  # one queue query + one history query for all 3 procs
    log_states = hook.read_event_log(workdir / "events.log")
    assert {j: s.state for j, s in log_states.items()} == {j: State.TERMINATED for j in sub.job_ids}


def test_schedd_lookup_retries_with_backoff_then_fails() -> None:
    slept: list[float] = []
    hook = HTCondorHook(None, collector="127.0.0.1:1", schedd="nobody@nowhere", backoff=(2, 6, 18), sleep=slept.append)
    with pytest.raises(CondorError, match="after 4 attempts"):
        hook.get_schedd()
    assert slept == [2, 6, 18]


def test_hook_works_without_an_airflow_connection(pool: str) -> None:
    hook = HTCondorHook()  # htcondor_default is not defined: plain defaults
    assert hook.schedd_name == pool


def test_trigger_on_kill_removes_the_jobs_and_cleanup_does_not(hook: HTCondorHook, workdir: Path) -> None:
    sub = sleeper(hook, workdir)
    wait_state(hook, sub.job_ids, State.EXECUTING)
    trigger = HTCondorJobTrigger(job_ids=sub.job_ids, event_log=str(workdir / "events.log"), poll_interval=0.2)

    async def poll_then_stop() -> None:
        task = asyncio.create_task(anext(trigger.run()))
        await asyncio.sleep(1.0)
        assert not task.done()  # still polling running jobs
        task.cancel()
        await trigger.cleanup()

    asyncio.run(poll_then_stop())
    assert all(st.state == State.EXECUTING for st in hook.job_states(sub.job_ids).values())
    asyncio.run(trigger.on_kill())
    wait_state(hook, sub.job_ids, State.ABORTED)


def test_operator_on_kill_removes_the_jobs(hook: HTCondorHook, workdir: Path) -> None:
    from include.condor.operators import HTCondorJobOperator

    sub = sleeper(hook, workdir, count=1)
    op = HTCondorJobOperator(task_id="kill_me", executable="/bin/sleep")
    op._job = {"jobs": {sub.job_ids[0]: 0}, "schedd": sub.schedd, "collector": "", "schedd_hint": ""}
    op.on_kill()
    wait_state(hook, sub.job_ids, State.ABORTED)


def test_include_function_runs_as_a_job(pool: str, workdir: Path) -> None:
    call = TaskCall("include.core.paths:safe_name", {"value": "unit_007", "param": "unit"})
    assert run_call(call, backend="condor", workdir=workdir / "one") == "unit_007"
    bad = TaskCall("include.core.paths:safe_name", {"value": "no; rm -rf /", "param": "unit"})
    with pytest.raises(StepError, match="ParamError") as info:
        run_call(bad, backend="condor", workdir=workdir / "bad")
    assert "stderr tail" in str(info.value) and "Traceback" in str(info.value)


def test_many_calls_as_one_cluster_with_file_transfer(pool: str, workdir: Path) -> None:
    from include.condor.jobcall import run_calls

    calls = [TaskCall("include.core.paths:safe_name", {"value": f"u{i}", "param": "unit"}) for i in range(5)]
    assert run_calls(calls, workdir=workdir, shared_fs=False) == [f"u{i}" for i in range(5)]
    assert len(list(workdir.glob("result.*.json"))) == 5


class _SubmitsHeld(HTCondorHook):
    """A hook whose clusters start on hold (as a held job would be)."""

    def submit(self, description, itemdata=None, count=1):  # type: ignore[override]
        return super().submit({**description, "hold": "True"}, itemdata=itemdata, count=count)


def test_blocking_run_removes_a_held_job_and_one_that_outlives_its_timeout(pool: str, workdir: Path) -> None:
    """The terminal path (run_call) polls like the deferred tasks do: a held job fails at once, a job
    past the timeout is removed; neither stays in the queue."""
    from include.condor.jobcall import run_calls

    call = TaskCall("include.core.paths:safe_name", {"value": "u", "param": "unit"})
    with pytest.raises(StepError, match="job held") as held:
        run_calls([call], workdir=workdir / "held", hook=_SubmitsHeld(), timeout=HANG_S)
    assert "kept in" in str(held.value)
    hook = HTCondorHook()
    with pytest.raises(StepError, match="not finished after 5 s; removed"):
        run_calls([call], workdir=workdir / "idle", hook=hook, timeout=5, request_memory_mb=10**8)  # never matches
    left = hook._query('JobBatchName == "hep-call.held" || JobBatchName == "hep-call.idle"', ["JobStatus"])
    assert all(ad["JobStatus"] == 3 for ad in left), left  # removed (3), or already out of the queue


def test_connection_host_and_extra_choose_collector_and_schedd(pool: str, monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = pool_collector()
    conn = json.dumps({"conn_type": "htcondor", "host": host, "port": port, "extra": {"schedd": pool}})
    monkeypatch.setenv("AIRFLOW_CONN_HTCONDOR_DEFAULT", conn)
    hook = HTCondorHook()
    assert (hook.collector, hook.schedd_name_hint) == (f"{host}:{port}", pool)
    assert hook.ping() == pool


def test_settings_are_the_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRFLOW_CONN_HTCONDOR_DEFAULT", raising=False)
    monkeypatch.setenv("HEP_CONDOR_COLLECTOR", "collector.example:9619")
    monkeypatch.setenv("HEP_CONDOR_SCHEDD", "schedd@example")
    hook = HTCondorHook()
    assert (hook.collector, hook.schedd_name_hint) == ("collector.example:9619", "schedd@example")


def test_trigger_follows_an_evicted_and_requeued_job(hook: HTCondorHook, workdir: Path) -> None:
    # the first run waits to be evicted (a short sleep could end before the Vacate on a loaded
    # machine); the requeued run finds the marker and ends at once
    marker = workdir / "first-run"
    script = f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; sleep {HANG_S}"
    spec = JobSpec(executable="/bin/sh", arguments=["-c", script], shared_fs=True, request_memory_mb=32)
    (workdir / "out").mkdir()
    sub = hook.submit(build_submit(spec, workdir=workdir, batch=f"test-evicted-{workdir.name}"), count=1)
    deadline = time.monotonic() + HANG_S
    while not marker.exists():
        assert time.monotonic() < deadline, f"job {sub.job_ids} did not start within {HANG_S} s"
        time.sleep(0.5)
    hook.act("Vacate", sub.job_ids, "test eviction")
    trigger = HTCondorJobTrigger(job_ids=sub.job_ids, event_log=str(workdir / "events.log"), poll_interval=0.3)

    async def first_event() -> dict:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    payload = asyncio.run(asyncio.wait_for(first_event(), timeout=HANG_S))
    assert payload["status"] == "done" and payload["succeeded"] == sub.job_ids
    log_state = hook.read_event_log(workdir / "events.log")[sub.job_ids[0]]
    assert log_state.evictions >= 1 and log_state.succeeded


def test_temporary_call_workdir_is_removed_after_success(pool: str) -> None:
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("hep-condor-call-*"))
    call = TaskCall("include.core.paths:safe_name", {"value": "u1", "param": "unit"})
    assert run_call(call, backend="condor") == "u1"
    assert set(Path(tempfile.gettempdir()).glob("hep-condor-call-*")) <= before
