"""One orchestrator task = one step of the follow-up for a batch of fills (no Airflow imports).

The DAG maps a task group over batches (one fill, or a ``split`` chunk). :func:`run_step` runs
the step for every fill of the batch as one call on the chosen backend (on HTCondor: one job per
batch and step, the legacy ``--split``) and folds the per-fill reports into one outcome that the
task turns into its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from include.core.backends import TaskCall, run_call

# Errors a retry cannot fix: the input or the parameters must change first.
PERMANENT = ("ParamError", "ConfigError", "InputFileError", "MassiError")
MASSI_STEP = "massi"


@dataclass
class StepOutcome:
    """``state``: success | skipped | failed; ``messages`` name the fill, step and problem."""

    state: str
    messages: list[str] = field(default_factory=list)
    permanent: bool = False
    reports: list[dict[str, Any]] = field(default_factory=list)


def _permanent(error: str) -> bool:
    return error.split(":", 1)[0].strip() in PERMANENT


def fill_verdict(report: dict[str, Any], step: str, require_massi: bool) -> tuple[str, str, bool]:
    """(state, message, permanent) of one fill's report for ``step``."""
    fill = report.get("fill")
    if report.get("error"):
        return "failed", f"fill {fill}: {report['error']}", _permanent(report["error"])
    result = next((s for s in report.get("steps", []) if s["step"] == step), None)
    if result is None:
        return "failed", f"fill {fill}: step {step} did not report", False
    if result["state"] == "failed":
        return "failed", f"fill {fill}: {step}: {result['error']}", _permanent(result["error"] or "")
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


def step_call(unit: dict[str, Any], step: str, run_id: str) -> TaskCall:
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


def run_step(unit: dict[str, Any], step: str, run_id: str) -> StepOutcome:
    """Run ``step`` for the fills of the batch, one after the other, as one call (one HTCondor job)."""
    reports = run_call(step_call(unit, step, run_id), unit["backend"])
    verdicts = [fill_verdict(r, step, bool(unit.get("require_massi", True))) for r in reports]
    states = {v[0] for v in verdicts}
    failed = [v for v in verdicts if v[0] == "failed"]
    if failed:
        state = "failed"
    elif states == {"skipped"}:
        state = "skipped"
    else:
        state = "success"
    return StepOutcome(
        state,
        messages=[v[1] for v in (failed or verdicts)],
        permanent=bool(failed) and all(v[2] for v in failed),
        reports=[{k: r.get(k) for k in ("fill", "ok", "ran", "skip_massi", "missing_massi")} for r in reports],
    )
