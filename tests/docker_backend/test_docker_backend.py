"""DockerOperator arguments for the runcall entry point (no Docker engine: nothing is executed)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from airflow.providers.docker.operators.docker import DockerOperator
from airflow.sdk import DAG
from docker.types import Mount

from include.core.backends import TaskCall
from include.core.errors import ParamError, StepError
from include.core.fingerprint import hash_object
from include.core.runcall import main as runcall_main
from include.docker_backend import (
    IMAGE_WORKDIR,
    PROJECT_IMAGE,
    read_result,
    runcall_docker_kwargs,
    write_call,
)
from include.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings({}, data_root=tmp_path / "data", output_root=tmp_path / "output")


def operator(**kwargs: object) -> DockerOperator:
    with DAG("docker_backend_test", schedule=None, start_date=dt.datetime(2026, 1, 1)) as dag:
        op = DockerOperator(task_id="unit", **kwargs)
    assert dag.get_task("unit") is op
    return op


def test_operator_fields(settings: Settings, tmp_path: Path) -> None:
    job = tmp_path / "jobs" / "run-1"
    op = operator(**runcall_docker_kwargs(job, settings=settings, environment={"HEP_SEED": "7"}))
    assert op.image == PROJECT_IMAGE
    assert op.command == ["python", "-m", "include.core.runcall", f"{job}/call.json", f"{job}/result.json"]
    assert op.auto_remove == "success"
    assert op.mount_tmp_dir is False
    assert op.working_dir == IMAGE_WORKDIR
    assert op.environment == {
        "HEP_DATA_ROOT": str(settings.data_root),
        "HEP_OUTPUT_ROOT": str(settings.output_root),
        "HEP_SEED": "7",
    }
    assert all(isinstance(m, Mount) for m in op.mounts)
    mounts = {(m["Source"], m["Target"], m["Type"], m["ReadOnly"]) for m in op.mounts}
    assert mounts == {
        (str(settings.data_root), str(settings.data_root), "bind", True),
        (str(settings.output_root), str(settings.output_root), "bind", False),
        (str(job), str(job), "bind", False),
    }
    assert "command" in op.template_fields and "mounts" in op.template_fields


def test_job_dir_inside_output_root_is_not_mounted_twice(settings: Settings) -> None:
    job = settings.output_root / ".jobs" / "a"
    kwargs = runcall_docker_kwargs(job, settings=settings)
    assert [m["Target"] for m in kwargs["mounts"]] == [str(settings.data_root), str(settings.output_root)]


def test_overrides_and_options(settings: Settings, tmp_path: Path) -> None:
    extra = Mount(target="/cvmfs", source="/cvmfs", type="bind", read_only=True)
    op = operator(
        **runcall_docker_kwargs(
            tmp_path / "job",
            settings=settings,
            image="registry.example.org/hep/prod:1.2",
            extra_mounts=[extra],
            python="/opt/venv/bin/python",
            user="1000:1000",
            docker_url="tcp://docker.example.org:2376",
            auto_remove="force",
            mem_limit="2g",
        )
    )
    assert op.image == "registry.example.org/hep/prod:1.2"
    assert op.command[0] == "/opt/venv/bin/python"
    assert op.user == "1000:1000"
    assert op.docker_url == "tcp://docker.example.org:2376"
    assert op.auto_remove == "force"
    assert op.mem_limit == "2g"
    assert op.mounts[-1] is extra


def test_arguments_are_an_argv_list_even_with_odd_paths(settings: Settings, tmp_path: Path) -> None:
    job = tmp_path / "job; rm -rf ~ $(id)"
    kwargs = runcall_docker_kwargs(job, settings=settings)
    assert kwargs["command"][-2:] == [f"{job}/call.json", f"{job}/result.json"]
    assert isinstance(kwargs["command"], list)


@pytest.mark.parametrize(
    ("job_dir", "options", "match"),
    [
        ("relative/job", {}, "job_dir"),
        ("/out/../etc", {}, "job_dir"),
        ("/jobs/a", {"environment": {"BAD NAME": "x"}}, "environment"),
        ("/jobs/a", {"image": "-v /:/host"}, "image"),
        ("/jobs/a", {"image": ""}, "image"),
    ],
)
def test_invalid_arguments(settings: Settings, job_dir: str, options: dict, match: str) -> None:
    with pytest.raises(ParamError, match=match):
        runcall_docker_kwargs(job_dir, settings=settings, **options)


def test_call_and_result_files_round_trip(tmp_path: Path) -> None:
    """What the container would do, run here: write_call -> runcall -> read_result."""
    job = tmp_path / "job"
    call = TaskCall("include.core.fingerprint:hash_object", {"obj": {"a": 1}})
    call_file = write_call(call, job)
    assert json.loads(call_file.read_text())["function"] == "include.core.fingerprint:hash_object"
    assert runcall_main([str(call_file), str(job / "result.json")]) == 0
    assert read_result(job) == hash_object({"a": 1})


def test_read_result_errors(tmp_path: Path) -> None:
    with pytest.raises(StepError, match="no readable result"):
        read_result(tmp_path)
    (tmp_path / "result.json").write_text(json.dumps({"ok": False, "error": "ValueError: bad", "traceback": "tb"}))
    with pytest.raises(StepError, match="ValueError: bad"):
        read_result(tmp_path)
