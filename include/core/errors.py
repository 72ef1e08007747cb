"""Errors with a message that names the file or parameter and what is wrong with it."""

from __future__ import annotations


class ProductionError(Exception):
    """Base class of the errors raised by productions."""


class ConfigError(ProductionError):
    """A setting or configuration file is invalid."""


class ParamError(ProductionError, ValueError):
    """A run parameter is invalid. The message names the parameter."""

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"parameter {param!r}: {problem}")
        self.param = param
        self.problem = problem


class InputFileError(ProductionError):
    """An input file is missing, unreadable or malformed. The message names the file."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class StepError(ProductionError):
    """A step of a unit failed or did not produce its declared outputs."""


class UnitBusy(RuntimeError):
    """A unit folder is locked by another task or process (not a production error: try later)."""

    def __init__(self, workdir: object, holder: str) -> None:
        super().__init__(f"{workdir} is busy ({holder}); its steps run one at a time")
        self.workdir = workdir
        self.holder = holder
