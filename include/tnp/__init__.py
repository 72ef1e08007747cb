"""E/gamma tag-and-probe efficiencies from NanoAOD and flat ntuples (no Airflow imports here)."""
