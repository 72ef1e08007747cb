"""The production metadata database: Airflow migrates onto a real PostgreSQL server and stores
this project's DAGs there. Skips with a clear reason when no server is reachable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.postgres


def test_airflow_migrates_and_serializes_dags_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa

    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": postgres_url,
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
    }
    for command in (["db", "migrate"], ["dags", "reserialize"]):
        proc = subprocess.run([airflow, *command], env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from alembic_version")).scalar() == 1
        dag_ids = {row[0] for row in conn.execute(sa.text("select dag_id from serialized_dag"))}
    engine.dispose()
    from airflow.models import DagBag

    expected = set(DagBag(dag_folder=str(REPO / "dags")).dag_ids)
    assert expected and dag_ids == expected
