"""The process-group runner, with plain host commands (no container, no Airflow)."""

from __future__ import annotations

import random
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from include.apptainer.runner import CommandFailed, CommandTimeout, ProcessRunner, group_members, run_command

HANG_S = 300
"""Bounds a hang only: generous for a loaded machine, far below the payloads' hour-long sleeps."""


def unique_sleep() -> str:
    return f"{random.randint(4000, 8999)}.{random.randint(100, 999)}"


def test_streams_lines_in_order_while_running(tmp_path: Path) -> None:
    """Each line is handed over while the command runs: it waits for the callback of the previous one."""
    seen: list[tuple[str, str]] = []

    def on_line(stream: str, line: str) -> None:
        seen.append((stream, line))
        (tmp_path / f"seen-{line}").touch()

    def after(line: str) -> str:  # wait (at most HANG_S) until the callback saw ``line``, else fail
        flag = tmp_path / f"seen-{line}"
        return f"i=0; while [ ! -e {flag} ] && [ $i -lt {HANG_S * 20} ]; do sleep 0.05; i=$((i+1)); done; [ -e {flag} ]"

    script = f"echo one; {after('one')} || exit 3; echo two >&2; {after('two')} || exit 4; echo three"
    result = ProcessRunner(["sh", "-c", script], on_line=on_line).run()
    assert result.ok and result.returncode == 0, result.tail
    assert seen == [("stdout", "one"), ("stderr", "two"), ("stdout", "three")]
    assert result.tail == ("one", "two", "three")


def test_tail_keeps_the_last_lines() -> None:
    result = ProcessRunner(["sh", "-c", "for i in $(seq 1 100); do echo line$i; done"], tail_lines=5).run()
    assert result.tail == ("line96", "line97", "line98", "line99", "line100")


def test_nonzero_exit_raises_with_tail() -> None:
    with pytest.raises(CommandFailed) as info:
        run_command(["sh", "-c", "echo first; echo last words >&2; exit 4"])
    assert info.value.result.returncode == 4
    message = str(info.value)
    assert "exited with code 4" in message and "first" in message and "last words" in message


def test_timeout_kills_the_whole_group(processes_containing: Callable[[str], list]) -> None:
    token = unique_sleep()
    # a grandchild in the background and one that ignores SIGTERM (needs SIGKILL)
    script = f"sleep {token} & (trap '' TERM; sleep {token}) & echo started; wait"
    # the timeout leaves a loaded machine time to start sh and print "started"
    runner = ProcessRunner(["sh", "-c", script], timeout=5.0, kill_grace=0.5)
    started = time.monotonic()
    with pytest.raises(CommandTimeout) as info:
        run_command(["sh", "-c", script], timeout=5.0, kill_grace=0.5)
    assert info.value.result.timed_out and "timed out" in str(info.value)
    assert "started" in info.value.result.tail
    assert time.monotonic() - started < HANG_S  # killed, not waiting for the sleeps (over an hour)
    assert processes_containing(token) == []
    # the same through the object, checking the group itself
    result = runner.run()
    assert result.timed_out and runner.pid is not None
    assert group_members(runner.pid) == [] and not runner.group_alive()


def test_kill_from_another_thread() -> None:
    up = threading.Event()
    runner = ProcessRunner(
        ["sh", "-c", f"echo up; sleep {unique_sleep()}"], kill_grace=1.0, on_line=lambda stream, line: up.set()
    )
    runner.start()
    assert up.wait(HANG_S), "the command printed nothing"
    threading.Thread(target=runner.kill).start()
    result = runner.wait()
    assert result.returncode < 0 and not result.timed_out
    assert result.tail == ("up",)
    assert not runner.group_alive()


def test_leftover_background_processes_are_killed_after_exit(processes_containing: Callable[[str], list]) -> None:
    token = unique_sleep()
    result = run_command(["sh", "-c", f"sleep {token} & echo done"], kill_grace=1.0)
    assert result.ok
    assert processes_containing(token) == []


def test_exception_while_waiting_kills_the_group(processes_containing: Callable[[str], list]) -> None:
    """Like Airflow's execution_timeout: SIGALRM raises in the main thread during wait()."""
    token = unique_sleep()

    class TaskTimeout(Exception):
        pass

    def on_alarm(signum: int, frame: object) -> None:
        raise TaskTimeout

    def alarm_once_running(stream: str, line: str) -> None:  # the command runs: wait() is (about to be) waiting
        signal.setitimer(signal.ITIMER_REAL, 0.5)

    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        with pytest.raises(TaskTimeout):
            run_command(
                ["sh", "-c", f"echo up; sleep {token}"], kill_grace=1.0, timeout=HANG_S, on_line=alarm_once_running
            )
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert processes_containing(token) == []


def test_a_failing_line_callback_does_not_stop_reading() -> None:
    def on_line(stream: str, line: str) -> None:
        raise RuntimeError("broken handler")

    result = ProcessRunner(["sh", "-c", "echo a; echo b"], on_line=on_line).run()
    assert result.ok and result.tail == ("a", "b")


def test_argv_validation() -> None:
    with pytest.raises(TypeError):
        ProcessRunner("echo hi")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ProcessRunner(["true"], timeout=0)
    with pytest.raises(RuntimeError):
        ProcessRunner(["true"]).wait()
