"""The constructor arguments of a tag-and-probe workflow, after settings have been applied."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

Z_MASS = 91.1876
TRIGGER_MATCH_DR = 0.1
TAG_TRIGGER = "HLT_Ele30_WPTight_Gsf"  # hard-coded tag trigger of the electron and photon workflows
TAG_TRIGOBJ_PT = 30.0
TAG_TRIGOBJ_BIT = 1

ELECTRON_NANOAOD = "ElectronTagNProbeFromNanoAOD"
PHOTON_NANOAOD = "PhotonTagNProbeFromNanoAOD"
ELECTRON_MINI = "ElectronTagNProbeFromMiniNTuples"
PHOTON_MINI = "PhotonTagNProbeFromMiniNTuples"
ELECTRON_NANO_NTUPLES = "ElectronTagNProbeFromNanoNTuples"
PHOTON_NANO_NTUPLES = "PhotonTagNProbeFromNanoNTuples"
WORKFLOWS = (ELECTRON_NANOAOD, PHOTON_NANOAOD, ELECTRON_MINI, PHOTON_MINI, ELECTRON_NANO_NTUPLES, PHOTON_NANO_NTUPLES)
PHOTON_WORKFLOWS = (PHOTON_NANOAOD, PHOTON_MINI, PHOTON_NANO_NTUPLES)
NANOAOD_WORKFLOWS = (ELECTRON_NANOAOD, PHOTON_NANOAOD)


def find_pt_threshold(expression: str) -> int:
    """The trigger pt threshold in a filter expression (``HLT_Ele30_WPTight_Gsf`` -> 30).

    From the numbers after ``Ele``: the first if the name contains ``Leg1``, otherwise the
    second when there are two, else the first; 0 when there is none.
    """
    numbers = [int(n) for n in re.findall(r"Ele(\d+)", expression)]
    if not numbers:
        return 0
    if "Leg1" in expression:
        return numbers[0]
    return numbers[1] if len(numbers) >= 2 else numbers[0]


@dataclass
class TnPOptions:
    """Everything a workflow needs to select tags and probes (the reference constructor kwargs)."""

    workflow: str
    filters: dict[str, str] = field(default_factory=dict)  # filter name -> expression
    trigger_pt: dict[str, float | None] = field(default_factory=dict)
    filterbit: dict[str, int | None] = field(default_factory=dict)
    is_photon_filter: dict[str, bool] = field(default_factory=dict)
    is_electron_filter: dict[str, bool] = field(default_factory=dict)
    tags_pt_cut: float = 35.0
    probes_pt_cut: float | None = None
    tags_abseta_cut: float = 2.5
    probes_abseta_cut: float = 2.5
    cutbased_id: str | None = None
    extra_zcands_mask: str | None = None
    extra_filter: str | None = None
    extra_filter_args: dict[str, Any] = field(default_factory=dict)
    goldenjson: str | None = None
    use_sc_eta: bool = False
    use_sc_phi: bool = False
    avoid_ecal_transition_tags: bool = True
    avoid_ecal_transition_probes: bool = False
    require_event_to_pass_hlt_filter: bool = True
    start_from_diphotons: bool = True

    @property
    def is_photon(self) -> bool:
        return self.workflow in PHOTON_WORKFLOWS

    @property
    def probe_prefix(self) -> str:
        return "ph" if self.is_photon else "el"

    @property
    def default_vars(self) -> list[str]:
        p = self.probe_prefix
        return [f"{p}_pt", f"{p}_eta", f"{p}_phi"]

    def effective_probes_pt_cut(self) -> float:
        """``probes_pt_cut``, or when null the threshold of the only filter minus 3 (5 otherwise)."""
        if self.probes_pt_cut is not None:
            return float(self.probes_pt_cut)
        if len(self.filters) == 1:
            return float(find_pt_threshold(next(iter(self.filters.values()))) - 3)
        return 5.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TnPOptions:
        return cls(**data)
