"""hep-productions: task code of the group's productions and the execution layer.

Nothing here imports Airflow at package level, so the same code runs in an Airflow worker,
in an HTCondor job (``python -m include....``), in a container or from a terminal.
"""

__version__ = "0.1.0"
