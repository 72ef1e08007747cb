"""The deployment of scripts/deploy.sh for the tests of this folder: one start for all of them.

The folder's modules run in the order of ``MODULES`` (the productions first, then the faults), and
the test that stops the deployment runs last (:func:`pytest_collection_modifyitems`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import harness
import pytest
from dag_support import pool_unavailable

HERE = Path(__file__).resolve().parent
PG_HOST = os.environ.get("HEP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("HEP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("HEP_TEST_PG_USER", "postgres")
REDIS = ("127.0.0.1", 6379)
MODULES = ("test_productions_on_the_deployment.py", "test_faults.py")
LAST = "test_status_then_stop_ends_exactly_the_processes_it_started"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """This folder's tests in the order of MODULES, the one that stops the deployment last; they stay
    where the first of them was collected, and no other test is moved."""
    here = [i for i, item in enumerate(items) if item.path.parent == HERE]
    if not here:
        return
    ours = [items[i] for i in here]
    ours.sort(key=lambda item: (item.name == LAST, MODULES.index(item.path.name) if item.path.name in MODULES else 0))
    rest = [item for item in items if item.path.parent != HERE]
    items[:] = rest[: here[0]] + ours + rest[here[0] :]


@pytest.fixture(scope="session")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[harness.Deployment]:
    """A running deployment (Celery on PostgreSQL and Redis); attached to the HTCondor pool when one
    answers. Skips with the reason when PostgreSQL or Redis cannot be reached. Started once for the
    folder (about a minute, the first time with the demo data); the folder's last test stops it."""
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
