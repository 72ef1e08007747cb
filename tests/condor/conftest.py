"""Fixtures for the HTCondor tests.

Tests marked ``condor`` need the personal pool (``docker/condor/start-pool.sh``). When
``CONDOR_CONFIG`` is unset, ``tests/conftest.py`` points it at the pool's client config (before
``htcondor2`` is imported). The ``pool`` fixture skips with the reason when no collector and
schedd answer.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from dag_support import pool_unavailable

DEFAULT_POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool"))

_POOL_STATE: dict[str, Any] = {}


@pytest.fixture(scope="session")
def pool() -> str:
    """The schedd name of a reachable pool; skips the test otherwise."""
    if "reason" not in _POOL_STATE:
        _POOL_STATE["reason"] = pool_unavailable(timeout=120)  # a loaded schedd may answer slowly
    if _POOL_STATE["reason"]:
        pytest.skip(f"HTCondor pool not reachable: {_POOL_STATE['reason']} (start docker/condor/start-pool.sh)")
    from include.condor.hook import HTCondorHook

    return HTCondorHook(None).schedd_name


@pytest.fixture
def workdir() -> Any:
    """A job working directory the pool can see (/tmp is shared with the pool's jobs)."""
    path = Path("/tmp") / f"hep-condor-test-{uuid.uuid4().hex[:10]}"
    path.mkdir(parents=True)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def hook(pool: str) -> Any:
    from include.condor.hook import HTCondorHook

    return HTCondorHook(None, backoff=(1.0, 2.0))


def pool_dir() -> Path:
    config = os.environ.get("CONDOR_CONFIG", "")
    return Path(config).parent.parent if config else DEFAULT_POOL_DIR


@pytest.fixture(scope="session")
def busybox_sif(pool: str) -> Any:
    """A tiny SIF built by the tests from a busybox sandbox with the pool's apptainer wrapper."""
    apptainer = pool_dir() / "bin" / "apptainer"
    busybox = shutil.which("busybox") or str(pool_dir() / "root" / "usr" / "bin" / "busybox")
    if not apptainer.exists() or not Path(busybox).exists():
        pytest.skip(f"no apptainer wrapper ({apptainer}) or busybox ({busybox}) to build a SIF")
    base = Path("/tmp") / f"hep-condor-sif-{uuid.uuid4().hex[:8]}"
    sandbox = base / "sandbox"
    for sub in ("bin", "tmp", "etc", "proc", "sys", "dev"):
        (sandbox / sub).mkdir(parents=True)
    shutil.copy2(busybox, sandbox / "bin" / "busybox")
    for applet in ("sh", "cat", "echo", "id", "env", "sleep", "true", "false", "tr", "wc"):
        (sandbox / "bin" / applet).symlink_to("busybox")
    sif = base / "busybox.sif"
    proc = subprocess.run(
        [str(apptainer), "-s", "build", str(sif), str(sandbox)], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0 or not sif.exists():
        pytest.fail(f"apptainer build failed ({proc.returncode}): {proc.stderr[-2000:]}")
    shutil.rmtree(sandbox, ignore_errors=True)
    yield sif
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def python_exe() -> str:
    """The interpreter jobs run (it imports the editable ``include``)."""
    return sys.executable
