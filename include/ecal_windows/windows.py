"""The window algorithm of spec §5-§6, vectorized over all events of a chunk.

Every quantity lives in flat numpy arrays (clusters, calos, candidate seeds, windows, and
(window, cluster) pairs) with per-event offsets; there is no per-event Python loop. The only
sequential rule, non-overlap seeding (a candidate is skipped if an earlier seed's window holds
it), is solved as the fixed point of ``seed[j] = candidate[j] and not any(seed[i] and i holds j,
i before j)``. Each iteration settles at least one more candidate per event and the fixed point
is unique, so it terminates with the greedy result after a handful of array passes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import awkward as ak
import numpy as np

from include.core.errors import InputFileError
from include.ecal_windows.config import WindowConfig
from include.ecal_windows.dumper import SHAPES
from include.ecal_windows.geometry import in_geom_mustache, in_window, signed_deta, wrap_once
from include.ecal_windows.workingpoint import WorkingPoint

META_COLUMNS = (
    "n_windows_matched",
    "n_windows_nomatched",
    "n_seeds_good",
    "n_seeds_bad_calo_position",
    "n_seeds_in_other_window",
)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


@dataclass
class WindowResult:
    """Kept windows (one awkward record per window, spec §7 layout) and per-event metadata."""

    records: ak.Array
    meta: dict[str, np.ndarray]
    n_events: int

    @property
    def n_windows(self) -> int:
        return len(self.records)


def segments(counts: np.ndarray) -> np.ndarray:
    """Offsets (len + 1) of consecutive segments of ``counts``."""
    out = np.zeros(len(counts) + 1, dtype=np.int64)
    np.cumsum(counts, out=out[1:])
    return out


def block_pairs(off_a: np.ndarray, cnt_a: np.ndarray, off_b: np.ndarray, cnt_b: np.ndarray):
    """All (a, b) index pairs of the same event, a-major: ``a`` in A's segment, ``b`` in B's."""
    n = cnt_a.astype(np.int64) * cnt_b.astype(np.int64)
    total = int(n.sum())
    ev = np.repeat(np.arange(len(n)), n)
    k = np.arange(total, dtype=np.int64) - np.repeat(segments(n)[:-1], n)
    nb = cnt_b[ev]
    return off_a[ev] + k // nb, off_b[ev] + k % nb


_LETTERS = 9
_MODULUS = 26**_LETTERS


def window_index(run: int, lumi: int, event: int, seed_index: int) -> str:
    """9 lowercase letters from SHA-256 of ``"<run>:<lumi>:<event>:<seed>"`` (spec §9).

    The digest is a big-endian integer written in base 26 (a = 0), least significant digit first.
    """
    return window_indices([run], [lumi], [event], [seed_index])[0]


def window_indices(run, lumi, event, seed_index) -> list[str]:
    """:func:`window_index` of many windows (hashes per window, letters vectorized)."""
    digests = [
        int.from_bytes(hashlib.sha256(f"{r}:{lu}:{e}:{s}".encode()).digest(), "big") % _MODULUS
        for r, lu, e, s in zip(run, lumi, event, seed_index, strict=True)
    ]
    if not digests:
        return []
    value = np.asarray(digests, dtype=np.int64)
    powers = 26 ** np.arange(_LETTERS, dtype=np.int64)
    codes = (97 + (value[:, None] // powers[None, :]) % 26).astype(np.uint8)
    return np.ascontiguousarray(codes).view(f"S{_LETTERS}").ravel().astype(str).tolist()


def splitmix64(x: np.ndarray) -> np.ndarray:
    """The splitmix64 finalizer on uint64 arrays (wrapping arithmetic)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def sampling_keys(random_seed: int, run, lumi, event, position) -> np.ndarray:
    """Random keys of unmatched windows, a pure function of (seed, run, lumi, event, position).

    The sample of an event is the windows with the smallest keys: a seeded sample without
    replacement that depends on nothing else (not on file grouping, chunking or worker).
    """
    h = splitmix64(np.full(np.shape(event), random_seed, dtype=np.uint64))
    for part in (run, lumi, event, position):
        h = splitmix64(h ^ (np.asarray(part, dtype=np.int64).astype(np.uint64) & _MASK64))
    return h


def _unpack(arr: ak.Array | ak.contents.Content) -> tuple[list[np.ndarray], np.ndarray]:
    """(offsets of each list level, starting at 0; flat values) of a jagged numeric array.

    Walks the layout instead of calling ``ak.flatten``/``ak.num`` per branch (their per-call
    overhead dominated small chunks).
    """
    layout = arr.layout if isinstance(arr, ak.Array) else arr
    for attempt in range(2):
        offsets: list[np.ndarray] = []
        lo, hi = 0, layout.length
        node = layout
        while True:
            if isinstance(node, ak.contents.ListArray):
                node = node.to_ListOffsetArray64(True)
            if isinstance(node, ak.contents.ListOffsetArray):
                off = np.asarray(node.offsets)[lo : hi + 1]
                offsets.append(off - off[0])
                lo, hi = int(off[0]), int(off[-1])
                node = node.content
            elif isinstance(node, ak.contents.NumpyArray):
                return offsets, np.asarray(node.data)[lo:hi]
            else:
                break
        if attempt == 0:
            layout = ak.to_packed(layout)
    raise TypeError(f"unexpected layout {type(node).__name__} in a dumper branch")


def _flat(arr: ak.Array | ak.contents.Content, dtype=np.float64) -> np.ndarray:
    return np.asarray(_unpack(arr)[1], dtype=dtype)


def _counts(arr: ak.Array | ak.contents.Content, level: int = 0) -> np.ndarray:
    """Lengths of the lists at ``level`` (0: per event)."""
    return np.diff(_unpack(arr)[0][level])


class _Branches:
    """Branch layouts of an events record array (field access without high-level overhead)."""

    def __init__(self, events: ak.Array) -> None:
        layout = events.layout
        if not isinstance(layout, ak.contents.RecordArray):
            layout = ak.to_packed(events).layout
        self._layout = layout

    def __getitem__(self, name: str) -> ak.contents.Content:
        return self._layout.content(name)


def _best_per_segment(values: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(index of the maximum, first on ties; maximum) per segment; (-1, -1.0) for empty segments."""
    counts = np.diff(offsets)
    best = np.full(counts.size, -1, dtype=np.int64)
    top = np.full(counts.size, -1.0)
    full = np.flatnonzero(counts > 0)
    if full.size:
        starts = offsets[:-1][full]
        seg_max = np.maximum.reduceat(values, starts)
        seg = np.repeat(np.arange(counts.size), counts)
        local = np.arange(values.size) - offsets[:-1][seg]
        pos = np.full(counts.size, np.iinfo(np.int64).max)
        top_of = np.full(counts.size, np.nan)
        top_of[full] = seg_max
        hit = values == top_of[seg]
        np.minimum.at(pos, seg[hit], local[hit])
        found = pos[full] != np.iinfo(np.int64).max  # a NaN maximum matches nothing: no calo
        best[full[found]] = pos[full[found]]
        top[full[found]] = seg_max[found]
    return best, top


def _column(values) -> ak.contents.Content:
    if isinstance(values, ak.Array):
        return values.layout
    values = np.asarray(values)
    if values.dtype.kind in "US":
        return ak.to_layout(values)
    return ak.contents.NumpyArray(np.ascontiguousarray(values))


def _records(columns: dict, length: int) -> ak.Array:
    """A record array from same-length columns (numpy or awkward), in the given field order."""
    return ak.Array(ak.contents.RecordArray([_column(v) for v in columns.values()], list(columns), length=length))


def _log1(x: np.ndarray) -> np.ndarray:
    """ln(x + 1), NaN below -1 and -inf at -1 (kept as the legacy tool did)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x + 1.0)


def _pick(values: np.ndarray, offsets: np.ndarray, counts: np.ndarray, rows: np.ndarray, cols: np.ndarray):
    """``values[rows][cols]`` of a flattened jagged [row][col] array; 0 where cols is out of range."""
    ok = (cols >= 0) & (cols < counts[rows])
    out = np.zeros(rows.shape, dtype=np.float64)
    out[ok] = values[offsets[rows[ok]] + cols[ok]]
    return out


def _segment_reduce(ufunc, values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    if len(starts) == 0:
        return np.zeros(0, dtype=np.float64)
    return ufunc.reduceat(values, starts)


def compute_windows(events: ak.Array, cfg: WindowConfig, wp: WorkingPoint, source: str = "") -> WindowResult:
    """Build the windows of a chunk of events (spec §6) and return the kept ones."""
    n_events = len(events)
    events = _Branches(events)
    ncl = _counts(events["pfCluster_rawEnergy"])
    cl_off = segments(ncl)
    n_cl = int(cl_off[-1])
    ev_cl = np.repeat(np.arange(n_events), ncl)
    local = np.arange(n_cl) - cl_off[ev_cl]

    raw = _flat(events["pfCluster_rawEnergy"])
    calib = _flat(events["pfCluster_energy"])
    eta = _flat(events["pfCluster_eta"])
    phi = _flat(events["pfCluster_phi"])
    iz = _flat(events["pfCluster_iz"], np.int64)
    ieta = _flat(events["pfCluster_ieta"], np.int64)
    iphi = _flat(events["pfCluster_iphi"], np.int64)
    cosh = np.cosh(eta)
    et_raw, et_calib = raw / cosh, calib / cosh

    # §5.1 association: best calo (first on ties) if its score is > cl_min_fraction
    score_off, score_vals = _unpack(events[f"pfCluster_{cfg.assoc_strategy}"])
    best, best_score = _best_per_segment(np.asarray(score_vals, dtype=np.float64), score_off[1])
    assoc = (best >= 0) & (best_score > cfg.cl_min_fraction)
    calo = np.where(assoc, best, -1)
    score = np.where(assoc, best_score, -1.0)
    is_main = np.zeros(n_cl, dtype=bool)
    idx = np.flatnonzero(calo >= 0)
    if idx.size:
        order = idx[np.lexsort((local[idx], -score[idx], calo[idx], ev_cl[idx]))]
        first = np.ones(order.size, dtype=bool)
        first[1:] = (ev_cl[order][1:] != ev_cl[order][:-1]) | (calo[order][1:] != calo[order][:-1])
        is_main[order[first]] = True

    ncalo = _counts(events["caloParticle_genEta"])
    calo_off = segments(ncalo)
    calo_gen_eta = _flat(events["caloParticle_genEta"])
    calo_gen_phi = _flat(events["caloParticle_genPhi"])
    calo_iz = _flat(events["caloParticle_simIz"], np.int64)

    # §6.2 order by calibrated Et (stable), §6.3 candidate seeds
    order = np.lexsort((-et_calib, ev_cl))
    cand = order[et_calib[order] >= cfg.min_et_seed]
    cand_ev = ev_cl[cand]
    cand_cnt = np.bincount(cand_ev, minlength=n_events)
    cand_off = segments(cand_cnt)
    pa, pb = block_pairs(cand_off, cand_cnt, cand_off, cand_cnt)
    earlier = pa < pb
    pa, pb = pa[earlier], pb[earlier]
    holds = in_window(
        eta[cand[pa]], phi[cand[pa]], iz[cand[pa]], eta[cand[pb]], phi[cand[pb]], iz[cand[pb]], cfg.window_version
    )
    pa, pb = pa[holds], pb[holds]
    if cfg.overlap:
        is_seed = np.ones(cand.size, dtype=bool)
        in_other = np.zeros(cand.size, dtype=bool)
        in_other[pb] = True
    else:
        is_seed = np.ones(cand.size, dtype=bool)
        while True:
            blocked = np.zeros(cand.size, dtype=bool)
            blocked[pb[is_seed[pa]]] = True
            if np.array_equal(~blocked, is_seed):
                break
            is_seed = ~blocked
        in_other = ~is_seed
    n_in_other = np.bincount(cand_ev, weights=in_other, minlength=n_events).astype(np.int64)

    seeds = cand[is_seed]
    w_ev = ev_cl[seeds]
    n_win = seeds.size
    s_eta, s_phi, s_iz = eta[seeds], phi[seeds], iz[seeds]
    s_calo = calo[seeds]
    seed_ok = (s_calo >= 0) & (score[seeds] > cfg.seed_min_fraction)
    gi = calo_off[w_ev] + np.maximum(s_calo, 0)
    if cfg.seed_gen_check == "readme" and n_win:
        gi_safe = np.minimum(gi, max(calo_gen_eta.size - 1, 0))
        gen_in = in_window(
            s_eta, s_phi, s_iz, calo_gen_eta[gi_safe], calo_gen_phi[gi_safe], calo_iz[gi_safe], cfg.window_version
        )
        matched = seed_ok & gen_in
        bad_position = seed_ok & ~gen_in
    else:
        matched = seed_ok
        bad_position = np.zeros(n_win, dtype=bool)
    w_calo = np.where(matched, s_calo, -1)

    # §6.4 filling: every cluster (Et order) into every window that holds it
    w_cnt = np.bincount(w_ev, minlength=n_events)
    w_off = segments(w_cnt)
    pw, pk = block_pairs(w_off, w_cnt, cl_off, ncl)
    pc = order[pk]
    inside = in_window(s_eta[pw], s_phi[pw], s_iz[pw], eta[pc], phi[pc], iz[pc], cfg.window_version)
    pw, pc = pw[inside], pc[inside]

    sig_levels, sig_vals = _unpack(events["pfCluster_simEnergy_sharedXtals"])
    sig_vals = np.asarray(sig_vals, dtype=np.float64)
    sig_off = sig_levels[1]
    sig_cnt = np.diff(sig_off)
    if cfg.do_pu_sim:
        pu_sim = _flat(events["pfCluster_simEnergy_sharedXtalsPU"])
        pu_reco = _flat(events["pfCluster_recoEnergy_sharedXtalsPU"])
        pu_n = _flat(events["pfCluster_simPU_nSharedXtals"])
        noise = [
            _flat(events[f"pfCluster_{n}"])
            for n in ("noise", "noiseUncalib", "noiseNoFractions", "noiseUncalibNoFractions")
        ]
        ev_pu_tot = _flat(events["caloParticlePU_totEnergy"], np.float64)
    else:
        pu_sim = pu_reco = pu_n = np.zeros(n_cl)
        noise = [np.zeros(n_cl)] * 4
        ev_pu_tot = np.zeros(n_events)

    def pu_fraction(clusters: np.ndarray, wcalo: np.ndarray) -> np.ndarray:
        if not cfg.do_pu_sim:
            return np.zeros(clusters.size)
        sig = _pick(sig_vals, sig_off, sig_cnt, clusters, wcalo)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where((wcalo >= 0) & (sig > 0), pu_sim[clusters] / np.where(sig > 0, sig, 1.0), -1.0)

    pcalo_w = w_calo[pw]
    p_matched = pcalo_w >= 0
    c_calo = calo[pc]
    same = p_matched & (c_calo == pcalo_w)
    diff = p_matched & ~same & (c_calo >= 0)
    p_is_seed = pc == seeds[pw]
    p_pufrac = pu_fraction(pc, pcalo_w)
    pu_ok = (p_pufrac < cfg.pu_limit) if cfg.do_pu_sim else np.ones(pc.size, dtype=bool)
    threshold = wp.threshold(et_raw[seeds], np.abs(s_eta))
    passed = same & pu_ok & (score[pc] >= threshold[pw])
    is_calo_seed = np.where(same, pu_ok & is_main[pc], diff & is_main[pc])
    other_calo = np.where(diff & is_main[pc], c_calo, -1)
    in_sc = passed | p_is_seed
    deta = signed_deta(s_eta[pw], eta[pc])
    dphi = wrap_once(s_phi[pw] - phi[pc])
    den = raw[seeds][pw] - raw[pc]
    det = et_raw[seeds][pw] - et_raw[pc]
    simen_sig = np.where(same, _pick(sig_vals, sig_off, sig_cnt, pc, pcalo_w), 0.0)
    p_simen_pu, p_recoen_pu = pu_sim[pc], pu_reco[pc]

    # §6.5 aggregates (every window holds at least its seed)
    p_cnt = np.bincount(pw, minlength=n_win)
    starts = segments(p_cnt)[:-1]
    agg = {}
    for name, values in (
        ("en", raw[pc]),
        ("et", et_raw[pc]),
        ("deta", np.abs(deta)),
        ("dphi", np.abs(dphi)),
        ("den", den),
        ("det", det),
    ):
        agg[f"max_{name}_cluster"] = _segment_reduce(np.maximum, values, starts)
        agg[f"min_{name}_cluster"] = _segment_reduce(np.minimum, values, starts)
        agg[f"mean_{name}_cluster"] = _segment_reduce(np.add, values, starts) / np.maximum(p_cnt, 1)
    insc_n = np.bincount(pw, weights=in_sc, minlength=n_win).astype(np.int64)
    insc_max = {}
    for name, values in (("en", raw[pc]), ("deta", np.abs(deta)), ("dphi", np.abs(dphi))):
        best_v = np.full(n_win, -np.inf)
        np.maximum.at(best_v, pw[in_sc], values[in_sc])
        insc_max[name] = np.where(matched, best_v, -1.0)
    w_sums = {
        name: np.bincount(pw, weights=values, minlength=n_win)
        for name, values in (
            ("wtot_simen_PU", p_simen_pu),
            ("wtot_recoen_PU", p_recoen_pu),
            ("wtot_simen_sig", simen_sig),
        )
    }

    # §6.6 which windows to keep
    n_m = np.bincount(w_ev, weights=matched, minlength=n_events).astype(np.int64)
    n_u = w_cnt - n_m
    keep = matched.copy()
    if cfg.maxnocalow > 0 and n_win:
        unmatched = np.flatnonzero(~matched)
        u_ev = w_ev[unmatched]
        u_pos = np.arange(unmatched.size) - segments(np.bincount(u_ev, minlength=n_events))[:-1][u_ev]
        many = n_u[u_ev] > n_m[u_ev]
        keep[unmatched[~many | (u_pos < n_m[u_ev])]] = True
        rest = unmatched[many & (u_pos >= n_m[u_ev])]
        if rest.size:
            r_ev = w_ev[rest]
            run = _flat(events["runId"], np.int64)
            lumi = _flat(events["lumiId"], np.int64)
            evt = _flat(events["eventId"], np.int64)
            r_pos = u_pos[many & (u_pos >= n_m[u_ev])]
            keys = sampling_keys(cfg.random_seed, run[r_ev], lumi[r_ev], evt[r_ev], r_pos)
            srt = np.lexsort((keys, r_ev))
            rank = np.arange(rest.size) - segments(np.bincount(r_ev, minlength=n_events))[:-1][r_ev[srt]]
            quota = np.minimum(cfg.maxnocalow, n_u - n_m)
            keep[rest[srt[rank < quota[r_ev[srt]]]]] = True

    meta = {
        "n_windows_matched": n_m,
        "n_windows_nomatched": n_u,
        "n_seeds_good": n_m.copy(),
        "n_seeds_bad_calo_position": np.bincount(w_ev, weights=bad_position, minlength=n_events).astype(np.int64),
        "n_seeds_in_other_window": n_in_other,
    }

    # §7 records of the kept windows
    kw = np.flatnonzero(keep)
    kp = np.flatnonzero(keep[pw])
    ev_k = w_ev[kw]
    ks = seeds[kw]
    kc = pc[kp]
    run = _flat(events["runId"], np.int64)
    lumi = _flat(events["lumiId"], np.int64)
    evt = _flat(events["eventId"], np.int64)
    win_ids = window_indices(run[ev_k].tolist(), lumi[ev_k].tolist(), evt[ev_k].tolist(), local[ks].tolist())
    if len(set(zip(ev_k.tolist(), win_ids, strict=True))) != len(win_ids):
        raise InputFileError(source or "input", "window_index collision within an event")

    nh = _counts(events["pfClusterHit_fraction"], 1)
    h_e = _flat(events["pfClusterHit_rechitEnergy"])
    h_f = _flat(events["pfClusterHit_fraction"])
    # a hit: (ieta|ix, iphi|iy, iz, rechit energy, energy x fraction, fraction), ints then reals
    hit_columns = [_flat(events[f"pfClusterHit_{n}"], np.int64) for n in ("ieta", "iphi", "iz")]
    hit_columns += [h_e, h_e * h_f, h_f]
    hits = ak.contents.RecordArray([ak.contents.NumpyArray(c) for c in hit_columns], None, length=h_e.size)
    hits_by_cluster = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(segments(nh)), hits))

    gk = gi[kw]
    mk = matched[kw]
    calo_vals = {
        name: np.where(
            mk,
            _flat(events[f"caloParticle_{name}"])[np.minimum(gk, max(calo_gen_eta.size - 1, 0))]
            if calo_gen_eta.size
            else 0.0,
            0.0,
        )
        for name in ("simEnergy", "simEnergyGoodStatus", "genEnergy", "simEta", "simPhi", "genEta", "genPhi")
    }
    cosh_gen = np.cosh(calo_vals["genEta"])

    # mustache seed: first supercluster whose seed is this cluster
    sc_seed = _flat(events["superCluster_seedIndex"], np.int64)
    sc_cnt = _counts(events["superCluster_seedIndex"])
    sc_off = segments(sc_cnt)
    sc_ev = np.repeat(np.arange(n_events), sc_cnt)
    sc_local = np.arange(sc_seed.size) - sc_off[sc_ev]
    sc_key = sc_ev * (int(ncl.max(initial=0)) + 1) + sc_seed
    uk, first_pos = np.unique(sc_key, return_index=True)
    want = ev_k * (int(ncl.max(initial=0)) + 1) + local[ks]
    pos = np.searchsorted(uk, want)
    found = (
        (pos < uk.size) & (uk[np.minimum(pos, max(uk.size - 1, 0))] == want)
        if uk.size
        else np.zeros(want.size, dtype=bool)
    )
    sc_glob = np.where(found, first_pos[np.minimum(pos, max(uk.size - 1, 0))] if uk.size else 0, -1)
    must_idx = np.where(found, sc_local[np.maximum(sc_glob, 0)] if sc_seed.size else -1, -1)
    sc_raw, sc_cal, sc_eta = (_flat(events[f"superCluster_{n}"]) for n in ("rawEnergy", "energy", "eta"))

    def sc_value(values: np.ndarray) -> np.ndarray:
        return np.where(found, values[np.maximum(sc_glob, 0)] if values.size else 0.0, 0.0)

    must_raw, must_cal = sc_value(sc_raw), sc_value(sc_cal)
    must_cosh = np.cosh(sc_value(sc_eta))

    def cl(name: str) -> np.ndarray:
        return _flat(events[f"pfCluster_{name}"])

    shapes = {s: cl(s) for s in SHAPES}
    shapes_f5 = {s: cl(f"full5x5_{s}") for s in SHAPES}
    nxt, etaw, phiw = cl("nXtals"), cl("etaWidth"), cl("phiWidth")
    s_sig = np.where(mk, _pick(sig_vals, sig_off, sig_cnt, ks, w_calo[kw]), 0.0)
    en_seed, et_seed = raw[ks], et_raw[ks]

    kpw = pw[kp]
    p_deta, p_dphi = deta[kp], dphi[kp]
    clusters = {
        "cl_index": local[kc],
        "is_seed": p_is_seed[kp],
        "in_geom_mustache": in_geom_mustache(s_eta[kpw], s_phi[kpw], raw[kc], eta[kc], phi[kc]),
        "is_calo_matched": same[kp],
        "is_calo_matched_diffcalo": diff[kp],
        "other_calo_index": other_calo[kp],
        "is_calo_seed": is_calo_seed[kp],
        "in_scluster": in_sc[kp],
        "calo_score": score[kc],
        "calo_simen_sig": simen_sig[kp],
        "calo_simen_PU": p_simen_pu[kp],
        "calo_recoen_PU": p_recoen_pu[kp],
        "calo_nxtals_PU": pu_n[kc],
        "cluster_PUfrac": p_pufrac[kp],
        "cluster_ieta": ieta[kc],
        "cluster_iphi": iphi[kc],
        "cluster_eta": eta[kc],
        "cluster_phi": phi[kc],
        "cluster_dphi": p_dphi,
        "cluster_iz": iz[kc],
        "en_cluster": raw[kc],
        "et_cluster": et_raw[kc],
        "en_cluster_calib": calib[kc],
        "et_cluster_calib": et_calib[kc],
        "en_cluster_log": _log1(raw[kc]),
        "et_cluster_log": _log1(et_raw[kc]),
        "en_cluster_calib_log": _log1(calib[kc]),
        "et_cluster_calib_log": _log1(et_calib[kc]),
        "noise_en": noise[0][kc],
        "noise_en_uncal": noise[1][kc],
        "noise_en_nofrac": noise[2][kc],
        "noise_en_uncal_nofrac": noise[3][kc],
        **{f"cl_f5_{s}": shapes_f5[s][kc] for s in SHAPES},
        **{f"cl_{s}": shapes[s][kc] for s in SHAPES},
        "cl_etaWidth": etaw[kc],
        "cl_phiWidth": phiw[kc],
        "cl_nxtals": nxt[kc],
        "cl_hits": hits_by_cluster[kc],
        "cluster_deta": p_deta,
        "cluster_den_seed": den[kp],
        "cluster_det_seed": det[kp],
        "cluster_den_seed_log": _log1(den[kp]),
        "cluster_det_seed_log": _log1(det[kp]),
    }
    cluster_layout = _records(clusters, kp.size).layout
    cluster_records = ak.Array(ak.contents.ListOffsetArray(ak.index.Index64(segments(p_cnt[kw])), cluster_layout))

    windows = {
        "run_id": run[ev_k],
        "lumi_id": lumi[ev_k],
        "event_id": evt[ev_k],
        "window_index": np.asarray(win_ids, dtype=str) if win_ids else np.zeros(0, dtype="<U9"),
        "is_seed_calo_matched": mk,
        "calo_index": w_calo[kw],
        "is_seed_calo_seed": mk & is_main[ks],
        "is_seed_mustache_matched": found,
        "mustache_seed_index": must_idx,
        "seed_score": score[ks],
        "seed_simen_sig": s_sig,
        "seed_simen_PU": pu_sim[ks],
        "seed_recoen_PU": pu_reco[ks],
        "seed_PUfrac": pu_fraction(ks, w_calo[kw]),
        "seed_eta": eta[ks],
        "seed_phi": phi[ks],
        "seed_iz": iz[ks],
        "seed_ieta": ieta[ks],
        "seed_iphi": iphi[ks],
        "sim_true_eta": calo_vals["simEta"],
        "sim_true_phi": calo_vals["simPhi"],
        "gen_true_eta": calo_vals["genEta"],
        "gen_true_phi": calo_vals["genPhi"],
        "en_seed": en_seed,
        "et_seed": et_seed,
        "en_seed_calib": calib[ks],
        "et_seed_calib": et_calib[ks],
        "en_seed_log": _log1(en_seed),
        "et_seed_log": _log1(et_seed),
        "en_seed_calib_log": _log1(calib[ks]),
        "et_seed_calib_log": _log1(et_calib[ks]),
        "en_true_sim": calo_vals["simEnergy"],
        "et_true_sim": calo_vals["simEnergy"] / cosh_gen,
        "en_true_gen": calo_vals["genEnergy"],
        "et_true_gen": calo_vals["genEnergy"] / cosh_gen,
        "en_true_sim_good": calo_vals["simEnergyGoodStatus"],
        "et_true_sim_good": calo_vals["simEnergyGoodStatus"] / cosh_gen,
        "en_mustache_raw": must_raw,
        "et_mustache_raw": must_raw / must_cosh,
        "en_mustache_calib": must_cal,
        "et_mustache_calib": must_cal / must_cosh,
        "nVtx": _flat(events["nVtx"], np.int64)[ev_k],
        "rho": _flat(events["rho"], np.float64)[ev_k],
        "obsPU": _flat(events["obsPU"], np.float64)[ev_k],
        "truePU": _flat(events["truePU"], np.float64)[ev_k],
        "event_tot_simen_PU": ev_pu_tot[ev_k],
        **{f"seed_f5_{s}": shapes_f5[s][ks] for s in SHAPES},
        **{f"seed_{s}": shapes[s][ks] for s in SHAPES},
        "seed_etaWidth": etaw[ks],
        "seed_phiWidth": phiw[ks],
        "seed_nxtals": nxt[ks],
        "seed_hits": hits_by_cluster[ks],
        "clusters": cluster_records,
        "nclusters_insc": np.where(mk, insc_n[kw], 0),
        "max_en_cluster_insc": insc_max["en"][kw],
        "max_deta_cluster_insc": insc_max["deta"][kw],
        "max_dphi_cluster_insc": insc_max["dphi"][kw],
        "ncls": p_cnt[kw],
        **{
            f"{stat}_{name}_cluster": agg[f"{stat}_{name}_cluster"][kw]
            for stat in ("max", "min", "mean")
            for name in ("en", "et", "deta", "dphi", "den", "det")
        },
        **{name: values[kw] for name, values in w_sums.items()},
    }
    return WindowResult(_records(windows, kw.size), meta, n_events)
