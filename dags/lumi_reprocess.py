"""Reprocessing of the fills whose Massi archives changed (scheduled by the watcher's asset events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, Param, dag, task

from include.core import dagkit
from include.core.dagkit import backend_param, default_args

MASSI_CHANGES = Asset("lumi_massi_changes")

DOC = """
### Reprocessing after Massi changes

Runs when `massi_watch` announces changed Massi archives (asset `lumi_massi_changes`), or by hand.
It reads the pending changes from the fill database (the record of truth, not the events), and for
each fill re-runs the luminosity follow-up's stale steps: the new archive content makes `massi`
stale and with it everything downstream (lifetime, fits, SB model, their plots). Fills that no
successful `lumi_followup` run has processed yet are left to it (their changes wait, pending, until
one has). Replaced products are kept with a dated suffix (`_<YYYYMMDD>`). Only after a fill
succeeded are its changes marked processed; a failed fill stays pending and is retried after the
next scan.

`validate_params` checks the form first (the overrides against the configuration of every year) and
is never retried: a refused form fails it at once, naming the field and the value, before any fill
is touched.
"""


@dag(
    dag_id="lumi_reprocess",
    schedule=[MASSI_CHANGES],
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumi", "massi", "production"],
    doc_md=DOC,
    default_args=default_args(),
    params={
        "backend": backend_param(choices=("local", "condor")),
        "config_overrides": Param(
            None,
            type=["null", "object"],
            title="Configuration overrides",
            description="The same overrides as the regular lumi_followup runs (otherwise the steps that "
            "depend on them re-run too); empty: none.",
        ),
    },
)
def lumi_reprocess() -> None:
    validate_params = dagkit.validation_task(
        "include.massi.watch:validate_reprocess_form",
        doc="Check the backend and the configuration overrides (keys, types, values for every year). Never retried.",
    )

    @task
    def pending() -> list[dict[str, Any]]:
        """Every fill with Massi changes not yet processed that a successful lumi_followup run has processed."""
        from include.massi.watch import pending_reprocessing

        return pending_reprocessing()

    @dagkit.unit_task(max_active_tis_per_dagrun=4)
    def reprocess(settings: dict[str, Any], group: dict[str, Any]) -> dict[str, Any]:
        """Reprocess one fill, then mark exactly the changes it started with as processed."""
        from include.massi.watch import reprocess_fill

        return reprocess_fill(group, backend=settings["backend"], config_overrides=settings["config_overrides"])

    @task
    def summary(groups: list[dict[str, Any]] | None, results: list[dict[str, Any]]) -> dict[str, Any]:
        """What was reprocessed, and what is still pending (runs after failed fills too)."""
        from include.massi.filedb import FillDB
        from include.massi.watch import filldb_url

        dagkit.upstream_result(groups, "pending")
        db = FillDB(filldb_url())
        try:
            still = sorted({c.fill for c in db.pending()})
        finally:
            db.close()
        return {"reprocessed": sorted(r["fill"] for r in results if r), "still_pending": still}

    settings = validate_params()
    groups = pending()
    settings >> groups
    results = reprocess.partial(settings=settings).expand(group=groups)
    dagkit.fan_in(summary(groups, results), settings)


lumi_reprocess()
