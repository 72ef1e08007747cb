"""On the condor backend (the job runs ``include.core.runcall``): a permanent error inside the job
fails the task at once; a transient one is retried, each try with a cluster of its own."""

from __future__ import annotations

import pytest
from dag_support import PERMANENT_CALL, TRANSIENT_CALL, run_unit_call

from include.condor.hook import HTCondorHook
from include.condor.submit import batch_name

pytestmark = [pytest.mark.condor, pytest.mark.slow]


def _clusters(run, tries: int) -> dict:
    names = [batch_name(run.dag_id, "unit", run.run_id, -1, try_number=t) for t in range(1, tries + 1)]
    return HTCondorHook(None, backoff=(1.0, 2.0)).find_batch(names, history=True)


def test_permanent_error_in_the_job_fails_at_once(pool: str) -> None:
    run, ti = run_unit_call("condor", PERMANENT_CALL)
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 1)
    assert len(_clusters(run, 4)) == 1  # no retry submitted anything


def test_transient_error_in_the_job_is_retried(pool: str) -> None:
    run, ti = run_unit_call("condor", TRANSIENT_CALL)
    assert (run.state, ti.state, ti.try_number) == ("failed", "failed", 4)
    assert len(_clusters(run, 4)) == 4  # each retry submitted the failed proc again
