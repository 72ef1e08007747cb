"""Airflow plugin: registers the "HTCondor job" extra link (cluster id and schedd)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.condor.links import HTCondorJobLink


class HTCondorLinksPlugin(AirflowPlugin):
    name = "hep_condor_links"
    operator_extra_links = [HTCondorJobLink()]  # noqa: RUF012
