"""Fixtures for the apptainer tests: a container runtime, locally built images, a DAG runner.

Images are built once per session from sandbox directories into a temporary directory:

* ``busybox_sif``: a static busybox (this host's ``busybox``; ``apt-get install busybox-static``,
  else the one inside the HTCondor pool root).
* ``python_sif``: busybox plus the shared libraries of this host's Python. The interpreter and
  the venv are bound in read-only at run time (:func:`include.apptainer.images.host_python_binds`).

The runtime is apptainer or singularity on PATH, else the pool's host wrapper
``$CONDOR_POOL_DIR/bin/apptainer`` (run ``docker/condor/setup-pool.sh``). Without any, the
tests that need one are skipped with that reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from include.apptainer import images
from include.apptainer.command import find_apptainer
from include.core.errors import ConfigError

POOL_DIR = Path(os.environ.get("CONDOR_POOL_DIR", "/var/lib/hep-productions/condor-pool"))
TIMINGS: dict[str, float] = {}
_OWN_AIRFLOW_HOME: Path | None = None


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow at a throw-away home (the top-level conftest, if any, overrides it later)."""
    global _OWN_AIRFLOW_HOME
    _OWN_AIRFLOW_HOME = Path(tempfile.mkdtemp(prefix="hep-apptainer-airflow-"))
    os.environ["AIRFLOW_HOME"] = str(_OWN_AIRFLOW_HOME)
    os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _OWN_AIRFLOW_HOME is not None:
        shutil.rmtree(_OWN_AIRFLOW_HOME, ignore_errors=True)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if TIMINGS:
        terminalreporter.section("apptainer timings")
        for label, seconds in TIMINGS.items():
            terminalreporter.write_line(f"{label}: {seconds:.2f} s")


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """The metadata DB of this session: migrated here unless the top-level conftest did it."""
    home = Path(os.environ["AIRFLOW_HOME"])
    if home == _OWN_AIRFLOW_HOME and not (home / ".migrated").exists():
        airflow = Path(sys.executable).with_name("airflow")
        started = time.monotonic()
        subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
        TIMINGS["airflow db migrate"] = time.monotonic() - started
        (home / ".migrated").touch()
    return home


def _find_runtime() -> str | None:
    try:
        return find_apptainer()
    except ConfigError:
        pass
    wrapper = POOL_DIR / "bin" / "apptainer"
    if wrapper.is_file() and os.access(wrapper, os.X_OK):
        return str(wrapper)
    return None


@pytest.fixture(scope="session")
def apptainer_bin() -> Iterator[str]:
    """A working apptainer/singularity, exported as HEP_APPTAINER_BIN for the session."""
    runtime = _find_runtime()
    if runtime is None:
        pytest.skip(
            f"no apptainer or singularity on PATH and no pool wrapper at {POOL_DIR}/bin/apptainer "
            "(run docker/condor/setup-pool.sh)"
        )
    probe = subprocess.run([runtime, "--version"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"{runtime} --version failed: {probe.stderr.strip()}")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEP_APPTAINER_BIN", runtime)
        yield runtime


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("apptainer-images")


@pytest.fixture(scope="session")
def busybox() -> str:
    found = images.find_busybox()
    if found is None:
        pytest.skip("no busybox binary (apt-get install busybox-static)")
    return found


def _build(label: str, sandbox: Path, image: Path, runtime: str) -> Path:
    started = time.monotonic()
    images.build_image(sandbox, image, executable=runtime)
    TIMINGS[f"build {label} ({image.stat().st_size / 1e6:.1f} MB)"] = time.monotonic() - started
    return image


@pytest.fixture(scope="session")
def busybox_sif(apptainer_bin: str, image_dir: Path, busybox: str) -> Path:
    """A busybox SIF built from a local sandbox."""
    sandbox = images.make_busybox_sandbox(image_dir / "busybox.sandbox", busybox)
    return _build("busybox.sif", sandbox, image_dir / "busybox.sif", apptainer_bin)


@pytest.fixture(scope="session")
def python_sif(apptainer_bin: str, image_dir: Path, busybox: str) -> Path:
    """A SIF that runs this host's Python when its prefixes are bound in."""
    started = time.monotonic()
    sandbox = images.make_python_runtime_sandbox(image_dir / "python.sandbox", busybox)
    TIMINGS["python runtime sandbox (ldd + copy)"] = time.monotonic() - started
    return _build("python-runtime.sif", sandbox, image_dir / "python-runtime.sif", apptainer_bin)


def _processes_containing(token: str) -> list[tuple[int, str]]:
    """(pid, cmdline) of every live process whose command line contains ``token``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\x00", b" ").decode(errors="replace")
            state = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if token in cmdline and state not in ("Z", "X"):
            found.append((int(entry), cmdline))
    return found


def _run_dag(dag: object) -> object:
    """Serialize a DAG built inside a test into the metadata DB, then ``dag.test()`` it.

    In 3.3 ``dag.test()`` only finds DAGs of a configured bundle; a DAG defined in a test
    module is written to the DB first, under the ``dags-folder`` bundle.
    """
    from dag_support import register_dag

    return register_dag(dag).test()


@pytest.fixture(scope="session")
def timings() -> dict[str, float]:
    """Measured durations, printed in the terminal summary."""
    return TIMINGS


@pytest.fixture(scope="session")
def processes_containing() -> Callable[[str], list[tuple[int, str]]]:
    """``f(token)``: (pid, cmdline) of live processes whose command line contains ``token``."""
    return _processes_containing


@pytest.fixture(scope="session")
def run_dag(airflow_db: Path) -> Callable[[object], object]:
    """``f(dag)``: run a DAG built in the test through ``dag.test()``; returns the DagRun."""
    return _run_dag
