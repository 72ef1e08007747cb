"""ECAL SuperCluster training windows: dumper ROOT trees -> windows -> finalized parquet dataset.

See ``specs/ecal-windows.md``. Plain functions over paths and parameters; no Airflow import.
"""

PRODUCTION = "ecal_windows_dataset"
TREE_PATH = "recosimdumper/caloTree"
