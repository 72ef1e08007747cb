"""The deployment of scripts/deploy.sh for the tests of this folder, one per module."""

from __future__ import annotations

import os
from collections.abc import Iterator

import harness
import pytest
from dag_support import pool_unavailable

PG_HOST = os.environ.get("HEP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("HEP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("HEP_TEST_PG_USER", "postgres")
REDIS = ("127.0.0.1", 6379)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Deployment]:
    """A running deployment (Celery on PostgreSQL and Redis); attached to the HTCondor pool when one
    answers. Skips with the reason when PostgreSQL or Redis cannot be reached."""
    for what, (host, port) in (("PostgreSQL", (PG_HOST, PG_PORT)), ("Redis", REDIS)):
        why = harness.reachable(host, port)
        if why:
            pytest.skip(f"the deployment needs {what}: nothing answers at {why}")
    extra = {
        "DEPLOY_PG": f"postgresql+psycopg2://{PG_USER}@{PG_HOST}:{PG_PORT}",
        "DEPLOY_BROKER": f"redis://{REDIS[0]}:{REDIS[1]}/0",
        # a task whose worker was killed is retried after 60 s without heartbeat (shared setting: 120 s)
        "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "60",
    }
    if pool_unavailable(timeout=60) is None:
        extra["CONDOR_CONFIG"] = os.environ["CONDOR_CONFIG"]
    deployment = harness.start(tmp_path_factory.mktemp("deployment"), extra)
    try:
        yield deployment
    finally:
        deployment.destroy()


@pytest.fixture
def pool(deployment: harness.Deployment) -> str:
    """The HTCondor pool the deployment is attached to (its CONDOR_CONFIG), else skip."""
    if "CONDOR_CONFIG" not in deployment.env:
        pytest.skip(f"HTCondor pool not reachable: {pool_unavailable(timeout=5)} (docker/condor/start-pool.sh)")
    return deployment.env["CONDOR_CONFIG"]
