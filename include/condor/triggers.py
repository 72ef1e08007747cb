"""``HTCondorJobTrigger``: polls a set of procs until all are final or a hold needs the worker.

It never submits. Synchronous HTCondor calls run in ``asyncio.to_thread``. Up to
``max_poll_failures`` consecutive failed polls are tolerated. Held procs follow the
:class:`~include.condor.policy.HoldPolicy`: releases happen here; failing and
memory resubmission are returned to the operator as an event. ``on_kill`` (user kill)
removes the jobs; ``cleanup`` (every exit, including triggerer restarts) does not.

Event payload: ``{"status": "done" | "held" | "error", "message", "summary",
"succeeded": [job ids], "states": {job id: ProcState dict for every proc not succeeded},
"held": [job ids], "action": "fail" | "resubmit_memory"}``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from include.condor.hook import HTCondorHook
from include.condor.policy import Decision, HoldPolicy
from include.condor.poller import Poller
from include.condor.states import ProcState, State, summarize


def event_payload(status: str, states: dict[str, ProcState], message: str = "", **extra: Any) -> dict[str, Any]:
    """A JSON payload with full states only for procs that did not succeed."""
    succeeded = [j for j, st in states.items() if st.succeeded]
    return {
        "status": status,
        "message": message,
        "summary": summarize(states),
        "succeeded": succeeded,
        "states": {j: st.to_dict() for j, st in states.items() if not st.succeeded},
        **extra,
    }


class HTCondorJobTrigger(BaseTrigger):
    """Wait for HTCondor procs (``"cluster.proc"`` ids) on one schedd."""

    def __init__(
        self,
        job_ids: list[str],
        event_log: str | None = None,
        collector: str = "",
        schedd: str = "",
        poll_interval: float = 10.0,
        max_poll_failures: int = 5,
        hold_policy: dict[str, Any] | None = None,
        schedd_every: int = 6,
        backoff: list[float] | None = None,
    ) -> None:
        super().__init__()
        self.job_ids = list(job_ids)
        self.event_log = event_log
        self.collector = collector
        self.schedd = schedd
        self.poll_interval = float(poll_interval)
        self.max_poll_failures = int(max_poll_failures)
        self.hold_policy = HoldPolicy.coerce(hold_policy).to_dict()
        self.schedd_every = int(schedd_every)
        self.backoff = list(backoff) if backoff is not None else [2.0, 6.0, 18.0]

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_ids": self.job_ids,
                "event_log": self.event_log,
                "collector": self.collector,
                "schedd": self.schedd,
                "poll_interval": self.poll_interval,
                "max_poll_failures": self.max_poll_failures,
                "hold_policy": self.hold_policy,
                "schedd_every": self.schedd_every,
                "backoff": self.backoff,
            },
        )

    def _hook(self) -> HTCondorHook:
        return HTCondorHook(None, collector=self.collector, schedd=self.schedd, backoff=self.backoff)

    async def run(self) -> AsyncIterator[TriggerEvent]:
        hook = self._hook()
        poller = Poller(hook, self.job_ids, self.event_log, schedd_every=self.schedd_every)
        policy = HoldPolicy.coerce(self.hold_policy)
        failures = unknown_polls = 0
        states: dict[str, ProcState] = {}
        last_summary: dict[str, int] = {}
        while True:
            try:
                states = await asyncio.to_thread(poller.poll)
                failures = 0
            except Exception as exc:
                failures += 1
                self.log.warning("poll %d/%d failed: %s", failures, self.max_poll_failures, exc)
                if failures >= self.max_poll_failures:
                    msg = f"{failures} consecutive status polls failed; last error: {exc}"
                    yield TriggerEvent(event_payload("error", states, msg))
                    return
                await asyncio.sleep(self.poll_interval)
                continue
            summary = summarize(states)
            if summary != last_summary:
                self.log.info("cluster(s) %s: %s", _clusters(self.job_ids), summary)
                last_summary = summary
            held = await self._apply_hold_policy(hook, policy, states)
            if held is not None:
                yield held
                return
            unknown = [j for j, st in states.items() if st.state == State.UNKNOWN]
            unknown_polls = unknown_polls + 1 if unknown else 0
            if unknown_polls >= max(self.max_poll_failures, 3):
                msg = f"procs {', '.join(unknown[:10])} are in neither the queue, the history nor the event log"
                yield TriggerEvent(event_payload("error", states, msg))
                return
            if states and all(st.final for st in states.values()):
                yield TriggerEvent(event_payload("done", states, f"all {len(states)} procs finished"))
                return
            await asyncio.sleep(self.poll_interval)

    async def _apply_hold_policy(
        self, hook: HTCondorHook, policy: HoldPolicy, states: dict[str, ProcState]
    ) -> TriggerEvent | None:
        now = time.time()
        decisions: dict[str, Decision] = {}
        for job_id, st in states.items():
            if st.state == State.HELD:
                decisions[job_id] = policy.decide(st, now)
        release = [j for j, d in decisions.items() if d == Decision.RELEASE]
        if release:
            for j in release:
                st = states[j]
                self.log.warning("releasing held %s (%d/%d)", st.describe(), st.releases + 1, policy.max_releases)
            try:
                await asyncio.to_thread(hook.release, release)
            except Exception as exc:  # the next poll sees it still held and tries again
                self.log.warning("release of %s failed: %s", release, exc)
        for action in (Decision.FAIL, Decision.RESUBMIT_MEMORY):
            chosen = [j for j, d in decisions.items() if d == action]
            if chosen:
                lines = "; ".join(states[j].describe() for j in chosen[:10])
                msg = f"{len(chosen)} held proc(s), policy {action}: {lines}"
                return TriggerEvent(event_payload("held", states, msg, held=chosen, action=str(action)))
        return None

    async def on_kill(self) -> None:
        """The user killed the task: remove the jobs."""
        hook = self._hook()
        hook.backoff = (1.0,)
        await asyncio.wait_for(asyncio.to_thread(hook.remove, self.job_ids, "Airflow task killed"), timeout=60)
        self.log.info("removed %d proc(s) of cluster(s) %s", len(self.job_ids), _clusters(self.job_ids))

    async def cleanup(self) -> None:
        """Nothing to release locally; the jobs keep running across triggerer restarts."""


def _clusters(job_ids: list[str]) -> str:
    return ",".join(sorted({j.split(".")[0] for j in job_ids}, key=int))
