"""Mu2e mock-data ensembles (MDS): normalisation, campaign config, job building and native mixing.

Plain functions over paths and parameters (no Airflow); the DAG ``mu2e_ensemble`` wires them.
Entry point: ``python -m include.mu2e --help``.
"""
