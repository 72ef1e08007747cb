"""Demo inputs: seeded, plausible flat ROOT ntuples per process with generator counts and livetimes.

``generate(target, seed)`` writes, below ``target`` (``<data root>/mu2e``), one dataset folder per
process (names from ``config/datasets.yaml``, format ``root``) with :data:`FILES_PER_DATASET` files
of :mod:`include.mu2e.ntuple` layout and a JSON sidecar each. Sizes follow the normalisation: each
process gets enough reconstructed entries for :data:`REFERENCE_LIVETIME_S` of on-spill 1BB beam
(three times the 1 h ensemble, so half the files hold 1.5 h) at R_µe = 1e-12, with a Poisson
margin; the cosmic files hold :data:`COSMIC_LIVETIME_PER_FILE_S` of livetime each. The whole set
is ~25 k events (< 2 MB).

It also writes the DEMO STAND-IN conditions tool ``demo-dbtool/dbTool``
(:mod:`include.mu2e.demo_dbtool`; the Fermilab conditions database cannot be reached from here),
which ``scripts/env.sh`` names in ``HEP_MU2E_DBTOOL`` for the ``mu2e_conditions`` DAG.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from include.core import atomic
from include.mu2e import spectra
from include.mu2e.datasets import dataset_name
from include.mu2e.demo_dbtool import DEMO_PATH, write_dbtool
from include.mu2e.naming import sequencer
from include.mu2e.normalizations import COSMIC, PROCESSES, Normalization, NormParams
from include.mu2e.ntuple import sidecar_path, write_ntuple

FILES_PER_DATASET = 8
RUN = 1430
REFERENCE_LIVETIME_S = 10800.0
COSMIC_LIVETIME_PER_FILE_S = 1000.0
COSMIC_RATE_HZ = 1.0
"""Reconstructed cosmic candidates per second of livetime in the demo (after the filter)."""
EFFICIENCY = {
    "DIO": 0.5,
    "CeMLeadingLog": 0.5,
    "CePLeadingLog": 0.5,
    "RPCExternal": 0.02,
    "RPCInternal": 0.5,
    "RMCExternal": 0.001,
    "RMCInternal": 0.05,
    "IPAMichel": 0.02,
}
"""Demo reco/gen ratio per process: entries kept in ``Events`` per generated event."""
PDG = {
    "DIO": 11,
    "CeMLeadingLog": 11,
    "CePLeadingLog": -11,
    "RPCExternal": 22,
    "RPCInternal": 11,
    "RMCExternal": 22,
    "RMCInternal": 11,
    "IPAMichel": 11,
}
MUON_LIFETIME_AL_NS = 864.0
MICROBUNCH_NS = 1695.0


def _energies(process: str, n: int, rng: np.random.Generator, emin: float) -> np.ndarray:
    """Primary energies (MeV) drawn from the process's spectrum."""
    if process == "DIO":
        table = spectra.load_table(None, "dio")
        keep = table.x >= emin
        p = table.y[keep] / table.y[keep].sum()
        return rng.choice(table.x[keep], size=n, p=p) + rng.uniform(0, 0.01, n)
    if process.startswith("RPC"):
        table = spectra.load_table(None, "rpc")
        keep = table.x >= 50.0
        p = table.y[keep] / table.y[keep].sum()
        return rng.choice(table.x[keep], size=n, p=p) + rng.uniform(-0.05, 0.05, n)
    if process.startswith("RMC"):
        centres = 85.05 + 0.1 * np.arange(50)
        x = centres / 90.1
        w = (1 - 2 * x + 2 * x**2) * x * (1 - x) ** 2
        return rng.choice(centres, size=n, p=w / w.sum()) + rng.uniform(-0.05, 0.05, n)
    if process.startswith("Ce"):
        return 104.97 - rng.exponential(0.4, n) + rng.normal(0, 0.15, n)
    if process == "IPAMichel":  # Michel edge smeared by the absorber
        x = rng.beta(3, 1.2, n)
        return 52.8 * x + rng.exponential(8.0, n)
    raise ValueError(process)


def _events(process: str, n: int, subrun: int, rng: np.random.Generator, emin: float) -> dict[str, np.ndarray]:
    events: dict[str, np.ndarray] = {
        "run": np.full(n, RUN),
        "subrun": np.full(n, subrun),
        "event": np.sort(rng.choice(np.arange(1, 20 * n + 2), size=n, replace=False)),
        "cos_theta": rng.uniform(-1, 1, n),
    }
    if process == COSMIC:
        events["pdg"] = rng.choice([13, -13], size=n, p=[0.44, 0.56])
        events["energy"] = rng.lognormal(math.log(4000.0), 0.9, n)
        events["time"] = rng.uniform(0, MICROBUNCH_NS, n)
        events["cos_theta"] = -np.sqrt(rng.uniform(0, 1, n))
    else:
        events["pdg"] = np.full(n, PDG[process])
        events["energy"] = _energies(process, n, rng, emin)
        events["time"] = np.mod(rng.exponential(MUON_LIFETIME_AL_NS, n) + 200.0, MICROBUNCH_NS)
    return events


def generate(
    target: Path,
    seed: int,
    *,
    dem_emin: float = 95.0,
    files: int = FILES_PER_DATASET,
    reference_livetime_s: float = REFERENCE_LIVETIME_S,
) -> list[Path]:
    """Write the demo datasets below ``target``; return the files written (ROOT files and sidecars).

    ``reference_livetime_s`` scales every dataset (the cosmic files keep ``files`` files holding
    that livetime in total x 8/3, as in the default set); the benchmark uses it for large sets.
    """
    target = Path(target)
    scale = reference_livetime_s / REFERENCE_LIVETIME_S
    norm = Normalization(NormParams(livetime_s=reference_livetime_s, rue=1e-12, dem_emin=dem_emin))
    written: list[Path] = []
    for index, process in enumerate((COSMIC, *PROCESSES)):
        folder = target / dataset_name(process, dem_emin=dem_emin)
        desc, conf = folder.name.split(".")[2:4]
        for j in range(files):
            rng = np.random.default_rng([seed, index, j])
            if process == COSMIC:
                livetime = COSMIC_LIVETIME_PER_FILE_S * scale * FILES_PER_DATASET / files
                n = int(rng.poisson(COSMIC_RATE_HZ * livetime))
                gen = int(n * 40 + rng.integers(0, 40))
            else:
                livetime = 0.0
                mean = norm.yield_of(process).mean * EFFICIENCY[process]
                needed = mean + 5 * math.sqrt(mean) + 20
                gen = math.ceil(needed / EFFICIENCY[process] / files)
                n = int(rng.binomial(gen, EFFICIENCY[process]))
            path = folder / f"dts.mu2e.{desc}.{conf}.{sequencer(RUN, j)}.root"
            subruns = {"run": [RUN], "subrun": [j], "genCount": [gen], "liveTime": [livetime]}
            written.append(write_ntuple(path, _events(process, n, j, rng, dem_emin), subruns))
            meta = {"dataset": folder.name, "process": process, "entries": n, "gen_count": gen, "livetime_s": livetime}
            written.append(atomic.write_json(sidecar_path(path), meta))
    written.append(write_dbtool(target / DEMO_PATH.parent, log_calls=False))
    return written


def missing(target: Path) -> list[Path]:
    """Files a finished demo has that are absent below ``target`` (older demos lack the dbTool)."""
    tool = Path(target) / DEMO_PATH
    return [] if tool.is_file() else [tool]
