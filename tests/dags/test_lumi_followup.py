"""End-to-end run of the lumi_followup DAG on generated fills (dag.test, local backend)."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pandas as pd
import pytest
from dag_support import assert_refused_at_once, form_conf, load_dag, pool_unavailable, task_states

REPO = Path(__file__).resolve().parents[2]
FILLS = [6140, 6141]
OVERRIDES = {"plotDpi": 20, "doSBModel": True, "doSBModelPlots": True}


STEPS = (
    "sb", "cycle", "cycle_model", "lumi", "massi", "lifetime", "fits", "model",
    "plots_cycle", "plots_sb", "plots_meas", "plots_model",
)  # fmt: skip
PLOTS_PER_FILL = 9 + 6 + 9 + 5  # SB performance, cycle (+ cycle model), measured, SB model (1 case, 2 models)


def _report(output: Path, fill: int) -> dict:
    return json.loads((output / "lumi_followup" / f"fill_{fill}" / "report.json").read_text())


def _products(output: Path) -> dict[str, str]:
    """sha256 of every product, manifest and plot of every fill (not the per-run report.json)."""
    return {
        str(p.relative_to(output)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((output / "lumi_followup").glob("fill_*/**/*"))
        if p.is_file() and p.name not in ("report.json", ".lock")
    }


def _asset_events(pattern: str) -> list[tuple[str, dict]]:
    """(asset name, extra) of every asset event whose asset name is LIKE ``pattern``."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetModel.name, AssetEvent.extra).join(AssetEvent, AssetEvent.asset_id == AssetModel.id)
        return [(name, extra) for name, extra in session.execute(query.where(AssetModel.name.like(pattern)))]


def _assert_complete(output: Path, fill: int) -> None:
    """Every product, manifest and plot of a fully processed fill exists and is not empty."""
    work = output / "lumi_followup" / f"fill_{fill}"
    for name in ("sb", "sb_fits", "cycle", "cycle_model", "cycle_model_Inj2SB", "lumi_calc", "lumi_meas",
                 "lifetime", "fits", "sbmodel_case1"):  # fmt: skip
        assert (work / f"fill_{fill}_{name}.parquet").stat().st_size > 0, name
    for step in STEPS:
        manifest = json.loads((work / f"{step}.manifest.json").read_text())
        assert manifest["production"] == "lumi_followup" and manifest["unit"] == f"fill_{fill}"
        assert manifest["outputs"] and all(o["sha256"] and o["size"] > 0 for o in manifest["outputs"])
    plots = sorted((work / "plots").glob("*.png"))
    assert len(plots) == PLOTS_PER_FILL and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in plots)


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.lumi.demo import DemoOptions, generate

    data = tmp_path_factory.mktemp("lumi-data")
    generate(
        data / "lumi",
        11,
        fills=tuple(FILLS),
        options=DemoOptions(n_bunches=48, bsrt_period=20.0, bsrt_period_cycle=5.0, trailing_fill=False),
    )
    return data


@pytest.mark.slow
def test_dag_end_to_end(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    output = tmp_path / "output"
    output.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(generated))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(output))
    dag = load_dag("lumi_followup.py", "lumi_followup")
    conf = {"fills": FILLS, "force": "none", "backend": "local", "year": 2017, "config_overrides": OVERRIDES}

    # empty fill list: every selected fill of the beam-mode table newer than the last successful run
    run = dag.test(run_conf={**conf, "fills": []})
    assert run.state == "success"
    states = task_states(run)
    assert {f"fill.{step}" for step in STEPS} | {"fill.publish"} <= set(states)
    assert all(states[f"fill.{step}"] == ["success"] * len(FILLS) for step in STEPS)  # one task per step and fill
    for fill in FILLS:
        report = _report(output, fill)
        assert report["ok"] and not report["skip_massi"]
        assert set(report["ran"]) == set(STEPS)
        _assert_complete(output, fill)
        work = output / "lumi_followup" / f"fill_{fill}"
        massi_inputs = json.loads((work / "massi.manifest.json").read_text())["inputs"]
        assert sorted(Path(i["path"]).name for i in massi_inputs) == [f"{fill}.tgz", f"{fill}.tgz"]
        sb = json.loads((work / f"fill_{fill}_sb.json").read_text())["summary"]
        assert 1.5 < sb["emit_h_start_um"] < 2.6 and 1.3 < sb["emit_v_start_um"] < 2.6
        assert 1.0e11 < sb["intensity_start"] < 1.3e11
        assert 0.95 < sb["bl_4sigma_start_ns"] < 1.25
        assert 10 < sb["intensity_lifetime_start_h"]["1"] < 60
        meas = json.loads((work / f"fill_{fill}_lumi_meas.json").read_text())
        calc = json.loads((work / f"fill_{fill}_lumi_calc.json").read_text())
        # per-bunch peak 0.6-1e31 cm^-2 s^-1 (spec §7.3); calculated agrees with measured within 5 %
        assert 0.5e31 < meas["peak_bunch_ATLAS_cm2s"] < 1.1e31
        assert abs(calc["peak_total_ATLAS_cm2s"] / meas["peak_total_ATLAS_cm2s"] - 1) < 0.05
        fits = json.loads((work / f"fill_{fill}_fits.json").read_text())["median"]
        assert -30 * 3600 < fits["ATLAS/tau_lumi_meas_coll_full"] < -5 * 3600
        losses = pd.read_parquet(work / f"fill_{fill}_lifetime.parquet")["losses_dndtL_bbb"]
        assert 60 < losses.median() * 1e31 < 160  # effective cross-section in mb
    first_products = _products(output)
    events = _asset_events("lumi_followup_fill_%")
    assert sorted(e[0] for e in events) == [f"lumi_followup_fill_{f}" for f in FILLS]
    assert sorted(e[1]["fill"] for e in events) == FILLS
    (summary_dir,) = (output / "lumi_followup" / "runs").iterdir()
    table = pd.read_parquet(summary_dir / "summary.parquet")
    assert table["fill"].tolist() == FILLS and table["ok"].all()
    assert (summary_dir / "overview.png").stat().st_size > 0

    # 6141 is the ongoing (last) fill of the beam-mode table: it stays "new" until a later fill starts
    state = json.loads((output / "lumi_followup" / "state" / "last_processed_2017.json").read_text())
    assert state["fill"] == FILLS[0]
    nothing_new = dag.test(run_conf={**conf, "fills": []})
    assert nothing_new.state == "success"
    runs = sorted((output / "lumi_followup" / "runs").iterdir(), key=lambda p: p.stat().st_mtime)
    assert json.loads((runs[-1] / "summary.json").read_text())["fills"] == [FILLS[1]]
    assert _report(output, FILLS[1])["ran"] == []  # looked at again, nothing changed

    again = dag.test(run_conf={**conf, "split": 2})  # both fills in one task group: a second run of the day
    assert again.state == "success"
    assert all(states == ["success"] for task, states in task_states(again).items() if task.startswith("fill."))
    for fill in FILLS:
        report = _report(output, fill)
        assert report["ran"] == []
        assert {s["state"] for s in report["steps"]} == {"fresh"}
    assert _products(output) == first_products  # nothing rewritten: every file byte-identical

    forced = dag.test(run_conf={**conf, "fills": [FILLS[0]], "force": "lumi"})
    assert forced.state == "success"
    assert set(_report(output, FILLS[0])["ran"]) == {"lumi", "fits", "model", "plots_sb", "plots_meas", "plots_model"}
    changed = {k for k, v in _products(output).items() if first_products.get(k) != v}
    kept = ("sb", "cycle", "cycle_model", "massi", "lifetime", "plots_cycle")
    assert not [k for k in changed if Path(k).name.split(".")[0] in kept]  # their manifests are untouched
    assert not [
        k
        for k in changed
        if re.fullmatch(r"fill_\d+_(sb|sb_fits|cycle\w*|lumi_meas|lifetime)\.(parquet|json)", Path(k).name)
    ]
    assert _report(output, FILLS[1])["ran"] == []  # untouched by the forced run
    backups = list((output / "lumi_followup" / f"fill_{FILLS[0]}").glob(f"fill_{FILLS[0]}_fits_2*.parquet"))
    assert backups, "fits re-ran, its previous product must be kept with a date suffix"


def test_form_matches_step_graph_and_refuses_bad_input(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from include.lumi.tasks import GRAPH

    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(tmp_path))
    dag = load_dag("lumi_followup.py", "lumi_followup")
    assert dag.params.get_param("force").schema["enum"] == GRAPH.force_choices
    assert dag.params.get_param("backend").schema["enum"] == ["local", "condor", "apptainer"]
    run = dag.test(run_conf={"fills": [6140], "config_overrides": {"t_step_sec": -1}})
    assert run.state == "failed"
    assert not (tmp_path / "lumi_followup").exists()  # refused before any fill was touched


def test_form_defaults_mean_new_fills_and_no_overrides() -> None:
    from include.core.forms import DEFAULT_MEMORY_MB
    from include.lumi.planning import validate_form

    conf = form_conf(load_dag("lumi_followup.py", "lumi_followup", None))
    assert (conf["fills"], conf["config_overrides"]) == (None, None)
    expected = {"fills": [], "split": 0, "force": "none", "backend": "local", "require_massi": True}
    condor = {"hold_policy": {"action": "wait", "on_memory": "fail"}, "request_memory_mb": DEFAULT_MEMORY_MB}
    assert validate_form(conf) == {**expected, "config": {"year": 2017}, **condor}
    assert validate_form({**conf, "fills": [], "config_overrides": {}}) == validate_form(conf)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("config_overrides", {"doSBPlots": "no"}, "key 'doSBPlots' must be a boolean, got 'no'"),
        ("config_overrides", {"plotDpi": True}, "key 'plotDpi' must be an integer, got True"),
        ("config_overrides", {"models": "IBSLosses"}, "key 'models' must be a list of strings, got 'IBSLosses'"),
        ("config_overrides", {"noSuchKey": 1}, "unknown key 'noSuchKey' (value 1)"),
        ("config_overrides", {"year": 2016}, "key 'year' cannot be overridden"),
        ("config_overrides", {"t_step_sec": -1}, "key 't_step_sec': must be a positive number, got -1"),
        ("config_overrides", {"data_folder": "../../etc"}, "key 'data_folder' ('../../etc'):"),
        ("config_overrides", {"massi_afs_path": "m/$(id)/"}, "key 'massi_afs_path': 'm/$(id)/' contains"),
        ("fills", [6140, 6140], "fill numbers repeat: [6140]"),
    ],
)
def test_form_problems_name_the_field_and_the_value(field: str, value, message: str) -> None:
    from include.core.errors import ParamError
    from include.lumi.planning import validate_form

    conf = {**form_conf(load_dag("lumi_followup.py", "lumi_followup", None)), field: value}
    with pytest.raises(ParamError) as caught:
        validate_form(conf)
    assert caught.value.param == field and message in str(caught.value)


def test_invalid_overrides_fail_the_first_task_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd) -> None:
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(tmp_path))
    dag = load_dag("lumi_followup.py", "lumi_followup", retries=None)  # the DAG's own retries
    conf = {"fills": [6140], "config_overrides": {"doSBModel": "x; rm -rf /", "noSuchKey": 1}}
    message = "key 'doSBModel' must be a boolean, got 'x; rm -rf /'; unknown key 'noSuchKey' (value 1)"
    states = assert_refused_at_once(dag, conf, "config_overrides", message, capfd)
    assert states["plan"] == ["upstream_failed"] and states["summary"] == ["upstream_failed"]
    assert not (tmp_path / "lumi_followup").exists()


@pytest.fixture
def three_fills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """Data root with fills 6140, 6141, 6142 and an empty output root."""
    from include.lumi.demo import DemoOptions, generate

    data, output = tmp_path / "data", tmp_path / "output"
    generate(data / "lumi", 12, fills=(6140, 6141, 6142), options=DemoOptions(n_bunches=24, bsrt_period=20.0))
    output.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(output))
    return data, output


@pytest.mark.slow
def test_bad_fill_fails_alone_naming_the_file(three_fills: tuple[Path, Path]) -> None:
    data, output = three_fills
    bbb = data / "lumi" / "fill_bunchbybunch_data_csvs" / "bunchbybunch_data_fill_6140.csv"
    text = bbb.read_text().splitlines()
    bbb.write_text("\n".join([*text[:40], "LHC.BCTFR.A6R4.B1:BUNCH_INTENSITY", "garbage,row,1e11,", *text[40:60]]))
    archive = data / "lumi" / "massi" / "2017" / "measurements" / "CMS" / "lumi" / "6141.tgz"
    archive.unlink()
    dag = load_dag("lumi_followup.py", "lumi_followup")
    conf = {"fills": [6140, 6141, 6142], "backend": "local", "config_overrides": {"plotDpi": 20}}

    run = dag.test(run_conf=conf)
    assert run.state == "failed"
    states = task_states(run)  # map index i = fill 6140, 6141, 6142
    assert states["fill.sb"] == ["failed", "success", "success"]
    assert states["fill.lumi"] == ["upstream_failed", "success", "success"]
    assert states["fill.cycle"][1:] == ["success", "success"]
    assert states["fill.massi"] == ["upstream_failed", "failed", "success"]
    assert states["fill.fits"] == ["upstream_failed", "upstream_failed", "success"]
    assert states["fill.publish"] == ["upstream_failed", "upstream_failed", "success"]
    assert states["summary"] == ["failed"]  # written, then failed: the run is red
    assert _map_labels(run, "fill.sb") == ["fill 6140", "fill 6141", "fill 6142"]  # what the grid shows
    (folder,) = (output / "lumi_followup" / "runs").iterdir()
    failed = json.loads((folder / "summary.json").read_text())["failed"]
    assert sorted(failed) == ["6140", "6141"]
    assert f"sb: InputFileError: {bbb}: corrupt or truncated: " in failed["6140"]
    assert f"Massi archive missing: {archive}" in failed["6141"]
    _assert_fill_has(output, 6142, ("sb", "lumi_calc", "lumi_meas", "lifetime", "fits"))
    _assert_fill_has(output, 6141, ("sb", "lumi_calc"))  # what does not need the archive is done
    assert not (output / "lumi_followup" / "fill_6141" / "fill_6141_lumi_meas.parquet").exists()
    state = output / "lumi_followup" / "state" / "last_processed_2017.json"
    assert not state.exists()  # a failed run does not move the "new fills" marker

    # without require_massi the missing archive is an explicit skip, not a failure
    lenient = dag.test(run_conf={**conf, "fills": [6141], "require_massi": False})
    assert lenient.state == "success"
    states = task_states(lenient)
    assert states["fill.massi"] == ["skipped"] and states["fill.fits"] == ["skipped"]
    assert states["fill.publish"] == ["success"]
    report = json.loads((output / "lumi_followup" / "fill_6141" / "report.json").read_text())
    assert report["skip_massi"] and report["missing_massi"] == [str(archive)]


def _map_labels(run, task_id: str) -> list[str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        tis = [ti for ti in run.get_task_instances(session=session) if ti.task_id == task_id]
        return [ti.rendered_map_index for ti in sorted(tis, key=lambda ti: ti.map_index)]


def _assert_fill_has(output: Path, fill: int, names: tuple[str, ...]) -> None:
    for name in names:
        assert (output / "lumi_followup" / f"fill_{fill}" / f"fill_{fill}_{name}.parquet").stat().st_size > 0


@pytest.mark.condor
@pytest.mark.slow
def test_dag_on_the_condor_pool_with_split(generated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reason = pool_unavailable()
    if reason:
        pytest.skip(f"HTCondor pool: {reason}")
    output = tmp_path / "output"
    output.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(generated))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(output))
    dag = load_dag("lumi_followup.py", "lumi_followup")
    conf = {"fills": FILLS, "backend": "condor", "split": 2, "year": 2017, "config_overrides": OVERRIDES}
    run = dag.test(run_conf=conf)
    assert run.state == "success"
    states = task_states(run)
    assert all(states[f"fill.{step}"] == ["success"] for step in STEPS)  # one chunk: one job per step
    for fill in FILLS:
        report = _report(output, fill)
        assert report["ok"] and set(report["ran"]) == set(STEPS)
        _assert_complete(output, fill)
        manifest = json.loads((output / "lumi_followup" / f"fill_{fill}" / "sb.manifest.json").read_text())
        assert manifest["backend"] == "condor"
