"""Extra link "HTCondor job": shows the cluster id(s) and schedd of an ``HTCondorJobOperator`` task.

Computed in the worker (Airflow 3 stores extra links as XCom when the task finishes or
defers). With ``HEP_CONDOR_MONITOR_URL`` set (a template with ``{cluster}`` and ``{schedd}``,
for example a site's job monitor), that URL is used; otherwise the link is the task's
``htcondor_job`` record in the REST API's state store, with cluster and schedd in the fragment.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import quote

from airflow.sdk import BaseOperatorLink

STATE_KEY = "htcondor_job"


def job_summary(job: dict[str, Any] | None) -> tuple[str, str]:
    """(clusters "1,2", schedd) of a job record, or ("", "")."""
    if not job:
        return "", ""
    clusters = sorted({int(str(j).split(".")[0]) for j in job.get("jobs", {})})
    return ",".join(map(str, clusters)), str(job.get("schedd", ""))


def link_for(job: dict[str, Any] | None, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> str:
    clusters, schedd = job_summary(job)
    if not clusters:
        return ""
    template = os.environ.get("HEP_CONDOR_MONITOR_URL", "")
    if template:
        return template.format(cluster=quote(clusters), schedd=quote(schedd))
    base = os.environ.get("AIRFLOW__API__BASE_URL", "").rstrip("/")
    url = (
        f"{base}/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
        f"/state-store/{STATE_KEY}"
    )
    if map_index >= 0:
        url += f"?map_index={map_index}"
    return f"{url}#cluster={quote(clusters)}&schedd={quote(schedd)}"


class HTCondorJobLink(BaseOperatorLink):
    """Cluster id(s) and schedd of the task's HTCondor job."""

    name = "HTCondor job"

    def get_link(self, operator: Any, *, ti_key: Any) -> str:
        job = getattr(operator, "_job", None)
        map_index = getattr(ti_key, "map_index", -1)
        return link_for(job, ti_key.dag_id, ti_key.run_id, ti_key.task_id, -1 if map_index is None else map_index)
