"""Groups on the ``condor`` backend (the personal pool) give the same bytes as on the worker."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from include.core.backends import TaskCall, run_call
from include.ecal_windows import pipeline
from include.ecal_windows.generator import generate_dataset

pytestmark = pytest.mark.condor

_spec = importlib.util.spec_from_file_location(
    "condor_fixtures", Path(__file__).resolve().parents[1] / "condor" / "conftest.py"
)
_condor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_condor)
pool = _condor.pool  # the shared fixture: skips with the reason when no pool answers


JOB_TIMEOUT_S = 900
"""Bounds a hang only: on a loaded machine the pool may take minutes to match and run a job."""


def _group_call(conf: dict, group: dict, backend: str) -> TaskCall:
    kwargs = {"params": conf, "job": group["job"], "files": group["files"], "roots": pipeline.current_roots()}
    return TaskCall("include.ecal_windows.pipeline:run_group", {**kwargs, "backend": backend})


def test_condor_groups_match_local_groups(pool: str, roots: tuple[Path, Path]) -> None:
    data_root, output = roots
    generate_dataset(data_root / "ecal_windows" / "electrons", 3, 60, seed=4)
    results = {}
    for backend in ("local", "condor"):
        conf = {"files_per_group": 2, "overlap": True, "maxnocalow": 2, "output_dir": backend}
        groups = pipeline.list_inputs(conf)["groups"]
        options = {"timeout": JOB_TIMEOUT_S} if backend == "condor" else {}
        results[backend] = [run_call(_group_call(conf, g, backend), backend, **options) for g in groups]
        pipeline.finalize_dataset(conf)
    assert [r["job"] for r in results["condor"]] == [1, 2]
    assert all(s["state"] == "ran" for r in results["condor"] for s in r["steps"])
    root = output / "ecal_windows_dataset"
    for job in (1, 2):
        for name in (f"parquet/records_{job}.parquet", f"groups/{job:04d}/clusters_data_{job}.ndjson.gz"):
            assert (root / "condor" / name).read_bytes() == (root / "local" / name).read_bytes(), name
        manifest = json.loads((root / "condor" / "groups" / f"{job:04d}" / "windows.manifest.json").read_text())
        assert manifest["backend"] == "condor"
    finals = [json.loads((root / b / "finalize.json").read_text())["rows"] for b in ("local", "condor")]
    assert finals[0] == finals[1] > 0
    # a finished group is not run again, whichever backend asks
    again = run_call(
        _group_call(
            {"files_per_group": 2, "overlap": True, "maxnocalow": 2, "output_dir": "condor"},
            {"job": 1, "files": results["condor"][0]["files"]},
            "condor",
        ),
        "condor",
        timeout=JOB_TIMEOUT_S,
    )
    assert [s["state"] for s in again["steps"]] == ["fresh", "fresh"]
