"""The egamma_tnp form module and the unit call of a chunk (freshness, backend default)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_tnp_pipeline import RUNNER, SETTINGS

from include.core.backends import TaskCall
from include.core.errors import ProductionError
from include.tnp import form, orchestration, pipeline


def test_force_choices_are_the_step_graphs() -> None:
    assert pipeline.CHUNK_GRAPH.force_choices == form.FORCE_CHOICES


@pytest.fixture
def planned(roots, tnp_data: Path) -> list[dict]:
    data, _ = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    resolved = pipeline.validate(RUNNER, {"sample": {"files": {"DYto2E.root": "Events"}}}, SETTINGS)
    run_dir = pipeline.run_dir_for("form")
    prepared = pipeline.prepare(resolved, str(run_dir), 2000)
    common = {"force": "none", "backend": "local", "hold_policy": {"action": "wait"}, "request_memory_mb": 2048}
    return [{"run_dir": str(run_dir), **u, **common} for u in prepared["units"]]


def test_a_processed_chunk_is_fresh_unless_forced(planned: list[dict]) -> None:
    unit = planned[0]
    call = orchestration.chunk_call(unit, run_id="r")
    assert isinstance(call, TaskCall) and call.function == "include.tnp.pipeline:process_chunk"
    assert not orchestration.chunk_fresh(unit)
    assert pipeline.process_chunk(**call.kwargs)["state"] == "ran"
    assert orchestration.chunk_fresh(unit)
    assert not orchestration.chunk_fresh({**unit, "force": "process"})
    assert orchestration.chunk_fresh({**unit, "force": "merge"})  # a run-level step leaves chunks alone
    with pytest.raises(ProductionError):  # unclear: UnitCallOperator runs the call, which reports it
        orchestration.chunk_fresh({**unit, "chunk": 10_000})
    assert orchestration.chunk_label(unit) == f"{unit['dataset']} chunk {unit['chunk']}"


@pytest.mark.parametrize(("default", "chosen"), [("condor", "condor"), ("apptainer", "apptainer"), ("local", "local")])
def test_empty_backend_is_the_default_backend_setting(
    roots, tnp_data: Path, monkeypatch: pytest.MonkeyPatch, default: str, chosen: str
) -> None:
    from include.tnp.demo import generate

    data, _ = roots
    generate(data / "egamma_tnp", seed=5, n_events=200)
    (data / "runtime.sif").write_bytes(b"SIF")  # the apptainer backend needs its image to exist
    monkeypatch.setenv("HEP_RUNTIME_IMAGE", str(data / "runtime.sif"))
    monkeypatch.setenv("HEP_DEFAULT_BACKEND", default)
    validated = pipeline.validate_form({"config": form.DEFAULT_CONFIG, "fileset": form.DEFAULT_FILESET})
    assert validated["backend"] == chosen and validated["force"] == "none"
    assert validated["hold_policy"] == {"action": "wait", "on_memory": "fail"}
