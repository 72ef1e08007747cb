"""A new user's first hour, as the README invites it: ``./scripts/run.sh``, log in, trigger every DAG
from its form with the defaults, and see every run succeed under the real scheduler.

One run.sh stack (SQLite, ``airflow standalone``: scheduler, dag-processor, triggerer, api-server,
LocalExecutor) serves both tests of this module:

* every DAG's trigger form is opened in headless Chromium after a real login, its Trigger button
  must be enabled with the defaults, a click creates the run, and every run (and any run the
  unpausing scheduled) then succeeds; each DAG's wall time is written to
  ``artifacts/first_hour.json`` and the forms' screenshots to ``artifacts/browser/``;
* one invalid form per DAG, posted through the REST API, fails in its first task without a retry,
  no other task fails, and that task's log names the form field.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import runsh_stack
from test_dag_list import login

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"
pytestmark = [pytest.mark.browser, pytest.mark.slow]

DAG_IDS = sorted(p.stem for p in (REPO / "dags").glob("*.py"))
PAGE_TIMEOUT_S = 120.0
# A hang guard, not a performance bound: the figures are reported (artifacts/first_hour.json).
RUNS_TIMEOUT_S = 3600.0
INVALID_TIMEOUT_S = 900.0

# One form per DAG that passes the JSON schema (the API accepts it) but not the production's own
# checks: the first task must refuse it at once, naming the field (and the DAG's form field name).
INVALID_FORMS: dict[str, tuple[dict[str, Any], str]] = {
    "lumi_followup": ({"config_overrides": {"doSBPlots": "no"}}, "config_overrides"),
    "lumi_reprocess": ({"config_overrides": {"noSuchKey": 1}}, "config_overrides"),
    "massi_watch": ({"years": [2015]}, "years"),
    "egamma_tnp": ({"fileset": "/etc/passwd"}, "fileset"),
    "ecal_windows_dataset": ({"input_dir": "../../../etc"}, "input_dir"),
    "ldmx_darkbrem_signal": ({"masses": [0.01], "masses_mev": [99.0]}, "masses_mev"),
    "mu2e_ensemble": ({"conditions": "no-such-set"}, "conditions"),
    "mu2e_conditions": ({"key": "spec-example"}, "key"),  # the shipped set: a pinned key is never reused
}


@pytest.fixture(scope="module")
def stack(browser_binaries, tmp_path_factory: pytest.TempPathFactory):
    stack = runsh_stack.start(tmp_path_factory.mktemp("first-hour"))
    try:
        yield stack
    finally:
        if stack.proc.poll() is None:
            took, left = stack.interrupt()
            print(f"[first hour] run.sh stopped in {took:.1f} s")
            assert left == [], f"processes left after '[run] stopped': {left}"


class _Login:
    """What ``login`` needs of a server: its base URL and the admin's credentials."""

    def __init__(self, stack) -> None:
        self.base_url, self.username, self.password = stack.base_url, "admin", stack.password()


def _seconds(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def _trigger_from_form(driver, stack, dag_id: str) -> str:
    """Open the DAG's trigger form, check Trigger is enabled with the defaults, click; return the new run id."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, PAGE_TIMEOUT_S, poll_frequency=0.5)
    before = {r["dag_run_id"] for r in stack.runs(dag_id)}
    driver.get(f"{stack.base_url}/dags/{dag_id}")
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='trigger-dag-button']"))).click()
    submit = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, "[data-testid='trigger-dag-submit']")))
    shot = ARTIFACTS / "browser" / f"trigger_form_{dag_id}.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    try:
        wait.until(lambda _d: submit.is_enabled())
    except Exception:
        driver.save_screenshot(str(shot))
        raise AssertionError(f"{dag_id}: the Trigger button stays disabled with the defaults (see {shot})") from None
    driver.save_screenshot(str(shot))
    submit.click()

    def created(_d) -> str | bool:
        manual = [r for r in stack.runs(dag_id) if r["dag_run_id"] not in before and r["run_type"] == "manual"]
        return manual[0]["dag_run_id"] if manual else False

    return wait.until(created)


def test_every_form_triggers_with_its_defaults_and_every_run_succeeds(stack, driver) -> None:
    listed = sorted(d["dag_id"] for d in stack.get("/api/v2/dags?limit=100")["dags"])
    assert listed == DAG_IDS
    login(driver, _Login(stack))
    clicked = time.monotonic()
    runs = {dag_id: _trigger_from_form(driver, stack, dag_id) for dag_id in DAG_IDS}
    final = stack.wait_for(runs, RUNS_TIMEOUT_S)
    total = time.monotonic() - clicked

    figures = {
        dag_id: {
            "run_id": run["dag_run_id"],
            "state": run["state"],
            "queued_to_end_s": _seconds(run["queued_at"], run["end_date"]),
            "running_s": _seconds(run["start_date"], run["end_date"]),
        }
        for dag_id, run in final.items()
    }
    report = {"dags": figures, "first_click_to_last_end_s": round(total, 1)}
    (ARTIFACTS / "first_hour.json").write_text(json.dumps(report, indent=2) + "\n")
    for dag_id, fig in figures.items():
        print(f"[first hour] {dag_id:<24} {fig['state']:<8} queued->end {fig['queued_to_end_s']:.0f} s")
    print(f"[first hour] every DAG from the first click to the last end: {total:.0f} s")

    failed = {dag_id: run["state"] for dag_id, run in final.items() if run["state"] != "success"}
    details = {
        dag_id: [
            (ti["task_id"], ti["map_index"], ti["state"])
            for ti in stack.task_instances(dag_id, runs[dag_id])
            if ti["state"] != "success"
        ]
        for dag_id in failed
    }
    assert not failed, f"runs triggered from the forms did not succeed: {details}"
    # runs the unpausing scheduled (daily follow-up, watcher) or assets triggered must not fail either
    others = [(dag_id, r["dag_run_id"]) for dag_id in DAG_IDS for r in stack.runs(dag_id) if r["state"] == "failed"]
    assert not others, f"failed runs: {others}"


def test_invalid_forms_fail_in_the_first_task_without_retries(stack) -> None:
    runs = {}
    for dag_id, (conf, _field) in INVALID_FORMS.items():
        status, body = stack.trigger(dag_id, conf)
        assert status == 200, f"{dag_id}: the API refused {conf}: HTTP {status}: {body}"
        runs[dag_id] = body["dag_run_id"]
    final = stack.wait_for(runs, INVALID_TIMEOUT_S)
    problems = []
    for dag_id, (conf, field) in INVALID_FORMS.items():
        assert final[dag_id]["state"] == "failed", f"{dag_id}: {conf} did not fail the run"
        tis = stack.task_instances(dag_id, runs[dag_id])
        failed = [ti for ti in tis if ti["state"] == "failed"]
        retried = [ti["task_id"] for ti in tis if (ti["try_number"] or 0) > 1]
        if len(failed) != 1 or retried:
            problems.append(f"{dag_id}: failed {[t['task_id'] for t in failed]}, retried {retried}")
            continue
        first = failed[0]
        upstream = {t["task_id"] for t in tis} - {first["task_id"]}
        states = {t["state"] for t in tis if t["task_id"] in upstream}
        assert states <= {"upstream_failed", "skipped", "removed", None}, f"{dag_id}: other tasks {states}"
        log = stack.task_log(dag_id, runs[dag_id], first["task_id"], first["try_number"], first["map_index"])
        assert field in log, f"{dag_id}: the log of {first['task_id']} does not name {field!r}"
        took = _seconds(final[dag_id]["start_date"], first["end_date"])
        print(f"[invalid form] {dag_id:<24} {first['task_id']} failed {took:.0f} s after the run started")
    assert not problems, problems


def test_the_api_answered_every_trigger(stack) -> None:
    """Under the load of both tests above, no trigger POST was answered with a server error."""
    assert stack.trigger_statuses, "nothing was triggered through the API"
    assert all(status < 500 for status in stack.trigger_statuses), stack.trigger_statuses
    assert "status_code=500" not in stack.log.read_text(errors="replace")
