"""The ``apptainer`` backend: include functions run by ``python -m include.core.runcall`` in a container.

The image is ``python_sif`` (busybox + this host's Python libraries); the interpreter and venv
are bound in read-only (``host_python=True``) and the ``include`` source is bound from this
checkout.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from include.core.backends import TaskCall, run_call
from include.core.errors import ParamError, StepError
from include.core.fingerprint import hash_object, sha256_file

pytestmark = pytest.mark.apptainer

OBJ = {"run": 42, "files": ["a.root", "b.root"], "cuts": {"pt": 25.5}, "note": "; rm -rf / $(id)"}


@pytest.fixture
def roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    data, output = tmp_path / "data", tmp_path / "output"
    data.mkdir()
    output.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(output))
    return data, output


def test_hash_object_in_container_equals_local(
    python_sif: Path, roots: tuple[Path, Path], timings: dict[str, float]
) -> None:
    call = TaskCall("include.core.fingerprint:hash_object", {"obj": OBJ})
    started = time.monotonic()
    result = run_call(call, backend="apptainer", image=str(python_sif), host_python=True)
    timings["jobcall hash_object in container"] = time.monotonic() - started
    assert result == hash_object(OBJ) == run_call(call)


def test_reads_the_data_root_and_writes_the_output_root(python_sif: Path, roots: tuple[Path, Path]) -> None:
    data, output = roots
    (data / "events.csv").write_text("run,events\n1,100\n")
    digest = run_call(
        TaskCall("include.core.fingerprint:sha256_file", {"path": str(data / "events.csv")}),
        backend="apptainer",
        image=str(python_sif),
        host_python=True,
    )
    assert digest == sha256_file(data / "events.csv")
    target = output / "probe.txt"
    info = run_call(
        TaskCall("include.apptainer.jobcall:probe", {"write_to": str(target)}),
        backend="apptainer",
        image=str(python_sif),
        host_python=True,
    )
    assert info["container"] == str(python_sif)
    assert info["data_root"] == str(data) and info["output_root"] == str(output)
    assert target.read_text() == f"written by probe in {python_sif}\n"


def test_data_root_is_read_only(python_sif: Path, roots: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = roots
    call = TaskCall("include.core.atomic:write_text", {"final": str(data / "x.txt"), "text": "no"})
    with pytest.raises(StepError, match="Read-only file system"):
        run_call(call, backend="apptainer", image=str(python_sif), host_python=True, workdir=tmp_path)
    assert not (data / "x.txt").exists()


def test_exception_inside_is_reported(python_sif: Path, roots: tuple[Path, Path], tmp_path: Path) -> None:
    call = TaskCall("include.core.fingerprint:sha256_file", {"path": "/no/such/file"})
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    with pytest.raises(StepError) as info:
        run_call(call, backend="apptainer", image=str(python_sif), host_python=True, workdir=jobs)
    message = str(info.value)
    assert "raised FileNotFoundError" in message
    assert "Traceback" in message and "exited with code 3" in message
    kept = list(jobs.iterdir())
    assert len(kept) == 1 and (kept[0] / "result.json").is_file()


def test_image_without_python_fails_with_output_tail(
    busybox_sif: Path, roots: tuple[Path, Path], tmp_path: Path
) -> None:
    call = TaskCall("include.core.fingerprint:hash_object", {"obj": 1})
    with pytest.raises(StepError, match="produced no result") as info:
        run_call(call, backend="apptainer", image=str(busybox_sif), workdir=tmp_path)
    assert "python3" in str(info.value) and "exited with code" in str(info.value)


def test_successful_job_dir_is_removed(python_sif: Path, roots: tuple[Path, Path], tmp_path: Path) -> None:
    call = TaskCall("include.core.fingerprint:hash_object", {"obj": [1, 2]})
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    run_call(call, backend="apptainer", image=str(python_sif), host_python=True, workdir=jobs)
    assert list(jobs.iterdir()) == []


def test_image_is_required() -> None:
    with pytest.raises(ParamError, match="image"):
        run_call(TaskCall("include.core.fingerprint:hash_object", {"obj": 1}), backend="apptainer")
