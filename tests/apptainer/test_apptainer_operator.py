"""ApptainerOperator through Airflow for real: a DAG built here, run with ``dag.test()``."""

from __future__ import annotations

import datetime as dt
import random
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from airflow.sdk import DAG
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowTaskTimeout

from include.apptainer.operators import ApptainerOperator

pytestmark = pytest.mark.apptainer

TIMEOUT_S = 10.0
"""The timeout under test: long enough for a loaded machine to start the container and print a line
(``apptainer exec`` of the busybox image takes 0.3-0.5 s at load 7 on 2 cores)."""
KILL_GRACE_S = 1.0
HANG_S = 300
"""Bounds a hang only: generous for a loaded machine, far below the payloads' hour-long sleeps."""


class Run:
    """What one ``dag.test()`` left behind."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.errors: dict[str, BaseException] = {}
        self.xcom: dict[str, Any] = {}
        self.durations: dict[str, float] = {}
        self.token = f"{random.randint(4000, 8999)}.{random.randint(100, 999)}"
        self.inputs = Path()
        self.outputs = Path()


@pytest.fixture(scope="module")
def run(
    busybox_sif: Path,
    tmp_path_factory: pytest.TempPathFactory,
    run_dag: Callable[[object], Any],
    timings: dict[str, float],
) -> Run:
    result = Run()
    base = tmp_path_factory.mktemp("operator")
    result.inputs, result.outputs = base / "in", base / "out"
    result.inputs.mkdir()
    result.outputs.mkdir()
    (result.inputs / "events.txt").write_text("1234 events\n")

    def remember_error(context: dict[str, Any]) -> None:
        result.errors[context["task_instance"].task_id] = context["exception"]

    image = str(busybox_sif)
    with DAG(
        "apptainer_operator_test",
        schedule=None,
        start_date=dt.datetime(2026, 1, 1),
        default_args={"on_failure_callback": remember_error},
    ) as dag:
        ApptainerOperator(
            task_id="process",
            image=image,
            command=[
                "sh",
                "-c",
                'echo "reading $(cat /in/events.txt)"; echo "$(cat /in/events.txt) tag=$RUN_TAG" > /out/summary.txt',
            ],
            binds=[f"{result.inputs}:/in:ro", f"{result.outputs}:/out"],
            env={"RUN_TAG": "{{ dag.dag_id }}/{{ task.task_id }}"},
        )
        ApptainerOperator(
            task_id="fails",
            image=image,
            command=["sh", "-c", "for i in $(seq 1 80); do echo progress $i; done; echo 'disk full' >&2; exit 7"],
            tail_lines=20,
        )
        ApptainerOperator(
            task_id="times_out",
            image=image,
            command=["sh", "-c", f"sleep {result.token} & echo started; sleep {result.token}"],
            timeout=TIMEOUT_S,
            kill_grace=KILL_GRACE_S,
        )
        ApptainerOperator(
            task_id="task_timeout",
            image=image,
            command=["sh", "-c", f"echo started; sleep {result.token}1"],
            execution_timeout=dt.timedelta(seconds=TIMEOUT_S),
            kill_grace=KILL_GRACE_S,
        )
        ApptainerOperator(task_id="skipped", image=image, command=["sh", "-c", "exit 99"], skip_on_exit_code=99)
        ApptainerOperator(task_id="bad_bind", image=image, command=["true"], binds=["relative/dir:/data"])
        ApptainerOperator(
            task_id="literal",
            image=image,
            command=["echo", "; rm -rf /out", "$(touch /out/pwned)", "`id`"],
            binds=[f"{result.outputs}:/out"],
        )

    started = time.monotonic()
    dagrun = run_dag(dag)
    timings["dag.test() with 7 ApptainerOperator tasks"] = time.monotonic() - started
    for ti in dagrun.get_task_instances():  # type: ignore[attr-defined]
        result.states[ti.task_id] = str(ti.state)
        if ti.start_date and ti.end_date:
            result.durations[ti.task_id] = (ti.end_date - ti.start_date).total_seconds()
    result.xcom = _xcoms(dagrun)
    return result


def _xcoms(dagrun: Any) -> dict[str, Any]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.query(XComModel).filter_by(dag_id=dagrun.dag_id, run_id=dagrun.run_id, key="return_value")
        return {row.task_id: row.value for row in rows}


def test_binds_env_and_written_file(run: Run) -> None:
    assert run.states["process"] == "success"
    assert (run.outputs / "summary.txt").read_text() == "1234 events tag=apptainer_operator_test/process\n"
    assert run.xcom["process"]["exit_code"] == 0
    assert run.xcom["process"]["tail"] == ["reading 1234 events"]


def test_nonzero_exit_fails_with_the_output_tail(run: Run) -> None:
    assert run.states["fails"] == "failed"
    error = run.errors["fails"]
    assert isinstance(error, AirflowException)
    message = str(error)
    assert "exited with code 7" in message
    assert "disk full" in message and "progress 80" in message
    assert "progress 60" not in message  # only the last tail_lines=20 lines
    assert "fails" not in run.xcom


def test_timeout_kills_the_process_group(run: Run, processes_containing: Callable[[str], list]) -> None:
    assert run.states["times_out"] == "failed"
    message = str(run.errors["times_out"])
    assert f"timeout of {TIMEOUT_S} s reached" in message and "started" in message
    killed_after = float(re.search(r"process group killed\) after ([0-9.]+) s", message).group(1))  # type: ignore[union-attr]
    assert TIMEOUT_S <= killed_after < TIMEOUT_S + HANG_S  # killed at the timeout, not after the sleeps
    assert processes_containing(run.token) == []


def test_airflow_execution_timeout_kills_the_process_group(
    run: Run, processes_containing: Callable[[str], list]
) -> None:
    assert run.states["task_timeout"] == "failed"
    assert isinstance(run.errors["task_timeout"], AirflowTaskTimeout)
    assert run.durations["task_timeout"] < TIMEOUT_S + HANG_S  # the payload sleeps for over an hour
    assert processes_containing(f"{run.token}1") == []


def test_skip_on_exit_code(run: Run) -> None:
    assert run.states["skipped"] == "skipped"


def test_invalid_bind_fails_without_retry(run: Run) -> None:
    assert run.states["bad_bind"] == "failed"
    assert isinstance(run.errors["bad_bind"], AirflowFailException)
    assert "must be an absolute path" in str(run.errors["bad_bind"])


def test_injection_arguments_are_literal(run: Run) -> None:
    assert run.states["literal"] == "success"
    assert run.xcom["literal"]["tail"][-1] == "; rm -rf /out $(touch /out/pwned) `id`"
    assert not (run.outputs / "pwned").exists()
    assert (run.outputs / "summary.txt").exists()


def test_on_kill_kills_the_group(busybox_sif: Path, processes_containing: Callable[[str], list]) -> None:
    """``on_kill`` (what Airflow calls when a user stops the task) ends the container."""
    token = f"{random.randint(4000, 8999)}.{random.randint(100, 999)}"
    operator = ApptainerOperator(
        task_id="killed",
        image=str(busybox_sif),
        command=["sh", "-c", f"echo up; sleep {token}"],
        kill_grace=1.0,
        timeout=HANG_S,  # if on_kill did nothing, this ends the test (with another message)
    )

    def kill_once_the_payload_runs() -> None:
        deadline = time.monotonic() + HANG_S
        while time.monotonic() < deadline:
            if any(cmdline.startswith("sleep ") for _, cmdline in processes_containing(token)):
                break
            time.sleep(0.1)
        operator.on_kill()

    killer = threading.Thread(target=kill_once_the_payload_runs)
    killer.start()
    started = time.monotonic()
    with pytest.raises(AirflowException, match="killed by SIGTERM"):
        operator.execute(context={})
    killer.join()
    assert time.monotonic() - started < HANG_S
    assert processes_containing(token) == []


def test_templated_fields() -> None:
    assert set(ApptainerOperator.template_fields) == {"image", "command", "binds", "env", "pwd"}
