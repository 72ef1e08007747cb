"""Stage 2 with art inside the campaign: the job definition with staged inputs, and one job run.

:func:`art_jobs` (campaign step ``jobs`` when ``stage2 = art``) writes the template, the job tar
and the per-job fcl files (:mod:`include.mu2e.art`) and copies each job's input files into its
folder, as the grid's copy-in would. :func:`run_art` (job step ``art``) runs ``mu2e -c mu2e.fcl``
in the Mu2e image and parses the SamplingInput summary into ``counts.json``.
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


def run_art(ctx: UnitContext) -> dict[str, Any]:
    """``mu2e -c mu2e.fcl`` in the image, in the job folder; the summary is parsed into counts.json."""
    from include.apptainer.runner import run_command
    from include.mu2e.art import parse_summary
    from include.mu2e.image import mu2e_argv

    lines: list[str] = []
    argv = mu2e_argv(ctx.params["art_image"], ctx.workdir)  # the runtime of the host that runs the job
    result = run_command(argv, check=False, on_line=lambda _stream, line: lines.append(line))
    atomic.write_text(ctx.path("mu2e.log"), "\n".join(lines) + "\n")
    if not result.ok:
        raise ProductionError(result.report())
    summary = parse_summary("\n".join(lines))
    plan = _load(ctx.workdir.parent / "jobs.json")
    job = plan["jobs"][ctx.params["index"]]
    if not ctx.path(job["output"]).is_file():
        raise ProductionError(f"mu2e did not write {job['output']}")
    record = {"job": job["index"], "seed": job["seed"], "output": job["output"], **summary}
    atomic.write_json(ctx.path("counts.json"), record)
    return {"events": summary["total"]}
