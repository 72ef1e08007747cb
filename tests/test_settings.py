"""Settings: defaults, precedence, validation, and the README documents every one."""

from __future__ import annotations

from pathlib import Path

import pytest

from include.core.errors import ConfigError
from include.settings import SETTINGS, load_settings

REPO = Path(__file__).resolve().parents[1]


def test_defaults_derive_from_home(tmp_path: Path) -> None:
    s = load_settings({"HEP_HOME": str(tmp_path)})
    assert s.data_root == tmp_path / "data" and s.output_root == tmp_path / "output"
    assert s.default_backend == "local" and s.condor_collector == ""


def test_environment_and_overrides(tmp_path: Path) -> None:
    env = {"HEP_DATA_ROOT": str(tmp_path / "d"), "HEP_DEFAULT_BACKEND": "condor", "HEP_CONDOR_COLLECTOR": "cm:9618"}
    s = load_settings(env, output_root=tmp_path / "o")
    assert s.data_root == tmp_path / "d" and s.output_root == tmp_path / "o"
    assert s.default_backend == "condor" and s.condor_collector == "cm:9618"
    assert s.production_output("egamma_tnp") == tmp_path / "o" / "egamma_tnp"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"HEP_DEFAULT_BACKEND": "slurm"}, "HEP_DEFAULT_BACKEND='slurm' is not one of"),
        ({"HEP_CONDOR_COLLECTOR": "cm:port"}, "port must be a number"),
    ],
)
def test_invalid_settings_are_named(tmp_path: Path, env: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({"HEP_HOME": str(tmp_path), **env})


def test_root_that_is_a_file_is_refused(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_settings({"HEP_DATA_ROOT": str(f), "HEP_HOME": str(tmp_path)})


def test_apptainer_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "singularity"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert load_settings({"HEP_HOME": str(tmp_path)}).resolved_apptainer() == str(fake)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(ConfigError, match="neither apptainer nor singularity"):
        load_settings({"HEP_HOME": str(tmp_path)}).resolved_apptainer()


def test_readme_documents_every_setting() -> None:
    readme = (REPO / "README.md").read_text()
    for setting in SETTINGS:
        assert f"`{setting.name}`" in readme, f"README configuration table lacks {setting.name}"


def test_job_environment_carries_resolved_roots(tmp_path: Path) -> None:
    from include.settings import job_environment

    env = job_environment(
        {
            "HEP_HOME": str(tmp_path),
            "HEP_FILLDB_URL": "postgresql://db/fills",
            "HEP_APPTAINER_BIN": "/host/only/apptainer",
            "PATH": "/bin",
        }
    )
    assert env == {
        "HEP_HOME": str(tmp_path),
        "HEP_FILLDB_URL": "postgresql://db/fills",
        "HEP_DATA_ROOT": str(tmp_path / "data"),
        "HEP_OUTPUT_ROOT": str(tmp_path / "output"),
    }
