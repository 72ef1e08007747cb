"""One orchestrator task = one step of the follow-up for a batch of fills (no Airflow imports).

The DAG maps a task group over batches (one fill, or a ``split`` chunk); each step is a
``UnitCallOperator`` (``include.core.unit_operator``) that runs :func:`step_call` for every fill
of the batch as one call on the chosen backend (on HTCondor: one job per batch and step, the
legacy ``--split``); :func:`step_outcome` folds the per-fill reports into the task's verdict.
"""

from __future__ import annotations

from typing import Any

from include.core.backends import TaskCall
from include.core.outcome import CallOutcome, failed_result
from include.core.steps import Reason

MASSI_STEP = "massi"


def fill_verdict(report: dict[str, Any], step: str, require_massi: bool) -> tuple[str, str, bool]:
    """(state, message, permanent) of one fill's report for ``step``."""
    fill = report.get("fill")
    if report.get("error"):
        return "failed", f"fill {fill}: {report['error']}", bool(report.get("permanent"))
    result = next((s for s in report.get("steps", []) if s["step"] == step), None)
    if result is None:
        return "failed", f"fill {fill}: step {step} did not report", False
    if result["state"] == "failed":
        return "failed", f"fill {fill}: {step}: {result['error']}", bool(result.get("permanent"))
    if result["state"] == "skipped":
        missing = report.get("missing_massi") or []
        if step == MASSI_STEP and missing and require_massi:
            return (
                "failed",
                f"fill {fill}: Massi archive missing: {', '.join(missing)}; measured luminosity, lifetime, fits "
                "and model are not produced (they run when the archive is published)",
                True,
            )
        why = f" (Massi archive missing: {', '.join(missing)})" if step == MASSI_STEP and missing else ""
        return "skipped", f"fill {fill}: {step} skipped: {result['reason']}{why}", False
    return "success", f"fill {fill}: {step} {result['state']} ({result['reason']})", False


def step_call(unit: dict[str, Any], run_id: str, step: str) -> TaskCall:
    """The task call of ``step`` for every fill of the batch ``unit`` (as planned by the DAG)."""
    return TaskCall(
        "include.lumi.tasks:process_fills_steps",
        {
            "fills": list(unit["fills"]),
            "config": unit["config"],
            "force": unit["force"],
            "backend": unit["backend"],
            "only": [step],
            "run_id": run_id,
        },
    )


def fills_label(unit: dict[str, Any]) -> str:
    """What the grid shows for a mapped instance: its fills."""
    return "fill " + ", ".join(str(f) for f in unit["fills"])


def step_fresh(unit: dict[str, Any], step: str) -> bool:
    """Whether ``step`` has nothing to do for any fill of the batch (so no HTCondor job is needed).

    Anything unclear (a fill that cannot be read, a forced step) is left to the job to report.
    """
    from include.lumi.tasks import GRAPH, config_dict, fill_context
    from include.settings import load_settings

    if step in GRAPH.forced(unit["force"]):
        return False
    settings = load_settings()
    for fill in unit["fills"]:
        ctx, _ = fill_context(
            int(fill), settings.data_root, settings.output_root, config_dict(unit["config"]), unit["force"], "local"
        )
        if GRAPH.steps[step].enabled(ctx) and GRAPH.freshness(ctx, step) is not Reason.FRESH:
            return False
    return True


def step_outcome(unit: dict[str, Any], result: dict[str, Any], step: str) -> CallOutcome:
    """The task's verdict on ``step`` for the batch, from the call's structured result."""
    if not result.get("ok"):
        return failed_result(result, where=f"fills {', '.join(map(str, unit['fills']))}: ")
    reports = result["result"]
    verdicts = [fill_verdict(r, step, bool(unit.get("require_massi", True))) for r in reports]
    failed = [v for v in verdicts if v[0] == "failed"]
    if failed:
        state = "failed"
    elif {v[0] for v in verdicts} == {"skipped"}:
        state = "skipped"
    else:
        state = "success"
    return CallOutcome(
        state,
        message=" | ".join(v[1] for v in (failed or verdicts)),
        permanent=bool(failed) and all(v[2] for v in failed),
        value=[{k: r.get(k) for k in ("fill", "ok", "ran", "skip_massi", "missing_massi")} for r in reports],
    )
