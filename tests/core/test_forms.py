"""Typed form fields: the HTCondor section and errors that name the field."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from include.core.errors import ParamError
from include.core.forms import DEFAULT_MEMORY_MB, job_options, validate_model


def test_job_options_defaults_and_choices() -> None:
    assert job_options({}) == {
        "hold_policy": {"action": "wait", "on_memory": "fail"},
        "request_memory_mb": DEFAULT_MEMORY_MB,
    }
    given = {"hold_policy": "release", "on_memory_hold": "resubmit", "request_memory_mb": 300, "other": 1}
    assert job_options(given) == {
        "hold_policy": {"action": "release", "on_memory": "resubmit"},
        "request_memory_mb": 300,
    }
    # None (an empty form field) is the default
    assert job_options({"hold_policy": None})["hold_policy"]["action"] == "wait"


@pytest.mark.parametrize(
    ("params", "field", "shown"),
    [
        ({"hold_policy": "sometimes"}, "hold_policy", "'sometimes'"),
        ({"on_memory_hold": "grow"}, "on_memory_hold", "'grow'"),
        ({"request_memory_mb": "lots"}, "request_memory_mb", "'lots'"),
        ({"request_memory_mb": 10}, "request_memory_mb", "greater than or equal to 64"),
        ({"request_memory_mb": True}, "request_memory_mb", "True"),
    ],
)
def test_job_options_errors_name_the_field(params: dict, field: str, shown: str) -> None:
    with pytest.raises(ParamError) as info:
        job_options(params)
    assert info.value.param == field and shown in str(info.value)


def test_nested_fields_are_named_with_their_prefix() -> None:
    class Overrides(BaseModel):
        model_config = ConfigDict(extra="forbid", strict=True)
        doSBPlots: bool = True

    assert validate_model(Overrides, {"doSBPlots": False}).doSBPlots is False
    with pytest.raises(ParamError) as info:
        validate_model(Overrides, {"doSBPlots": "no"}, prefix="config_overrides")
    assert info.value.param == "config_overrides.doSBPlots" and "'no'" in str(info.value)
    with pytest.raises(ParamError) as info:
        validate_model(Overrides, {"noSuchKey": 1}, prefix="config_overrides")
    assert info.value.param == "config_overrides.noSuchKey"


def test_apptainer_backend_needs_an_existing_runtime_image(tmp_path, monkeypatch) -> None:
    from include.core.forms import backend_choice

    allowed = ("local", "condor", "apptainer")
    monkeypatch.delenv("HEP_RUNTIME_IMAGE", raising=False)
    with pytest.raises(ParamError, match=r"parameter 'backend'.*HEP_RUNTIME_IMAGE"):
        backend_choice({"backend": "apptainer"}, allowed)
    monkeypatch.setenv("HEP_RUNTIME_IMAGE", str(tmp_path / "missing.sif"))
    with pytest.raises(ParamError, match=r"missing\.sif does not exist"):
        backend_choice({"backend": "apptainer"}, allowed)
    (tmp_path / "missing.sif").write_bytes(b"SIF")
    assert backend_choice({"backend": "apptainer"}, allowed) == "apptainer"
    monkeypatch.setenv("HEP_DEFAULT_BACKEND", "apptainer")
    assert backend_choice({}, allowed) == "apptainer"
    assert backend_choice({}, ("local", "condor")) == "local"  # a production without containers
