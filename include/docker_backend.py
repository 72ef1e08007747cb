"""Docker alternative to the apptainer backend: run ``python -m include.core.runcall`` with DockerOperator.

Where a site has a Docker engine, a production can run a :class:`~include.core.backends.TaskCall`
in the project image (``docker/Dockerfile``, which installs ``include``) with the Docker
provider's ``DockerOperator``::

    job_dir = output_root / ".jobs" / run_key          # any absolute host path
    DockerOperator(task_id="unit", **runcall_docker_kwargs(job_dir))
    # at run time, before it: write_call(call, job_dir); after it: read_result(job_dir)

The data root (read-only), the output root and the job directory are bind-mounted at the same
paths as on the host and HEP_DATA_ROOT / HEP_OUTPUT_ROOT are set, so paths in the call's
arguments mean the same inside the container. Files are written as the container user
(``airflow``, uid 50000, in the project image) unless ``user`` is given.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from docker.types import Mount

from include.core import atomic
from include.core.backends import TaskCall
from include.core.errors import ParamError, StepError
from include.settings import Settings, load_settings

PROJECT_IMAGE = "hep-productions-airflow"
IMAGE_WORKDIR = "/opt/hep-productions"
CALL_FILE = "call.json"
RESULT_FILE = "result.json"

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _absolute(path: str | Path, param: str) -> str:
    text = str(path)
    if not text or "\x00" in text or not PurePosixPath(text).is_absolute() or ".." in PurePosixPath(text).parts:
        raise ParamError(param, f"{text!r} must be an absolute path without '..'")
    return str(PurePosixPath(text))


def _inside(path: str, folder: str) -> bool:
    return PurePosixPath(path) == PurePosixPath(folder) or PurePosixPath(path).is_relative_to(folder)


def runcall_docker_kwargs(
    job_dir: str | Path,
    *,
    image: str = PROJECT_IMAGE,
    settings: Settings | None = None,
    environment: Mapping[str, str] | None = None,
    extra_mounts: Iterable[Mount] = (),
    python: str = "python",
    working_dir: str = IMAGE_WORKDIR,
    user: str | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """Keyword arguments for ``DockerOperator`` that run the call stored in ``job_dir``.

    ``overrides`` (for example ``docker_url``, ``cpus``, ``mem_limit``, ``network_mode``) are
    passed through unchanged and win over the defaults.
    """
    settings = settings or load_settings()
    job = _absolute(job_dir, "job_dir")
    data_root = _absolute(settings.data_root, "HEP_DATA_ROOT")
    output_root = _absolute(settings.output_root, "HEP_OUTPUT_ROOT")
    if not image or image.startswith("-") or any(ch.isspace() for ch in image):
        raise ParamError("image", f"{image!r} is not an image reference")
    env = {"HEP_DATA_ROOT": data_root, "HEP_OUTPUT_ROOT": output_root}
    for key, value in (environment or {}).items():
        if not _ENV_NAME.match(key):
            raise ParamError("environment", f"{key!r} is not a valid environment variable name")
        env[key] = str(value)

    mounts = [
        Mount(target=data_root, source=data_root, type="bind", read_only=True),
        Mount(target=output_root, source=output_root, type="bind", read_only=False),
    ]
    if not _inside(job, output_root):
        mounts.append(Mount(target=job, source=job, type="bind", read_only=False))
    mounts += list(extra_mounts)

    kwargs: dict[str, Any] = {
        "image": image,
        "command": [python, "-m", "include.core.runcall", f"{job}/{CALL_FILE}", f"{job}/{RESULT_FILE}"],
        "mounts": mounts,
        "environment": env,
        "auto_remove": "success",
        "mount_tmp_dir": False,
        "working_dir": working_dir,
    }
    if user is not None:
        kwargs["user"] = user
    kwargs.update(overrides)
    return kwargs


def write_call(call: TaskCall, job_dir: str | Path) -> Path:
    """Write ``call.json`` into ``job_dir`` (created); run this before the DockerOperator."""
    folder = Path(_absolute(job_dir, "job_dir"))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RESULT_FILE).unlink(missing_ok=True)
    return atomic.write_text(folder / CALL_FILE, call.to_json())


def read_result(job_dir: str | Path) -> Any:
    """The call's decoded result from ``result.json``; :class:`StepError` if it failed or is missing."""
    path = Path(_absolute(job_dir, "job_dir")) / RESULT_FILE
    try:
        outcome = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise StepError(f"{path}: no readable result ({exc})") from exc
    if not outcome.get("ok"):
        raise StepError(f"{path}: the call failed: {outcome.get('error')}\n{outcome.get('traceback', '')}")
    return outcome.get("result")
