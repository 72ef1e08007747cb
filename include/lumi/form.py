"""The lumi_followup trigger form: its fields, choices and defaults (the DAG file only wires them).

Light to import (the DAG processor reads it at parse time); Airflow is imported only by
:func:`params`. :func:`include.lumi.planning.validate_form` checks a submitted form against the
same defaults.
"""

from __future__ import annotations

from typing import Any

from include.lumi.config import YEARS
from include.lumi.graph import BACKENDS, FORCE_CHOICES

MAX_FILLS = 5000
"""Fills one run may name (Run 2 had about 1,500 proton physics fills)."""
DEFAULT_YEAR = 2017
DEFAULT_SPLIT = 0
DEFAULT_REQUIRE_MASSI = True


def params() -> dict[str, Any]:
    """The form's fields (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "fills": Param(
            None,
            type=["null", "array"],
            items={"type": "integer", "minimum": 1},
            maxItems=MAX_FILLS,
            title="Fills",
            description="Fill numbers to process; empty = every new fill since the last successful run.",
        ),
        "force": dagkit.force_param(FORCE_CHOICES),
        "backend": dagkit.backend_param(choices=BACKENDS),
        "year": Param(
            DEFAULT_YEAR,
            type="integer",
            enum=list(YEARS),
            title="Year",
            description=f"Configuration year ({min(YEARS)}-{max(YEARS)}).",
        ),
        "split": Param(
            DEFAULT_SPLIT,
            type="integer",
            minimum=0,
            title="Fills per task",
            description="0: one task group per fill. K > 0: chunks of at least K fills per group (legacy --split K); "
            "on condor a chunk is one job per step.",
        ),
        "require_massi": Param(
            DEFAULT_REQUIRE_MASSI,
            type="boolean",
            title="Require Massi archives",
            description="Off: a fill without both Massi archives skips massi, lifetime, fits and model "
            "instead of failing.",
        ),
        "config_overrides": Param(
            None,
            type=["null", "object"],
            title="Configuration overrides",
            description="Keys of the year's configuration to override for this run, each with a value of the "
            'key\'s type, e.g. {"doSBModel": true}; empty: none.',
        ),
        **dagkit.condor_params(),
    }
