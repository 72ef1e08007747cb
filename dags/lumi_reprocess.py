"""Reprocessing of the fills whose Massi archives changed (scheduled by the watcher's asset events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, dag, get_current_context, task, task_group

from include.core import dagkit
from include.core.dagkit import default_args
from include.core.unit_operator import UnitCallOperator
from include.massi import form

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
    max_active_tasks=dagkit.RUN_SLOTS // 2,
    tags=["lumi", "massi", "production"],
    doc_md=DOC,
    default_args=default_args(),
    params=form.reprocess_params(),
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

    @task
    def units(settings: dict[str, Any], groups: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from include.massi.watch import reprocess_units

        return reprocess_units(settings, groups)

    @task(map_index_template="{{ unit_label }}")
    def mark_processed(unit: dict[str, Any]) -> dict[str, Any]:
        """Mark exactly the changes the reprocessing started with as processed (after it succeeded)."""
        from include.massi.watch import mark_reprocessed, reprocess_label

        get_current_context()["unit_label"] = reprocess_label(unit)
        return mark_reprocessed(unit["group"])

    @task_group(group_id="fill")
    def fill(unit: dict[str, Any]) -> Any:
        """Reprocess one fill on the run's backend, then mark its changes processed."""
        reprocess = UnitCallOperator(
            task_id="reprocess",
            call="include.massi.watch:reprocess_call",
            outcome="include.massi.watch:reprocess_outcome",
            label="include.massi.watch:reprocess_label",
            unit=unit,
            map_index_template="{{ unit_label }}",
        )
        marked = mark_processed(unit)
        reprocess >> marked
        return marked

    @task
    def summary(groups: list[dict[str, Any]] | None) -> dict[str, Any]:
        """What was reprocessed, and what is still pending (runs after failed fills too)."""
        from include.massi.filedb import FillDB
        from include.massi.watch import filldb_url

        dagkit.upstream_result(groups, "pending")
        marked = get_current_context()["ti"].xcom_pull(task_ids="fill.mark_processed", default=[]) or []
        results = [marked] if isinstance(marked, dict) else list(marked)
        db = FillDB(filldb_url())
        try:
            still = sorted({c.fill for c in db.pending()})
        finally:
            db.close()
        return {"reprocessed": sorted(r["fill"] for r in results if r), "still_pending": still}

    settings = validate_params()
    groups = pending()
    settings >> groups
    fills = fill.expand(unit=units(settings, groups))
    dagkit.fan_in(summary(groups), settings).set_upstream(fills)


lumi_reprocess()
