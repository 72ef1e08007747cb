"""The production as plain functions: chunking, merging, bad files, missing branches, re-runs, MC."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from include.core.errors import InputFileError, StepError
from include.tnp import pipeline
from include.tnp.demo import nanoaod_events, write_nanoaod
from include.tnp.histograms import walk
from include.tnp.preprocess import split_entries

HLT = "HLT_Ele32_WPTight_Gsf"
RUNNER = {
    "workflow": "ElectronTagNProbeFromNanoAOD",
    "workflow_args": {
        "filters": {HLT: HLT, "cutBased >= 4": "cutBased >= 4"},
        "trigger_pt": [32, None],
        "filterbit": [1, None],
    },
    "methods": [
        {"name": "get_nd_tnp_histograms", "args": {"filter": HLT, "cut_and_count": False, "vars": ["el_pt", "el_eta"]}},
        {"name": "get_1d_pt_eta_phi_tnp_histograms", "args": {"filter": [HLT, "cutBased >= 4"]}},
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


def test_split_entries() -> None:
    assert split_entries(1000, 300) == [(0, 250), (250, 500), (500, 750), (750, 1000)]
    assert split_entries(10, 100) == [(0, 10)]
    assert split_entries(0, 5) == []


@pytest.fixture
def sample(roots, tnp_data: Path) -> Path:
    data, _ = roots
    shutil.copy(tnp_data / "DYto2E.root", data / "DYto2E.root")
    return data / "DYto2E.root"


def _processed(output: str, chunk_size: int, fileset: dict | None = None) -> tuple[Path, dict]:
    """validate -> prepare -> chunks -> merge (no plots), as the DAG tasks do."""
    fileset = fileset or {"sample": {"files": {"DYto2E.root": "Events"}}}
    resolved = pipeline.validate(RUNNER, fileset, SETTINGS)
    run_dir = pipeline.run_dir_for(output)
    prepared = pipeline.prepare(resolved, str(run_dir), chunk_size)
    for unit in prepared["units"]:
        pipeline.process_chunk(str(run_dir), unit["dataset"], unit["chunk"])
    pipeline.merge(str(run_dir))
    return run_dir, pipeline.summarize(str(run_dir))


def _run(output: str, chunk_size: int, fileset: dict | None = None, runner: dict = RUNNER, **kw) -> dict:
    fileset = fileset or {"sample": {"files": {"DYto2E.root": "Events"}}}
    return pipeline.run_all(runner, fileset, SETTINGS, output=output, chunk_size=chunk_size, **kw)


def test_histograms_summed_over_chunks_equal_one_chunk_exactly(sample: Path) -> None:
    a, chunked = _processed("chunked", 334)
    b, single = _processed("single", 100_000)
    assert chunked["chunks"] == 3 and single["chunks"] == 1
    pkls = sorted(a.glob("sample/*/*_histos.pkl"))
    assert len(pkls) == 3
    for pkl in pkls:
        ha = walk(pickle.loads(pkl.read_bytes()))
        hb = walk(pickle.loads((b / pkl.relative_to(a)).read_bytes()))
        assert [k for k, _ in ha] == [k for k, _ in hb]
        for (_, x), (_, y) in zip(ha, hb, strict=True):
            assert np.array_equal(x.values(flow=True), y.values(flow=True))
            assert np.array_equal(x.variances(flow=True), y.variances(flow=True))
    nd = pickle.loads((a / "sample/get_nd_tnp_histograms_1" / f"{HLT}_histos.pkl").read_bytes())
    assert [ax.name for ax in nd["passing"].axes] == ["el_pt", "el_eta", "mll"]
    assert nd["passing"].axes["mll"].size == 80
    # every E1 probe is in the histograms (mll 50-130 covers the window; flow bins hold the rest)
    assert nd["passing"].sum(flow=True).value == 795 and nd["failing"].sum(flow=True).value == 183
    assert chunked["counts"] == single["counts"]
    parts = sorted((a / "sample/get_passing_and_failing_probes_1").glob("passing_*.parquet"))
    assert len(parts) == 3
    assert sum(len(ak.from_parquet(p)) for p in parts) == 467


@pytest.mark.slow
def test_rerun_does_nothing_and_force_recomputes(sample: Path) -> None:
    first = _run("rerun", 500)
    effs = json.loads(
        (Path(first["run_dir"]) / "sample/get_1d_pt_eta_phi_tnp_histograms_1" / f"{HLT}_efficiencies.json").read_text()
    )
    barrel = effs["pt_barrel"]
    assert barrel["axes"][0]["name"] == "pt" and all(0 <= e <= 1 for e in barrel["efficiency"])
    assert sum(barrel["passing"]) + sum(effs["pt_endcap"]["passing"]) <= 795  # probes in the two regions
    assert [c["state"] for c in first["chunks"]] == ["ran", "ran"]
    again = _run("rerun", 500)
    assert [c["state"] for c in again["chunks"]] == ["fresh", "fresh"]
    forced = _run("rerun", 500, force="process")
    assert [c["state"] for c in forced["chunks"]] == ["ran", "ran"]
    assert forced["summary"]["counts"] == first["summary"]["counts"]


def test_unreadable_file_is_skipped_and_reported(sample: Path) -> None:
    (sample.parent / "corrupt.root").write_bytes(b"\x00" * 1000)
    fileset = {"sample": {"files": {"DYto2E.root": "Events", "corrupt.root": "Events", "absent.root": "Events"}}}
    _, summary = _processed("bad", 100_000, fileset)
    bad = {Path(b["path"]).name: b["exception"] for b in summary["bad_files"]}
    assert set(bad) == {"corrupt.root", "absent.root"}
    assert bad["absent.root"] == "FileNotFoundError"
    row = next(r for r in summary["counts"] if r["output"].startswith("get_passing"))
    assert (row["passing"], row["failing"]) == (467, 183)


def test_missing_branch_names_file_and_branch(roots) -> None:
    data, _ = roots
    events = nanoaod_events(50, seed=1)
    del events["Electron_deltaEtaSC"]
    with uproot.recreate(data / "nosc.root") as out:
        out["Events"] = {"run": events["run"], "luminosityBlock": events["luminosityBlock"]}
    fileset = {"s": {"files": {"nosc.root": "Events"}}}
    with pytest.raises(StepError, match=r"nosc.root: tree 'Events': missing branch\(es\) .*Electron_deltaEtaSC"):
        _run("nobranch", 100, fileset)


def test_read_error_during_processing_is_reported_when_allowed(roots, monkeypatch) -> None:
    data, _ = roots
    write_nanoaod(data / "demo.root", 300, seed=2)
    fileset = {"s": {"files": {"demo.root": "Events"}}}
    real_arrays = uproot.TTree.arrays

    def flaky(self, *args, **kwargs):
        if kwargs.get("entry_start") == 150:
            raise OSError("simulated read failure")
        return real_arrays(self, *args, **kwargs)

    monkeypatch.setattr(uproot.TTree, "arrays", flaky)
    with pytest.raises(StepError, match="cannot read entries 150-300: simulated read failure"):
        _run("strict", 150, fileset)
    allowing = json.loads(json.dumps(RUNNER))
    for m in allowing["methods"]:
        m["args"]["uproot_options"] = {"allow_read_errors_with_report": ["OSError"]}
    result = _run("lenient", 150, fileset, runner=allowing)
    assert result["summary"]["events_processed"] == 150
    assert result["summary"]["failed_chunks"][0]["error"] == "simulated read failure"
    report = json.loads((Path(result["run_dir"]) / "s/get_nd_tnp_histograms_1" / f"{HLT}_report.json").read_text())
    assert [r["exception"] for r in report] == [None, "OSError"]


def test_mc_weights_and_gen_matching(roots) -> None:
    data, _ = roots
    write_nanoaod(data / "mc.root", 400, seed=5, mc=True)
    runner = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {"filters": {"id": "cutBased >= 4"}},
        "methods": [{"name": "get_tnp_arrays", "args": {"vars": ["el_pt", "el_genPartIdx", "tag_Ele_genPartIdx"]}}],
    }
    result = pipeline.run_all(runner, {"mc": {"files": {"mc.root": "Events"}}}, SETTINGS, output="mc", chunk_size=200)
    run_dir = Path(result["run_dir"])
    plan = json.loads((run_dir / "plan.json").read_text())
    assert plan["datasets"][0]["is_mc"] is True  # inferred from GenPart
    raw = uproot.open(data / "mc.root")["Events"].arrays(["genWeight", "event"])
    for i, (start, stop) in enumerate([(0, 200), (200, 400)]):
        table = ak.from_parquet(run_dir / "mc/get_tnp_arrays_1" / f"NTuples-part{i}.parquet")
        s = float(
            np.sum(ak.to_numpy(raw.genWeight[start:stop]).astype(np.float64))
        )  # chunk-level, before any selection
        gen = dict(zip(raw.event.tolist(), raw.genWeight.tolist(), strict=True))
        expected = np.array([gen[e] / s for e in table.event.tolist()])
        assert np.allclose(ak.to_numpy(table.weight), expected, rtol=1e-12)
        assert np.array_equal(ak.to_numpy(table.weight_gen), [gen[e] for e in table.event.tolist()])
        # only the two Z daughters (gen indices 1 and 2) survive gen matching, never the fakes
        assert set(ak.flatten(table.el_genPartIdx).tolist()) <= {1, 2}
        assert ak.all(table.el_genPartIdx != table.tag_Ele_genPartIdx)


def test_demo_generator_is_seeded() -> None:
    a, b, c = nanoaod_events(200, 3), nanoaod_events(200, 3), nanoaod_events(200, 4)
    assert all(ak.array_equal(ak.Array(a[k]), ak.Array(b[k])) for k in a)
    assert not ak.array_equal(a["Electron_pt"], c["Electron_pt"])
    # physically plausible: the two leading electrons of every event reconstruct a Z-like mass
    pt, eta, phi = (ak.to_numpy(a[f"Electron_{v}"][:, :2]).astype(float) for v in ("pt", "eta", "phi"))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2)
    mass = np.sqrt(e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2)
    assert 85 < np.median(mass) < 97


def test_missing_plan_is_a_clear_error(roots) -> None:
    _, output = roots
    with pytest.raises(InputFileError, match="run the prepare step first"):
        pipeline.process_chunk(str(output / "nowhere"), "s", 0)


def test_flat_arrays_have_one_row_per_probe_and_no_extension_types(roots) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    data, _ = roots
    write_nanoaod(data / "demo.root", 300, seed=8)
    runner = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {"filters": {"id": "cutBased >= 4"}},
        "methods": [
            {"name": "get_tnp_arrays", "args": {"flat": True}},
            {"name": "get_tnp_arrays", "args": {}},
        ],
    }
    fileset = {"s": {"files": {"demo.root": "Events"}}}
    result = pipeline.run_all(runner, fileset, SETTINGS, output="flat", chunk_size=1000)
    run_dir = Path(result["run_dir"])
    flat = pq.read_table(run_dir / "s/get_tnp_arrays_1/NTuples-part0.parquet")
    jagged = ak.from_parquet(run_dir / "s/get_tnp_arrays_2/NTuples-part0.parquet")
    assert flat.num_rows == int(ak.sum(ak.num(jagged.el_pt))) > len(jagged) > 0
    assert not any(isinstance(f.type, pa.ExtensionType) for f in flat.schema)  # plain arrow types
    assert set(flat.column_names) == {"el_pt", "el_eta", "el_phi", "event", "run", "luminosityBlock", "id", "pair_mass"}
    assert (run_dir / "s/get_tnp_arrays_1/report.json").is_file()


def test_new_chunking_of_the_same_run_folder_leaves_no_stale_parts(roots) -> None:
    data, _ = roots
    write_nanoaod(data / "demo.root", 400, seed=9)
    runner = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {"filters": {"id": "cutBased >= 4"}},
        "methods": [{"name": "get_passing_and_failing_probes", "args": {"filter": "id"}}],
    }
    fileset = {"s": {"files": {"demo.root": "Events"}}}
    fine = pipeline.run_all(runner, fileset, SETTINGS, output="same", chunk_size=100)
    coarse = pipeline.run_all(runner, fileset, SETTINGS, output="same", chunk_size=250)
    folder = Path(coarse["run_dir"]) / "s/get_passing_and_failing_probes_1"
    assert sorted(p.name for p in folder.glob("passing_*.parquet")) == [
        "passing_id_NTuples-part0.parquet",
        "passing_id_NTuples-part1.parquet",
    ]
    assert sorted(p.name for p in (Path(coarse["run_dir"]) / "chunks/s").iterdir()) == ["chunk-0000", "chunk-0001"]
    assert coarse["summary"]["counts"] == fine["summary"]["counts"]
