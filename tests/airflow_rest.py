"""A small client of Airflow's REST API, signed in as ``admin``: what a user's script does.

Shared by the test stacks that run a real Airflow (``runsh_stack`` for scripts/run.sh,
``deployment/harness`` for scripts/deploy.sh). A stack provides ``base_url``, ``password_file``
(the simple auth manager's generated passwords) and ``check_alive()``.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

FINISHED = {"success", "failed"}


def quote(run_id: str) -> str:
    return urllib.request.quote(run_id, safe="")


class AirflowRest:
    """REST calls, trigger and wait. Subclasses set ``base_url``, ``password_file``, ``token``."""

    base_url: str
    token: str
    trigger_statuses: list[int]

    @property
    def password_file(self) -> Path:
        raise NotImplementedError

    def check_alive(self) -> None:
        """Raise if the stack died (called while waiting)."""

    def password(self) -> str:
        return json.loads(self.password_file.read_text())["admin"]

    def request(self, method: str, path: str, body: Any = None, *, raw: bool = False) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                text = resp.read().decode()
                return resp.status, (text if raw else json.loads(text or "null"))
        except urllib.error.HTTPError as err:
            text = err.read().decode(errors="replace")
            return err.code, text

    def get(self, path: str) -> Any:
        status, body = self.request("GET", path)
        assert status == 200, f"GET {path}: HTTP {status}: {body}"
        return body

    def sign_in(self) -> None:
        status, body = self.request("POST", "/auth/token", {"username": "admin", "password": self.password()})
        assert status in (200, 201), f"sign-in: HTTP {status}: {body}"
        self.token = body["access_token"]

    def trigger(self, dag_id: str, conf: dict[str, Any]) -> tuple[int, Any]:
        """POST a manual run; returns (HTTP status, body). Every status is kept for the 500 check."""
        self.request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
        status, body = self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf})
        self.trigger_statuses.append(status)
        return status, body

    def runs(self, dag_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns?limit=100&order_by=-run_after")["dag_runs"]

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}")

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        return self.get(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances?limit=1000")["task_instances"]

    def task_log(self, dag_id: str, run_id: str, task_id: str, try_number: int, map_index: int = -1) -> str:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}/taskInstances/{task_id}/logs/{try_number}"
        status, body = self.request("GET", f"{path}?map_index={map_index}", raw=True)
        assert status == 200, f"GET {path}: HTTP {status}: {body}"
        return body

    def wait_for(
        self,
        runs: dict[str, str],
        timeout: float,
        on_poll: Callable[[], None] | None = None,
        interval: float = 3.0,
    ) -> dict[str, dict[str, Any]]:
        """Wait until every (dag_id -> run_id) is success or failed; return the final runs.

        ``on_poll`` is called once per poll (e.g. to record task states seen on the way).
        """
        deadline = time.monotonic() + timeout
        final: dict[str, dict[str, Any]] = {}
        while len(final) < len(runs):
            self.check_alive()
            if on_poll is not None:
                on_poll()
            for dag_id, run_id in runs.items():
                if dag_id not in final:
                    run = self.run(dag_id, run_id)
                    if run["state"] in FINISHED:
                        final[dag_id] = run
            if time.monotonic() > deadline:
                open_runs = sorted(set(runs) - set(final))
                raise AssertionError(f"runs not finished after {timeout:.0f} s: {open_runs}")
            time.sleep(interval)
        return final
