"""Log in through the real Airflow UI and check the DAG list shows every DAG of dags/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.browser, pytest.mark.slow]

SCREENSHOT = REPO / "artifacts" / "browser" / "dag_list.png"
PAGE_TIMEOUT = 60.0
DAG_COUNT_HEADING = re.compile(r"^\s*(\d+)\s+Dags?\s*$", re.MULTILINE)
NO_DAGS = re.compile(r"^\s*No Dags? found\s*$", re.MULTILINE)

_PARSE = """
import json, sys
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
print(json.dumps({
    "dags": {dag_id: dag.dag_display_name for dag_id, dag in bag.dags.items()},
    "import_errors": {str(k): str(v)[-400:] for k, v in bag.import_errors.items()},
}))
"""


def dags_folder(server) -> str:
    return server.env["AIRFLOW__CORE__DAGS_FOLDER"]


def expected_dags(server) -> dict[str, str]:
    """DAG id -> display name of every DAG that dags/ defines, parsed with the server's settings."""
    result = subprocess.run(
        [sys.executable, "-c", _PARSE, dags_folder(server)],
        env=server.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"parsing {dags_folder(server)} failed:\n{result.stderr[-3000:]}"
    parsed = json.loads(result.stdout.strip().splitlines()[-1])
    for path, error in parsed["import_errors"].items():
        print(f"[browser] import error in {path}: {error}")
    return parsed["dags"]


def login(driver, server) -> None:
    """Sign in through the SimpleAuthManager login form, then open the DAG list from the nav bar."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, PAGE_TIMEOUT)
    driver.get(f"{server.base_url}/")
    username = wait.until(ec.visibility_of_element_located((By.CSS_SELECTOR, "input[name='username']")))
    assert "/auth/login" in driver.current_url, f"not sent to the login page: {driver.current_url}"
    username.send_keys(server.username)
    driver.find_element(By.CSS_SELECTOR, "input[name='password']").send_keys(server.password)
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "button[type='submit']"))).click()
    wait.until(lambda d: "/auth/" not in d.current_url)
    wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "[data-testid='nav-dags-link']"))).click()
    wait.until(lambda d: d.current_url.split("?")[0].rstrip("/").endswith("/dags"))


def dag_list_state(driver) -> tuple[str, int | None, int]:
    """(page text, DAG count of the heading or None, DAG cards/rows shown) once the list stopped loading."""
    from selenium.webdriver.common.by import By

    text = driver.find_element(By.TAG_NAME, "body").text
    heading = DAG_COUNT_HEADING.search(text)
    if heading is None or driver.find_elements(By.CSS_SELECTOR, "[data-testid='skeleton']"):
        return text, None, 0
    total = int(heading.group(1))
    shown_rows = len(driver.find_elements(By.CSS_SELECTOR, "[data-testid='dag-card'], tbody tr"))
    if total == 0 and not NO_DAGS.search(text):
        return text, None, 0  # the empty list is rendered with its "No Dags found" note
    if total > 0 and shown_rows == 0:
        return text, None, 0
    return text, total, shown_rows


def shown(text: str, links: set[str], dag_id: str, display_name: str) -> bool:
    """A DAG is on the page: its id is in the text, or its display name is and a card links to its id."""
    return dag_id in text or (display_name in text and dag_id in links)


def dag_links(driver) -> set[str]:
    from selenium.webdriver.common.by import By

    links = set()
    for a in driver.find_elements(By.CSS_SELECTOR, "a[href^='/dags/']"):
        href = a.get_attribute("href") or ""
        part = href.split("/dags/", 1)[-1].split("?")[0].split("/")[0]
        if part:
            links.add(part)
    return links


def test_dag_list_after_login(standalone, driver) -> None:
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    started = time.monotonic()
    expected = expected_dags(standalone)

    login(driver, standalone)

    def rendered(d):
        text, total, _ = state = dag_list_state(d)
        if total is None:
            return False
        links = dag_links(d)
        if not all(shown(text, links, dag_id, name) for dag_id, name in expected.items()):
            return False
        return state

    try:
        text, total, rows = WebDriverWait(driver, PAGE_TIMEOUT, poll_frequency=0.5).until(rendered)
    except TimeoutException:
        text, total, rows = dag_list_state(driver)
    links = dag_links(driver)

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(SCREENSHOT)), "screenshot failed"
    print(
        f"[browser] {len(expected)} DAG(s) in {dags_folder(standalone)}; page lists {total} ({rows} shown); "
        f"login + list {time.monotonic() - started:.1f} s; screenshot {SCREENSHOT.relative_to(REPO)}"
    )

    assert "/auth/login" not in driver.current_url, "still on the login page"
    assert total is not None, f"the DAG list did not finish rendering; page text:\n{text[:2000]}"
    missing = sorted(dag_id for dag_id, name in expected.items() if not shown(text, links, dag_id, name))
    assert not missing, (
        f"DAGs of {dags_folder(standalone)} missing from the DAG list: {missing} "
        f"(heading {total}, {rows} shown; a paginated list shows only its first page)\npage text:\n{text[:2000]}"
    )
    assert total >= len(expected), f"heading counts {total} DAGs, dags/ defines {len(expected)}"
