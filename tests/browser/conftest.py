"""Fixtures for the browser tests: a real ``airflow standalone`` and headless Chromium.

``airflow standalone`` runs on a free port with a private AIRFLOW_HOME, the repository's
``dags/`` and ``plugins/`` folders and a known admin password (written to the file named by
``[core] simple_auth_manager_passwords_file``, which SimpleAuthManager reads as JSON
``{"user": "password"}``). It is started in its own session and process group; teardown
terminates the whole group and checks that none of its processes is left.

Chromium and ChromeDriver come from the Debian packages (``scripts/install-browser.sh``);
the tests skip when they are missing. ``HEP_BROWSER_DAGS_FOLDER`` may point the server at
another DAG folder (default: ``<repo>/dags``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AIRFLOW = Path(sys.executable).with_name("airflow")

HEALTH_TIMEOUT = 180.0  # s until /api/v2/monitor/health answers (2-core machines are slow)
RESERIALIZE_TIMEOUT = 300.0
STOP_TIMEOUT = 30.0  # s between SIGTERM and SIGKILL of the process group


def dags_folder() -> Path:
    return Path(os.environ.get("HEP_BROWSER_DAGS_FOLDER", REPO / "dags")).resolve()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Standalone:
    base_url: str
    username: str
    password: str
    env: dict[str, str]
    home: Path
    log: Path
    proc: subprocess.Popen
    startup_seconds: float = 0.0
    reserialize_seconds: float = 0.0

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "<no log>"


@pytest.fixture(scope="session")
def browser_binaries() -> tuple[Path, Path]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        pytest.skip(f"headless Chromium not installed ({', '.join(missing)} missing): run scripts/install-browser.sh")
    return CHROMIUM, CHROMEDRIVER


def _standalone_env(tmp: Path, port: int, password_file: Path) -> dict[str, str]:
    # Nothing of the calling environment's Airflow configuration leaks into the server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    base_url = f"http://localhost:{port}"
    env.update(
        {
            # standalone starts its components as plain `airflow ...`: use this venv's.
            "PATH": f"{AIRFLOW.parent}{os.pathsep}{env.get('PATH', '')}",
            "AIRFLOW_HOME": str(tmp / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder()),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(password_file),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__API__BASE_URL": base_url,
            "AIRFLOW__API__WORKERS": "1",
            "HEP_HOME": str(tmp / "hep"),
            "HEP_DATA_ROOT": str(tmp / "hep" / "data"),
            "HEP_OUTPUT_ROOT": str(tmp / "hep" / "output"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _group_processes(proc: subprocess.Popen) -> list[psutil.Process]:
    """Every live process of the server: descendants plus anything still in its session."""
    found: dict[int, psutil.Process] = {}
    try:
        root = psutil.Process(proc.pid)
        found[root.pid] = root
        for child in root.children(recursive=True):
            found[child.pid] = child
    except psutil.NoSuchProcess:
        pass
    for candidate in psutil.process_iter():
        try:
            if os.getsid(candidate.pid) == proc.pid:
                found[candidate.pid] = candidate
        except (ProcessLookupError, PermissionError, psutil.Error):
            continue
    return [p for p in found.values() if _alive(p)]


def _alive(p: psutil.Process) -> bool:
    try:
        return p.is_running() and p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def stop_group(proc: subprocess.Popen) -> list[psutil.Process]:
    """SIGTERM the server's process group, SIGKILL what survives; return what is still alive."""
    members = _group_processes(proc)
    started = time.monotonic()
    for sig, timeout in ((signal.SIGTERM, STOP_TIMEOUT), (signal.SIGKILL, 10.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        for p in members:  # members that moved to another process group are signalled one by one
            with contextlib.suppress(psutil.NoSuchProcess):
                p.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)
        psutil.wait_procs(members, timeout=timeout)
        alive = {p.pid: p for p in [*members, *_group_processes(proc)] if _alive(p)}
        members = list(alive.values())
        if not members:
            break
        print(f"[browser] still running {time.monotonic() - started:.1f} s after {sig.name}: " + _describe(members))
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)
    print(f"[browser] airflow standalone stopped in {time.monotonic() - started:.1f} s")
    return [p for p in members if _alive(p)]


def _describe(procs: list[psutil.Process]) -> str:
    names = []
    for p in procs:
        try:
            names.append(f"{p.pid} {' '.join(p.cmdline()[:4])}")
        except psutil.Error:
            names.append(str(p.pid))
    return ", ".join(names)


def _wait_healthy(server: Standalone) -> None:
    url = f"{server.base_url}/api/v2/monitor/health"
    deadline = time.monotonic() + HEALTH_TIMEOUT
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            pytest.fail(f"airflow standalone exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    json.load(response)
                    return
                last_error = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            last_error = repr(exc)
        time.sleep(0.5)  # poll interval
    pytest.fail(f"{url} did not answer within {HEALTH_TIMEOUT:.0f} s ({last_error}):\n{server.log_tail()}")


@pytest.fixture(scope="module")
def standalone(browser_binaries, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standalone]:
    tmp = tmp_path_factory.mktemp("standalone")
    for sub in ("airflow", "hep/data", "hep/output"):
        (tmp / sub).mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(16)
    password_file = tmp / "passwords.json"
    password_file.write_text(json.dumps({"admin": password}) + "\n")
    port = free_port()
    env = _standalone_env(tmp, port, password_file)
    log = tmp / "standalone.log"

    started = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(AIRFLOW), "standalone"],
            env=env,
            cwd=tmp,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Standalone(f"http://localhost:{port}", "admin", password, env, tmp / "airflow", log, proc)
    try:
        _wait_healthy(server)
        server.startup_seconds = time.monotonic() - started

        started = time.monotonic()
        result = subprocess.run(
            [str(AIRFLOW), "dags", "reserialize"],
            env=env,
            cwd=tmp,
            capture_output=True,
            text=True,
            timeout=RESERIALIZE_TIMEOUT,
        )
        server.reserialize_seconds = time.monotonic() - started
        assert result.returncode == 0, f"airflow dags reserialize failed:\n{result.stdout}\n{result.stderr}"
        print(
            f"\n[browser] standalone healthy after {server.startup_seconds:.1f} s; "
            f"reserialize {server.reserialize_seconds:.1f} s; {server.base_url}"
        )
        yield server
    finally:
        survivors = stop_group(proc)
        assert not survivors, "processes of airflow standalone left running: " + _describe(survivors)


@pytest.fixture
def driver(browser_binaries, tmp_path: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, chromedriver = browser_binaries
    options = webdriver.ChromeOptions()
    options.binary_location = str(chromium)
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-quic",
        "--window-size=1600,1000",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(arg)
    service = Service(executable_path=str(chromedriver), log_output=str(tmp_path / "chromedriver.log"))
    drv = webdriver.Chrome(service=service, options=options)
    try:
        yield drv
    finally:
        drv.quit()
