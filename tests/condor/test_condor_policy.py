"""Offline tests of the held-job policy and of the trigger's decisions (fake schedd)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from include.condor import triggers
from include.condor.policy import Decision, HoldPolicy, is_memory_hold
from include.condor.states import ProcState, State
from include.core.errors import ParamError

DATA = Path(__file__).parent / "data"


def held(code: int, since: float = 1000.0, releases: int = 0) -> ProcState:
    return ProcState(1, 0, State.HELD, hold_code=code, hold_subcode=0, held_since=since, releases=releases)


def test_policy_actions() -> None:
    assert HoldPolicy(action="fail").decide(held(1), 1001) == Decision.FAIL
    assert HoldPolicy(action="release", max_releases=2).decide(held(1, releases=1), 1001) == Decision.RELEASE
    spent = HoldPolicy(action="release", max_releases=1, timeout_s=60)
    assert spent.decide(held(1, releases=1), 1001) == Decision.WAIT
    assert spent.decide(held(1, releases=1), 1061) == Decision.FAIL
    wait = HoldPolicy()
    assert wait.timeout_s == 4 * 3600
    assert wait.decide(held(13), 1000 + 4 * 3600 - 1) == Decision.WAIT
    assert wait.decide(held(13), 1000 + 4 * 3600) == Decision.FAIL
    assert wait.decide(ProcState(1, 0, State.EXECUTING), 0) == Decision.WAIT


def test_memory_holds_are_never_released() -> None:
    assert HoldPolicy(action="release").decide(held(34), 1001) == Decision.FAIL
    policy = HoldPolicy(action="release", on_memory="resubmit", memory_cap_mb=3000)
    assert policy.decide(held(34), 1001) == Decision.RESUBMIT_MEMORY
    assert policy.next_memory(1000) == 1500
    assert policy.next_memory(2500) == 3000
    assert policy.next_memory(3000) is None
    # the job-policy hold that MEMORY_PERIODIC_HOLD produces counts as a memory hold
    job_policy_memory = ProcState(1, 0, State.HELD, hold_code=3, hold_subcode=34, held_since=1000.0)
    assert is_memory_hold(job_policy_memory) and policy.decide(job_policy_memory, 1001) == Decision.RESUBMIT_MEMORY
    assert not is_memory_hold(ProcState(1, 0, State.HELD, hold_code=3, hold_subcode=0))


def test_policy_validation_and_coercion() -> None:
    with pytest.raises(ParamError):
        HoldPolicy(action="ignore")
    assert HoldPolicy.coerce("fail").action == "fail"
    assert HoldPolicy.coerce({"action": "release", "max_releases": 3}).max_releases == 3
    assert HoldPolicy.coerce(None) == HoldPolicy()


class FakeHook:
    """Serves states; counts releases and removals."""

    def __init__(self, seq: list[dict[str, ProcState] | Exception]) -> None:
        self.seq = seq
        self.released: list[str] = []
        self.removed: list[str] = []

    def read_event_log(self, path: Any, clusters: Any = None) -> dict[str, ProcState]:
        raise FileNotFoundError(path)

    def job_states(self, job_ids: Any) -> dict[str, ProcState]:
        item = self.seq.pop(0) if len(self.seq) > 1 else self.seq[0]
        if isinstance(item, Exception):
            raise item
        return {k: ProcState.from_dict(v.to_dict()) for k, v in item.items()}

    def release(self, job_ids: list[str], reason: str = "") -> dict:
        self.released += job_ids
        return {}

    def remove(self, job_ids: list[str], reason: str = "") -> dict:
        self.removed += job_ids
        return {}


def run_trigger(monkeypatch: pytest.MonkeyPatch, hook: FakeHook, **kwargs: Any) -> list[dict]:
    trig = triggers.HTCondorJobTrigger(job_ids=["1.0"], event_log="/nonexistent", poll_interval=0, **kwargs)
    monkeypatch.setattr(trig, "_hook", lambda: hook)

    async def collect() -> list[dict]:
        return [ev.payload async for ev in trig.run()]

    return asyncio.run(collect())


def done(code: int) -> dict[str, ProcState]:
    return {"1.0": ProcState(1, 0, State.TERMINATED, exit_code=code)}


def test_trigger_tolerates_poll_failures_then_finishes(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = FakeHook([RuntimeError("schedd busy"), RuntimeError("schedd busy"), done(0)])
    (event,) = run_trigger(monkeypatch, hook, max_poll_failures=3)
    assert event["status"] == "done" and event["succeeded"] == ["1.0"] and event["states"] == {}


def test_trigger_gives_up_after_n_failures(monkeypatch: pytest.MonkeyPatch) -> None:
    (event,) = run_trigger(monkeypatch, FakeHook([RuntimeError("down")]), max_poll_failures=2)
    assert event["status"] == "error" and "2 consecutive" in event["message"]


def test_trigger_releases_then_reports_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = FakeHook([{"1.0": held(1)}, {"1.0": ProcState(1, 0, State.EXECUTING)}, done(3)])
    (event,) = run_trigger(monkeypatch, hook, hold_policy={"action": "release"})
    assert hook.released == ["1.0"]
    assert event["status"] == "done" and event["states"]["1.0"]["exit_code"] == 3


def test_trigger_returns_memory_hold_to_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    hook = FakeHook([{"1.0": held(34)}])
    (event,) = run_trigger(monkeypatch, hook, hold_policy={"action": "release", "on_memory": "resubmit"})
    assert event["status"] == "held" and event["action"] == "resubmit_memory" and event["held"] == ["1.0"]
    assert hook.released == [] and hook.removed == []  # the trigger neither releases nor resubmits


def test_trigger_serializes_and_on_kill_removes(monkeypatch: pytest.MonkeyPatch) -> None:
    trig = triggers.HTCondorJobTrigger(job_ids=["1.0", "1.1"], hold_policy={"action": "fail"})
    path, kwargs = trig.serialize()
    assert path == "include.condor.triggers.HTCondorJobTrigger"
    clone = triggers.HTCondorJobTrigger(**kwargs)
    assert clone.serialize() == (path, kwargs)
    hook = FakeHook([done(0)])
    monkeypatch.setattr(clone, "_hook", lambda: hook)
    asyncio.run(clone.cleanup())
    assert hook.removed == []
    asyncio.run(clone.on_kill())
    assert hook.removed == ["1.0", "1.1"]
