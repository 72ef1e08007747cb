"""Seeded generator of dumper files (``recosimdumper/caloTree``) for tests, benchmarks and the demo.

A particle-gun event: one or two electrons (flavour 11) or photons (22) with Et 1-100 GeV over
|eta| < 3, plus pileup deposits. Every particle deposits its energy as a few showers (main
shower, bremsstrahlung or conversion legs for electrons/photons, soft satellites) spread over
crystals of 2*pi/360 in eta and phi. Crystals collect sim energy per caloparticle and pileup, rec
hits add noise; each shower above threshold becomes a PF cluster whose hits share crystals with
fractions. ``sim_fraction`` and the shared sim energy are then computed from the sim hits as the
Dumper does, and Mustache superclusters are built with the geometric mustache.

The files hold the dumper's names and C++ types in one of two formats (``tree_format``):

* ``ttree``: a real ROOT TTree, what the CMS dumper writes, with vector<vector<...>> branches;
  written with ROOT itself (:mod:`include.ecal_windows.ttree_writer`), which only the test and demo
  environment has (requirements-test.txt);
* ``rntuple``: an RNTuple written with uproot, which cannot write vector<vector<...>> into a TTree;
  the reader treats both alike.

``auto`` (the demo's and the command line's default) writes a TTree where ROOT is installed and an
RNTuple elsewhere (the deployment image). The windows computed from both are identical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import awkward as ak
import numpy as np

from include.core import atomic
from include.ecal_windows import TREE_PATH
from include.ecal_windows.dumper import SHAPES
from include.ecal_windows.geometry import EB_EDGE, in_geom_mustache
from include.ecal_windows.workingpoint import RUN3_ET_EDGES, RUN3_ETA_EDGES, demo_values, write_correction

CRYSTAL = 2 * np.pi / 360
EE_Z_CM = 317.0
EE_CRYSTAL_CM = 3.1  # effective size: the 100 x 100 ix/iy grid covers the endcap down to |eta| 1.479
MAX_CALOS = 2
F32, F64, I32 = np.float32, np.float64, np.int32


def _iz(eta: np.ndarray) -> np.ndarray:
    return np.where(np.abs(eta) < EB_EDGE, 0, np.sign(eta)).astype(I32)


def _ieta_iphi(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """EB: (ieta, iphi); EE: (ix, iy) from the position on the endcap face."""
    ke = np.floor(eta / CRYSTAL).astype(np.int64)
    ieta = np.where(ke >= 0, ke + 1, ke)
    iphi = np.mod(np.floor(phi / CRYSTAL).astype(np.int64), 360) + 1
    r = EE_Z_CM / np.sinh(np.maximum(np.abs(eta), 1e-3))
    ix = np.clip(np.floor(r * np.cos(phi) / EE_CRYSTAL_CM) + 51, 1, 100)
    iy = np.clip(np.floor(r * np.sin(phi) / EE_CRYSTAL_CM) + 51, 1, 100)
    endcap = np.abs(eta) >= EB_EDGE
    return np.where(endcap, ix, ieta).astype(I32), np.where(endcap, iy, iphi).astype(I32)


def _segments(counts: np.ndarray) -> np.ndarray:
    """Offsets (n+1) of consecutive segments of the given sizes."""
    return np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


def _jag(values: np.ndarray, counts: np.ndarray, dtype=None) -> ak.Array:
    values = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
    return ak.unflatten(values, np.asarray(counts, dtype=np.int64))


def _wrap(phi: np.ndarray) -> np.ndarray:
    return np.mod(phi + np.pi, 2 * np.pi) - np.pi


def _showers(rng: np.random.Generator, n_events: int, flavour: int, pileup: float):
    """Flat arrays of particles (calos) and energy deposits (showers)."""
    n_calo = rng.integers(1, MAX_CALOS + 1, n_events)
    calo_ev = np.repeat(np.arange(n_events), n_calo)
    nc = calo_ev.size
    gen_et = np.exp(rng.uniform(np.log(1.0), np.log(100.0), nc))
    gen_eta = rng.uniform(0.0, 2.95, nc) * rng.choice([-1.0, 1.0], nc)
    gen_phi = rng.uniform(-np.pi, np.pi, nc)
    gen_e = gen_et * np.cosh(gen_eta)
    # showers per particle: main + (brem | conversion leg) + soft satellites
    brem = rng.poisson(1.3, nc)
    conversion = np.where(rng.random(nc) < 0.35, 1, 0) + rng.poisson(0.3, nc)
    n_extra = brem if flavour == 11 else conversion
    n_sat = rng.poisson(0.6, nc)
    n_dep = 1 + n_extra + n_sat
    dep_calo = np.repeat(np.arange(nc), n_dep)
    k = np.arange(dep_calo.size) - np.repeat(_segments(n_dep)[:-1], n_dep)
    kind = np.where(k == 0, 0, np.where(k <= n_extra[dep_calo], 1, 2))
    share = np.where(kind == 0, rng.uniform(1.5, 4.0, kind.size), np.where(kind == 1, rng.uniform(0.2, 1.2), 0.05))
    share = share * rng.uniform(0.7, 1.3, share.size)
    norm = np.bincount(dep_calo, weights=share, minlength=nc)
    contained = rng.uniform(0.93, 0.99, nc)
    dep_e = gen_e[dep_calo] * contained[dep_calo] * share / norm[dep_calo]
    charge = rng.choice([-1.0, 1.0], nc)
    spread = np.minimum(0.35, 1.6 / np.maximum(gen_et, 1.0) + 0.03)
    dphi = np.where(
        kind == 0,
        rng.normal(0, 0.004, kind.size),
        np.where(
            kind == 1,
            charge[dep_calo] * rng.uniform(0.02, 1.0, kind.size) * spread[dep_calo],
            rng.normal(0, 0.08, kind.size),
        ),
    )
    deta = np.where(kind == 2, rng.normal(0, 0.04, kind.size), rng.normal(0, 0.006, kind.size))
    dep_eta = gen_eta[dep_calo] + deta
    dep_phi = _wrap(gen_phi[dep_calo] + dphi)
    # pileup deposits: soft, anywhere
    true_pu = rng.uniform(40, 70, n_events) if pileup > 0 else np.zeros(n_events)
    obs_pu = rng.poisson(true_pu).astype(F64)
    n_pu = rng.poisson(pileup * obs_pu / 60.0)
    pu_ev = np.repeat(np.arange(n_events), n_pu)
    pu_eta = rng.uniform(-3.0, 3.0, pu_ev.size)
    pu_e = (0.25 + rng.exponential(0.8, pu_ev.size)) * np.cosh(pu_eta)
    pu_phi = rng.uniform(-np.pi, np.pi, pu_ev.size)
    showers = {
        "ev": np.concatenate([calo_ev[dep_calo], pu_ev]),
        "calo": np.concatenate([dep_calo, np.full(pu_ev.size, -1)]),
        "e": np.concatenate([dep_e, pu_e]),
        "eta": np.clip(np.concatenate([dep_eta, pu_eta]), -3.05, 3.05),
        "phi": np.concatenate([dep_phi, pu_phi]),
    }
    order = np.lexsort((rng.random(showers["ev"].size), showers["ev"]))
    showers = {k: v[order] for k, v in showers.items()}
    calos = {"ev": calo_ev, "n": n_calo, "gen_e": gen_e, "gen_eta": gen_eta, "gen_phi": gen_phi}
    events = {"true_pu": true_pu, "obs_pu": obs_pu}
    return calos, showers, events


def _cell_coordinates(eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subdetector, u, v) in crystal units: EB (eta, phi) / crystal; EE (x, y) / 2.86 cm on the face."""
    endcap = np.abs(eta) >= EB_EDGE
    r = EE_Z_CM / np.sinh(np.maximum(np.abs(eta), 1e-3))
    u = np.where(endcap, r * np.cos(phi) / EE_CRYSTAL_CM, eta / CRYSTAL)
    v = np.where(endcap, r * np.sin(phi) / EE_CRYSTAL_CM, phi / CRYSTAL)
    sub = np.where(endcap, np.where(eta > 0, 1, 2), 0)
    return sub, u, v


def _cell_centres(sub: np.ndarray, ku: np.ndarray, kv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eta, phi) of crystal centres."""
    x, y = (ku + 0.5) * EE_CRYSTAL_CM, (kv + 0.5) * EE_CRYSTAL_CM
    ee_eta = np.arcsinh(EE_Z_CM / np.maximum(np.hypot(x, y), 1e-3)) * np.where(sub == 2, -1.0, 1.0)
    eta = np.where(sub == 0, (ku + 0.5) * CRYSTAL, ee_eta)
    phi = np.where(sub == 0, _wrap((kv + 0.5) * CRYSTAL), np.arctan2(y, x))
    return eta, phi


def _crystals(rng: np.random.Generator, showers: dict, calos: dict):
    """Spread showers over 5x5 crystals; crystal sums of sim (per calo), pileup and rec energy.

    Barrel crystals form an (eta, phi) grid of 2*pi/360; endcap crystals an (x, y) grid of 2.86 cm
    on the endcap faces (|z| = 317 cm), so EE hits carry their real ix/iy.
    """
    ns = showers["e"].size
    sub_s, u, v = _cell_coordinates(showers["eta"], showers["phi"])
    cu, cv = np.floor(u).astype(np.int64), np.floor(v).astype(np.int64)
    off = np.arange(-2, 3)
    du, dv = np.meshgrid(off, off, indexing="ij")
    du, dv = du.ravel(), dv.ravel()
    sh = np.repeat(np.arange(ns), du.size)
    ku = cu[sh] + np.tile(du, ns)
    kv = cv[sh] + np.tile(dv, ns)
    sigma = 0.75
    w = np.exp(-((ku + 0.5 - u[sh]) ** 2 + (kv + 0.5 - v[sh]) ** 2) / (2 * sigma**2))
    w /= np.bincount(sh, weights=w, minlength=ns)[sh]
    e_dep = showers["e"][sh] * w
    sub = sub_s[sh]
    kv = np.where(sub == 0, np.mod(kv, 360), kv)
    # crystals beyond the barrel end (|ieta| 85) or outside the endcap grid: that energy leaks
    inside = np.where(sub == 0, (ku >= -85) & (ku < 85), (np.abs(ku + 0.5) < 50) & (np.abs(kv + 0.5) < 50))
    sh, ku, kv, e_dep, sub = sh[inside], ku[inside], kv[inside], e_dep[inside], sub[inside]
    ev = showers["ev"][sh]
    key = ((ev * 3 + sub) * 4096 + (ku + 2048)) * 4096 + (kv + 2048)
    ukey, cry = np.unique(key, return_inverse=True)
    ncry = ukey.size
    calo = showers["calo"][sh]
    first_calo = _segments(calos["n"])[:-1]
    local_calo = np.where(calo >= 0, calo - first_calo[calos["ev"][np.maximum(calo, 0)]], -1)
    sim = np.zeros((ncry, MAX_CALOS))
    signal = calo >= 0
    np.add.at(sim, (cry[signal], local_calo[signal]), e_dep[signal])
    pu = np.bincount(cry[~signal], weights=e_dep[~signal], minlength=ncry)
    cry_ku = (ukey // 4096) % 4096 - 2048
    cry_kv = ukey % 4096 - 2048
    cry_sub = (ukey // 4096 // 4096) % 3
    cry_eta, cry_phi = _cell_centres(cry_sub, cry_ku, cry_kv)
    noise = np.where(cry_sub == 0, 0.04, 0.12)
    total = sim.sum(axis=1) + pu
    rec = total * rng.normal(1.0, 0.02, ncry) + rng.normal(0.0, 1.0, ncry) * noise
    ieta = np.where(cry_sub == 0, np.where(cry_ku >= 0, cry_ku + 1, cry_ku), cry_ku + 51)
    iphi = np.where(cry_sub == 0, cry_kv + 1, cry_kv + 51)
    iz = np.where(cry_sub == 0, 0, np.where(cry_sub == 1, 1, -1))
    crystals = {"sim": sim, "pu": pu, "rec": rec, "noise": noise, "ke": cry_ku, "kp": cry_kv}
    crystals.update(eta=cry_eta, phi=cry_phi, ev=ukey // 4096 // 4096 // 3, ieta=ieta, iphi=iphi, iz=iz)
    deposits = {"shower": sh, "crystal": cry, "e": e_dep}
    return crystals, deposits


def generate_events(n_events: int, seed: int, flavour: int = 11, pileup: float = 8.0, first_event: int = 1) -> dict:
    """Generate ``n_events`` events; return the dumper branches as awkward/numpy arrays."""
    rng = np.random.default_rng([seed, flavour, n_events])
    calos, showers, events = _showers(rng, n_events, flavour, pileup)
    crystals, deposits = _crystals(rng, showers, calos)
    ns = showers["e"].size
    # a shower is a PF cluster if it is hard enough; its hits: its crystals with rec E > threshold
    is_cluster = showers["e"] / np.cosh(showers["eta"]) > 0.15
    hit_thr = 3 * crystals["noise"][deposits["crystal"]]
    keep = is_cluster[deposits["shower"]] & (crystals["rec"][deposits["crystal"]] > hit_thr) & (deposits["e"] > 1e-3)
    h_sh, h_cry, h_e = deposits["shower"][keep], deposits["crystal"][keep], deposits["e"][keep]
    # fractions: share of this cluster's shower among clustered showers in the crystal
    per_cry = np.bincount(h_cry, weights=h_e, minlength=crystals["rec"].size)
    frac = h_e / per_cry[h_cry]
    n_hits_sh = np.bincount(h_sh, minlength=ns)
    is_cluster &= n_hits_sh > 0
    cl_of_sh = np.cumsum(is_cluster) - 1
    order = np.lexsort((h_cry, h_sh))
    h_sh, h_cry, frac = h_sh[order], h_cry[order], frac[order]
    h_cl = cl_of_sh[h_sh]
    ncl = int(is_cluster.sum())
    h_rec = crystals["rec"][h_cry]
    h_ef = h_rec * frac
    raw = np.bincount(h_cl, weights=h_ef, minlength=ncl)
    cl_ev = showers["ev"][is_cluster]
    # positions: energy-weighted crystal centres (phi relative to the shower axis)
    sh_phi = showers["phi"][h_sh]
    dphi_h = _wrap(crystals["phi"][h_cry] - sh_phi)
    cl_eta = np.bincount(h_cl, weights=h_ef * crystals["eta"][h_cry], minlength=ncl) / raw
    cl_phi = _wrap(showers["phi"][is_cluster] + np.bincount(h_cl, weights=h_ef * dphi_h, minlength=ncl) / raw)
    corr = 1.02 + 0.10 * np.exp(-raw / np.cosh(cl_eta) / 8.0) + rng.normal(0, 0.005, ncl)
    calib = raw * corr
    n_xtals = np.bincount(h_cl, minlength=ncl).astype(F64)
    eta_w = np.sqrt(np.bincount(h_cl, weights=h_ef * (crystals["eta"][h_cry] - cl_eta[h_cl]) ** 2, minlength=ncl) / raw)
    phi_w = np.sqrt(
        np.bincount(h_cl, weights=h_ef * _wrap(crystals["phi"][h_cry] - cl_phi[h_cl]) ** 2, minlength=ncl) / raw
    )
    shapes = _shower_shapes(h_cl, crystals["ke"][h_cry], crystals["kp"][h_cry], h_ef, h_rec, raw, ncl)
    # association scores from the sim hits
    sim_h = crystals["sim"][h_cry]
    shared_sim = np.zeros((ncl, MAX_CALOS))
    np.add.at(shared_sim, h_cl, sim_h)
    shared_frac = np.zeros((ncl, MAX_CALOS))
    np.add.at(shared_frac, h_cl, sim_h * frac[:, None])
    calo_off = _segments(calos["n"])
    calo_sim_total = np.zeros((n_events, MAX_CALOS))
    for j in range(MAX_CALOS):
        has = calos["n"] > j
        cidx = calo_off[:-1][has] + j
        ev_has = np.flatnonzero(has)
        calo_sim_total[ev_has, j] = _calo_sums(crystals, cidx, calos, j)
    denom = calo_sim_total[cl_ev]
    with np.errstate(invalid="ignore", divide="ignore"):
        score = np.where(denom > 0, shared_frac / denom, -1.0)
    pu_h = crystals["pu"][h_cry]
    pu_sim = np.bincount(h_cl, weights=pu_h * frac, minlength=ncl)
    pu_reco = np.bincount(h_cl, weights=np.where(pu_h > 0, h_ef, 0.0), minlength=ncl)
    pu_n = np.bincount(h_cl, weights=(pu_h > 0).astype(F64), minlength=ncl)
    noise_h = crystals["noise"][h_cry]
    noise_nofrac = np.sqrt(np.bincount(h_cl, weights=noise_h**2, minlength=ncl))
    noise_uncal = np.sqrt(np.bincount(h_cl, weights=(noise_h * frac) ** 2, minlength=ncl))
    ncl_ev = np.bincount(cl_ev, minlength=n_events)
    nc_of_cl = calos["n"][cl_ev]
    pair_mask = np.arange(MAX_CALOS)[None, :] < nc_of_cl[:, None]
    ieta, iphi = _ieta_iphi(cl_eta, cl_phi)
    hits_per_cl = np.bincount(h_cl, minlength=ncl)

    def cl_jag(values, dtype):
        return _jag(values, ncl_ev, dtype)

    def hit_jag(values, dtype):
        return ak.unflatten(_jag(values, hits_per_cl, dtype), ncl_ev)

    def pair_jag(matrix):
        return ak.unflatten(_jag(matrix[pair_mask], nc_of_cl, F64), ncl_ev)

    # calo particles: sim position from the sim hits
    sim_e, sim_eta, sim_phi = _calo_positions(crystals, calos)
    good = sim_e * rng.uniform(0.97, 1.0, sim_e.size)
    rho = np.maximum(0.0, 0.45 * events["obs_pu"] + rng.normal(0, 2.0, n_events))
    n_vtx = np.maximum(1, rng.binomial(events["obs_pu"].astype(np.int64), 0.7))
    branches = {
        "runId": np.full(n_events, 1, I32),
        "lumiId": (1 + (first_event + np.arange(n_events) - 1) // 500).astype(I32),
        "eventId": (first_event + np.arange(n_events)).astype(np.int64),
        "nVtx": n_vtx.astype(I32),
        "rho": rho.astype(F32),
        "obsPU": events["obs_pu"].astype(F64),
        "truePU": events["true_pu"].astype(F64),
        "pfCluster_rawEnergy": cl_jag(raw, F32),
        "pfCluster_energy": cl_jag(calib, F32),
        "pfCluster_eta": cl_jag(cl_eta, F32),
        "pfCluster_phi": cl_jag(cl_phi, F32),
        "pfCluster_ieta": cl_jag(ieta, I32),
        "pfCluster_iphi": cl_jag(iphi, I32),
        "pfCluster_iz": cl_jag(_iz(cl_eta), I32),
        "pfCluster_nXtals": cl_jag(n_xtals, F64),
        "pfCluster_etaWidth": cl_jag(eta_w, F32),
        "pfCluster_phiWidth": cl_jag(phi_w, F32),
    }
    for name in SHAPES:
        branches[f"pfCluster_{name}"] = cl_jag(shapes[name], F32)
        branches[f"pfCluster_full5x5_{name}"] = cl_jag(shapes[f"full5x5_{name}"], F32)
    branches.update(
        {
            "pfCluster_sim_fraction": pair_jag(score),
            "pfCluster_simEnergy_sharedXtals": pair_jag(shared_sim),
            "pfCluster_simEnergy_sharedXtalsPU": cl_jag(pu_sim, F64),
            "pfCluster_recoEnergy_sharedXtalsPU": cl_jag(pu_reco, F64),
            "pfCluster_simPU_nSharedXtals": cl_jag(pu_n, F64),
            "pfCluster_noise": cl_jag(noise_uncal * corr, F32),
            "pfCluster_noiseUncalib": cl_jag(noise_uncal, F32),
            "pfCluster_noiseNoFractions": cl_jag(noise_nofrac * corr, F32),
            "pfCluster_noiseUncalibNoFractions": cl_jag(noise_nofrac, F32),
            "pfClusterHit_rechitEnergy": hit_jag(h_rec, F32),
            "pfClusterHit_fraction": hit_jag(frac, F32),
            "pfClusterHit_ieta": hit_jag(crystals["ieta"][h_cry], I32),
            "pfClusterHit_iphi": hit_jag(crystals["iphi"][h_cry], I32),
            "pfClusterHit_iz": hit_jag(crystals["iz"][h_cry], I32),
            "caloParticle_simEnergy": _jag(sim_e, calos["n"], F32),
            "caloParticle_simEnergyGoodStatus": _jag(good, calos["n"], F32),
            "caloParticle_genEnergy": _jag(calos["gen_e"], calos["n"], F32),
            "caloParticle_simEta": _jag(sim_eta, calos["n"], F32),
            "caloParticle_simPhi": _jag(sim_phi, calos["n"], F32),
            "caloParticle_genEta": _jag(calos["gen_eta"], calos["n"], F32),
            "caloParticle_genPhi": _jag(calos["gen_phi"], calos["n"], F32),
            "caloParticle_simIz": _jag(_iz(sim_eta), calos["n"], I32),
            "caloParticlePU_totEnergy": np.bincount(crystals["ev"], weights=crystals["pu"], minlength=n_events).astype(
                F32
            ),
        }
    )
    branches.update(_superclusters(branches))
    return branches


def _calo_sums(crystals: dict, cidx: np.ndarray, calos: dict, j: int) -> np.ndarray:
    """Total sim energy of the j-th calo of each event that has one."""
    total = np.bincount(crystals["ev"], weights=crystals["sim"][:, j], minlength=calos["n"].size)
    return total[calos["ev"][cidx]]


def _calo_positions(crystals: dict, calos: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    calo_off = _segments(calos["n"])
    nc = calos["ev"].size
    sim_e, sim_eta, sim_phi = np.zeros(nc), np.zeros(nc), np.zeros(nc)
    for j in range(MAX_CALOS):
        w = crystals["sim"][:, j]
        n_ev = calos["n"].size
        e = np.bincount(crystals["ev"], weights=w, minlength=n_ev)
        eta = np.bincount(crystals["ev"], weights=w * crystals["eta"], minlength=n_ev)
        has = np.flatnonzero(calos["n"] > j)
        cidx = calo_off[:-1][has] + j
        sim_e[cidx] = e[has]
        sim_eta[cidx] = eta[has] / np.maximum(e[has], 1e-12)
        ref = calos["gen_phi"][cidx]
        ev_ref = np.full(n_ev, 0.0)
        ev_ref[has] = ref
        dphi = _wrap(crystals["phi"] - ev_ref[crystals["ev"]])
        phi = np.bincount(crystals["ev"], weights=w * dphi, minlength=n_ev)
        sim_phi[cidx] = _wrap(ref + phi[has] / np.maximum(e[has], 1e-12))
    return sim_e, sim_eta, sim_phi


def _shower_shapes(h_cl, ke, kp, e_frac, e_rec, raw, ncl) -> dict[str, np.ndarray]:
    """r9, sigmas and swiss cross from the hits (with fractions, and without for full5x5)."""
    out = {}
    for prefix, e in (("", e_frac), ("full5x5_", e_rec)):
        e = np.maximum(e, 0.0)
        emax = np.zeros(ncl)
        np.maximum.at(emax, h_cl, e)
        is_max = e >= emax[h_cl]
        first = np.full(ncl, -1)
        idx = np.flatnonzero(is_max)
        first[h_cl[idx[::-1]]] = idx[::-1]
        dke = ke - ke[first[h_cl]]
        dkp = (kp - kp[first[h_cl]] + 180) % 360 - 180
        e3 = np.bincount(h_cl, weights=np.where((abs(dke) <= 1) & (abs(dkp) <= 1), e, 0), minlength=ncl)
        e5 = np.bincount(h_cl, weights=np.where((abs(dke) <= 2) & (abs(dkp) <= 2), e, 0), minlength=ncl)
        cross = (abs(dke) + abs(dkp)) == 1
        e4 = np.bincount(h_cl, weights=np.where(cross, e, 0), minlength=ncl)
        with np.errstate(divide="ignore", invalid="ignore"):
            w = np.maximum(0.0, 4.7 + np.log(np.maximum(e, 1e-12) / np.maximum(e5[h_cl], 1e-12)))
            sw = np.maximum(np.bincount(h_cl, weights=w, minlength=ncl), 1e-12)
            see = np.sqrt(np.bincount(h_cl, weights=w * dke**2, minlength=ncl) / sw) * CRYSTAL
            spp = np.sqrt(np.bincount(h_cl, weights=w * dkp**2, minlength=ncl) / sw) * CRYSTAL
            sep = np.bincount(h_cl, weights=w * dke * dkp, minlength=ncl) / sw * CRYSTAL**2
            denom = raw if prefix == "" else np.maximum(e5, 1e-12)
            out[f"{prefix}r9"] = np.clip(e3 / np.maximum(denom, 1e-12), 0, 1.2)
            out[f"{prefix}swissCross"] = np.clip(1 - e4 / np.maximum(emax, 1e-12), 0, 1)
        out[f"{prefix}sigmaIetaIeta"] = see
        out[f"{prefix}sigmaIphiIphi"] = spp
        out[f"{prefix}sigmaIetaIphi"] = sep
    return out


def _superclusters(b: dict) -> dict[str, ak.Array]:
    """Mustache superclusters: greedy in calibrated Et, members by the geometric mustache."""
    raw_l, cal_l = ak.to_list(b["pfCluster_rawEnergy"]), ak.to_list(b["pfCluster_energy"])
    eta_l, phi_l = ak.to_list(b["pfCluster_eta"]), ak.to_list(b["pfCluster_phi"])
    seeds, sraw, scal, seta, members = [], [], [], [], []
    for raw, cal, eta, phi in zip(raw_l, cal_l, eta_l, phi_l, strict=True):
        raw, cal, eta, phi = (np.asarray(x, dtype=F64) for x in (raw, cal, eta, phi))
        et = cal / np.cosh(eta)
        used = np.zeros(raw.size, bool)
        ev_seeds, ev_raw, ev_cal, ev_eta, ev_mem = [], [], [], [], []
        for i in np.argsort(-et, kind="stable"):
            if used[i] or et[i] < 1.0:
                continue
            inside = in_geom_mustache(eta[i], phi[i], raw, eta, phi) & ~used
            inside[i] = True
            used |= inside
            mem = np.flatnonzero(inside)
            ev_seeds.append(int(i))
            ev_raw.append(float(raw[mem].sum()))
            ev_cal.append(float(cal[mem].sum()))
            ev_eta.append(float(np.average(eta[mem], weights=raw[mem])))
            ev_mem.append(mem.tolist())
        seeds.append(ev_seeds)
        sraw.append(ev_raw)
        scal.append(ev_cal)
        seta.append(ev_eta)
        members.append(ev_mem)
    return {
        "superCluster_seedIndex": ak.values_astype(ak.Array(seeds, with_name=None), I32),
        "superCluster_rawEnergy": ak.values_astype(ak.Array(sraw), F32),
        "superCluster_energy": ak.values_astype(ak.Array(scal), F32),
        "superCluster_eta": ak.values_astype(ak.Array(seta), F32),
        "superCluster_pfClustersIndex": ak.values_astype(ak.Array(members), I32),
    }


TREE_FORMATS = ("auto", "ttree", "rntuple")


def resolve_format(tree_format: str) -> str:
    """``ttree`` or ``rntuple``: ``auto`` is ``ttree`` where ROOT is installed."""
    if tree_format not in TREE_FORMATS:
        raise ValueError(f"tree_format {tree_format!r}: expected one of {', '.join(TREE_FORMATS)}")
    if tree_format != "auto":
        return tree_format
    from include.ecal_windows.ttree_writer import root_available

    return "ttree" if root_available() else "rntuple"


def write_dumper_file(path: str | Path, branches: dict, tree_format: str = "rntuple") -> Path:
    """Write the branches as ``recosimdumper/caloTree`` (atomically) in ``tree_format``."""
    import uproot

    path = Path(path)
    if resolve_format(tree_format) == "ttree":
        from include.ecal_windows.ttree_writer import write_dumper_ttree

        return write_dumper_ttree(path, branches)
    with atomic.atomic_path(path) as tmp, uproot.recreate(tmp) as handle:
        handle.mkdir("recosimdumper")
        handle[TREE_PATH] = branches
    return path


def generate_dataset(
    target: str | Path,
    n_files: int,
    events_per_file: int,
    seed: int,
    flavour: int = 11,
    pileup: float = 8.0,
    tree_format: str = "rntuple",
) -> list[Path]:
    """Write ``n_files`` dumper files ``dumper_<i>.root`` below ``target`` and a working point."""
    target = Path(target)
    tree_format = resolve_format(tree_format)
    files = []
    for i in range(n_files):
        branches = generate_events(events_per_file, seed * 1000 + i, flavour, pileup, 1 + i * events_per_file)
        files.append(write_dumper_file(target / f"dumper_{i:03d}.root", branches, tree_format))
    kind = "electron" if flavour == 11 else "photon"
    wp = target / f"simfraction_{kind}_run3_PU65.json"
    files.append(write_correction(wp, RUN3_ET_EDGES, RUN3_ETA_EDGES, demo_values(flavour=flavour)))
    return files


def generate(target: Path, seed: int, tree_format: str = "auto") -> list[Path]:
    """Demo data: 4 electron files and 2 photon files of 150 events, each folder with its working point.

    TTrees where ROOT is installed (as the CMS dumper writes them), else RNTuples.
    """
    target = Path(target)
    tree_format = resolve_format(tree_format)
    electrons = generate_dataset(target / "electrons", 4, 150, seed, flavour=11, tree_format=tree_format)
    return electrons + generate_dataset(target / "photons", 2, 150, seed, flavour=22, tree_format=tree_format)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m include.ecal_windows.generator", description=__doc__.splitlines()[0]
    )
    parser.add_argument("target", type=Path)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--events", type=int, default=150)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--flavour", type=int, choices=(11, 22), default=11)
    parser.add_argument("--pileup", type=float, default=8.0, help="mean number of pileup showers per event")
    parser.add_argument(
        "--format", dest="tree_format", choices=TREE_FORMATS, default="auto",
        help="ttree (needs ROOT), rntuple, or auto: ttree where ROOT is installed",
    )  # fmt: skip
    args = parser.parse_args(argv)
    tree_format = resolve_format(args.tree_format)
    files = generate_dataset(args.target, args.files, args.events, args.seed, args.flavour, args.pileup, tree_format)
    for path in files:
        print(path)
    print(f"format: {tree_format}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
