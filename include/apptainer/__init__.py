"""Apptainer (or singularity) execution: command builder, process runner, operator, backend.

* :mod:`include.apptainer.command` builds validated argv lists (never shell strings).
* :mod:`include.apptainer.runner` runs an argv in its own process group, streams its output,
  enforces a timeout and kills the whole group (no Airflow needed).
* :mod:`include.apptainer.operators` holds :class:`ApptainerOperator`, a thin Airflow layer.
* :mod:`include.apptainer.jobcall` is the ``apptainer`` backend of
  :func:`include.core.backends.run_call`.
* :mod:`include.apptainer.images` builds small local images (tests, benchmarks, sites
  without a registry).
"""

from include.apptainer.command import Bind, build_command, find_apptainer, parse_bind
from include.apptainer.runner import CommandFailed, CommandTimeout, ProcessRunner, RunResult, run_command

__all__ = [
    "Bind",
    "CommandFailed",
    "CommandTimeout",
    "ProcessRunner",
    "RunResult",
    "build_command",
    "find_apptainer",
    "parse_bind",
    "run_command",
]
