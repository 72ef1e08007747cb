"""``ApptainerOperator``: run a command in an apptainer (or singularity) container.

A thin layer over :func:`~include.apptainer.command.build_command` and
:class:`~include.apptainer.runner.ProcessRunner`: output is streamed into the task log line by
line while the container runs; a timeout or ``on_kill`` kills the whole process group; a
non-zero exit fails the task with the last output lines in the error. Invalid parameters (a
missing bind source, a bad environment name) fail the task without retries.
"""

from __future__ import annotations

import random
import time
from collections.abc import Container, Iterable, Mapping, Sequence
from typing import Any, ClassVar

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from include.apptainer.command import BindLike, build_command
from include.apptainer.runner import ProcessRunner
from include.core.errors import ProductionError

XCOM_TAIL_LINES = 10


class ApptainerOperator(BaseOperator):
    """Run ``apptainer <action> [flags] <image> <command...>`` and stream its output.

    :param image: local SIF or sandbox path, or a URI such as ``docker://...`` (templated).
    :param command: argv list run in the container (templated, element by element); never a
        shell string. For ``action="run"`` these are the runscript's arguments.
    :param binds: ``["src[:dst[:ro|rw]]", ...]`` or ``{src: dst}``; sources must exist (templated).
    :param env: environment of the container, passed as ``--env`` (templated). The values
        appear in the process list and the task log: pass secrets in a bound file instead.
    :param timeout: seconds before the process group is killed (SIGTERM, then SIGKILL after
        ``kill_grace``) and the task fails.
    :param skip_on_exit_code: exit codes that mark the task skipped instead of failed.
    :param start_jitter: sleep up to this many seconds first (many containers starting at
        once on one node have collided).
    :param return_output: push ``{"exit_code", "tail", "duration_s"}`` to XCom (the tail holds
        the last 10 lines).
    """

    template_fields: Sequence[str] = ("image", "command", "binds", "env", "pwd")
    template_fields_renderers: ClassVar[dict[str, str]] = {"command": "py", "binds": "py", "env": "json"}
    ui_color = "#c9e2f5"

    def __init__(
        self,
        *,
        image: str,
        command: Sequence[str] | None = None,
        action: str = "exec",
        binds: Iterable[BindLike] | Mapping[str, str] | None = None,
        env: Mapping[str, object] | None = None,
        pwd: str | None = None,
        contain: bool = False,
        cleanenv: bool = True,
        no_home: bool = True,
        extra_flags: Sequence[str] = (),
        executable: str | None = None,
        timeout: float | None = None,
        kill_grace: float = 10.0,
        tail_lines: int = 50,
        skip_on_exit_code: int | Container[int] | None = None,
        start_jitter: float = 0.0,
        return_output: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.image = image
        self.command = list(command) if command is not None and not isinstance(command, str) else command
        self.action = action
        self.binds = binds
        self.env = dict(env) if env else {}
        self.pwd = pwd
        self.contain = contain
        self.cleanenv = cleanenv
        self.no_home = no_home
        self.extra_flags = list(extra_flags)
        self.executable = executable
        self.timeout = timeout
        self.kill_grace = kill_grace
        self.tail_lines = tail_lines
        if isinstance(skip_on_exit_code, int):
            skip_on_exit_code = (skip_on_exit_code,)
        self.skip_on_exit_code = tuple(skip_on_exit_code or ())
        self.start_jitter = start_jitter
        self.return_output = return_output
        self._runner: ProcessRunner | None = None

    def build_argv(self) -> list[str]:
        """The validated argv (after templating)."""
        return build_command(
            self.image,
            self.command or (),
            action=self.action,
            binds=self.binds,
            env=self.env,
            pwd=self.pwd,
            contain=self.contain,
            cleanenv=self.cleanenv,
            no_home=self.no_home,
            extra_flags=self.extra_flags,
            executable=self.executable,
        )

    def _log_line(self, stream: str, line: str) -> None:
        if stream == "stderr":
            self.log.info("[stderr] %s", line)
        else:
            self.log.info("%s", line)

    def execute(self, context: Any) -> dict[str, Any] | None:
        try:
            argv = self.build_argv()
        except ProductionError as exc:  # invalid parameters: retrying cannot help
            raise AirflowFailException(str(exc)) from exc
        if self.start_jitter > 0:
            time.sleep(random.uniform(0, self.start_jitter))
        self.log.info("Running: %s", argv)
        self._runner = ProcessRunner(
            argv,
            timeout=self.timeout,
            kill_grace=self.kill_grace,
            tail_lines=self.tail_lines,
            on_line=self._log_line,
        )
        result = self._runner.run()
        self.log.info("%s", result.describe())
        if result.timed_out:
            raise AirflowException(f"timeout of {self.timeout} s reached; {result.report()}")
        if result.returncode in self.skip_on_exit_code:
            raise AirflowSkipException(f"exit code {result.returncode} is in skip_on_exit_code")
        if not result.ok:
            raise AirflowException(result.report())
        if not self.return_output:
            return None
        return {
            "exit_code": result.returncode,
            "tail": list(result.tail[-XCOM_TAIL_LINES:]),
            "duration_s": round(result.duration, 3),
        }

    def on_kill(self) -> None:
        if self._runner is not None:
            self.log.info("Killing process group %s", self._runner.pid)
            self._runner.kill()
