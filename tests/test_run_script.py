"""The README's run command: serves the UI with the demo data, and Ctrl-C leaves nothing behind.

Ctrl-C is tested while a task runs: the task processes run in process groups of their own, and
none of them (nor any other process run.sh started) may outlive "[run] stopped" by one second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import runsh_stack

from include import demo

pytestmark = pytest.mark.slow

RUNNING_TIMEOUT_S = 900.0  # until a task of the triggered run is running (a loaded machine is slow)


def test_run_script_serves_ui_with_demo_data_and_ctrl_c_ends_every_process(tmp_path: Path) -> None:
    stack = runsh_stack.start(tmp_path)
    try:
        commands = " ".join(cmd for _pid, _sid, cmd in runsh_stack.session_processes(stack.sessions()))
        for component in ("standalone", "scheduler", "dag-processor", "triggerer", "api_server"):
            assert component in commands, f"{component} is not running"
        for name in demo.available():
            assert (tmp_path / "hep" / "data" / name / demo.MARKER).is_file(), f"no demo data for {name}"
        assert f"http://localhost:{stack.port}" in stack.log_tail(100_000)

        status, run = stack.trigger("lumi_followup", {"fills": [6140], "force": "all"})
        assert status == 200, run
        deadline = time.monotonic() + RUNNING_TIMEOUT_S
        while not _task_running(stack, "lumi_followup"):  # unpausing may also have scheduled a run
            assert time.monotonic() < deadline, f"no task running after {RUNNING_TIMEOUT_S:.0f} s"
            time.sleep(1)
        tasks = [cmd for _pid, _sid, cmd in runsh_stack.session_processes(stack.sessions()) if "worker" in cmd]
        took, left = stack.interrupt()
    finally:
        if stack.proc.poll() is None:
            stack.kill()
    print(f"[run.sh] stopped {took:.1f} s after SIGINT, with {len(tasks)} task process(es) running")
    assert left == [], f"still running 1 s after '[run] stopped': {left}"


def _task_running(stack: runsh_stack.RunSh, dag_id: str) -> bool:
    return any(
        ti["state"] == "running" for run in stack.runs(dag_id) for ti in stack.task_instances(dag_id, run["dag_run_id"])
    )
