"""On the local backend: a permanent error fails the task at once; a transient one is retried.

The same checks for the condor backend are in tests/condor/test_unit_backend_condor.py and for
apptainer in tests/apptainer/test_unit_backend_apptainer.py (they need the pool and apptainer).
"""

from __future__ import annotations

from dag_support import PERMANENT_CALL, TRANSIENT_CALL, run_unit_call


def test_permanent_error_fails_at_once_naming_the_field(capfd, caplog) -> None:
    run, ti = run_unit_call("local", PERMANENT_CALL)
    out = capfd.readouterr()
    text = out.out + out.err + caplog.text
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    assert "permanent failure (not retried): ParamError: parameter 'tag'" in text


def test_transient_error_is_retried() -> None:
    run, ti = run_unit_call("local", TRANSIENT_CALL)
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 4)  # 1 try + 3 retries


def test_unclear_freshness_runs_the_call_which_reports_it() -> None:
    from include.core.unit_operator import UnitCallOperator

    unit = {**TRANSIENT_CALL, "backend": "condor"}
    op = UnitCallOperator(
        task_id="unit", call="include.core.unit_operator:direct_call", unit=unit, fresh="dag_support:unclear_freshness"
    )
    assert op._fresh(unit) is False
    no_fresh = UnitCallOperator(task_id="u2", call="include.core.unit_operator:direct_call", unit=unit)
    assert no_fresh._fresh(unit) is False
