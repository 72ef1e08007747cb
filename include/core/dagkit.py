"""What every DAG file shares: default arguments and the common trigger-form fields.

Only ``dags/`` and the execution layer import this module (it imports ``airflow.sdk``);
production task code never does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException

from include.core.errors import ConfigError, InputFileError, ParamError
from include.settings import BACKENDS

OWNER = "hep-productions"


def default_args(retries: int = 3, **extra: Any) -> dict[str, Any]:
    """Retries with exponential backoff for every task (they all touch files or services)."""
    return {
        "owner": OWNER,
        "retries": retries,
        "retry_delay": timedelta(seconds=30),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=30),
        **extra,
    }


def backend_param(default: str = "local", choices: tuple[str, ...] = BACKENDS) -> Param:
    """The ``backend`` field: where the units run."""
    meaning = {
        "local": "local: in the Airflow worker",
        "condor": "condor: one HTCondor job per unit",
        "apptainer": "apptainer: in a container on the worker",
    }
    return Param(
        default,
        type="string",
        enum=list(choices),
        title="Backend",
        description="; ".join(meaning[c] for c in choices) + ".",
    )


def force_param(choices: list[str]) -> Param:
    """The ``force`` field: re-run a step and everything downstream of it."""
    return Param(
        "none",
        type="string",
        enum=choices,
        title="Force",
        description="Re-run this step and every step that depends on it, even if its products are "
        "up to date. 'all' re-runs everything; 'none' runs only what is missing or stale.",
    )


@contextlib.contextmanager
def permanent_errors(*extra: type[BaseException]) -> Iterator[None]:
    """Fail the task at once, without retries, on errors a retry cannot fix.

    A bad parameter, a bad input file or a bad configuration (and the ``extra`` types) becomes an
    ``AirflowFailException`` with the same message; anything else is retried as usual.
    """
    try:
        yield
    except (ParamError, InputFileError, ConfigError, *extra) as exc:
        raise AirflowFailException(str(exc)) from exc
