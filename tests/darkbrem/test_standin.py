"""The stand-in image payloads (run here with this Python, without a container) and the demo inputs."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from include.darkbrem import demo, standin
from include.darkbrem.extract import extract_library
from include.darkbrem.library import Version, energy_grid, lhe_file_names, library_name

PAYLOAD = standin.source_dir()


def _run(script: Path, *args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Any:
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=120
    )


def test_dbgen_v5_standin_writes_the_real_layout(tmp_path: Path) -> None:
    env = {**os.environ, "STANDIN_DBGEN_VERSION": "5.2"}
    args = ["--out-dir", str(tmp_path / "out"), "--scratch", str(tmp_path / "scratch"), "--run", "3"]
    args += ["--nevents", "5", "--apmass", "0.1", "--target", "tungsten", "silicon"]
    proc = _run(PAYLOAD / "dbgen" / "dbgen_standin.py", *args, env=env)
    assert proc.returncode == 0, proc.stderr
    name = library_name(apmass_gev=0.1, run=3, targets=["tungsten", "silicon"], max_energy=8.0)
    files = lhe_file_names(name, ["tungsten", "silicon"], energy_grid(8.0), Version.parse("5.2"))
    assert sorted(p.name for p in (tmp_path / "out" / name).iterdir()) == sorted(files)
    assert list((tmp_path / "scratch").iterdir()) == []  # the scratch copy is removed on success
    out = extract_library(tmp_path / "out" / name, tmp_path / "lib.csv", 1023, expected_events=2 * 8 * 5)
    rows = out.read_text().splitlines()[1:]
    assert [r.split(",")[0] for r in rows] == ["14"] * 40 + ["74"] * 40  # Z from each file's Znuc line
    # the scratch copy refuses an existing destination, as the real dbgen does
    (tmp_path / "scratch" / name).mkdir()
    assert _run(PAYLOAD / "dbgen" / "dbgen_standin.py", *args, env=env).returncode != 0


def test_g4db_extract_standin_matches_the_real_output(shared_data: Path, tmp_path: Path) -> None:
    lib = shared_data / "ldmx" / "electron_tungsten_run_1_excerpt"
    out = tmp_path / "legacy.csv"
    proc = _run(PAYLOAD / "ldmx" / "g4db_extract_standin.py", str(lib), "-o", str(out), "--aprime-id", "1023")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (shared_data / "ldmx" / "expected_excerpt.csv").read_bytes()
    # legacy behaviour kept by the stand-in: default id 622 gives a header-only file and exit code 0
    assert _run(PAYLOAD / "ldmx" / "g4db_extract_standin.py", str(lib), "-o", str(out)).returncode == 0
    assert len(out.read_text().splitlines()) == 1


def test_fire_standin_runs_the_config_contract(shared_data: Path, tmp_path: Path) -> None:
    import uproot

    (tmp_path / "config.py").write_text(standin.sim_config_text())
    library = tmp_path / "lib.csv.gz"
    library.write_bytes(gzip.compress((shared_data / "ldmx" / "expected_excerpt.csv").read_bytes()))
    env = {**os.environ, "PYTHONPATH": str(PAYLOAD / "ldmx" / "python")}
    args = ["config.py", "--run", "4", "--nevents", "30", "--apmass", "10", "--library", library.name, "-o", "."]
    proc = _run(PAYLOAD / "ldmx" / "fire_standin.py", *args, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    with uproot.open(tmp_path / "tdb_4.root") as handle:
        arrays = handle["LDMX_Events"].arrays(["run", "incidentEnergy", "apMassMeV", "targetZ"], library="np")
    assert len(arrays["run"]) == 30 and set(arrays["run"]) == {4} and set(arrays["targetZ"]) == {74}
    assert set(arrays["incidentEnergy"]) == {4.252}  # smallest library energy >= the 4 GeV beam
    assert set(arrays["apMassMeV"]) == {10.0}
    (tmp_path / "empty.csv").write_text("target_Z,incident_energy\n")
    args[args.index(library.name)] = "empty.csv"
    proc = _run(PAYLOAD / "ldmx" / "fire_standin.py", *args, env=env, cwd=tmp_path)
    assert proc.returncode != 0 and "BadConf : Unable to find any library entries at 'empty.csv'" in proc.stderr


def test_sidecar_gives_the_extra_binds(tmp_path: Path) -> None:
    sif = tmp_path / "x.sif"
    sif.write_bytes(b"")
    assert standin.standin_binds(sif) == []
    Path(str(sif) + standin.SIDECAR).write_text(json.dumps({"binds": [str(tmp_path), "/does/not/exist"]}))
    binds = standin.standin_binds(sif)
    assert [(b.src, b.dst, b.mode) for b in binds] == [(str(tmp_path), str(tmp_path), "ro")]


def test_demo_without_a_container_runtime_explains(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("HEP_APPTAINER_BIN", raising=False)
    files = demo.generate(tmp_path / "ldmx_darkbrem_signal", 1)
    names = sorted(p.relative_to(tmp_path / "ldmx_darkbrem_signal").as_posix() for p in files)
    assert names == ["config.py", "images/README.txt"]
    images = tmp_path / "ldmx_darkbrem_signal" / "images"
    note = (images / "README.txt").read_text()
    assert "no apptainer: HEP_APPTAINER_BIN is empty and neither apptainer nor singularity is on PATH" in note
    assert f"{standin.checkout()}/scripts/install-demo-tools.sh` as root" in note
    assert f"`python -m include.darkbrem.standin {images}`" in note
    assert files[0].read_text() == standin.sim_config_text()
    # the images are still missing: the next `python -m include.demo` generates this production again
    assert demo.missing(tmp_path / "ldmx_darkbrem_signal") == [images / f"{n}.sif" for n in standin.IMAGE_NAMES]


def test_demo_is_generated_again_while_something_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from include import demo as registry

    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setenv("HEP_APPTAINER_BIN", str(tmp_path / "no" / "apptainer"))
    monkeypatch.setattr(registry, "GENERATORS", {"ldmx_darkbrem_signal": "include.darkbrem.demo:generate"})
    assert registry.generate(tmp_path)["ldmx_darkbrem_signal"]["skipped"] is False
    assert registry.generate(tmp_path)["ldmx_darkbrem_signal"]["skipped"] is False  # images still missing
    note = (tmp_path / "ldmx_darkbrem_signal" / "images" / "README.txt").read_text()
    assert f"HEP_APPTAINER_BIN={tmp_path / 'no' / 'apptainer'} is not an executable file" in note
    monkeypatch.setattr(demo, "missing", lambda target: [])  # as if the images were there
    assert registry.generate(tmp_path)["ldmx_darkbrem_signal"]["skipped"] is True
