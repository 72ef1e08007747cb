"""E/gamma tag-and-probe efficiencies: a manually triggered production (issue 9).

validate_params -> preprocess (plan of chunks) -> process_chunk (mapped, one per chunk; one
HTCondor job per chunk on the condor backend) -> merge -> efficiencies_and_plots -> summary.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task

from include.core import dagkit
from include.core.unit_operator import UnitCallOperator
from include.tnp import form

DAG_ID = "egamma_tnp"
TNP_OUTPUTS = Asset(name="egamma_tnp_outputs", uri="file:///hep-productions/egamma_tnp")

DOC = """
### E/gamma tag-and-probe efficiencies

Measures electron and photon trigger and identification efficiencies with Z → ee tag-and-probe,
with the reference tool's four configuration files: the **runner** (workflow, workflow arguments
with the filters, and the methods to run), the **settings** (cuts; they override the workflow
arguments), the **fileset** (datasets of NanoAOD files or flat ntuples) and the **binning**. Every
input file is checked first (unreadable files are skipped and listed in the summary), files are
split into chunks of about `chunk_size` entries, each chunk is processed as its own task (on the
worker, or as one HTCondor job with the `condor` backend), chunk histograms are summed, and
cut-and-count efficiencies with Clopper–Pearson errors are computed and plotted.

Outputs go to `<output root>/egamma_tnp/<output>/<dataset>/<method>_<k>/`, named as the reference
tool names them: `<filter>_histos.pkl` (pickled `hist.Hist`), `passing_/failing_<filter>_NTuples-part<i>.parquet`,
`<filter>_report.json`, plus `<filter>_efficiencies.json` and PNG plots; `summary.json` / `summary.md`
hold the counts per dataset, method and filter. With an empty `output` the folder name is derived
from the configuration, so re-triggering the same configuration reuses finished chunks.

`validate_params` checks the form first and is never retried: a refused form fails it at once,
naming the field and the value, and nothing else runs. `check` fails the run naming every task
that failed.
"""


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=2,
    max_active_tasks=dagkit.RUN_SLOTS,
    tags=["egamma", "tag-and-probe", "efficiency", "nanoaod"],
    doc_md=DOC,
    default_args=dagkit.default_args(),
    params=form.params(),
)
def egamma_tnp() -> None:
    validate_params = dagkit.validation_task(
        "include.tnp.pipeline:validate_form",
        doc="Read and check the four configurations; decide the run folder. Never retried.",
    )

    @task
    def preprocess(validated: dict[str, Any]) -> list[dict[str, Any]]:
        """Check every file is readable (bad ones are reported) and plan the chunks."""
        from include.tnp import pipeline

        params = get_current_context()["params"]
        with dagkit.permanent_errors():  # e.g. a chunk_size giving more chunks than a run may map
            prepared = pipeline.prepare(
                validated["resolved"], validated["run_dir"], params["chunk_size"], params["skip_report"]
            )
        run = {k: validated[k] for k in ("force", "backend", "hold_policy", "request_memory_mb")}
        return [
            {"run_dir": prepared["run_dir"], "dataset": u["dataset"], "chunk": u["chunk"], **run}
            for u in prepared["units"]
        ]

    @dagkit.unit_task()
    def merge(validated: dict[str, Any], chunks: list[dict[str, Any]]) -> str:
        """Sum the chunk histograms; write the reports."""
        from include.tnp import pipeline

        pipeline.merge(validated["run_dir"], validated["force"])
        return validated["run_dir"]

    @dagkit.unit_task()
    def efficiencies_and_plots(run_dir: str) -> str:
        """Cut-and-count efficiencies with Clopper–Pearson errors, and their plots."""
        from include.tnp import pipeline

        pipeline.efficiencies(run_dir, get_current_context()["params"]["force"])
        return run_dir

    @task(outlets=[TNP_OUTPUTS])
    def summary(validated: dict[str, Any], units: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Counts per dataset, method and filter; bad files and failed chunks (runs after failed chunks too)."""
        from include.tnp import pipeline

        dagkit.upstream_result(units, "preprocess")  # no plan of this run: nothing to summarize
        context = get_current_context()
        result = pipeline.summarize(validated["run_dir"])
        context["outlet_events"][TNP_OUTPUTS].extra = {
            "run_dir": validated["run_dir"],
            "datasets": sorted({row["dataset"] for row in result["counts"]}),
            "counts": result["counts"],
            "events_processed": result["events_processed"],
        }
        return result

    @task
    def check(validated: dict[str, Any]) -> None:
        """Fail the run naming the failed tasks (the summary succeeds and lists failed chunks); else skip."""
        from include.tnp import pipeline

        dagkit.report_failures(pipeline.failure_hint(validated))

    validated = validate_params()
    units = preprocess(validated)
    # one chunk on the run's backend (a fresh chunk submits nothing): include/core/unit_operator.py
    chunks = UnitCallOperator.partial(
        task_id="process_chunk",
        call="include.tnp.orchestration:chunk_call",
        fresh="include.tnp.orchestration:chunk_fresh",
        label="include.tnp.orchestration:chunk_label",
        map_index_template="{{ unit_label }}",
    ).expand(unit=units)
    merged = merge(validated, chunks.output)
    plots = efficiencies_and_plots(merged)
    done = dagkit.fan_in(summary(validated, units), validated)
    plots >> done
    [units, chunks, merged, plots, done] >> dagkit.fan_in(check(validated), validated)


egamma_tnp()
