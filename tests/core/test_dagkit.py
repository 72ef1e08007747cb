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
