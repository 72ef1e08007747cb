"""The ``apptainer`` backend: run a :class:`~include.core.backends.TaskCall` in a container.

``include.core.backends.run_call(call, backend="apptainer", image=..., **options)`` lands
here. The call is written to ``call.json`` in a fresh job directory, the container runs
``<python> -m include.core.runcall call.json result.json`` and the decoded result is returned.

Which Python runs inside the container:

* ``python="python3"`` (default): the image's own interpreter. The ``include`` source of this
  checkout is bound read-only and put on ``PYTHONPATH`` (``mount_include=True``), so the image
  needs only a Python 3.11 with the standard library; an image with the project installed can
  use ``mount_include=False``.
* ``host_python=True``: this process's interpreter (:data:`sys.executable`) and its prefixes
  are bound read-only; the image must supply the shared libraries it links against, as
  :func:`include.apptainer.images.make_python_runtime_sandbox` does.

The job directory, the data root (read-only) and the output root are bound at the same paths
as on the host, and HEP_DATA_ROOT / HEP_OUTPUT_ROOT are passed in, so paths in the call's
arguments mean the same inside and out.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import include
from include.apptainer.command import BindLike, build_command, parse_binds
from include.apptainer.images import host_python_binds
from include.apptainer.runner import LineCallback, ProcessRunner
from include.core.backends import TaskCall
from include.core.errors import ParamError, StepError
from include.settings import load_settings

log = logging.getLogger(__name__)

JOB_TAIL_LINES = 40


def _log_line(stream: str, line: str) -> None:
    log.info("[container %s] %s", stream, line)


def run_call(call: TaskCall, **options: Any) -> Any:
    """Run ``call`` in a container and return its JSON-decoded result; raise :class:`StepError` on failure.

    Options as :func:`run_structured`; the message holds the exception raised inside the container
    or, when ``runcall`` never wrote a result, the exit code and the output tail.
    """
    result = run_structured(call, **options)
    if not result["ok"]:
        raise StepError(result["error"])
    return result.get("result")


def run_structured(
    call: TaskCall,
    *,
    image: str | None = None,
    binds: Iterable[BindLike] | Mapping[str, str] | None = None,
    env: Mapping[str, object] | None = None,
    python: str = "python3",
    host_python: bool = False,
    mount_include: bool = True,
    bind_roots: bool = True,
    workdir: str | Path | None = None,
    timeout: float | None = None,
    kill_grace: float = 10.0,
    contain: bool = False,
    extra_flags: Iterable[str] = (),
    executable: str | None = None,
    start_jitter: float = 0.0,
    keep_jobdir: bool = False,
    on_line: LineCallback | None = _log_line,
) -> dict[str, Any]:
    """Run ``call`` in ``image``; return the structured result of :mod:`include.core.runcall`.

    A failure keeps the call's ``permanent`` verdict; a container that wrote no result (killed,
    image broken) is a transient failure whose message holds the exit code and the output tail.
    A failed job's directory is kept for inspection and named in the message.
    """
    if not image:
        raise ParamError("image", "the apptainer backend needs an image (option image=...)")
    all_binds = parse_binds(binds)
    container_env: dict[str, object] = {}
    if bind_roots:
        settings = load_settings()
        container_env |= {"HEP_DATA_ROOT": str(settings.data_root), "HEP_OUTPUT_ROOT": str(settings.output_root)}
        for root, mode in ((settings.data_root, "ro"), (settings.output_root, "rw")):
            if root.is_dir():
                all_binds += parse_binds([(str(root), str(root), mode)])
    if mount_include:
        source_root = str(Path(include.__file__).resolve().parents[1])
        all_binds += parse_binds([(source_root, source_root, "ro")])
        container_env["PYTHONPATH"] = source_root
    if host_python:
        python = sys.executable
        all_binds += host_python_binds()
    container_env |= dict(env or {})

    job_dir = Path(tempfile.mkdtemp(prefix="hep-apptainer-", dir=workdir)).resolve()
    call_file, result_file = job_dir / "call.json", job_dir / "result.json"
    call_file.write_text(call.to_json())
    all_binds += parse_binds([(str(job_dir), str(job_dir), "rw")])
    argv = build_command(
        image,
        [python, "-m", "include.core.runcall", str(call_file), str(result_file)],
        binds=all_binds,
        env=container_env,
        pwd=str(job_dir),
        contain=contain,
        extra_flags=extra_flags,
        executable=executable,
    )
    if start_jitter > 0:
        time.sleep(random.uniform(0, start_jitter))
    log.info("running %s in %s (job dir %s)", call.function, image, job_dir)
    result = ProcessRunner(
        argv, timeout=timeout, kill_grace=kill_grace, tail_lines=JOB_TAIL_LINES, on_line=on_line
    ).run()

    outcome: dict[str, Any] | None = None
    if result_file.is_file():
        try:
            outcome = json.loads(result_file.read_text())
        except ValueError:
            outcome = None
    if result.ok and outcome is not None and outcome.get("ok"):
        if not keep_jobdir:
            shutil.rmtree(job_dir, ignore_errors=True)
        return outcome
    where = f"in container {image}; job dir kept: {job_dir}\n{result.report()}"
    if outcome is not None and not outcome.get("ok"):
        return {**outcome, "error": f"{call.function} raised {outcome.get('error')} {where}"}
    return {
        "ok": False,
        "error_type": "StepError",
        "message": f"{call.function} produced no result",
        "permanent": False,
        "error": f"{call.function} produced no result {where}",
        "traceback": "",
    }


def probe(write_to: str | None = None) -> dict[str, Any]:
    """Where a call runs: interpreter, container, settings; optionally write ``write_to``.

    A task function for checking a site's apptainer set-up:
    ``run_call(TaskCall("include.apptainer.jobcall:probe"), backend="apptainer", image=...)``.
    """
    settings = load_settings()
    if write_to:
        Path(write_to).write_text(f"written by probe in {os.environ.get('APPTAINER_CONTAINER', 'no container')}\n")
    return {
        "python": platform.python_version(),
        "executable": sys.executable,
        "container": os.environ.get("APPTAINER_CONTAINER") or os.environ.get("SINGULARITY_CONTAINER"),
        "data_root": str(settings.data_root),
        "output_root": str(settings.output_root),
        "written": write_to,
    }
