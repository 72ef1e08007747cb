"""The production deployment as a test fixture: ``scripts/deploy.sh`` driven over REST, with faults.

:func:`start` starts the deployment (PostgreSQL database and Celery queue of its own, separate
api-server, scheduler, dag-processor, triggerer and two Celery workers) in a private folder on free
ports and signs in. :class:`Deployment` triggers runs and reads them through the REST API (as a
user's script would), and injects faults: :meth:`Deployment.kill` sends SIGKILL to every process of
a component's session (the component and the task processes it started, as when its host dies),
:meth:`Deployment.restart` starts it again; :meth:`Deployment.wait_until` waits for the moment to
strike (a task running, N tasks deferred). Nothing here reaches into Airflow's internals.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from airflow_rest import AirflowRest
from runsh_stack import session_processes

from include.core.atomic import TMP_MARK

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "scripts" / "deploy.sh"
START_TIMEOUT_S = 900.0  # the first start writes the demo data
PORTS_USED = 14  # DEPLOY_PORT .. DEPLOY_PORT+13 (scripts/deploy.sh)


def _free_port_block(size: int) -> int:
    for _ in range(200):
        base = random.randint(20000, 40000)
        try:
            with contextlib.ExitStack() as stack:
                for port in range(base, base + size):
                    sock = stack.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
    raise RuntimeError(f"no block of {size} free ports")


@dataclass
class Deployment(AirflowRest):
    home: Path
    name: str
    port: int
    env: dict[str, str]
    token: str = ""
    trigger_statuses: list[int] = field(default_factory=list)
    kills: list[tuple[str, float, int]] = field(default_factory=list)  # (component, when, processes)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def password_file(self) -> Path:
        return self.home / "airflow" / "simple_auth_manager_passwords.json.generated"

    @property
    def data_root(self) -> Path:
        return Path(self.env["HEP_DATA_ROOT"])

    @property
    def output_root(self) -> Path:
        return Path(self.env["HEP_OUTPUT_ROOT"])

    def setting(self, name: str) -> str:
        """A setting of the running components (from the deploy.env that ``start`` wrote)."""
        import shlex

        for line in (self.home / "deploy.env").read_text().splitlines():
            key, _, value = line.partition("=")
            if key == name:
                return shlex.split(value)[0] if value else ""
        raise KeyError(f"{name} is not in {self.home / 'deploy.env'}")

    def deploy(self, *args: str, timeout: float = START_TIMEOUT_S) -> str:
        """Run ``scripts/deploy.sh ARGS`` for this deployment; its output, or an AssertionError."""
        command = [str(DEPLOY), *args]
        proc = subprocess.run(
            command, env=self.env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL
        )
        assert proc.returncode == 0, f"deploy.sh {' '.join(args)}: exit {proc.returncode}\n{proc.stderr[-3000:]}"
        return proc.stdout + proc.stderr

    def log(self, component: str, chars: int = 3000) -> str:
        path = self.home / "logs" / f"{component}.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def session(self, component: str) -> int | None:
        path = self.home / "pids" / f"{component}.pid"
        return int(path.read_text()) if path.is_file() else None

    def processes(self, component: str) -> list[tuple[int, int, str]]:
        sid = self.session(component)
        return session_processes({sid}) if sid else []

    def check_alive(self) -> None:
        assert self.processes("api-server"), f"the API server died:\n{self.log('api-server')}"

    # -- faults ----------------------------------------------------------------------------------

    def kill(self, component: str) -> int:
        """SIGKILL every process of the component's session (its task processes too); how many."""
        procs = self.processes(component)
        for pid, _sid, _cmd in procs:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while self.processes(component) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not self.processes(component), f"{component} survived SIGKILL: {self.processes(component)}"
        self.kills.append((component, time.time(), len(procs)))
        return len(procs)

    def restart(self, component: str) -> None:
        self.deploy("start-one", component, timeout=120)

    def wait_until(self, what: str, predicate: Callable[[], Any], timeout: float, interval: float = 1.0) -> Any:
        """Poll ``predicate`` until it returns something truthy; that value."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = predicate()
            if value:
                return value
            assert time.monotonic() < deadline, f"not seen within {timeout:.0f} s: {what}"
            time.sleep(interval)

    def trigger_all(self, confs: dict[str, dict[str, Any]]) -> dict[str, str]:
        """Trigger one run per DAG (dag_id -> conf); dag_id -> run id. Every trigger must be accepted."""
        runs = {}
        for dag_id, conf in confs.items():
            status, body = self.trigger(dag_id, conf)
            assert status == 200, f"{dag_id}: HTTP {status}: {body}"
            runs[dag_id] = body["dag_run_id"]
        return runs

    def leftovers(self) -> list[str]:
        """Temporary or partial files of the atomic writers left anywhere in the output root."""
        root = self.output_root
        return sorted(str(p.relative_to(root)) for p in root.rglob(f"*{TMP_MARK}*"))

    def states(self, dag_id: str, run_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        """Task instances of a run by (task_id, map_index)."""
        return {(ti["task_id"], ti["map_index"]): ti for ti in self.task_instances(dag_id, run_id)}

    def stop(self) -> None:
        self.deploy("stop", timeout=300)

    def destroy(self) -> None:
        self.deploy("destroy", timeout=300)


def pool_startd(on: bool) -> None:
    """Switch the HTCondor pool's execute daemon off (jobs stay idle, their tasks stay deferred) or
    on again (CONDOR_CONFIG names the pool); returns once the collector agrees."""
    import htcondor2 as htcondor

    collector = htcondor.Collector()
    (master,) = collector.query(htcondor.AdType.Master)
    command = htcondor.DaemonCommand.DaemonOn if on else htcondor.DaemonCommand.DaemonOff
    htcondor.send_command(master, command, "STARTD")
    deadline = time.monotonic() + 120
    while bool(collector.query(htcondor.AdType.Startd, projection=["Name"])) != on:
        assert time.monotonic() < deadline, f"the pool's startd did not turn {'on' if on else 'off'}"
        time.sleep(1)


def reachable(host: str, port: int) -> str | None:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        return f"{host}:{port} ({exc})"
    return None


def start(home: Path, extra_env: dict[str, str] | None = None) -> Deployment:
    """Start a deployment in ``home`` (database ``hep_t<random>``, its own Celery queue); signed in."""
    name = f"hep_t{uuid.uuid4().hex[:10]}"
    port = _free_port_block(PORTS_USED)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "HEP_", "DEPLOY_"))}
    env.update(
        {
            "DEPLOY_HOME": str(home / "deploy"),
            "DEPLOY_NAME": name,
            "DEPLOY_PORT": str(port),
            "HEP_DATA_ROOT": str(home / "data"),
            "HEP_OUTPUT_ROOT": str(home / "output"),
            **(extra_env or {}),
        }
    )
    deployment = Deployment(home / "deploy", name, port, env)
    try:
        deployment.deploy("start")
    except BaseException:
        with contextlib.suppress(Exception):
            deployment.destroy()
        raise
    deployment.sign_in()
    return deployment
