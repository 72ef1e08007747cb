"""A straightforward per-event reference of the window algorithm, written from the spec alone.

Python loops and ``math`` only (no numpy vectorization, no code shared with the production
module except the working-point table lookup). The tests compare it window by window with the
vectorized implementation.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from include.ecal_windows.config import WindowConfig
from include.ecal_windows.workingpoint import WorkingPoint

SHAPES = ("r9", "sigmaIetaIeta", "sigmaIetaIphi", "sigmaIphiIphi", "swissCross")
M64 = 0xFFFFFFFFFFFFFFFF


def window_size(seed_eta: float, version: str) -> tuple[float, float, float]:
    a = abs(seed_eta)
    if a <= 1.5:
        up, down = 0.1 + (0.1 / 1.5) * a, -0.1
    else:
        up = 0.2 + (0.1 / 1.5) * (a - 1.5)
        down = -0.1 - ((0.2 if version == "v3" else 0.1) / 1.5) * (a - 1.5)
    return up, down, 0.7 - (0.1 / 3) * a


def in_window(seed: tuple[float, float, int], point: tuple[float, float, int], version: str) -> bool:
    (se, sp, sz), (e, p, z) = seed, point
    if z != sz:
        return False
    up, down, dphi_max = window_size(se, version)
    deta = e - se
    if se < 0:
        deta = -deta
    dphi = sp - p
    if dphi > math.pi:
        dphi -= 2 * math.pi
    elif dphi < -math.pi:
        dphi += 2 * math.pi
    return down <= deta <= up and abs(dphi) <= dphi_max


def in_mustache(eta0: float, phi0: float, en: float, eta: float, phi: float) -> bool:
    if en <= 0:
        return False
    log_e = math.log10(en)
    if log_e < -3 or log_e + 1.1 < 0:
        return False
    s = eta0 * math.sin(eta0)
    q = math.sqrt(log_e + 1.1)
    w1 = 0.000699995 * s - 0.00554331 / q
    w0 = -0.00681785 * s - 0.00239516 / q
    b_up, b_low = (w1 - w0) / 2, (w0 - w1) / 2
    c_up = s * (-0.107537 * s + 0.590969) - 0.076494
    c_low = s * (-0.0268843 * s + 0.147742) - 0.0191235
    a_up = 1 / (4 * c_up) - abs(b_up)
    a_low = 1 / (4 * c_low) - abs(b_low)
    dphi = (phi - phi0 + math.pi) % (2 * math.pi) - math.pi
    upper = max(1 / (4 * a_up), 0) * dphi**2 + max(b_up, 0.0087) + 0.0087
    lower = max(1 / (4 * a_low), 0) * dphi**2 + min(b_low, -0.0087)
    deta = (eta - eta0) * (-1 if eta0 < 0 else 1)
    return lower < deta < upper


DYN = [
    (1.479, (0.0280506, 0.946048, -0.101172, 0.432767, 0.14, 0.6)),
    (1.75, (0.0497038, 0.975707, -0.18149, 0.431729, 0.14, 0.55)),
    (2.0, (0.05643, 1.60429, -0.642352, 0.458106, 0.12, 0.45)),
    (math.inf, (0.0928887, 1.22321, -0.260256, 0.345852, 0.12, 0.3)),
]


def in_dynamic_dphi(eta0: float, phi0: float, en: float, eta: float, phi: float) -> bool:
    if en < 0:
        return False
    log_et = math.log10(en / math.cosh(eta)) if en > 0 else -math.inf
    dphi = phi0 - phi
    if dphi > math.pi:
        dphi -= 2 * math.pi
    elif dphi < -math.pi:
        dphi += 2 * math.pi
    yoff, scale, xoff, width, sat, cut = next(p for edge, p in DYN if abs(eta0) < edge)
    arg = (log_et - xoff) * width
    value = yoff + (scale / (1 + math.exp(arg)) if arg < 700 else 0.0)
    return abs(dphi) < min(max(value, sat), cut)


def window_index(run: int, lumi: int, event: int, seed: int) -> str:
    v = int.from_bytes(hashlib.sha256(f"{run}:{lumi}:{event}:{seed}".encode()).digest(), "big")
    out = ""
    for _ in range(9):
        v, r = divmod(v, 26)
        out += "abcdefghijklmnopqrstuvwxyz"[r]
    return out


def _mix(x: int) -> int:
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def sample_key(seed: int, run: int, lumi: int, event: int, position: int) -> int:
    h = _mix(seed & M64)
    for part in (run, lumi, event, position):
        h = _mix(h ^ (part & M64))
    return h


def log1(x: float) -> float:
    if x < -1:
        return math.nan
    if x == -1:
        return -math.inf
    return math.log(x + 1)


def windows_of_event(ev: dict[str, Any], cfg: WindowConfig, wp: WorkingPoint) -> tuple[list[dict], dict[str, int]]:
    """Windows of one event (``ev``: one record of the dumper arrays as Python values)."""
    raw, calib = ev["pfCluster_rawEnergy"], ev["pfCluster_energy"]
    eta, phi, iz = ev["pfCluster_eta"], ev["pfCluster_phi"], ev["pfCluster_iz"]
    n = len(raw)
    et_raw = [raw[i] / math.cosh(eta[i]) for i in range(n)]
    et_cal = [calib[i] / math.cosh(eta[i]) for i in range(n)]
    # association
    cl_calo, cl_score = [-1] * n, [-1.0] * n
    for i, scores in enumerate(ev[f"pfCluster_{cfg.assoc_strategy}"]):
        if not scores:
            continue
        best = 0
        for j in range(1, len(scores)):
            if scores[j] > scores[best]:
                best = j
        if scores[best] > cfg.cl_min_fraction:
            cl_calo[i], cl_score[i] = best, scores[best]
    by_calo: dict[int, list[int]] = {}
    for i in range(n):
        if cl_calo[i] >= 0:
            by_calo.setdefault(cl_calo[i], []).append(i)
    main = {c: sorted(cls, key=lambda i: -cl_score[i])[0] for c, cls in by_calo.items()}
    order = sorted(range(n), key=lambda i: -et_cal[i])
    pu = cfg.do_pu_sim
    sig = ev["pfCluster_simEnergy_sharedXtals"]

    def sig_of(i: int, c: int) -> float:
        return sig[i][c] if 0 <= c < len(sig[i]) else 0.0

    def pu_frac(i: int, c: int) -> float:
        if not pu:
            return 0.0
        s = sig_of(i, c) if c >= 0 else 0.0
        return ev["pfCluster_simEnergy_sharedXtalsPU"][i] / s if c >= 0 and s > 0 else -1.0

    meta = {k: 0 for k in ("good", "bad", "other")}
    windows = []
    for i in order:
        if et_cal[i] < cfg.min_et_seed:
            continue
        if any(
            in_window((eta[w["seed"]], phi[w["seed"]], iz[w["seed"]]), (eta[i], phi[i], iz[i]), cfg.window_version)
            for w in windows
        ):
            meta["other"] += 1
            if not cfg.overlap:
                continue
        c = cl_calo[i]
        matched = -1
        if c >= 0 and cl_score[i] > cfg.seed_min_fraction:
            gen = (ev["caloParticle_genEta"][c], ev["caloParticle_genPhi"][c], ev["caloParticle_simIz"][c])
            if cfg.seed_gen_check == "legacy" or in_window((eta[i], phi[i], iz[i]), gen, cfg.window_version):
                matched = c
                meta["good"] += 1
            else:
                meta["bad"] += 1
        sc = ev["superCluster_seedIndex"]
        windows.append({"seed": i, "calo": matched, "must": sc.index(i) if i in sc else -1, "clusters": []})
    for i in order:
        for w in windows:
            s = w["seed"]
            if in_window((eta[s], phi[s], iz[s]), (eta[i], phi[i], iz[i]), cfg.window_version):
                w["clusters"].append(i)
    records = [_record(ev, w, cfg, wp, cl_calo, cl_score, main, et_raw, et_cal, sig_of, pu_frac) for w in windows]
    matched_w = [r for r in records if r["is_seed_calo_matched"]]
    unmatched_w = [r for r in records if not r["is_seed_calo_matched"]]
    if cfg.maxnocalow == 0:
        kept = matched_w
    elif len(unmatched_w) > len(matched_w):
        rest = list(enumerate(unmatched_w))[len(matched_w) :]
        k = min(cfg.maxnocalow, len(unmatched_w) - len(matched_w))
        run, lumi, evt = ev["runId"], ev["lumiId"], ev["eventId"]
        chosen = sorted(rest, key=lambda pr: sample_key(cfg.random_seed, run, lumi, evt, pr[0]))[:k]
        ids = {id(r) for r in matched_w + unmatched_w[: len(matched_w)] + [r for _, r in chosen]}
        kept = [r for r in records if id(r) in ids]
    else:
        kept = records
    meta_row = {
        "n_windows_matched": len(matched_w),
        "n_windows_nomatched": len(unmatched_w),
        "n_seeds_good": meta["good"],
        "n_seeds_bad_calo_position": meta["bad"],
        "n_seeds_in_other_window": meta["other"],
    }
    return kept, meta_row


def _hits(ev: dict, i: int) -> list[list[int | float]]:
    out = []
    for k in range(len(ev["pfClusterHit_fraction"][i])):
        e, f = ev["pfClusterHit_rechitEnergy"][i][k], ev["pfClusterHit_fraction"][i][k]
        ids = [ev[f"pfClusterHit_{n}"][i][k] for n in ("ieta", "iphi", "iz")]
        out.append([*ids, e, e * f, f])
    return out


def _record(ev, w, cfg, wp, cl_calo, cl_score, main, et_raw, et_cal, sig_of, pu_frac) -> dict[str, Any]:
    s, c_win = w["seed"], w["calo"]
    raw, calib, eta, phi = ev["pfCluster_rawEnergy"], ev["pfCluster_energy"], ev["pfCluster_eta"], ev["pfCluster_phi"]
    pu = cfg.do_pu_sim
    matched = c_win >= 0
    thr = float(wp.threshold(et_raw[s], abs(eta[s])))
    clusters = []
    for i in w["clusters"]:
        same = diff = False
        other, calo_seed, passed = -1, False, False
        frac = pu_frac(i, c_win) if matched else (-1.0 if pu else 0.0)
        if matched:
            if cl_calo[i] == c_win:
                same = True
                if (frac < cfg.pu_limit) or not pu:
                    passed = cl_score[i] >= thr
                    calo_seed = main[c_win] == i
            elif cl_calo[i] != -1:
                diff = True
                calo_seed = main[cl_calo[i]] == i
                other = cl_calo[i] if calo_seed else -1
        deta = (eta[i] - eta[s]) * (-1 if eta[s] < 0 else 1)
        dphi = phi[s] - phi[i]
        if dphi > math.pi:
            dphi -= 2 * math.pi
        elif dphi < -math.pi:
            dphi += 2 * math.pi
        den, det = raw[s] - raw[i], et_raw[s] - et_raw[i]
        rec = {
            "cl_index": i,
            "is_seed": i == s,
            "in_geom_mustache": in_mustache(eta[s], phi[s], raw[i], eta[i], phi[i])
            and in_dynamic_dphi(eta[s], phi[s], raw[i], eta[i], phi[i]),
            "is_calo_matched": same,
            "is_calo_matched_diffcalo": diff,
            "other_calo_index": other,
            "is_calo_seed": calo_seed,
            "in_scluster": passed or i == s,
            "calo_score": cl_score[i],
            "calo_simen_sig": sig_of(i, c_win) if same else 0.0,
            "calo_simen_PU": ev["pfCluster_simEnergy_sharedXtalsPU"][i] if pu else 0.0,
            "calo_recoen_PU": ev["pfCluster_recoEnergy_sharedXtalsPU"][i] if pu else 0.0,
            "calo_nxtals_PU": ev["pfCluster_simPU_nSharedXtals"][i] if pu else 0.0,
            "cluster_PUfrac": frac,
            "cluster_ieta": ev["pfCluster_ieta"][i],
            "cluster_iphi": ev["pfCluster_iphi"][i],
            "cluster_eta": eta[i],
            "cluster_phi": phi[i],
            "cluster_dphi": dphi,
            "cluster_iz": ev["pfCluster_iz"][i],
            "en_cluster": raw[i],
            "et_cluster": et_raw[i],
            "en_cluster_calib": calib[i],
            "et_cluster_calib": et_cal[i],
            "en_cluster_log": log1(raw[i]),
            "et_cluster_log": log1(et_raw[i]),
            "en_cluster_calib_log": log1(calib[i]),
            "et_cluster_calib_log": log1(et_cal[i]),
        }
        for n in (
            ("noise_en", "noise"),
            ("noise_en_uncal", "noiseUncalib"),
            ("noise_en_nofrac", "noiseNoFractions"),
            ("noise_en_uncal_nofrac", "noiseUncalibNoFractions"),
        ):
            rec[n[0]] = ev[f"pfCluster_{n[1]}"][i] if pu else 0.0
        for sh in SHAPES:
            rec[f"cl_f5_{sh}"] = ev[f"pfCluster_full5x5_{sh}"][i]
        for sh in SHAPES:
            rec[f"cl_{sh}"] = ev[f"pfCluster_{sh}"][i]
        rec.update(
            cl_etaWidth=ev["pfCluster_etaWidth"][i],
            cl_phiWidth=ev["pfCluster_phiWidth"][i],
            cl_nxtals=ev["pfCluster_nXtals"][i],
            cl_hits=_hits(ev, i),
            cluster_deta=deta,
            cluster_den_seed=den,
            cluster_det_seed=det,
            cluster_den_seed_log=log1(den),
            cluster_det_seed_log=log1(det),
        )
        clusters.append(rec)
    gen = {k: 0.0 for k in ("simEnergy", "simEnergyGoodStatus", "genEnergy", "simEta", "simPhi", "genEta", "genPhi")}
    if matched:
        gen = {k: ev[f"caloParticle_{k}"][c_win] for k in gen}
    cg = math.cosh(gen["genEta"])
    m = w["must"]
    m_raw = ev["superCluster_rawEnergy"][m] if m >= 0 else 0.0
    m_cal = ev["superCluster_energy"][m] if m >= 0 else 0.0
    m_cosh = math.cosh(ev["superCluster_eta"][m]) if m >= 0 else 1.0
    insc = [r for r in clusters if r["in_scluster"]]
    r = {
        "run_id": ev["runId"],
        "lumi_id": ev["lumiId"],
        "event_id": ev["eventId"],
        "window_index": window_index(ev["runId"], ev["lumiId"], ev["eventId"], s),
        "is_seed_calo_matched": matched,
        "calo_index": c_win,
        "is_seed_calo_seed": matched and main[c_win] == s,
        "is_seed_mustache_matched": m >= 0,
        "mustache_seed_index": m,
        "seed_score": cl_score[s],
        "seed_simen_sig": sig_of(s, c_win) if matched else 0.0,
        "seed_simen_PU": ev["pfCluster_simEnergy_sharedXtalsPU"][s] if pu else 0.0,
        "seed_recoen_PU": ev["pfCluster_recoEnergy_sharedXtalsPU"][s] if pu else 0.0,
        "seed_PUfrac": pu_frac(s, c_win) if matched else (-1.0 if pu else 0.0),
        "seed_eta": eta[s],
        "seed_phi": phi[s],
        "seed_iz": ev["pfCluster_iz"][s],
        "seed_ieta": ev["pfCluster_ieta"][s],
        "seed_iphi": ev["pfCluster_iphi"][s],
        "sim_true_eta": gen["simEta"],
        "sim_true_phi": gen["simPhi"],
        "gen_true_eta": gen["genEta"],
        "gen_true_phi": gen["genPhi"],
        "en_seed": raw[s],
        "et_seed": et_raw[s],
        "en_seed_calib": calib[s],
        "et_seed_calib": et_cal[s],
        "en_seed_log": log1(raw[s]),
        "et_seed_log": log1(et_raw[s]),
        "en_seed_calib_log": log1(calib[s]),
        "et_seed_calib_log": log1(et_cal[s]),
        "en_true_sim": gen["simEnergy"],
        "et_true_sim": gen["simEnergy"] / cg,
        "en_true_gen": gen["genEnergy"],
        "et_true_gen": gen["genEnergy"] / cg,
        "en_true_sim_good": gen["simEnergyGoodStatus"],
        "et_true_sim_good": gen["simEnergyGoodStatus"] / cg,
        "en_mustache_raw": m_raw,
        "et_mustache_raw": m_raw / m_cosh,
        "en_mustache_calib": m_cal,
        "et_mustache_calib": m_cal / m_cosh,
        "nVtx": ev["nVtx"],
        "rho": ev["rho"],
        "obsPU": ev["obsPU"],
        "truePU": ev["truePU"],
        "event_tot_simen_PU": ev["caloParticlePU_totEnergy"] if pu else 0.0,
    }
    for sh in SHAPES:
        r[f"seed_f5_{sh}"] = ev[f"pfCluster_full5x5_{sh}"][s]
    for sh in SHAPES:
        r[f"seed_{sh}"] = ev[f"pfCluster_{sh}"][s]
    r.update(
        seed_etaWidth=ev["pfCluster_etaWidth"][s],
        seed_phiWidth=ev["pfCluster_phiWidth"][s],
        seed_nxtals=ev["pfCluster_nXtals"][s],
        seed_hits=_hits(ev, s),
        clusters=clusters,
        nclusters_insc=len(insc) if matched else 0,
        max_en_cluster_insc=max(x["en_cluster"] for x in insc) if matched else -1.0,
        max_deta_cluster_insc=max(abs(x["cluster_deta"]) for x in insc) if matched else -1.0,
        max_dphi_cluster_insc=max(abs(x["cluster_dphi"]) for x in insc) if matched else -1.0,
        ncls=len(clusters),
    )
    values = {
        "en": [x["en_cluster"] for x in clusters],
        "et": [x["et_cluster"] for x in clusters],
        "deta": [abs(x["cluster_deta"]) for x in clusters],
        "dphi": [abs(x["cluster_dphi"]) for x in clusters],
        "den": [x["cluster_den_seed"] for x in clusters],
        "det": [x["cluster_det_seed"] for x in clusters],
    }
    for stat, fn in (("max", max), ("min", min), ("mean", lambda v: sum(v) / len(v))):
        for name, v in values.items():
            r[f"{stat}_{name}_cluster"] = fn(v)
    r["wtot_simen_PU"] = sum(x["calo_simen_PU"] for x in clusters)
    r["wtot_recoen_PU"] = sum(x["calo_recoen_PU"] for x in clusters)
    r["wtot_simen_sig"] = sum(x["calo_simen_sig"] for x in clusters)
    return r


def reference_windows(events_list: list[dict], cfg: WindowConfig, wp: WorkingPoint):
    """All kept windows and metadata rows of a list of events."""
    windows, meta = [], []
    for ev in events_list:
        kept, row = windows_of_event(ev, cfg, wp)
        windows.extend(kept)
        meta.append(row)
    return windows, meta
