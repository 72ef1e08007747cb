"""Job event log (user log) parsing into per-proc states, with ``htcondor2.JobEventLog``.

Works without a pool or condor config, so it is tested offline on hand-written logs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from include.condor.states import ProcState, State


def bindings() -> Any:
    """``htcondor2``, imported on first use (DAG files that import operators stay cheap to parse)."""
    import htcondor2

    return htcondor2


def _get(event: Any, key: str, default: Any = None) -> Any:
    try:
        return event.get(key, default)
    except Exception:  # some event types raise on unknown keys
        return default


def apply_event(states: dict[str, ProcState], event: Any) -> None:
    """Update ``states`` (keyed ``"cluster.proc"``) with one event."""
    cluster, proc = int(event.cluster), int(event.proc)
    if proc < 0:  # cluster-level events (CLUSTER_SUBMIT, CLUSTER_REMOVE)
        return
    key = f"{cluster}.{proc}"
    st = states.get(key) or ProcState(cluster=cluster, proc=proc)
    states[key] = st
    kind = event.type
    _T = bindings().JobEventType
    ts = float(event.timestamp)
    if st.final and kind not in (_T.JOB_TERMINATED, _T.JOB_ABORTED):
        return  # nothing after a final event changes the outcome
    st.updated = ts
    if kind == _T.SUBMIT:
        st.state = State.SUBMITTED
    elif kind == _T.EXECUTE:
        st.state = State.EXECUTING
    elif kind == _T.JOB_EVICTED:
        st.state = State.EVICTED
        st.evictions += 1
    elif kind == _T.JOB_HELD:
        st.state = State.HELD
        st.holds += 1
        st.held_since = ts
        st.hold_reason = str(_get(event, "HoldReason", ""))
        st.hold_code = _get(event, "HoldReasonCode")
        st.hold_subcode = _get(event, "HoldReasonSubCode")
    elif kind == _T.JOB_RELEASED:
        st.state = State.RELEASED
        st.releases += 1
        st.held_since = None
    elif kind == _T.JOB_SUSPENDED:
        st.state = State.SUSPENDED
    elif kind == _T.JOB_UNSUSPENDED:
        st.state = State.EXECUTING
    elif kind == _T.JOB_ABORTED:
        st.state = State.ABORTED
    elif kind == _T.JOB_TERMINATED:
        st.state = State.TERMINATED
        if _get(event, "TerminatedNormally", False):
            st.exit_code = _get(event, "ReturnValue")
        else:
            st.exit_signal = _get(event, "TerminatedBySignal")


def states_from_events(events: Iterable[Any], clusters: Collection[int] | None = None) -> dict[str, ProcState]:
    """Per-proc states from events (only ``clusters`` if given)."""
    states: dict[str, ProcState] = {}
    for event in events:
        if clusters is None or int(event.cluster) in clusters:
            apply_event(states, event)
    return states


def read_event_log(path: str | Path, clusters: Collection[int] | None = None) -> dict[str, ProcState]:
    """Read the whole log now (never waits). Raises ``OSError`` if it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no job event log")
    log = bindings().JobEventLog(str(path))
    try:
        return states_from_events(log.events(stop_after=0), clusters)
    finally:
        log.close()


class EventLogReader:
    """Incremental reader: each :meth:`read` applies only the events written since the last one."""

    def __init__(self, path: str | Path, clusters: Collection[int] | None = None) -> None:
        self.path = Path(path)
        self.clusters = set(clusters) if clusters is not None else None
        self._log: Any = None
        self._states: dict[str, ProcState] = {}

    def read(self) -> dict[str, ProcState]:
        """Current states (copies). Raises ``OSError`` if the log cannot be read."""
        if self._log is None:
            if not self.path.is_file():
                raise FileNotFoundError(f"{self.path}: no job event log")
            self._log = bindings().JobEventLog(str(self.path))
            self._states = {}
        try:
            for event in self._log.events(stop_after=0):
                if self.clusters is None or int(event.cluster) in self.clusters:
                    apply_event(self._states, event)
        except Exception as exc:  # start over next time
            self.close()
            raise OSError(f"{self.path}: {exc}") from exc
        return {k: dataclasses.replace(v) for k, v in self._states.items()}

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
        self._log = None
