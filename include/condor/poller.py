"""Status polls of a set of procs: event log first, batched schedd query/history as fallback.

Synchronous (the trigger runs it in a thread). The event log is authoritative for final
states and is read incrementally; the schedd is asked when the log is unreadable, when procs are missing from it, or
every ``schedd_every``-th poll for procs that are not final yet.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

from include.condor.eventlog import EventLogReader
from include.condor.hook import HTCondorHook, split_job_id
from include.condor.states import ProcState, State


@dataclass
class Poller:
    hook: HTCondorHook
    job_ids: list[str]
    event_log: str | None = None
    schedd_every: int = 6
    polls: int = 0
    log_errors: int = 0
    last_error: str = ""
    _clusters: set[int] = field(default_factory=set)
    _reader: EventLogReader | None = None

    def __post_init__(self) -> None:
        self._clusters = {split_job_id(j)[0] for j in self.job_ids}
        if self.event_log:
            self._reader = EventLogReader(self.event_log, self._clusters)

    def poll(self) -> dict[str, ProcState]:
        """States of all watched procs; unknown procs get state ``unknown``."""
        self.polls += 1
        wanted = set(self.job_ids)
        states: dict[str, ProcState] = {}
        log_ok = False
        if self._reader is not None:
            try:
                found = self._reader.read()
                states = {k: v for k, v in found.items() if k in wanted}
                log_ok = True
            except OSError as exc:
                self.log_errors += 1
                self.last_error = f"event log {self.event_log}: {exc}"
        open_ids = [j for j in self.job_ids if j not in states or not states[j].final]
        ask = open_ids and (not log_ok or len(states) < len(wanted) or self.polls % self.schedd_every == 1)
        if ask:
            merge(states, self.hook.job_states(open_ids))
        for job_id in self.job_ids:
            if job_id not in states:
                cluster, proc = split_job_id(job_id)
                states[job_id] = ProcState(cluster=cluster, proc=proc, state=State.UNKNOWN)
        return states


def merge(states: dict[str, ProcState], fresh: dict[str, ProcState], only: Collection[str] | None = None) -> None:
    """Overlay schedd states on event-log states (log counters and final states win)."""
    for job_id, st in fresh.items():
        if only is not None and job_id not in only:
            continue
        old = states.get(job_id)
        if old is not None and old.final:
            continue
        if old is not None:
            st.releases = max(st.releases, old.releases)
            st.evictions = max(st.evictions, old.evictions)
            st.holds = max(st.holds, old.holds)
            if st.state == State.HELD and old.state == State.HELD and old.held_since:
                st.held_since = old.held_since
        states[job_id] = st
