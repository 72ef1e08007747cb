"""Which fills the Massi watcher leaves to lumi_followup, and which it announces for reprocessing."""

from __future__ import annotations


def test_fills_a_finished_followup_run_processed_are_announced_the_others_wait(roots) -> None:
    from include.lumi.planning import record_run, remember_processed
    from include.massi.watch import split_followed_up

    groups = [{"year": 2017, "fill": fill, "experiments": ["ATLAS"], "changes": []} for fill in (6140, 6146, 6152)]
    assert split_followed_up(groups) == ([], groups)  # nothing followed up yet: every fill waits

    remember_processed(2017, 6140, "scheduled__1")  # a successful run reached 6140
    # a finished run processed 6146, the last fill of its table (never "complete"), and a fill failed
    assert record_run({"year": 2017}, [6146], failed=True, run_id="manual__2") is None
    ready, waiting = split_followed_up(groups)
    assert [g["fill"] for g in ready] == [6140, 6146]
    assert [g["fill"] for g in waiting] == [6152]
    record_run({"year": 2017}, [6152], failed=True, run_id="manual__3")  # the set only grows
    assert [g["fill"] for g in split_followed_up(groups)[0]] == [6140, 6146, 6152]
