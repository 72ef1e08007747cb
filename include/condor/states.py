"""Per-proc job states, built from event-log events or from job ClassAds (queue or history)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Where one proc is. ``terminated`` and ``aborted`` are final."""

    SUBMITTED = "submitted"
    EXECUTING = "executing"
    EVICTED = "evicted"
    HELD = "held"
    RELEASED = "released"
    SUSPENDED = "suspended"
    TRANSFERRING = "transferring"
    ABORTED = "aborted"
    TERMINATED = "terminated"
    UNKNOWN = "unknown"


FINAL = frozenset({State.ABORTED, State.TERMINATED})

# ClassAd JobStatus -> state (1 idle, 2 running, 3 removed, 4 completed, 5 held, 6 transferring, 7 suspended).
_JOB_STATUS = {
    1: State.SUBMITTED,
    2: State.EXECUTING,
    3: State.ABORTED,
    4: State.TERMINATED,
    5: State.HELD,
    6: State.TRANSFERRING,
    7: State.SUSPENDED,
}


@dataclass
class ProcState:
    """State of one proc, JSON-round-trippable (trigger event payloads)."""

    cluster: int
    proc: int
    state: State = State.UNKNOWN
    exit_code: int | None = None
    exit_signal: int | None = None
    hold_reason: str | None = None
    hold_code: int | None = None
    hold_subcode: int | None = None
    held_since: float | None = None
    evictions: int = 0
    holds: int = 0
    releases: int = 0
    updated: float = 0.0

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    @property
    def final(self) -> bool:
        return self.state in FINAL

    @property
    def succeeded(self) -> bool:
        return self.state == State.TERMINATED and self.exit_code == 0 and self.exit_signal is None

    def describe(self) -> str:
        """One line for logs and error messages."""
        text = f"{self.job_id} {self.state}"
        if self.state == State.TERMINATED:
            text += f" (signal {self.exit_signal})" if self.exit_signal is not None else f" (exit {self.exit_code})"
        if self.state == State.HELD or (self.hold_code is not None and not self.succeeded):
            text += f" [HoldReasonCode {self.hold_code}/{self.hold_subcode}: {self.hold_reason}]"
        return text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["state"] = str(self.state)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcState:
        values = dict(data)
        values["state"] = State(values.get("state", "unknown"))
        return cls(**values)


def _int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def from_classad(ad: Mapping[str, Any]) -> ProcState:
    """A :class:`ProcState` from a queue or history ClassAd (needs the ``PROJECTION`` attributes)."""
    status = _int(ad.get("JobStatus")) or 0
    state = ProcState(cluster=int(ad["ClusterId"]), proc=int(ad["ProcId"]))
    state.state = _JOB_STATUS.get(status, State.UNKNOWN)
    state.updated = float(ad.get("EnteredCurrentStatus") or 0)
    if state.state == State.TERMINATED:
        if ad.get("ExitBySignal") is True:
            state.exit_signal = _int(ad.get("ExitSignal"))
        else:
            state.exit_code = _int(ad.get("ExitCode"))
    if ad.get("HoldReasonCode") is not None:
        state.hold_code = _int(ad.get("HoldReasonCode"))
        state.hold_subcode = _int(ad.get("HoldReasonSubCode"))
        state.hold_reason = str(ad.get("HoldReason") or "")
    if state.state == State.HELD:
        state.held_since = state.updated
    state.holds = _int(ad.get("NumHolds")) or (1 if state.state == State.HELD else 0)
    state.releases = max(0, state.holds - 1) if state.state == State.HELD else state.holds
    state.evictions = max(0, (_int(ad.get("NumJobStarts")) or 0) - 1) if state.state != State.TERMINATED else 0
    return state


PROJECTION = [
    "ClusterId",
    "ProcId",
    "JobStatus",
    "ExitCode",
    "ExitBySignal",
    "ExitSignal",
    "HoldReason",
    "HoldReasonCode",
    "HoldReasonSubCode",
    "EnteredCurrentStatus",
    "NumJobStarts",
    "NumHolds",
    "JobBatchName",
]


def summarize(states: Mapping[str, ProcState]) -> dict[str, int]:
    """Count of procs per state."""
    counts: dict[str, int] = {}
    for st in states.values():
        counts[str(st.state)] = counts.get(str(st.state), 0) + 1
    return dict(sorted(counts.items()))
