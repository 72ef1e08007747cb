"""``ldmx_darkbrem_signal`` end to end with ``dag.test()`` and the locally built stand-in images.

A campaign of 3 masses x 2 runs runs generate -> extract -> simulate in apptainer containers
(backend local), then on the personal HTCondor pool (backend condor). Checked: every product and
its manifest (image sha256, parameters, host, times), event counts, the campaign summary, that a
re-trigger runs nothing, and that one failing simulation fails only its chain and succeeds on a
later run once the fault is gone.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag, pool_unavailable, register_dag, task_states

from include.core.fingerprint import sha256_file

REPO = Path(__file__).resolve().parents[2]
DAG = ("ldmx_darkbrem_signal.py", "ldmx_darkbrem_signal")
POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool"))

MASSES = [0.01, 0.1, 1.0]
NEVENTS, SIM_EVENTS = 40, 25
ENERGIES = 8  # dbgen v4 default grid 4.0 ... 1.913
FAULT = "\nif os.path.exists('FAULT'):\n    raise SystemExit('injected fault: FAULT file in the unit folder')\n"


# -- fixtures -----------------------------------------------------------------------------------


def _runtime() -> str | None:
    from include.apptainer.command import find_apptainer
    from include.core.errors import ConfigError

    try:
        return find_apptainer()
    except ConfigError:
        wrapper = POOL_DIR / "bin" / "apptainer"
        return str(wrapper) if os.access(wrapper, os.X_OK) else None


@pytest.fixture(scope="module")
def standin_images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The three stand-in SIFs, built once for this module."""
    from include.apptainer.images import find_busybox

    runtime = _runtime()
    if runtime is None:
        pytest.skip(f"no apptainer on PATH and no pool wrapper {POOL_DIR}/bin/apptainer (docker/condor/setup-pool.sh)")
    if find_busybox() is None:
        pytest.skip("no busybox to build the stand-in images (apt-get install busybox-static)")
    from include.darkbrem.standin import build_standin_images

    dest = tmp_path_factory.mktemp("darkbrem-images")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEP_APPTAINER_BIN", runtime)
        build_standin_images(dest)
        yield dest


@pytest.fixture
def campaign_data(roots: tuple[Path, Path], standin_images: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Images and config in a fresh data root (images are copied: symlinks out of the root are refused)."""
    from include.darkbrem.standin import sim_config_text

    data, output = roots
    monkeypatch.setenv("HEP_APPTAINER_BIN", _runtime() or "")
    folder = data / "ldmx_darkbrem_signal"
    shutil.copytree(standin_images, folder / "images")
    (folder / "config.py").write_text(sim_config_text() + FAULT)
    return {"data": data, "output": output, "images": folder / "images"}


def _run(conf: dict[str, Any], retries: int | None = 0) -> str:
    dag = load_dag(*DAG, retries)
    run = dag.test(run_conf=conf)
    return str(run.state)


def _units(output: Path, campaign: str) -> dict[str, Path]:
    base = output / "ldmx_darkbrem_signal" / campaign
    return {p.name: p for p in sorted(base.iterdir()) if p.is_dir()}


def _results(unit: Path) -> dict[str, str]:
    return {
        s: json.loads((unit / f"{s}.result.json").read_text())["state"] for s in ("generate", "extract", "simulate")
    }


def _mtimes(folder: Path) -> dict[str, int]:
    return {
        str(p): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and not p.name.endswith(".result.json") and p.name != ".lock"
    }


def check_campaign(output: Path, campaign: str, images: Path, backend: str) -> dict[str, Any]:
    """Every product and manifest of a finished campaign; returns the summary."""
    import uproot

    units = _units(output, campaign)
    assert sorted(units) == sorted(f"mA_{m}_run_{r}" for m in MASSES for r in (1, 2))
    dbgen_sha, ldmx_sha = sha256_file(images / "dbgen-v4.sif"), sha256_file(images / "ldmx-pro.sif")
    libraries = {}
    for key, unit in units.items():
        mass, run = float(key.split("_")[1]), int(key.split("_")[3])
        name = f"electron_tungsten_MaxE_4.0_MinE_2.0_RelEStep_0.1_UndecayedAP_mA_{mass}_run_{run}"
        lhe = sorted((unit / name).glob("*.lhe"))
        assert len(lhe) == ENERGIES
        for path in lhe:
            record = json.loads((path.parent / (path.name + ".manifest.json")).read_text())
            assert record["step"] == "generate" and record["backend"] == backend
            assert record["tools"]["image_sha256"] == dbgen_sha
            assert record["params"]["mass_gev"] == mass and record["params"]["run"] == run
            assert record["outputs"][0]["sha256"] == sha256_file(path)
            assert record["host"] and record["started"] <= record["finished"]
        library = unit / f"{name}.csv.gz"
        rows = gzip.decompress(library.read_bytes()).decode().splitlines()
        assert rows[0].startswith("target_Z,incident_energy") and len(rows) == 1 + ENERGIES * NEVENTS
        assert {r.split(",")[0] for r in rows[1:]} == {"74"}
        libraries[key] = rows[1:]
        record = json.loads((unit / f"{name}.csv.gz.manifest.json").read_text())
        assert record["outputs"][0]["sha256"] == sha256_file(library)
        assert len(record["inputs"]) == ENERGIES and record["params"]["aprime_id"] == 622
        root_path = unit / f"tdb_{run}.root"
        with uproot.open(root_path) as handle:
            tree = handle["LDMX_Events"]
            assert tree.num_entries == SIM_EVENTS
            arrays = tree.arrays(["run", "apMassMeV", "incidentEnergy"], library="np")
        assert set(arrays["run"]) == {run} and set(arrays["apMassMeV"]) == {mass * 1000}
        assert set(arrays["incidentEnergy"]) == {4.0}
        record = json.loads((unit / f"tdb_{run}.root.manifest.json").read_text())
        assert record["tools"]["image_sha256"] == ldmx_sha and record["backend"] == backend
        assert record["params"]["mass_mev"] == mass * 1000 and record["params"]["sim_events"] == SIM_EVENTS
        assert {Path(i["path"]).name for i in record["inputs"]} == {library.name, "config.py"}
        for step in ("generate", "extract", "simulate"):
            assert (unit / f"{step}.manifest.json").is_file()
    assert libraries["mA_0.01_run_1"] != libraries["mA_0.01_run_2"]  # the run seeds the generator
    summary = json.loads((output / "ldmx_darkbrem_signal" / campaign / "summary.json").read_text())
    assert (output / "ldmx_darkbrem_signal" / campaign / "summary.json.manifest.json").is_file()
    return summary


def conf(campaign: str, **more: Any) -> dict[str, Any]:
    return {
        "campaign": campaign,
        "masses": MASSES,
        "runs_per_mass": 2,
        "nevents": NEVENTS,
        "sim_events": SIM_EVENTS,
        **more,
    }


# -- tests --------------------------------------------------------------------------------------


def test_params_mirror_the_production_lists() -> None:
    from include.darkbrem.library import KNOWN_VERSIONS, TARGETS

    dag = load_dag(*DAG, None)
    assert dag.params.get_param("targets").schema["items"]["enum"] == list(TARGETS)
    assert dag.params.get_param("generator_version").schema["enum"] == list(KNOWN_VERSIONS)
    assert [t.task_id for t in dag.tasks] == [
        "validate_params",
        "plan",
        "chain.generate",
        "chain.extract",
        "chain.simulate",
        "summary",
    ]


@pytest.mark.parametrize(
    "bad",
    [
        {"masses": [-0.1]},
        {"masses": []},
        {"campaign": "a;b"},
        {"backend": "kubernetes"},
        {"runs_per_mass": 0},
        {"nevents": 100_000},
        {"targets": ["gold"]},
        {"generator_version": "3.0"},
    ],
)
def test_trigger_form_refuses_invalid_values(bad: dict[str, Any]) -> None:
    from airflow.sdk.definitions.param import ParamsDict
    from airflow.sdk.exceptions import ParamValidationError

    dag = load_dag(*DAG, None)
    params = ParamsDict(dict(dag.params.items()))
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {next(iter(bad))}"):
        params.update(bad)
        params.validate()


def test_form_defaults_are_a_valid_campaign(roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The untouched form (empty masses_mev, run_numbers, output_root): derived MeV masses, runs 1-2,
    HEP_OUTPUT_ROOT. Images and the runtime are placeholders: only their presence is checked here."""
    from include.darkbrem.campaign import validate_form

    data, output = roots
    folder = data / "ldmx_darkbrem_signal"
    (folder / "images").mkdir(parents=True)
    for name in ("dbgen-v4.sif", "ldmx-pro.sif"):
        (folder / "images" / name).write_bytes(b"SIF placeholder")
    (folder / "config.py").write_text("# simulation config placeholder\n")
    runtime = data / "bin" / "apptainer"
    runtime.parent.mkdir()
    runtime.write_text("#!/bin/sh\nexit 0\n")
    runtime.chmod(0o755)
    monkeypatch.setenv("HEP_APPTAINER_BIN", str(runtime))
    conf = form_conf(load_dag(*DAG, None))
    assert (conf["masses_mev"], conf["run_numbers"], conf["output_root"]) == (None, None, None)
    campaign = validate_form(conf)
    assert campaign["masses_mev"] == [10.0, 100.0, 1000.0]
    assert campaign["run_numbers"] == [[1, 2]] * 3 and campaign["output_root"] == str(output)
    assert validate_form({**conf, "masses_mev": [], "run_numbers": [], "output_root": ""}) == campaign


def test_mismatched_mass_units_fail_the_first_task_at_once(roots: tuple[Path, Path], capfd) -> None:
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries
    conf = {"masses": [0.01], "masses_mev": [99.0]}
    states = assert_refused_at_once(
        dag, conf, "masses_mev", "99.0 MeV does not match the generator mass 0.01 GeV", capfd
    )
    assert states["plan"] == ["upstream_failed"] and states["summary"] == ["upstream_failed"]
    assert not (roots[1] / "ldmx_darkbrem_signal").exists()


@pytest.mark.apptainer
@pytest.mark.slow
def test_campaign_local_backend(campaign_data: dict[str, Any]) -> None:
    output, images = campaign_data["output"], campaign_data["images"]
    faulty = output / "ldmx_darkbrem_signal" / "c1" / "mA_0.1_run_2"
    faulty.mkdir(parents=True)
    (faulty / "FAULT").write_text("simulate fails while this file exists\n")

    # 1. one simulation fails: only its chain fails, the run fails, the summary says why
    assert _run(conf("c1")) == "failed"
    units = _units(output, "c1")
    for key, unit in units.items():
        expected = "failed" if key == "mA_0.1_run_2" else "ran"
        assert _results(unit) == {"generate": "ran", "extract": "ran", "simulate": expected}, key
    summary = json.loads((output / "ldmx_darkbrem_signal" / "c1" / "summary.json").read_text())
    assert summary["totals"]["ok"] == 5 and summary["totals"]["failed"] == ["mA_0.1_run_2"]
    failed_row = next(r for r in summary["units"] if r["unit"] == "mA_0.1_run_2")
    assert failed_row["simulate"] == "failed" and "injected fault" in failed_row["error"]
    assert not (faulty / "tdb_2.root").exists()
    assert not list(faulty.glob(".simulate-*"))  # no half-written products left behind

    # 2. fault removed, campaign re-triggered: finished chains are skipped, only the failed simulation runs
    (faulty / "FAULT").unlink()
    before = {k: _mtimes(u) for k, u in units.items() if k != "mA_0.1_run_2"}
    assert _run(conf("c1")) == "success"
    for key, unit in units.items():
        expected = {"generate": "fresh", "extract": "fresh", "simulate": "fresh"}
        if key == "mA_0.1_run_2":
            expected["simulate"] = "ran"
        assert _results(unit) == expected, key
    assert {k: _mtimes(u) for k, u in units.items() if k != "mA_0.1_run_2"} == before
    summary = check_campaign(output, "c1", images, "local")
    assert summary["totals"] == {
        "campaign": "c1",
        "units": 6,
        "ok": 6,
        "failed": [],
        "incomplete": [],
        "files": 6 * (ENERGIES + 2),
        "library_events": 6 * ENERGIES * NEVENTS,
        "sim_events": 6 * SIM_EVENTS,
    }


@pytest.mark.apptainer
@pytest.mark.slow
def test_airflow_retry_recovers_a_transient_failure(campaign_data: dict[str, Any]) -> None:
    """A simulation that fails once (the fault removes itself) succeeds on the task's retry."""
    folder = campaign_data["data"] / "ldmx_darkbrem_signal"
    once = "\nif os.path.exists('FAULT_ONCE'):\n    os.remove('FAULT_ONCE')\n    raise SystemExit('transient fault')\n"
    (folder / "config.py").write_text((folder / "config.py").read_text() + once)
    unit = campaign_data["output"] / "ldmx_darkbrem_signal" / "r1" / "mA_0.5_run_1"
    unit.mkdir(parents=True)
    (unit / "FAULT_ONCE").write_text("")
    dag = load_dag(*DAG, None)
    for task in dag.tasks:
        task.retries, task.retry_delay, task.retry_exponential_backoff = 1, timedelta(0), False
    register_dag(dag)
    run = dag.test(run_conf=conf("r1", masses=[0.5], runs_per_mass=1))
    assert str(run.state) == "success"
    assert not (unit / "FAULT_ONCE").exists() and (unit / "tdb_1.root").is_file()
    assert _results(unit)["simulate"] == "ran"


def test_missing_apptainer_and_image_fail_the_first_task_saying_what_and_how(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """The demo's defaults without the stand-in images and without apptainer: validate_params fails
    at once, naming the field, the missing file and the commands; the DAG's page says the same."""
    from include.darkbrem.standin import checkout, sim_config_text

    data, output = roots
    (data / "ldmx_darkbrem_signal").mkdir()
    (data / "ldmx_darkbrem_signal" / "config.py").write_text(sim_config_text())
    monkeypatch.setenv("HEP_APPTAINER_BIN", str(data / "no" / "apptainer"))
    dag = load_dag(*DAG)
    run = dag.test()
    assert str(run.state) == "failed"
    states = task_states(run)
    assert states["validate_params"] == ["failed"] and states["plan"] == ["upstream_failed"]
    captured = capfd.readouterr()
    log = captured.out + captured.err  # the task log
    images = data / "ldmx_darkbrem_signal" / "images"
    assert f"AirflowFailException: parameter 'dbgen_image': image {images / 'dbgen-v4.sif'} does not exist" in log
    assert f"`python -m include.darkbrem.standin {images}`" in log
    assert f"HEP_APPTAINER_BIN={data / 'no' / 'apptainer'} is not an executable file" in log
    assert f"`{checkout()}/scripts/install-demo-tools.sh` as root" in log
    assert not (output / "ldmx_darkbrem_signal").exists()
    for text in ("scripts/install-demo-tools.sh", "python -m include.darkbrem.standin", "HEP_APPTAINER_BIN"):
        assert text in dag.doc_md


@pytest.mark.apptainer
def test_invalid_params_stop_before_any_unit(campaign_data: dict[str, Any]) -> None:
    output = campaign_data["output"]
    # the trigger form's schema cannot express "unique per mass"; validate_params refuses it
    assert _run(conf("bad", masses=[0.1], run_numbers=[1, 1])) == "failed"
    assert not (output / "ldmx_darkbrem_signal").exists()


@pytest.mark.apptainer
def test_v5_generator_and_container_extraction_agree_with_native(campaign_data: dict[str, Any]) -> None:
    """dbgen v5 contract (exec dark-brem-lib-gen, dashed options, A' 1023) and g4db-extract-library
    in the ldmx image: the container CSV equals the native extraction byte for byte."""
    from include.darkbrem import campaign, chain
    from include.darkbrem.extract import extract
    from include.settings import load_settings

    params = conf("v5", masses=[0.02], runs_per_mass=1, generator_version="5.2", extraction="container")
    params["dbgen_image"] = "ldmx_darkbrem_signal/images/dbgen-v5.sif"
    unit = campaign.plan(campaign.validate(params, load_settings()))[0]
    assert (unit["aprime_id"], unit["max_energy"]) == (1023, 8.0)
    states = [chain.run_step(unit, step)["state"] for step in ("generate", "extract", "simulate")]
    assert states == ["ran", "ran", "ran"]
    workdir = Path(unit["workdir"])
    container_csv = workdir / f"{unit['library_name']}.csv.gz"
    native = extract(workdir / unit["library_name"], workdir.parent / "native.csv", aprime_id=1023)
    assert gzip.decompress(container_csv.read_bytes()) == Path(native.output).read_bytes()
    assert native.rows == unit["expected_events"] == ENERGIES * NEVENTS
    assert json.loads((workdir / f"{container_csv.name}.manifest.json").read_text())["tools"]["extractor"] == (
        "g4db-extract-library (container)"
    )
    # the v5 library read with the v4 A' id gives no event: the container's header-only CSV is refused
    unit_622 = {**unit, "aprime_id": 622}
    with pytest.raises(Exception, match="no event for A' id 622"):
        chain.run_step(unit_622, "extract")
    assert container_csv.is_file()  # the previous product is left as it was


@pytest.mark.condor
@pytest.mark.apptainer
@pytest.mark.slow
def test_campaign_condor_backend(campaign_data: dict[str, Any]) -> None:
    reason = pool_unavailable()
    if reason:
        pytest.skip(f"HTCondor pool not reachable: {reason} (docker/condor/start-pool.sh)")
    output, images = campaign_data["output"], campaign_data["images"]
    assert _run(conf("c2", backend="condor")) == "success"
    summary = check_campaign(output, "c2", images, "condor")
    assert summary["totals"]["ok"] == 6 and summary["totals"]["sim_events"] == 6 * SIM_EVENTS
    assert not list((output / "ldmx_darkbrem_signal" / "c2").rglob(".condor-*"))
    before = {k: _mtimes(u) for k, u in _units(output, "c2").items()}
    assert _run(conf("c2", backend="condor")) == "success"
    assert all(set(_results(u).values()) == {"fresh"} for u in _units(output, "c2").values())
    assert {k: _mtimes(u) for k, u in _units(output, "c2").items()} == before
