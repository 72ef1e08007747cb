"""Names the Mu2e trigger forms offer (light: the DAG files read them at parse time).

Process names and force choices of ``mu2e_ensemble``; tag and livetime patterns come from
:mod:`include.mu2e.naming`. ``tests/dags/test_mu2e_ensemble.py`` checks the force choices against
the campaign and job step graphs.
"""

from __future__ import annotations

from include.mu2e.naming import LIVETIME_PATTERN, TAG_PATTERN

COSMIC = "CRYCosmic"
PROCESSES = (
    "CeMLeadingLog",
    "CePLeadingLog",
    "DIO",
    "RPCExternal",
    "RPCInternal",
    "RMCExternal",
    "RMCInternal",
    "IPAMichel",
)
"""Beam processes (the cosmics are :data:`COSMIC`)."""
ALL_PROCESSES = (COSMIC, *PROCESSES)
DEFAULT_PROCESSES = (COSMIC, "DIO", "RPCExternal", "RPCInternal", "RMCExternal", "RMCInternal", "IPAMichel")
"""The processes of a campaign that names none (the signal processes are opt-in)."""
FORCE_CHOICES = ("none", "all", "normalize", "campaign", "jobs", "mix", "art", "validate", "summary")

__all__ = [
    "ALL_PROCESSES",
    "COSMIC",
    "DEFAULT_PROCESSES",
    "FORCE_CHOICES",
    "LIVETIME_PATTERN",
    "PROCESSES",
    "TAG_PATTERN",
]
