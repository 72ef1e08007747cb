"""Offline tests of the "HTCondor job" extra link and its plugin."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest

from include.condor.links import HTCondorJobLink, link_for

REPO = Path(__file__).resolve().parents[2]
JOB = {"schedd": "schedd@condor.ci", "jobs": {"12.0": 0, "12.1": 1, "15.0": 2}}


@pytest.fixture(autouse=True)
def _relative_links(monkeypatch: pytest.MonkeyPatch) -> None:
    """Links are relative unless the API base URL is configured (scripts/env.sh sets one)."""
    monkeypatch.delenv("AIRFLOW__API__BASE_URL", raising=False)


def test_link_uses_the_configured_base_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEP_CONDOR_MONITOR_URL", raising=False)
    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "http://localhost:8080/")
    assert link_for(JOB, "d", "r", "t").startswith("http://localhost:8080/api/v2/dags/d/dagRuns/r/")


def test_link_shows_clusters_and_schedd(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEP_CONDOR_MONITOR_URL", raising=False)
    url = link_for(JOB, "dag", "manual__1", "task")
    assert url.startswith("/api/v2/dags/dag/dagRuns/manual__1/taskInstances/task/state-store/htcondor_job")
    assert url.endswith("#cluster=12%2C15&schedd=schedd%40condor.ci")
    assert link_for(None, "dag", "run", "task") == ""


def test_monitor_url_template(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEP_CONDOR_MONITOR_URL", "https://mon.example/jobs?c={cluster}&s={schedd}")
    assert link_for(JOB, "d", "r", "t") == "https://mon.example/jobs?c=12%2C15&s=schedd%40condor.ci"


def test_link_reads_the_operator_job_record(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HEP_CONDOR_MONITOR_URL", raising=False)
    op = SimpleNamespace(_job=JOB)
    key = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=3)
    assert "?map_index=3#cluster=12%2C15" in HTCondorJobLink().get_link(op, ti_key=key)


def test_plugin_registers_the_link() -> None:
    spec = importlib.util.spec_from_file_location("condor_links_plugin", REPO / "plugins" / "condor_links.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    plugin = module.HTCondorLinksPlugin
    assert plugin.name == "hep_condor_links"
    assert [type(link) for link in plugin.operator_extra_links] == [HTCondorJobLink]
