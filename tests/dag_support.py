"""Helpers shared by the tests that run DAGs and jobs (importable from every test module).

``dag.test()`` in Airflow 3.3 runs only DAGs that are serialized in the metadata database
under a configured bundle, so every DAG a test runs goes through :func:`register_dag`.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool"))


def register_dag(dag: Any) -> Any:
    """Write ``dag`` (from dags/ or built in a test) to the metadata DB; return it."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.dagbag import DagBag, sync_bag_to_db

    DagBundlesManager().sync_bundles_to_db()
    bag = DagBag(dag_folder=os.devnull)
    bag.bag_dag(dag)
    sync_bag_to_db(bag, "dags-folder", None)
    return dag


def load_dag(dag_file: str, dag_id: str, retries: int | None = 0) -> Any:
    """Parse ``dags/<dag_file>`` (no import errors allowed), set every task's retries, register it.

    ``retries=0`` keeps ``dag.test()`` from waiting out the backoff of a failing task;
    ``None`` keeps the DAG's own retries.
    """
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(REPO / "dags" / dag_file))
    assert not bag.import_errors, bag.import_errors
    dag = bag.dags[dag_id]
    if retries is not None:
        for task in dag.tasks:
            task.retries = retries
    return register_dag(dag)


def task_states(run: Any) -> dict[str, list[str]]:
    """``{task_id: [state of each (mapped) instance]}`` of a finished DAG run."""
    from airflow.utils.session import create_session

    states: dict[str, list[str]] = {}
    with create_session() as session:
        for ti in run.get_task_instances(session=session):
            states.setdefault(ti.task_id, []).append(str(ti.state))
    return states


def form_conf(dag: Any) -> dict[str, Any]:
    """The conf the trigger form submits when nothing is touched: every field's default.

    Fails naming the field when one cannot be submitted as shown: no default (the form requires a
    value), or an empty default ``""``, ``[]`` or ``{}`` whose type does not allow ``null`` (the
    Airflow 3 form shows such a field as required and invalid, and disables the Trigger button).
    """
    from airflow.sdk.definitions._internal.types import NOTSET

    conf = {}
    for name in dag.params:
        param = dag.params.get_param(name)
        types = param.schema.get("type")
        nullable = "null" in (types if isinstance(types, list) else [types])
        assert param.value is not NOTSET, f"{dag.dag_id}: field {name!r} has no default: the form requires a value"
        empty = param.value in ("", [], {}) and not isinstance(param.value, bool)
        assert nullable or not empty, f"{dag.dag_id}: field {name!r} defaults to {param.value!r} but is not nullable"
        conf[name] = param.value
    return conf


def assert_refused_at_once(dag: Any, conf: dict[str, Any], field: str, value: Any, capfd: Any) -> dict[str, list[str]]:
    """Run ``dag`` with an invalid ``conf``; return the task states after checking the outcome.

    The first task, ``validate_params``, failed on its first try (no retry) with a message that
    names the form field and the value; every other task is ``upstream_failed`` or ``skipped``
    (none ran and crashed); the run failed. ``capfd`` is pytest's fixture: ``dag.test()`` runs the
    tasks in this process and logs their exceptions to stdout.
    """
    from airflow.utils.session import create_session

    capfd.readouterr()
    run = dag.test(run_conf=conf)
    out = capfd.readouterr().out
    states = task_states(run)
    assert str(run.state) == "failed", states
    with create_session() as session:
        (first,) = [ti for ti in run.get_task_instances(session=session) if ti.task_id == "validate_params"]
        assert (str(first.state), first.try_number) == ("failed", 1), (first.state, first.try_number)
    others = {task: s for task, s in states.items() if task != "validate_params"}
    assert all(state in ("upstream_failed", "skipped") for s in others.values() for state in s), others
    messages = re.findall(r"AirflowFailException: (.*)", out)
    assert messages, "validate_params logged no AirflowFailException"
    text = value if isinstance(value, str) else repr(value)
    assert any(f"parameter {field!r}" in m and text in m for m in messages), (field, text, messages)
    return states


def pool_collector() -> tuple[str, int]:
    """The collector ``(host, port)`` of the client configuration in ``CONDOR_CONFIG``."""
    config = Path(os.environ.get("CONDOR_CONFIG") or POOL_DIR / "client" / "condor_config")
    text = config.read_text() if config.is_file() else ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "COLLECTOR_HOST":
            host, _, port = value.strip().rpartition(":")
            return host, int(port)
    return "127.0.0.1", 9618


def pool_unavailable(timeout: float = 20.0) -> str | None:
    """None if the collector and the schedd answer within ``timeout``, else why not."""
    if os.environ.get("CONDOR_CONFIG", "/dev/null") == "/dev/null":  # the wheel's stand-in when unset
        return f"CONDOR_CONFIG is unset and no pool at {POOL_DIR}"
    result: dict[str, str] = {}

    def ping() -> None:
        try:
            from include.condor.hook import HTCondorHook

            hook = HTCondorHook(None, backoff=())
            hook.ping()
            hook.get_schedd().query("False", ["ClusterId"])
        except Exception as exc:
            result["error"] = f"{type(exc).__name__}: {exc}"

    thread = threading.Thread(target=ping, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        return f"the collector/schedd did not answer within {timeout:.0f} s"
    if "error" in result:
        return f"no schedd reachable with CONDOR_CONFIG={os.environ['CONDOR_CONFIG']}: {result['error']}"
    return None


_HOLD_UNIT_LOCK = """
import sys
from pathlib import Path
from include.core.steps import unit_lock
with unit_lock(Path(sys.argv[1])):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextlib.contextmanager
def unit_held_elsewhere(workdir: Path) -> Iterator[int]:
    """Another process holds the unit lock of ``workdir`` inside the block; yields its pid."""
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD_UNIT_LOCK, str(workdir)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held", "the holder did not take the lock"
        yield holder.pid
    finally:
        holder.stdin.close()
        holder.wait(timeout=300)
        holder.stdout.close()


# A permanent error (a bad parameter) and a transient one (an unreadable file: it may appear).
PERMANENT_CALL = {"function": "include.core.paths:safe_name", "kwargs": {"value": "a;b", "param": "tag"}}
TRANSIENT_CALL = {"function": "include.core.fingerprint:sha256_file", "kwargs": {"path": "/nonexistent/hep-input.root"}}


def run_unit_call(backend: str, call: dict[str, Any], **operator: Any) -> tuple[Any, Any]:
    """One UnitCallOperator task over ``call`` on ``backend`` in a DAG with the production default_args
    (3 retries, exponential backoff; only the first delay is shortened to 1 s), run with dag.test().
    Returns (dag run, the task instance)."""
    import uuid
    from datetime import UTC, datetime, timedelta

    from airflow.models import TaskInstance
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    from include.core.dagkit import default_args
    from include.core.unit_operator import UnitCallOperator

    dag_id = f"unit_{backend}_{uuid.uuid4().hex[:8]}"
    args = default_args(retry_delay=timedelta(seconds=1))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with DAG(dag_id=dag_id, schedule=None, start_date=start, catchup=False, default_args=args) as dag:
        UnitCallOperator(
            task_id="unit",
            call="include.core.unit_operator:direct_call",
            unit={**call, "backend": backend},
            poll_interval=1.0,
            **operator,
        )
    register_dag(dag)
    run = dag.test()
    with create_session() as session:
        ti = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=run.run_id, task_id="unit").one()
        session.expunge(ti)
    return run, ti


def unclear_freshness(unit: dict[str, Any]) -> bool:
    """A ``fresh`` function that cannot tell (its input is unreadable)."""
    raise OSError(f"cannot read the products of {unit}")
