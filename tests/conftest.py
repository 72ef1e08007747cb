"""Test session set-up: a private Airflow home on SQLite and private data/output roots.

The environment is set in ``pytest_configure``, before any test module imports Airflow, so
every test (and ``dag.test()``) uses a throw-away metadata database that this session migrates.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="hep-tests-"))


def shared_data_dir() -> Path:
    """The real sample files: $HEP_SHARED_DATA, else ``shared/data`` beside the repository."""
    return Path(os.environ.get("HEP_SHARED_DATA", REPO.parent / "shared" / "data")).resolve()


def pytest_configure(config: pytest.Config) -> None:
    home = _SESSION_DIR / "airflow"
    env = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO / "plugins"),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
        "HEP_HOME": str(_SESSION_DIR / "hep"),
        "HEP_DATA_ROOT": str(_SESSION_DIR / "hep" / "data"),
        "HEP_OUTPUT_ROOT": str(_SESSION_DIR / "hep" / "output"),
    }
    os.environ.update(env)
    os.environ.pop("HEP_MU2E_DBTOOL", None)  # env.sh's demo tool lives in the checkout's data root, not here
    # the personal pool's client config, before any module imports htcondor2 (which would set
    # CONDOR_CONFIG=/dev/null when it is unset)
    pool_config = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool")) / "client"
    if os.environ.get("CONDOR_CONFIG", "/dev/null") == "/dev/null" and (pool_config / "condor_config").is_file():
        os.environ["CONDOR_CONFIG"] = str(pool_config / "condor_config")
    home.mkdir(parents=True, exist_ok=True)
    airflow = Path(sys.executable).with_name("airflow")
    subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Fresh data and output roots for one test, exported as HEP_DATA_ROOT / HEP_OUTPUT_ROOT."""
    data, output = tmp_path / "data", tmp_path / "output"
    data.mkdir()
    output.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(output))
    return data, output


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real sample files; tests that need them skip with a clear reason when absent."""
    path = shared_data_dir()
    if not path.is_dir():
        pytest.skip(f"real sample data not found at {path} (set HEP_SHARED_DATA)")
    return path


PG_HOST = os.environ.get("HEP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("HEP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("HEP_TEST_PG_USER", "postgres")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test (dropped afterwards).

    Skips with a clear reason when no server answers at HEP_TEST_PG_HOST:HEP_TEST_PG_PORT.
    """
    try:
        socket.create_connection((PG_HOST, PG_PORT), timeout=1).close()
    except OSError as exc:
        pytest.skip(f"no PostgreSQL server at {PG_HOST}:{PG_PORT} ({exc})")
    import psycopg2

    name = f"hep_test_{uuid.uuid4().hex[:12]}"
    admin = psycopg2.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="test")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
