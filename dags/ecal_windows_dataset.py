"""ECAL SuperCluster training dataset (issue 8): dumper files -> windows per group (mapped) -> parquet
per group (mapped) -> finalize -> summary."""

from __future__ import annotations

from typing import Any

from airflow.sdk import Asset, Param, dag, get_current_context, task, task_group

from include.core import dagkit

DAG_ID = "ecal_windows_dataset"
MAX_GROUPS = 1024  # max_map_length
# Literal copies (parsing imports nothing heavy); tests/dags/test_ecal_windows_dataset.py checks
# they agree with include.ecal_windows.config and include.ecal_windows.pipeline.
STRATEGIES = [
    "sim_fraction",
    "sim_fraction_noHitsFraction",
    "sim_nSharedXtals",
    "simEnergy_sharedXtals",
    "recoEnergy_sharedXtals",
    "recoToSim_fraction",
    "recoToSim_fraction_sharedXtals",
    "dR_simScore",
    "dR_genScore",
]
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
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
    tags=["ecal", "egamma", "deepsc", "training-dataset", "parquet"],
    doc_md=DOC,
    default_args=dagkit.default_args(),
    params={
        "input_dir": Param(
            "ecal_windows/electrons",
            type="string",
            minLength=1,
            title="Input folder",
            description="Folder of dumper ROOT files, searched recursively for *.root; relative to (and inside) "
            "the data root.",
        ),
        "files_per_group": Param(
            25,
            type="integer",
            minimum=1,
            maximum=1000,
            title="Files per group",
            description="Dumper files per windows job (nfile_group; production used 25, 50 in 2022). Job ids "
            "start at 1; the last partial group is an extra job.",
        ),
        "assoc_strategy": Param(
            "sim_fraction",
            type="string",
            enum=STRATEGIES,
            title="Association strategy",
            description="Cluster-to-caloparticle score branch pfCluster_<strategy>. Only sim_fraction is "
            "meaningful; the others are accepted for compatibility (some are lower-is-better).",
        ),
        "wp_file": Param(
            "ecal_windows/electrons/simfraction_electron_run3_PU65.json",
            type="string",
            minLength=1,
            title="Working-point file",
            description="Sim-fraction thresholds by raw seed Et and |seed eta|: correctionlib JSON with the "
            "correction simfraction_thres (or a legacy ROOT TH2 with wp_format root_th2); inside the data root.",
        ),
        "wp_format": Param(
            "correctionlib",
            type="string",
            enum=["correctionlib", "root_th2"],
            title="Working-point format",
            description="correctionlib: schema-v2 JSON (default); root_th2: TH2F h2_Minimum_simScore_seedBins.",
        ),
        "maxnocalow": Param(
            0,
            type="integer",
            minimum=0,
            maximum=1000,
            title="Max no-calo windows",
            description="Unmatched windows sampled per event beyond as many as matched ones; 0 keeps matched "
            "windows only (production used 4 with overlap).",
        ),
        "min_et_seed": Param(
            1.0,
            type="number",
            minimum=0,
            maximum=1000,
            title="Minimum seed Et (GeV)",
            description="Seeds need at least this calibrated Et.",
        ),
        "overlap": Param(
            False,
            type="boolean",
            title="Overlapping windows",
            description="If true, a cluster inside an existing window still seeds its own window.",
        ),
        "pu_limit": Param(
            1e6,
            type="number",
            minimum=0,
            title="PU limit",
            description="Clusters with PU/signal sim energy at or above this are not in the supercluster; "
            "inert unless do_pu_sim.",
        ),
        "do_pu_sim": Param(
            False,
            type="boolean",
            title="Read pileup branches",
            description="Read the pileup and noise branches; without it every PU/noise field is 0.",
        ),
        "window_version": Param(
            "v3",
            type="string",
            enum=["v3", "v2"],
            title="Window version",
            description="v3 (default) or v2 (2022-compatible: narrower endcap window towards the barrel).",
        ),
        "seed_gen_check": Param(
            "readme",
            type="string",
            enum=["readme", "legacy"],
            title="Seed gen-position check",
            description="readme: the calo's gen position must be inside the seed window (documented intent); "
            "legacy: no check, to reproduce existing datasets.",
        ),
        "random_seed": Param(
            0,
            type="integer",
            minimum=0,
            maximum=2**31 - 1,
            title="Random seed",
            description="Base seed of the unmatched-window sampling (with run, lumi, event).",
        ),
        "flavour": Param(
            11,
            type="integer",
            enum=[11, 22],
            title="Flavour",
            description="Particle flavour written into window_metadata: 11 electrons, 22 photons.",
        ),
        "compress": Param(
            True,
            type="boolean",
            title="Compress ndjson",
            description="Write the windows as gzip (.ndjson.gz, reproducible bytes); false: plain .ndjson.",
        ),
        "parquet_compression": Param(
            "zstd",
            type="string",
            enum=["zstd", "snappy"],
            title="Parquet compression",
            description="zstd (default) or snappy (the legacy awkward default).",
        ),
        "features_file": Param(
            None,
            type=["null", "string"],
            title="Features definition",
            description="features_definition.json with the feature groups; empty: the packaged default "
            "(cl_features, cl_metadata, cl_labels, seed_*, window_*, hits indices).",
        ),
        "output_dir": Param(
            "electrons",
            type="string",
            pattern=SAFE_NAME,
            title="Dataset name",
            description="Name of the dataset folder below <output root>/ecal_windows_dataset/.",
        ),
        "redo": Param(
            False,
            type="boolean",
            title="Redo",
            description="Rebuild every group, the finalize step and the summary even if they are up to date.",
        ),
        "backend": dagkit.backend_param(choices=("local", "condor")),
    },
)
def ecal_windows_dataset() -> None:
    validate_params = dagkit.validation_task(
        "include.ecal_windows.pipeline:validate_params",
        doc="Check the form (paths inside the data root, WP and features files, options). Never retried.",
    )

    @task
    def list_inputs(conf: dict[str, Any]) -> list[dict[str, Any]]:
        """Sorted, checked input files; unreadable ones reported and skipped. Returns the groups."""
        from include.core.errors import ParamError
        from include.ecal_windows import pipeline

        with dagkit.permanent_errors():
            listing = pipeline.list_inputs(conf)
            if not listing["groups"]:
                problem = f"no readable dumper file below {conf['input_dir']}: {listing['bad']}"
                raise ParamError("input_dir", problem)
            if len(listing["groups"]) > MAX_GROUPS:
                raise ParamError("files_per_group", f"{len(listing['groups'])} groups exceed {MAX_GROUPS}")
        return listing["groups"]

    def _run(conf: dict[str, Any], unit: dict[str, Any], step: str) -> dict[str, Any]:
        from include.core.backends import TaskCall, run_call
        from include.ecal_windows import pipeline

        backend = get_current_context()["params"]["backend"]
        kwargs = {"params": conf, "job": unit["job"], "files": unit["files"], "steps": [step]}
        kwargs.update(roots=pipeline.current_roots(), backend=backend)
        call = TaskCall("include.ecal_windows.pipeline:run_group", kwargs)
        result = run_call(call, backend)
        return {"job": result["job"], "files": result["files"], "steps": result["steps"]}

    @dagkit.unit_task(max_active_tis_per_dagrun=8)
    def windows(conf: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
        """Windows of one group as gzip ndjson + metadata CSV (skipped if up to date)."""
        return _run(conf, unit, "windows")

    @dagkit.unit_task(max_active_tis_per_dagrun=8)
    def to_parquet(conf: dict[str, Any], unit: dict[str, Any]) -> dict[str, Any]:
        """records_<job>.parquet with the explicit schema (skipped if up to date)."""
        return _run(conf, unit, "parquet")

    def _form() -> dict[str, Any]:
        """The validated form, re-read in the fan-in tasks (they must not depend on validate_params
        directly: its success alone would let them run after list_inputs failed)."""
        from include.ecal_windows import pipeline

        params = dict(get_current_context()["params"])
        with dagkit.permanent_errors():
            return pipeline.validate_params({k: v for k, v in params.items() if k != "backend"})

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
    def file_group(conf: dict[str, Any], unit: dict[str, Any]) -> Any:
        """One file group: windows, then its parquet file (a failed group does not stop the others)."""
        return to_parquet(conf, windows(conf, unit))

    conf = validate_params()
    groups = list_inputs(conf)
    made = file_group.partial(conf=conf).expand(unit=groups)
    done = finalize(groups)
    made >> done
    done >> summary(groups)


ecal_windows_dataset()
