"""The README's run command as a test fixture: ``scripts/run.sh`` in a private home, driven over REST.

:func:`start` runs ``scripts/run.sh`` in a session of its own with a private ``AIRFLOW_HOME`` and
``HEP_HOME`` on a free port, waits until the API answers and signs in with the generated admin
password. :class:`RunSh` then triggers runs, waits for them and reads task instances and logs
through the REST API, and :meth:`RunSh.interrupt` sends SIGINT (Ctrl-C) to run.sh and returns every
process of its sessions that is still alive one second after it printed ``[run] stopped``.
Processes are found by session id (run.sh's and the one it starts for ``airflow standalone``), not
by name, and a process that ends while it is being looked at is simply gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from airflow_rest import AirflowRest

REPO = Path(__file__).resolve().parents[1]
# Minutes, not seconds: the first start installs the demo tools and writes the demo data.
START_TIMEOUT_S = 1200.0
STOP_TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_processes(sessions: set[int]) -> list[tuple[int, int, str]]:
    """(pid, session id, command) of every live, non-zombie process in ``sessions``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            state, sid = fields[0], int(fields[3])
            if sid in sessions and state != "Z":
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
                found.append((int(entry.name), sid, command))
        except (OSError, IndexError, ValueError):
            continue  # the process ended while it was read
    return found


@dataclass
class RunSh(AirflowRest):
    proc: subprocess.Popen
    home: Path
    port: int
    log: Path
    token: str = ""
    trigger_statuses: list[int] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def output_root(self) -> Path:
        return self.home / "hep" / "output"

    @property
    def password_file(self) -> Path:
        return self.airflow_home / "simple_auth_manager_passwords.json.generated"

    def log_tail(self, chars: int = 4000) -> str:
        return self.log.read_text(errors="replace")[-chars:]

    def check_alive(self) -> None:
        assert self.proc.poll() is None, f"run.sh exited:\n{self.log_tail()}"

    # -- stopping --------------------------------------------------------------------------------

    def sessions(self) -> set[int]:
        """run.sh's session and the one it started for airflow standalone (children of run.sh)."""
        found = {self.proc.pid}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                with contextlib.suppress(OSError, IndexError, ValueError):
                    fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.proc.pid:  # a child of run.sh leading its own session
                        found.add(int(fields[3]))
        return found

    def interrupt(self) -> tuple[float, list[tuple[int, int, str]]]:
        """Ctrl-C: SIGINT to run.sh; (seconds until "[run] stopped", processes alive 1 s later)."""
        sessions = self.sessions()
        started = time.monotonic()
        os.kill(self.proc.pid, signal.SIGINT)
        try:
            self.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"run.sh did not stop within {STOP_TIMEOUT_S:.0f} s of SIGINT") from None
        took = time.monotonic() - started
        assert "[run] stopped" in self.log_tail(), self.log_tail()
        time.sleep(1.0)  # the acceptance: nothing is left one second after "stopped"
        return took, session_processes(sessions)

    def kill(self) -> None:
        """Last resort of a fixture: SIGKILL both sessions."""
        for pid, _sid, _cmd in session_processes(self.sessions()):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=30)


def _default_signals() -> None:
    """Ctrl-C reaches run.sh as in a terminal. A shell cannot trap a signal that was ignored when it
    started, and a CI job run in the background starts with SIGINT ignored, inherited down to here."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start(home: Path, extra_env: dict[str, str] | None = None) -> RunSh:
    """Start ``scripts/run.sh`` with its Airflow and HEP homes below ``home``; wait until signed in.

    ``extra_env`` is what a user would export before running it (e.g. the pool's ``CONDOR_CONFIG``).
    """
    port = free_port()
    # A user's shell: none of the Airflow or HEP settings that test.sh (env.sh) or conftest exported,
    # which point at the checkout's or the test session's roots, not at this stack's.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEP_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home / "airflow"),
            "HEP_HOME": str(home / "hep"),
            "AIRFLOW_PORT": str(port),
            "AIRFLOW_EXECUTION_PORT": str(free_port()),
            **(extra_env or {}),
        }
    )
    log = home / "run.log"
    home.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(REPO / "scripts" / "run.sh")],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )
    stack = RunSh(proc, home, port, log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"run.sh exited with {proc.returncode}:\n{stack.log_tail()}")
        with contextlib.suppress(OSError, ValueError):
            status, body = stack.request("GET", "/api/v2/monitor/health")
            if status == 200 and "metadatabase" in body and stack.password_file.is_file():
                break
        if time.monotonic() > deadline:
            stack.kill()
            raise AssertionError(f"the API did not answer within {START_TIMEOUT_S:.0f} s:\n{stack.log_tail()}")
        time.sleep(2)
    stack.sign_in()
    return stack
