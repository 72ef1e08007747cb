"""How the egamma_tnp DAG runs a chunk: the unit call of ``process_chunk`` (no Airflow imports).

A unit is one chunk of one dataset as planned by ``preprocess`` (``run_dir``, ``dataset``,
``chunk``) with the run's ``force``, ``backend`` and HTCondor options; the DAG's
``UnitCallOperator`` (``include.core.unit_operator``) runs :func:`chunk_call` on that backend.
"""

from __future__ import annotations

from typing import Any

from include.core.backends import TaskCall


def chunk_call(unit: dict[str, Any], run_id: str) -> TaskCall:
    """The call that processes the chunk ``unit`` (``run_id`` is not needed: the run folder is)."""
    return TaskCall(
        "include.tnp.pipeline:process_chunk",
        {k: unit[k] for k in ("run_dir", "dataset", "chunk", "force", "backend")},
    )


def chunk_fresh(unit: dict[str, Any]) -> bool:
    """Whether the chunk has nothing to do (no HTCondor job is submitted for it)."""
    from include.tnp.pipeline import chunk_fresh as fresh

    return fresh(unit["run_dir"], unit["dataset"], int(unit["chunk"]), unit["force"])


def chunk_label(unit: dict[str, Any]) -> str:
    """What the grid shows for a mapped chunk."""
    return f"{unit['dataset']} chunk {unit['chunk']}"
