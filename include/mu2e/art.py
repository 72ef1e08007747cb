"""Stage 2 with art: the SamplingInput template, the grid job definition and per-job configs (spec §6–§8).

* :func:`template_fcl` writes ``SamplingInput_sr0.fcl``: ``process_name: SI``, a ``SamplingInput``
  source (input commands, run, subRun, samplingSeed, ``maxEvents`` set explicitly, one block per
  dataset with exactly one file, ``weight`` in ``%e`` and ``skipToEvent: ""``), one ``RootOutput``
  ``OutputMC`` and ``trigger_paths: []``; comment lines carry the real livetime, E_min values, tmin,
  run and the expected number of events.
* :func:`jobpars` builds ``jobpars.json`` (jobname, setup, tbs: event_id, subrunkey,
  samplinginput, outfiles and — the default here — ``samplingseed``: job j uses base + j).
* :func:`write_jobdef` writes the tar ``cnf.<owner>.ensemble<TAG>.<dsconf>.0.tar`` (deterministic
  bytes), the index definition and one fully resolved ``job_<j>/mu2e.fcl`` per job.
* :func:`audit` sums the SamplingInput end-of-job "Counts" over job logs into the audit CSV.
"""

from __future__ import annotations

import getpass
import io
import json
import math
import re
import tarfile
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import ParamError, ProductionError
from include.mu2e.fhicl import dumps_value
from include.mu2e.naming import sequencer
from include.mu2e.normalizations import COSMIC

MAX_EVENTS = 2147483647
INPUT_COMMANDS = [
    "keep *",
    "keep mu2e::CosmicLivetime_*_*_*",
    "drop *_genCounter_*_*",
    "drop *_protonBunchIntensity_*_*",
]
TEMPLATE_NAME = "SamplingInput_sr0.fcl"
MAX_EVENTS_PER_SUBRUN = 10_000_000  # interactive mode only


class JobDefinitionError(ProductionError):
    """The job definition cannot be built (unequal lists, too few events per job file, ...)."""

    permanent = True


def dataset_owner(user: str | None = None) -> str:
    """The dsowner: the submitting user, with ``mu2epro`` mapped to ``mu2e``."""
    user = user or getpass.getuser()
    return "mu2e" if user == "mu2epro" else user


def _label_check(labels: list[str]) -> None:
    for label in labels:
        if not re.match(r"^[A-Za-z][A-Za-z0-9_]*$", label):
            raise ParamError("processes", f"dataset label {label!r} is not a FHiCL name")
    if COSMIC in labels and "Cosmic" not in COSMIC:
        raise ParamError("processes", "cosmic dataset labels must contain 'Cosmic'")


def template_fcl(record: dict[str, Any], *, sampling_seed: int, subrun: int = 0) -> str:
    """The SamplingInput template, filled for job ``subrun`` (job 0 for the template itself)."""
    spec, beam = record["spec"], record["beam"]
    labels = list(record["processes"])
    _label_check(labels)
    norm = spec["norm"]
    dsconf = f"{spec['release']}{spec['version']}"
    lines = [
        f"# Mu2e ensemble {record['tag']}: SamplingInput template ({TEMPLATE_NAME})",
        f"# livetime: onspill {beam['onspill_s']:.6g} s, wallclock {beam['wallclock_s']:.6g} s "
        f"(mode {beam['livetime_mode']}, {beam['BB']})",
        f"# DEM_emin: {norm['dem_emin']} MeV, RPC_emin: {norm['rpc_emin']} MeV, RMC_emin: {norm['rmc_emin']} MeV, "
        f"IPA_emin: {norm['ipa_emin']} MeV",
        f"# tmin: {norm['tmin']} ns",
        f"# run: {spec['run']}",
        f"# expected events: {record['expected_total']:.6g}",
        "",
        "process_name: SI",
        "",
        "source: {",
        "  module_type: SamplingInput",
        f"  inputCommands: {dumps_value(INPUT_COMMANDS)}",
        "  dropDescendantsOfDroppedBranches: false",
        f"  run: {spec['run']}",
        f"  subRun: {subrun}",
        f"  samplingSeed: {sampling_seed}",
        f"  maxEvents: {MAX_EVENTS}",
        "  dataSets: {",
    ]
    for label, entry in record["processes"].items():
        first = Path(entry["files"][subrun]).name
        lines.append(f'    {label}: {{ fileNames: ["{first}"] weight: {record["weights"][label]:e} skipToEvent: "" }}')
    lines += [
        "  }",
        "}",
        "",
        "outputs: {",
        "  OutputMC: {",
        "    module_type: RootOutput",
        '    outputCommands: ["keep *_*_*_*"]',
        f'    fileName: "dts.mu2e.ensemble{record["tag"]}.{dsconf}.{sequencer(spec["run"], subrun)}.art"',
        "  }",
        "}",
        "",
        "physics: {",
        "  trigger_paths: []",
        "  out: [OutputMC]",
        "  end_paths: [out]",
        "}",
    ]
    return "\n".join(lines) + "\n"


def file_lists(record: dict[str, Any], files_per_job: int = 1) -> tuple[int, dict[str, list[str]]]:
    """(njobs, basenames per label): ceil(len/files_per_job), identical for every dataset or an error."""
    if files_per_job < 1:
        raise ParamError("files_per_job", f"{files_per_job} must be >= 1")
    lists = {label: [Path(f).name for f in entry["files"]] for label, entry in record["processes"].items()}
    counts = {label: math.ceil(len(names) / files_per_job) for label, names in lists.items()}
    if len(set(counts.values())) != 1:
        raise JobDefinitionError(f"job counts differ between datasets: {counts}")
    return next(iter(counts.values())), lists


def check_job_files(record: dict[str, Any], margin_sigma: float = 3.0) -> dict[str, list[dict[str, Any]]]:
    """Per dataset, the jobs whose file holds fewer entries than that job's expected draw (+ margin)."""
    njobs = record["spec"]["njobs"]
    short: dict[str, list[dict[str, Any]]] = {}
    for label, entry in record["processes"].items():
        mu = entry["mu"] / njobs
        need = math.ceil(mu + margin_sigma * math.sqrt(mu)) if label != COSMIC else math.ceil(mu - 1e-9)
        for j, entries in enumerate(entry["entries_per_file"]):
            if entries < need:
                short.setdefault(label, []).append({"job": j, "entries": entries, "needed": need})
    return short


def jobpars(
    record: dict[str, Any],
    *,
    owner: str,
    setup: str | None = None,
    files_per_job: int = 1,
    legacy_constant_sampling_seed: bool = False,
) -> dict[str, Any]:
    """The ``jobpars.json`` of the job definition."""
    spec = record["spec"]
    dsconf = f"{spec['release']}{spec['version']}"
    _, lists = file_lists(record, files_per_job)
    tbs: dict[str, Any] = {
        "event_id": {"source.run": spec["run"], "source.maxEvents": str(MAX_EVENTS)},
        "subrunkey": "source.subRun",
        "samplinginput": {
            f"source.dataSets.{label}.fileNames": [files_per_job, names] for label, names in lists.items()
        },
        "outfiles": {"outputs.OutputMC.fileName": f"dts.{owner}.ensemble{record['tag']}.{dsconf}.SEQ.art"},
    }
    if not legacy_constant_sampling_seed:
        tbs["samplingseed"] = {"source.samplingSeed": spec["seed"]}
    return {
        "jobname": tar_name(record, owner),
        "setup": setup or f"/cvmfs/mu2e.opensciencegrid.org/Musings/SimJob/{dsconf}/setup.sh",
        "tbs": tbs,
    }


def tar_name(record: dict[str, Any], owner: str) -> str:
    spec = record["spec"]
    return f"cnf.{owner}.ensemble{record['tag']}.{spec['release']}{spec['version']}.0.tar"


def job_overrides(pars: dict[str, Any], j: int, *, base_seed: int) -> dict[str, Any]:
    """The FHiCL overrides of job ``j``: subRun, file slices, output name, sampling seed."""
    tbs = pars["tbs"]
    run = tbs["event_id"]["source.run"]
    out: dict[str, Any] = dict(tbs["event_id"])
    out["source.maxEvents"] = int(out["source.maxEvents"])
    out[tbs["subrunkey"]] = j
    for key, (n, names) in tbs["samplinginput"].items():
        out[key] = names[j * n : j * n + n]
    for key, pattern in tbs["outfiles"].items():
        out[key] = pattern.replace("SEQ", sequencer(run, j))
    seeds = tbs.get("samplingseed")
    out["source.samplingSeed"] = (seeds["source.samplingSeed"] + j) if seeds else base_seed
    if "seed" in tbs:
        out["services.SeedService.baseSeed"] = j + 1
    return out


def job_fcl(template: str, overrides: dict[str, Any], j: int) -> str:
    """The template followed by the job's overrides (FHiCL applies the last assignment)."""
    lines = [f"# job {j} overrides"] + [f"{k}: {dumps_value(v)}" for k, v in overrides.items()]
    return template + "\n" + "\n".join(lines) + "\n"


def index_definition(record: dict[str, Any], owner: str) -> dict[str, Any]:
    """The SAM index definition selecting the campaign's jobs."""
    name = tar_name(record, owner).removeprefix("cnf.").removesuffix(".0.tar")
    return {
        "name": f"idx_{name}",
        "dataset": "etc.mu2e.index.000.txt",
        "dimensions": f"dh.sequencer < {record['spec']['njobs']:07d}",
    }


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(members):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(members[name]), 0, 0o644
            info.uname = info.gname = "mu2e"
            tar.addfile(info, io.BytesIO(members[name]))
    return buffer.getvalue()


def write_jobdef(
    record: dict[str, Any],
    out_dir: str | Path,
    *,
    owner: str | None = None,
    setup: str | None = None,
    legacy_constant_sampling_seed: bool = False,
    margin_sigma: float = 3.0,
) -> dict[str, Any]:
    """Validate, then write the template, the job tar, the index definition and per-job fcl files."""
    out_dir = Path(out_dir)
    owner = dataset_owner(owner)
    njobs, _ = file_lists(record)
    if njobs != record["spec"]["njobs"]:
        raise JobDefinitionError(f"file lists give {njobs} jobs, the campaign has {record['spec']['njobs']}")
    short = check_job_files(record, margin_sigma)
    if short:
        raise JobDefinitionError(f"job files hold fewer events than the jobs' expected draws: {short}")
    base = record["spec"]["seed"]
    template = template_fcl(record, sampling_seed=base)
    pars = jobpars(record, owner=owner, setup=setup, legacy_constant_sampling_seed=legacy_constant_sampling_seed)
    atomic.write_text(out_dir / TEMPLATE_NAME, template)
    tar = out_dir / pars["jobname"]
    members = {
        "jobpars.json": (json.dumps(pars, indent=2, sort_keys=True) + "\n").encode(),
        "mu2e.fcl": template.encode(),
    }
    atomic.write_bytes(tar, _tar_bytes(members))
    atomic.write_json(out_dir / "index_definition.json", index_definition(record, owner))
    jobs = []
    for j in range(njobs):
        overrides = job_overrides(pars, j, base_seed=base)
        path = out_dir / f"job_{j:04d}" / "mu2e.fcl"
        atomic.write_text(path, job_fcl(template, overrides, j))
        inputs = [record["processes"][label]["files"][j] for label in record["processes"]]
        jobs.append(
            {
                "index": j,
                "fcl": str(path),
                "inputs": inputs,
                "output": overrides["outputs.OutputMC.fileName"],
                "seed": overrides["source.samplingSeed"],
            }
        )
    atomic.write_json(out_dir / "art_jobs.json", {"tar": tar.name, "owner": owner, "jobs": jobs})
    return {"tar": str(tar), "jobs": jobs}


# -- audit of the end-of-job summaries -----------------------------------------------------------

_ROW = re.compile(r"^\s*(?P<ds>[A-Za-z][A-Za-z0-9_]*)\s*\|\s*(?P<counts>\d+)\s*\|")


def parse_summary(log_text: str) -> dict[str, Any]:
    """Counts per dataset, ``Total`` and exhausted datasets from one SamplingInput summary."""
    counts: dict[str, int] = {}
    exhausted: list[str] = []
    total = None
    for line in log_text.splitlines():
        match = _ROW.match(line)
        if match and match.group("ds") != "Dataset":
            counts[match.group("ds")] = int(match.group("counts"))
            if "(no more available)" in line:
                exhausted.append(match.group("ds"))
        found = re.match(r"^\s*Total\s+(\d+)", line)
        if found:
            total = int(found.group(1))
    if total is None or total != sum(counts.values()):
        raise ProductionError(f"no complete SamplingInput summary (Total {total}, rows {counts})")
    return {"counts": counts, "total": total, "exhausted": exhausted}


def audit(logs: list[str], weights: dict[str, float]) -> tuple[str, dict[str, int]]:
    """CSV ``Dataset, Counts, fraction_sampled, fraction_expected, weight`` over all job logs."""
    totals = {label: 0 for label in weights}
    for text in logs:
        for label, n in parse_summary(text)["counts"].items():
            totals[label] = totals.get(label, 0) + n
    grand, wsum = sum(totals.values()), sum(weights.values())
    rows = ["Dataset,Counts,fraction_sampled,fraction_expected,weight"]
    for label, n in totals.items():
        w = weights.get(label, 0.0)
        rows.append(f"{label},{n},{n / grand if grand else 0:.6g},{w / wsum if wsum else 0:.6g},{w:.6e}")
    return "\n".join(rows) + "\n", totals
