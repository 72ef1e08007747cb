"""The DAG kit: errors a retry cannot fix fail at once; everything else is left to retries."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException

from include.core.dagkit import backend_param, default_args, permanent_errors
from include.core.errors import ConfigError, InputFileError, ParamError


@pytest.mark.parametrize(
    "error", [ParamError("fills", "fill numbers repeat"), InputFileError("/x.csv", "corrupt"), ConfigError("bad")]
)
def test_input_errors_fail_without_retry(error: Exception) -> None:
    with pytest.raises(AirflowFailException, match=str(error)[:10]), permanent_errors():
        raise error


def test_other_errors_are_retried_and_extra_types_are_permanent() -> None:
    with pytest.raises(OSError), permanent_errors():
        raise OSError("schedd unreachable")
    with pytest.raises(AirflowFailException, match="shortfall"), permanent_errors(KeyError):
        raise KeyError("shortfall")


def test_defaults_retry_with_backoff_and_backend_choices() -> None:
    args = default_args()
    assert args["retries"] == 3 and args["retry_exponential_backoff"] is True
    param = backend_param(choices=("local", "condor"))
    assert param.schema["enum"] == ["local", "condor"] and "apptainer" not in param.description


def test_form_field_names_the_field_the_user_typed_into() -> None:
    from include.core.errors import form_field

    with pytest.raises(ParamError) as caught, form_field("config", "runner"):
        raise ParamError("runner", "'x; rm' contains the shell metacharacter ';'")
    assert str(caught.value) == "parameter 'config': 'x; rm' contains the shell metacharacter ';'"
    with pytest.raises(ParamError) as caught, form_field("fileset"):
        raise ParamError("fileset file of demo", "/etc/hosts is outside the allowed roots")
    assert caught.value.param == "fileset" and "fileset file of demo: /etc/hosts" in str(caught.value)
    with (
        pytest.raises(ParamError, match=r"^parameter 'binning': inline binning: pt_bins must be"),
        form_field("binning"),
    ):
        raise ConfigError("inline binning: pt_bins must be increasing")


def test_validation_task_is_never_retried_and_fails_at_once_naming_the_field() -> None:
    from include.core.dagkit import VALIDATE_TASK, validation_task

    echo = validation_task("builtins:dict")  # the validator gets the form as a plain dict
    assert (echo.kwargs["task_id"], echo.kwargs["retries"]) == (VALIDATE_TASK, 0)
    assert echo.function(params={"fills": None}) == {"fills": None}
    validate = validation_task("include.ecal_windows.pipeline:validate_params")
    with pytest.raises(AirflowFailException, match=r"^parameter 'no_such_field': unknown parameter"):
        validate.function(params={"no_such_field": 1})
    # a type the production names as permanent, given as "module:Class" (resolved when the task runs)
    with pytest.raises(TypeError):
        validation_task("include.core.paths:safe_name").function(params={})  # safe_name(value, param)
    with pytest.raises(AirflowFailException, match="missing 1 required positional argument"):
        validation_task("include.core.paths:safe_name", permanent=["builtins:TypeError"]).function(params={})


def test_a_fan_in_fails_clearly_on_a_missing_upstream_result() -> None:
    from include.core.dagkit import upstream_result

    assert upstream_result([], "plan") == []
    with pytest.raises(AirflowFailException, match="task plan did not succeed"):
        upstream_result(None, "plan")


def test_a_unit_task_gives_its_slot_back_while_another_process_works_on_its_unit(tmp_path, monkeypatch) -> None:
    from datetime import UTC, datetime

    from airflow.sdk.exceptions import AirflowRescheduleException
    from dag_support import unit_held_elsewhere

    from include.core import dagkit
    from include.core.steps import unit_lock

    monkeypatch.setattr(dagkit, "LOCK_PATIENCE_S", 0.2)

    @dagkit.unit_task()
    def step() -> str:
        with unit_lock(tmp_path):
            return "ran"

    with unit_held_elsewhere(tmp_path):
        before = datetime.now(UTC)
        with pytest.raises(AirflowRescheduleException) as rescheduled:
            step.function()
        assert rescheduled.value.reschedule_date >= before + dagkit.BUSY_RETRY_AFTER
    assert step.function() == "ran"  # the unit is free again: the rescheduled task runs
    assert step.function.__name__ == "step"  # the task keeps its id
