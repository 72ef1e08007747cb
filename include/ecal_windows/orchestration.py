"""How the ecal_windows_dataset DAG runs a file group's step: its unit call (no Airflow imports).

A unit is one file group as planned by ``list_inputs`` (``job``, ``files``) with the run's checked
parameters (``params``), ``backend`` and HTCondor options; the DAG's ``UnitCallOperator``
(``include.core.unit_operator``) runs :func:`group_call` for each step on that backend.
"""

from __future__ import annotations

from typing import Any

from include.core.backends import TaskCall


def group_call(unit: dict[str, Any], run_id: str, step: str) -> TaskCall:
    """The call that runs ``step`` (windows or parquet) of the group ``unit``."""
    from include.ecal_windows.pipeline import current_roots

    kwargs = {"params": unit["params"], "job": unit["job"], "files": unit["files"], "steps": [step]}
    return TaskCall(
        "include.ecal_windows.pipeline:run_group", {**kwargs, "roots": current_roots(), "backend": unit["backend"]}
    )


def group_fresh(unit: dict[str, Any], step: str) -> bool:
    """Whether ``step`` of the group has nothing to do (no HTCondor job is submitted for it)."""
    from include.ecal_windows.pipeline import group_fresh as fresh

    return fresh(unit["params"], unit["job"], unit["files"], step)


def group_label(unit: dict[str, Any]) -> str:
    """What the grid shows for a mapped group."""
    return f"group {unit['job']} ({len(unit['files'])} files)"
