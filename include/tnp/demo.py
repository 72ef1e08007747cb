"""Demo data of the tag-and-probe production: a seeded Z -> ee NanoAOD-layout file plus the four
JSON configurations (runner, settings, fileset, binning), written below ``<data root>/egamma_tnp``.

The events are physically plausible: a Breit–Wigner Z (m = 91.19, Γ = 2.5 GeV) with a falling pt
spectrum and flat rapidity decays isotropically to e+e-; electrons get a cut-based ID, a
supercluster offset (``deltaEtaSC``), and, when they would fire the single-electron trigger, a
trigger object (id 11, filter bit 1 WPTight) with the detector resolution. A few soft fake
electrons are added. MC files also carry GenPart, ``genWeight``, gen matching and pileup.
"""

from __future__ import annotations

import json
from pathlib import Path

import awkward as ak
import numpy as np

from include.core import atomic

Z_MASS, Z_WIDTH = 91.1876, 2.4952
ELECTRON_MASS = 0.000511
DEMO_FILE = "demo_DYto2E.root"
DEMO_MC_FILE = "demo_DYto2E_MC.root"


def _z_decays(rng: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
    """(pt, eta, phi) of the two electrons of n Z decays, shape (n, 2) each."""
    mass = np.clip(Z_MASS + Z_WIDTH / 2 * rng.standard_cauchy(n), 55.0, 140.0)
    zpt = rng.exponential(12.0, n)
    zy = rng.uniform(-2.4, 2.4, n)
    zphi = rng.uniform(-np.pi, np.pi, n)
    mt = np.sqrt(mass**2 + zpt**2)
    z4 = np.stack([mt * np.cosh(zy), zpt * np.cos(zphi), zpt * np.sin(zphi), mt * np.sinh(zy)], axis=1)
    cos_t = rng.uniform(-1, 1, n)
    phi_r = rng.uniform(-np.pi, np.pi, n)
    p = mass / 2
    sin_t = np.sqrt(1 - cos_t**2)
    d = np.stack([p * sin_t * np.cos(phi_r), p * sin_t * np.sin(phi_r), p * cos_t], axis=1)
    out = []
    for sign in (1, -1):
        rest = np.concatenate([p[:, None], sign * d], axis=1)
        lab = _boost(rest, z4, mass)
        pt = np.hypot(lab[:, 1], lab[:, 2])
        out.append((pt, np.arcsinh(lab[:, 3] / pt), np.arctan2(lab[:, 2], lab[:, 1])))
    return tuple(np.stack([a[i] for a in out], axis=1) for i in range(3))


def _boost(p4: np.ndarray, parent: np.ndarray, mass: np.ndarray) -> np.ndarray:
    beta = parent[:, 1:] / parent[:, :1]
    b2 = np.sum(beta**2, axis=1)
    gamma = parent[:, 0] / mass
    bp = np.sum(beta * p4[:, 1:], axis=1)
    g2 = np.where(b2 > 0, (gamma - 1) / np.where(b2 > 0, b2, 1), 0.0)
    e = gamma * (p4[:, 0] + bp)
    vec = p4[:, 1:] + (g2 * bp + gamma * p4[:, 0])[:, None] * beta
    return np.concatenate([e[:, None], vec], axis=1)


def nanoaod_events(n_events: int, seed: int, mc: bool = False) -> dict[str, ak.Array]:
    """The branches of a small NanoAOD-layout sample (what :func:`write_nanoaod` writes)."""
    rng = np.random.default_rng(seed)
    pt, eta, phi = _z_decays(rng, n_events)
    pt = pt * rng.normal(1.0, 0.02, pt.shape)
    n_fake = rng.poisson(0.3, n_events)
    counts = 2 + n_fake
    total = int(counts.sum())
    fake_pt = rng.exponential(8.0, total) + 5.0
    el_pt, el_eta, el_phi, el_charge, is_real = [], [], [], [], []
    for i in range(n_events):
        charges = [-1, 1] if rng.random() < 0.5 else [1, -1]
        el_pt.append([*pt[i], *fake_pt[: n_fake[i]]])
        el_eta.append([*eta[i], *rng.uniform(-2.5, 2.5, n_fake[i])])
        el_phi.append([*phi[i], *rng.uniform(-np.pi, np.pi, n_fake[i])])
        el_charge.append([*charges, *rng.choice([-1, 1], n_fake[i])])
        is_real.append([True, True, *([False] * n_fake[i])])
        fake_pt = fake_pt[n_fake[i] :]
    el = {
        "pt": ak.Array(el_pt),
        "eta": ak.Array(el_eta),
        "phi": ak.Array(el_phi),
        "charge": ak.values_astype(ak.Array(el_charge), np.int32),
    }
    real = ak.Array(is_real)
    flat_real = ak.to_numpy(ak.flatten(real))
    n = len(flat_real)
    cut = np.where(flat_real, rng.choice([4, 3, 2, 1], n, p=[0.85, 0.08, 0.05, 0.02]), rng.integers(0, 3, n))
    el["cutBased"] = ak.unflatten(cut.astype(np.uint8), counts)
    el["mass"] = ak.unflatten(np.full(n, ELECTRON_MASS, dtype=np.float32), counts)
    el["deltaEtaSC"] = ak.unflatten(rng.normal(0.0, 0.01, n).astype(np.float32), counts)
    # trigger objects for electrons that would fire HLT_Ele30/32_WPTight_Gsf
    flat_pt = ak.to_numpy(ak.flatten(el["pt"]))
    fires = (cut >= 3) & (flat_pt > 28) & (rng.random(n) < 0.93)
    t_pt = flat_pt * rng.normal(1.0, 0.03, n)
    t_eta = ak.to_numpy(ak.flatten(el["eta"])) + rng.normal(0, 0.004, n)
    t_phi = ak.to_numpy(ak.flatten(el["phi"])) + rng.normal(0, 0.004, n)
    t_count = ak.to_numpy(ak.sum(ak.unflatten(fires, counts), axis=1))
    trig = {
        "id": ak.unflatten(np.full(int(fires.sum()), 11, dtype=np.uint16), t_count),
        "pt": ak.unflatten(t_pt[fires].astype(np.float32), t_count),
        "eta": ak.unflatten(t_eta[fires].astype(np.float32), t_count),
        "phi": ak.unflatten(t_phi[fires].astype(np.float32), t_count),
        "filterBits": ak.unflatten(np.full(int(fires.sum()), 0b10, dtype=np.int32), t_count),
    }
    hlt30 = ak.to_numpy(ak.any(trig["pt"] > 30, axis=1))
    hlt32 = ak.to_numpy(ak.any(trig["pt"] > 32, axis=1))
    branches: dict[str, ak.Array] = {
        "run": np.full(n_events, 1 if mc else 367475, dtype=np.uint32),
        "luminosityBlock": (1 + np.arange(n_events) // 100).astype(np.uint32),
        "event": (1_000_000 + np.arange(n_events)).astype(np.uint64),
        "HLT_Ele30_WPTight_Gsf": hlt30,
        "HLT_Ele32_WPTight_Gsf": hlt32,
        "PV_npvs": rng.poisson(40, n_events).astype(np.int32),
        "Rho_fixedGridRhoAll": rng.gamma(9.0, 3.0, n_events).astype(np.float32),
        "Rho_fixedGridRhoFastjetAll": rng.gamma(9.0, 3.0, n_events).astype(np.float32),
    }
    for k, v in el.items():
        branches[f"Electron_{k}"] = ak.values_astype(v, np.float32) if k in ("pt", "eta", "phi") else v
    for k, v in trig.items():
        branches[f"TrigObj_{k}"] = v
    if mc:
        branches.update(_mc_branches(rng, n_events, real, counts))
    return branches


def _mc_branches(rng: np.random.Generator, n_events: int, real: ak.Array, counts: np.ndarray) -> dict[str, ak.Array]:
    """GenPart (Z, e-, e+), gen matching, genWeight and pileup for an MC sample."""
    # GenPart per event: [Z (mother -1), e (mother 0), e (mother 0)]
    gen_pdg = np.tile(np.array([23, 11, -11], dtype=np.int32), n_events)
    gen_mother = np.tile(np.array([-1, 0, 0], dtype=np.int16), n_events)
    three = np.full(n_events, 3)
    flat_real = ak.to_numpy(ak.flatten(real))
    slot = ak.to_numpy(ak.flatten(ak.local_index(real)))
    gen_idx = np.where(flat_real, slot + 1, -1).astype(np.int16)
    flav = np.where(flat_real, 1, 0).astype(np.uint8)
    return {
        "GenPart_pdgId": ak.unflatten(gen_pdg, three),
        "GenPart_genPartIdxMother": ak.unflatten(gen_mother, three),
        "Electron_genPartIdx": ak.unflatten(gen_idx, counts),
        "Electron_genPartFlav": ak.unflatten(flav, counts),
        "genWeight": np.where(rng.random(n_events) < 0.02, -1.0, 1.0).astype(np.float32) * 1234.5,
        "Pileup_nTrueInt": rng.normal(40, 8, n_events).clip(1, 99).astype(np.float32),
    }


def write_nanoaod(path: Path, n_events: int, seed: int, mc: bool = False) -> Path:
    """Write the sample as a flat ``Events`` tree with NanoAOD branch names (atomically)."""
    import uproot

    branches = nanoaod_events(n_events, seed, mc)
    groups: dict[str, dict[str, ak.Array]] = {}
    flat: dict[str, ak.Array] = {}
    for name, value in branches.items():
        coll, _, field = name.partition("_")
        if coll in ("Electron", "TrigObj", "GenPart"):
            groups.setdefault(coll, {})[field] = value
        else:
            flat[name] = value
    tree = {**flat, **{coll: ak.zip(fields) for coll, fields in groups.items()}}
    with atomic.atomic_path(path) as tmp, uproot.recreate(tmp) as out:
        out.mktree(
            "Events",
            {k: ak.Array(v).type if isinstance(v, ak.Array) else np.asarray(v).dtype for k, v in tree.items()},
            field_name=lambda outer, inner: f"{outer}_{inner}",
            counter_name=lambda counted: f"n{counted}",
        )
        out["Events"].extend(tree)
    return path


def configurations(root_file: str = DEMO_FILE, dataset: str = "demo_DYto2E") -> dict[str, dict]:
    """The four demo configurations: an electron trigger + ID measurement on the demo file."""
    runner = {
        "workflow": "ElectronTagNProbeFromNanoAOD",
        "workflow_args": {
            "filters": {"HLT_Ele32_WPTight_Gsf": "HLT_Ele32_WPTight_Gsf", "cutBased >= 4": "cutBased >= 4"},
            "trigger_pt": {"HLT_Ele32_WPTight_Gsf": 32},
            "filterbit": {"HLT_Ele32_WPTight_Gsf": 1},
        },
        "methods": [
            {
                "name": "get_passing_and_failing_probes",
                "args": {"filter": "HLT_Ele32_WPTight_Gsf", "cut_and_count": False},
            },
            {
                "name": "get_1d_pt_eta_phi_tnp_histograms",
                "args": {"filter": ["HLT_Ele32_WPTight_Gsf", "cutBased >= 4"]},
            },
            {"name": "get_nd_tnp_histograms", "args": {"filter": "HLT_Ele32_WPTight_Gsf", "vars": ["el_pt", "el_eta"]}},
        ],
    }
    settings = {
        "tags_pt_cut": 35,
        "probes_pt_cut": 27,
        "tags_abseta_cut": 2.17,
        "probes_abseta_cut": 2.5,
        "use_sc_eta": True,
        "avoid_ecal_transition_tags": True,
        "require_event_to_pass_hlt_filter": True,
    }
    # generated events without MC truth branches: processed as data (isMC false), labelled as what they are
    label = "Generated Z→ee demo (no MC truth, processed as data)"
    fileset = {dataset: {"files": {root_file: "Events"}, "metadata": {"isMC": False, "label": label}}}
    binning = {
        "el_pt_bins": [5, 20, 27, 30, 32, 35, 40, 50, 60, 100, 200],
        "el_eta_bins": [-2.5, -1.566, -1.4442, 0, 1.4442, 1.566, 2.5],
    }
    return {"runner": runner, "settings": settings, "fileset": fileset, "binning": binning}


def generate(target: Path, seed: int, n_events: int = 2000) -> list[Path]:
    """Write the demo ROOT file and the four JSON configurations below ``target``."""
    target = Path(target)
    files = [write_nanoaod(target / DEMO_FILE, n_events, seed)]
    for name, content in configurations().items():
        files.append(atomic.write_text(target / f"{name}.json", json.dumps(content, indent=4) + "\n"))
    return files
