"""``mu2e_conditions`` with ``dag.test()``: query (a stand-in dbTool: the Fermilab conditions database
cannot be reached here), pin, and an ensemble normalised with the pinned set."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path
from typing import Any

import pytest
from dag_support import REPO, load_dag, task_states

from include.mu2e.demo_dbtool import ROWS, calls, write_dbtool

DAG = ("mu2e_conditions.py", "mu2e_conditions")


def test_literals_agree_with_the_package():
    from include.mu2e import conditions

    spec = importlib.util.spec_from_file_location("mu2e_conditions_dag", REPO / "dags" / DAG[0])
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert conditions.NAME_PATTERN == module.NAME_PATTERN
    assert tuple(module.PURPOSES) == conditions.PURPOSES


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

    # the same key again: refused before the database is asked, nothing is overwritten
    pinned_bytes, raw_bytes = site.read_bytes(), raw.read_bytes()
    again = dag.test(run_conf={**conf, "run": 1200})
    assert str(again.state) == "failed"
    assert task_states(again) == {"query": ["failed"], "pin": ["upstream_failed"]}
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
    assert task_states(run) == {"query": ["success"], "pin": ["failed"]}
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
