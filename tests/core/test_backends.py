"""Task calls run the same way in-process and through the job entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from include.core.backends import TaskCall, call_local, run_call
from include.core.errors import ParamError

HASH = TaskCall("include.core.fingerprint:hash_object", {"obj": {"b": 2, "a": 1}})


def test_local_backend_returns_json_result() -> None:
    assert run_call(HASH, "local") == call_local(HASH)
    assert len(run_call(HASH)) == 64


@pytest.mark.parametrize(
    "function", ["os:system", "include.core.fingerprint", "include.x:y;rm", "subprocess:run", "include..a:b"]
)
def test_only_include_functions_can_be_called(function: str) -> None:
    with pytest.raises(ParamError, match="'function'"):
        TaskCall(function, {})


def test_unknown_backend_and_unserializable_kwargs() -> None:
    with pytest.raises(ParamError, match="'backend'"):
        run_call(HASH, "slurm")
    with pytest.raises(ParamError, match="'kwargs'"):
        TaskCall("include.core.fingerprint:hash_object", {"obj": object()})


def _runcall(tmp_path: Path, call_text: str) -> tuple[int, dict]:
    call, result = tmp_path / "call.json", tmp_path / "result.json"
    call.write_text(call_text)
    proc = subprocess.run(
        [sys.executable, "-m", "include.core.runcall", str(call), str(result)], capture_output=True, text=True
    )
    return proc.returncode, json.loads(result.read_text())


def test_job_entry_point_matches_local(tmp_path: Path) -> None:
    code, result = _runcall(tmp_path, HASH.to_json())
    assert code == 0 and result == {"ok": True, "result": call_local(HASH)}


def test_job_entry_point_reports_failures(tmp_path: Path) -> None:
    failing = TaskCall("include.core.paths:safe_name", {"value": "a;b", "param": "tag"})
    code, result = _runcall(tmp_path, failing.to_json())
    assert code == 3 and result["ok"] is False and "parameter 'tag'" in result["error"]
    code, result = _runcall(tmp_path, "{broken")
    assert code == 2 and result["ok"] is False and "cannot read call" in result["error"]
