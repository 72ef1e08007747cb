"""The egamma_tnp DAG end to end with dag.test(): demo data, the real DYto2E sample, re-runs."""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
from pathlib import Path

import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag

REPO = Path(__file__).resolve().parents[2]


def _load_dag():
    """The DAG with retries off: dag.test() would otherwise wait out the backoff of a failing task."""
    spec = importlib.util.spec_from_file_location("dag_egamma_tnp", REPO / "dags" / "egamma_tnp.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dag = module.egamma_tnp()
    for task in dag.tasks:
        task.retries = 0
    return dag


def _states(dag_run) -> dict[str, str]:
    return {f"{ti.task_id}[{ti.map_index}]": str(ti.state) for ti in dag_run.get_task_instances()}


def test_dag_shape() -> None:
    dag = _load_dag()
    assert dag.dag_id == "egamma_tnp"
    assert set(dag.task_dict) == {
        "validate_params",
        "preprocess",
        "process_chunk",
        "merge",
        "efficiencies_and_plots",
        "summary",
        "check",
    }
    assert dag.params.get_param("backend").schema["enum"] == ["local", "condor", "apptainer"]
    assert dag.params.get_param("chunk_size").schema["minimum"] == 1


@pytest.mark.slow
def test_demo_run_end_to_end_and_rerun_is_fresh(roots) -> None:
    from include.tnp import pipeline
    from include.tnp.demo import generate

    data, output = roots
    generate(data / "egamma_tnp", seed=11, n_events=1500)
    conf = {"settings": "egamma_tnp/settings.json", "binning": "egamma_tnp/binning.json", "chunk_size": 400}
    dag = _load_dag()
    run = dag.test(run_conf={**conf, "output": "demo"})
    assert str(run.state) == "success", _states(run)
    run_dir = output / "egamma_tnp" / "demo"
    plan = json.loads((run_dir / "plan.json").read_text())
    assert [len(ds["chunks"]) for ds in plan["datasets"]] == [4]  # 1500 entries / 400 -> 4 chunks of 375
    method = run_dir / "demo_DYto2E" / "get_1d_pt_eta_phi_tnp_histograms_1"
    for name in (
        "HLT_Ele32_WPTight_Gsf_histos.pkl",
        "cutBased_gte_4_histos.pkl",
        "cutBased_gte_4_report.json",
        "HLT_Ele32_WPTight_Gsf_efficiencies.json",
        "HLT_Ele32_WPTight_Gsf_eff_pt_barrel.png",
    ):
        assert (method / name).is_file(), name
    pf = run_dir / "demo_DYto2E" / "get_passing_and_failing_probes_1"
    assert sorted(p.name for p in pf.glob("passing_*.parquet")) == [
        f"passing_HLT_Ele32_WPTight_Gsf_NTuples-part{i}.parquet" for i in range(4)
    ]
    report = json.loads((method / "HLT_Ele32_WPTight_Gsf_report.json").read_text())
    assert len(report) == 4 and all(r["exception"] is None for r in report)

    # the same configuration in one chunk, in this process: identical histograms and counts
    single = pipeline.run_all(
        "egamma_tnp/runner.json",
        "egamma_tnp/fileset.json",
        "egamma_tnp/settings.json",
        "egamma_tnp/binning.json",
        output="single",
        chunk_size=10_000,
    )
    single_dir = Path(single["run_dir"])
    for pkl in method.glob("*_histos.pkl"):
        chunked = pickle.loads(pkl.read_bytes())
        one = pickle.loads((single_dir / pkl.relative_to(run_dir)).read_bytes())
        for region in chunked["pt"]:
            for side in ("passing", "failing"):
                assert chunked["pt"][region][side] == one["pt"][region][side]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["counts"] == single["summary"]["counts"]
    assert summary["events_processed"] == 1500
    row = next(r for r in summary["counts"] if r["output"] == "get_passing_and_failing_probes_1/HLT_Ele32_WPTight_Gsf")
    assert row["passing"] > 0 and row["failing"] > 0

    # a re-run of the finished configuration recomputes nothing
    manifests = {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.manifest.json")}
    rerun = dag.test(run_conf={**conf, "output": "demo"})
    assert str(rerun.state) == "success"
    assert _states(rerun)["check[-1]"] == "skipped"
    assert {p: p.stat().st_mtime_ns for p in run_dir.rglob("*.manifest.json")} == manifests


@pytest.mark.slow
def test_real_sample_trigger_counts_through_the_dag(roots, shared_data) -> None:
    data, output = roots
    shutil.copy(shared_data / "egamma-tnp" / "DYto2E.root", data / "DYto2E.root")
    runner = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {
            "filters": {"HLT_Ele32_WPTight_Gsf": "HLT_Ele32_WPTight_Gsf"},
            "trigger_pt": [32],
            "filterbit": [1],
        },
        "methods": [
            {
                "name": "get_passing_and_failing_probes",
                "args": {"filter": "HLT_Ele32_WPTight_Gsf", "cut_and_count": False},
            }
        ],
    }
    settings = {
        "tags_pt_cut": 35,
        "probes_pt_cut": 27,
        "tags_abseta_cut": 2.17,
        "cutbased_id": "cutBased >= 4",
        "use_sc_eta": True,
        "require_event_to_pass_hlt_filter": True,
    }
    fileset = {"sample": {"files": {"DYto2E.root": "Events", "broken.root": "Events"}}}
    (data / "broken.root").write_bytes(b"not a ROOT file")
    run = _load_dag().test(
        run_conf={
            "config": json.dumps(runner),
            "settings": json.dumps(settings),
            "fileset": json.dumps(fileset),
            "chunk_size": 250,
            "output": "e1",
        }
    )
    assert str(run.state) == "success", _states(run)
    summary = json.loads((output / "egamma_tnp" / "e1" / "summary.json").read_text())
    (row,) = summary["counts"]
    assert (row["passing"], row["failing"]) == (467, 183)
    assert (row["passing_probes"], row["failing_probes"]) == (795, 183)
    assert summary["events_processed"] == 1000
    assert [Path(b["path"]).name for b in summary["bad_files"]] == ["broken.root"]


def test_invalid_parameters_fail_validation(roots) -> None:
    _data, output = roots
    run = _load_dag().test(
        run_conf={"config": '{"workflow": "Nope"}', "fileset": '{"a": {"files": {"x.root": "Events"}}}'}
    )
    states = _states(run)
    assert states["validate_params[-1]"] == "failed"
    assert not any(output.iterdir())


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/hosts"])
def test_fileset_outside_data_root_is_refused(roots, path: str) -> None:
    run = _load_dag().test(run_conf={"fileset": path})
    assert _states(run)["validate_params[-1]"] == "failed"


def test_form_defaults_are_a_valid_run(roots) -> None:
    """The untouched form: packaged settings and binning, run folder named after the configuration."""
    from include.tnp import pipeline
    from include.tnp.demo import generate

    data, output = roots
    generate(data / "egamma_tnp", seed=5, n_events=200)
    conf = form_conf(load_dag("egamma_tnp.py", "egamma_tnp", None))
    assert (conf["settings"], conf["binning"], conf["output"]) == (None, None, None)
    validated = pipeline.validate_form(conf)
    assert validated["resolved"]["settings"] == pipeline.cfg.default_settings()
    assert Path(validated["run_dir"]).parent == output / "egamma_tnp"
    assert Path(validated["run_dir"]).name == pipeline.run_key(validated["resolved"])
    assert pipeline.validate_form({**conf, "settings": "", "binning": "", "output": ""}) == validated


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("config", "x; rm -rf /", "shell metacharacter"),
        ("config", '{"workflow": "Nope"}', "workflow 'Nope'"),
        ("fileset", "/etc/hosts", "outside the allowed roots"),
        ("fileset", "nothing/here.json", "does not exist"),
        ("settings", '{"tags_pt_cut": "high"}', "'tags_pt_cut' has the wrong type"),
        ("settings", '{"cutbased_id": "cutBased >>= 4"}', "cutbased_id expression"),
        ("binning", '{"pt_bins": [5, 1]}', "strictly increasing"),
        ("output", "../x", "not a plain name"),
        ("limit", 0, "0 files"),
    ],
)
def test_form_problems_name_the_field(roots, field: str, value, problem: str) -> None:
    from include.core.errors import ParamError
    from include.tnp import pipeline
    from include.tnp.demo import generate

    generate(roots[0] / "egamma_tnp", seed=5, n_events=50)
    conf = {**form_conf(load_dag("egamma_tnp.py", "egamma_tnp", None)), field: value}
    with pytest.raises(ParamError, match=problem) as caught:
        pipeline.validate_form(conf)
    assert caught.value.param == field


def test_invalid_form_fails_at_once_naming_the_field(roots, capfd) -> None:
    dag = load_dag("egamma_tnp.py", "egamma_tnp", retries=None)  # the DAG's own retries
    states = assert_refused_at_once(dag, {"config": "x; rm -rf /"}, "config", "x; rm -rf /", capfd)
    assert states["summary"] == ["upstream_failed"] and states["check"] == ["upstream_failed"]
    assert not any(roots[1].iterdir())


def test_failing_chunk_fails_its_task_only_and_the_summary_lists_it(roots, capfd) -> None:
    import uproot

    from include.tnp.demo import configurations, nanoaod_events, write_nanoaod

    data, output = roots
    write_nanoaod(data / "good.root", 300, seed=3)
    events = nanoaod_events(300, seed=4)
    with uproot.recreate(data / "nobranch.root") as out:  # readable, but without the Electron collection
        out["Events"] = {k: v for k, v in events.items() if k in ("run", "luminosityBlock", "event")}
    conf = configurations()
    fileset = {"demo": {"files": {"good.root": "Events", "nobranch.root": "Events"}}}
    run = _load_dag().test(
        run_conf={
            "config": json.dumps(conf["runner"]),
            "settings": json.dumps(conf["settings"]),
            "fileset": json.dumps(fileset),
            "output": "partial",
        }
    )
    states = _states(run)
    assert states["process_chunk[0]"] == "success" and states["process_chunk[1]"] == "failed"
    assert states["merge[-1]"] == "upstream_failed" and states["summary[-1]"] == "success"
    assert states["check[-1]"] == "failed" and str(run.state) == "failed"
    summary_file = output / "egamma_tnp" / "partial" / "summary.json"
    message = "egamma_tnp: failed: process_chunk[1]; see its log; failed chunks and unreadable files are listed in "
    assert message + str(summary_file) in capfd.readouterr().out  # check names the task and the file
    summary = json.loads(summary_file.read_text())
    assert [c["chunk"] for c in summary["failed_chunks"]] == ["chunk-0001"]
    assert summary["events_processed"] == 300


def test_apptainer_without_a_runtime_image_is_refused_at_once(roots, monkeypatch, capfd) -> None:
    from include.tnp.demo import generate

    generate(roots[0] / "egamma_tnp", seed=11, n_events=200)  # the form's defaults are valid
    monkeypatch.delenv("HEP_RUNTIME_IMAGE", raising=False)
    dag = load_dag("egamma_tnp.py", "egamma_tnp", retries=None)  # the production's retries: still one try
    assert_refused_at_once(dag, {"backend": "apptainer"}, "backend", "HEP_RUNTIME_IMAGE", capfd)
