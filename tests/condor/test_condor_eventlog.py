"""Offline event-log parsing with htcondor2.JobEventLog on hand-written logs."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.condor.eventlog import read_event_log
from include.condor.states import ProcState, State, from_classad, summarize

DATA = Path(__file__).parent / "data"


def test_every_state_is_parsed() -> None:
    states = read_event_log(DATA / "all_states.log")
    assert set(states) == {f"1234.{p}" for p in range(6)}
    ok, bad, sig, evicted, memory, released = (states[f"1234.{p}"] for p in range(6))
    assert ok.state == State.TERMINATED and ok.exit_code == 0 and ok.succeeded
    assert bad.state == State.TERMINATED and bad.exit_code == 3 and not bad.succeeded
    assert sig.state == State.TERMINATED and sig.exit_signal == 9 and sig.exit_code is None and not sig.succeeded
    assert evicted.state == State.EVICTED and evicted.evictions == 1 and not evicted.final
    assert memory.state == State.ABORTED and memory.final
    assert (memory.hold_code, memory.hold_subcode) == (34, 0)
    assert memory.hold_reason == "Memory usage exceeds a memory limit"
    assert "HoldReasonCode 34" in memory.describe()
    assert released.state == State.RELEASED and released.releases == 1 and released.held_since is None
    assert summarize(states) == {"aborted": 1, "evicted": 1, "released": 1, "terminated": 3}


def test_submitted_executing_held_requeued(tmp_path: Path) -> None:
    text = (DATA / "requeue.log").read_text()
    states = read_event_log(DATA / "requeue.log")
    assert "004" in text
    assert states["77.0"].state == State.EXECUTING and states["77.0"].evictions == 1
    assert states["77.1"].state == State.SUBMITTED
    held = states["77.2"]
    assert held.state == State.HELD and held.hold_code == 1 and held.held_since is not None


def test_cluster_filter_and_missing_log(tmp_path: Path) -> None:
    assert read_event_log(DATA / "all_states.log", clusters={99}) == {}
    with pytest.raises(FileNotFoundError):
        read_event_log(tmp_path / "nope.log")


def test_proc_state_round_trip_and_classads() -> None:
    st = from_classad(
        {
            "ClusterId": 5,
            "ProcId": 2,
            "JobStatus": 5,
            "HoldReason": "via condor_hold",
            "HoldReasonCode": 1,
            "HoldReasonSubCode": 0,
            "EnteredCurrentStatus": 100,
            "NumHolds": 2,
        }
    )
    assert st.state == State.HELD and st.held_since == 100 and st.releases == 1
    assert ProcState.from_dict(st.to_dict()) == st
    done = from_classad({"ClusterId": 5, "ProcId": 0, "JobStatus": 4, "ExitCode": 0, "ExitBySignal": False})
    assert done.succeeded
    killed = from_classad({"ClusterId": 5, "ProcId": 1, "JobStatus": 4, "ExitBySignal": True, "ExitSignal": 9})
    assert killed.exit_signal == 9 and not killed.succeeded
    removed = from_classad({"ClusterId": 5, "ProcId": 3, "JobStatus": 3})
    assert removed.state == State.ABORTED and removed.final


def test_incremental_reader_applies_only_new_events(tmp_path: Path) -> None:
    from include.condor.eventlog import EventLogReader

    events = (DATA / "all_states.log").read_text().split("...\n")
    log = tmp_path / "events.log"
    log.write_text("...\n".join(events[:10]) + "...\n")  # submits and the first executes
    reader = EventLogReader(log)
    first = reader.read()
    assert first["1234.0"].state == State.EXECUTING and first["1234.5"].state == State.SUBMITTED
    with log.open("a") as handle:
        handle.write("...\n".join(events[10:]))
    second = reader.read()
    assert second == read_event_log(log)
    assert first["1234.0"].state == State.EXECUTING  # earlier results are copies, not updated in place
    assert reader.read() == second
    reader.close()
