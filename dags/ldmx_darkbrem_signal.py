"""LDMX dark-brem signal campaign: generate -> extract -> simulate per (mass, run), in containers."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Param, dag, task, task_group

from include.core import dagkit

DAG_ID = "ldmx_darkbrem_signal"
STEPS = ("generate", "extract", "simulate")
# Mirrors include.darkbrem.library (kept literal so parsing this file imports nothing heavy;
# tests/dags/test_ldmx_darkbrem_signal.py checks they agree).
TARGETS = ["tungsten", "silicon", "copper", "lead", "oxygen", "lutetium", "yttrium"]
GENERATOR_VERSIONS = ["4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "5.0", "5.1", "5.2"]
CONDOR_TIMEOUT_S = 24 * 3600

DOC = """
### LDMX dark-brem signal campaign

For every A' mass and run number of the form, one chain runs three containerised steps:
**generate** the dark-brem reference library with MadGraph in the `dark-brem-lib-gen` image
(a directory of LHE files; dbgen v4.x takes underscore options through the image entrypoint,
v5.1+ the dashed `dark-brem-lib-gen` command), **extract** it into the compact G4DarkBreM CSV
(natively in Python, byte-identical to `g4db-extract-library`, or with that tool in the ldmx image)
and gzip it, then **simulate** with `fire config.py` in the `ldmx/pro` image (A' mass in MeV =
1000 x the generator's GeV; the run number seeds both MadGraph and the simulation). Each step is a
retried task; a finished chain is not run again unless forced, and one failing chain does not stop
the others. Every product has a provenance manifest beside it (parameters, image path and sha256,
tool versions, host, times). Outputs: `<output root>/ldmx_darkbrem_signal/<campaign>/mA_<m>_run_<r>/`,
and `summary.json` / `summary.csv` for the campaign (files, events, failures). Backend `local` runs
the containers with apptainer from the worker; `condor` runs each step as an HTCondor job that
calls apptainer. Production uses the real images (SIF files or CVMFS paths); the defaults point
at the small stand-ins the demo builds.

**Needs** apptainer in the worker for backend `local` (the `HEP_APPTAINER_BIN` setting, else
`apptainer` on PATH) and the two images. Debian 12 has no apptainer package: in the demo,
`./scripts/run.sh` sets it up inside the checkout (`scripts/install-demo-tools.sh`, as root:
`.local/condor-pool/bin/apptainer`, which `scripts/env.sh` names in `HEP_APPTAINER_BIN`) and
builds the stand-in images into `<data root>/ldmx_darkbrem_signal/images/`
(`python -m include.darkbrem.standin <data root>/ldmx_darkbrem_signal/images`). When either is
missing, the first task (`validate_params`) fails at once, naming the missing image
(`dbgen_image`, `ldmx_image`) or `HEP_APPTAINER_BIN` and the command that gets it.
"""

PARAMS = {
    "campaign": Param(
        "signal",
        type="string",
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$",
        description="Campaign name: the folder below <output root>/ldmx_darkbrem_signal/.",
    ),
    "masses": Param(
        [0.01, 0.1, 1.0],
        type="array",
        items={"type": "number", "exclusiveMinimum": 0},
        minItems=1,
        maxItems=256,
        description="A' masses in GeV (the generator's --apmass); the simulation gets 1000 x in MeV.",
    ),
    "masses_mev": Param(
        None,
        type=["null", "array"],
        items={"type": "number", "exclusiveMinimum": 0},
        description="Optional: the simulation masses in MeV, one per mass; each must equal 1000 x the GeV mass.",
    ),
    "runs_per_mass": Param(
        2,
        type="integer",
        minimum=1,
        maximum=1024,
        description="Runs per mass, numbered from first_run (ignored when run_numbers is given).",
    ),
    "first_run": Param(1, type="integer", minimum=0, description="First run number when runs_per_mass is used."),
    "run_numbers": Param(
        None,
        type=["null", "array"],
        items={"anyOf": [{"type": "integer", "minimum": 0}, {"type": "array", "items": {"type": "integer"}}]},
        description="Explicit run numbers: one list for every mass, or one list per mass. Unique per mass "
        "(the run seeds MadGraph and the simulation). Empty: runs_per_mass runs from first_run.",
    ),
    "nevents": Param(
        1000,
        type="integer",
        minimum=1,
        maximum=99999,
        description="Generated events per incident-energy point (MadGraph limit: < 100k per seed).",
    ),
    "sim_events": Param(
        100, type="integer", minimum=1, maximum=10_000_000, description="Simulated events per (mass, run)."
    ),
    "targets": Param(
        ["tungsten"],
        type="array",
        items={"type": "string", "enum": TARGETS},
        minItems=1,
        uniqueItems=True,
        description="Target nuclei of the library (several need dbgen >= 4.5; oxygen 4.5, lutetium/yttrium 4.6).",
    ),
    "lepton": Param("electron", type="string", enum=["electron", "muon"], description="Beam lepton."),
    "max_energy": Param(
        0.0,
        type="number",
        minimum=0,
        maximum=1000,
        description="Maximum incident energy in GeV; 0 = the version's default (4 for v4, 8 for v5).",
    ),
    "generator_version": Param(
        "4.6",
        type="string",
        enum=GENERATOR_VERSIONS,
        description="dbgen version of the image: decides options (v4 underscores, v5.1+ dashes), default "
        "energy and the A' id (622 for v4, 1023 for v5).",
    ),
    "dbgen_image": Param(
        "ldmx_darkbrem_signal/images/dbgen-v4.sif",
        type="string",
        minLength=1,
        description="Generator image (SIF), relative to the data root or absolute (data root or /cvmfs).",
    ),
    "ldmx_image": Param(
        "ldmx_darkbrem_signal/images/ldmx-pro.sif",
        type="string",
        minLength=1,
        description="ldmx-sw image (SIF) with g4db-extract-library and fire; same G4DarkBreM major as the CSV.",
    ),
    "sim_config": Param(
        "ldmx_darkbrem_signal/config.py",
        type="string",
        minLength=1,
        description="Simulation config script for fire (inside the data root); takes --run --nevents "
        "--apmass (MeV) --library --out-dir.",
    ),
    "output_root": Param(
        None,
        type=["null", "string"],
        description="Output root (inside the configured HEP_OUTPUT_ROOT); empty = HEP_OUTPUT_ROOT itself.",
    ),
    "backend": Param(
        "local",
        type="string",
        enum=["local", "condor"],
        description="local: containers run with apptainer from the Airflow worker; condor: each step is an "
        "HTCondor job that runs the container.",
    ),
    "extraction": Param(
        "native",
        type="string",
        enum=["native", "container"],
        description="native: the streaming Python extraction; container: g4db-extract-library in the ldmx image.",
    ),
    "csv_format": Param(
        "v2",
        type="string",
        enum=["v2", "v1"],
        description="Library CSV format: v2 (10 columns, G4DarkBreM >= 2) or v1 (9 columns, ldmx-sw 3.2.1-3.2.8).",
    ),
    "force": dagkit.force_param(["none", "all", *STEPS]),
}


def _run_step(unit: dict[str, Any], step: str, force: str) -> dict[str, Any]:
    """Run one step of one unit on the unit's backend."""
    import shutil
    import uuid
    from pathlib import Path

    from include.core.backends import TaskCall, run_call

    call = TaskCall(
        "include.darkbrem.chain:run_step", {"unit": unit, "step": step, "force": force, "backend": unit["backend"]}
    )
    from include.darkbrem.chain import needs_run

    if unit["backend"] != "condor" or not needs_run(unit, step, force):
        return run_call(call, "local")  # a finished step is recorded as fresh without submitting a job
    jobdir = Path(unit["workdir"]) / f".condor-{step}-{uuid.uuid4().hex[:8]}"
    result = run_call(call, "condor", workdir=jobdir, timeout=CONDOR_TIMEOUT_S)
    shutil.rmtree(jobdir, ignore_errors=True)
    return result


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    params=PARAMS,
    default_args=dagkit.default_args(),
    tags=["ldmx", "darkbrem", "apptainer", "htcondor", "campaign"],
    doc_md=DOC,
    max_active_runs=1,
)
def ldmx_darkbrem_signal() -> None:
    validate_params = dagkit.validation_task(
        "include.darkbrem.campaign:validate_form",
        doc="Check the form (masses, runs, images, paths, tools); return the campaign. Never retried.",
    )

    @task
    def plan(campaign: dict[str, Any]) -> list[dict[str, Any]]:
        from include.darkbrem.campaign import plan as make_plan

        return make_plan(campaign)

    @dagkit.unit_task()
    def generate(unit: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _run_step(unit, "generate", (params or {}).get("force", "none"))

    @dagkit.unit_task()
    def extract(unit: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _run_step(unit, "extract", (params or {}).get("force", "none"))

    @dagkit.unit_task()
    def simulate(unit: dict[str, Any], params: dict[str, Any] | None = None) -> dict[str, Any]:
        return _run_step(unit, "simulate", (params or {}).get("force", "none"))

    @task_group(group_id="chain")
    def chain(unit: dict[str, Any]) -> None:
        generate(unit) >> extract(unit) >> simulate(unit)

    @task
    def summary(campaign: dict[str, Any], units: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The campaign's summary.json / summary.csv (runs after failed chains too, not after a refused form)."""
        from airflow.sdk.exceptions import AirflowFailException

        from include.darkbrem.summary import write_summary

        totals = write_summary(campaign, dagkit.upstream_result(units, "plan"))
        if totals["failed"] or totals["incomplete"]:
            raise AirflowFailException(
                f"{totals['ok']}/{totals['units']} chains complete; failed: {totals['failed']}, "
                f"incomplete: {totals['incomplete']} (see summary.json)"
            )
        return totals

    campaign = validate_params()
    units = plan(campaign)
    chain.expand(unit=units) >> dagkit.fan_in(summary(campaign, units), campaign)


ldmx_darkbrem_signal()
