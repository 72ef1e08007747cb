"""The egamma_tnp trigger form: its fields, choices and defaults (the DAG file only wires them).

Light to import (the DAG processor reads it at parse time); Airflow is imported only by
:func:`params`, so task code can use the constants without Airflow.
"""

from __future__ import annotations

from typing import Any

RUN_STEPS = ("merge", "efficiencies")
"""Run-level steps: forcing them leaves the chunks alone."""
FORCE_CHOICES = ["none", "all", "process", *RUN_STEPS]
BACKENDS = ("local", "condor", "apptainer")
DEFAULT_CONFIG = "egamma_tnp/runner.json"
DEFAULT_FILESET = "egamma_tnp/fileset.json"
DEFAULT_CHUNK_SIZE = 100_000
MAX_CHUNK_SIZE = 50_000_000
OUTPUT_PATTERN = r"^([A-Za-z0-9_][A-Za-z0-9._-]{0,127})?$"
JSON_SOURCE = (
    "A path relative to the data root (or absolute, inside it), or the JSON itself inline (text starting with '{')."
)


def params() -> dict[str, Any]:
    """The form's fields (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "config": Param(
            DEFAULT_CONFIG,
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
            DEFAULT_FILESET,
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
            pattern=OUTPUT_PATTERN,
            title="Output folder",
            description="Run folder below <output root>/egamma_tnp. Empty: run-<hash of the configuration>.",
        ),
        "backend": dagkit.backend_param(choices=BACKENDS),
        "chunk_size": Param(
            DEFAULT_CHUNK_SIZE,
            type="integer",
            minimum=1,
            maximum=MAX_CHUNK_SIZE,
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
        **dagkit.condor_params(),
    }
