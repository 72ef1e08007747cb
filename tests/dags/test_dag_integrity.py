"""DAG integrity: every file in dags/ parses fast and cleanly and every DAG is documented.

In the spirit of the Astro CLI's DAG integrity test, adapted to Airflow 3.3 (``DagBag`` has no
``include_examples`` argument any more; examples are off through the environment).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
KNOWN_DAG_IDS = {
    "lumi_followup",
    "lumi_reprocess",
    "massi_watch",
    "ldmx_darkbrem_signal",
    "mu2e_ensemble",
    "mu2e_conditions",
    "ecal_windows_dataset",
    "egamma_tnp",
}
HEAVY_MODULES = ["uproot", "awkward", "pandas", "matplotlib", "scipy", "pyarrow", "htcondor2", "hist", "mplhep"]
PARSE_BUDGET_S = 1.0
"""CPU seconds to parse one DAG file once the modules all files share are imported: the file's own
top-level work. CPU time of this thread, not wall-clock time, so a loaded machine does not count."""


def test_there_are_dag_files() -> None:
    assert DAG_FILES, "dags/ holds no DAG file"


@pytest.fixture(scope="module")
def dagbags() -> dict[str, object]:
    from airflow.models import DagBag

    bags = {}
    for path in DAG_FILES:
        gc.collect()  # garbage of earlier tests (an unclosed file's ResourceWarning) is not this file's warning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            bag = DagBag(dag_folder=str(path))
        with warnings.catch_warnings():  # parsed again, timed: the shared imports are loaded now
            warnings.simplefilter("ignore")
            t0 = time.thread_time()
            DagBag(dag_folder=str(path))
            seconds = time.thread_time() - t0
        bags[path.name] = (bag, seconds, [str(w.message) for w in caught])
    return bags


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_file_imports_without_error_or_warning(dagbags, path: Path) -> None:
    bag, _, caught = dagbags[path.name]
    assert not bag.import_errors, bag.import_errors
    captured = getattr(bag, "captured_warnings", {})
    assert not captured, captured
    assert not caught, caught
    assert bag.dags, f"{path.name} defines no DAG"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_file_parses_within_budget(dagbags, path: Path) -> None:
    _, seconds, _ = dagbags[path.name]
    print(f"parse {path.name}: {seconds * 1000:.0f} ms CPU")
    assert seconds < PARSE_BUDGET_S


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_dags_are_documented_and_retried(dagbags, path: Path) -> None:
    bag, _, _ = dagbags[path.name]
    for dag_id, dag in bag.dags.items():
        assert dag_id in KNOWN_DAG_IDS, f"unexpected DAG id {dag_id}"
        assert dag.owner and dag.owner != "airflow", f"{dag_id}: set an owner"
        assert dag.tags, f"{dag_id}: no tags"
        assert dag.doc_md and len(dag.doc_md) > 80, f"{dag_id}: doc_md missing or too short"
        for task in dag.tasks:
            if task.task_id == "validate_params":  # a refused form fails at once: nothing to retry
                assert task.retries == 0, f"{dag_id}.validate_params: retried"
            else:
                assert task.retries >= 1, f"{dag_id}.{task.task_id}: no retries"
        for name, param in dag.params.items():
            assert param.description, f"{dag_id}: param {name!r} has no description"


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_deferred_units_are_not_capped(dagbags, path: Path) -> None:
    """A run's worker slots are capped by the DAG's max_active_tasks, which deferred tasks do not
    count; no task caps itself with max_active_tis_per_dagrun, which counts them: hundreds of units
    of one run can wait on HTCondor jobs at once."""
    from include.core.dagkit import RUN_SLOTS

    bag, _, _ = dagbags[path.name]
    for dag_id, dag in bag.dags.items():
        assert dag.max_active_tasks <= 2 * RUN_SLOTS, f"{dag_id}: max_active_tasks {dag.max_active_tasks}"
        capped = {t.task_id: t.max_active_tis_per_dagrun for t in dag.tasks if t.max_active_tis_per_dagrun}
        assert capped == {}, f"{dag_id}: {capped}"


def test_no_heavy_import_or_io_at_top_level(tmp_path: Path) -> None:
    """Import every DAG file in a fresh interpreter: no heavy module and no file written."""
    data, output = tmp_path / "data", tmp_path / "output"
    data.mkdir()
    output.mkdir()
    probe = (
        "import importlib.util, json, sys\n"
        "before = set(sys.modules)\n"
        "for i, p in enumerate(sys.argv[1:]):\n"
        "    spec = importlib.util.spec_from_file_location(f'dagfile{i}', p)\n"
        "    spec.loader.exec_module(importlib.util.module_from_spec(spec))\n"
        f"heavy = {HEAVY_MODULES!r}\n"
        "print(json.dumps(sorted(m for m in heavy if m in sys.modules and m not in before)))\n"
    )
    env = {**os.environ, "HEP_DATA_ROOT": str(data), "HEP_OUTPUT_ROOT": str(output)}
    proc = subprocess.run(
        [sys.executable, "-c", probe, *map(str, DAG_FILES)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == []
    assert list(data.iterdir()) == [] and list(output.iterdir()) == []
