"""How the ldmx_darkbrem_signal DAG runs a chain's step: its unit call (no Airflow imports).

The DAG maps a task group over the campaign's (mass, run) chains; each step is a
``UnitCallOperator`` (``include.core.unit_operator``) whose unit is :func:`chain_units`' wrapper:
the chain (``include.darkbrem.campaign.Unit`` as a dict) with the run's ``force``, ``backend`` and
HTCondor options. On ``condor`` a step is one HTCondor job that runs the containers on the
execute node; a step that is already fresh submits nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from include.core.backends import TaskCall

RUN_KEYS = ("force", "hold_policy", "request_memory_mb")


def chain_units(campaign: Mapping[str, Any], chains: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One unit per chain: the chain and how this run runs it."""
    run = {k: campaign[k] for k in RUN_KEYS}
    return [{"chain": chain, "backend": chain["backend"], **run} for chain in chains]


def chains(units: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chains of :func:`chain_units`' units (for the summary)."""
    return [unit["chain"] for unit in units]


def step_call(unit: dict[str, Any], run_id: str, step: str) -> TaskCall:
    """The call that runs ``step`` of the chain (fresh steps are recorded, not rerun)."""
    return TaskCall(
        "include.darkbrem.chain:run_step",
        {"unit": unit["chain"], "step": step, "force": unit["force"], "backend": unit["backend"]},
    )


def step_fresh(unit: dict[str, Any], step: str) -> bool:
    """Whether ``step`` of the chain has nothing to do (no HTCondor job is submitted for it)."""
    from include.darkbrem.chain import needs_run

    return not needs_run(unit["chain"], step, unit["force"])


def chain_label(unit: dict[str, Any]) -> str:
    """What the grid shows for a mapped chain."""
    chain = unit["chain"]
    return f"mA {chain['mass_gev']} GeV, run {chain['run']}"
