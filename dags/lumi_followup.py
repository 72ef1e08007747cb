"""LHC luminosity follow-up: per-fill analysis of Run-2 proton fills (daily, or on demand)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Asset, AssetAlias, dag, get_current_context, task, task_group

from include.core import dagkit
from include.core.dagkit import default_args
from include.core.unit_operator import UnitCallOperator
from include.lumi import form
from include.lumi.graph import REQUIRES
from include.lumi.orchestration import fills_label

DOC = """
### LHC luminosity follow-up

For every fill: stable-beams analysis of the beam instruments (BSRT emittances, FBCT intensities,
BQM bunch lengths, crossing angle), injection/flat-top cycle and its IBS model, calculated and
measured (Massi) bunch-by-bunch luminosity, lifetimes, exponential fits, the SB luminosity model and
the plots. Products: `<output root>/lumi_followup/fill_<N>/` (parquet + JSON, manifests beside them);
run summary: `<output root>/lumi_followup/runs/<run id>/`.

* **fills** empty: every fill of the beam-mode table that passes the selection and is newer than
  the last fill of the last successful run.
* **config_overrides**: keys of the year's configuration with values of the key's type, e.g.
  `{"doSBModel": true, "plotDpi": 100}`; an unknown key or a value of the wrong type is refused.
* **force**: re-run a step and everything downstream (a step whose products are fresh does nothing).
* **backend**: `local` (worker) or `condor` (one HTCondor job per fill and step; with **split**,
  one job per chunk and step).
* **require_massi**: a fill without both Massi archives fails its `massi` task, naming the missing
  file (the default), or, when off, skips `massi` and what needs it.

Each fill (or chunk) is one mapped task group `fill` with one task per step, in dependency order;
a failing fill fails alone. `publish` announces every finished fill as the asset
`lumi_followup_fill_<N>` (through the alias `lumi_followup_fills`). `validate_params` checks the
form first and is never retried: a refused form fails it at once, naming the field and the value,
and nothing else runs.
"""

PRODUCTS = Asset(name="lumi_followup_products", uri="file:///hep-productions/lumi_followup")
FILLS_ALIAS = AssetAlias("lumi_followup_fills")


@dag(
    dag_id="lumi_followup",
    schedule="0 7 * * *",
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=dagkit.RUN_SLOTS,
    tags=["lumi", "lhc", "production"],
    doc_md=DOC,
    default_args=default_args(),
    params=form.params(),
)
def lumi_followup() -> None:
    validate_params = dagkit.validation_task(
        "include.lumi.planning:validate_form",
        doc="Check the trigger form beyond its JSON schema (fills, overrides against the year's configuration); "
        "return the normalized parameters. Never retried.",
    )

    @task
    def plan(settings: dict[str, Any]) -> list[dict[str, Any]]:
        """The fills of this run, in batches that respect ``max_map_length``."""
        from airflow.configuration import conf

        from include.lumi.planning import batches, last_processed, selected_fills, split_chunks

        fills = settings["fills"]
        if not fills:
            fills = selected_fills(settings["config"], after=last_processed(settings["config"]["year"]))
        chunks = split_chunks(fills, settings["split"])
        max_map = conf.getint("core", "max_map_length", fallback=1024)
        if len(chunks) > max_map:  # merge neighbouring chunks to stay within the mapping limit
            chunks = [[f for chunk in group for f in chunk] for group in batches(chunks, max_map)]
        return [{**settings, "fills": chunk} for chunk in chunks]

    def step_task(step: str, unit: Any) -> UnitCallOperator:
        return UnitCallOperator(
            task_id=step,
            call="include.lumi.orchestration:step_call",
            outcome="include.lumi.orchestration:step_outcome",
            fresh="include.lumi.orchestration:step_fresh",
            label="include.lumi.orchestration:fills_label",
            options={"step": step},
            unit=unit,
            map_index_template="{{ unit_label }}",
        )

    @task(trigger_rule="none_failed", outlets=[PRODUCTS, FILLS_ALIAS], map_index_template="{{ unit_label }}")
    def publish(unit: dict[str, Any]) -> list[int]:
        """Announce each fill of the batch as an asset event (the steps it needs succeeded or were skipped)."""
        from include.settings import load_settings

        context = get_current_context()
        context["unit_label"] = fills_label(unit)
        root = load_settings().output_root / "lumi_followup"
        for fill in unit["fills"]:
            fill_asset = Asset(name=f"lumi_followup_fill_{fill}", uri=f"file://{root}/fill_{fill}")
            context["outlet_events"][FILLS_ALIAS].add(fill_asset, extra={"fill": fill, "run_id": context["run_id"]})
        return list(unit["fills"])

    @task_group(group_id="fill")
    def fill_steps(unit: dict[str, Any]) -> None:
        """The steps of one fill (or chunk) in dependency order."""
        tasks = {step: step_task(step, unit) for step in REQUIRES}
        for step, parents in REQUIRES.items():
            for parent in parents:
                tasks[parent] >> tasks[step]
        last = publish(unit)
        for step in REQUIRES:
            tasks[step] >> last

    @task
    def summary(settings: dict[str, Any], units: list[dict[str, Any]] | None) -> dict[str, Any]:
        """Table of the fills and an overview figure; the fills are followed up (for the Massi watcher),
        and when all succeeded, the last complete fill is remembered.

        Runs after failed fills too (not after a refused form). Fails (without retries) when a fill
        failed, so that the run is marked failed.
        """
        from airflow.sdk.exceptions import AirflowFailException

        from include.lumi.planning import record_run
        from include.lumi.summary import write_summary
        from include.settings import load_settings

        context = get_current_context()
        fills = sorted(f for unit in dagkit.upstream_result(units, "plan") for f in unit["fills"])
        result = write_summary(load_settings().output_root, context["run_id"], fills, settings)
        record_run(settings["config"], fills, bool(result["failed"]), context["run_id"])
        if result["failed"]:
            lines = "\n".join(f"fill {fill}: {why}" for fill, why in result["failed"].items())
            raise AirflowFailException(f"{len(result['failed'])} of {len(fills)} fills failed:\n{lines}")
        return result

    settings = validate_params()
    units = plan(settings)
    groups = fill_steps.expand(unit=units)
    dagkit.fan_in(summary(settings, units), settings).set_upstream(groups)


lumi_followup()
