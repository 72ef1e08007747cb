"""The operator through Airflow for real: small DAGs run with ``dag.test()`` on the personal pool."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from include.condor.hook import HTCondorHook
from include.condor.submit import batch_name

pytestmark = pytest.mark.condor

START = datetime(2026, 1, 1, tzinfo=UTC)


def run_dag(name: str, build: Callable[[], Any]) -> tuple[Any, dict[str, Any]]:
    """Build a DAG with ``build()`` inside it, run ``dag.test()``; return (dag run, task instances)."""
    from airflow.models import TaskInstance
    from airflow.sdk import DAG
    from airflow.utils.session import create_session

    dag_id = f"condor_{name}_{uuid.uuid4().hex[:8]}"
    with DAG(dag_id=dag_id, schedule=None, start_date=START, catchup=False) as dag:
        build()
    register(dag)
    dr = dag.test()
    with create_session() as session:
        rows = session.query(TaskInstance).filter_by(dag_id=dag_id, run_id=dr.run_id)
        tis = {ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]": ti for ti in rows}
        for ti in tis.values():
            session.expunge(ti)
    return dr, tis


def xcom(dr: Any, task_id: str, key: str) -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=dr.dag_id, run_id=dr.run_id, task_id=task_id, key=key).one()
        value = row.value
    if isinstance(value, str) and value[:1] in '["{':
        return json.loads(value)
    return value


def register(dag: Any) -> None:
    """Write the in-test DAG to the metadata DB (``dag.test()`` only finds DAGs of a bundle)."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager
    from airflow.dag_processing.collection import update_dag_parsing_results_in_db
    from airflow.serialization.serialized_objects import LazyDeserializedDAG
    from airflow.utils.session import create_session

    with create_session() as session:
        DagBundlesManager().sync_bundles_to_db(session=session)
        session.flush()
        update_dag_parsing_results_in_db(
            "dags-folder", None, [LazyDeserializedDAG.from_dag(dag)], {}, None, set(), session=session
        )


def operator(**kwargs: Any) -> Any:
    from include.condor.operators import HTCondorJobOperator

    kwargs.setdefault("poll_interval", 0.5)
    kwargs.setdefault("htcondor_conn_id", "htcondor_default")
    return HTCondorJobOperator(**kwargs)


def test_one_job_succeeds_with_file_transfer(pool: str, workdir: Path, python_exe: str, capfd) -> None:
    (workdir / "in.txt").write_text("hello")
    script = "import pathlib; pathlib.Path('out.txt').write_text(open('in.txt').read().upper()); print('job ran')"
    dr, tis = run_dag(
        "one",
        lambda: operator(
            task_id="job",
            executable=python_exe,
            arguments=["-c", script],
            workdir=str(workdir),
            input_files=["in.txt"],
            output_files=["out.txt"],
            submit_extra={"transfer_executable": "False"},
        ),
    )
    out = capfd.readouterr()
    text = out.out + out.err
    assert tis["job"].state == "success", text[-3000:]
    assert (workdir / "out.txt").read_text() == "HELLO"
    assert "Submitted cluster" in text and pool in text
    assert "job ran" in text  # stdout tail in the task log
    link = xcom(dr, "job", "_link_HTCondorJobLink")
    assert f"schedd={pool}" in link.replace("%40", "@") and "#cluster=" in link


def texts(capfd: Any) -> str:
    out = capfd.readouterr()
    return out.out + out.err


def test_200_proc_cluster_succeeds(pool: str, workdir: Path, capfd) -> None:
    n = 200
    _dr, tis = run_dag(
        "many",
        lambda: operator(
            task_id="many",
            executable="/bin/sh",
            proc_arguments=[["-c", 'echo "$1" > "out_$1.txt"', "sh", str(i)] for i in range(n)],
            workdir=str(workdir),
            shared_fs=True,
            request_memory_mb=64,
            poll_interval=1.0,
            expected_outputs=["out_{item}.txt"],
        ),
    )
    text = texts(capfd)
    assert tis["many"].state == "success", text[-3000:]
    outputs = sorted(workdir.glob("out_*.txt"))
    assert len(outputs) == n
    assert {p.read_text().strip() for p in outputs} == {str(i) for i in range(n)}
    assert f"({n} procs)" in text


def test_one_failing_proc_fails_the_task_and_names_it(pool: str, workdir: Path, capfd) -> None:
    script = 'if [ "$1" = 1 ]; then echo "boom-$1" >&2; exit 3; fi; echo "ok-$1"'
    _dr, tis = run_dag(
        "fail",
        lambda: operator(
            task_id="fail",
            executable="/bin/sh",
            proc_arguments=[["-c", script, "sh", str(i)] for i in range(3)],
            workdir=str(workdir),
            shared_fs=True,
        ),
    )
    text = texts(capfd)
    assert tis["fail"].state == "failed"
    assert "1 of 3 proc(s) failed" in text
    failed_line = next(line for line in text.splitlines() if "terminated (exit 3)" in line)
    assert ".1 terminated (exit 3)" in failed_line
    assert "boom-1" in text  # stderr tail of the failed proc
    assert ".0 terminated" not in text and ".2 terminated" not in text


def test_shell_injection_parameters_are_passed_literally(pool: str, workdir: Path, python_exe: str, capfd) -> None:
    evil = [
        "; touch pwned1",
        "$(touch pwned2)",
        "`touch pwned3`",
        "&& touch pwned4",
        "| tee pwned5",
        "> pwned6",
        "a b",
        "it's",
        'say "hi"',
        "$HOME",
        "",
    ]
    script = "import json, sys; json.dump(sys.argv[1:], open('argv.json', 'w'))"
    _dr, tis = run_dag(
        "inject",
        lambda: operator(
            task_id="inject",
            executable=python_exe,
            arguments=["-c", script, *evil],
            workdir=str(workdir),
            shared_fs=True,
        ),
    )
    assert tis["inject"].state == "success", texts(capfd)[-3000:]
    assert json.loads((workdir / "argv.json").read_text()) == evil
    assert not list(workdir.glob("pwned*")) and not list(Path.cwd().glob("pwned*"))


def test_missing_expected_output_fails_the_task(pool: str, workdir: Path, capfd) -> None:
    _dr, tis = run_dag(
        "outputs",
        lambda: operator(
            task_id="outputs",
            executable="/bin/sh",
            proc_arguments=[["-c", "test $1 = 1 || touch out_$1.txt", "sh", str(i)] for i in range(3)],
            workdir=str(workdir),
            shared_fs=True,
            expected_outputs=["out_{item}.txt"],
        ),
    )
    text = texts(capfd)
    assert tis["outputs"].state == "failed"
    assert "1 expected output(s) are missing: out_1.txt" in text


def test_missing_inputs_are_reported_before_submitting(pool: str, workdir: Path, capfd) -> None:
    _dr, tis = run_dag(
        "preflight",
        lambda: operator(
            task_id="preflight",
            executable="/bin/cat",
            arguments=["in.txt"],
            workdir=str(workdir),
            input_files=["in.txt"],
            container_image=str(workdir / "missing.sif"),
        ),
    )
    text = texts(capfd)
    assert tis["preflight"].state == "failed"
    assert f"input file {workdir / 'in.txt'} does not exist" in text
    assert "missing.sif does not exist" in text and "Submitted cluster" not in text


def test_unpassable_parameter_is_rejected_before_submitting(pool: str, workdir: Path, capfd) -> None:
    _dr, tis = run_dag(
        "reject",
        lambda: operator(task_id="reject", executable="/bin/echo", arguments=["$$(Memory)"], workdir=str(workdir)),
    )
    text = texts(capfd)
    assert tis["reject"].state == "failed"
    assert "'$$'" in text and "Submitted cluster" not in text


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ({"action": "fail"}, "failed"),
        ({"action": "release", "max_releases": 1}, "success"),
        ({"action": "wait", "timeout_s": 3}, "failed"),
    ],
    ids=["fail", "release", "wait-timeout"],
)
def test_held_job_meets_the_policy(
    pool: str, workdir: Path, hook: HTCondorHook, policy: dict, expected: str, capfd
) -> None:
    started = time.monotonic()
    _dr, tis = run_dag(
        "hold_" + policy["action"],
        lambda: operator(
            task_id="held",
            executable="/bin/sh",
            arguments=["-c", "echo released-and-ran"],
            workdir=str(workdir),
            shared_fs=True,
            submit_extra={"hold": "True"},  # submitted on hold
            hold_policy=policy,
        ),
    )
    text = texts(capfd)
    elapsed = time.monotonic() - started  # not the wall clock, which may be stepped
    assert tis["held"].state == expected, text[-3000:]
    assert "HoldReasonCode 15/" in text  # 15 = submitted on hold, reported with the reason
    if expected == "failed":
        assert "held job(s) removed" in text
        cluster = int(
            next(line for line in text.splitlines() if "Submitted cluster" in line).split("cluster ")[1].split()[0]
        )
        states = hook.job_states([f"{cluster}.0"])
        assert states[f"{cluster}.0"].state == "aborted"  # removed, not left held in the queue
    else:
        assert "releasing held" in text and "released-and-ran" in text
    if policy["action"] == "wait":
        assert elapsed >= 3


def test_memory_hold_resubmits_with_more_memory(pool: str, workdir: Path, python_exe: str, capfd) -> None:
    script = "x = bytearray(300 * 1024 * 1024); x[::4096] = b'1' * len(x[::4096]); import time; time.sleep(25)"
    _dr, tis = run_dag(
        "memory",
        lambda: operator(
            task_id="memory",
            executable=python_exe,
            arguments=["-c", script],
            workdir=str(workdir),
            shared_fs=True,
            request_memory_mb=100,
            hold_policy={"action": "fail", "on_memory": "resubmit", "memory_factor": 4.0, "memory_cap_mb": 1000},
            poll_interval=1.0,
        ),
    )
    text = texts(capfd)
    assert tis["memory"].state == "success", text[-3000:]
    assert "HoldReasonCode 3/34" in text
    assert "with request_memory 400 MB" in text


class CrashAfterSubmit:
    """Mixin: the first try dies after submitting (optionally before the job record is stored)."""

    lose_record = False

    def _store(self, context: Any, job: dict) -> None:
        if self.lose_record and context["ti"].try_number == 1:
            return
        super()._store(context, job)  # type: ignore[misc]

    def _after_submit(self, context: Any, job: dict) -> None:
        if context["ti"].try_number == 1:
            raise RuntimeError("simulated worker crash after submitting")


@pytest.mark.parametrize("lose_record", [False, True], ids=["record-stored", "record-lost"])
def test_retry_after_worker_crash_reconnects(
    pool: str, workdir: Path, hook: HTCondorHook, lose_record: bool, capfd
) -> None:
    from include.condor.operators import HTCondorJobOperator

    class Crashing(CrashAfterSubmit, HTCondorJobOperator):
        pass

    Crashing.lose_record = lose_record
    holder: dict[str, Any] = {}

    def build() -> None:
        holder["task"] = Crashing(
            task_id="crashy",
            executable="/bin/sh",
            arguments=["-c", "sleep 4; echo finished > done.txt"],
            workdir=str(workdir),
            shared_fs=True,
            retries=1,
            retry_delay=timedelta(seconds=0),
            poll_interval=0.5,
        )

    dr, tis = run_dag("crash", build)
    text = texts(capfd)
    assert tis["crashy"].state == "success", text[-3000:]
    assert tis["crashy"].try_number == 2
    assert "simulated worker crash" in text
    assert ("Found cluster" if lose_record else "Reconnecting to cluster") in text
    names = [batch_name(dr.dag_id, "crashy", dr.run_id, -1, try_number=t) for t in (1, 2, 3)]
    clusters = hook.find_batch(names, history=True)
    assert len(clusters) == 1, clusters  # one submission in all
    assert (workdir / "done.txt").read_text().strip() == "finished"


def test_retry_resubmits_only_the_failed_procs(pool: str, workdir: Path, capfd) -> None:
    script = 'if [ "$1" = 1 ] && [ ! -e marker ]; then touch marker; exit 3; fi; mktemp "ran_$1.XXXXXX"'
    _dr, tis = run_dag(
        "subset",
        lambda: operator(
            task_id="subset",
            executable="/bin/sh",
            proc_arguments=[["-c", script, "sh", str(i)] for i in range(3)],
            workdir=str(workdir),
            shared_fs=True,
            retries=1,
            retry_delay=timedelta(seconds=0),
        ),
    )
    text = texts(capfd)
    assert tis["subset"].state == "success", text[-3000:]
    assert tis["subset"].try_number == 2
    assert "1 of 3 proc(s) did not succeed; submitting only those again" in text
    assert (workdir / "marker").exists()
    for item in range(3):  # each item ran to success exactly once
        assert len(list(workdir.glob(f"ran_{item}.*"))) == 1


def test_container_universe_runs_a_sif(pool: str, workdir: Path, busybox_sif: Path, capfd) -> None:
    (workdir / "in.txt").write_text("from the host")
    _dr, tis = run_dag(
        "sif",
        lambda: operator(
            task_id="sif",
            executable="/bin/sh",
            arguments=["-c", "cat in.txt | tr a-z A-Z > result.txt; test -e /bin/busybox && echo in-sif"],
            workdir=str(workdir),
            container_image=str(busybox_sif),
            input_files=["in.txt"],
            output_files=["result.txt"],
            poll_interval=1.0,
        ),
    )
    text = texts(capfd)
    assert tis["sif"].state == "success", text[-3000:]
    assert (workdir / "result.txt").read_text().strip() == "FROM THE HOST"
    assert "in-sif" in text


def test_include_calls_as_one_cluster_through_the_operator(pool: str, workdir: Path, capfd) -> None:
    from include.condor.jobcall import operator_kwargs, read_results
    from include.core.backends import TaskCall

    calls = [TaskCall("include.core.paths:safe_name", {"value": f"unit{i}", "param": "unit"}) for i in range(4)]
    _dr, tis = run_dag("calls", lambda: operator(task_id="calls", **operator_kwargs(calls, workdir)))
    assert tis["calls"].state == "success", texts(capfd)[-3000:]
    assert read_results(workdir, 4) == ["unit0", "unit1", "unit2", "unit3"]


def test_mapped_tasks_get_their_own_batch_and_workdir(pool: str, capfd) -> None:
    from include.condor.operators import HTCondorJobOperator

    _dr, tis = run_dag(
        "mapped",
        lambda: HTCondorJobOperator.partial(
            task_id="mapped", executable="/bin/sh", shared_fs=True, poll_interval=0.5, expected_outputs=["marker.txt"]
        ).expand(arguments=[["-c", f"echo {i} > marker.txt"] for i in range(2)]),
    )
    text = texts(capfd)
    assert tis["mapped[0]"].state == tis["mapped[1]"].state == "success", text[-3000:]
    submitted = [line for line in text.splitlines() if "Submitted cluster" in line]
    assert len(submitted) == 2
    assert ".m0." in submitted[0] + submitted[1] and ".m1." in submitted[0] + submitted[1]
    workdirs = {line.rsplit("workdir ", 1)[1].split()[0] for line in submitted}
    assert len(workdirs) == 2
    assert sorted(Path(w, "marker.txt").read_text().strip() for w in workdirs) == ["0", "1"]
