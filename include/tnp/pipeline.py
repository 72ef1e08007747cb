"""The tag-and-probe production as plain functions over paths: validate -> prepare (preprocess,
plan) -> process chunks -> merge -> efficiencies and plots -> summary.

Every function takes and returns JSON-able values, so each can run as a
:class:`~include.core.backends.TaskCall` (``process_chunk`` runs as one HTCondor job per chunk
on the ``condor`` backend). Freshness comes from :mod:`include.core.steps`: a chunk, the merge
and the efficiencies are only recomputed when their inputs or parameters changed, or when forced.

Layout below the run folder ``<output root>/egamma_tnp/<output>/``::

    plan.json  preprocess_report.json  summary.json  summary.md
    chunks/<dataset>/chunk-<i>/chunk.json, <method>_<k>__<filter>.pkl
    <dataset>/<method>_<k>/<f>_histos.pkl, <f'>_report.json, <f>_efficiencies.json, *.png
    <dataset>/<method>_<k>/passing_<f>_NTuples-part<i>.parquet ... (array methods)

MC normalisation: as in the reference tool, ``weight`` = genWeight × PU weight / Σ genWeight of the
*chunk* (before any selection), so it depends on the chunking; ``plan.json`` records
``chunk_size`` and every chunk's (file, start, stop), and the chunk sums are in the reports
(``performance_counters.sum_genweight``). ``weight_gen`` and ``weight_total`` are not normalised.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import ConfigError, InputFileError, ParamError, form_field
from include.core.fingerprint import file_fingerprint, hash_object
from include.core.forms import backend_choice, choice, job_options
from include.core.paths import resolve_inside, safe_name
from include.core.steps import Reason, Step, StepGraph, UnitContext
from include.settings import load_settings
from include.tnp import config as cfg
from include.tnp.chunk import CHUNK_RECORD, HIST_METHODS, chunk_pickle
from include.tnp.form import BACKENDS, FORCE_CHOICES, RUN_STEPS
from include.tnp.naming import histos_file, report_file
from include.tnp.ntuples import flavour
from include.tnp.options import NANOAOD_WORKFLOWS

PRODUCTION = "egamma_tnp"
PLAN = "plan.json"
MAX_UNITS = 1024  # Airflow's max_map_length
DEFAULT_CHUNK_SIZE = 100_000


# -- validate -----------------------------------------------------------------------------------


def validate(
    config: Any,
    fileset: Any,
    settings: Any = None,
    binning: Any = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Read and check the four configurations; return the resolved, JSON-able configuration.

    Every problem is reported as one of the trigger form's fields: ``config`` (the runner),
    ``settings``, ``fileset``, ``binning`` or ``limit``.
    """
    data_root = load_settings().data_root
    if limit is not None and limit < 0:
        limit = None  # -1 means "no limit" (the legacy default sliced off the last file)
    with form_field("config", "runner"):
        runner = cfg.load_runner(config, data_root)
    with form_field("settings"):
        settings_dict, warnings = cfg.load_settings_file(settings, data_root)
    with form_field("fileset"):
        datasets = cfg.load_fileset(fileset, data_root, limit)
    with form_field("binning"):
        binning_dict = cfg.load_binning(binning, data_root)
    try:  # workflow_args of the runner overlaid with the settings
        options = cfg.build_options(runner, settings_dict)
    except (ConfigError, ParamError) as exc:
        with form_field(_source_of(exc, settings_dict)):
            raise
    with form_field("binning"):
        for m in runner.methods:
            if m.name in HIST_METHODS:
                for var in m.args.get("vars") or options.default_vars:
                    cfg.bins_for(binning_dict, var)
    if options.extra_filter:
        from include.tnp.corrections import load_extra_filter

        with form_field("settings" if "extra_filter" in settings_dict else "config"):
            load_extra_filter(options.extra_filter, data_root)
    return {
        "workflow": runner.workflow,
        "methods": [m.to_dict() for m in runner.methods],
        "settings": settings_dict,
        "warnings": warnings,
        "options": options.to_dict(),
        "binning": binning_dict,
        "datasets": [{"name": d.name, "files": d.files, "metadata": d.metadata} for d in datasets],
    }


def _source_of(exc: Exception, settings: dict[str, Any]) -> str:
    """The form field behind a problem of the merged options: ``settings`` when it is about a key the
    settings set (they win over the runner's workflow_args), else ``config``."""
    return "settings" if any(repr(key) in str(exc) or f"{key} " in str(exc) for key in settings) else "config"


def validate_form(params: dict[str, Any]) -> dict[str, Any]:
    """The DAG's first task: check the trigger form; return the resolved configuration and run folder.

    Empty optional fields (None or ``""``) mean the packaged settings and binning and a run folder
    named after the configuration.
    """
    limit = params.get("limit", -1)
    if limit == 0:
        raise ParamError("limit", "0 files per dataset makes no sense; use -1 for all files")
    optional = {name: params.get(name) or None for name in ("settings", "binning")}
    resolved = validate(params.get("config"), params.get("fileset"), limit=limit, **optional)
    output = params.get("output") or None  # the form's pattern: a plain folder name
    run_dir = run_dir_for(safe_name(output, "output") if output is not None else run_key(resolved))
    return {
        "resolved": resolved,
        "run_dir": str(run_dir),
        "force": choice(params, "force", FORCE_CHOICES, "none"),
        "backend": backend_choice(params, BACKENDS),
        **job_options(params),
    }


def failure_hint(validated: dict[str, Any] | None) -> str:
    """Where a failed run's chunk errors and unreadable files are listed (when that file exists)."""
    if not validated or not (Path(validated["run_dir"]) / "summary.json").is_file():
        return ""
    return f"; failed chunks and unreadable files are listed in {Path(validated['run_dir']) / 'summary.json'}"


def run_key(resolved: dict[str, Any]) -> str:
    """A stable run folder name from the resolved configuration (same config -> same folder)."""
    return f"run-{hash_object(resolved)[:12]}"


def run_dir_for(output: str) -> Path:
    """``<output root>/egamma_tnp/<output>``, confined to the output root."""
    settings = load_settings()
    base = settings.production_output(PRODUCTION)
    if not output:
        raise ParamError("output", "empty output folder")
    path = Path(output) if Path(output).is_absolute() else base / output
    return resolve_inside(path, [settings.output_root], "output")


# -- prepare ------------------------------------------------------------------------------------


def prepare(
    resolved: dict[str, Any], run_dir: str, chunk_size: int = DEFAULT_CHUNK_SIZE, skip_report: bool = False
) -> dict[str, Any]:
    """Preprocess (readable files, chunks) and write ``plan.json``; return the units to map over."""
    from include.tnp.preprocess import preprocess

    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ParamError("chunk_size", f"{chunk_size!r} must be a positive integer")
    datasets = [cfg.Dataset(d["name"], d["files"], d["metadata"]) for d in resolved["datasets"]]
    workflow = resolved["workflow"]
    kind = "nanoaod" if workflow in NANOAOD_WORKFLOWS else flavour(workflow)
    prepared = preprocess(datasets, chunk_size, kind)
    for ds in prepared:
        for f in ds["files"]:
            f["identity"] = list(file_fingerprint(f["path"]).identity())
    units = [{"dataset": ds["folder"], "chunk": c["index"]} for ds in prepared for c in ds["chunks"]]
    if len(units) > MAX_UNITS:
        raise ParamError("chunk_size", f"{len(units)} chunks exceed the {MAX_UNITS} mapped tasks allowed; raise it")
    run = Path(run_dir)
    if (run / PLAN).exists():
        _clear_stale_chunks(run, load_plan(run), prepared)
    plan = {
        **resolved,
        "chunk_size": chunk_size,
        "skip_report": bool(skip_report),
        "data_root": str(load_settings().data_root),
        "datasets": prepared,
    }
    atomic.write_json(run / PLAN, plan)
    bad = [{"dataset": ds["name"], **b} for ds in prepared for b in ds["bad_files"]]
    atomic.write_json(run / "preprocess_report.json", {"bad_files": bad, "chunks": len(units)})
    return {
        "run_dir": str(run),
        "units": units,
        "bad_files": bad,
        "events": sum(ds["entries"] for ds in prepared),
    }


def _clear_stale_chunks(run: Path, old: dict[str, Any], datasets: list[dict[str, Any]]) -> list[Path]:
    """When a dataset's chunking changed, remove its old chunk folders and parquet parts."""
    import shutil

    before = {ds["folder"]: ds["chunks"] for ds in old.get("datasets", [])}
    removed = []
    for ds in datasets:
        if ds["folder"] not in before or before[ds["folder"]] == ds["chunks"]:
            continue
        stale = run / "chunks" / ds["folder"]
        if stale.is_dir():
            shutil.rmtree(stale)
            removed.append(stale)
        for part in (run / ds["folder"]).glob("*/*NTuples-part*.parquet"):
            part.unlink()
            removed.append(part)
    return removed


def load_plan(run_dir: str | Path) -> dict[str, Any]:
    path = Path(run_dir) / PLAN
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"no readable plan ({exc}); run the prepare step first") from exc


def _dataset(plan: dict[str, Any], folder: str) -> dict[str, Any]:
    for ds in plan["datasets"]:
        if ds["folder"] == folder:
            return ds
    raise ParamError("dataset", f"{folder!r} is not in the plan")


def _methods(plan: dict[str, Any]) -> list[cfg.MethodCall]:
    return [cfg.MethodCall.from_dict(m) for m in plan["methods"]]


# -- process chunks -----------------------------------------------------------------------------


def chunk_dir(run_dir: Path, folder: str, index: int) -> Path:
    return run_dir / "chunks" / folder / f"chunk-{index:04d}"


def _chunk_outputs(ctx: UnitContext) -> list[Path]:
    record = ctx.path(CHUNK_RECORD)
    if not record.exists():
        return [record]
    return [record, *(Path(p) for p in json.loads(record.read_text())["outputs"])]


def _run_chunk_step(ctx: UnitContext) -> dict[str, Any]:
    from include.tnp.chunk import process_chunk as process

    p = ctx.params
    result = process(p["plan"], p["dataset"], p["chunk"], ctx.workdir, Path(p["run_dir"]), Path(p["data_root"]))
    return {"counts": result["counts"], "exception": result["record"]["exception"]}


CHUNK_GRAPH = StepGraph(
    PRODUCTION,
    [
        Step(
            "process",
            run=_run_chunk_step,
            outputs=_chunk_outputs,
            params=lambda ctx: {k: v for k, v in ctx.params.items() if k not in ("run_dir", "data_root")},
        )
    ],
    aliases=dict.fromkeys(RUN_STEPS, ()),  # run-level steps: forcing them leaves the chunks alone
)


def chunk_context(run_dir: str, dataset: str, chunk: int, backend: str = "local") -> UnitContext:
    """The step context of one chunk of one dataset of the run's plan."""
    run = Path(run_dir)
    plan = load_plan(run)
    ds = _dataset(plan, dataset)
    if not 0 <= chunk < len(ds["chunks"]):
        raise ParamError("chunk", f"{chunk} is not a chunk of {dataset!r} (0..{len(ds['chunks']) - 1})")
    desc = ds["chunks"][chunk]
    identity = next(f["identity"] for f in ds["files"] if f["path"] == desc["file"])
    return UnitContext(
        PRODUCTION,
        f"{dataset}-chunk-{chunk:04d}",
        chunk_dir(run, dataset, chunk),
        params={
            "plan": {k: plan[k] for k in ("options", "methods", "binning")},
            "dataset": {k: ds[k] for k in ("name", "folder", "is_mc", "metadata")},
            "chunk": desc,
            "file": identity,
            "run_dir": str(run),
            "data_root": plan["data_root"],
        },
        backend=backend,
    )


def chunk_fresh(run_dir: str, dataset: str, chunk: int, force: str = "none") -> bool:
    """Whether the chunk's products are up to date and not forced (it has nothing to do)."""
    if "process" in CHUNK_GRAPH.forced(force):
        return False
    return CHUNK_GRAPH.freshness(chunk_context(run_dir, dataset, chunk), "process") is Reason.FRESH


def process_chunk(run_dir: str, dataset: str, chunk: int, force: str = "none", backend: str = "local") -> dict:
    """Process one chunk of one dataset (fresh chunks are not recomputed); return its counts."""
    ctx = chunk_context(run_dir, dataset, chunk, backend)
    report = CHUNK_GRAPH.run_unit(ctx, force)
    record = json.loads(ctx.path(CHUNK_RECORD).read_text())
    return {
        "dataset": dataset,
        "chunk": chunk,
        "state": report.results[0].state,
        "events": record["events"],
        "counts": record["counts"],
        "exception": record["record"]["exception"],
    }


# -- merge --------------------------------------------------------------------------------------


def _chunk_dirs(run: Path, plan: dict[str, Any]) -> list[tuple[dict[str, Any], Path]]:
    return [(ds, chunk_dir(run, ds["folder"], c["index"])) for ds in plan["datasets"] for c in ds["chunks"]]


def _merge_outputs(ctx: UnitContext) -> list[Path]:
    plan = load_plan(ctx.workdir)
    out = []
    for ds in plan["datasets"]:
        for m in _methods(plan):
            folder = ctx.workdir / ds["folder"] / m.folder
            if m.name in HIST_METHODS:
                out.append(folder / histos_file(m.filter))
            if not plan.get("skip_report"):
                out.append(folder / report_file(m.filter))
    return out


def _merge_inputs(ctx: UnitContext) -> list[Path]:
    plan = load_plan(ctx.workdir)
    files = []
    for _ds, cdir in _chunk_dirs(ctx.workdir, plan):
        files.append(cdir / CHUNK_RECORD)
        record = cdir / CHUNK_RECORD
        if record.exists():
            files.extend(Path(p) for p in json.loads(record.read_text())["outputs"] if p.endswith(".pkl"))
    return files


def _run_merge(ctx: UnitContext) -> dict[str, Any]:
    from include.tnp.histograms import add_histograms

    run = ctx.workdir
    plan = load_plan(run)
    merged = 0
    for ds in plan["datasets"]:
        records = []
        for c in ds["chunks"]:
            path = chunk_dir(run, ds["folder"], c["index"]) / CHUNK_RECORD
            if not path.exists():
                raise InputFileError(path, "chunk not processed; run its process task first")
            records.append((c["index"], json.loads(path.read_text())))
        for m in _methods(plan):
            folder = run / ds["folder"] / m.folder
            report = [r["record"] for _i, r in records]
            if not plan.get("skip_report"):
                atomic.write_text(folder / report_file(m.filter), json.dumps(report, indent=4) + "\n")
            if m.name not in HIST_METHODS:
                continue
            total = None
            for i, r in records:
                if r["record"]["exception"] is not None:
                    continue  # unreadable chunk: reported, skipped
                part = pickle.loads((chunk_dir(run, ds["folder"], i) / chunk_pickle(m)).read_bytes())
                total = part if total is None else add_histograms(total, part)
            if total is None:
                raise InputFileError(folder, f"no readable chunk for {m.folder} {m.filter!r}")
            atomic.write_bytes(folder / histos_file(m.filter), pickle.dumps(total, protocol=pickle.HIGHEST_PROTOCOL))
            merged += 1
    return {"histogram_files": merged}


def _eff_outputs(ctx: UnitContext) -> list[Path]:
    out_file = ctx.path("efficiencies.json")
    if not out_file.exists():
        return [out_file]
    return [out_file, *(Path(p) for p in json.loads(out_file.read_text())["files"])]


def _run_efficiencies(ctx: UnitContext) -> dict[str, Any]:
    from include.tnp.efficiency import efficiency_table
    from include.tnp.naming import filter_file_name
    from include.tnp.options import TnPOptions
    from include.tnp.plots import plot_efficiency_1d, plot_efficiency_2d, sample_label

    run = ctx.workdir
    plan = load_plan(run)
    default_vars = TnPOptions.from_dict(plan["options"]).default_vars
    files: list[str] = []
    for ds in plan["datasets"]:
        sample = sample_label(ds["name"], ds["is_mc"], ds.get("metadata"))
        for m in _methods(plan):
            if m.name not in HIST_METHODS:
                continue
            folder = run / ds["folder"] / m.folder
            histos = pickle.loads((folder / histos_file(m.filter)).read_bytes())
            f = filter_file_name(m.filter)
            tables: dict[str, Any] = {}
            title = f"{ds['name']} {m.filter}"
            if m.name == "get_nd_tnp_histograms":
                p, fl = histos["passing"], histos["failing"]
                names = [ax.name for ax in p.axes if ax.name != "mll"]
                for var in names:
                    tables[var] = efficiency_table(p.project(var), fl.project(var))
                    path = folder / f"{f}_eff_{var}.png"
                    files.append(str(plot_efficiency_1d(tables[var], path, title, sample=sample)))
                if len(names) >= 2:
                    key = f"{names[0]}_{names[1]}"
                    tables[key] = efficiency_table(p.project(names[0], names[1]), fl.project(names[0], names[1]))
                    path = folder / f"{f}_eff_{key}_map.png"
                    files.append(str(plot_efficiency_2d(tables[key], path, title, sample=sample)))
            else:
                # the 1D axes are named pt, eta, phi; the columns behind them are the method's vars
                vars_ = m.args.get("vars")
                columns = dict(
                    zip(("pt", "eta", "phi"), vars_ if isinstance(vars_, list) else default_vars, strict=False)
                )
                for axis, regions in histos.items():
                    for region, pair in regions.items():
                        key = f"{axis}_{region}"
                        tables[key] = efficiency_table(pair["passing"].project(axis), pair["failing"].project(axis))
                        path = folder / f"{f}_eff_{key}.png"
                        var = columns.get(axis, axis)
                        plot = plot_efficiency_1d(tables[key], path, f"{title} ({region})", sample=sample, variable=var)
                        files.append(str(plot))
            target = folder / f"{f}_efficiencies.json"
            atomic.write_json(target, tables)
            files.append(str(target))
    atomic.write_json(ctx.path("efficiencies.json"), {"files": files})
    return {"files": len(files)}


RUN_GRAPH = StepGraph(
    PRODUCTION,
    [
        Step("merge", run=_run_merge, outputs=_merge_outputs, inputs=_merge_inputs, params=lambda ctx: {}),
        Step("efficiencies", run=_run_efficiencies, outputs=_eff_outputs, requires=("merge",), params=lambda c: {}),
    ],
    aliases={"process": ("merge",)},  # re-processed chunks are merged again
)


def _run_ctx(run_dir: str) -> UnitContext:
    return UnitContext(PRODUCTION, "run", Path(run_dir))


def merge(run_dir: str, force: str = "none") -> dict[str, Any]:
    """Sum the chunk histograms into ``<f>_histos.pkl`` and write the reports."""
    report = RUN_GRAPH.run_unit(_run_ctx(run_dir), force, only=["merge"])
    return report.to_dict()


def efficiencies(run_dir: str, force: str = "none") -> dict[str, Any]:
    """Cut-and-count efficiencies (JSON) and plots for every histogram output."""
    report = RUN_GRAPH.run_unit(_run_ctx(run_dir), force, only=["efficiencies"])
    return report.to_dict()


# -- summary ------------------------------------------------------------------------------------


def summarize(run_dir: str, chunk_results: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Counts per dataset / method / filter, events processed, bad files; ``summary.json`` and ``.md``."""
    run = Path(run_dir)
    plan = load_plan(run)
    rows: dict[tuple[str, str], dict[str, int]] = {}
    events, failed_chunks = 0, []
    for ds, cdir in _chunk_dirs(run, plan):
        path = cdir / CHUNK_RECORD
        if not path.exists():
            failed_chunks.append({"dataset": ds["name"], "chunk": cdir.name, "error": "not processed"})
            continue
        record = json.loads(path.read_text())
        if record["record"]["exception"]:
            failed_chunks.append({"dataset": ds["name"], "chunk": cdir.name, "error": record["record"]["message"]})
            continue
        events += record["events"]
        for key, counts in record["counts"].items():
            row = rows.setdefault((ds["name"], key), {})
            for k, v in counts.items():
                row[k] = row.get(k, 0) + v
    for result in chunk_results or []:
        if result and result.get("error"):
            failed_chunks.append(result)
    bad = json.loads((run / "preprocess_report.json").read_text())["bad_files"]
    summary = {
        "workflow": plan["workflow"],
        "events_processed": events,
        "chunks": sum(len(ds["chunks"]) for ds in plan["datasets"]),
        "bad_files": bad,
        "failed_chunks": failed_chunks,
        "counts": [{"dataset": d, "output": k, **v} for (d, k), v in sorted(rows.items())],
    }
    atomic.write_json(run / "summary.json", summary)
    lines = [
        f"# egamma_tnp — {plan['workflow']}",
        "",
        f"events processed: {events}; chunks: {summary['chunks']}; bad files: {len(bad)}",
        "",
        "| dataset | output | passing | failing | passing probes | failing probes |",
        "|---|---|---|---|---|---|",
    ]
    for row in summary["counts"]:
        lines.append(
            f"| {row['dataset']} | {row['output']} | {row.get('passing', row.get('events', ''))} | "
            f"{row.get('failing', '')} | {row.get('passing_probes', '')} | {row.get('failing_probes', '')} |"
        )
    atomic.write_text(run / "summary.md", "\n".join(lines) + "\n")
    return summary


# -- everything in one process (CLI) ------------------------------------------------------------


def run_all(
    config: Any,
    fileset: Any,
    settings: Any = None,
    binning: Any = None,
    output: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    limit: int | None = None,
    force: str = "none",
    skip_report: bool = False,
) -> dict[str, Any]:
    """validate -> prepare -> every chunk -> merge -> efficiencies -> summary, in this process."""
    resolved = validate(config, fileset, settings, binning, limit)
    run = run_dir_for(output or run_key(resolved))
    prepared = prepare(resolved, str(run), chunk_size, skip_report)
    results = [process_chunk(str(run), u["dataset"], u["chunk"], force) for u in prepared["units"]]
    merge(str(run), force)
    efficiencies(str(run), force)
    return {"run_dir": str(run), "summary": summarize(str(run)), "chunks": results}
