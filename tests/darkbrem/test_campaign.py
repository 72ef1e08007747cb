"""Campaign parameters: every bad value is refused before anything runs; the plan of units."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from include.core.errors import ConfigError, ParamError
from include.core.fingerprint import sha256_file
from include.darkbrem import campaign as cp
from include.darkbrem import standin
from include.settings import load_settings


@pytest.fixture
def setup(roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    data, output = roots
    apptainer = tmp_path / "bin" / "apptainer"  # validation only checks that the runtime is there
    apptainer.parent.mkdir()
    apptainer.write_text("#!/bin/sh\n")
    apptainer.chmod(0o755)
    monkeypatch.setenv("HEP_APPTAINER_BIN", str(apptainer))
    folder = data / "ldmx_darkbrem_signal"
    (folder / "images").mkdir(parents=True)
    (folder / "images" / "dbgen-v4.sif").write_bytes(b"dbgen image")
    (folder / "images" / "ldmx-pro.sif").write_bytes(b"ldmx image")
    (folder / "config.py").write_text("# config\n")
    return {"settings": load_settings(), "data": data, "output": output}


def validate(setup: dict[str, Any], **params: Any) -> dict[str, Any]:
    return cp.validate(params, setup["settings"])


def test_defaults_validate_and_plan(setup: dict[str, Any]) -> None:
    campaign = validate(setup, masses=[0.01, 0.1, 1.0], runs_per_mass=2, nevents=100)
    units = cp.plan(campaign)
    assert [(u["mass_gev"], u["run"]) for u in units] == [(m, r) for m in (0.01, 0.1, 1.0) for r in (1, 2)]
    assert [u["mass_mev"] for u in units[::2]] == [10.0, 100.0, 1000.0]
    first = units[0]
    assert first["key"] == "mA_0.01_run_1"
    assert first["workdir"] == str(setup["output"] / "ldmx_darkbrem_signal" / "signal" / "mA_0.01_run_1")
    assert first["aprime_id"] == 622 and first["generator_version"] == "v4.6.0"
    assert first["expected_events"] == 8 * 100 and len(first["lhe_files"]) == 8
    assert first["library_name"] == "electron_tungsten_MaxE_4.0_MinE_2.0_RelEStep_0.1_UndecayedAP_mA_0.01_run_1"
    assert first["dbgen_image_sha256"] == sha256_file(first["dbgen_image"])
    assert first["ldmx_image_sha256"] == sha256_file(first["ldmx_image"])


def test_explicit_run_numbers(setup: dict[str, Any]) -> None:
    units = cp.plan(validate(setup, masses=[0.1, 0.2], run_numbers=[[5, 9], [7]]))
    assert [(u["mass_gev"], u["run"]) for u in units] == [(0.1, 5), (0.1, 9), (0.2, 7)]
    units = cp.plan(validate(setup, masses=[0.1, 0.2], run_numbers=[3, 4]))
    assert [(u["mass_gev"], u["run"]) for u in units] == [(0.1, 3), (0.1, 4), (0.2, 3), (0.2, 4)]


def test_v5_generator_uses_1023_and_8_gev(setup: dict[str, Any]) -> None:
    unit = cp.plan(validate(setup, masses=[0.01], runs_per_mass=1, generator_version="5.2"))[0]
    assert (unit["aprime_id"], unit["max_energy"]) == (1023, 8.0)
    assert unit["lhe_files"][-1].endswith("_tungsten_IncidentEnergy_3.827_unweighted_events.lhe")


@pytest.mark.parametrize(
    ("params", "param", "message"),
    [
        ({"masses": [-0.1]}, "masses", "must be > 0"),
        ({"masses": [0.0]}, "masses", "must be > 0"),
        ({"masses": []}, "masses", "non-empty"),
        ({"masses": [0.1, 0.1]}, "masses", "twice"),
        ({"masses": ["0.1"]}, "masses", "not a number"),
        ({"masses": [0.1], "masses_mev": [0.1]}, "masses_mev", "does not match the generator mass 0.1 GeV"),
        ({"run_numbers": [1, 2, 1]}, "run_numbers", "run 1 appears twice"),
        ({"masses": [0.1, 0.2], "run_numbers": [[1], [2, 2]]}, "run_numbers", "run 2 appears twice"),
        ({"masses": [0.1, 0.2], "run_numbers": [[1]]}, "run_numbers", "1 lists of runs for 2 masses"),
        ({"run_numbers": [-1]}, "run_numbers", "integer"),
        ({"runs_per_mass": 0}, "runs_per_mass", "integer"),
        ({"runs_per_mass": 2000}, "runs_per_mass", "integer 1..1024"),
        ({"dbgen_image": "ldmx_darkbrem_signal/images/missing.sif"}, "dbgen_image", "does not exist"),
        ({"ldmx_image": "/etc/passwd"}, "ldmx_image", "outside the allowed roots"),
        ({"ldmx_image": "images/x.sif;rm -rf /"}, "ldmx_image", "metacharacter"),
        ({"output_root": "/etc"}, "output_root", "outside the allowed roots"),
        ({"output_root": "../../.."}, "output_root", "outside the allowed roots"),
        ({"sim_config": "/etc/hostname"}, "sim_config", "outside the allowed roots"),
        ({"sim_config": "ldmx_darkbrem_signal/nope.py"}, "sim_config", "does not exist"),
        ({"campaign": "a b"}, "campaign", "metacharacter|plain name"),
        ({"campaign": "$(id)"}, "campaign", "metacharacter"),
        ({"targets": ["tungsten", "gold"]}, "targets", "not one of"),
        ({"generator_version": "4.4", "targets": ["tungsten", "lead"]}, "targets", "several targets"),
        ({"generator_version": "7.0"}, "generator_version", "not a known dbgen version"),
        ({"backend": "kubernetes"}, "backend", "not one of"),
        ({"extraction": "magic"}, "extraction", "not one of"),
        ({"csv_format": "v3"}, "csv_format", "not one of"),
        ({"nevents": 100_000}, "nevents", "integer 1..99999"),
        ({"force": "everything"}, "force", "not one of"),
        ({"colour": "red"}, "colour", "unknown parameter"),
    ],
)
def test_invalid_params_are_refused(setup: dict[str, Any], params: dict, param: str, message: str) -> None:
    with pytest.raises(ParamError, match=message) as info:
        validate(setup, **params)
    assert info.value.param == param


def test_mass_units_agree(setup: dict[str, Any]) -> None:
    campaign = validate(setup, masses=[0.001, 0.1, 1.5], masses_mev=[1, 100, 1500])
    assert campaign["masses_mev"] == [1.0, 100.0, 1500.0]
    assert cp.mass_to_mev(0.1) == 100.0 and cp.mass_to_mev(0.0123) == 12.3


def test_output_root_inside_the_allowed_root(setup: dict[str, Any]) -> None:
    campaign = validate(setup, output_root="campaigns")
    assert campaign["output_root"] == str(setup["output"] / "campaigns")
    assert cp.campaign_dir(campaign) == setup["output"] / "campaigns" / "ldmx_darkbrem_signal" / "signal"


def test_cli_plan(setup: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    from include.darkbrem.__main__ import main

    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps({"masses": [0.2], "run_numbers": [4, 8]}))
    bad.write_text(json.dumps({"masses": [0.2], "run_numbers": [4, 4]}))
    assert main(["plan", str(good)]) == 0
    assert [u["key"] for u in json.loads(capsys.readouterr().out)] == ["mA_0.2_run_4", "mA_0.2_run_8"]
    assert main(["plan", str(bad)]) == 2
    assert "run 4 appears twice" in capsys.readouterr().err


def test_unpacked_image_directory_is_named_not_hashed(setup: dict[str, Any]) -> None:
    unpacked = setup["data"] / "ldmx_darkbrem_signal" / "images" / "pro-unpacked"
    (unpacked / "usr").mkdir(parents=True)
    unit = cp.plan(validate(setup, masses=[0.1], runs_per_mass=1, ldmx_image=str(unpacked)))[0]
    assert unit["ldmx_image_sha256"] == f"directory image, not hashed: {unpacked}"


def test_a_missing_stand_in_image_names_the_field_and_the_command(
    setup: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    images = setup["data"] / "ldmx_darkbrem_signal" / "images"
    (images / "dbgen-v4.sif").unlink()
    with pytest.raises(ParamError) as info:
        validate(setup)
    assert info.value.param == "dbgen_image"
    assert f"image {images / 'dbgen-v4.sif'} does not exist; build the stand-in images with " in str(info.value)
    assert f"`python -m include.darkbrem.standin {images}`" in str(info.value)
    assert "missing too" not in str(info.value)
    # without apptainer either, the message says that too, and how to get it
    monkeypatch.setenv("HEP_APPTAINER_BIN", "/nowhere/apptainer")
    with pytest.raises(ParamError) as info:
        cp.validate({}, load_settings())
    assert info.value.param == "dbgen_image"
    assert "that needs apptainer, which is missing too: HEP_APPTAINER_BIN=/nowhere/apptainer is not an executable" in (
        str(info.value)
    )
    assert f"`{standin.checkout()}/scripts/install-demo-tools.sh` as root" in str(info.value)


def test_missing_apptainer_stops_a_local_campaign_naming_the_setting_and_the_command(
    setup: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEP_APPTAINER_BIN", str(tmp_path / "no" / "apptainer"))
    with pytest.raises(ConfigError) as info:
        cp.validate({}, load_settings())
    message = str(info.value)
    assert message.startswith("backend local runs the containers in this worker: HEP_APPTAINER_BIN=")
    assert f"`{standin.checkout()}/scripts/install-demo-tools.sh` as root" in message
    assert "HEP_APPTAINER_BIN to it" in message and str(standin.demo_apptainer()) in message
    monkeypatch.delenv("HEP_APPTAINER_BIN")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="no apptainer: HEP_APPTAINER_BIN is empty and neither apptainer nor"):
        cp.validate({}, load_settings())
    # on condor the execute node runs the containers: the worker needs none
    assert cp.validate({"backend": "condor"}, load_settings())["backend"] == "condor"
