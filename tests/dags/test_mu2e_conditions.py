"""``mu2e_conditions`` with ``dag.test()``: query (a stand-in dbTool: the Fermilab conditions database
cannot be reached here), pin, and an ensemble normalised with the pinned set."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from dag_support import REPO, assert_refused_at_once, form_conf, load_dag, task_states

from include.mu2e.demo_dbtool import ROWS, calls, write_dbtool

DAG = ("mu2e_conditions.py", "mu2e_conditions")


def test_form_choices_are_the_packages():
    from include.mu2e import conditions

    dag = load_dag(*DAG, None)
    assert dag.params.get_param("purpose").schema["enum"] == list(conditions.PURPOSES)
    assert "PURPOSES =" not in (REPO / "dags" / DAG[0]).read_text()


@pytest.mark.parametrize(
    ("name", "value"),
    [("key", "a b"), ("key", "x;rm -rf /"), ("purpose", "Whatever"), ("run", 0), ("version", "$(id)")],
)
def test_form_rejects_invalid_values(name: str, value: Any):
    from airflow.sdk.exceptions import ParamValidationError

    params = copy.deepcopy(load_dag(*DAG, None).params)
    params["key"] = "ok"
    with pytest.raises(ParamValidationError, match=f"Invalid input for param {name}"):
        params[name] = value
        params.validate()


def test_the_form_defaults_pin_under_a_derived_key_and_a_repeat_succeeds(
    roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from include.mu2e import conditions

    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(write_dbtool(tmp_path / "bin")))
    dag = load_dag(*DAG)
    conf = form_conf(dag)  # key and description empty
    assert (conf["key"], conf["description"]) == (None, None)
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", task_states(run)
    rows, meta = conditions.pinned("Sim_best-v1_1-1430")
    assert set(rows) == set(ROWS) and meta["description"] == "SimEfficiencies2 Sim_best v1_1 run 1430"
    site = roots[0] / "mu2e" / "conditions.yaml"
    raw = roots[1] / "mu2e_conditions" / "Sim_best-v1_1-1430" / "SimEfficiencies2.csv"
    before = (site.read_bytes(), site.stat().st_mtime_ns, raw.stat().st_mtime_ns)

    again = dag.test(run_conf=conf)  # the same query: queried again, nothing new to pin
    assert str(again.state) == "success", task_states(again)
    assert len(calls(tmp_path / "bin")) == 2
    assert (site.read_bytes(), site.stat().st_mtime_ns, raw.stat().st_mtime_ns) == before


@pytest.mark.parametrize(
    ("conf", "field", "problem"),
    [
        ({"key": "spec-example"}, "key", "'spec-example' is already pinned in"),
        ({"key": "spec-example", "run": 1200}, "key", "(Sim_best v1_1 run 1430)"),
        ({"version": "v1;1"}, "version", "'v1;1' is not a conditions-DB name"),
        ({"purpose": "Sim_best", "version": "v" * 64}, "key", "is not a plain name"),
        ({"description": "x" * 201}, "description", "at most 200 characters"),
    ],
)
def test_form_problems_name_the_field(roots: tuple[Path, Path], conf: dict, field: str, problem: str):
    from include.core.errors import ParamError
    from include.mu2e import conditions

    with pytest.raises(ParamError) as caught:
        conditions.validate_form({**form_conf(load_dag(*DAG, None)), **conf})
    assert caught.value.param == field and problem in str(caught.value)


def test_a_shipped_key_fails_the_first_task_at_once(roots: tuple[Path, Path], tmp_path: Path, monkeypatch, capfd):
    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(write_dbtool(tmp_path / "bin")))
    dag = load_dag(*DAG, retries=None)  # the DAG's own retries
    states = assert_refused_at_once(dag, {"key": "spec-example"}, "key", "'spec-example' is already pinned", capfd)
    assert states == {"validate_params": ["failed"], "query": ["upstream_failed"], "pin": ["upstream_failed"]}
    assert calls(tmp_path / "bin") == []  # the database was not asked


def test_query_pin_and_normalise_with_the_set(
    roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from include.mu2e import conditions
    from include.mu2e.normalizations import Normalization, NormParams

    data, output = roots
    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(write_dbtool(tmp_path / "bin")))
    dag = load_dag(*DAG)
    conf = {"key": "MDC2025-Sim_best-1430", "purpose": "Sim_best", "version": "v1_1", "run": 1430}
    run = dag.test(run_conf=conf)
    assert str(run.state) == "success", task_states(run)
    assert calls(tmp_path / "bin") == [conditions.query_command("Sim_best", "v1_1", 1430, "")[1:]]
    raw = output / "mu2e_conditions" / "MDC2025-Sim_best-1430" / "SimEfficiencies2.csv"
    assert raw.read_text().count("\n") == len(ROWS) + 2
    site = data / "mu2e" / "conditions.yaml"
    rows, meta = conditions.pinned("MDC2025-Sim_best-1430")
    assert {tag: (r.numerator, r.denominator, r.eff) for tag, r in rows.items()} == {
        tag: tuple(map(float, v)) for tag, v in ROWS.items()
    }
    assert (meta["purpose"], meta["version"], meta["run"]) == ("Sim_best", "v1_1", 1430)
    norm = Normalization(NormParams(livetime_s=3600, conditions="MDC2025-Sim_best-1430"))
    assert norm.n_mu_stops / norm.n_pot == pytest.approx(0.00432 * 3.6111e-4 * 1000)
    assert norm.rates.ipa_mu_stops_per_pot == pytest.approx(0.00432 * 2.05e-5)

    # the same key for another query: refused before the database is asked, nothing is overwritten
    pinned_bytes, raw_bytes = site.read_bytes(), raw.read_bytes()
    again = dag.test(run_conf={**conf, "run": 1200})
    assert str(again.state) == "failed"
    assert task_states(again) == {
        "validate_params": ["failed"],
        "query": ["upstream_failed"],
        "pin": ["upstream_failed"],
    }
    assert len(calls(tmp_path / "bin")) == 1
    assert (site.read_bytes(), raw.read_bytes()) == (pinned_bytes, raw_bytes)


def test_a_query_without_a_required_tag_pins_nothing(
    roots: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from include.mu2e import conditions

    rows = {tag: v for tag, v in ROWS.items() if tag != "IPAStopsCat"}
    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(write_dbtool(tmp_path / "bin", rows=rows)))
    run = load_dag(*DAG, retries=None).test(run_conf={"key": "incomplete"})
    assert str(run.state) == "failed"
    assert task_states(run) == {"validate_params": ["success"], "query": ["success"], "pin": ["failed"]}
    assert "incomplete" not in conditions.known_sets()
    assert not (roots[0] / "mu2e" / "conditions.yaml").exists()


def test_the_demo_stand_in_is_named_in_the_query_log(
    roots: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    from include.mu2e import conditions
    from include.mu2e.demo_dbtool import DEMO_PATH

    tool = write_dbtool(roots[0] / "mu2e" / DEMO_PATH.parent, log_calls=False)  # as include.mu2e.demo does
    monkeypatch.setenv("HEP_MU2E_DBTOOL", str(tool))
    with caplog.at_level("WARNING"):
        run = load_dag(*DAG).test(run_conf={"key": "demo-1430"})
    assert str(run.state) == "success", task_states(run)
    assert f"demo stand-in dbTool {tool}" in caplog.text
    assert set(conditions.pinned("demo-1430")[0]) == set(ROWS)
