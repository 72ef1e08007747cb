"""E/gamma tag-and-probe efficiencies: a manually triggered production (issue 9).

validate_params -> preprocess (plan of chunks) -> process_chunk (mapped, one per chunk; one
HTCondor job per chunk on the condor backend) -> merge -> efficiencies_and_plots -> summary.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task

from include.core import dagkit

DAG_ID = "egamma_tnp"
FORCE_CHOICES = ["none", "all", "process", "merge", "efficiencies"]
TNP_OUTPUTS = Asset(name="egamma_tnp_outputs", uri="file:///hep-productions/egamma_tnp")
JSON_SOURCE = (
    "A path relative to the data root (or absolute, inside it), or the JSON itself inline (text starting with '{')."
)

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
    tags=["egamma", "tag-and-probe", "efficiency", "nanoaod"],
    doc_md=DOC,
    default_args=dagkit.default_args(),
    params={
        "config": Param(
            "egamma_tnp/runner.json",
            type="string",
            minLength=1,
            title="Runner configuration",
            description="Runner JSON: workflow, workflow_args (filters, trigger_pt, filterbit, ...) and methods. "
            + JSON_SOURCE,
        ),
        "settings": Param(
            None,
            type=["null", "string"],
            title="Settings",
            description="Settings JSON (cuts; they override workflow_args). Empty: the packaged defaults. "
            + JSON_SOURCE,
        ),
        "fileset": Param(
            "egamma_tnp/fileset.json",
            type="string",
            minLength=1,
            title="Fileset",
            description="Fileset JSON (optionally gzipped): {dataset: {files: {path: tree}, metadata: {...}}}. "
            "Relative file paths are taken from the fileset's folder and must stay inside the data root. "
            + JSON_SOURCE,
        ),
        "binning": Param(
            None,
            type=["null", "string"],
            title="Binning",
            description="Binning JSON ('<var>_bins': [edges]) overriding the default binning for this run only. "
            "Empty: the defaults. " + JSON_SOURCE,
        ),
        "output": Param(
            None,
            type=["null", "string"],
            pattern=r"^([A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$",
            title="Output folder",
            description="Run folder below <output root>/egamma_tnp. Empty: run-<hash of the configuration>.",
        ),
        "backend": dagkit.backend_param(choices=("local", "condor")),
        "chunk_size": Param(
            100_000,
            type="integer",
            minimum=1,
            maximum=50_000_000,
            title="Chunk size",
            description="Entries per chunk (files are split into chunks of about equal entries; at most 1024 chunks).",
        ),
        "limit": Param(
            -1,
            type="integer",
            minimum=-1,
            title="File limit",
            description="Process only the first N files of every dataset; -1 means all files (0 is refused).",
        ),
        "skip_report": Param(
            False, type="boolean", title="Skip reports", description="Do not write the per-method report JSON files."
        ),
        "force": dagkit.force_param(FORCE_CHOICES),
    },
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
        run_dir = prepared["run_dir"]
        return [{"run_dir": run_dir, "dataset": u["dataset"], "chunk": u["chunk"]} for u in prepared["units"]]

    @dagkit.unit_task(max_active_tis_per_dagrun=8)
    def process_chunk(unit: dict[str, Any]) -> dict[str, Any]:
        """One chunk on the chosen backend (a fresh chunk is not recomputed)."""
        from include.core.backends import TaskCall, run_call

        params = get_current_context()["params"]
        backend = params["backend"]
        call = TaskCall(
            "include.tnp.pipeline:process_chunk",
            {**unit, "force": params["force"], "backend": backend},
        )
        return run_call(call, backend)

    @dagkit.unit_task()
    def merge(validated: dict[str, Any], chunks: list[dict[str, Any]]) -> str:
        """Sum the chunk histograms; write the reports."""
        from include.tnp import pipeline

        pipeline.merge(validated["run_dir"], get_current_context()["params"]["force"])
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
    chunks = process_chunk.expand(unit=units)
    merged = merge(validated, chunks)
    plots = efficiencies_and_plots(merged)
    done = dagkit.fan_in(summary(validated, units), validated)
    plots >> done
    [units, chunks, merged, plots, done] >> dagkit.fan_in(check(validated), validated)


egamma_tnp()
