"""The step graph: freshness from manifests, force propagation downstream, failure isolation."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import pytest

from include.core import atomic
from include.core.errors import ConfigError, ParamError, StepError
from include.core.manifest import read_manifest
from include.core.steps import Reason, Step, StepGraph, UnitContext, backup_outputs

# A small production: raw -> a -> b ; raw -> c ; (a, c) -> d
CALLS: list[str] = []


def _writer(name: str, reads: tuple[str, ...] = ()):
    """A step that writes ``name.txt`` from its parameters and the files it ``reads``."""

    def run(ctx: UnitContext) -> dict:
        CALLS.append(name)
        if ctx.params.get("fail") == name:
            raise RuntimeError(f"{name} broke")
        sources = [ctx.workdir.parent.parent / "raw.dat" if r == "raw" else ctx.path(f"{r}.txt") for r in reads]
        text = f"{name}:{ctx.params.get('scale', 1)}:" + ",".join(p.read_text() for p in sources)
        atomic.write_text(ctx.path(f"{name}.txt"), text)
        return {"step": name}

    return run


def _outputs(name: str):
    return lambda ctx: [ctx.path(f"{name}.txt")]


def make_graph(raw: Path) -> StepGraph:
    return StepGraph(
        "toy",
        [
            Step("a", _writer("a", ("raw",)), _outputs("a"), inputs=lambda ctx: [raw]),
            Step("b", _writer("b", ("a",)), _outputs("b"), requires=("a",)),
            Step("c", _writer("c", ("raw",)), _outputs("c"), inputs=lambda ctx: [raw], params=lambda ctx: {}),
            Step("d", _writer("d", ("a", "c")), _outputs("d"), requires=("a", "c"), backup_on_rerun=True),
        ],
        aliases={"ac": ("a", "c")},
    )


@pytest.fixture
def setup(tmp_path: Path) -> tuple[StepGraph, UnitContext, Path]:
    CALLS.clear()
    raw = tmp_path / "raw.dat"
    raw.write_text("v1")
    ctx = UnitContext("toy", "unit_1", tmp_path / "out" / "unit_1", params={"scale": 1})
    return make_graph(raw), ctx, raw


def test_first_run_runs_all_in_order_and_writes_manifests(setup) -> None:
    graph, ctx, raw = setup
    report = graph.run_unit(ctx)
    assert report.ran == graph.order
    assert graph.order.index("a") < graph.order.index("b") and graph.order.index("c") < graph.order.index("d")
    record = read_manifest(ctx.workdir / "d.manifest.json")
    assert record is not None and record.production == "toy" and record.step == "d" and record.unit == "unit_1"
    assert record.outputs[0]["path"] == str(ctx.path("d.txt")) and len(record.outputs[0]["sha256"]) == 64
    a_record = read_manifest(ctx.workdir / "a.manifest.json")
    assert a_record is not None and a_record.inputs[0]["path"] == str(raw) and a_record.inputs[0]["size"] == 2


def test_rerun_does_nothing(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    CALLS.clear()
    report = graph.run_unit(ctx)
    assert CALLS == []
    assert {r.state for r in report.results} == {"fresh"}
    assert set(graph.plan(ctx).values()) == {Reason.FRESH}


def test_force_propagates_downstream_only(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    assert graph.forced("a") == {"a", "b", "d"}
    assert graph.forced("c") == {"c", "d"}
    assert graph.forced("all") == {"a", "b", "c", "d"}
    assert graph.forced("none") == set() and graph.forced(None) == set()
    assert graph.forced("ac") == {"a", "b", "c", "d"}
    CALLS.clear()
    graph.run_unit(ctx, force="c")
    assert CALLS == ["c", "d"]
    with pytest.raises(ParamError, match="'force'"):
        graph.forced("nope")


def test_changed_input_reruns_dependents(setup) -> None:
    graph, ctx, raw = setup
    graph.run_unit(ctx)
    raw.write_text("v2")  # same size, new content: the sha256 decides
    plan = graph.plan(ctx)
    assert plan == {"a": Reason.CHANGED, "b": Reason.UPSTREAM, "c": Reason.CHANGED, "d": Reason.UPSTREAM}
    CALLS.clear()
    graph.run_unit(ctx)
    assert sorted(CALLS) == ["a", "b", "c", "d"]


def test_changed_parameter_reruns_only_steps_that_use_it(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    ctx.params["scale"] = 2
    CALLS.clear()
    graph.run_unit(ctx)
    # c ignores parameters, so it stays fresh; d re-runs because a's output changed.
    assert CALLS == ["a", "b", "d"]


def test_unchanged_upstream_output_keeps_downstream_fresh(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    CALLS.clear()
    graph.run_unit(ctx, force="a", only=["a"])
    assert CALLS == ["a"]
    assert graph.plan(ctx)["b"] is Reason.FRESH  # a rewrote identical bytes


def test_missing_output_is_rebuilt(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    ctx.path("b.txt").unlink()
    assert graph.plan(ctx)["b"] is Reason.MISSING_OUTPUT
    CALLS.clear()
    graph.run_unit(ctx)
    assert CALLS == ["b"]


def test_failure_blocks_downstream_but_not_independent_branch(setup) -> None:
    graph, ctx, _ = setup
    ctx.params["fail"] = "a"
    with pytest.raises(StepError, match="a: RuntimeError: a broke"):
        graph.run_unit(ctx)
    report = graph.run_unit(ctx, raise_on_failure=False)
    states = {r.step: r.state for r in report.results}
    assert states == {"a": "failed", "b": "skipped", "c": "fresh", "d": "skipped"}
    assert not (ctx.workdir / "a.manifest.json").exists()
    assert report.to_dict()["ok"] is False
    json.dumps(report.to_dict())


def test_step_that_forgets_an_output_fails(tmp_path: Path) -> None:
    graph = StepGraph("toy", [Step("x", lambda ctx: None, lambda ctx: [ctx.path("x.txt")])])
    ctx = UnitContext("toy", "u", tmp_path)
    with pytest.raises(StepError, match="did not write"):
        graph.run_unit(ctx)


def test_backup_on_rerun_keeps_dated_copy(setup) -> None:
    graph, ctx, _ = setup
    graph.run_unit(ctx)
    graph.run_unit(ctx, force="d")
    backups = sorted(p.name for p in ctx.workdir.glob("d_*.txt"))
    assert len(backups) == 1 and backups[0].startswith("d_2")
    graph.run_unit(ctx, force="d")
    assert len(list(ctx.workdir.glob("d_*.txt"))) == 2


def test_backup_names_never_collide(tmp_path: Path) -> None:
    files = []
    for _ in range(3):
        f = tmp_path / "m.parquet"
        f.write_text("x")
        files += backup_outputs([f])
    assert len({p.name for p in files}) == 3


def test_disabled_step_blocks_its_dependents(tmp_path: Path) -> None:
    graph = StepGraph(
        "toy",
        [
            Step("x", _writer("x"), _outputs("x")),
            Step("y", _writer("y"), _outputs("y"), requires=("x",), enabled=lambda ctx: False),
            Step("z", _writer("z"), _outputs("z"), requires=("y",)),
        ],
    )
    ctx = UnitContext("toy", "u", tmp_path)
    report = graph.run_unit(ctx)
    reasons = {r.step: r.reason for r in report.results}
    assert reasons == {"x": Reason.MISSING_OUTPUT, "y": Reason.DISABLED, "z": Reason.BLOCKED}


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([Step("a", _writer("a"), _outputs("a"), requires=("zz",))], "unknown"),
        ([Step("a", _writer("a"), _outputs("a")), Step("a", _writer("a"), _outputs("a"))], "duplicated"),
        (
            [
                Step("a", _writer("a"), _outputs("a"), requires=("b",)),
                Step("b", _writer("b"), _outputs("b"), requires=("a",)),
            ],
            "cycle",
        ),
    ],
)
def test_invalid_graphs_are_refused(steps, message) -> None:
    with pytest.raises(ConfigError, match=message):
        StepGraph("toy", steps)


def test_one_step_at_a_time_sees_its_parents_on_disk(tmp_path: Path) -> None:
    """``only`` (one orchestrator task per step): a parent's missing product or disabled state blocks."""
    CALLS.clear()
    raw = tmp_path / "raw.dat"
    raw.write_text("v1")
    graph = make_graph(raw)
    graph.steps["c"] = dataclasses.replace(graph.steps["c"], enabled=lambda ctx: not ctx.params.get("no_c"))
    ctx = UnitContext("toy", "unit_1", tmp_path / "out" / "unit_1", params={"scale": 1})
    (blocked,) = graph.run_unit(ctx, only=["b"]).results  # a has not run yet
    assert (blocked.state, blocked.reason) == ("skipped", Reason.BLOCKED) and CALLS == []
    for name in graph.order:
        graph.run_unit(ctx, only=[name])
    assert graph.order == CALLS
    ctx.params["no_c"] = True
    (d,) = graph.run_unit(ctx, only=["d"]).results
    assert (d.state, d.reason) == ("skipped", Reason.BLOCKED)


def test_busy_unit_raises_after_patience_naming_the_holder(tmp_path: Path) -> None:
    from dag_support import unit_held_elsewhere

    from include.core.errors import UnitBusy
    from include.core.steps import lock_patience, unit_lock

    with unit_held_elsewhere(tmp_path) as holder:
        with lock_patience(0.2), pytest.raises(UnitBusy) as busy, unit_lock(tmp_path):
            pass
        assert f"pid {holder}" in str(busy.value) and str(tmp_path) in str(busy.value)
        with pytest.raises(UnitBusy), unit_lock(tmp_path, patience=0.0):
            pass
    with lock_patience(0.2), unit_lock(tmp_path), unit_lock(tmp_path):  # free now; re-entrant in a thread
        assert f"pid {os.getpid()}" in (tmp_path / ".lock").read_text()


def test_busy_unit_runs_nothing(setup) -> None:
    from dag_support import unit_held_elsewhere

    from include.core.errors import UnitBusy
    from include.core.steps import lock_patience

    graph, ctx, _raw = setup
    with unit_held_elsewhere(ctx.workdir):
        with lock_patience(0.1), pytest.raises(UnitBusy):
            graph.run_unit(ctx)
        assert CALLS == [] and not list(ctx.workdir.glob("*.json"))
    assert [r.state for r in graph.run_unit(ctx).results] == ["ran"] * 4
