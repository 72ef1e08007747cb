"""A lumi_followup step task whose fill another process works on gives its worker slot back.

The task goes ``up_for_reschedule`` (no failed try, no worker slot held while waiting) and runs
once the fill is free; tests/test_run_script.py sees the same under run.sh's real scheduler.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from airflow.sdk.exceptions import AirflowRescheduleException
from dag_support import unit_held_elsewhere

from include.core import dagkit
from include.core.unit_operator import UnitCallOperator
from include.lumi.graph import REQUIRES

FILL = 6140
CONFIG = {"year": 2017, "plotDpi": 20, "doSBPlots": False, "doCyclePlots": False}


def test_a_step_of_a_busy_fill_is_rescheduled_and_runs_once_the_fill_is_free(lumi_roots, monkeypatch) -> None:
    _data, out = lumi_roots
    monkeypatch.setattr(dagkit, "LOCK_PATIENCE_S", 0.2)
    step = next(iter(REQUIRES))  # the first step (no parents)
    op = UnitCallOperator(
        task_id=step,
        call="include.lumi.orchestration:step_call",
        outcome="include.lumi.orchestration:step_outcome",
        options={"step": step},
        unit={"fills": [FILL], "config": CONFIG, "force": "all", "backend": "local"},
    )
    with unit_held_elsewhere(out / "lumi_followup" / f"fill_{FILL}"):
        before = datetime.now(UTC)
        with pytest.raises(AirflowRescheduleException) as rescheduled:
            op.execute({"run_id": "manual__busy"})
        assert rescheduled.value.reschedule_date >= before + dagkit.BUSY_RETRY_AFTER
    assert not (out / "lumi_followup" / f"fill_{FILL}" / "report.json").exists()  # nothing ran while held
    op.execute({"run_id": "manual__busy"})
    report = (out / "lumi_followup" / f"fill_{FILL}" / "report.json").read_text()
    assert f'"{step}"' in report
