"""Tag-and-probe selection on NanoAOD chunks (electrons and photons), with uproot + awkward.

:func:`find_probes` returns one row per surviving event with jagged per-pair fields: the
requested vars (``el_<f>``/``ph_<f>`` probe, ``tag_Ele_<f>`` tag, other branches by name),
``event``, ``run``, ``luminosityBlock``, one boolean per filter name, ``pair_mass`` and, for MC,
the weights. The algorithm is the reference tool's (spec §2), step by step.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import awkward as ak
import numpy as np

from include.tnp import expressions
from include.tnp.kinematics import delta_r, pair_mass, photon_sc_eta
from include.tnp.options import (
    TAG_TRIGGER,
    TAG_TRIGOBJ_BIT,
    TAG_TRIGOBJ_PT,
    TRIGGER_MATCH_DR,
    Z_MASS,
    TnPOptions,
)

TRIGOBJ_FIELDS = ("id", "pt", "eta", "phi", "filterBits")
EVENT_FIELDS = ("event", "run", "luminosityBlock")
ALL_EXTRA = ("PV_npvs", "Rho_fixedGridRhoAll", "Rho_fixedGridRhoFastjetAll")
GEN_FIELDS = ("GenPart_pdgId", "GenPart_genPartIdxMother")


class MissingBranchError(KeyError):
    """A branch the configuration needs is not in the file."""


@dataclass
class ChunkProbes:
    """Result of one chunk: the probe table and the chunk-level MC normalisation."""

    table: ak.Array
    n_events: int
    sum_genweight: float | None


# -- which branches to read ---------------------------------------------------------------------


def _collection_fields(keys: set[str], prefix: str) -> set[str]:
    return {k[len(prefix) + 1 :] for k in keys if k.startswith(prefix + "_")}


def _expression_fields(opts: TnPOptions) -> set[str]:
    names: set[str] = set()
    for expr in [*opts.filters.values(), opts.cutbased_id, opts.extra_zcands_mask]:
        if expr and not expr.startswith("HLT_"):
            names |= expressions.identifiers(expr)
    return names


def hlt_branch(expression: str, keys: set[str]) -> str:
    """The HLT bit an ``HLT_`` filter requires: ``HLT_<x>``, else with its last ``_token`` removed."""
    name = expression
    if name not in keys:
        name = name.rsplit("_", 1)[0]
    return name


def required_branches(opts: TnPOptions, keys: set[str], vars: list[str] | str, is_mc: bool) -> list[str]:
    """The branches one chunk needs; raise :class:`MissingBranchError` naming any that is absent."""
    probe_coll = "Photon" if opts.is_photon else "Electron"
    available = {c: _collection_fields(keys, c) for c in ("Electron", "Photon")}
    base = {"pt", "eta", "phi", "cutBased"}
    need: dict[str, set[str]] = {"Electron": set(base), "Photon": set()}
    if opts.is_photon:
        need["Photon"] = set(base)
        need["Electron"] |= {"charge", "mass"}
        if opts.start_from_diphotons:
            need["Photon"] |= {"electronIdx", "pixelSeed"}
        else:
            need["Photon"].add("electronIdx")
        if opts.use_sc_eta:
            if "superclusterEta" in available["Photon"]:
                need["Photon"].add("superclusterEta")
            else:
                need["Photon"] |= {"isScEtaEB", "isScEtaEE"}
        if opts.use_sc_phi:
            need["Photon"].add("superclusterPhi")
    else:
        need["Electron"] |= {"charge", "mass"}
    if opts.use_sc_eta:
        need["Electron"].add("superclusterEta" if "superclusterEta" in available["Electron"] else "deltaEtaSC")
    if opts.use_sc_phi:
        need["Electron"].add("superclusterPhi")
    if is_mc:
        need["Electron"] |= {"genPartIdx", "genPartFlav"}
        if opts.is_photon:
            need["Photon"] |= {"genPartIdx", "genPartFlav"}
    for name in _expression_fields(opts):
        if name in available[probe_coll]:
            need[probe_coll].add(name)
        if opts.is_photon and not opts.start_from_diphotons and name in available["Electron"]:
            need["Electron"].add(name)
    branches = {f"{c}_{f}" for c, fs in need.items() for f in fs}
    branches |= {f"TrigObj_{f}" for f in TRIGOBJ_FIELDS} | set(EVENT_FIELDS) | {TAG_TRIGGER}
    if opts.is_photon and opts.use_sc_eta and "superclusterEta" not in available["Photon"]:
        branches |= {"PV_x", "PV_y", "PV_z"}
    if opts.require_event_to_pass_hlt_filter:
        branches |= {hlt_branch(e, keys) for e in opts.filters.values() if e.startswith("HLT_")}
    if vars == "all":
        branches |= {
            f"{c}_{f}" for c in ({"Photon", "Electron"} if opts.is_photon else {"Electron"}) for f in available[c]
        }
        branches |= set(ALL_EXTRA) | ({"Pileup_nTrueInt"} if is_mc else set())
    else:
        for var in vars:
            branches.add(_var_branch(var, opts))
    if is_mc:
        branches |= set(GEN_FIELDS) | {"genWeight"} & keys | {"LHEWeight_originalXWGTUP"} & keys
        branches |= {"Pileup_nTrueInt"} & keys
    missing = sorted(b for b in branches if b not in keys)
    if missing:
        raise MissingBranchError(f"missing branch(es) {', '.join(missing)}")
    return sorted(branches)


def _var_branch(var: str, opts: TnPOptions) -> str:
    probe_coll = "Photon" if opts.is_photon else "Electron"
    tag_coll = "Photon" if (opts.is_photon and opts.start_from_diphotons) else "Electron"
    if var.startswith(f"{opts.probe_prefix}_"):
        return f"{probe_coll}_{var[len(opts.probe_prefix) + 1 :]}"
    if var.startswith("tag_Ele_"):
        return f"{tag_coll}_{var[len('tag_Ele_') :]}"
    return var


# -- selection ----------------------------------------------------------------------------------


def _collection(events: ak.Array, prefix: str) -> ak.Array:
    fields = [f for f in events.fields if f.startswith(prefix + "_")]
    return ak.zip({f[len(prefix) + 1 :]: events[f] for f in fields})


def trigger_match(objs: ak.Array, trigobjs: ak.Array, pdgid: int, pt: float | None, bit: int | None) -> ak.Array:
    """Per object: is there a TrigObj with |id| == pdgid, pt > pt, the filter bit, within ΔR < 0.1?"""
    keep = abs(ak.values_astype(trigobjs.id, np.int64)) == pdgid
    if pt is not None:
        keep = keep & (trigobjs.pt > pt)
    if bit is not None:
        keep = keep & ((trigobjs.filterBits & (1 << int(bit))) != 0)
    cands = trigobjs[keep]
    pairs = ak.cartesian({"o": objs, "t": cands}, axis=1, nested=True)
    dr = delta_r(pairs.o.eta_to_use, pairs.o.phi_to_use, pairs.t.eta, pairs.t.phi)
    return ak.any(dr < TRIGGER_MATCH_DR, axis=2)


def _gap_ok(eta: ak.Array) -> ak.Array:
    return (abs(eta) < 1.4442) | (abs(eta) > 1.566)


def mass_window(mass: ak.Array, cut_and_count: bool, mass_range: Any) -> ak.Array:
    """The Z window: |m − m_Z| < 30 (or a given half-width) for cut-and-count, else lo < m < hi."""
    if mass_range is None:
        return abs(mass - Z_MASS) < 30 if cut_and_count else (mass > 50) & (mass < 130)
    if isinstance(mass_range, int | float):
        return abs(mass - Z_MASS) < mass_range
    lo, hi = mass_range
    return (mass > lo) & (mass < hi)


def _with_coordinates(coll: ak.Array, opts: TnPOptions, events: ak.Array, photon: bool) -> ak.Array:
    if opts.use_sc_eta:
        if "superclusterEta" in coll.fields:
            eta = coll.superclusterEta
        elif photon:
            eta = photon_sc_eta(coll, events.PV_x, events.PV_y, events.PV_z)
        else:
            eta = coll.eta + coll.deltaEtaSC
    else:
        eta = coll.eta
    phi = coll.superclusterPhi if opts.use_sc_phi else coll.phi
    coll = ak.with_field(coll, eta, "eta_to_use")
    return ak.with_field(coll, phi, "phi_to_use")


def _apply_event_filters(
    events: ak.Array, opts: TnPOptions, is_mc: bool, lumimask: Callable[[Any, Any], Any] | None, extra: Any
) -> ak.Array:
    if extra is not None:
        events = extra(events, **opts.extra_filter_args)
    if lumimask is not None and not is_mc:
        events = events[lumimask(ak.to_numpy(events.run), ak.to_numpy(events.luminosityBlock))]
    return events[events[TAG_TRIGGER]]


def _ordered_pairs(a: ak.Array, b: ak.Array, same: bool) -> tuple[ak.Array, ak.Array, ak.Array]:
    ij = ak.argcartesian({"t": a, "p": b})
    if same:
        ij = ij[ij.t != ij.p]
    return ij.t, ij.p, ak.zip({"tag": a[ij.t], "probe": b[ij.p]})


def find_probes(
    events: ak.Array,
    opts: TnPOptions,
    *,
    is_mc: bool = False,
    cut_and_count: bool = True,
    mass_range: Any = None,
    vars: list[str] | str | None = None,
    lumimask: Callable[[Any, Any], Any] | None = None,
    extra_filter: Callable[..., Any] | None = None,
    pileup_weight: Callable[[Any], Any] | None = None,
) -> ChunkProbes:
    """Select tags and probes in one chunk of NanoAOD events (a flat uproot record array)."""
    vars = opts.default_vars if vars is None else vars
    sum_gen = (
        float(ak.sum(ak.values_astype(events.genWeight, np.float64)))
        if is_mc and "genWeight" in events.fields
        else None
    )
    n_events = len(events)
    events = _apply_event_filters(events, opts, is_mc, lumimask, extra_filter)
    electrons = _with_coordinates(_collection(events, "Electron"), opts, events, photon=False)
    trigobjs = _collection(events, "TrigObj")
    if opts.is_photon:
        photons = _collection(events, "Photon")
        photons = ak.with_field(photons, 0.0 * photons.pt, "charge")
        photons = ak.with_field(photons, 0.0 * photons.pt, "mass")
        photons = _with_coordinates(photons, opts, events, photon=True)
        if opts.start_from_diphotons:
            ti, _pi, zc = _ordered_pairs(photons, photons, same=True)
            tag_el_idx = zc.tag.electronIdx
            has_el = tag_el_idx >= 0
            # the tag's matched electron must pass the tag trigger match
            el_matched = trigger_match(electrons, trigobjs, 11, TAG_TRIGOBJ_PT, TAG_TRIGOBJ_BIT)
            el_matched = ak.fill_none(ak.pad_none(el_matched, 1), False)
            tag_el_matched = el_matched[ak.where(has_el, tag_el_idx, 0)] & has_el
            ok = (zc.tag.cutBased >= 3) & has_el & (zc.tag.pixelSeed != 0) & tag_el_matched
        else:
            ti, _pi, zc = _ordered_pairs(electrons, photons, same=False)
            not_same = (zc.probe.electronIdx != ti) & (
                delta_r(zc.tag.eta, zc.tag.phi, zc.probe.eta, zc.probe.phi) > 0.1
            )
            ok = (
                not_same & (zc.tag.cutBased >= 4) & trigger_match(zc.tag, trigobjs, 11, TAG_TRIGOBJ_PT, TAG_TRIGOBJ_BIT)
            )
    else:
        ti, _pi, zc = _ordered_pairs(electrons, electrons, same=True)
        ok = (zc.tag.cutBased >= 4) & trigger_match(zc.tag, trigobjs, 11, TAG_TRIGOBJ_PT, TAG_TRIGOBJ_BIT)
    if opts.cutbased_id:
        ok = ok & expressions.evaluate(opts.cutbased_id, zc.probe, "cutbased_id")
    if opts.extra_zcands_mask:
        ok = ok & expressions.evaluate(opts.extra_zcands_mask, {"zcands": zc}, "extra_zcands_mask")
    if opts.avoid_ecal_transition_tags:
        ok = ok & _gap_ok(zc.tag.eta_to_use)
    if opts.avoid_ecal_transition_probes:
        ok = ok & _gap_ok(zc.probe.eta_to_use)
    ok = ok & (zc.tag.pt > opts.tags_pt_cut) & (abs(zc.tag.eta_to_use) < opts.tags_abseta_cut)
    ok = ok & (zc.probe.pt > opts.effective_probes_pt_cut()) & (abs(zc.probe.eta_to_use) < opts.probes_abseta_cut)
    if is_mc:
        ok = ok & _gen_matched(zc, events, opts)
    mass = pair_mass(zc.tag, zc.probe)
    ok = ok & mass_window(mass, cut_and_count, mass_range)
    if not opts.is_photon:
        ok = ok & (zc.tag.charge * zc.probe.charge == -1)
    ok = ok & (delta_r(zc.tag.eta, zc.tag.phi, zc.probe.eta, zc.probe.phi) > 0.0)
    zc, mass = zc[ok], mass[ok]
    has_pair = ak.num(zc, axis=1) >= 1
    zc, mass, events, trigobjs = zc[has_pair], mass[has_pair], events[has_pair], trigobjs[has_pair]

    columns: dict[str, ak.Array] = {}
    for var in _expand_vars(vars, opts, zc, is_mc):
        columns[var] = _var_column(var, opts, zc, events)
    for name in EVENT_FIELDS:
        columns[name] = events[name]
    keys = set(events.fields)
    for name, expr in opts.filters.items():
        columns[name] = _passing(name, expr, opts, zc, events, trigobjs, keys)
    columns["pair_mass"] = mass
    if is_mc:
        columns.update(_weights(events, sum_gen, pileup_weight))
    columns = {k: v for k, v in columns.items() if "to_use" not in k}
    return ChunkProbes(ak.zip(columns, depth_limit=1), n_events, sum_gen)


def _gen_matched(zc: ak.Array, events: ak.Array, opts: TnPOptions) -> ak.Array:
    """Tag and probe match distinct gen particles with the same Z (pdgId 23) parent, right flavour."""
    mother = events.GenPart_genPartIdxMother
    pdg = events.GenPart_pdgId
    t_idx, p_idx = zc.tag.genPartIdx, zc.probe.genPartIdx
    valid = (t_idx >= 0) & (p_idx >= 0)
    t_safe, p_safe = ak.where(valid, t_idx, 0), ak.where(valid, p_idx, 0)
    t_mom, p_mom = mother[t_safe], mother[p_safe]
    same = valid & (t_mom == p_mom) & (t_mom >= 0) & (t_idx != p_idx)
    mom_pdg = pdg[ak.where(t_mom >= 0, t_mom, 0)]
    if opts.is_photon:
        tag_flav, probe_flav = (11, 11) if opts.start_from_diphotons else (1, 11)
    else:
        tag_flav, probe_flav = 1, 1
    return same & (mom_pdg == 23) & (zc.tag.genPartFlav == tag_flav) & (zc.probe.genPartFlav == probe_flav)


def _passing(
    name: str,
    expr: str,
    opts: TnPOptions,
    zc: ak.Array,
    events: ak.Array,
    trigobjs: ak.Array,
    keys: set[str],
) -> ak.Array:
    if expr.startswith("HLT_"):
        if opts.is_photon:
            pdgid = 11 if opts.is_electron_filter.get(name, False) else 22
        else:
            pdgid = 22 if opts.is_photon_filter.get(name, False) else 11
        passing = trigger_match(zc.probe, trigobjs, pdgid, opts.trigger_pt.get(name), opts.filterbit.get(name))
        if opts.require_event_to_pass_hlt_filter:
            passing = passing & events[hlt_branch(expr, keys)]
        return passing
    if "zcands" in expr:
        return expressions.evaluate(expr, {"zcands": zc}, f"filter {name!r}")
    return expressions.evaluate(expr, zc.probe, f"filter {name!r}")


def _expand_vars(vars: list[str] | str, opts: TnPOptions, zc: ak.Array, is_mc: bool) -> list[str]:
    if vars != "all":
        return list(vars)
    tag = [f"tag_Ele_{f}" for f in zc.tag.fields]
    probe = [f"{opts.probe_prefix}_{f}" for f in zc.probe.fields]
    return tag + probe + list(ALL_EXTRA) + (["Pileup_nTrueInt"] if is_mc else [])


def _var_column(var: str, opts: TnPOptions, zc: ak.Array, events: ak.Array) -> ak.Array:
    prefix = f"{opts.probe_prefix}_"
    if var.startswith(prefix):
        return zc.probe[var[len(prefix) :]]
    if var.startswith("tag_Ele_"):
        return zc.tag[var[len("tag_Ele_") :]]
    return events[var]


def _weights(events: ak.Array, sum_gen: float | None, pileup_weight: Callable[[Any], Any] | None) -> dict:
    ones = ak.ones_like(events.event, dtype=np.float64)
    gen = ak.values_astype(events.genWeight, np.float64) if "genWeight" in events.fields else ones
    lhe = (
        ak.values_astype(events.LHEWeight_originalXWGTUP, np.float64)
        if "LHEWeight_originalXWGTUP" in events.fields
        else ones
    )
    pu = ak.Array(pileup_weight(ak.to_numpy(events.Pileup_nTrueInt))) if pileup_weight is not None else ones
    norm = sum_gen if sum_gen else 1.0
    return {"weight": gen * pu / norm, "weight_gen": gen, "weight_total": gen * lhe * pu}
