"""ECAL SuperCluster training dataset (issue 8): dumper files -> windows per group (mapped) -> parquet
per group (mapped) -> finalize -> summary."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task, task_group

from include.core import dagkit
from include.core.unit_operator import UnitCallOperator
from include.ecal_windows import form

DAG_ID = "ecal_windows_dataset"
DATASET = Asset(name="ecal_windows_dataset", uri="file:///hep-productions/ecal_windows_dataset")

DOC = """
### ECAL SuperCluster training dataset (DeepSC windows)

Turns a folder of ECAL dumper files (`recosimdumper/caloTree`) into a finalized parquet dataset
of training windows. **list inputs** sorts the `*.root` files below the input folder, opens each
one and refuses unreadable or incomplete files (listed with the reason in `inputs_report.json`;
the rest of the dataset is still produced), then splits them into groups of `files_per_group`.
**windows** (mapped over groups, on the worker or as HTCondor jobs) runs the vectorized window
algorithm: seeds by calibrated Et, windows sized by the seed eta (v3, or v2), calo matching with
the sim-fraction working point (correctionlib JSON), overlap or not, the no-calo window sample
and the PU limit; it writes `clusters_data_<job>.ndjson.gz` (gzip, one window per line),
`.meta.csv` and a provenance sidecar. **parquet** converts each group to `records_<job>.parquet`
with the fixed explicit schema; **finalize** checks one schema across the folder and writes
`_common_metadata`, `_metadata` and `dataset_metadata.txt`; **summary** counts windows per flavour
and eta region and draws control plots. Outputs: `<output root>/ecal_windows_dataset/<output_dir>/`.
Window ids and samples derive from (run, lumi, event, seed cluster) and `random_seed`, so the same
inputs give byte-identical files. Re-triggering skips finished groups; `redo` rebuilds them.
`validate_params` checks the form first and is never retried: a refused form fails it at once,
naming the field and the value, and nothing else runs.
"""


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    max_active_tasks=dagkit.RUN_SLOTS,
    tags=["ecal", "egamma", "deepsc", "training-dataset", "parquet"],
    doc_md=DOC,
    default_args=dagkit.default_args(),
    params=form.params(),
)
def ecal_windows_dataset() -> None:
    validate_params = dagkit.validation_task(
        "include.ecal_windows.pipeline:validate_form",
        doc="Check the form (paths inside the data root, WP and features files, options). Never retried.",
    )

    @task
    def list_inputs(conf: dict[str, Any]) -> list[dict[str, Any]]:
        """Sorted, checked input files; unreadable ones reported and skipped. Returns the groups."""
        from include.core.errors import ParamError
        from include.ecal_windows import pipeline

        params = conf["params"]
        with dagkit.permanent_errors():
            listing = pipeline.list_inputs(params)
            if not listing["groups"]:
                problem = f"no readable dumper file below {params['input_dir']}: {listing['bad']}"
                raise ParamError("input_dir", problem)
            if len(listing["groups"]) > form.MAX_GROUPS:
                raise ParamError("files_per_group", f"{len(listing['groups'])} groups exceed {form.MAX_GROUPS}")
        return [{**group, **conf} for group in listing["groups"]]

    def group_step(task_id: str, step: str, unit: Any) -> UnitCallOperator:
        """One step of a file group on the run's backend (a fresh step submits nothing)."""
        return UnitCallOperator(
            task_id=task_id,
            call="include.ecal_windows.orchestration:group_call",
            fresh="include.ecal_windows.orchestration:group_fresh",
            label="include.ecal_windows.orchestration:group_label",
            options={"step": step},
            unit=unit,
            map_index_template="{{ unit_label }}",
        )

    def _form() -> dict[str, Any]:
        """The validated form, re-read in the fan-in tasks (they must not depend on validate_params
        directly: its success alone would let them run after list_inputs failed)."""
        from include.ecal_windows import pipeline

        params = dict(get_current_context()["params"])
        with dagkit.permanent_errors():
            return pipeline.validate_params(params)

    @dagkit.unit_task(trigger_rule="all_done_min_one_success")
    def finalize(groups: list[dict[str, Any]]) -> dict[str, Any]:
        """One schema across the folder; _common_metadata, _metadata, dataset_metadata.txt (runs even if
        a group failed, so the other groups still make a dataset)."""
        from include.ecal_windows import pipeline

        with dagkit.permanent_errors():
            result = pipeline.finalize_dataset(_form())
        return {k: result[k] for k in ("files", "rows", "folder")}

    @dagkit.unit_task(trigger_rule="all_done_min_one_success", outlets=[DATASET])
    def summary(groups: list[dict[str, Any]]) -> dict[str, Any]:
        """Windows per flavour and eta region, control plots; fails listing groups that failed."""
        from airflow.sdk.exceptions import AirflowFailException

        from include.ecal_windows import pipeline

        context = get_current_context()
        conf = _form()
        with dagkit.permanent_errors():
            result = pipeline.summarize_dataset(conf, [g["job"] for g in groups])
        context["outlet_events"][DATASET].extra = {
            "output_dir": conf["output_dir"],
            "windows": result["windows"],
            "refused_inputs": len(result["bad_inputs"]),
        }
        if result["failed_groups"]:
            failed = result["failed_groups"]
            raise AirflowFailException(f"groups without parquet output: {failed} (see the windows/to_parquet logs)")
        keys = ("windows", "matched", "unmatched", "per_flavour_region", "bad_inputs")
        return {k: result[k] for k in keys}

    @task_group(group_id="file_group")
    def file_group(unit: dict[str, Any]) -> Any:
        """One file group: windows, then its parquet file (a failed group does not stop the others)."""
        return group_step("windows", "windows", unit) >> group_step("to_parquet", "parquet", unit)

    conf = validate_params()
    groups = list_inputs(conf)
    made = file_group.expand(unit=groups)
    done = finalize(groups)
    made >> done
    done >> summary(groups)


ecal_windows_dataset()
