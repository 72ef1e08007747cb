"""Stage 2 with art inside the campaign: the job definition with staged inputs, and one job run.

:func:`art_jobs` (campaign step ``jobs`` when ``stage2 = art``) writes the template, the job tar
and the per-job fcl files (:mod:`include.mu2e.art`) and copies each job's input files into its
folder, as the grid's copy-in would. :func:`run_art` (job step ``art``) runs ``mu2e -c mu2e.fcl``
in the Mu2e image and parses the SamplingInput summary into ``counts.json``.

On the ``condor`` backend the DAG runs the jobs itself with ``HTCondorJobOperator``:
:func:`art_command` is one job's command (argv, folder, files) and :func:`operator_kwargs` the
operator's arguments for it; the job's stdout becomes ``mu2e.log`` and :func:`run_art` with
``ran_elsewhere`` then only parses that log (the same products and manifest as a local run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import ProductionError
from include.core.steps import UnitContext


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


def art_jobs(ctx: UnitContext, record: dict[str, Any]) -> dict[str, Any]:
    """Template, job tar, per-job fcl; the inputs of job j copied into its folder (the grid's copy-in)."""
    from include.mu2e.art import write_jobdef

    result = write_jobdef(record, ctx.workdir, owner=ctx.params.get("owner") or None)
    data_dir = Path(ctx.params["data_dir"])
    jobs = []
    for job in result["jobs"]:
        job_dir = Path(job["fcl"]).parent
        for rel in job["inputs"]:
            target = job_dir / Path(rel).name
            if not target.exists():
                with atomic.atomic_path(target) as tmp:
                    shutil.copyfile(data_dir / rel, tmp)
        jobs.append({"index": job["index"], "unit": job_dir.name, "output": job["output"], "seed": job["seed"]})
    plan = {"schema": "hep-productions/mu2e-art-jobs/1", "stage2": "art", "tag": record["tag"], "jobs": jobs}
    atomic.write_json(ctx.path("jobs.json"), plan)
    return {"tar": Path(result["tar"]).name, "njobs": len(jobs)}


ART_ARGV = ("mu2e", "-c", "mu2e.fcl")
LOG = "mu2e.log"
# The pool's container runtime, found on the execute node's PATH (the host's may be a wrapper).
JOB_RUNTIME = ("/usr/bin/env", "apptainer")
# In the container universe the executable is looked up in the image: `mu2e` through its PATH.
IN_IMAGE_LAUNCHER = "/usr/bin/env"


def art_command(image: str | Path, job_dir: str | Path, job: dict[str, Any]) -> dict[str, Any]:
    """One art job as a command: ``mu2e -c mu2e.fcl`` in ``job_dir`` with the image ``image``.

    ``input_files`` are the fcl and the staged inputs, ``output_files`` the art output, which is also
    the expected output; ``contained`` says the image runs without host binds (a real or
    self-contained one), else ``binds`` are the host paths the bound stand-in needs.
    """
    from include.mu2e import fhicl
    from include.mu2e.image import image_binds, needs_host_binds

    job_dir = Path(job_dir).resolve()
    config = fhicl.loads((job_dir / "mu2e.fcl").read_text(), str(job_dir / "mu2e.fcl"))
    inputs = sorted({Path(n).name for block in config["source"]["dataSets"].values() for n in block["fileNames"]})
    return {
        "index": job["index"],
        "unit": job_dir.name,
        "argv": list(ART_ARGV),
        "workdir": str(job_dir),
        "image": str(image),
        "input_files": ["mu2e.fcl", *inputs],
        "output_files": [job["output"]],
        "expected_outputs": [job["output"], LOG],
        "contained": not needs_host_binds(image),
        "binds": [b.spec() for b in image_binds(image)],
    }


def operator_kwargs(command: dict[str, Any]) -> dict[str, Any]:
    """``HTCondorJobOperator`` arguments for one :func:`art_command` (stdout is ``mu2e.log``).

    A self-contained image (a real Mu2e one, or the self-contained stand-in) runs in the container
    universe (``container_image``; ``/usr/bin/env mu2e -c mu2e.fcl`` finds ``mu2e`` on the image's
    PATH; the fcl and inputs are transferred in, the output back). The bound stand-in needs host
    binds, which container-universe jobs cannot ask for (the pool sets the binds), so it runs as
    ``apptainer exec --bind ... <image> mu2e -c mu2e.fcl`` in the job folder on the shared
    filesystem: the same command in the same image.
    """
    argv = list(command["argv"])
    kwargs: dict[str, Any] = {
        "workdir": command["workdir"],
        "expected_outputs": list(command["expected_outputs"]),
        "submit_extra": {"output": LOG},
    }
    if command["contained"]:
        return {
            **kwargs,
            "executable": IN_IMAGE_LAUNCHER,
            "arguments": argv,
            "container_image": command["image"],
            "input_files": list(command["input_files"]),
            "output_files": list(command["output_files"]),
        }
    from include.apptainer.command import build_command

    exec_argv = build_command(
        command["image"],
        argv,
        binds=[*command["binds"], f"{command['workdir']}:{command['workdir']}:rw"],
        pwd=command["workdir"],
        executable="/bin/true",  # replaced: the runtime is the execute node's
    )
    return {**kwargs, "executable": JOB_RUNTIME[0], "arguments": [*JOB_RUNTIME[1:], *exec_argv[1:]], "shared_fs": True}


def run_art(ctx: UnitContext) -> dict[str, Any]:
    """``mu2e -c mu2e.fcl`` in the image, in the job folder; the summary is parsed into counts.json.

    With ``ran_elsewhere`` (the DAG ran the job as an HTCondor job whose stdout is ``mu2e.log``)
    only the log is parsed.
    """
    from include.apptainer.runner import run_command
    from include.mu2e.art import parse_summary
    from include.mu2e.image import mu2e_argv

    if ctx.params.get("ran_elsewhere"):
        if not ctx.path(LOG).is_file():
            raise ProductionError(f"{ctx.unit}: no {LOG}; the job did not run")
        text = ctx.path(LOG).read_text()
    else:
        lines: list[str] = []
        argv = mu2e_argv(ctx.params["art_image"], ctx.workdir)  # the runtime of the host that runs the job
        result = run_command(argv, check=False, on_line=lambda _stream, line: lines.append(line))
        text = "\n".join(lines) + "\n"
        atomic.write_text(ctx.path(LOG), text)
        if not result.ok:
            raise ProductionError(result.report())
    summary = parse_summary(text)
    plan = _load(ctx.workdir.parent / "jobs.json")
    job = plan["jobs"][ctx.params["index"]]
    if not ctx.path(job["output"]).is_file():
        raise ProductionError(f"mu2e did not write {job['output']}")
    record = {"job": job["index"], "seed": job["seed"], "output": job["output"], **summary}
    atomic.write_json(ctx.path("counts.json"), record)
    return {"events": summary["total"]}
