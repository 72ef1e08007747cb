"""Backends: where a call of ``include`` task code runs.

A :class:`TaskCall` names a function in ``include`` and its JSON-serializable keyword
arguments. ``local`` calls it in this process; ``condor`` (``include.condor``) and ``apptainer``
(``include.apptainer``) run the same call as ``python -m include.core.runcall`` in an HTCondor
job or a container, so results are identical across backends.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from include.core.errors import ConfigError, ParamError

_FUNCTION_REF = re.compile(r"^include(\.[A-Za-z_][A-Za-z0-9_]*)+:[A-Za-z_][A-Za-z0-9_]*$")

# Backend name -> "module:function" taking (call, **options) and returning the call's result.
_RUNNERS: dict[str, str] = {
    "local": "include.core.backends:call_local",
    "condor": "include.condor.jobcall:run_call",
    "apptainer": "include.apptainer.jobcall:run_call",
}


@dataclass(frozen=True)
class TaskCall:
    """A call of ``include.<module>:<function>(**kwargs)`` that can travel as JSON."""

    function: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not _FUNCTION_REF.match(self.function):
            raise ParamError("function", f"{self.function!r} is not of the form include.<module>:<function>")
        try:
            json.dumps(self.kwargs)
        except TypeError as exc:
            raise ParamError("kwargs", f"not JSON-serializable: {exc}") from exc

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> TaskCall:
        data = json.loads(text)
        return cls(function=data["function"], kwargs=data.get("kwargs", {}))

    def resolve(self) -> Callable[..., Any]:
        module_name, func_name = self.function.split(":")
        module = importlib.import_module(module_name)
        try:
            return getattr(module, func_name)
        except AttributeError as exc:
            raise ParamError("function", f"{module_name} has no function {func_name!r}") from exc


def call_local(call: TaskCall, **_options: Any) -> Any:
    """Run the call in this process; the result goes through JSON like on every backend."""
    result = call.resolve()(**call.kwargs)
    return json.loads(json.dumps(result))


def run_call(call: TaskCall, backend: str = "local", **options: Any) -> Any:
    """Run ``call`` on ``backend`` and return its (JSON-decoded) result."""
    if backend not in _RUNNERS:
        raise ParamError("backend", f"{backend!r} is not one of {', '.join(_RUNNERS)}")
    module_name, func_name = _RUNNERS[backend].split(":")
    try:
        runner = getattr(importlib.import_module(module_name), func_name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"backend {backend!r} is not available: {exc}") from exc
    return runner(call, **options)
