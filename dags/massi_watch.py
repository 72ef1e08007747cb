"""Massi watcher: notices new or re-published luminosity archives and asks for their reprocessing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, AssetAlias, dag, task

from include.core import dagkit
from include.core.dagkit import default_args, permanent_errors
from include.massi import form

MASSI_CHANGES = Asset("lumi_massi_changes")
MASSI_CHANGE_ALIAS = AssetAlias("lumi_massi_change_events")

DOC = """
### Massi archive watcher

Every 15 minutes, scans the experiments' Massi folders (`<data root>/lumi/massi/<year>/measurements/
{ATLAS,CMS}/lumi/<fill>.tgz|zip`) and records every new, re-published (new content) and vanished
archive in the fill database (SQLite in the data root, or `HEP_FILLDB_URL`). A touch without a content
change is recorded but triggers nothing; a file still being written is taken once its size and mtime
are stable across two scans.

For every fill with a change not yet reprocessed that a successful `lumi_followup` run has
processed (a fill the follow-up has not finished is its business: the change waits for it), it
emits one event of the asset `lumi_massi_changes` with
`extra = {fill, year, experiments, changes: [{experiment, mtime, sha256, prev_mtime, prev_sha256}]}`;
that asset schedules `lumi_reprocess`. A change counts as processed only when its reprocessing
succeeded, so a failed reprocessing is announced again by the next scan: nothing is lost.

`validate_params` checks the form first (every year needs a lumi configuration) and is never
retried: a refused form fails it at once, naming the field and the value.
"""


@dag(
    dag_id="massi_watch",
    schedule="*/15 * * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    tags=["lumi", "massi", "watcher"],
    doc_md=DOC,
    default_args=default_args(),
    params=form.watch_params(),
)
def massi_watch() -> None:
    validate_params = dagkit.validation_task(
        "include.massi.watch:validate_watch_form",
        doc="Check the years (each with a lumi configuration) and the settle time. Never retried.",
    )

    @task
    def scan(settings: dict[str, Any]) -> dict[str, Any]:
        """Scan the folders and record changes; return the scan reports and every pending fill."""
        from include.massi.watch import scan_years

        with permanent_errors():
            return scan_years(settings["years"], settle_seconds=settings["settle_seconds"])

    @task(outlets=[MASSI_CHANGE_ALIAS])
    def announce(result: dict[str, Any], *, outlet_events=None) -> list[int]:
        """One asset event per fill with pending changes (what changed: old and new mtime and hash)."""
        for group in result["pending"]:
            extra = {
                "fill": group["fill"],
                "year": group["year"],
                "experiments": group["experiments"],
                "changes": [
                    {k: c[k] for k in ("experiment", "archive", "mtime", "sha256", "prev_mtime", "prev_sha256")}
                    for c in group["changes"]
                ],
            }
            outlet_events[MASSI_CHANGE_ALIAS].add(MASSI_CHANGES, extra=extra)
        waiting = [group["fill"] for group in result.get("waiting", [])]
        if waiting:
            print(f"changes of fills lumi_followup has not finished wait for it: {waiting}")
        return [group["fill"] for group in result["pending"]]

    announce(scan(validate_params()))


massi_watch()
