"""The step names and dependencies of the luminosity follow-up (light: no numerical imports).

The DAG file reads :data:`FORCE_CHOICES` from here at parse time; :mod:`include.lumi.tasks`
attaches the implementations to the same dependency table.
"""

from __future__ import annotations

from pathlib import Path

from include.core.steps import Step, StepGraph, UnitContext
from include.lumi import PRODUCTION

# step -> the steps it needs (spec §5); plots are split by what they use (§10).
REQUIRES: dict[str, tuple[str, ...]] = {
    "sb": (),
    "cycle": (),
    "cycle_model": ("cycle",),
    "lumi": ("sb",),
    "massi": ("sb",),
    "lifetime": ("sb", "massi"),
    "fits": ("sb", "lumi", "massi"),
    "model": ("sb", "fits", "massi"),
    "plots_cycle": ("cycle", "cycle_model"),
    "plots_sb": ("sb", "lumi"),
    "plots_meas": ("sb", "lumi", "massi", "lifetime", "fits"),
    "plots_model": ("model",),
}


def _nothing(_ctx: UnitContext) -> list[Path]:
    return []


def skeleton() -> StepGraph:
    """The graph without implementations (for names, order and force closures)."""
    return StepGraph(PRODUCTION, [Step(n, run=_nothing, outputs=_nothing, requires=r) for n, r in REQUIRES.items()])


FORCE_CHOICES: list[str] = skeleton().force_choices
BACKENDS = ("local", "condor", "apptainer")
"""Where a fill's steps can run (the lumi_followup form's choices)."""
