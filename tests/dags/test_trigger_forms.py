"""Every DAG's trigger form can be submitted from the UI with its defaults, and every DAG starts with
dagkit's ``validate_params``; tasks that run after failures wait for it (``dagkit.fan_in``).

Each DAG's own test module runs one invalid form with ``dag.test()`` (``assert_refused_at_once``).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from dag_support import form_conf

REPO = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (REPO / "dags").glob("*.py") if not p.name.startswith("_"))
# Trigger rules that run a task after an upstream task failed: such a task must be wired with
# dagkit.fan_in (a teardown of validate_params), else it runs, and crashes, after a refused form.
RUN_AFTER_FAILURE = {"all_done", "one_failed", "one_done", "always", "all_failed"}


@pytest.fixture(scope="module")
def dags() -> dict[str, list]:
    from airflow.models import DagBag

    found = {}
    for path in DAG_FILES:
        bag = DagBag(dag_folder=str(path))
        assert not bag.import_errors, bag.import_errors
        found[path.name] = list(bag.dags.values())
    return found


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_the_untouched_form_is_valid(dags, path: Path) -> None:
    """As the UI posts it: every field has a default, no empty default is shown as required (a
    non-nullable "", [] or {}), and the whole conf passes the JSON schema."""
    for dag in dags[path.name]:
        conf = form_conf(dag)
        params = copy.deepcopy(dag.params)
        params.update(conf)
        assert params.validate() == conf


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_validate_params_comes_first_and_fan_ins_wait_for_it(dags, path: Path) -> None:
    for dag in dags[path.name]:
        assert [t.task_id for t in dag.roots] == ["validate_params"], f"{dag.dag_id}: roots {dag.roots}"
        assert dag.get_task("validate_params").retries == 0
        for task in dag.tasks:
            rule = getattr(task.trigger_rule, "value", task.trigger_rule)
            assert rule not in RUN_AFTER_FAILURE, f"{dag.dag_id}.{task.task_id}: {rule}; wire it with dagkit.fan_in"
            if rule == "all_done_setup_success":
                assert task.is_teardown and task.on_failure_fail_dagrun, f"{dag.dag_id}.{task.task_id}"
                assert "validate_params" in task.upstream_task_ids, f"{dag.dag_id}.{task.task_id}"


def _arrays_without_bound(schema: dict, where: str) -> list[str]:
    """Array schemas (at any depth) that accept any number of items."""
    found = []
    types = schema.get("type", [])
    if "array" in (types if isinstance(types, list) else [types]) and "maxItems" not in schema:
        found.append(where)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            found += _arrays_without_bound(schema[key], f"{where}.{key}")
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(key, [])):
            found += _arrays_without_bound(sub, f"{where}.{key}[{i}]")
    return found


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.name)
def test_every_list_field_has_a_bound(dags, path: Path) -> None:
    """An oversized list (a run asking for 100,000 fills) is refused by the form's schema."""
    for dag in dags[path.name]:
        unbounded = [
            hit for name in dag.params for hit in _arrays_without_bound(dag.params.get_param(name).schema, name)
        ]
        assert unbounded == [], f"{dag.dag_id}: list fields without maxItems: {unbounded}"
