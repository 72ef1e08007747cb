"""Command builders (dbgen v4/v5, g4db-extract-library, fire) and the generator's naming rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.apptainer.command import Bind
from include.core.errors import ParamError
from include.darkbrem import commands as cmd
from include.darkbrem.library import Version, energy_grid, expected_events, lhe_file_names, library_name


@pytest.fixture
def fake_apptainer(tmp_path: Path) -> str:
    exe = tmp_path / "bin" / "apptainer"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    return str(exe)


@pytest.fixture
def dirs(tmp_path: Path) -> dict[str, Path]:
    out = {name: tmp_path / name for name in ("out", "scratch", "base")}
    for path in out.values():
        path.mkdir()
    (tmp_path / "image.sif").write_bytes(b"sif")
    out["image"] = tmp_path / "image.sif"
    return out


def test_dbgen_v4_uses_the_entrypoint_and_fixed_mounts(fake_apptainer: str, dirs: dict[str, Path]) -> None:
    argv = cmd.dbgen_command(
        str(dirs["image"]),
        Version.parse("4.6"),
        out_dir=dirs["out"],
        scratch_dir=dirs["scratch"],
        executable=fake_apptainer,
        run=3000,
        nevents=20000,
        apmass_gev=0.01,
        targets=["tungsten", "silicon"],
        max_energy=4.0,
    )
    image = argv.index(str(dirs["image"]))
    assert argv[:5] == [fake_apptainer, "run", "--no-home", "--cleanenv", "--no-eval"]
    assert argv[5:9] == ["--bind", f"{dirs['out']}:/output:rw", "--bind", f"{dirs['scratch']}:/working:rw"]
    assert argv[image + 1 :] == [
        "--run", "3000", "--nevents", "20000", "--max_energy", "4.0", "--apmass", "0.01",
        "--target", "tungsten", "silicon", "--lepton", "electron",
    ]  # fmt: skip


def test_dbgen_v5_1_uses_the_dashed_command(fake_apptainer: str, dirs: dict[str, Path]) -> None:
    argv = cmd.dbgen_command(
        str(dirs["image"]),
        Version.parse("v5.2.0"),
        out_dir=dirs["out"],
        scratch_dir=dirs["scratch"],
        executable=fake_apptainer,
        run=1,
        nevents=100,
        apmass_gev=1,
        targets=["tungsten"],
        max_energy=8.0,
        min_energy=4.0,
        rel_step=0.1,
    )
    assert argv[1] == "exec"
    tail = argv[argv.index(str(dirs["image"])) + 1 :]
    assert tail == [
        "dark-brem-lib-gen", "--out-dir", str(dirs["out"]), "--scratch", str(dirs["scratch"]),
        "--run", "1", "--nevents", "100", "--max-energy", "8.0", "--min-energy", "4.0", "--rel-step", "0.1",
        "--apmass", "1.0", "--target", "tungsten", "--lepton", "electron",
    ]  # fmt: skip
    assert f"{dirs['out']}:{dirs['out']}:rw" in argv


def test_dbgen_version_rules() -> None:
    v44, v50 = Version.parse("4.4"), Version.parse("5.0")
    assert not v50.dashed_cli and Version.parse("5.1").dashed_cli
    assert (Version.parse("4.6").aprime_id, v50.aprime_id) == (622, 1023)
    assert (Version.parse("4.0").default_max_energy, v50.default_max_energy) == (4.0, 8.0)
    with pytest.raises(ParamError, match=r"several targets need dbgen >= v4\.5"):
        cmd.dbgen_arguments(v44, run=1, nevents=10, apmass_gev=0.1, targets=["tungsten", "lead"])
    with pytest.raises(ParamError, match=r"'oxygen' needs dbgen >= v4\.5"):
        cmd.dbgen_arguments(v44, run=1, nevents=10, apmass_gev=0.1, targets=["oxygen"])
    with pytest.raises(ParamError, match="--pack is broken"):
        cmd.dbgen_arguments(Version.parse("5.2"), run=1, nevents=10, apmass_gev=0.1, targets=["lead"], pack=True)
    with pytest.raises(ParamError, match="MG4 limit"):
        cmd.dbgen_arguments(v50, run=1, nevents=100_000, apmass_gev=0.1, targets=["lead"])
    with pytest.raises(ParamError, match="apmass"):
        cmd.dbgen_arguments(v50, run=1, nevents=10, apmass_gev=-0.1, targets=["lead"])
    for bad in ("3.9", "6.0", "latest", "v4"):
        with pytest.raises(ParamError, match="not a known dbgen version"):
            Version.parse(bad)


def test_library_names_grid_and_files() -> None:
    assert energy_grid(4.0) == [4.0, 3.6, 3.24, 2.916, 2.624, 2.362, 2.126, 1.913]
    assert energy_grid(8.0, 4.0) == [8.0, 7.2, 6.48, 5.832, 5.249, 4.724, 4.252, 3.827]
    assert (len(energy_grid(4.0, 0.2)), energy_grid(4.0, 0.2)[-1]) == (30, 0.189)
    assert (len(energy_grid(100.0, 10.0)), energy_grid(100.0, 10.0)[-1]) == (23, 9.847)
    name = library_name(apmass_gev=0.1, run=2000, targets=["tungsten", "silicon", "copper", "oxygen"])
    assert name == "electron_tungstensiliconcopperoxygen_MaxE_4.0_MinE_2.0_RelEStep_0.1_UndecayedAP_mA_0.1_run_2000"
    assert library_name(apmass_gev=1e-5, run=1, targets=["tungsten"]).endswith("_mA_1e-05_run_1")
    assert library_name(apmass_gev=1, run=1, targets=["tungsten"]).endswith("_mA_1.0_run_1")
    real = library_name(apmass_gev=0.01, run=1, targets=["tungsten"], max_energy=8.0)
    files = lhe_file_names(real, ["tungsten"], [3.827], Version.parse("5.2"))
    assert files == [f"{real}_tungsten_IncidentEnergy_3.827_unweighted_events.lhe"]
    assert lhe_file_names("L", ["tungsten"], [4.0], Version.parse("4.4")) == [
        "L_IncidentEnergy_4.0_unweighted_events.lhe"
    ]
    assert expected_events(2, 8, 20000) == 320000


def test_extract_command_follows_the_entrypoint_contract(fake_apptainer: str, dirs: dict[str, Path]) -> None:
    base = dirs["base"]
    argv = cmd.extract_command(str(dirs["image"]), base, f"{base}/lib", aprime_id=1023, executable=fake_apptainer)
    assert argv[1:5] == ["run", "--no-home", "--cleanenv", "--no-eval"]
    assert argv[argv.index("--env") + 1] == f"LDMX_BASE={base}"
    assert f"{base}:{base}:rw" in argv
    tail = argv[argv.index(str(dirs["image"])) + 1 :]
    assert tail == [str(base), "g4db-extract-library", f"{base}/lib", "--aprime-id", "1023"]


def test_fire_command(fake_apptainer: str, dirs: dict[str, Path]) -> None:
    base = dirs["base"]
    extra = [Bind(str(dirs["out"]), str(dirs["out"]), "ro")]
    argv = cmd.fire_command(
        str(dirs["image"]),
        base,
        config="config.py",
        library="lib.csv.gz",
        run=7,
        nevents=100,
        apmass_mev=10.0,
        out_dir="sim",
        aprime_lhe_id=1023,
        extra_binds=extra,
        executable=fake_apptainer,
    )
    tail = argv[argv.index(str(dirs["image"])) + 1 :]
    assert tail == [
        str(base), "fire", "config.py", "--run", "7", "--nevents", "100", "--apmass", "10",
        "--library", "lib.csv.gz", "--out-dir", "sim", "--aprime-lhe-id", "1023",
    ]  # fmt: skip
    assert f"{dirs['out']}:{dirs['out']}:ro" in argv
    common = dict(config="config.py", run=1, nevents=1, apmass_mev=1.0, executable=fake_apptainer)
    with pytest.raises(ParamError, match="fire would take for the config"):
        cmd.fire_command(str(dirs["image"]), base, library="my.py.csv.gz", out_dir="sim", **common)
    with pytest.raises(ParamError, match="metacharacter"):
        cmd.fire_command(str(dirs["image"]), base, library="lib;rm -rf x", out_dir="sim", **common)
    with pytest.raises(ParamError, match="space"):
        cmd.fire_command(str(dirs["image"]), base, library="my lib.csv.gz", out_dir="sim", **common)


def test_entrypoint_eval_safety(fake_apptainer: str, dirs: dict[str, Path], tmp_path: Path) -> None:
    spaced = tmp_path / "with space"
    spaced.mkdir()
    with pytest.raises(ParamError, match="ldmx_base"):
        cmd.extract_command(str(dirs["image"]), spaced, "lib", aprime_id=622, executable=fake_apptainer)
    for bad in ("$(id)", "`id`", "a;b", "a|b", "a&&b", "a>b"):
        with pytest.raises(ParamError):
            cmd.eval_safe(bad, "x")
    assert cmd.eval_safe("/tmp/a-b_c.d/e+f=1", "x") == "/tmp/a-b_c.d/e+f=1"
