"""The README's run command: serves the UI with the demo data, and Ctrl-C leaves nothing behind."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from include import demo

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=2) as resp:
            return resp.status == 200 and "metadatabase" in json.loads(resp.read())
    except OSError:
        return False


def test_run_script_serves_ui_with_demo_data_and_stops_cleanly(tmp_path: Path) -> None:
    port = _free_port()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "HEP_HOME": str(tmp_path / "hep"),
        "AIRFLOW_PORT": str(port),
    }
    for key in ("HEP_DATA_ROOT", "HEP_OUTPUT_ROOT", "AIRFLOW__API__PORT", "AIRFLOW__API__BASE_URL"):
        env.pop(key, None)
    log = open(tmp_path / "run.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [str(REPO / "scripts" / "run.sh")], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    group = []
    try:
        deadline = time.monotonic() + 300
        while not _healthy(port):
            assert proc.poll() is None, (tmp_path / "run.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "UI not healthy within 300 s"
            time.sleep(1)
        group = psutil.Process(proc.pid).children(recursive=True)
        names = " ".join(" ".join(p.cmdline()) for p in group)
        for component in ("standalone", "scheduler", "dag-processor", "triggerer", "api_server"):
            assert component in names, f"{component} is not running"
        for name in demo.available():
            assert (tmp_path / "hep" / "data" / name / demo.MARKER).is_file(), f"no demo data for {name}"
        assert (tmp_path / "airflow" / "simple_auth_manager_passwords.json.generated").is_file()
        text = (tmp_path / "run.log").read_text()
        assert f"http://localhost:{port}" in text
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
        proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    time.sleep(2)
    left = [p for p in group if _alive(p)]
    assert left == [], [p.cmdline() for p in left]


def _alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False
