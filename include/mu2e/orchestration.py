"""How the mu2e_ensemble DAG runs a job of the campaign: its unit call (no Airflow imports).

A unit is one job of ``include.mu2e.pipeline.job_units`` (index, unit key, the campaign ``conf``,
``force``, ``backend``, HTCondor options); the DAG's ``UnitCallOperator``
(``include.core.unit_operator``) runs :func:`job_call` on that backend. The art jobs of
``stage2 = art`` on condor are HTCondor jobs of their own (``run_art``), not units of this call.
"""

from __future__ import annotations

from typing import Any

from include.core.backends import TaskCall


def job_call(unit: dict[str, Any], run_id: str) -> TaskCall:
    """The call that runs the job (a finished job is not run again)."""
    kwargs = {"conf": unit["conf"], "index": unit["index"], "force": unit["force"], "backend": unit["backend"]}
    return TaskCall("include.mu2e.pipeline:run_job", kwargs)


def job_fresh(unit: dict[str, Any]) -> bool:
    """Whether the job has nothing to do (no HTCondor job is submitted for it)."""
    from include.mu2e.pipeline import job_fresh as fresh

    return fresh(unit["conf"], int(unit["index"]), unit["force"])


def job_label(unit: dict[str, Any]) -> str:
    """What the grid shows for a mapped job."""
    return str(unit["unit"])
