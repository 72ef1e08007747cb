"""On the apptainer backend (the call runs in a container): a permanent error fails the task at
once naming the field; a transient one is retried."""

from __future__ import annotations

from pathlib import Path

import pytest
from dag_support import PERMANENT_CALL, TRANSIENT_CALL, run_unit_call

pytestmark = pytest.mark.apptainer


def test_permanent_error_in_the_container_fails_at_once(python_sif: Path) -> None:
    run, ti = run_unit_call("apptainer", PERMANENT_CALL, image=str(python_sif), apptainer_options={"host_python": True})
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 1)


def test_transient_error_in_the_container_is_retried(python_sif: Path) -> None:
    run, ti = run_unit_call("apptainer", TRANSIENT_CALL, image=str(python_sif), apptainer_options={"host_python": True})
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 4)
