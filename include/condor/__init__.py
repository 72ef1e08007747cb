"""HTCondor execution layer: hook, submit builders, event-log parsing, hold policy, trigger,
deferrable operator and the ``condor`` backend for :class:`~include.core.backends.TaskCall`.

Modules are imported on demand (``include.condor.operators`` needs Airflow; ``submit``,
``eventlog``, ``states`` and ``policy`` do not).
"""
