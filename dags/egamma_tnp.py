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
            "",
            type="string",
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
            "",
            type="string",
            title="Binning",
            description="Binning JSON ('<var>_bins': [edges]) overriding the default binning for this run only. "
            "Empty: the defaults. " + JSON_SOURCE,
        ),
        "output": Param(
            "",
            type="string",
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
    @task
    def validate_params() -> dict[str, Any]:
        """Read and check the four configurations; decide the run folder."""
        from include.core.errors import ParamError
        from include.tnp import pipeline

        params = get_current_context()["params"]
        if params["limit"] == 0:
            raise ParamError("limit", "0 files per dataset makes no sense; use -1 for all files")
        resolved = pipeline.validate(
            params["config"], params["fileset"], params["settings"] or None, params["binning"] or None, params["limit"]
        )
        run_dir = pipeline.run_dir_for(params["output"] or pipeline.run_key(resolved))
        return {"resolved": resolved, "run_dir": str(run_dir)}

    @task
    def preprocess(validated: dict[str, Any]) -> list[dict[str, Any]]:
        """Check every file is readable (bad ones are reported) and plan the chunks."""
        from include.tnp import pipeline

        params = get_current_context()["params"]
        prepared = pipeline.prepare(
            validated["resolved"], validated["run_dir"], params["chunk_size"], params["skip_report"]
        )
        run_dir = prepared["run_dir"]
        return [{"run_dir": run_dir, "dataset": u["dataset"], "chunk": u["chunk"]} for u in prepared["units"]]

    @task(max_active_tis_per_dagrun=8)
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

    @task
    def merge(validated: dict[str, Any], chunks: list[dict[str, Any]]) -> str:
        """Sum the chunk histograms; write the reports."""
        from include.tnp import pipeline

        pipeline.merge(validated["run_dir"], get_current_context()["params"]["force"])
        return validated["run_dir"]

    @task
    def efficiencies_and_plots(run_dir: str) -> str:
        """Cut-and-count efficiencies with Clopper–Pearson errors, and their plots."""
        from include.tnp import pipeline

        pipeline.efficiencies(run_dir, get_current_context()["params"]["force"])
        return run_dir

    @task(trigger_rule="all_done", outlets=[TNP_OUTPUTS])
    def summary(validated: dict[str, Any]) -> dict[str, Any]:
        """Counts per dataset, method and filter; bad files and failed chunks."""
        from include.tnp import pipeline

        context = get_current_context()
        result = pipeline.summarize(validated["run_dir"])
        context["outlet_events"][TNP_OUTPUTS].extra = {
            "run_dir": validated["run_dir"],
            "datasets": sorted({row["dataset"] for row in result["counts"]}),
            "counts": result["counts"],
            "events_processed": result["events_processed"],
        }
        return result

    @task(trigger_rule="one_failed")
    def check() -> None:
        """Fail the run when any task failed (the summary, a leaf otherwise, succeeds and lists it)."""
        from include.core.errors import StepError

        raise StepError("egamma_tnp: a task of this run failed; see summary.json for the failed chunks")

    validated = validate_params()
    units = preprocess(validated)
    chunks = process_chunk.expand(unit=units)
    merged = merge(validated, chunks)
    plots = efficiencies_and_plots(merged)
    done = summary(validated)
    plots >> done
    [validated, units, chunks, merged, plots, done] >> check()


egamma_tnp()
