"""The README's run command: serves the UI with the demo data, and Ctrl-C leaves nothing behind.

While another process holds the lock of fill 6140, the fill's tasks give their worker slots back
(``up_for_reschedule``) instead of waiting in them, and run once the lock is free. Ctrl-C is then
tested while tasks run: the task processes run in process groups of their own, and none of them
(nor any other process run.sh started) may outlive "[run] stopped" by one second.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import runsh_stack
from dag_support import unit_held_elsewhere

from include import demo

pytestmark = pytest.mark.slow

RUNNING_TIMEOUT_S = 900.0  # until a task of the triggered run is running (a loaded machine is slow)
FILL = 6140


def test_run_script_serves_ui_with_demo_data_and_ctrl_c_ends_every_process(tmp_path: Path) -> None:
    stack = runsh_stack.start(tmp_path)
    try:
        commands = " ".join(cmd for _pid, _sid, cmd in runsh_stack.session_processes(stack.sessions()))
        for component in ("standalone", "scheduler", "dag-processor", "triggerer", "api_server"):
            assert component in commands, f"{component} is not running"
        for name in demo.available():
            assert (tmp_path / "hep" / "data" / name / demo.MARKER).is_file(), f"no demo data for {name}"
        assert f"http://localhost:{stack.port}" in stack.log_tail(100_000)

        with unit_held_elsewhere(stack.output_root / "lumi_followup" / f"fill_{FILL}"):  # another production
            status, run = stack.trigger("lumi_followup", {"fills": [FILL], "force": "all"})
            assert status == 200, run
            # the scheduled run or this one: FILL, the lowest demo fill, is the first unit (map index 0) of both
            waiting = _wait_for_task(stack, "lumi_followup", {"up_for_reschedule"}, map_index=0)
        _wait_for_task(stack, "lumi_followup", {"running"})
        tasks = [cmd for _pid, _sid, cmd in runsh_stack.session_processes(stack.sessions()) if "worker" in cmd]
        took, left = stack.interrupt()
    finally:
        if stack.proc.poll() is None:
            stack.kill()
    print(f"[run.sh] stopped {took:.1f} s after SIGINT, with {len(tasks)} task process(es) running")
    print(f"[run.sh] {waiting['task_id']} of fill {FILL} was up_for_reschedule while the fill was held")
    assert left == [], f"still running 1 s after '[run] stopped': {left}"


def _wait_for_task(stack: runsh_stack.RunSh, dag_id: str, states: set[str], map_index: int | None = None) -> dict:
    """The first task instance of any run of ``dag_id`` in one of ``states`` (and of ``map_index``)."""
    deadline = time.monotonic() + RUNNING_TIMEOUT_S
    while True:
        for run in stack.runs(dag_id):
            for ti in stack.task_instances(dag_id, run["dag_run_id"]):
                if ti["state"] in states and map_index in (None, ti["map_index"]):
                    return ti
        assert time.monotonic() < deadline, f"no task of {dag_id} in {states} after {RUNNING_TIMEOUT_S:.0f} s"
        time.sleep(1)
