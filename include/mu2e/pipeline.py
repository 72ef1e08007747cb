"""The ensemble campaign as steps over files: what the DAG tasks and the CLI call.

Campaign unit ``<output root>/mu2e_ensemble/<TAG>/`` (steps of :data:`CAMPAIGN`):
``normalize`` → ``campaign`` (stage 1: ``<TAG>.json``, ``<TAG>.txt``) → ``jobs`` (``jobs.json``,
ledger reservations) → ``validate`` (``validation.json``) → ``summary`` (``summary.csv``,
``summary.png``, ``summary.json``). Job units ``<TAG>/job_<j>/`` (step ``mix`` of :data:`JOB`):
the ensemble file and ``counts.json``. Freshness and force come from :mod:`include.core.steps`;
a finished unit is not run again.

Every public function takes the validated configuration (:func:`validate_params`) as a plain dict,
so it runs the same in a worker, an HTCondor job or a terminal.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import ParamError, ProductionError, StepError
from include.core.forms import backend_choice, job_options
from include.core.paths import reject_shell_metacharacters, resolve_inside, safe_name
from include.core.steps import Reason, Step, StepGraph, UnitContext
from include.mu2e import art_jobs as art_job_defs
from include.mu2e import form, ledger
from include.mu2e.art_jobs import art_jobs, run_art
from include.mu2e.campaign import CampaignSpec, build_campaign, legacy_text, oct2024_text
from include.mu2e.conditions import pinned
from include.mu2e.mixing import build_plan, mix_job
from include.mu2e.naming import check_tag, parse_livetime
from include.mu2e.normalizations import Normalization, NormParams
from include.mu2e.ntuple import dataset_files
from include.mu2e.summary import write_summary
from include.mu2e.validation import DEFAULT_MIN_P, audit_art, check_ensemble
from include.settings import load_settings

PRODUCTION = "mu2e_ensemble"


class EnsembleValidationError(ProductionError):
    """The ensemble's counts, uniqueness or completeness check failed."""

    permanent = True


# -- parameters ----------------------------------------------------------------------------------


def validate_params(conf: dict[str, Any]) -> dict[str, Any]:
    """Check the trigger form's values and return the normalised configuration (JSON-able)."""
    settings = load_settings()
    tag = check_tag(conf.get("tag", form.DEFAULT_TAG))
    livetime_s = parse_livetime(conf.get("livetime", form.DEFAULT_LIVETIME))
    data_dir = str(conf.get("data_dir", form.DEFAULT_DATA_DIR))
    reject_shell_metacharacters(data_dir, "data_dir")
    data_path = resolve_inside(data_dir, [settings.data_root], "data_dir", must_exist=True)
    fmt = conf.get("output_format", form.DEFAULT_OUTPUT_FORMAT)
    if fmt not in form.OUTPUT_FORMATS:
        raise ParamError("output_format", f"{fmt!r} is not one of {', '.join(form.OUTPUT_FORMATS)}")
    url = conf.get("ledger_url") or ledger.default_url(settings.output_root)
    reject_shell_metacharacters(url.replace("?", ""), "ledger_url")
    if not url.startswith(("sqlite:///", "postgresql")):
        raise ParamError("ledger_url", f"{url!r}: use sqlite:///<path> or postgresql+psycopg2://...")
    norm = NormParams(
        bb=conf.get("BB", form.DEFAULT_BB),
        livetime_s=livetime_s,
        livetime_mode=conf.get("livetime_mode", form.DEFAULT_LIVETIME_MODE),
        pot_method=conf.get("pot_method", NormParams.pot_method),
        rue=float(conf.get("rue", form.DEFAULT_RUE)),
        dem_emin=float(conf.get("dem_emin", form.DEFAULT_DEM_EMIN)),
        tmin=float(conf.get("tmin", form.DEFAULT_TMIN)),
        conditions=safe_name(conf.get("conditions", form.DEFAULT_CONDITIONS), "conditions"),
    )
    pinned(norm.conditions)  # an unknown set fails here, listing the pinned ones
    spec = CampaignSpec(
        tag=tag,
        processes=tuple(conf.get("processes") or CampaignSpec.processes),
        njobs=int(conf.get("njobs", form.DEFAULT_NJOBS)),
        seed=int(conf.get("seed", form.DEFAULT_SEED)),
        cosmics=conf.get("cosmics", CampaignSpec.cosmics),
        release=conf.get("release", CampaignSpec.release),
        version=conf.get("version", CampaignSpec.version),
        run=int(conf.get("run", CampaignSpec.run)),
        norm=norm,
    )
    stage2 = conf.get("stage2", form.DEFAULT_STAGE2)
    if stage2 not in form.STAGE2:
        raise ParamError("stage2", f"{stage2!r} is not one of {', '.join(form.STAGE2)}")
    backend = backend_choice(conf, form.BACKENDS)
    if stage2 == "art" and backend == "apptainer":
        raise ParamError(
            "backend", "'apptainer' with stage2 = art: the art jobs run in the Mu2e image; choose local or condor"
        )
    art: dict[str, Any] = {}
    if stage2 == "art":
        image = str(conf.get("art_image") or form.DEFAULT_ART_IMAGE)
        reject_shell_metacharacters(image, "art_image")
        owner = conf.get("owner") or ""
        art = {
            "art_image": str(resolve_inside(image, [settings.data_root], "art_image", must_exist=True)),
            "owner": safe_name(owner, "owner") if owner else "",
        }
    min_p = float(conf.get("min_p", DEFAULT_MIN_P))
    if not (0 <= min_p < 0.5):
        raise ParamError("min_p", f"{min_p} must be within [0, 0.5)")
    job_options(conf)  # the form's HTCondor section (the units carry it; the campaign does not)
    return {
        "spec": spec.to_dict(),
        "data_dir": str(data_path),
        "output_dir": str(settings.output_root / PRODUCTION / tag),
        "output_format": fmt,
        "ledger_url": url,
        "min_p": min_p,
        "stage2": stage2,
        "backend": backend,
        **art,
    }


def _spec(conf: dict[str, Any]) -> CampaignSpec:
    return CampaignSpec.from_dict(conf["spec"])


def _tag(ctx: UnitContext) -> str:
    return ctx.params["spec"]["tag"]


def _load(path: Path) -> Any:
    return json.loads(path.read_text())


# -- campaign steps ------------------------------------------------------------------------------


def _normalize(ctx: UnitContext) -> dict[str, Any]:
    spec = _spec(ctx.params)
    report = Normalization(spec.norm).report(processes=list(spec.processes), seed=spec.seed)
    atomic.write_json(ctx.path("normalization.json"), report)
    return {"means": report["means"], "n_pot": report["beam"]["n_pot"]}


def _campaign(ctx: UnitContext) -> dict[str, Any]:
    record = build_campaign(_spec(ctx.params), ctx.params["data_dir"])
    tag = _tag(ctx)
    atomic.write_json(ctx.path(f"{tag}.json"), record)
    atomic.write_text(ctx.path(f"{tag}.txt"), legacy_text(record))
    if record["beam"]["livetime_mode"] == "wallclock":
        atomic.write_text(ctx.path(f"{tag}.oct2024.txt"), oct2024_text(record))
    return {p: {"mu": v["mu"], "needed": v["needed"]} for p, v in record["processes"].items()}


def _campaign_outputs(ctx: UnitContext) -> list[Path]:
    tag = _tag(ctx)
    out = [ctx.path(f"{tag}.json"), ctx.path(f"{tag}.txt")]
    if ctx.params["spec"]["norm"]["livetime_mode"] == "wallclock":
        out.append(ctx.path(f"{tag}.oct2024.txt"))
    return out


def _campaign_inputs(ctx: UnitContext) -> list[Path]:
    from include.mu2e.campaign import dataset_for

    spec = _spec(ctx.params)
    files: list[Path] = []
    for process in spec.processes:
        folder = Path(ctx.params["data_dir"]) / dataset_for(spec, process)
        if folder.is_dir():
            files += dataset_files(folder)[: spec.njobs]
    return files


def _jobs(ctx: UnitContext) -> dict[str, Any]:
    record = _load(ctx.path(f"{_tag(ctx)}.json"))
    if ctx.params.get("stage2") == "art":
        return art_jobs(ctx, record)
    plan = build_plan(record, fmt=ctx.params["output_format"], ledger_url=ctx.params["ledger_url"])
    atomic.write_json(ctx.path("jobs.json"), plan)
    return {"ensemble": plan["ensemble"], "njobs": plan["njobs"]}


def _job_count_files(ctx: UnitContext) -> list[Path]:
    njobs = ctx.params["spec"]["njobs"]
    return [ctx.workdir / f"job_{j:04d}" / "counts.json" for j in range(njobs)]


def _validate(ctx: UnitContext) -> dict[str, Any]:
    if ctx.params.get("stage2") == "art":
        result = audit_art(ctx.workdir, _tag(ctx))
    else:
        result = check_ensemble(ctx.workdir, ctx.params["ledger_url"], ctx.params["min_p"])
    atomic.write_json(ctx.path("validation.json"), result)
    if not result["ok"]:
        raise EnsembleValidationError("; ".join(result["problems"]))
    return {"ok": True, "p_value": result["chi_square"]["p_value"]}


def _summary(ctx: UnitContext) -> dict[str, Any]:
    return write_summary(ctx.workdir, _tag(ctx))


CAMPAIGN = StepGraph(
    PRODUCTION,
    [
        Step("normalize", _normalize, lambda c: [c.path("normalization.json")], params=lambda c: c.params["spec"]),
        Step(
            "campaign",
            _campaign,
            _campaign_outputs,
            requires=("normalize",),
            inputs=_campaign_inputs,
            params=lambda c: {"spec": c.params["spec"], "data_dir": c.params["data_dir"]},
        ),
        Step(
            "jobs",
            _jobs,
            lambda c: [c.path("jobs.json")],
            requires=("campaign",),
            params=lambda c: {k: c.params.get(k) for k in ("output_format", "ledger_url", "stage2", "owner")},
        ),
        Step(
            "validate",
            _validate,
            lambda c: [c.path("validation.json")],
            requires=("jobs",),
            inputs=_job_count_files,
            params=lambda c: {"min_p": c.params["min_p"], "stage2": c.params.get("stage2")},
        ),
        Step(
            "summary",
            _summary,
            lambda c: [c.path(n) for n in ("summary.csv", "summary.png", "summary.json")],
            requires=("validate",),
            params=lambda c: {},
        ),
    ],
)


def _mix(ctx: UnitContext) -> dict[str, Any]:
    campaign_dir = ctx.workdir.parent
    plan = _load(campaign_dir / "jobs.json")
    record = _load(campaign_dir / f"{_tag(ctx)}.json")
    result = mix_job(plan, record, ctx.params["index"], ctx.params["data_dir"], ctx.workdir, ctx.params["ledger_url"])
    return {"events": result["events"], "ended_early": result["ended_early"]}


def _mix_outputs(ctx: UnitContext) -> list[Path]:
    plan_path = ctx.workdir.parent / "jobs.json"
    if not plan_path.exists():
        return [ctx.path("counts.json")]
    return [ctx.path("counts.json"), ctx.path(_load(plan_path)["jobs"][ctx.params["index"]]["output"])]


def _is_art(ctx: UnitContext) -> bool:
    return ctx.params.get("stage2") == "art"


JOB = StepGraph(
    PRODUCTION,
    [
        Step(
            "mix",
            _mix,
            _mix_outputs,
            inputs=lambda c: [c.workdir.parent / "jobs.json", c.workdir.parent / f"{_tag(c)}.json"],
            params=lambda c: {"index": c.params["index"], "ledger_url": c.params["ledger_url"]},
            enabled=lambda c: not _is_art(c),
        ),
        Step(
            "art",
            lambda c: run_art(c),
            lambda c: [c.path("mu2e.log"), c.path("counts.json")],
            inputs=lambda c: [c.path("mu2e.fcl")],
            params=lambda c: {"index": c.params["index"], "art_image": c.params.get("art_image")},
            enabled=_is_art,
        ),
    ],
)


def _campaign_ctx(conf: dict[str, Any], backend: str = "local") -> UnitContext:
    return UnitContext(PRODUCTION, conf["spec"]["tag"], Path(conf["output_dir"]), conf, backend)


class PermanentError(ProductionError):
    """A step failed for a reason a retry cannot change (bad parameter or input, shortfall)."""

    permanent = True


def run_campaign_step(conf: dict[str, Any], step: str, force: str = "none") -> dict[str, Any]:
    """Run one campaign step (and nothing else) if stale or forced; return the unit report.

    A failure raises :class:`PermanentError` when retrying cannot help (the DAG then fails the task
    at once), else :class:`~include.core.errors.StepError`.
    """
    report = CAMPAIGN.run_unit(_campaign_ctx(conf), force, only=[step], raise_on_failure=False)
    for result in report.failed:
        message = f"{PRODUCTION} {conf['spec']['tag']} {result.step}: {result.error}"
        if result.permanent:
            raise PermanentError(message)
        raise StepError(message)
    return report.to_dict()


def job_units(conf: dict[str, Any], params: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """The mapped units of the run: one per job (index and unit key) with the campaign and how the
    run runs it (``force``, ``backend``, HTCondor options from the form's ``params``)."""
    params = params or {}
    plan = _load(Path(conf["output_dir"]) / "jobs.json")
    run = {"force": params.get("force") or "none", "backend": conf.get("backend", "local"), **job_options(params)}
    return [{"index": j["index"], "unit": j["unit"], "conf": conf, **run} for j in plan["jobs"]]


def job_fresh(conf: dict[str, Any], index: int, force: str = "none") -> bool:
    """Whether job ``index`` has nothing to do (no HTCondor job is submitted for it)."""
    plan = JOB.plan(_job_ctx(conf, index), _job_force(force))
    return all(reason is Reason.FRESH for reason in plan.values())


def _job_ctx(conf: dict[str, Any], index: int, backend: str = "local", **extra: Any) -> UnitContext:
    if not (0 <= index < conf["spec"]["njobs"]):
        raise ParamError("index", f"{index} is not a job of this campaign (0..{conf['spec']['njobs'] - 1})")
    workdir = Path(conf["output_dir"]) / f"job_{index:04d}"
    params = {**conf, "index": index, **extra}
    return UnitContext(PRODUCTION, f"{conf['spec']['tag']}.job_{index:04d}", workdir, params, backend)


def _job_force(force: str) -> str:
    return "all" if force in ("all", "mix", "art") else "none"


def run_job(conf: dict[str, Any], index: int, force: str = "none", backend: str = "local") -> dict[str, Any]:
    """Run job ``index`` of the campaign (the mapped unit)."""
    ctx = _job_ctx(conf, index, backend)
    workdir = ctx.workdir
    report = JOB.run_unit(ctx, _job_force(force)).to_dict()
    report["counts"] = _load(workdir / "counts.json")["counts"]
    return report


def art_on_condor(conf: dict[str, Any], backend: str) -> bool:
    """Whether the DAG runs the art jobs itself as HTCondor jobs (stage2 = art on the condor backend)."""
    return conf.get("stage2") == "art" and backend == "condor"


def art_job_commands(conf: dict[str, Any], force: str = "none") -> list[dict[str, Any]]:
    """The art jobs to run, as commands (:func:`include.mu2e.art_jobs.art_command`): argv, folder,
    files and expected outputs per job. Jobs whose ``art`` step is fresh are left out (not run again)."""
    if conf.get("stage2") != "art":
        raise ParamError("stage2", "art job commands exist only for stage2 = art")
    plan = _load(Path(conf["output_dir"]) / "jobs.json")
    commands = []
    for job in plan["jobs"]:
        ctx = _job_ctx(conf, job["index"], "condor")
        if JOB.plan(ctx, _job_force(force))["art"] is not Reason.FRESH:
            commands.append(art_job_defs.art_command(conf["art_image"], ctx.workdir, job))
    return commands


def art_operator_kwargs(conf: dict[str, Any], force: str = "none") -> list[dict[str, Any]]:
    """``HTCondorJobOperator`` keyword arguments per art job still to run (for ``expand_kwargs``)."""
    return [art_job_defs.operator_kwargs(c) for c in art_job_commands(conf, force)]


def record_art_jobs(conf: dict[str, Any], force: str = "none") -> list[dict[str, Any]]:
    """After the HTCondor jobs: the ``art`` step of every job from its ``mu2e.log`` (counts.json and the
    manifest, as :func:`run_job` writes them); fresh jobs are left as they are."""
    reports = []
    for job in _load(Path(conf["output_dir"]) / "jobs.json")["jobs"]:
        ctx = _job_ctx(conf, job["index"], "condor", ran_elsewhere=True)
        report = JOB.run_unit(ctx, _job_force(force)).to_dict()
        report["counts"] = _load(ctx.workdir / "counts.json")["counts"]
        reports.append(report)
    return reports


def run_all(conf: dict[str, Any], force: str = "none") -> dict[str, Any]:
    """Every step of the campaign in order, jobs one after the other (terminal use and tests)."""
    for step in ("normalize", "campaign", "jobs"):
        run_campaign_step(conf, step, force)
    jobs = [run_job(conf, u["index"], force) for u in job_units(conf)]
    run_campaign_step(conf, "validate", force)
    run_campaign_step(conf, "summary", force)
    return {"jobs": jobs, "summary": _load(Path(conf["output_dir"]) / "summary.json")}
