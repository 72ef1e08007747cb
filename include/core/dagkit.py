"""What every DAG file shares: default arguments, the common trigger-form fields, the first task
that checks the form, and the wiring of the fan-in tasks that run after the units.

Only ``dags/`` and the execution layer import this module (it imports ``airflow.sdk``);
production task code never does.

Every DAG starts with :func:`validation_task` (``validate_params``): it runs the production's
form check once, never retried, and a refused form fails it at once with a message that names the
form field and the value. A task that must run after the units even when some failed (a summary,
a final check) is wired with :func:`fan_in`: it waits for everything upstream, but is
``upstream_failed`` - never run - when the form was refused, and its own failure fails the run.
A task that runs the steps of units is a :func:`unit_task`: while another task or production works
on one of its units, it gives its worker slot back and is rescheduled instead of waiting.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from airflow.sdk import Param, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException, AirflowRescheduleException, AirflowSkipException

from include.core.errors import UnitBusy, is_permanent
from include.core.steps import lock_patience
from include.settings import BACKENDS

OWNER = "hep-productions"
VALIDATE_TASK = "validate_params"
# A unit busy for longer than this (another production's run, not a sibling step finishing) sends
# the task back to the scheduler, to run again BUSY_RETRY_AFTER later; a reschedule is no retry.
LOCK_PATIENCE_S = 15.0
BUSY_RETRY_AFTER = timedelta(seconds=30)
RUN_SLOTS = 8
"""Tasks of one run that may hold a worker slot at once (the production DAGs' ``max_active_tasks``).
A unit deferred on its HTCondor job holds none and does not count: a run can have hundreds of units
waiting on the pool. (``max_active_tis_per_dagrun`` would count deferred tasks as well.)"""


def default_args(retries: int = 3, **extra: Any) -> dict[str, Any]:
    """Retries with exponential backoff for every task (they all touch files or services)."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        **extra,
    }


def backend_param(default: str = "local", choices: tuple[str, ...] = BACKENDS) -> Param:
    """The ``backend`` field: where the units run."""
    meaning = {
        "local": "local: in the Airflow worker",
        "condor": "condor: one HTCondor job per unit",
        "apptainer": "apptainer: in a container on the worker",
    }
    return Param(
        default,
        type="string",
        enum=list(choices),
        title="Backend",
        description="; ".join(meaning[c] for c in choices) + ".",
    )


def condor_params() -> dict[str, Param]:
    """The form's HTCondor section (every production offering ``condor``; see include.core.forms)."""
    from include.core.forms import DEFAULT_MEMORY_MB, HOLD_ACTIONS, MEMORY_HOLD_ACTIONS, JobOptions

    section = "HTCondor (backend condor)"
    fields = JobOptions.model_fields
    return {
        "hold_policy": Param(
            fields["hold_policy"].default,
            type="string",
            enum=list(HOLD_ACTIONS),
            title="Held job",
            description="What happens to a job the pool holds: wait (up to 4 h, for a manual condor_release), "
            "release (once; a second hold fails the task), fail (the task fails and is retried).",
            section=section,
        ),
        "on_memory_hold": Param(
            fields["on_memory_hold"].default,
            type="string",
            enum=list(MEMORY_HOLD_ACTIONS),
            title="Job over its memory",
            description="A job held for using more memory than requested: fail, or resubmit it with 1.5x "
            "the memory (up to 16 GB).",
            section=section,
        ),
        "request_memory_mb": Param(
            DEFAULT_MEMORY_MB,
            type="integer",
            minimum=64,
            title="Memory per job [MB]",
            description="request_memory of each job; a job that uses more is held (see above).",
            section=section,
        ),
    }


def force_param(choices: list[str]) -> Param:
    """The ``force`` field: re-run a step and everything downstream of it."""
    return Param(
        "none",
        type="string",
        enum=choices,
        title="Force",
        description="Re-run this step and every step that depends on it, even if its products are "
        "up to date. 'all' re-runs everything; 'none' runs only what is missing or stale.",
    )


@contextlib.contextmanager
def permanent_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Fail the task at once, without retries, on errors a retry cannot fix.

    An error :func:`~include.core.errors.is_permanent` calls permanent (a bad parameter, input
    file or configuration) and the ``extra`` types become an ``AirflowFailException`` with the same
    message; anything else is retried as usual.
    """
    try:
        yield
    except Exception as exc:
        if is_permanent(exc) or isinstance(exc, extra):
            raise AirflowFailException(str(exc)) from exc
        raise


def import_ref(ref: str) -> Any:
    """The object named by ``"package.module:name"`` (imported when the task runs, not at parse time)."""
    module, _, name = ref.partition(":")
    if not module or not name:
        raise ValueError(f"{ref!r}: expected 'package.module:name'")
    return getattr(importlib.import_module(module), name)


def validation_task(validator: str, *, permanent: Sequence[str | type[BaseException]] = (), doc: str = "") -> Any:
    """The first task of every DAG, ``validate_params``: ``validator`` checks the trigger form.

    ``validator`` (``"package.module:function"``, imported when the task runs) receives the form as
    a plain dict (optional fields may be None) and returns the normalized configuration, which is
    the task's XCom. The task is never retried (``retries=0``): a ``ParamError``,
    ``InputFileError`` or ``ConfigError`` - and the ``permanent`` types a production names, as
    classes or ``"package.module:Class"`` - fails it at once (``AirflowFailException``) with the
    validator's message, which names the form field and the value. Use the result as the task:
    ``validated = dagkit.validation_task("include.x.pipeline:validate_form")()``.
    """

    def validate_params(params: dict[str, Any] | None = None) -> Any:
        check = import_ref(validator)
        extra = tuple(import_ref(p) if isinstance(p, str) else p for p in permanent)
        with permanent_errors(*extra):
            return check(dict(params or {}))

    validate_params.__doc__ = doc or (
        "Check the trigger form. Never retried: a refused form fails here at once, naming the field and the value."
    )
    return task(task_id=VALIDATE_TASK, retries=0)(validate_params)


def fan_in(task_output: Any, validated: Any) -> Any:
    """Wire a fan-in task (summary, final check) of a DAG whose first task's XCom is ``validated``.

    The task runs once everything upstream of it is done, failed units included, but only when
    the form was accepted: it is a teardown of ``validate_params`` (trigger rule
    ``all_done_setup_success``), so a refused form leaves it ``upstream_failed`` instead of running
    it on missing inputs; ``on_failure_fail_dagrun`` keeps its failure (e.g. "2 of 5 fills failed")
    failing the run. A plain ``all_done`` task would run after a refused form, and a skipped last
    task would mark such a run successful. Returns ``task_output``.
    """
    return task_output.as_teardown(setups=validated, on_failure_fail_dagrun=True)


def upstream_result(value: Any, task_id: str) -> Any:
    """``value``, the XCom of ``task_id`` read by a fan-in task, unless that task did not succeed.

    A fan-in task runs after failed upstream tasks; their XCom is then None. This fails the fan-in
    at once (no retries) saying which task to look at, instead of a ``TypeError`` on None.
    """
    if value is None:
        raise AirflowFailException(f"task {task_id} did not succeed, so there is nothing to summarize: see its log")
    return value


def failed_tasks() -> list[str]:
    """The failed task instances of the current run: ``task`` or ``task[i]`` for a mapped instance."""
    context = get_current_context()
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    states = context["ti"].get_task_states(dag_id=dag_id, run_ids=[run_id]).get(run_id, {})
    known = set(context["dag"].task_ids)
    failed = []
    for key, state in states.items():
        if str(state) != "failed":
            continue
        task_id, _, index = key.rpartition("_")
        failed.append(f"{task_id}[{index}]" if key not in known and task_id in known and index.isdigit() else key)
    return sorted(failed)


def report_failures(where: str = "") -> NoReturn:
    """Body of a DAG's last task (wired with :func:`fan_in`): fail the run naming every failed task.

    Skips when no task failed. ``where`` is appended to the message, e.g. the file that lists the
    failed units. Never retried.
    """
    failed = failed_tasks()
    if not failed:
        raise AirflowSkipException("no task of this run failed")
    dag_id = get_current_context()["dag"].dag_id
    logs = "its log" if len(failed) == 1 else "their logs"
    raise AirflowFailException(f"{dag_id}: failed: {', '.join(failed)}; see {logs}{where}")


@contextlib.contextmanager
def reschedule_when_busy() -> Iterator[None]:
    """Run units without holding a worker slot while another task works on one of them.

    Inside, a unit whose lock stays taken for :data:`LOCK_PATIENCE_S` raises ``UnitBusy``
    (:func:`include.core.steps.lock_patience`), which reschedules the task (``up_for_reschedule``)
    to run again after :data:`BUSY_RETRY_AFTER`; a reschedule does not count as a retry.
    """
    with lock_patience(LOCK_PATIENCE_S):
        try:
            yield
        except UnitBusy as exc:
            when = datetime.now(UTC) + BUSY_RETRY_AFTER
            print(f"{exc}: the worker slot is given back; the task runs again after {when:%H:%M:%S} UTC")
            raise AirflowRescheduleException(reschedule_date=when) from exc


def unit_task(**task_kwargs: Any) -> Callable[[Callable[..., Any]], Any]:
    """``@task(**task_kwargs)`` for a task that runs the steps of units, in :func:`reschedule_when_busy`."""

    def decorate(func: Callable[..., Any]) -> Any:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            with reschedule_when_busy():
                return func(*args, **kwargs)

        return task(**task_kwargs)(run)

    return decorate
