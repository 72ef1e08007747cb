"""``mu2e_ensemble`` end to end with ``dag.test()`` on generated inputs, and its trigger form."""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag, pool_unavailable, task_states

REPO = Path(__file__).resolve().parents[2]
DAG_FILE = REPO / "dags" / "mu2e_ensemble.py"
DAG = ("mu2e_ensemble.py", "mu2e_ensemble")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.mu2e.demo import generate

    target = tmp_path_factory.mktemp("mu2e-dag-demo") / "mu2e"
    generate(target, 2017)
    return target


@pytest.fixture
def data(roots: tuple[Path, Path], demo: Path) -> tuple[Path, Path]:
    shutil.copytree(demo, roots[0] / "mu2e")
    return roots


def test_form_choices_are_the_packages():
    from include.mu2e import form, naming, normalizations
    from include.mu2e.campaign import CampaignSpec
    from include.mu2e.pipeline import CAMPAIGN, JOB

    assert (form.TAG_PATTERN, form.LIVETIME_PATTERN) == (naming.TAG_PATTERN, naming.LIVETIME_PATTERN)
    assert form.ALL_PROCESSES == normalizations.ALL_PROCESSES
    assert CampaignSpec().processes == form.DEFAULT_PROCESSES
    assert set(form.FORCE_CHOICES) == {*CAMPAIGN.force_choices, *JOB.order}
    text = DAG_FILE.read_text()
    assert "FORCE_CHOICES =" not in text and "PROCESSES = [" not in text


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("tag", "MDS3"),
        ("tag", "ensemble1"),
        ("tag", "MDS3c; rm -rf /"),
        ("livetime", "1 week"),
        ("livetime", "-1 h"),
        ("livetime", "h"),
        ("processes", ["DIO", "Nope"]),
        ("processes", []),
        ("BB", "3BB"),
        ("njobs", 2000),
    ],
)
def test_form_rejects_invalid_values(name: str, value: Any):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(load_dag(*DAG, None).params)
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {name}"):
        params[name] = value
        params.validate()


def test_form_accepts_the_defaults_and_units():
    dag = load_dag(*DAG, None)
    for value in ("1 h", "3600 s", "30 min", "0.5 d", "1e3 s"):
        assert dag.params.get_param("livetime").resolve(value) == value
    assert dag.params.get_param("tag").resolve("MDS12b") == "MDS12b"


def test_form_defaults_are_a_valid_campaign(data: tuple[Path, Path]):
    """The untouched form: ledger in the output root, the submitting user as owner."""
    from include.mu2e import ledger, pipeline

    conf = form_conf(load_dag(*DAG, None))
    assert (conf["ledger_url"], conf["owner"]) == (None, None)
    checked = pipeline.validate_params(conf)
    assert checked["ledger_url"] == ledger.default_url(data[1])
    assert pipeline.validate_params({**conf, "ledger_url": "", "owner": ""}) == checked
    art = pipeline.validate_params({**conf, "stage2": "art", "art_image": "mu2e"})  # any path inside the root
    assert art["owner"] == ""


def test_unknown_conditions_set_fails_the_first_task_at_once(data: tuple[Path, Path], capfd):
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries
    states = assert_refused_at_once(dag, {"conditions": "no-such-set"}, "conditions", "'no-such-set'", capfd)
    assert states["normalize"] == ["upstream_failed"] and states["summary"] == ["upstream_failed"]
    assert not (data[1] / "mu2e_ensemble" / "MDS3c").exists()  # no campaign folder


@pytest.mark.slow
def test_dag_end_to_end(data: tuple[Path, Path]):
    _, output = data
    dag = load_dag(*DAG)
    conf = {"tag": "MDS3c", "livetime": "1 h", "njobs": 4, "seed": 3, "backend": "local"}
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", task_states(run)
    out = output / "mu2e_ensemble" / "MDS3c"
    summary = json.loads((out / "summary.json").read_text())
    validation = json.loads((out / "validation.json").read_text())
    assert validation["ok"] and validation["duplicates"] == 0
    assert validation["chi_square"]["p_value"] > 0.01
    assert summary["events"] == sum(r["Counts"] for r in summary["rows"]) == validation["unique_events"]
    for j in range(4):
        counts = json.loads((out / f"job_{j:04d}" / "counts.json").read_text())
        assert (out / f"job_{j:04d}" / counts["output"]).stat().st_size > 0
        assert (out / f"job_{j:04d}" / "mix.manifest.json").exists()
    assert (out / "MDS3c.txt").read_text().count('="') > 25
    assert (out / "summary.png").stat().st_size > 0
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}

    again = dag.test(run_conf=conf)
    assert str(again.state) == "success"
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert after == before  # a re-run of a finished campaign writes nothing


def test_dag_fails_before_any_job_on_insufficient_inputs(data: tuple[Path, Path]):
    from airflow.utils.session import create_session

    _, output = data
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries: a shortfall must not be retried
    run = dag.test(run_conf={"tag": "MDS3d", "livetime": "10 h"})
    states = task_states(run)
    assert str(run.state) == "failed"
    assert states["check_inputs"] == ["failed"]
    with create_session() as session:
        (ti,) = [t for t in run.get_task_instances(session=session) if t.task_id == "check_inputs"]
        assert ti.try_number == 1
    assert "success" not in states.get("run_job", []) and "success" not in states.get("build_jobs", [])
    out = output / "mu2e_ensemble" / "MDS3d"
    assert not (out / "jobs.json").exists() and not list(out.glob("job_*"))


def test_dag_rejects_zero_livetime_and_outside_paths(data: tuple[Path, Path]):
    dag = load_dag(*DAG)
    for conf in ({"tag": "MDS3e", "livetime": "0 h"}, {"tag": "MDS3e", "data_dir": "/etc"}):
        run = dag.test(run_conf=conf)
        assert str(run.state) == "failed"
        assert task_states(run)["validate_params"] == ["failed"]


# -- on the personal HTCondor pool -----------------------------------------------------------------

POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool"))


@pytest.fixture(scope="module", params=["bound", "self-contained"])
def standin_image(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The stand-in Mu2e SIF of each kind, built once; skips without a pool, apptainer or busybox."""
    reason = pool_unavailable()
    if reason:
        pytest.skip(f"HTCondor pool not reachable: {reason} (bash docker/condor/start-pool.sh)")
    from include.apptainer.images import find_busybox

    runtime = shutil.which("apptainer") or str(POOL_DIR / "bin" / "apptainer")
    if not os.access(runtime, os.X_OK) or find_busybox() is None:
        pytest.skip(f"no apptainer ({runtime}) or busybox to build the stand-in Mu2e image")
    from include.mu2e.image import build_standin_image

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEP_APPTAINER_BIN", runtime)
        self_contained = request.param == "self-contained"
        return build_standin_image(tmp_path_factory.mktemp("mu2e-image"), self_contained=self_contained)


def _finished_jobs_in(workdir: Path) -> list[dict[str, Any]]:
    """The pool's history of the jobs that ran in ``workdir``: container image (if any) and exit code."""
    import htcondor2

    ads = htcondor2.Schedd().history(constraint=f'Iwd =?= "{workdir}"', projection=["ContainerImage", "ExitCode"])
    return [{"image": ad.get("ContainerImage"), "exit": ad.get("ExitCode")} for ad in ads]


@pytest.mark.slow
@pytest.mark.condor
@pytest.mark.apptainer
def test_art_jobs_run_on_the_pool(data: tuple[Path, Path], standin_image: Path, monkeypatch: pytest.MonkeyPatch):
    """stage2=art on condor: one HTCondorJobOperator instance per job runs `mu2e -c mu2e.fcl` in the image;
    a self-contained image (like a real Mu2e one) in the container universe, with files transferred."""
    data_root, output = data
    monkeypatch.setenv("HEP_APPTAINER_BIN", shutil.which("apptainer") or str(POOL_DIR / "bin" / "apptainer"))
    images = data_root / "mu2e" / "images"
    images.mkdir()
    for path in standin_image.parent.iterdir():
        shutil.copy2(path, images / path.name)
    conf = {"tag": "MDS2a", "livetime": "30 min", "njobs": 2, "stage2": "art", "backend": "condor", "owner": "mu2epro"}
    conf["art_image"] = f"mu2e/images/{standin_image.name}"
    dag = load_dag(*DAG)
    run = dag.test(run_conf=conf)
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["run_art"] == ["success", "success"]  # one mapped operator instance per job
    assert states["run_job"] == ["skipped"] and states["record_art"] == ["success"]
    out = output / "mu2e_ensemble" / "MDS2a"
    assert (out / "cnf.mu2e.ensembleMDS2a.MDC2025af.0.tar").is_file()
    record = json.loads((out / "MDS2a.json").read_text())
    audit = (out / "audit.csv").read_text().splitlines()
    assert audit[0] == "Dataset,Counts,fraction_sampled,fraction_expected,weight"
    totals = {line.split(",")[0]: int(line.split(",")[1]) for line in audit[1:]}
    cosmic_events = 0
    for j in range(2):
        job = out / f"job_{j:04d}"
        counts = json.loads((job / "counts.json").read_text())
        assert (job / counts["output"]).stat().st_size > 0
        assert counts["output"] == f"dts.mu2e.ensembleMDS2a.MDC2025af.001430_{j:08d}.art"
        assert "Total" in (job / "mu2e.log").read_text()
        assert (job / "events.log").is_file() and (job / "art.manifest.json").is_file()
        assert counts["exhausted"] == ["CRYCosmic"]  # the cosmics set the job length
        cosmic_events += counts["counts"]["CRYCosmic"]
    assert totals["CRYCosmic"] == cosmic_events == record["processes"]["CRYCosmic"]["reco"]
    assert set(totals) == set(record["processes"])
    validation = json.loads((out / "validation.json").read_text())
    assert validation["ok"] and validation["unique_events"] == sum(totals.values())
    ran = [job for j in range(2) for job in _finished_jobs_in(out / f"job_{j:04d}")]
    # self-contained: the container universe; bound: vanilla jobs running `apptainer exec --bind ...`
    image = standin_image.name if "selfcontained" in standin_image.name else None
    assert ran == [{"image": image, "exit": 0}] * 2
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}

    again = dag.test(run_conf=conf)  # a finished ensemble: nothing is submitted again
    states = task_states(again)
    assert str(again.state) == "success", states
    assert states["run_art"] == ["skipped"] and states["record_art"] == ["success"]
    after = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")}
    assert after == before


def test_art_operator_kwargs_are_argv_lists(tmp_path: Path):
    """The operator arguments of an art job: container universe for a self-contained image, else
    `apptainer exec --bind ... <image> mu2e -c mu2e.fcl` in the job folder; never a shell string."""
    from include.mu2e.art_jobs import art_command, operator_kwargs

    job_dir = tmp_path / "job_0003"
    job_dir.mkdir()
    (job_dir / "mu2e.fcl").write_text(
        'source: { module_type: SamplingInput dataSets: { DIO: { fileNames: ["a b.root"] weight: 1 } '
        'CRYCosmic: { fileNames: ["c.root"] weight: 2 } } }\n'
    )
    job = {"index": 3, "output": "dts.x.art"}
    real = tmp_path / "real.sif"
    command = art_command(real, job_dir, job)
    assert command["argv"] == ["mu2e", "-c", "mu2e.fcl"] and command["contained"] and command["binds"] == []
    assert command["input_files"] == ["mu2e.fcl", "a b.root", "c.root"]
    kwargs = operator_kwargs(command)
    assert kwargs["executable"] == "/usr/bin/env" and kwargs["arguments"] == ["mu2e", "-c", "mu2e.fcl"]
    assert kwargs["container_image"] == str(real) and kwargs["output_files"] == ["dts.x.art"]
    assert kwargs["expected_outputs"] == ["dts.x.art", "mu2e.log"] and kwargs["workdir"] == str(job_dir)
    standin = tmp_path / "standin.sif"
    standin.write_bytes(b"")
    Path(str(standin) + ".standin.json").write_text(json.dumps({"binds": [str(tmp_path)]}))
    assert not art_command(standin, job_dir, job)["contained"]
    kwargs = operator_kwargs(art_command(standin, job_dir, job))
    assert "container_image" not in kwargs and kwargs["shared_fs"] is True
    argv = [kwargs["executable"], *kwargs["arguments"]]
    assert argv[:3] == ["/usr/bin/env", "apptainer", "exec"]
    assert argv[-4:] == [str(standin), "mu2e", "-c", "mu2e.fcl"]
    assert f"{job_dir}:{job_dir}:rw" in argv and "--pwd" in argv
    contained = tmp_path / "contained.sif"
    Path(str(contained) + ".standin.json").write_text(json.dumps({"self_contained": True, "binds": []}))
    assert "container_image" in operator_kwargs(art_command(contained, job_dir, job))


@pytest.mark.slow
@pytest.mark.condor
def test_native_jobs_run_on_the_pool_like_locally(data: tuple[Path, Path], tmp_path: Path):
    reason = pool_unavailable()
    if reason:
        pytest.skip(f"HTCondor pool not reachable: {reason} (bash docker/condor/start-pool.sh)")
    _, output = data
    conf = {"tag": "MDS2b", "livetime": "10 min", "njobs": 1, "backend": "condor"}
    run = load_dag(*DAG).test(run_conf=conf)
    assert str(run.state) == "success", task_states(run)
    out = output / "mu2e_ensemble" / "MDS2b"
    on_pool = {p.name: p.read_bytes() for p in out.glob("job_*/dts.*.parquet")}
    assert len(on_pool) == 1
    # the same campaign on the local backend, with a fresh ledger, gives the same files
    from include.mu2e import pipeline

    local = pipeline.validate_params({**conf, "ledger_url": f"sqlite:///{tmp_path / 'local.sqlite'}"})
    local["output_dir"] = str(tmp_path / "local")
    pipeline.run_all(local)
    assert {p.name: p.read_bytes() for p in (tmp_path / "local").glob("job_*/dts.*.parquet")} == on_pool
