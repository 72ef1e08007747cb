"""scripts/env.sh and scripts/install-demo-tools.sh: the HTCondor pool, apptainer and the Mu2e dbTool
a local run uses are explicit settings; an installed pool is never attached silently."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
UNSET = ("CONDOR_CONFIG", "HEP_CONDOR_POOL_DIR", "HEP_APPTAINER_BIN", "HEP_MU2E_DBTOOL", "HEP_DATA_ROOT", "HEP_HOME")
SHOWN = ("CONDOR_CONFIG", "HEP_APPTAINER_BIN", "HEP_MU2E_DBTOOL", "PATH")
SHOW = "source scripts/env.sh; " + " ".join(f'echo "${{{name}-unset}}";' for name in SHOWN)


def _pool(folder: Path) -> Path:
    """A folder laid out like a pool that docker/condor/setup-pool.sh built."""
    (folder / "client").mkdir(parents=True)
    (folder / "client" / "condor_config").write_text("COLLECTOR_HOST = 127.0.0.1:9618\n")
    (folder / "bin").mkdir()
    return folder


def _source(tmp_path: Path, **env: str) -> tuple[dict[str, str], str]:
    base = {k: v for k, v in os.environ.items() if k not in UNSET}
    base.update(HEP_HOME=str(tmp_path / "hep"), PATH="/usr/bin:/bin")  # CI's PATH may hold a pool's bin/
    proc = subprocess.run(
        ["bash", "-c", SHOW], cwd=REPO, env={**base, **env}, capture_output=True, text=True, check=True
    )
    return dict(zip(SHOWN, proc.stdout.splitlines(), strict=True)), proc.stderr


def test_an_installed_pool_is_not_attached_without_an_explicit_setting(tmp_path: Path) -> None:
    pool = _pool(tmp_path / "pool")
    # the system-wide pool may be installed here too (/var/lib/hep-productions/condor-pool); the old
    # block also followed CONDOR_POOL_DIR
    shown, _ = _source(tmp_path, CONDOR_POOL_DIR=str(pool))
    assert shown["CONDOR_CONFIG"] == "unset"
    assert str(pool / "bin") not in shown["PATH"].split(":")
    assert "/var/lib/hep-productions/condor-pool/bin" not in shown["PATH"].split(":")


def test_the_pool_is_chosen_with_hep_condor_pool_dir_or_condor_config(tmp_path: Path) -> None:
    pool = _pool(tmp_path / "pool")
    shown, _ = _source(tmp_path, HEP_CONDOR_POOL_DIR=str(pool))
    assert shown["CONDOR_CONFIG"] == str(pool / "client" / "condor_config")
    assert shown["PATH"].split(":")[0] == str(pool / "bin")
    shown, _ = _source(tmp_path, CONDOR_CONFIG="/etc/condor/site_config")
    assert shown["CONDOR_CONFIG"] == "/etc/condor/site_config"
    shown, err = _source(tmp_path, HEP_CONDOR_POOL_DIR=str(tmp_path / "nothing"))
    assert shown["CONDOR_CONFIG"] == "unset"
    assert f"HEP_CONDOR_POOL_DIR={tmp_path / 'nothing'} has no client/condor_config" in err


def test_demo_tools_are_named_explicitly(tmp_path: Path) -> None:
    shown, _ = _source(tmp_path, REPO=str(tmp_path / "checkout"))
    assert shown["HEP_APPTAINER_BIN"] == "unset"  # no apptainer in that checkout: PATH decides
    assert shown["HEP_MU2E_DBTOOL"] == str(tmp_path / "hep" / "data" / "mu2e" / "demo-dbtool" / "dbTool")
    wrapper = tmp_path / "checkout" / ".local" / "condor-pool" / "bin" / "apptainer"
    wrapper.parent.mkdir(parents=True)
    wrapper.write_text("#!/bin/sh\n")
    wrapper.chmod(0o755)
    shown, _ = _source(tmp_path, REPO=str(tmp_path / "checkout"))
    assert shown["HEP_APPTAINER_BIN"] == str(wrapper)
    shown, _ = _source(tmp_path, REPO=str(tmp_path / "checkout"), HEP_APPTAINER_BIN="/opt/apptainer/bin/apptainer")
    assert shown["HEP_APPTAINER_BIN"] == "/opt/apptainer/bin/apptainer"
    shown, _ = _source(tmp_path, HEP_MU2E_DBTOOL="dbTool")
    assert shown["HEP_MU2E_DBTOOL"] == "dbTool"


def test_install_demo_tools_says_in_one_line_why_it_cannot(tmp_path: Path) -> None:
    fake_id = tmp_path / "bin" / "id"  # as if run by an ordinary user
    fake_id.parent.mkdir()
    fake_id.write_text("#!/bin/sh\necho 1000\n")
    fake_id.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake_id.parent}:{os.environ['PATH']}"}
    proc = subprocess.run(["scripts/install-demo-tools.sh"], cwd=REPO, env=env, capture_output=True, text=True)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"[demo-tools] not root: apptainer not set up in {REPO}/.local/condor-pool (ldmx_darkbrem_signal will say "
        f"what is missing; run {REPO}/scripts/install-demo-tools.sh as root)"
    ]
