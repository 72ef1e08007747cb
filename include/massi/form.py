"""The lumi_reprocess trigger form's choices (light: the DAG file reads them at parse time)."""

REPROCESS_BACKENDS = ("local", "condor")
