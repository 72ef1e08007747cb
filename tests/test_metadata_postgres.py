"""The production metadata database: Airflow migrates onto a real PostgreSQL server and stores
this project's DAGs there. Skips with a clear reason when no server is reachable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
HOST, PORT = os.environ.get("HEP_TEST_PG_HOST", "127.0.0.1"), int(os.environ.get("HEP_TEST_PG_PORT", "5432"))
USER = os.environ.get("HEP_TEST_PG_USER", "postgres")

pytestmark = pytest.mark.postgres


def _reachable() -> bool:
    try:
        socket.create_connection((HOST, PORT), timeout=1).close()
        return True
    except OSError:
        return False


@pytest.fixture
def database() -> Iterator[str]:
    if not _reachable():
        pytest.skip(f"no PostgreSQL server at {HOST}:{PORT}")
    import psycopg2

    name = f"hep_airflow_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(host=HOST, port=PORT, user=USER, dbname="test")
    admin.autocommit = True
    admin.cursor().execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg2://{USER}@{HOST}:{PORT}/{name}"
    finally:
        admin.cursor().execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_airflow_migrates_and_serializes_dags_on_postgres(database: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        proc = subprocess.run([airflow, *command], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    engine = sa.create_engine(database)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
        dag_ids = {row[0] for row in conn.execute(sa.text("select dag_id from serialized_dag"))}
    engine.dispose()
    from airflow.models import DagBag

    expected = set(DagBag(dag_folder=str(REPO / "dags")).dag_ids)
    assert expected and dag_ids == expected
