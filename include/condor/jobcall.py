"""The ``condor`` backend: run ``include`` function calls as HTCondor jobs.

Each call runs as ``<python> -m include.core.runcall CALL.json RESULT.json``, where python is
``HEP_JOB_PYTHON`` or this interpreter, so the job imports the same ``include``. With
``shared_fs=True`` (default for this helper; the personal pool shares the repo and /tmp) the
job works in ``workdir``; with ``shared_fs=False`` the call and result files are transferred.

:func:`run_call` blocks until its job ends (the backends contract): it is for a terminal or a
script (``run_call(call, "condor")``), not for Airflow tasks. DAGs run their units through
:class:`~include.core.unit_operator.UnitCallOperator`, which submits the same job and defers to
the triggerer instead of polling in a worker slot. :func:`calls_submission` builds one cluster
(one proc per call) for :class:`~include.condor.operators.HTCondorJobOperator` or :func:`run_calls`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from include.condor.files import tail
from include.condor.hook import HTCondorHook, Submitted
from include.condor.submit import JobSpec, build_submit, cluster_template, items_for_argvs
from include.condor.triggers import HTCondorJobTrigger
from include.core import atomic
from include.core.backends import TaskCall
from include.core.errors import StepError
from include.settings import job_environment

CALL_FILE = "call.{i}.json"
RESULT_FILE = "result.{i}.json"


def job_python() -> str:
    from include.settings import load_settings

    return load_settings().job_python or sys.executable


def _argv(i: int) -> list[str]:
    return ["-m", "include.core.runcall", CALL_FILE.format(i=i), RESULT_FILE.format(i=i)]


def calls_submission(
    calls: Sequence[TaskCall],
    workdir: str | Path,
    *,
    batch: str,
    shared_fs: bool = True,
    request_memory_mb: int = 1024,
    request_cpus: int = 1,
    python: str | None = None,
) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Write the call files and return (submit template, itemdata): one proc per call."""
    workdir = Path(workdir)
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    for i, call in enumerate(calls):
        atomic.write_text(workdir / CALL_FILE.format(i=i), call.to_json())
    spec = JobSpec(
        executable=python or job_python(),
        request_cpus=request_cpus,
        request_memory_mb=request_memory_mb,
        shared_fs=shared_fs,
        environment=job_environment(),
        extra={"transfer_executable": "False"},
    )
    desc = build_submit(spec, workdir=workdir, batch=batch)
    if not shared_fs:  # the item variables are expanded by HTCondor, not written by us
        desc["transfer_input_files"] = "$(hep_call)"
        desc["transfer_output_files"] = "$(hep_result)"
    items = items_for_argvs(
        [_argv(i) for i in range(len(calls))],
        [{"hep_call": CALL_FILE.format(i=i), "hep_result": RESULT_FILE.format(i=i)} for i in range(len(calls))],
    )
    return cluster_template(desc), items


def operator_kwargs(
    calls: Sequence[TaskCall], workdir: str | Path, *, python: str | None = None, **extra: Any
) -> dict[str, Any]:
    """Keyword arguments for ``HTCondorJobOperator``: one proc per call, on a shared filesystem.

    Writes the call files now (at DAG-run time, e.g. in an upstream task); results are read
    with :func:`read_results` once the operator succeeded.
    """
    workdir = Path(workdir)
    (workdir / "out").mkdir(parents=True, exist_ok=True)
    for i, call in enumerate(calls):
        atomic.write_text(workdir / CALL_FILE.format(i=i), call.to_json())
    return {
        "executable": python or job_python(),
        "proc_arguments": [_argv(i) for i in range(len(calls))],
        "workdir": str(workdir),
        "shared_fs": True,
        "environment": job_environment(),
        "expected_outputs": [RESULT_FILE.replace("{i}", "{item}")],
        "submit_extra": {"transfer_executable": "False"},
        **extra,
    }


def read_results(workdir: str | Path, count: int) -> list[Any]:
    """Results of calls 0..count-1 (raise on the first failed one)."""
    return [read_result(workdir, i) for i in range(count)]


def read_result(workdir: str | Path, i: int, job_id: str = "") -> Any:
    """The decoded result of call ``i``, or raise with the job's stderr tail."""
    workdir = Path(workdir)
    path = workdir / RESULT_FILE.format(i=i)
    err = tail(workdir / "out" / f"{job_id}.err") if job_id else ""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StepError(f"job {job_id or i}: no readable result {path} ({exc}); stderr tail:\n{err}") from exc
    if not data.get("ok"):
        raise StepError(f"job {job_id or i}: {data.get('error')}; stderr tail:\n{err}")
    return data.get("result")


def wait(hook: HTCondorHook, sub: Submitted, workdir: Path, timeout: float, poll: float = 0.5) -> None:
    """Block until every proc is final, polling as the deferred tasks do (:class:`HTCondorJobTrigger`
    with the hold policy ``fail``); remove the procs on timeout or when one is held."""
    trigger = HTCondorJobTrigger(
        sub.job_ids,
        event_log=str(workdir / "events.log"),
        collector=hook.collector,
        schedd=hook.schedd_name_hint,
        poll_interval=poll,
        hold_policy={"action": "fail"},
        backoff=list(hook.backoff),
    )

    async def first_event() -> dict[str, Any]:
        async for event in trigger.run():
            return dict(event.payload)
        raise StepError(f"cluster {sub.cluster}: the poller ended without an event")

    try:
        event = asyncio.run(asyncio.wait_for(first_event(), timeout))
    except TimeoutError:
        hook.remove(sub.job_ids, "timeout")
        raise StepError(f"cluster {sub.cluster}: not finished after {timeout:.0f} s; removed") from None
    if event["status"] == "held":
        hook.remove(sub.job_ids, "held")
        raise StepError(f"job held: {event['message']}")
    if event["status"] != "done":
        raise StepError(f"cluster {sub.cluster}: {event['message']}")


def run_calls(
    calls: Sequence[TaskCall],
    *,
    workdir: str | Path | None = None,
    timeout: float = 3600.0,
    hook: HTCondorHook | None = None,
    batch: str | None = None,
    **options: Any,
) -> list[Any]:
    """Run ``calls`` as one cluster and return their results in order (raise on the first failure).

    Without ``workdir`` a temporary one under /tmp (seen by the pool) is used and removed after
    success; after a failure it is kept and named in the error.
    """
    temporary = workdir is None
    workdir = Path(tempfile.mkdtemp(prefix="hep-condor-call-")) if workdir is None else Path(workdir)
    hook = hook or HTCondorHook()
    batch = batch or f"hep-call.{workdir.name}"
    try:
        template, items = calls_submission(calls, workdir, batch=batch, **options)
        sub = hook.submit(template, itemdata=items)
        wait(hook, sub, workdir, timeout)
        results = [read_result(workdir, i, job_id) for i, job_id in enumerate(sub.job_ids)]
    except StepError as exc:
        raise StepError(f"{exc}\n(job files kept in {workdir})") from exc
    if temporary:
        shutil.rmtree(workdir, ignore_errors=True)
    return results


def run_call(call: TaskCall, **options: Any) -> Any:
    """Backend entry point: run one call as one job and return its decoded result."""
    return run_calls([call], **options)[0]
