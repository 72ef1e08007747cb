"""The egamma_tnp DAG with backend=condor: each mapped chunk is one HTCondor job; same results as local."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest

from include.tnp.histograms import walk

REPO = Path(__file__).resolve().parents[2]
HLT = "HLT_Ele32_WPTight_Gsf"


def _dag():
    spec = importlib.util.spec_from_file_location("dag_egamma_tnp_condor", REPO / "dags" / "egamma_tnp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.egamma_tnp()
    for task in dag.tasks:
        task.retries = 0  # dag.test() would wait out the retry backoff of a failing task
    return dag


@pytest.mark.condor
@pytest.mark.slow
def test_dag_on_condor_matches_local(pool, roots, tnp_data: Path) -> None:
    data, output = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    conf = {
        "config": json.dumps(
            {
                "workflow": "ElectronTagNProbeFromNanoAOD",
                "workflow_args": {"filters": [HLT], "trigger_pt": [32], "filterbit": [1]},
                "methods": [
                    {"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "vars": ["el_pt", "el_eta"]}},
                    {"name": "get_passing_and_failing_probes", "args": {"filter": HLT, "cut_and_count": False}},
                ],
            }
        ),
        "settings": json.dumps(
            {
                "tags_pt_cut": 35,
                "probes_pt_cut": 27,
                "tags_abseta_cut": 2.17,
                "cutbased_id": "cutBased >= 4",
                "use_sc_eta": True,
            }
        ),
        "fileset": json.dumps({"sample": {"files": {"DYto2E.root": "Events"}}}),
        "chunk_size": 500,
    }
    dag = _dag()
    for backend in ("local", "condor"):
        run = dag.test(run_conf={**conf, "backend": backend, "output": backend})
        assert str(run.state) == "success", backend
    summaries = {b: json.loads((output / "egamma_tnp" / b / "summary.json").read_text()) for b in ("local", "condor")}
    assert summaries["condor"]["counts"] == summaries["local"]["counts"]
    row = next(r for r in summaries["condor"]["counts"] if r["output"].startswith("get_passing"))
    assert (row["passing"], row["failing"]) == (467, 183)
    name = Path("sample/get_nd_tnp_histograms_1") / f"{HLT}_histos.pkl"
    local = walk(pickle.loads((output / "egamma_tnp/local" / name).read_bytes()))
    condor = walk(pickle.loads((output / "egamma_tnp/condor" / name).read_bytes()))
    for (_, a), (_, b) in zip(local, condor, strict=True):
        assert np.array_equal(a.values(flow=True), b.values(flow=True))
    manifest = json.loads((output / "egamma_tnp/condor/chunks/sample/chunk-0001/process.manifest.json").read_text())
    assert manifest["backend"] == "condor"
