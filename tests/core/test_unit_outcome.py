"""One verdict for every backend: the structured result of a call and the task state it becomes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowException, AirflowFailException, AirflowSkipException

from include.core.backends import TaskCall
from include.core.errors import ConfigError, InputFileError, ParamError, StepError, is_permanent
from include.core.outcome import FAILED, SKIPPED, SUCCESS, CallOutcome, from_result
from include.core.runcall import structured_call
from include.core.unit_operator import raise_for, read_result

BAD_NAME = TaskCall("include.core.paths:safe_name", {"value": "a;b", "param": "tag"})


@pytest.mark.parametrize(
    ("error", "permanent"),
    [
        (ParamError("fills", "repeat"), True),
        (InputFileError("/x.csv", "corrupt"), True),
        (ConfigError("bad"), True),
        (StepError("job killed"), False),
        (OSError("schedd unreachable"), False),
        (RuntimeError("bug"), False),
    ],
)
def test_permanence_is_decided_in_one_place(error: Exception, permanent: bool) -> None:
    assert is_permanent(error) is permanent


def test_structured_result_keeps_type_message_and_permanence() -> None:
    result = structured_call(BAD_NAME)
    assert result["ok"] is False and result["permanent"] is True
    assert result["error_type"] == "ParamError" and "parameter 'tag'" in result["message"]
    assert result["error"].startswith("ParamError: parameter 'tag'") and "Traceback" in result["traceback"]
    ok = structured_call(TaskCall("include.core.paths:safe_name", {"value": "abc", "param": "tag"}))
    assert ok == {"ok": True, "result": "abc"}


def test_job_entry_point_writes_the_same_structured_result(tmp_path: Path) -> None:
    (tmp_path / "call.json").write_text(BAD_NAME.to_json())
    code = subprocess.run(
        [sys.executable, "-m", "include.core.runcall", "call.json", "result.0.json"], cwd=tmp_path, check=False
    ).returncode
    written = read_result(tmp_path, 0)
    assert code == 3 and written is not None
    assert {k: written[k] for k in ("ok", "error_type", "permanent")} == {
        "ok": False,
        "error_type": "ParamError",
        "permanent": True,
    }
    assert written["message"] == structured_call(BAD_NAME)["message"]
    assert read_result(tmp_path, 1) is None  # no result: the operator retries the job
    (tmp_path / "result.1.json").write_text(json.dumps({"half": "written"}))
    assert read_result(tmp_path, 1) is None


def test_outcome_becomes_the_task_state() -> None:
    assert raise_for(CallOutcome(SUCCESS, value=[1, 2])) == [1, 2]
    with pytest.raises(AirflowSkipException, match="no Massi"):
        raise_for(CallOutcome(SKIPPED, "no Massi"))
    with pytest.raises(AirflowFailException, match="corrupt"):
        raise_for(CallOutcome(FAILED, "/x.csv: corrupt", permanent=True))
    with pytest.raises(AirflowException) as caught:
        raise_for(CallOutcome(FAILED, "job killed"))
    assert not isinstance(caught.value, AirflowFailException)  # retried with the DAG's backoff
    assert from_result(structured_call(BAD_NAME)).permanent is True
    with pytest.raises(ValueError, match="state"):
        CallOutcome("done")
