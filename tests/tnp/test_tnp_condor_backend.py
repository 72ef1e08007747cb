"""The condor backend: one HTCondor job per chunk gives the same histograms as the local backend."""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from include.core.backends import TaskCall, run_call
from include.tnp import pipeline
from include.tnp.histograms import walk

HLT = "HLT_Ele32_WPTight_Gsf"
RUNNER = {
    "workflow": "ElectronTagNProbeFromNanoAOD",
    "workflow_args": {"filters": {HLT: HLT}, "trigger_pt": [32], "filterbit": [1]},
    "methods": [
        {"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "cut_and_count": False, "vars": ["el_pt", "el_eta"]}},
        {"name": "get_passing_and_failing_probes", "args": {"filter": HLT, "cut_and_count": False}},
    ],
}
SETTINGS = {
    "tags_pt_cut": 35,
    "probes_pt_cut": 27,
    "tags_abseta_cut": 2.17,
    "cutbased_id": "cutBased >= 4",
    "use_sc_eta": True,
}


def _run(backend: str, output: str) -> tuple[Path, dict, list[dict]]:
    resolved = pipeline.validate(RUNNER, {"sample": {"files": {"DYto2E.root": "Events"}}}, SETTINGS)
    run_dir = pipeline.run_dir_for(output)
    prepared = pipeline.prepare(resolved, str(run_dir), 500)
    results = []
    for unit in prepared["units"]:
        call = TaskCall("include.tnp.pipeline:process_chunk", {"run_dir": str(run_dir), **unit, "backend": backend})
        options = (
            {"workdir": run_dir / "condor" / f"chunk-{unit['chunk']}", "timeout": 600} if backend == "condor" else {}
        )
        results.append(run_call(call, backend, **options))
    pipeline.merge(str(run_dir))
    return run_dir, pipeline.summarize(str(run_dir)), results


@pytest.mark.condor
def test_condor_and_local_histograms_are_identical(pool, roots, tnp_data: Path) -> None:
    data, _ = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    local_dir, local, _ = _run("local", "local")
    condor_dir, condor, results = _run("condor", "condor")
    assert [r["state"] for r in results] == ["ran", "ran"]  # one job per chunk, each did the work
    assert condor["counts"] == local["counts"]
    row = next(r for r in condor["counts"] if r["output"].startswith("get_passing"))
    assert (row["passing"], row["failing"]) == (467, 183)
    name = Path("sample/get_nd_tnp_histograms_1") / f"{HLT}_histos.pkl"
    a = walk(pickle.loads((local_dir / name).read_bytes()))
    b = walk(pickle.loads((condor_dir / name).read_bytes()))
    for (ka, ha), (kb, hb) in zip(a, b, strict=True):
        assert ka == kb
        assert np.array_equal(ha.values(flow=True), hb.values(flow=True))
        assert np.array_equal(ha.variances(flow=True), hb.variances(flow=True))
    manifest = (condor_dir / "chunks/sample/chunk-0000/process.manifest.json").read_text()
    assert '"backend": "condor"' in manifest
