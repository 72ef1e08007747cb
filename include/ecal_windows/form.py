"""The ecal_windows_dataset trigger form: fields, choices and defaults (the DAG file only wires them).

Light to import (the DAG processor reads it at parse time); Airflow is imported only by
:func:`params`, so task code uses the constants without Airflow.
"""

from __future__ import annotations

from typing import Any

from include.core.paths import SAFE_NAME
from include.ecal_windows.config import FLAVOURS, SEED_GEN_CHECKS, STRATEGIES, WINDOW_VERSIONS

WP_FORMATS = ("correctionlib", "root_th2")
PARQUET_COMPRESSIONS = ("zstd", "snappy")
BACKENDS = ("local", "condor", "apptainer")
MAX_GROUPS = 1024  # Airflow's max_map_length
RUN_KEYS = ("backend", "hold_policy", "on_memory_hold", "request_memory_mb")
"""Form fields about how the run runs, not what it computes (not in the dataset's parameters)."""

DEFAULTS: dict[str, Any] = {
    "input_dir": "ecal_windows/electrons",
    "files_per_group": 25,
    "assoc_strategy": "sim_fraction",
    "wp_file": "ecal_windows/electrons/simfraction_electron_run3_PU65.json",
    "wp_format": "correctionlib",
    "maxnocalow": 0,
    "min_et_seed": 1.0,
    "overlap": False,
    "pu_limit": 1e6,
    "do_pu_sim": False,
    "window_version": "v3",
    "seed_gen_check": "readme",
    "random_seed": 0,
    "flavour": 11,
    "compress": True,
    "parquet_compression": "zstd",
    "features_file": None,  # None or "": the packaged default
    "output_dir": "electrons",
    "redo": False,
}


def params() -> dict[str, Any]:
    """The form's fields (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "input_dir": Param(
            DEFAULTS["input_dir"],
            type="string",
            minLength=1,
            title="Input folder",
            description="Folder of dumper ROOT files, searched recursively for *.root; relative to (and inside) "
            "the data root.",
        ),
        "files_per_group": Param(
            DEFAULTS["files_per_group"],
            type="integer",
            minimum=1,
            maximum=1000,
            title="Files per group",
            description="Dumper files per windows job (nfile_group; production used 25, 50 in 2022). Job ids "
            "start at 1; the last partial group is an extra job.",
        ),
        "assoc_strategy": Param(
            DEFAULTS["assoc_strategy"],
            type="string",
            enum=list(STRATEGIES),
            title="Association strategy",
            description="Cluster-to-caloparticle score branch pfCluster_<strategy>. Only sim_fraction is "
            "meaningful; the others are accepted for compatibility (some are lower-is-better).",
        ),
        "wp_file": Param(
            DEFAULTS["wp_file"],
            type="string",
            minLength=1,
            title="Working-point file",
            description="Sim-fraction thresholds by raw seed Et and |seed eta|: correctionlib JSON with the "
            "correction simfraction_thres (or a legacy ROOT TH2 with wp_format root_th2); inside the data root.",
        ),
        "wp_format": Param(
            DEFAULTS["wp_format"],
            type="string",
            enum=list(WP_FORMATS),
            title="Working-point format",
            description="correctionlib: schema-v2 JSON (default); root_th2: TH2F h2_Minimum_simScore_seedBins.",
        ),
        "maxnocalow": Param(
            DEFAULTS["maxnocalow"],
            type="integer",
            minimum=0,
            maximum=1000,
            title="Max no-calo windows",
            description="Unmatched windows sampled per event beyond as many as matched ones; 0 keeps matched "
            "windows only (production used 4 with overlap).",
        ),
        "min_et_seed": Param(
            DEFAULTS["min_et_seed"],
            type="number",
            minimum=0,
            maximum=1000,
            title="Minimum seed Et (GeV)",
            description="Seeds need at least this calibrated Et.",
        ),
        "overlap": Param(
            DEFAULTS["overlap"],
            type="boolean",
            title="Overlapping windows",
            description="If true, a cluster inside an existing window still seeds its own window.",
        ),
        "pu_limit": Param(
            DEFAULTS["pu_limit"],
            type="number",
            minimum=0,
            title="PU limit",
            description="Clusters with PU/signal sim energy at or above this are not in the supercluster; "
            "inert unless do_pu_sim.",
        ),
        "do_pu_sim": Param(
            DEFAULTS["do_pu_sim"],
            type="boolean",
            title="Read pileup branches",
            description="Read the pileup and noise branches; without it every PU/noise field is 0.",
        ),
        "window_version": Param(
            DEFAULTS["window_version"],
            type="string",
            enum=list(WINDOW_VERSIONS),
            title="Window version",
            description="v3 (default) or v2 (2022-compatible: narrower endcap window towards the barrel).",
        ),
        "seed_gen_check": Param(
            DEFAULTS["seed_gen_check"],
            type="string",
            enum=list(SEED_GEN_CHECKS),
            title="Seed gen-position check",
            description="readme: the calo's gen position must be inside the seed window (documented intent); "
            "legacy: no check, to reproduce existing datasets.",
        ),
        "random_seed": Param(
            DEFAULTS["random_seed"],
            type="integer",
            minimum=0,
            maximum=2**31 - 1,
            title="Random seed",
            description="Base seed of the unmatched-window sampling (with run, lumi, event).",
        ),
        "flavour": Param(
            DEFAULTS["flavour"],
            type="integer",
            enum=list(FLAVOURS),
            title="Flavour",
            description="Particle flavour written into window_metadata: 11 electrons, 22 photons.",
        ),
        "compress": Param(
            DEFAULTS["compress"],
            type="boolean",
            title="Compress ndjson",
            description="Write the windows as gzip (.ndjson.gz, reproducible bytes); false: plain .ndjson.",
        ),
        "parquet_compression": Param(
            DEFAULTS["parquet_compression"],
            type="string",
            enum=list(PARQUET_COMPRESSIONS),
            title="Parquet compression",
            description="zstd (default) or snappy (the legacy awkward default).",
        ),
        "features_file": Param(
            DEFAULTS["features_file"],
            type=["null", "string"],
            title="Features definition",
            description="features_definition.json with the feature groups; empty: the packaged default "
            "(cl_features, cl_metadata, cl_labels, seed_*, window_*, hits indices).",
        ),
        "output_dir": Param(
            DEFAULTS["output_dir"],
            type="string",
            pattern=SAFE_NAME,
            title="Dataset name",
            description="Name of the dataset folder below <output root>/ecal_windows_dataset/.",
        ),
        "redo": Param(
            DEFAULTS["redo"],
            type="boolean",
            title="Redo",
            description="Rebuild every group, the finalize step and the summary even if they are up to date.",
        ),
        "backend": dagkit.backend_param(choices=BACKENDS),
        **dagkit.condor_params(),
    }
