"""Reading dumper files (tree ``recosimdumper/caloTree``) with uproot into awkward arrays.

Only the branches the window algorithm needs are read; the pileup/noise branches only with
``do_pu_sim``. Works for a TTree or an RNTuple with the same names (uproot reads both alike).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import awkward as ak

from include.core.errors import InputFileError
from include.ecal_windows import TREE_PATH

EVENT_BRANCHES = ("runId", "lumiId", "eventId", "nVtx", "rho", "obsPU", "truePU")
SHAPES = ("r9", "sigmaIetaIeta", "sigmaIetaIphi", "sigmaIphiIphi", "swissCross")
CLUSTER_BRANCHES = (
    "pfCluster_rawEnergy",
    "pfCluster_energy",
    "pfCluster_eta",
    "pfCluster_phi",
    "pfCluster_ieta",
    "pfCluster_iphi",
    "pfCluster_iz",
    "pfCluster_nXtals",
    "pfCluster_etaWidth",
    "pfCluster_phiWidth",
    *(f"pfCluster_{s}" for s in SHAPES),
    *(f"pfCluster_full5x5_{s}" for s in SHAPES),
    "pfCluster_simEnergy_sharedXtals",
)
HIT_BRANCHES = (
    "pfClusterHit_rechitEnergy",
    "pfClusterHit_fraction",
    "pfClusterHit_ieta",
    "pfClusterHit_iphi",
    "pfClusterHit_iz",
)
CALO_BRANCHES = (
    "caloParticle_simEnergy",
    "caloParticle_simEnergyGoodStatus",
    "caloParticle_genEnergy",
    "caloParticle_simEta",
    "caloParticle_simPhi",
    "caloParticle_genEta",
    "caloParticle_genPhi",
    "caloParticle_simIz",
)
SC_BRANCHES = (
    "superCluster_seedIndex",
    "superCluster_rawEnergy",
    "superCluster_energy",
    "superCluster_eta",
    "superCluster_pfClustersIndex",
)
PU_BRANCHES = (
    "pfCluster_simEnergy_sharedXtalsPU",
    "pfCluster_recoEnergy_sharedXtalsPU",
    "pfCluster_simPU_nSharedXtals",
    "caloParticlePU_totEnergy",
    "pfCluster_noise",
    "pfCluster_noiseUncalib",
    "pfCluster_noiseNoFractions",
    "pfCluster_noiseUncalibNoFractions",
)


def needed_branches(assoc_strategy: str = "sim_fraction", do_pu_sim: bool = False) -> list[str]:
    """The branches read for one configuration."""
    names = [
        *EVENT_BRANCHES,
        *CLUSTER_BRANCHES,
        f"pfCluster_{assoc_strategy}",
        *HIT_BRANCHES,
        *CALO_BRANCHES,
        *SC_BRANCHES[:4],
    ]
    if do_pu_sim:
        names += PU_BRANCHES
    return names


@dataclass(frozen=True)
class InputCheck:
    """The result of checking one input file."""

    path: str
    ok: bool
    events: int = 0
    problem: str = ""


def open_tree(path: str | Path):
    """The dumper tree of ``path``, or :class:`InputFileError` naming the file."""
    import uproot

    try:
        handle = uproot.open(path)
    except Exception as exc:
        raise InputFileError(path, f"not a readable ROOT file ({type(exc).__name__}: {exc})") from exc
    try:
        return handle[TREE_PATH]
    except Exception as exc:
        raise InputFileError(path, f"no readable tree {TREE_PATH!r} ({type(exc).__name__}: {exc})") from exc


def check_input(path: str | Path, branches: list[str]) -> InputCheck:
    """Open the file, check the tree and branches and read every basket of the first branch."""
    try:
        tree = open_tree(path)
        missing = sorted(set(branches) - set(tree.keys()))
        if missing:
            raise InputFileError(path, f"missing branches {', '.join(missing[:5])}")
        entries = int(tree.num_entries)
        tree.arrays(["pfCluster_rawEnergy", "eventId"], library="ak")
    except InputFileError as exc:
        return InputCheck(str(path), False, problem=exc.problem)
    except Exception as exc:
        return InputCheck(str(path), False, problem=f"unreadable ({type(exc).__name__}: {exc})")
    return InputCheck(str(path), True, events=entries)


def _arrays(tree, path: str | Path, branches: list[str], entry_start: int | None, entry_stop: int | None) -> ak.Array:
    try:
        return tree.arrays(branches, entry_start=entry_start, entry_stop=entry_stop, library="ak")
    except Exception as exc:
        raise InputFileError(path, f"cannot read branches ({type(exc).__name__}: {exc})") from exc


def read_events(
    path: str | Path,
    branches: list[str],
    entry_start: int | None = None,
    entry_stop: int | None = None,
) -> ak.Array:
    """Read ``branches`` of the dumper tree into one awkward record array (one entry per event)."""
    return _arrays(open_tree(path), path, branches, entry_start, entry_stop)


def iterate_events(path: str | Path, branches: list[str], step: int = 2000) -> Iterator[ak.Array]:
    """Read the tree in chunks of ``step`` events (bounded memory), opening the file once."""
    tree = open_tree(path)
    total = int(tree.num_entries)
    for start in range(0, total, step):
        yield _arrays(tree, path, branches, start, min(total, start + step))
