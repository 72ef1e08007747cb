"""The chain of one (mass, run) unit: generate -> extract -> simulate, on the spine's step graph.

Each step runs its container (or the native extraction), writes its products atomically, and a
manifest beside every product file (parameters, image path and sha256, tool versions, host, times).
The step graph decides freshness: a finished unit is not run again unless forced.

``run_step`` is the unit of work of one Airflow task; it is a plain function of JSON-able
arguments, so it runs in the worker (backend ``local``) or as an HTCondor job (``condor``).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from include.apptainer.command import find_apptainer
from include.apptainer.runner import run_command
from include.core import atomic
from include.core import manifest as mf
from include.core.errors import InputFileError, StepError
from include.core.fingerprint import hash_object
from include.core.steps import Reason, Step, StepGraph, UnitContext
from include.darkbrem import PRODUCTION
from include.darkbrem.campaign import Unit
from include.darkbrem.commands import dbgen_command, extract_command, fire_command
from include.darkbrem.extract import NoEventsError, default_output, extract, gzip_file
from include.darkbrem.library import Version
from include.darkbrem.standin import standin_binds

log = logging.getLogger(__name__)

SIM_TREE = "LDMX_Events"
CONFIG_NAME = "config.py"
STEP_TIMEOUT_S = 24 * 3600.0


def unit_of(ctx: UnitContext) -> Unit:
    return Unit(**ctx.params)


def library_dir(ctx: UnitContext) -> Path:
    return ctx.workdir / unit_of(ctx).library_name


def library_csv(ctx: UnitContext) -> Path:
    return ctx.workdir / f"{unit_of(ctx).library_name}.csv.gz"


def sim_output(ctx: UnitContext) -> Path:
    return ctx.workdir / f"tdb_{unit_of(ctx).run}.root"


def _select(ctx: UnitContext, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: ctx.params[name] for name in names}


GENERATE_PARAMS = (
    "mass_gev",
    "run",
    "nevents",
    "targets",
    "lepton",
    "max_energy",
    "generator_version",
    "dbgen_image",
    "dbgen_image_sha256",
)
EXTRACT_PARAMS = ("extraction", "csv_format", "aprime_id", "expected_events")
SIMULATE_PARAMS = ("mass_mev", "run", "sim_events", "ldmx_image", "ldmx_image_sha256", "generator_version")


def _extract_params(ctx: UnitContext) -> dict[str, Any]:
    chosen = _select(ctx, EXTRACT_PARAMS)
    if ctx.params["extraction"] == "container":
        chosen |= _select(ctx, ("ldmx_image", "ldmx_image_sha256"))
    return chosen


def _run_container(argv: list[str], label: str) -> float:
    log.info("%s: %s", label, argv)
    result = run_command(argv, timeout=STEP_TIMEOUT_S, on_line=lambda stream, line: log.info("[%s] %s", label, line))
    return round(result.duration, 3)


def _write_file_manifests(
    ctx: UnitContext,
    step: str,
    files: list[Path],
    inputs: list[Path],
    params: Mapping[str, Any],
    tools: Mapping[str, Any],
    started: str,
) -> None:
    """One manifest beside each product file."""
    input_entries = mf.describe_files(inputs)
    finished = mf.utc_now()
    for path in files:
        record = mf.Manifest(
            production=PRODUCTION,
            step=step,
            unit=ctx.unit,
            params=dict(params),
            fingerprint=hash_object({"step": step, "params": dict(params)}),
            inputs=input_entries,
            outputs=mf.describe_files([path]),
            tools={**mf.runtime_tools(), **tools},
            backend=ctx.backend,
            started=started,
            finished=finished,
        )
        mf.write_manifest(mf.manifest_path(path), record)


def _image_tools(image: str, sha256: str, **more: Any) -> dict[str, Any]:
    return {"image": image, "image_sha256": sha256, "standin_image": bool(standin_binds(image)), **more}


def _generate(ctx: UnitContext) -> dict[str, Any]:
    unit, started = unit_of(ctx), mf.utc_now()
    version = Version.parse(unit.generator_version)
    final = library_dir(ctx)
    # A fresh output and scratch directory per attempt: dbgen refuses an existing scratch copy
    # and may leave partial LHE files behind.
    staging = Path(tempfile.mkdtemp(prefix=".generate-", dir=ctx.workdir))
    scratch = Path(tempfile.mkdtemp(prefix=".scratch-", dir=ctx.workdir))
    try:
        argv = dbgen_command(
            unit.dbgen_image,
            version,
            out_dir=staging,
            scratch_dir=scratch,
            extra_binds=standin_binds(unit.dbgen_image),
            executable=find_apptainer(None),
            run=unit.run,
            nevents=unit.nevents,
            apmass_gev=unit.mass_gev,
            targets=unit.targets,
            max_energy=unit.max_energy,
            lepton=unit.lepton,
        )
        seconds = _run_container(argv, "generate")
        produced = staging / unit.library_name
        missing = [name for name in unit.lhe_files if not (produced / name).is_file()]
        if missing:
            found = sorted(p.name for p in produced.iterdir()) if produced.is_dir() else []
            raise StepError(f"generator did not write {missing[0]} ({len(missing)} missing); found {found[:5]}")
        shutil.rmtree(final, ignore_errors=True)
        os.replace(produced, final)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)
    files = [final / name for name in unit.lhe_files]
    tools = _image_tools(unit.dbgen_image, unit.dbgen_image_sha256, dbgen_version=unit.generator_version)
    _write_file_manifests(ctx, "generate", files, [], _select(ctx, GENERATE_PARAMS), tools, started)
    return {"files": len(files), "bytes": sum(f.stat().st_size for f in files), "container_s": seconds}


def _count_rows(csv: Path) -> tuple[int, int]:
    """(data rows, columns of the header) of a plain CSV."""
    with open(csv, "rb") as handle:
        header = handle.readline()
        rows = sum(1 for line in handle if line.strip())
    return rows, len(header.rstrip(b"\n").split(b","))


def _extract(ctx: UnitContext) -> dict[str, Any]:
    unit, started = unit_of(ctx), mf.utc_now()
    lib, out = library_dir(ctx), library_csv(ctx)
    inputs = [lib / name for name in unit.lhe_files]
    if unit.extraction == "native":
        summary = extract(
            lib, out, aprime_id=unit.aprime_id, csv_format=unit.csv_format, expected_events=unit.expected_events
        )
        rows, tools = summary.rows, {"extractor": "include.darkbrem.extract (native)"}
    else:
        csv = default_output(lib)
        csv.unlink(missing_ok=True)
        argv = extract_command(
            unit.ldmx_image,
            ctx.workdir,
            str(lib),
            aprime_id=unit.aprime_id,
            extra_binds=standin_binds(unit.ldmx_image),
            executable=find_apptainer(None),
        )
        _run_container(argv, "extract")
        if not csv.is_file():
            raise StepError(f"g4db-extract-library did not write {csv}")
        rows, columns = _count_rows(csv)
        want = 10 if unit.csv_format == "v2" else 9
        if rows == 0:
            csv.unlink()
            raise NoEventsError(lib, f"the container wrote no event for A' id {unit.aprime_id} (header only)")
        if columns != want:
            raise InputFileError(csv, f"{columns} columns, but csv_format {unit.csv_format} needs {want}")
        if rows != unit.expected_events:
            raise InputFileError(csv, f"{rows} events, expected {unit.expected_events}")
        gzip_file(csv, out)
        tools = _image_tools(unit.ldmx_image, unit.ldmx_image_sha256, extractor="g4db-extract-library (container)")
    _write_file_manifests(ctx, "extract", [out], inputs, _extract_params(ctx), tools, started)
    return {"events": rows, "bytes": out.stat().st_size}


def _simulate(ctx: UnitContext) -> dict[str, Any]:
    import uproot

    unit, started = unit_of(ctx), mf.utc_now()
    library, final = library_csv(ctx), sim_output(ctx)
    config = ctx.workdir / CONFIG_NAME
    atomic.write_bytes(config, Path(unit.sim_config).read_bytes())
    out_tmp = Path(tempfile.mkdtemp(prefix=".simulate-", dir=ctx.workdir))
    try:
        argv = fire_command(
            unit.ldmx_image,
            ctx.workdir,
            config=CONFIG_NAME,
            library=library.name,
            run=unit.run,
            nevents=unit.sim_events,
            apmass_mev=unit.mass_mev,
            out_dir=out_tmp.name,
            aprime_lhe_id=unit.aprime_id if Version.parse(unit.generator_version).major >= 5 else None,
            extra_binds=standin_binds(unit.ldmx_image),
            executable=find_apptainer(None),
        )
        seconds = _run_container(argv, "simulate")
        produced = out_tmp / final.name
        if not produced.is_file():
            raise StepError(f"fire did not write {final.name}")
        try:
            with uproot.open(produced) as root_file:
                entries = int(root_file[SIM_TREE].num_entries)
        except Exception as exc:
            raise InputFileError(produced, f"not a readable ROOT file with tree {SIM_TREE}: {exc}") from exc
        if entries != unit.sim_events:
            raise StepError(f"{final.name}: {entries} events in {SIM_TREE}, expected {unit.sim_events}")
        os.replace(produced, final)
    finally:
        shutil.rmtree(out_tmp, ignore_errors=True)
    tools = _image_tools(unit.ldmx_image, unit.ldmx_image_sha256)
    params = _select(ctx, SIMULATE_PARAMS)
    _write_file_manifests(ctx, "simulate", [final], [library, Path(unit.sim_config)], params, tools, started)
    return {"events": entries, "bytes": final.stat().st_size, "container_s": seconds}


GRAPH = StepGraph(
    PRODUCTION,
    [
        Step(
            "generate",
            run=_generate,
            outputs=lambda ctx: [library_dir(ctx) / n for n in unit_of(ctx).lhe_files],
            params=lambda ctx: _select(ctx, GENERATE_PARAMS),
        ),
        Step(
            "extract",
            run=_extract,
            outputs=lambda ctx: [library_csv(ctx)],
            requires=("generate",),
            params=_extract_params,
        ),
        Step(
            "simulate",
            run=_simulate,
            outputs=lambda ctx: [sim_output(ctx)],
            requires=("extract",),
            inputs=lambda ctx: [Path(ctx.params["sim_config"])],
            params=lambda ctx: _select(ctx, SIMULATE_PARAMS),
        ),
    ],
)


def result_path(workdir: Path, step: str) -> Path:
    return workdir / f"{step}.result.json"


def needs_run(unit: dict[str, Any], step: str, force: str = "none") -> bool:
    """Whether ``step`` of ``unit`` is stale or forced (cheap: no container, no job)."""
    record = Unit(**unit)
    ctx = UnitContext(PRODUCTION, record.key, Path(record.workdir), dict(unit), record.backend)
    return step in GRAPH.forced(force) or GRAPH.freshness(ctx, step) is not Reason.FRESH


def run_step(unit: dict[str, Any], step: str, force: str = "none", backend: str | None = None) -> dict[str, Any]:
    """Run one step of one unit if it is stale or forced; record and return what happened.

    The result (state ran | fresh | failed, reason, seconds, summary, error) is also written to
    ``<unit>/<step>.result.json`` for the campaign summary. A failure raises :class:`StepError`.
    """
    record = Unit(**unit)
    ctx = UnitContext(PRODUCTION, record.key, Path(record.workdir), dict(unit), backend or record.backend)
    report = GRAPH.run_unit(ctx, force, only=[step], raise_on_failure=False)
    result = dict(report.results[0].__dict__)
    result["reason"] = str(result["reason"])
    previous = _read_json(result_path(ctx.workdir, step))
    if result["state"] == "fresh" and previous and previous.get("summary") is not None:
        result["summary"] = previous["summary"]
    result |= {"unit": record.key, "step": step, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    atomic.write_json(result_path(ctx.workdir, step), result)
    if result["state"] == "failed":
        raise StepError(f"{PRODUCTION} {record.key} {step}: {result['error']}", permanent=bool(result.get("permanent")))
    return result


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None
