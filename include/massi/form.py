"""The massi_watch and lumi_reprocess trigger forms: fields, choices and defaults.

Light to import (the DAG processor reads it at parse time); Airflow is imported only by the
``*_params`` functions. :mod:`include.massi.watch` checks submitted forms against the same values.
"""

from __future__ import annotations

from typing import Any

REPROCESS_BACKENDS = ("local", "condor", "apptainer")
DEFAULT_YEARS = (2017,)
DEFAULT_SETTLE_S = 120
"""An archive younger than this must look the same on two consecutive scans."""
MAX_SETTLE_S = 86400
YEAR_RANGE = (2015, 2030)
"""Years a scan accepts at all; only those with a lumi configuration are scanned."""


def watch_params() -> dict[str, Any]:
    """The massi_watch form (``airflow.sdk.Param``)."""
    from airflow.sdk import Param

    from include.lumi.config import YEARS

    return {
        "years": Param(
            list(DEFAULT_YEARS),
            type="array",
            items={"type": "integer", "minimum": YEAR_RANGE[0], "maximum": YEAR_RANGE[1]},
            minItems=1,
            maxItems=YEAR_RANGE[1] - YEAR_RANGE[0] + 1,
            uniqueItems=True,
            title="Years",
            description="Years whose Massi folders are scanned; each needs a lumi configuration ("
            + ", ".join(map(str, YEARS))
            + ").",
        ),
        "settle_seconds": Param(
            DEFAULT_SETTLE_S,
            type="integer",
            minimum=0,
            maximum=MAX_SETTLE_S,
            title="Settle time (s)",
            description="An archive whose mtime is older than this is taken at once; a newer one must look "
            "the same on two consecutive scans (it may still be being written).",
        ),
    }


def reprocess_params() -> dict[str, Any]:
    """The lumi_reprocess form (``airflow.sdk.Param``), HTCondor section included."""
    from airflow.sdk import Param

    from include.core import dagkit

    return {
        "backend": dagkit.backend_param(choices=REPROCESS_BACKENDS),
        **dagkit.condor_params(),
        "config_overrides": Param(
            None,
            type=["null", "object"],
            title="Configuration overrides",
            description="The same overrides as the regular lumi_followup runs (otherwise the steps that "
            "depend on them re-run too); empty: none.",
        ),
    }
