"""The reference counts of spec §6 on the real samples, through the config readers and workflows.

E1/E2 are confirmed reference-tool counts. P1–P4 and N1–N4 are the original tool's test
expectations; each is also derived here independently (see the comments and the numpy checks).
"""

from __future__ import annotations

from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from include.tnp import nanoaod, ntuples
from include.tnp.config import build_options, load_runner

TRIGGER = "HLT_Ele32_WPTight_Gsf"
COMMON = {"tags_pt_cut": 35, "probes_pt_cut": 27, "tags_abseta_cut": 2.17}


def _options(workflow: str, filters: list[str], workflow_args: dict, settings: dict):
    runner = load_runner(
        {
            "workflow": workflow,
            "workflow_args": {"filters": {f: f for f in filters}, **workflow_args},
            "methods": [
                {"name": "get_passing_and_failing_probes", "args": {"filter": filters[0], "cut_and_count": False}}
            ],
        }
    )
    return build_options(runner, {**COMMON, **settings})


def _counts(module, path: Path, tree: str, opts) -> tuple[int, int, int, int]:
    t = uproot.open(path)[tree]
    branches = module.required_branches(opts, set(t.keys()), opts.default_vars, False)
    table = module.find_probes(t.arrays(branches), opts, cut_and_count=False).table
    flag = table[next(iter(opts.filters))]
    if flag.ndim == 1:
        return int(ak.sum(flag)), int(ak.sum(~flag)), int(ak.sum(flag)), int(ak.sum(~flag))
    return (
        int(ak.sum(ak.any(flag, axis=1))),
        int(ak.sum(ak.any(~flag, axis=1))),
        int(ak.sum(flag)),
        int(ak.sum(~flag)),
    )


E1_ARGS = {"trigger_pt": [32], "filterbit": [1]}


def test_e1_electron_trigger_467_183(tnp_data: Path) -> None:
    opts = _options(
        "ElectronTagNProbeFromNanoAOD",
        [TRIGGER],
        E1_ARGS,
        {"cutbased_id": "cutBased >= 4", "use_sc_eta": True, "require_event_to_pass_hlt_filter": True},
    )
    assert _counts(nanoaod, tnp_data / "DYto2E.root", "Events", opts) == (467, 183, 795, 183)


def test_e2_electron_id_649_0(tnp_data: Path) -> None:
    opts = _options(
        "ElectronTagNProbeFromNanoAOD", ["cutBased >= 4"], E1_ARGS, {"cutbased_id": None, "use_sc_eta": True}
    )
    assert opts.effective_probes_pt_cut() == 27
    assert _counts(nanoaod, tnp_data / "DYto2E.root", "Events", opts) == (649, 0, 978, 0)


def test_e1_without_the_hlt_bit_requirement_can_only_pass_more(tnp_data: Path) -> None:
    """Dropping require_event_to_pass_hlt_filter moves probes from failing to passing, never back."""
    settings = {"cutbased_id": "cutBased >= 4", "use_sc_eta": True, "require_event_to_pass_hlt_filter": False}
    opts = _options("ElectronTagNProbeFromNanoAOD", [TRIGGER], E1_ARGS, settings)
    _, _, p, f = _counts(nanoaod, tnp_data / "DYto2E.root", "Events", opts)
    assert p + f == 795 + 183  # the same probes, split differently
    assert p >= 795 and f <= 183


PHOTON_TRIGGER = {"is_electron_filter": [True], "trigger_pt": [32], "filterbit": [1]}


@pytest.mark.parametrize(
    ("filters", "cutbased_id", "diphotons", "expected"),
    [
        ([TRIGGER], "cutBased >= 3", True, (336, 101)),  # P1
        ([TRIGGER], "cutBased >= 3", False, (441, 122)),  # P2
        (["cutBased >= 3"], None, True, (436, 146)),  # P3
        (["cutBased >= 3"], None, False, (562, 170)),  # P4
    ],
    ids=["P1", "P2", "P3", "P4"],
)
def test_photon_nanoaod_counts(tnp_data: Path, filters, cutbased_id, diphotons, expected) -> None:
    args = PHOTON_TRIGGER if filters == [TRIGGER] else {"is_electron_filter": [True]}
    settings = {
        "cutbased_id": cutbased_id,
        "use_sc_eta": False,
        "start_from_diphotons": diphotons,
        "require_event_to_pass_hlt_filter": True,
    }
    opts = _options("PhotonTagNProbeFromNanoAOD", filters, args, settings)
    p, f, p_probes, f_probes = _counts(nanoaod, tnp_data / "DYto2E.root", "Events", opts)
    assert (p, f) == expected
    # events with a passing probe plus events with a failing one cover each selected event at least once
    assert p_probes >= p and f_probes >= f


def test_photon_id_split_is_the_trigger_split_of_a_looser_selection(tnp_data: Path) -> None:
    """P1 selects probes with cutBased >= 3 (cutbased_id); P3 measures that very ID on all probes.

    So every P1 probe (passing or failing the trigger) is a P3 passing probe: P1 probes == P3 passing.
    """
    p1 = _options(
        "PhotonTagNProbeFromNanoAOD",
        [TRIGGER],
        PHOTON_TRIGGER,
        {"cutbased_id": "cutBased >= 3", "use_sc_eta": False, "start_from_diphotons": True},
    )
    p3 = _options(
        "PhotonTagNProbeFromNanoAOD",
        ["cutBased >= 3"],
        {"is_electron_filter": [True]},
        {"cutbased_id": None, "use_sc_eta": False, "start_from_diphotons": True},
    )
    # P1 uses the trigger's derived probes_pt_cut only if unset; both set 27 here.
    _, _, p1_pass, p1_fail = _counts(nanoaod, tnp_data / "DYto2E.root", "Events", p1)
    _, _, p3_pass, _ = _counts(nanoaod, tnp_data / "DYto2E.root", "Events", p3)
    assert p1_pass + p1_fail == p3_pass


MINI_TIGHT, MINI_LOOSE = "passingCutBasedTight122XV1", "passingCutBasedLoose122XV1"
NTUPLE_CASES = [
    ("ElectronTagNProbeFromMiniNTuples", "TnPNTuples_el.root", "fitter_tree", MINI_TIGHT, MINI_LOOSE, (414, 113)),
    ("PhotonTagNProbeFromMiniNTuples", "TnPNTuples_ph.root", "fitter_tree", MINI_TIGHT, MINI_LOOSE, (372, 73)),
    ("ElectronTagNProbeFromNanoNTuples", "NanoNTuples_el.root", "Events", "cutBased >= 4", "cutBased >= 2", (978, 0)),
    ("PhotonTagNProbeFromNanoNTuples", "NanoNTuples_ph.root", "Events", "cutBased >= 3", "cutBased >= 1", (669, 135)),
]


def _numpy_derivation(workflow: str, path: Path, tree: str, filt: str, cid: str) -> tuple[int, int]:
    """The flat-ntuple selection written out with numpy on the raw columns (independent of include.tnp)."""
    cols = uproot.open(path)[tree].arrays(library="np")
    mini = "Mini" in workflow
    photon = workflow.startswith("Photon")
    p = "ph" if photon else "el"
    if mini:
        tag_eta, probe_eta = cols["tag_sc_eta"], cols[f"{p}_sc_eta"]
    else:
        tag_eta, probe_eta = cols["tag_Ele_superclusterEta"], cols[f"{p}_superclusterEta"]
    probe_pt = cols["ph_et"] if (photon and mini) else cols[f"{p}_pt"]
    keep = (np.abs(tag_eta) < 1.4442) | (np.abs(tag_eta) > 1.566)
    keep &= (cols["tag_Ele_pt"] > 35) & (np.abs(tag_eta) < 2.17) & (probe_pt > 27) & (np.abs(probe_eta) < 2.5)
    if not photon:
        keep &= (cols["tag_Ele_q"] * cols["el_q"] if mini else cols["tag_Ele_charge"] * cols["el_charge"]) == -1
    keep &= cols[cid] == 1
    keep &= (cols["pair_mass"] > 50) & (cols["pair_mass"] < 130)
    passing = cols[filt] == 1
    return int(np.sum(keep & passing)), int(np.sum(keep & ~passing))


@pytest.mark.parametrize(
    ("workflow", "name", "tree", "filt", "cid", "expected"), NTUPLE_CASES, ids=["N1", "N2", "N3", "N4"]
)
def test_flat_ntuple_counts(tnp_data: Path, workflow, name, tree, filt, cid, expected) -> None:
    opts = _options(workflow, [filt], {}, {"cutbased_id": cid, "use_sc_eta": True})
    p, f, _, _ = _counts(ntuples, tnp_data / name, tree, opts)
    assert (p, f) == expected
    assert _numpy_derivation(workflow, tnp_data / name, tree, filt, cid) == expected


def test_nano_electron_ntuple_is_the_e2_selection_flattened(tnp_data: Path) -> None:
    """NanoNTuples_el.root holds the flat pairs of this tool on the same run: N3 equals E2 at probe level."""
    e2 = _options("ElectronTagNProbeFromNanoAOD", ["cutBased >= 4"], E1_ARGS, {"use_sc_eta": True})
    _, _, e2_pass, e2_fail = _counts(nanoaod, tnp_data / "DYto2E.root", "Events", e2)
    n3 = _options(
        "ElectronTagNProbeFromNanoNTuples", ["cutBased >= 4"], {}, {"cutbased_id": "cutBased >= 2", "use_sc_eta": True}
    )
    assert _counts(ntuples, tnp_data / "NanoNTuples_el.root", "Events", n3)[:2] == (e2_pass, e2_fail)
