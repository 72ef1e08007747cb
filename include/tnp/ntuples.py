"""Tag-and-probe selection on flat ntuples: one row per (tag, probe) pair (spec §2, flat ntuples).

Mini ntuples are the classic EGM ``fitter_tree``; Nano ntuples are this tool's own flat output.
"""

from __future__ import annotations

from typing import Any

import awkward as ak
import numpy as np

from include.core.errors import ConfigError
from include.tnp import expressions
from include.tnp.nanoaod import ChunkProbes, MissingBranchError, mass_window
from include.tnp.options import ELECTRON_MINI, PHOTON_MINI, PHOTON_NANO_NTUPLES, TnPOptions

DEFAULT_TREE = {"mini": "fitter_tree", "nano": "Events"}


def flavour(workflow: str) -> str:
    """``mini`` or ``nano``."""
    return "mini" if workflow in (ELECTRON_MINI, PHOTON_MINI) else "nano"


def _probe_pt_column(opts: TnPOptions) -> str:
    if opts.workflow == PHOTON_MINI:
        return "ph_et"
    return "ph_pt" if opts.workflow == PHOTON_NANO_NTUPLES else "el_pt"


def _eta_columns(opts: TnPOptions, keys: set[str]) -> dict[str, list[str]]:
    """For tag and probe: the columns eta_to_use is made of (one column, or eta + deltaEtaSC)."""
    p = opts.probe_prefix
    out = {}
    for side, prefix, mini_sc in (("tag", "tag_Ele", "tag_sc_eta"), ("probe", p, f"{p}_sc_eta")):
        if not opts.use_sc_eta:
            out[side] = [f"{prefix}_eta"]
        elif flavour(opts.workflow) == "mini":
            out[side] = [mini_sc]
        elif f"{prefix}_superclusterEta" in keys:
            out[side] = [f"{prefix}_superclusterEta"]
        else:
            out[side] = [f"{prefix}_eta", f"{prefix}_deltaEtaSC"]
    return out


def _charge_columns(opts: TnPOptions) -> list[str]:
    if opts.is_photon:
        return []
    return ["tag_Ele_q", "el_q"] if flavour(opts.workflow) == "mini" else ["tag_Ele_charge", "el_charge"]


def _event_columns(opts: TnPOptions, keys: set[str], is_mc: bool) -> list[str]:
    lumi = "lumi" if flavour(opts.workflow) == "mini" else "luminosityBlock"
    cols = ["event", "run", lumi, *sorted(k for k in keys if "weight" in k or "Weight" in k)]
    if is_mc:
        cols.append("truePU" if flavour(opts.workflow) == "mini" else "Pileup_nTrueInt")
    return cols


def _filter_columns(expr: str, keys: set[str]) -> set[str]:
    if expr in keys:
        return {expr}
    if "events" in expr:
        return expressions.identifiers(expr) & keys
    raise ConfigError(f"filter {expr!r} is neither a column of the ntuple nor an expression on 'events'")


def required_branches(opts: TnPOptions, keys: set[str], vars: list[str] | str, is_mc: bool) -> list[str]:
    """The columns one chunk needs; raise :class:`MissingBranchError` naming any that is absent."""
    eta = _eta_columns(opts, keys)
    need = {"tag_Ele_pt", _probe_pt_column(opts), "pair_mass", *eta["tag"], *eta["probe"], *_charge_columns(opts)}
    need |= set(_event_columns(opts, keys, is_mc))
    if opts.cutbased_id:
        need.add(opts.cutbased_id)
    for expr in opts.filters.values():
        need |= _filter_columns(expr, keys) if (expr in keys or "events" in expr) else {expr}
    need |= set(keys) if vars == "all" else set(vars)
    missing = sorted(b for b in need if b not in keys)
    if missing:
        raise MissingBranchError(f"missing branch(es) {', '.join(missing)}")
    return sorted(need)


def _eta_to_use(events: ak.Array, cols: list[str]) -> ak.Array:
    return events[cols[0]] if len(cols) == 1 else events[cols[0]] + events[cols[1]]


def _gap_ok(eta: ak.Array) -> ak.Array:
    return (abs(eta) < 1.4442) | (abs(eta) > 1.566)


def find_probes(
    events: ak.Array,
    opts: TnPOptions,
    *,
    is_mc: bool = False,
    cut_and_count: bool = True,
    mass_range: Any = None,
    vars: list[str] | str | None = None,
    lumimask: Any = None,
    extra_filter: Any = None,
    pileup_weight: Any = None,
) -> ChunkProbes:
    """Select pairs in one chunk of a flat ntuple; one output row per surviving pair."""
    vars = opts.default_vars if vars is None else vars
    n_events = len(events)
    keys = set(events.fields)
    if extra_filter is not None:
        events = extra_filter(events, **opts.extra_filter_args)
    lumi = "lumi" if flavour(opts.workflow) == "mini" else "luminosityBlock"
    if lumimask is not None and not is_mc:
        events = events[lumimask(ak.to_numpy(events.run), ak.to_numpy(events[lumi]))]
    eta = _eta_columns(opts, keys)
    tag_eta, probe_eta = _eta_to_use(events, eta["tag"]), _eta_to_use(events, eta["probe"])
    ok = np.ones(len(events), dtype=bool)
    if opts.avoid_ecal_transition_tags:
        ok = ok & _gap_ok(tag_eta)
    if opts.avoid_ecal_transition_probes:
        ok = ok & _gap_ok(probe_eta)
    ok = ok & (events.tag_Ele_pt > opts.tags_pt_cut) & (abs(tag_eta) < opts.tags_abseta_cut)
    ok = ok & (events[_probe_pt_column(opts)] > opts.effective_probes_pt_cut())
    ok = ok & (abs(probe_eta) < opts.probes_abseta_cut)
    charge = _charge_columns(opts)
    if charge:
        ok = ok & (events[charge[0]] * events[charge[1]] == -1)
    if opts.cutbased_id:
        ok = ok & (events[opts.cutbased_id] == 1)
    ok = ok & mass_window(events.pair_mass, cut_and_count, mass_range)
    events = events[ok]
    columns: dict[str, ak.Array] = {}
    names = sorted(keys) if vars == "all" else list(vars)
    for var in [*names, *_event_columns(opts, keys, is_mc)]:
        columns[var] = events[var]
    for name, expr in opts.filters.items():
        if expr in keys:
            columns[name] = events[expr] == 1
        else:
            columns[name] = ak.values_astype(expressions.evaluate(expr, {"events": events}, f"filter {name!r}"), bool)
    columns["pair_mass"] = events.pair_mass
    return ChunkProbes(ak.zip(columns, depth_limit=1), n_events, None)
