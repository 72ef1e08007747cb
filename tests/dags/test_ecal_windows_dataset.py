"""``ecal_windows_dataset`` end to end with ``dag.test()`` on generated dumper files, and its form."""

from __future__ import annotations

import copy
import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import uproot
from dag_support import assert_refused_at_once, form_conf, load_dag, task_states

from include.ecal_windows import TREE_PATH

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "ecal_windows_dataset.py"
DAG = ("ecal_windows_dataset.py", "ecal_windows_dataset")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.ecal_windows.generator import generate

    target = tmp_path_factory.mktemp("ecal-dag-demo") / "ecal_windows"
    generate(target, 2017, tree_format="ttree")  # real TTrees, as the CMS dumper writes them
    return target


@pytest.fixture
def data(roots: tuple[Path, Path], demo: Path) -> tuple[Path, Path]:
    target = roots[0] / "ecal_windows"
    shutil.copytree(demo, target)
    good = sorted((target / "electrons").glob("*.root"))
    (target / "electrons" / "sub").mkdir()
    (target / "electrons" / "sub" / "corrupt.root").write_bytes(b"this is not a ROOT file" * 100)
    (target / "electrons" / "truncated.root").write_bytes(good[0].read_bytes()[:4000])
    return roots


def test_form_is_the_packages() -> None:
    """The DAG's form comes from include.ecal_windows.form: every parameter with its default,
    plus how the run runs (backend, HTCondor options)."""
    from include.ecal_windows import form

    dag = load_dag(*DAG, None)
    assert set(dag.params) == {*form.DEFAULTS, *form.RUN_KEYS}
    for name, value in form.DEFAULTS.items():
        assert dag.params[name] == value, name
    assert "STRATEGIES" not in DAG_FILE.read_text()


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("flavour", 13),
        ("files_per_group", 0),
        ("output_dir", "a;b"),
        ("output_dir", "../up"),
        ("window_version", "v4"),
        ("maxnocalow", -1),
        ("assoc_strategy", "best_guess"),
        ("backend", "docker"),
    ],
)
def test_form_rejects_invalid_values(name: str, value: Any) -> None:
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(load_dag(*DAG, None).params)
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {name}"):
        params[name] = value
        params.validate()


def _expected_windows(data_root: Path, conf: dict[str, Any]) -> int:
    from include.ecal_windows import pipeline
    from include.ecal_windows.dumper import needed_branches, read_events
    from include.ecal_windows.windows import compute_windows
    from include.ecal_windows.workingpoint import load_working_point

    p = pipeline.validate_params(conf)
    wp = load_working_point(p["wp_file"])
    total = 0
    for path in sorted((data_root / "ecal_windows" / "electrons").glob("dumper_*.root")):
        total += compute_windows(read_events(path, needed_branches()), pipeline.window_config(p), wp).n_windows
    return total


@pytest.mark.slow
def test_dag_end_to_end(data: tuple[Path, Path]) -> None:
    import pyarrow.dataset as ds

    data_root, output = data
    dag = load_dag(*DAG)
    conf = {"files_per_group": 3, "maxnocalow": 2, "overlap": True, "output_dir": "ele", "backend": "local"}
    run = dag.test(run_conf=conf)
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["file_group.windows"] == ["success", "success"] and states["file_group.to_parquet"] == [
        "success",
        "success",
    ]
    out = output / "ecal_windows_dataset" / "ele"
    with uproot.open(data_root / "ecal_windows" / "electrons" / "dumper_000.root") as handle:
        assert isinstance(handle[TREE_PATH], uproot.TTree)  # the DAG ran on TTree input
    report = json.loads((out / "inputs_report.json").read_text())
    assert [Path(b["path"]).name for b in report["bad"]] == ["corrupt.root", "truncated.root"]
    assert all(b["problem"] for b in report["bad"]) and len(report["good"]) == 4
    assert [g["job"] for g in report["groups"]] == [1, 2] and [len(g["files"]) for g in report["groups"]] == [3, 1]
    expected = _expected_windows(data_root, {k: v for k, v in conf.items() if k != "backend"})
    parquet_dir = out / "parquet"
    assert sorted(p.name for p in parquet_dir.glob("*.parquet")) == ["records_1.parquet", "records_2.parquet"]
    assert ds.parquet_dataset(str(parquet_dir / "_metadata")).count_rows() == expected > 100
    summary = json.loads((out / "summary" / "summary.json").read_text())
    assert summary["windows"] == expected == summary["matched"] + summary["unmatched"]
    assert sum(r["windows"] for r in summary["per_flavour_region"]) == expected
    assert {r["flavour"] for r in summary["per_flavour_region"]} == {11}
    assert all(r["windows"] > 0 for r in summary["per_flavour_region"])  # EB and both EE regions
    assert len(summary["bad_inputs"]) == 2 and summary["failed_groups"] == []
    assert all(Path(p).stat().st_size > 1000 for p in summary["plots"])
    for job in (1, 2):
        group = out / "groups" / f"{job:04d}"
        assert (group / f"clusters_data_{job}.ndjson.gz").stat().st_size > 0
        rows = (group / f"clusters_data_{job}.meta.csv").read_text().splitlines()
        assert (
            rows[0] == "n_windows_matched;n_windows_nomatched;n_seeds_good;n_seeds_bad_calo_position;"
            "n_seeds_in_other_window"
        )
        assert len(rows) == 1 + 150 * len(report["groups"][job - 1]["files"])
        assert (group / "windows.manifest.json").exists() and (group / "parquet.manifest.json").exists()
    before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file() and p.name != ".lock"}

    again = dag.test(run_conf=conf)
    assert str(again.state) == "success"
    after = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before  # finished groups, finalize and summary are skipped

    redo = dag.test(run_conf={**conf, "redo": True})
    assert str(redo.state) == "success"
    for path, (mtime, content) in before.items():
        if path.suffix in (".parquet", ".gz", ".csv") or path.name.endswith("provenance.json"):
            assert path.stat().st_mtime_ns != mtime and path.read_bytes() == content, path  # rebuilt, same bytes


def test_form_defaults_are_valid(data: tuple[Path, Path]) -> None:
    """The untouched form (features_file empty: the packaged feature groups) passes the first task."""
    from include.ecal_windows import pipeline

    conf = form_conf(load_dag(*DAG, None))
    assert conf["features_file"] is None
    checked = pipeline.validate_params(conf)
    assert checked["features_file"] == "" and checked["input_dir"] == str(data[0] / "ecal_windows" / "electrons")
    assert pipeline.validate_params({**conf, "features_file": ""}) == checked


@pytest.mark.parametrize(
    ("field", "value", "problem"),
    [
        ("input_dir", "ecal_windows/$(id)", "contains the shell metacharacter '$'"),
        ("input_dir", "ecal_windows/missing", "does not exist"),
        ("wp_file", "../../x.json", "is outside the allowed roots"),
        ("features_file", "ecal_windows/electrons", "features_file"),
    ],
)
def test_form_problems_name_the_field(data: tuple[Path, Path], field: str, value: str, problem: str) -> None:
    from include.core.errors import ParamError
    from include.ecal_windows import pipeline

    with pytest.raises(ParamError, match=f"^parameter '{field}': ") as caught:
        pipeline.validate_params({**form_conf(load_dag(*DAG, None)), field: value})
    assert problem in str(caught.value)


def test_dag_refuses_paths_outside_the_data_root_at_once(data: tuple[Path, Path], capfd) -> None:
    dag = load_dag(*DAG, retries=None)  # the production retries: a refused form must still fail at once
    states = assert_refused_at_once(dag, {"input_dir": "/etc"}, "input_dir", "/etc is outside the allowed roots", capfd)
    assert states["list_inputs"] == ["upstream_failed"] and states["summary"] == ["upstream_failed"]
    assert not (data[1] / "ecal_windows_dataset").exists()


def test_dag_fails_at_once_when_no_input_is_readable(data: tuple[Path, Path]) -> None:
    data_root, _ = data
    (data_root / "ecal_windows" / "empty").mkdir()
    (data_root / "ecal_windows" / "empty" / "bad.root").write_bytes(b"junk")
    run = load_dag(*DAG, retries=None).test(run_conf={"input_dir": "ecal_windows/empty", "output_dir": "empty"})
    states = task_states(run)
    assert str(run.state) == "failed" and states["list_inputs"] == ["failed"]
    assert "success" not in states.get("file_group.windows", []) and states["finalize"] != ["success"]


def _pool_fixture() -> Any:
    spec = importlib.util.spec_from_file_location("condor_fixtures", REPO / "tests" / "condor" / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.pool


pool = _pool_fixture()  # skips with the reason when no HTCondor pool answers


@pytest.mark.condor
@pytest.mark.slow
def test_dag_on_condor_matches_local(pool: str, data: tuple[Path, Path]) -> None:
    _, output = data
    dag = load_dag(*DAG)
    conf = {"files_per_group": 3, "maxnocalow": 1, "backend": "local"}
    for backend in ("local", "condor"):
        run = dag.test(run_conf={**conf, "backend": backend, "output_dir": backend})
        assert str(run.state) == "success", task_states(run)
    root = output / "ecal_windows_dataset"
    for job in (1, 2):
        name = f"parquet/records_{job}.parquet"
        assert (root / "condor" / name).read_bytes() == (root / "local" / name).read_bytes()
        manifest = json.loads((root / "condor" / "groups" / f"{job:04d}" / "parquet.manifest.json").read_text())
        assert manifest["backend"] == "condor"
    summaries = [json.loads((root / b / "summary" / "summary.json").read_text()) for b in ("local", "condor")]
    assert summaries[0]["per_flavour_region"] == summaries[1]["per_flavour_region"]


def test_a_failed_group_fails_the_run_but_the_others_make_the_dataset(
    data: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from include.core.errors import InputFileError
    from include.ecal_windows import windows as windows_module

    real = windows_module.compute_windows

    def broken_for_one_file(events, cfg, wp, source=""):
        if source.endswith("dumper_003.root"):
            raise InputFileError(source, "basket decompression failed")
        return real(events, cfg, wp, source)

    monkeypatch.setattr(windows_module, "compute_windows", broken_for_one_file)
    _, output = data
    run = load_dag(*DAG).test(run_conf={"files_per_group": 3, "output_dir": "partial"})
    states = task_states(run)
    assert str(run.state) == "failed"
    assert sorted(states["file_group.windows"]) == ["failed", "success"] and states["finalize"] == ["success"]
    assert sorted(states["file_group.to_parquet"]) == ["success", "upstream_failed"]
    assert states["summary"] == ["failed"]
    out = output / "ecal_windows_dataset" / "partial"
    assert [p.name for p in (out / "parquet").glob("*.parquet")] == ["records_1.parquet"]
    summary = json.loads((out / "summary" / "summary.json").read_text())
    assert summary["failed_groups"] == [2] and summary["windows"] > 0
    assert not (out / "groups" / "0002" / "clusters_data_2.ndjson.gz").exists()  # nothing half-written
