"""Run an argv in its own process group, stream its output line by line, enforce a timeout.

No Airflow here: :class:`ApptainerOperator` and the ``apptainer`` backend are thin layers over
:class:`ProcessRunner`. The child starts a process group of its own (``process_group=0``), so its
process group id is its pid and everything it starts (apptainer's starter, the container
payload, their children) can be signalled at once: SIGTERM, a grace period, then SIGKILL. It stays
in the caller's session, so whoever ends that session (``scripts/run.sh`` on Ctrl-C) ends it too.
The group is also killed when waiting is interrupted (an Airflow task timeout, Ctrl-C) and
when the leader exits but left processes behind.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import IO

from include.core.errors import ProductionError

log = logging.getLogger(__name__)

LineCallback = Callable[[str, str], None]
"""Called as ``on_line(stream, line)`` with stream ``"stdout"`` or ``"stderr"``."""


@dataclass(frozen=True)
class RunResult:
    """What a finished command left: exit code, the last output lines, timing."""

    argv: tuple[str, ...]
    returncode: int
    tail: tuple[str, ...]
    duration: float
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    def describe(self) -> str:
        """One line: how the command ended."""
        if self.timed_out:
            how = "timed out (process group killed)"
        elif self.returncode < 0:
            how = f"was killed by {signal.Signals(-self.returncode).name}"
        else:
            how = f"exited with code {self.returncode}"
        return f"command {how} after {self.duration:.1f} s: {shlex.join(self.argv)}"

    def report(self) -> str:
        """:meth:`describe` plus the output tail."""
        return f"{self.describe()}\n--- last {len(self.tail)} lines of output ---\n" + "\n".join(self.tail)


class CommandFailed(ProductionError):
    """The command exited non-zero or was killed; ``result`` holds the details."""

    def __init__(self, result: RunResult) -> None:
        super().__init__(result.report())
        self.result = result


class CommandTimeout(CommandFailed):
    """The command ran longer than its timeout and its process group was killed."""


class ProcessRunner:
    """One run of ``argv``: :meth:`start`, then :meth:`wait`; :meth:`kill` from anywhere."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
        timeout: float | None = None,
        kill_grace: float = 5.0,
        tail_lines: int = 50,
        on_line: LineCallback | None = None,
    ) -> None:
        if isinstance(argv, str) or not argv or not all(isinstance(a, str) for a in argv):
            raise TypeError("argv must be a non-empty list of strings")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be positive")
        self.argv = tuple(argv)
        self.env = None if env is None else dict(env)
        self.cwd = cwd
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.on_line = on_line
        self._tail: deque[str] = deque(maxlen=max(tail_lines, 1))
        self._proc: subprocess.Popen[bytes] | None = None
        self._readers: list[threading.Thread] = []
        self._started = 0.0

    @property
    def pid(self) -> int | None:
        """The leader's pid, which is also the process group id."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> int:
        """Start the process in a process group of its own and the threads that read its output."""
        if self._proc is not None:
            raise RuntimeError("already started")
        self._started = time.monotonic()
        self._proc = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=self.cwd,
            process_group=0,
        )
        for name, pipe in (("stdout", self._proc.stdout), ("stderr", self._proc.stderr)):
            assert pipe is not None
            thread = threading.Thread(target=self._read, args=(name, pipe), name=f"runner-{name}", daemon=True)
            thread.start()
            self._readers.append(thread)
        return self._proc.pid

    def _read(self, stream: str, pipe: IO[bytes]) -> None:
        with pipe:
            for raw in iter(pipe.readline, b""):
                line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                self._tail.append(line)
                if self.on_line is not None:
                    try:
                        self.on_line(stream, line)
                    except Exception:  # a broken log handler must not stop the reading
                        log.exception("output callback failed")

    def group_alive(self) -> bool:
        """True while a live (non-zombie) process of the group exists."""
        if self._proc is None:
            return False
        self._proc.poll()  # reap the leader
        return bool(group_members(self._proc.pid))

    def _signal_group(self, sig: signal.Signals) -> None:
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self._proc.pid, sig)

    def _wait_group_gone(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if not self.group_alive():
                return True
            time.sleep(0.05)
        return not self.group_alive()

    def kill(self) -> None:
        """SIGTERM the whole group, then SIGKILL whatever is left after the grace period."""
        if self._proc is None or not self.group_alive():
            return
        self._signal_group(signal.SIGTERM)
        if self._wait_group_gone(self.kill_grace):
            return
        log.warning("process group %d survived SIGTERM for %.1f s; sending SIGKILL", self._proc.pid, self.kill_grace)
        self._signal_group(signal.SIGKILL)
        self._wait_group_gone(5.0)

    def wait(self) -> RunResult:
        """Wait for the end (or the timeout), kill leftovers and return the result."""
        if self._proc is None:
            raise RuntimeError("not started")
        timed_out = False
        try:
            while True:
                remaining = None if self.timeout is None else self._started + self.timeout - time.monotonic()
                if remaining is not None and remaining <= 0:
                    timed_out = True
                    break
                try:
                    self._proc.wait(timeout=0.5 if remaining is None else min(remaining, 0.5))
                    break
                except subprocess.TimeoutExpired:
                    continue
        finally:
            self.kill()  # timeout, interruption, or children the leader left behind
        returncode = self._proc.wait()
        for thread in self._readers:
            thread.join(timeout=5.0)
        return RunResult(
            argv=self.argv,
            returncode=returncode,
            tail=tuple(self._tail),
            duration=time.monotonic() - self._started,
            timed_out=timed_out,
        )

    def run(self) -> RunResult:
        try:
            self.start()
            return self.wait()
        except BaseException:  # an interruption (task timeout, Ctrl-C) before wait() took over the group
            self.kill()
            raise


def group_members(pgid: int) -> list[int]:
    """Pids of the live (non-zombie) processes in process group ``pgid``.

    Zombies are left out: once dead, a process whose parent has gone waits for init to reap
    it, which on some machines takes seconds. Without ``/proc`` this falls back to ``killpg``.
    """
    if not os.path.isdir("/proc/self"):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields after the command name: state, ppid, pgrp, ...
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def run_command(argv: Sequence[str], *, check: bool = True, **options: object) -> RunResult:
    """Run ``argv`` with :class:`ProcessRunner`; raise :class:`CommandFailed` on failure if ``check``."""
    result = ProcessRunner(argv, **options).run()  # type: ignore[arg-type]
    if check and result.timed_out:
        raise CommandTimeout(result)
    if check and not result.ok:
        raise CommandFailed(result)
    return result
