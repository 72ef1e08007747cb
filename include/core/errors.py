"""Errors with a message that names the file or parameter and what is wrong with it."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


class ProductionError(Exception):
    """Base class of the errors raised by productions.

    ``permanent``: a retry cannot fix it (the parameters or the inputs must change first), so the
    task fails at once; otherwise (the default) the task is retried. :func:`is_permanent` is the
    one place that decides, for every backend (``include.core.runcall`` records it in the result).
    """

    permanent = False


class ConfigError(ProductionError):
    """A setting or configuration file is invalid."""

    permanent = True


class ParamError(ProductionError, ValueError):
    """A run parameter is invalid. The message names the parameter."""

    permanent = True

    def __init__(self, param: str, problem: str) -> None:
        super().__init__(f"parameter {param!r}: {problem}")
        self.param = param
        self.problem = problem


class InputFileError(ProductionError):
    """An input file is missing, unreadable or malformed. The message names the file."""

    permanent = True

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class StepError(ProductionError):
    """A step of a unit failed or did not produce its declared outputs.

    ``permanent`` when every failure behind it was (a step that failed on a bad input stays failed).
    """

    def __init__(self, message: str = "", permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class UnitBusy(RuntimeError):
    """A unit folder is locked by another task or process (not a production error: try later)."""

    def __init__(self, workdir: object, holder: str) -> None:
        super().__init__(f"{workdir} is busy ({holder}); its steps run one at a time")
        self.workdir = workdir
        self.holder = holder


def is_permanent(exc: BaseException) -> bool:
    """Whether a retry cannot fix ``exc`` (see :class:`ProductionError`); anything else is transient."""
    return bool(getattr(exc, "permanent", False)) and isinstance(exc, ProductionError)


@contextlib.contextmanager
def form_field(field: str, *aliases: str) -> Iterator[None]:
    """Report every problem raised inside as a problem of the trigger-form field ``field``.

    Readers name what they read (``runner``, ``fileset file of X``, a file path); the user typed
    into a form field. A :class:`ParamError` about another name becomes ``ParamError(field, ...)``
    that keeps the inner name (dropped when it is one of ``aliases``, i.e. the same thing), and a
    :class:`ConfigError` or :class:`InputFileError` about what the field points at becomes
    ``ParamError(field, <its message>)``.
    """
    try:
        yield
    except ParamError as exc:
        if exc.param == field:
            raise
        problem = exc.problem if exc.param in aliases else f"{exc.param}: {exc.problem}"
        raise ParamError(field, problem) from exc
    except (ConfigError, InputFileError) as exc:
        raise ParamError(field, str(exc)) from exc
