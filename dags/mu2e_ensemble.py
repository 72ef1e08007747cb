"""Mu2e mock-data ensemble campaign (issue 7): normalize -> check inputs -> build jobs -> run (mapped)
-> validate ensemble -> summary."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task

from include.condor.operators import HTCondorJobOperator
from include.core import dagkit
from include.core.unit_operator import UnitCallOperator
from include.mu2e import form

DAG_ID = "mu2e_ensemble"
ENSEMBLE = Asset(name="mu2e_ensemble_outputs", uri="file:///hep-productions/mu2e_ensemble")

DOC = """
### Mu2e mock-data ensemble (MDS)

Builds a mixed, normalised sample of simulated Mu2e processes for a chosen amount of beam time.
**normalize** computes the expected generator-level yield of every requested process from the
livetime (on-spill seconds by default, wall-clock as an option), the booster-batch mode, R_µe and
the minimum energies (constants and pinned conditions values are recorded); **check inputs**
(stage 1) reads the first `njobs` files of every input dataset, sums the cosmic livetime and
writes the campaign config as `<TAG>.json` and the legacy `<TAG>.txt`, failing before any job when
a process needs more events than its inputs hold (the message lists each short process);
**build jobs** draws each job's counts with its own seed and reserves its input entry ranges in
the ledger database, so no input event is used twice; **run** mixes each job (mapped, on the
worker or as an HTCondor job) into a ROOT or parquet file with truth columns; **validate**
compares the counts per process with the Poisson expectation (χ²) and checks that every
(file, entry) is used once; with `stage2 = art` the jobs are instead the SamplingInput template,
the job tar (`cnf.<owner>.ensemble<TAG>.<dsconf>.0.tar`) and one fcl per job, run as
`mu2e -c mu2e.fcl` in the Mu2e image (on the condor backend as HTCondor jobs of the mapped
`run_art` operator, one per job still to run, then **record art** parses their logs), and validate
audits the end-of-job summaries (`audit.csv`);
**summary** writes `summary.csv`, `summary.json` and a plot. Outputs:
`<output root>/mu2e_ensemble/<TAG>/` (jobs in `job_<j>/`). Re-triggering the same form re-uses
finished steps; `force` re-runs a step and everything downstream of it. `validate_params` checks
the form first and is never retried: a refused form fails it at once, naming the field and the
value, and nothing else runs.
"""


def _step(conf: dict[str, Any], step: str) -> dict[str, Any]:
    """One campaign step; errors a retry cannot fix fail the task at once (no retries)."""
    from include.mu2e import pipeline

    with dagkit.permanent_errors(pipeline.PermanentError):
        return pipeline.run_campaign_step(conf, step, get_current_context()["params"]["force"])


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=dagkit.RUN_SLOTS,
    tags=["mu2e", "ensemble", "mixing", "mds"],
    doc_md=DOC,
    default_args=dagkit.default_args(),
    params=form.params(),
)
def mu2e_ensemble() -> None:
    validate_params = dagkit.validation_task(
        "include.mu2e.pipeline:validate_params",
        permanent=["include.mu2e.pipeline:PermanentError"],
        doc="Check the form (tag, livetime, paths, processes, conditions set) and return the campaign "
        "configuration. Never retried.",
    )

    @dagkit.unit_task()
    def normalize(conf: dict[str, Any]) -> dict[str, Any]:
        """Expected events per process (means), beam POT and both livetimes."""
        return _step(conf, "normalize")

    @dagkit.unit_task()
    def check_inputs(conf: dict[str, Any], _normalized: dict[str, Any]) -> dict[str, Any]:
        """Stage 1: campaign config from the inputs; fails with the shortfall per process."""
        return _step(conf, "campaign")

    @dagkit.unit_task()
    def build_jobs(conf: dict[str, Any], _checked: dict[str, Any]) -> list[dict[str, Any]]:
        """Per-job seeds and counts; input ranges reserved in the ledger. Returns the mapped units."""
        from include.mu2e import pipeline

        _step(conf, "jobs")
        return pipeline.job_units(conf, dict(get_current_context()["params"]))

    @task.branch
    def choose_runner(conf: dict[str, Any]) -> str:
        """art on condor: the jobs are HTCondor jobs of run_art; otherwise run_job runs them."""
        from include.mu2e import pipeline

        return "art_commands" if pipeline.art_on_condor(conf, conf["backend"]) else "run_job"

    @task
    def art_commands(conf: dict[str, Any]) -> list[dict[str, Any]]:
        """`mu2e -c mu2e.fcl` of every art job still to run, as HTCondorJobOperator arguments."""
        from include.mu2e import pipeline

        return pipeline.art_operator_kwargs(conf, get_current_context()["params"]["force"])

    @dagkit.unit_task(trigger_rule="none_failed_min_one_success")
    def record_art(conf: dict[str, Any]) -> list[dict[str, Any]]:
        """The art step of every job from its mu2e.log (counts.json, manifest); finished jobs stay."""
        from include.mu2e import pipeline

        with dagkit.permanent_errors(pipeline.PermanentError):
            return pipeline.record_art_jobs(conf, get_current_context()["params"]["force"])

    @dagkit.unit_task(trigger_rule="none_failed_min_one_success")
    def validate_ensemble(conf: dict[str, Any]) -> dict[str, Any]:
        """Counts per process within Poisson expectation; every input entry used once."""
        return _step(conf, "validate")

    @dagkit.unit_task(outlets=[ENSEMBLE])
    def summary(conf: dict[str, Any], _validated: dict[str, Any]) -> dict[str, Any]:
        """summary.csv / summary.json / summary.png of the ensemble."""
        import json
        from pathlib import Path

        context = get_current_context()
        _step(conf, "summary")
        result = json.loads((Path(conf["output_dir"]) / "summary.json").read_text())
        context["outlet_events"][ENSEMBLE].extra = {
            "tag": result["tag"],
            "output_dir": conf["output_dir"],
            "events": result["events"],
            "p_value": result["chi_square"]["p_value"],
        }
        return {"events": result["events"], "p_value": result["chi_square"]["p_value"], "rows": result["rows"]}

    conf = validate_params()
    units = build_jobs(conf, check_inputs(conf, normalize(conf)))
    runner = choose_runner(conf)
    units >> runner
    # one job on the run's backend: native mixing, or `mu2e -c` in the image (a finished job submits
    # nothing): include/core/unit_operator.py
    jobs = UnitCallOperator.partial(
        task_id="run_job",
        call="include.mu2e.orchestration:job_call",
        fresh="include.mu2e.orchestration:job_fresh",
        label="include.mu2e.orchestration:job_label",
        map_index_template="{{ unit_label }}",
    ).expand(unit=units)
    commands = art_commands(conf)
    art = HTCondorJobOperator.partial(task_id="run_art", poll_interval=2.0, request_memory_mb=1024).expand_kwargs(
        commands
    )
    recorded = record_art(conf)
    runner >> [jobs, commands]
    art >> recorded
    validated = validate_ensemble(conf)
    [jobs, recorded] >> validated
    summary(conf, validated)


mu2e_ensemble()
