"""``UnitCallOperator``: the one way a DAG runs a unit's call, on the backend the run chose.

The task builds a :class:`~include.core.backends.TaskCall` from its unit (``call``: a
``"package.module:function"`` taking the unit and the run id) and runs it

* ``local``: in the worker, with :func:`include.core.dagkit.reschedule_when_busy` (a unit busy in
  another run gives the slot back);
* ``condor``: as one HTCondor job through :class:`~include.condor.operators.HTCondorJobOperator`:
  submitted in the worker, then deferred to the triggerer (the worker slot is free while the job
  runs); a retry after a worker crash reconnects to the same cluster; the unit's ``hold_policy``
  and ``request_memory_mb`` (from the form) decide what happens to a held job; exit codes and
  stderr tails appear in the task log, the extra link names the cluster and the schedd. A unit
  whose products are already fresh (``fresh``) submits nothing: its call runs in the worker,
  where it finds nothing to do;
* ``apptainer``: in a container on the worker (``include.apptainer.jobcall``): the operator's
  ``image``, the unit's, else the runtime image ``HEP_RUNTIME_IMAGE`` with the worker's Python
  bound in (``include/apptainer/runtime_image.py``). A fresh unit starts no container either.

Every backend yields the structured result of :mod:`include.core.runcall`; ``outcome`` (optional,
``(unit, result) -> CallOutcome``) reads the production's verdict out of it, and :func:`raise_for`
is the one place that turns it into the task's state: a permanent failure (bad parameter, bad
input) fails at once, any other is retried with the DAG's backoff.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from include.condor.links import STATE_KEY
from include.condor.operators import HTCondorJobOperator
from include.condor.policy import HoldPolicy
from include.core import atomic, dagkit
from include.core.backends import TaskCall
from include.core.errors import ParamError, UnitBusy
from include.core.outcome import FAILED, SKIPPED, CallOutcome, failed_result, from_result
from include.core.runcall import structured_call
from include.settings import BACKENDS, job_environment, load_settings

CALL_FILE = "call.json"
RESULT_FILE = "result.{item}.json"


def raise_for(outcome: CallOutcome) -> Any:
    """The task's state for ``outcome``: its value, or skip, fail at once, fail to be retried."""
    if outcome.state == FAILED:
        raise (AirflowFailException if outcome.permanent else AirflowException)(outcome.message)
    if outcome.state == SKIPPED:
        raise AirflowSkipException(outcome.message)
    return outcome.value


def read_result(workdir: Path, item: int) -> dict[str, Any] | None:
    """The structured result a job wrote for proc ``item``, or None when there is none."""
    try:
        data = json.loads((workdir / RESULT_FILE.format(item=item)).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and "ok" in data else None


def direct_call(unit: Mapping[str, Any], run_id: str) -> TaskCall:
    """``call`` for a unit that names its call itself: ``{"function": ..., "kwargs": {...}}``."""
    return TaskCall(str(unit["function"]), dict(unit.get("kwargs") or {}))


class UnitCallOperator(HTCondorJobOperator):
    """Run ``call(unit, run_id=...)`` for one unit on ``unit["backend"]`` (see the module doc).

    ``unit`` is a dict (usually a mapped argument) holding ``backend`` and, for condor,
    optionally ``hold_policy`` and ``request_memory_mb``. ``options`` (fixed keyword arguments,
    e.g. the step) go to ``call``, ``outcome`` and ``fresh``. ``fresh`` (``(unit) -> bool``) says
    the unit has nothing to do; ``label`` (``(unit) -> str``) is offered to ``map_index_template``
    as ``{{ unit_label }}``; ``image`` is the apptainer image (else ``unit["image"]``) and
    ``apptainer_options`` go to :func:`include.apptainer.jobcall.run_structured`. Keyword arguments of
    :class:`HTCondorJobOperator` tune the condor path (``poll_interval``, ``request_cpus``).
    """

    # Only the unit is templated (a mapped argument): the job's executable, arguments and
    # environment are the operator's own, set in _configure, and a MappedOperator
    # (.partial().expand(unit=...)) knows only the arguments it was given.
    template_fields: Sequence[str] = ("unit",)
    ui_color = "#d9ead3"

    def __init__(
        self,
        *,
        call: str,
        unit: Any,
        options: Mapping[str, Any] | None = None,
        outcome: str | None = None,
        fresh: str | None = None,
        label: str | None = None,
        image: str | None = None,
        apptainer_options: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("poll_interval", 5.0)
        super().__init__(executable="python3", shared_fs=True, **kwargs)
        self.call = call
        self.unit = unit
        self.options = dict(options or {})
        self.outcome = outcome
        self.fresh = fresh
        self.unit_label = label
        self.image = image
        self.apptainer_options = dict(apptainer_options or {})
        self._current: dict[str, Any] = {}

    # -- the unit ----------------------------------------------------------------------------
    def _unit(self, context: Any) -> dict[str, Any]:
        unit = dict(self.unit or {})
        if self.unit_label:
            context["unit_label"] = dagkit.import_ref(self.unit_label)(unit)
        return unit

    def _backend(self, unit: Mapping[str, Any]) -> str:
        backend = unit.get("backend") or load_settings().default_backend
        if backend not in BACKENDS:
            raise AirflowFailException(str(ParamError("backend", f"{backend!r} is not one of {', '.join(BACKENDS)}")))
        return str(backend)

    def _task_call(self, unit: dict[str, Any], context: Any) -> TaskCall:
        call = dagkit.import_ref(self.call)(unit, run_id=context["run_id"], **self.options)
        if not isinstance(call, TaskCall):
            raise AirflowFailException(f"{self.call} returned {type(call).__name__}, not a TaskCall")
        return call

    def _finish(self, unit: dict[str, Any], result: Mapping[str, Any]) -> Any:
        judge = dagkit.import_ref(self.outcome) if self.outcome else None
        outcome = judge(unit, result, **self.options) if judge else from_result(result)
        if not result.get("ok") and result.get("traceback"):
            self.log.error("the call raised:\n%s", result["traceback"])
        if outcome.state == FAILED:
            self.log.error("%s%s", "permanent failure (not retried): " if outcome.permanent else "", outcome.message)
        return raise_for(outcome)

    def _fresh(self, unit: Mapping[str, Any]) -> bool:
        """Whether the ``fresh`` function says the unit has nothing to do. Anything unclear (it
        raises: an unreadable input, a bad parameter) is not fresh: the call reports it, on the
        backend the run chose."""
        if not self.fresh:
            return False
        try:
            return bool(dagkit.import_ref(self.fresh)(unit, **self.options))
        except Exception as exc:
            self.log.info("freshness unclear (%s: %s); the call runs and reports it", type(exc).__name__, exc)
            return False

    # -- execute -----------------------------------------------------------------------------
    def execute(self, context: Any) -> Any:
        unit = self._current = self._unit(context)
        backend = self._backend(unit)
        call = self._task_call(unit, context)
        if backend in ("condor", "apptainer") and self._fresh(unit):
            self.log.info("%s: the unit's products are fresh; no job or container is started", call.function)
            backend = "local"
        self.log.info("running %s on backend %s", call.function, backend)
        if backend == "local":
            # a unit another task works on gives the worker slot back (up_for_reschedule)
            with dagkit.reschedule_when_busy():
                return self._finish(unit, structured_call(call, passthrough=(UnitBusy,)))
        if backend == "apptainer":
            from include.apptainer.jobcall import run_structured

            return self._finish(unit, run_structured(call, **self._apptainer_options(unit)))
        return self._condor_execute(context, unit, call)

    def _apptainer_options(self, unit: Mapping[str, Any]) -> dict[str, Any]:
        """The image (the operator's, the unit's, else HEP_RUNTIME_IMAGE, run with the worker's
        Python bound in) and the options of :func:`~include.apptainer.jobcall.run_structured`."""
        image = self.image or unit.get("image")
        if image:
            return {"image": image, **self.apptainer_options}
        from include.core.forms import runtime_image

        try:
            return {"image": runtime_image(), "host_python": True, **self.apptainer_options}
        except ParamError as exc:
            raise AirflowFailException(str(exc)) from exc

    def _condor_execute(self, context: Any, unit: dict[str, Any], call: TaskCall) -> Any:
        batch, _ = self._names(context)
        workdir = self._workdir(batch)
        workdir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(workdir / CALL_FILE, call.to_json())
        self._configure(unit, workdir)
        return super().execute(context)

    def _configure(self, unit: Mapping[str, Any], workdir: Path) -> None:
        """The job of the call in ``workdir`` (the same in execute and after the deferral)."""
        from include.condor.jobcall import job_python

        self.executable = job_python()
        self.workdir = str(workdir)
        self.proc_arguments = [["-m", "include.core.runcall", CALL_FILE, RESULT_FILE.format(item=0)]]
        self.environment = job_environment()
        self.submit_extra = {"transfer_executable": "False", **self.submit_extra}
        self.hold_policy = HoldPolicy.coerce(unit.get("hold_policy"))
        self.request_memory_mb = int(unit.get("request_memory_mb") or self.request_memory_mb)

    def _after_submit(self, context: Any, job: dict[str, Any]) -> None:
        """Fault injection (``HEP_FAULT_PAUSE_AFTER_SUBMIT_S``): wait with the job submitted and recorded."""
        pause = load_settings(airflow_variables=True).fault_pause_after_submit_s
        if pause > 0:
            atomic.write_text(Path(job["workdir"]) / "submitted.pid", f"{os.getpid()} {os.getppid()}\n")
            self.log.warning("fault injection: pausing %.0f s after submitting (pids in submitted.pid)", pause)
            time.sleep(pause)

    def _submit(self, hook: Any, batch: str, workdir: Path, item_ids: Any, memory_mb: int) -> Any:
        """Submit after removing the items' results of an earlier try (never read a stale one)."""
        for item in item_ids:
            (workdir / RESULT_FILE.format(item=item)).unlink(missing_ok=True)
        self.submit_extra = {k: v for k, v in self.submit_extra.items() if k != "hold"}
        if load_settings(airflow_variables=True).fault_submit_held:
            self.log.warning("fault injection (HEP_FAULT_SUBMIT_HELD): the job is submitted on hold")
            self.submit_extra["hold"] = "True"
        return super()._submit(hook, batch, workdir, item_ids, memory_mb)

    def execute_complete(self, context: Any, event: dict[str, Any], job: dict[str, Any] | None = None) -> Any:
        unit = self._current = self._unit(context)
        store = context.get("task_state_store")
        job = job or (store.get(STATE_KEY) if store is not None else None)
        if job:
            self._configure(unit, Path(job["workdir"]))
        if job and event.get("status") == "done" and self._results(job) is not None:
            self._job = job
            self._log_tails(job, [], succeeded=event.get("succeeded", []))
            return self._result(job)
        # held, polling gave up, or a proc that wrote no result (killed, evicted): retried
        return super().execute_complete(context, event, job)

    def _results(self, job: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        workdir = Path(job["workdir"])
        results = [read_result(workdir, i) for i in sorted(set(job["jobs"].values()))]
        return None if any(r is None for r in results) else results  # type: ignore[return-value]

    def _result(self, job: Mapping[str, Any]) -> Any:
        """The outcome of a finished cluster (also when a retry finds it already done)."""
        results = self._results(job)
        if results is None:
            raise AirflowException(f"cluster(s) of batch {job['batch']} finished without a result in {job['workdir']}")
        self.log.info("HTCondor job(s) %s on schedd %s finished", sorted(job["jobs"]), job["schedd"])
        return self._finish(self._current, _combined(results, job))


def _combined(results: list[dict[str, Any]], job: Mapping[str, Any]) -> dict[str, Any]:
    """One structured result for the procs of a unit's job (a unit is one proc)."""
    failed = [r for r in results if not r.get("ok")]
    if not failed:
        return results[0] if len(results) == 1 else {"ok": True, "result": [r.get("result") for r in results]}
    outcome = failed_result(failed[0], where=f"HTCondor job on schedd {job.get('schedd')}: ")
    return {**failed[0], "error": outcome.message, "permanent": all(r.get("permanent") for r in failed)}
