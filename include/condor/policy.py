"""Held-job policy: what to do with a held proc. Never wait silently forever.

* ``fail``: fail at once.
* ``release``: release up to ``max_releases`` times, then wait up to ``timeout_s`` and fail.
* ``wait``: wait up to ``timeout_s`` (default 4 h, time for a manual ``condor_release``), then fail.

HoldReasonCode 34 (memory limit exceeded) is never released unchanged: it fails, or, with
``on_memory="resubmit"``, the operator removes the proc and submits it again with
``request_memory`` × ``memory_factor`` up to ``memory_cap_mb``. A job-policy hold (code 3)
with subcode 34 counts as a memory hold too: that is what :data:`MEMORY_PERIODIC_HOLD` sets,
for pools that do not enforce memory limits themselves (seen on the personal pool).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from include.condor.states import ProcState, State
from include.core.errors import ParamError

MEMORY_EXCEEDED = 34
JOB_POLICY = 3
# Submit commands that hold a job using more memory than requested (code 3, subcode 34).
MEMORY_PERIODIC_HOLD = {
    "periodic_hold": "MemoryUsage =!= undefined && MemoryUsage > RequestMemory",
    "periodic_hold_reason": '"memory usage exceeded request_memory"',
    "periodic_hold_subcode": str(MEMORY_EXCEEDED),
}


def is_memory_hold(st: ProcState) -> bool:
    """HoldReasonCode 34, or a job-policy hold (3) with subcode 34."""
    return st.hold_code == MEMORY_EXCEEDED or (st.hold_code == JOB_POLICY and st.hold_subcode == MEMORY_EXCEEDED)


class Decision(StrEnum):
    WAIT = "wait"
    RELEASE = "release"
    FAIL = "fail"
    RESUBMIT_MEMORY = "resubmit_memory"


@dataclass(frozen=True)
class HoldPolicy:
    """How held procs are handled (JSON-serialisable for trigger kwargs)."""

    action: str = "wait"
    max_releases: int = 1
    timeout_s: float = 4 * 3600.0
    on_memory: str = "fail"
    memory_factor: float = 1.5
    memory_cap_mb: int = 16384

    def __post_init__(self) -> None:
        if self.action not in ("fail", "release", "wait"):
            raise ParamError("hold_policy.action", f"{self.action!r} is not one of fail, release, wait")
        if self.on_memory not in ("fail", "resubmit"):
            raise ParamError("hold_policy.on_memory", f"{self.on_memory!r} is not one of fail, resubmit")
        if self.timeout_s < 0 or self.max_releases < 0:
            raise ParamError("hold_policy", "timeout_s and max_releases must be >= 0")
        if self.memory_factor <= 1:
            raise ParamError("hold_policy.memory_factor", "must be > 1")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: HoldPolicy | Mapping[str, Any] | str | None) -> HoldPolicy:
        """Accept a policy, a dict of its fields, an action name or None (the default)."""
        if value is None:
            return cls()
        if isinstance(value, HoldPolicy):
            return value
        if isinstance(value, str):
            return cls(action=value)
        return cls(**dict(value))

    def decide(self, st: ProcState, now: float) -> Decision:
        """The action for one proc (``WAIT`` when it is not held)."""
        if st.state != State.HELD:
            return Decision.WAIT
        if is_memory_hold(st):
            return Decision.RESUBMIT_MEMORY if self.on_memory == "resubmit" else Decision.FAIL
        if self.action == "fail":
            return Decision.FAIL
        if self.action == "release" and st.releases < self.max_releases:
            return Decision.RELEASE
        held_for = now - (st.held_since or now)
        return Decision.FAIL if held_for >= self.timeout_s else Decision.WAIT

    def next_memory(self, current_mb: int) -> int | None:
        """The raised ``request_memory`` for a resubmission, or None when the cap is reached."""
        if current_mb >= self.memory_cap_mb:
            return None
        return min(self.memory_cap_mb, math.ceil(current_mb * self.memory_factor))
