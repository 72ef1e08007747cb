"""Typed trigger-form fields (pydantic v2), with errors that name the form field.

:func:`validate_model` checks a dict against a model and turns the first problem into a
:class:`~include.core.errors.ParamError` naming the field (``hold_policy``, or
``config_overrides.doSBPlots`` for a nested one) and the value. :class:`JobOptions` is the form's
HTCondor section, the same for every production: what happens to a held job and how much memory a
job asks for; :func:`job_options` reads it from a form into what
:class:`~include.core.unit_operator.UnitCallOperator` takes from a unit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from include.core.errors import ParamError

Model = TypeVar("Model", bound=BaseModel)

HOLD_ACTIONS = ("wait", "release", "fail")
MEMORY_HOLD_ACTIONS = ("fail", "resubmit")
DEFAULT_MEMORY_MB = 2048


def validate_model(model: type[Model], data: Mapping[str, Any], prefix: str = "") -> Model:
    """``model`` from ``data``; the first problem raises ParamError naming ``prefix.field``."""
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(part) for part in (*([prefix] if prefix else []), *err["loc"])) or prefix or "form"
        value = f" (got {err['input']!r})" if err["type"] != "missing" else ""
        raise ParamError(field, f"{err['msg']}{value}") from None


def choice(params: Mapping[str, Any], name: str, allowed: Sequence[Any], default: Any) -> Any:
    """``params[name]`` (``default`` when absent or empty) if it is one of ``allowed``."""
    value = params.get(name)
    value = default if value in (None, "") else value
    if value not in allowed:
        raise ParamError(name, f"{value!r} is not one of {', '.join(map(str, allowed))}")
    return value


def backend_choice(params: Mapping[str, Any], allowed: Sequence[str]) -> str:
    """The form's ``backend``; empty means HEP_DEFAULT_BACKEND (when the production offers it)."""
    from include.settings import load_settings

    default = load_settings().default_backend
    backend = str(choice(params, "backend", allowed, default if default in allowed else allowed[0]))
    if backend == "apptainer":
        runtime_image()
    return backend


def runtime_image() -> str:
    """The apptainer backend's image (HEP_RUNTIME_IMAGE); refused at once when unset or missing."""
    from pathlib import Path

    from include.settings import load_settings

    image = load_settings().runtime_image
    if not image:
        raise ParamError(
            "backend",
            "'apptainer' needs a runtime image: set HEP_RUNTIME_IMAGE to a SIF "
            "(python -m include.apptainer.runtime_image DEST.sif builds one)",
        )
    if not Path(image).is_file():
        raise ParamError("backend", f"'apptainer': HEP_RUNTIME_IMAGE={image} does not exist")
    return image


class JobOptions(BaseModel):
    """The form's HTCondor section (used when the backend is ``condor``)."""

    model_config = ConfigDict(extra="ignore", strict=True)

    hold_policy: Literal["wait", "release", "fail"] = "wait"
    """A held job: ``wait`` (up to 4 h, for a manual condor_release), ``release`` (once), ``fail``."""
    on_memory_hold: Literal["fail", "resubmit"] = "fail"
    """A job held for exceeding its memory: fail, or resubmit it with 1.5x the memory."""
    request_memory_mb: int = Field(DEFAULT_MEMORY_MB, ge=64, le=1024 * 1024)


def job_options(params: Mapping[str, Any]) -> dict[str, Any]:
    """The HTCondor options of a form, as a unit carries them (``hold_policy``, ``request_memory_mb``)."""
    given = {k: v for k, v in params.items() if k in JobOptions.model_fields and v is not None}
    opts = validate_model(JobOptions, given)
    return {
        "hold_policy": {"action": opts.hold_policy, "on_memory": opts.on_memory_hold},
        "request_memory_mb": opts.request_memory_mb,
    }
