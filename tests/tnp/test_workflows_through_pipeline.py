"""Photon NanoAOD and flat-ntuple workflows through the chunked pipeline, and the CLI."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

from include.tnp import pipeline
from include.tnp.demo import generate

COMMON = {"tags_pt_cut": 35, "probes_pt_cut": 27, "tags_abseta_cut": 2.17}


def _process(runner: dict, fileset: dict, settings: dict, output: str, chunk_size: int) -> tuple[Path, dict]:
    resolved = pipeline.validate(runner, fileset, settings)
    run_dir = pipeline.run_dir_for(output)
    prepared = pipeline.prepare(resolved, str(run_dir), chunk_size)
    for unit in prepared["units"]:
        pipeline.process_chunk(str(run_dir), unit["dataset"], unit["chunk"])
    pipeline.merge(str(run_dir))
    return run_dir, pipeline.summarize(str(run_dir))


def test_photon_nanoaod_p1_in_chunks(roots, tnp_data: Path) -> None:
    data, _ = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    hlt = "HLT_Ele32_WPTight_Gsf"
    runner = {
        "workflow": "PhotonTagNProbeFromNanoAOD",
        "workflow_args": {"filters": [hlt], "is_electron_filter": [True], "trigger_pt": [32], "filterbit": [1]},
        "methods": [{"name": "get_nd_tnp_histograms", "args": {"filter": hlt, "cut_and_count": False}}],
    }
    settings = {**COMMON, "cutbased_id": "cutBased >= 3", "use_sc_eta": False, "start_from_diphotons": True}
    run_dir, summary = _process(runner, {"s": {"files": {"DYto2E.root": "Events"}}}, settings, "p1", 400)
    (row,) = summary["counts"]
    assert summary["chunks"] == 3 and (row["passing"], row["failing"]) == (336, 101)
    h = pickle.loads((run_dir / "s/get_nd_tnp_histograms_1" / f"{hlt}_histos.pkl").read_bytes())
    assert [ax.name for ax in h["passing"].axes] == ["ph_pt", "ph_eta", "ph_phi", "mll"]
    assert h["passing"].sum(flow=True).value == row["passing_probes"]


def test_nano_photon_ntuples_n4_in_chunks(roots, tnp_data: Path) -> None:
    data, _ = roots
    shutil.copy(tnp_data / "NanoNTuples_ph.root", data / "ph.root")
    runner = {
        "workflow": "PhotonTagNProbeFromNanoNTuples",
        "workflow_args": {"filters": {"id": "cutBased >= 3"}},
        "methods": [
            {"name": "get_1d_pt_eta_phi_tnp_histograms", "args": {"filter": "id", "cut_and_count": False}},
            {"name": "get_passing_and_failing_probes", "args": {"filter": "id", "cut_and_count": False}},
        ],
    }
    settings = {**COMMON, "cutbased_id": "cutBased >= 1", "use_sc_eta": True}
    run_dir, summary = _process(runner, {"s": {"files": {"ph.root": "Events"}}}, settings, "n4", 300)
    rows = {r["output"]: r for r in summary["counts"]}
    pf = rows["get_passing_and_failing_probes_1/id"]
    assert summary["chunks"] == 4 and (pf["passing"], pf["failing"]) == (669, 135)
    h = pickle.loads((run_dir / "s/get_1d_pt_eta_phi_tnp_histograms_1/id_histos.pkl").read_bytes())
    # every probe is in barrel or endcap or in the gap/edges that neither region takes
    in_regions = sum(h["pt"][r]["passing"].sum(flow=True).value for r in ("barrel", "endcap"))
    assert 0 < in_regions <= 669


def test_cli_runs_the_demo_and_reports_errors(roots) -> None:
    data, output = roots
    generate(data / "egamma_tnp", seed=21, n_events=600)
    env = {**os.environ, "HEP_DATA_ROOT": str(data), "HEP_OUTPUT_ROOT": str(output)}
    base = [sys.executable, "-m", "include.tnp"]
    args = ["--config", "egamma_tnp/runner.json", "--fileset", "egamma_tnp/fileset.json"]
    ok = subprocess.run([*base, "validate", *args], capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert len(json.loads(ok.stdout)["methods"]) == 4  # the 1d method runs for two filters
    bad = subprocess.run(
        [*base, "validate", "--config", '{"workflow": "ElectronTagNProbeFromNanoAOD", "methods": 3}', "--fileset", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert bad.returncode == 2 and "methods must be a non-empty list" in bad.stderr
