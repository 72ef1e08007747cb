"""LDMX dark-brem signal campaign: generate -> extract -> simulate per (mass, run), in containers."""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task, task_group

from include.core import dagkit
from include.core.unit_operator import UnitCallOperator
from include.darkbrem import form

DAG_ID = "ldmx_darkbrem_signal"

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


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    params=form.params(),
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
        """One unit per (mass, run) chain, with how this run runs it."""
        from include.darkbrem.campaign import plan as make_plan
        from include.darkbrem.orchestration import chain_units

        return chain_units(campaign, make_plan(campaign))

    def step_task(step: str, unit: Any) -> UnitCallOperator:
        """One step of a chain on the run's backend (a fresh step submits nothing)."""
        return UnitCallOperator(
            task_id=step,
            call="include.darkbrem.orchestration:step_call",
            fresh="include.darkbrem.orchestration:step_fresh",
            label="include.darkbrem.orchestration:chain_label",
            options={"step": step},
            unit=unit,
            map_index_template="{{ unit_label }}",
        )

    @task_group(group_id="chain")
    def chain(unit: dict[str, Any]) -> None:
        step_task("generate", unit) >> step_task("extract", unit) >> step_task("simulate", unit)

    @task
    def summary(campaign: dict[str, Any], units: list[dict[str, Any]] | None) -> dict[str, Any]:
        """The campaign's summary.json / summary.csv (runs after failed chains too, not after a refused form)."""
        from airflow.sdk.exceptions import AirflowFailException

        from include.darkbrem.orchestration import chains
        from include.darkbrem.summary import write_summary

        totals = write_summary(campaign, chains(dagkit.upstream_result(units, "plan")))
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
