"""Mu2e conditions: query SimEfficiencies2 with dbTool and pin the rows for ensemble campaigns.

validate_params -> query (logged: the command and every row) -> pin (site config, never overwritten)
-> stop rates.
"""

from __future__ import annotations

from typing import Any

from airflow.sdk import dag, task

from include.core import dagkit
from include.mu2e import form

DAG_ID = "mu2e_conditions"

DOC = """
### Mu2e conditions: pin a SimEfficiencies2 query

Ensemble normalisations need the stopped-particle rates of the conditions table `SimEfficiencies2`
(muon and pion stops per POT, the pion filter and survival weights). This DAG runs the query once,
in its own logged task, and pins the rows under a **key** in the site's versioned config
`<data root>/mu2e/conditions.yaml`; `mu2e_ensemble` then names that key in its `conditions` field,
so no campaign ever needs the database while it runs.

- **query** runs `dbTool print-run --purpose <purpose> --version <version> --run <run> --table
  SimEfficiencies2 --content` (the executable is the `HEP_MU2E_DBTOOL` setting, else `dbTool` on
  PATH), logs the command and every row, and keeps the raw output in
  `<output root>/mu2e_conditions/<key>/SimEfficiencies2.csv`.
- **pin** adds the set. Every tag the normalisation uses must be present (a misspelt or missing tag
  fails here, not as a silent zero yield later), and an existing key is never overwritten: choose a
  new key for a new query. It returns the stop rates the set gives.

**validate_params** checks the form first and is never retried. An empty **key** is
`<purpose>-<version>-<run>` (e.g. `Sim_best-v1_1-1430`). A key pinned for another query, or
shipped with the package, is refused there, before the database is asked; the same query under
its own key is queried again and pins nothing new when the rows are unchanged, so triggering the
defaults twice succeeds.

Defaults: purpose `Sim_best`, version `v1_1`, run 1430 (the Oct-2024 option is `MDC2020_best`,
`v1_1`, run 1200).
"""


@dag(
    dag_id=DAG_ID,
    schedule=None,
    catchup=False,
    max_active_runs=1,
    tags=["mu2e", "conditions", "ensemble"],
    doc_md=DOC,
    default_args=dagkit.default_args(retries=2),
    params=form.conditions_params(),
)
def mu2e_conditions() -> None:
    validate_params = dagkit.validation_task(
        "include.mu2e.conditions:validate_form",
        doc="Check the query selection and the key (derived when empty; not pinned for another query). Never retried.",
    )

    @task
    def query(form: dict[str, Any]) -> str:
        """Run the conditions query; log the command and the rows; keep the raw output."""
        from include.mu2e import conditions
        from include.settings import load_settings

        with dagkit.permanent_errors():
            rows, raw, argv = conditions.query_rows(form["purpose"], form["version"], form["run"])
        print("query:", " ".join(argv))
        for tag, row in rows.items():
            print(f"  {tag},{row.numerator:g},{row.denominator:g},{row.eff:.10g}")
        output = load_settings(airflow_variables=True).production_output(DAG_ID)
        with dagkit.permanent_errors():
            return str(conditions.keep_raw_output(output, form["key"], raw, rows))

    @task
    def pin(raw_path: str, form: dict[str, Any]) -> dict[str, Any]:
        """Pin the queried rows under the key; return the stop rates they give."""
        from pathlib import Path

        from include.mu2e import conditions

        with dagkit.permanent_errors():
            rows = conditions.rows_from_dbtool(Path(raw_path).read_text(), raw_path)
            path = conditions.pin(
                rows,
                form["key"],
                purpose=form["purpose"],
                version=form["version"],
                run=form["run"],
                description=form["description"],
            )
            rates = conditions.stop_rates(rows, source=f"{form['key']}: {form['purpose']} run {form['run']}")
        print(f"pinned {form['key']!r} in {path}")
        return {"key": form["key"], "config": str(path), **rates.to_dict()}

    form = validate_params()
    pin(query(form), form)


mu2e_conditions()
