"""Hand-built dumper events for the rule tests: only what a test states, plausible defaults elsewhere."""

from __future__ import annotations

import math
from typing import Any

import awkward as ak
import numpy as np

from include.ecal_windows.dumper import CALO_BRANCHES, CLUSTER_BRANCHES, EVENT_BRANCHES, HIT_BRANCHES, PU_BRANCHES
from include.ecal_windows.workingpoint import WorkingPoint

EVENT_TYPES = {"runId": "int32", "lumiId": "int32", "eventId": "int64", "nVtx": "int32"}


def cluster(eta: float, phi: float, et: float, *, calib_factor: float = 1.05, scores=(), sim=(), **extra) -> dict:
    """A PF cluster with raw Et ``et`` (raw energy = et * cosh(eta)) and calibrated = raw * factor."""
    raw = et * math.cosh(eta)
    iz = 0 if abs(eta) < 1.479 else (1 if eta > 0 else -1)
    return {
        "eta": eta,
        "phi": phi,
        "raw": raw,
        "calib": raw * calib_factor,
        "iz": iz,
        "scores": list(scores),
        "sim": list(sim) if sim else [0.5 * s for s in scores],
        **extra,
    }


def calo(gen_eta: float, gen_phi: float, gen_e: float = 50.0, **extra) -> dict:
    iz = 0 if abs(gen_eta) < 1.479 else (1 if gen_eta > 0 else -1)
    return {"gen_eta": gen_eta, "gen_phi": gen_phi, "gen_e": gen_e, "iz": iz, **extra}


def event(clusters: list[dict], calos: list[dict], *, event_id: int = 1, sc_seeds=(), **extra) -> dict:
    return {"clusters": clusters, "calos": calos, "event_id": event_id, "sc_seeds": list(sc_seeds), **extra}


def build(events: list[dict]) -> ak.Array:
    """An awkward array with every dumper branch the window code reads."""
    cols: dict[str, list[Any]] = {}

    def put(name: str, value: Any) -> None:
        cols.setdefault(name, []).append(value)

    for i, ev in enumerate(events):
        cls, cas = ev["clusters"], ev["calos"]
        put("runId", ev.get("run", 1))
        put("lumiId", ev.get("lumi", 7))
        put("eventId", ev.get("event_id", i + 1))
        put("nVtx", ev.get("nVtx", 30))
        put("rho", ev.get("rho", 12.5))
        put("obsPU", ev.get("obsPU", 55.0))
        put("truePU", ev.get("truePU", 54.3))
        put("caloParticlePU_totEnergy", ev.get("pu_tot", 7.5))
        put("pfCluster_rawEnergy", [c["raw"] for c in cls])
        put("pfCluster_energy", [c["calib"] for c in cls])
        put("pfCluster_eta", [c["eta"] for c in cls])
        put("pfCluster_phi", [c["phi"] for c in cls])
        put("pfCluster_ieta", [c.get("ieta", int(c["eta"] / 0.0174)) for c in cls])
        put("pfCluster_iphi", [c.get("iphi", int(c["phi"] / 0.0174) % 360 + 1) for c in cls])
        put("pfCluster_iz", [c["iz"] for c in cls])
        put("pfCluster_nXtals", [c.get("nxtals", 9.0) for c in cls])
        put("pfCluster_etaWidth", [c.get("etaWidth", 0.01) for c in cls])
        put("pfCluster_phiWidth", [c.get("phiWidth", 0.02) for c in cls])
        for branch in CLUSTER_BRANCHES:
            if "r9" in branch or "sigma" in branch or "swissCross" in branch:
                put(branch, [c.get(branch, 0.5 + 0.01 * k) for k, c in enumerate(cls)])
        put("pfCluster_sim_fraction", [c["scores"] for c in cls])
        put("pfCluster_simEnergy_sharedXtals", [c["sim"] for c in cls])
        put("pfCluster_simEnergy_sharedXtalsPU", [c.get("pu_sim", 0.0) for c in cls])
        put("pfCluster_recoEnergy_sharedXtalsPU", [c.get("pu_reco", 0.0) for c in cls])
        put("pfCluster_simPU_nSharedXtals", [c.get("pu_n", 0.0) for c in cls])
        for n in ("noise", "noiseUncalib", "noiseNoFractions", "noiseUncalibNoFractions"):
            put(f"pfCluster_{n}", [c.get(n, 0.1) for c in cls])
        put("pfClusterHit_rechitEnergy", [c.get("hit_e", [c["raw"]]) for c in cls])
        put("pfClusterHit_fraction", [c.get("hit_f", [1.0]) for c in cls])
        put("pfClusterHit_ieta", [[c.get("ieta", int(c["eta"] / 0.0174))] * len(c.get("hit_e", [0])) for c in cls])
        put("pfClusterHit_iphi", [[1] * len(c.get("hit_e", [0])) for c in cls])
        put("pfClusterHit_iz", [[c["iz"]] * len(c.get("hit_e", [0])) for c in cls])
        put("caloParticle_genEta", [c["gen_eta"] for c in cas])
        put("caloParticle_genPhi", [c["gen_phi"] for c in cas])
        put("caloParticle_simEta", [c.get("sim_eta", c["gen_eta"]) for c in cas])
        put("caloParticle_simPhi", [c.get("sim_phi", c["gen_phi"]) for c in cas])
        put("caloParticle_simIz", [c["iz"] for c in cas])
        put("caloParticle_genEnergy", [c["gen_e"] for c in cas])
        put("caloParticle_simEnergy", [c.get("sim_e", 0.95 * c["gen_e"]) for c in cas])
        put("caloParticle_simEnergyGoodStatus", [c.get("sim_good", 0.94 * c["gen_e"]) for c in cas])
        seeds = ev["sc_seeds"]
        put("superCluster_seedIndex", list(seeds))
        put("superCluster_rawEnergy", [cls[s]["raw"] * 1.2 for s in seeds])
        put("superCluster_energy", [cls[s]["calib"] * 1.2 for s in seeds])
        put("superCluster_eta", [cls[s]["eta"] for s in seeds])
    out = {}
    for name, values in cols.items():
        depth = _depth(name)
        leaf = "int32" if name in EVENT_TYPES or _is_int(name) else "float64"
        if name == "eventId":
            leaf = "int64"
        out[name] = _typed(values, depth, leaf)
    expected = set(EVENT_BRANCHES) | set(CLUSTER_BRANCHES) | set(HIT_BRANCHES) | set(CALO_BRANCHES) | set(PU_BRANCHES)
    assert expected <= set(out), expected - set(out)
    return ak.zip(out, depth_limit=1)


def _typed(values: list, depth: int, leaf: str) -> ak.Array:
    """Jagged array of an explicit leaf type (fast, and typed even when every list is empty)."""
    counts = []
    for _ in range(depth):
        counts.append([len(v) for v in values])
        values = [x for v in values for x in v]
    out = ak.Array(np.asarray(values, dtype=leaf))
    for c in reversed(counts):
        out = ak.unflatten(out, np.asarray(c, dtype=np.int64))
    return out


def _is_int(name: str) -> bool:
    return name.endswith(("_ieta", "_iphi", "_iz", "simIz", "seedIndex"))


def _depth(name: str) -> int:
    if name in EVENT_BRANCHES or name == "caloParticlePU_totEnergy":
        return 0
    if name.startswith("pfClusterHit_") or name in ("pfCluster_sim_fraction", "pfCluster_simEnergy_sharedXtals"):
        return 2
    return 1


def flat_wp(value: float) -> WorkingPoint:
    """A working point with the same threshold everywhere."""
    return WorkingPoint(np.array([1.0, 500.0]), np.array([0.0, 3.0]), np.array([[value]]))


def step_wp() -> WorkingPoint:
    """Threshold 0.3 below raw seed Et 10 GeV, 0.1 above; |eta| bins [0, 1.5, 3] (0.05 more in EE)."""
    return WorkingPoint(np.array([1.0, 10.0, 500.0]), np.array([0.0, 1.5, 3.0]), np.array([[0.3, 0.35], [0.1, 0.15]]))
