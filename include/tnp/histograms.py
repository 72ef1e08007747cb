"""Passing/failing split of probe tables and the 1D / N-dimensional tag-and-probe histograms."""

from __future__ import annotations

from typing import Any

import awkward as ak
import hist
import numpy as np

from include.core.errors import ConfigError
from include.tnp.config import bins_for

MLL_AXIS = ("mll", 80, 50.0, 130.0)  # always 80 bins over 50-130, whatever mass_range is
DEFAULT_ETA_REGIONS_PT = {"barrel": [0.0, 1.4442], "endcap": [1.566, 2.5]}
DEFAULT_PHI_REGIONS_ETA = {"entire": [0.0, 3.32]}
DEFAULT_ETA_REGIONS_PHI = {"entire": [0.0, 2.5]}
_PAIR_PREFIXES = ("el_", "tag_Ele_", "ph_")


def _is_jagged(array: ak.Array) -> bool:
    return array.ndim > 1


def split_passing_failing(table: ak.Array, filter_name: str, filter_names: list[str]) -> tuple[ak.Array, ak.Array]:
    """Events with ≥ 1 passing (failing) probe, per-pair fields masked; filter columns dropped.

    An event can be in both. For flat ntuple tables the split is a plain row mask.
    """
    if filter_name not in table.fields:
        raise ConfigError(f"filter {filter_name!r} is not a column of the probe table")
    flag = table[filter_name]
    keep = [f for f in table.fields if f not in filter_names]
    if not _is_jagged(flag):
        flag = ak.values_astype(flag, bool)
        return table[keep][flag], table[keep][~flag]

    def side(mask: ak.Array) -> ak.Array:
        columns = {}
        for f in keep:
            col = table[f]
            per_pair = _is_jagged(col) and (f.startswith(_PAIR_PREFIXES) or f == "pair_mass")
            columns[f] = col[mask] if per_pair else col
        out = ak.zip(columns, depth_limit=1) if columns else table[keep]
        return out[ak.any(mask, axis=1)]

    return side(flag), side(~flag)


def flatten_probes(table: ak.Array, fields: list[str] | None = None) -> dict[str, np.ndarray]:
    """One entry per probe: jagged fields flattened, event-level fields broadcast to every pair."""
    fields = list(table.fields) if fields is None else fields
    jagged = [f for f in table.fields if _is_jagged(table[f])]
    out = {}
    for f in fields:
        col = table[f]
        if jagged and not _is_jagged(col):
            col = ak.broadcast_arrays(col, table[jagged[0]])[0]
        out[f] = ak.to_numpy(ak.flatten(col, axis=None) if _is_jagged(col) or jagged else col)
    return out


def _weights(flat: dict[str, np.ndarray], weight: str | None, n: int) -> np.ndarray:
    if weight and weight in flat:
        return flat[weight].astype(np.float64)
    return np.ones(n)


def _var_axis(var: str, edges: list[float], name: str | None = None, label: str | None = None) -> hist.axis.Variable:
    return hist.axis.Variable(edges, name=name or var, label=label or var.capitalize(), flow=True)


def _mll_axis() -> hist.axis.Regular:
    name, n, lo, hi = MLL_AXIS
    return hist.axis.Regular(n, lo, hi, name=name, label="mll", flow=True)


def nd_histograms(
    passing: ak.Array,
    failing: ak.Array,
    vars: list[str],
    binning: dict[str, list[float]],
    *,
    cut_and_count: bool = True,
    weight: str | None = "weight",
) -> dict[str, hist.Hist]:
    """``{"passing": H, "failing": H}`` with one variable axis per var (+ ``mll`` when fitting)."""
    result = {}
    for side, table in (("passing", passing), ("failing", failing)):
        axes = [_var_axis(v, bins_for(binning, v)) for v in vars]
        columns = {v: v for v in vars}
        if not cut_and_count:
            axes.append(_mll_axis())
            columns["mll"] = "pair_mass"
        h = hist.Hist(*axes, storage=hist.storage.Weight())
        result[side] = _fill(h, table, columns, weight)
    return result


def _regions(value: Any, default: dict[str, list[float]], name: str) -> dict[str, list[float]]:
    regions = default if value is None else value
    if not isinstance(regions, dict) or not all(
        isinstance(r, list | tuple) and len(r) == 2 and r[0] < r[1] for r in regions.values()
    ):
        raise ConfigError(f"{name} must map region names to [lo, hi]")
    return {k: [float(r[0]), float(r[1])] for k, r in regions.items()}


def one_d_histograms(
    passing: ak.Array,
    failing: ak.Array,
    vars: list[str],
    binning: dict[str, list[float]],
    *,
    cut_and_count: bool = True,
    plateau_cut: float | None = None,
    eta_regions_pt: dict | None = None,
    phi_regions_eta: dict | None = None,
    eta_regions_phi: dict | None = None,
    weight: str | None = "weight",
) -> dict[str, dict[str, dict[str, hist.Hist]]]:
    """``{"pt"|"eta"|"phi": {region: {"passing","failing"}}}``; regions are lo < |x| < hi (strict)."""
    if len(vars) != 3:
        raise ConfigError(f"get_1d_pt_eta_phi_tnp_histograms: vars must be [pt, eta, phi], got {vars}")
    pt, eta, phi = vars
    plateau = 0.0 if plateau_cut is None else float(plateau_cut)
    specs = {
        "pt": (pt, "Pt [GeV]", eta, _regions(eta_regions_pt, DEFAULT_ETA_REGIONS_PT, "eta_regions_pt"), None),
        "eta": (eta, "eta", phi, _regions(phi_regions_eta, DEFAULT_PHI_REGIONS_ETA, "phi_regions_eta"), plateau),
        "phi": (phi, "phi", eta, _regions(eta_regions_phi, DEFAULT_ETA_REGIONS_PHI, "eta_regions_phi"), plateau),
    }
    result: dict[str, dict[str, dict[str, hist.Hist]]] = {}
    for axis_name, (var, label, region_var, regions, pt_min) in specs.items():
        result[axis_name] = {}
        for region, (lo, hi) in regions.items():

            def mask(flat: dict[str, np.ndarray], lo: float = lo, hi: float = hi, pt_min: float | None = pt_min):
                keep = (np.abs(flat["_region"]) > lo) & (np.abs(flat["_region"]) < hi)
                if pt_min is not None:
                    keep &= flat["_pt"] > pt_min
                return keep

            result[axis_name][region] = {}
            for side, table in (("passing", passing), ("failing", failing)):
                axes = [_var_axis(var, bins_for(binning, var), name=axis_name, label=label)]
                columns = {axis_name: var, "_region": region_var, "_pt": pt}
                if not cut_and_count:
                    axes.append(_mll_axis())
                    columns["mll"] = "pair_mass"
                h = hist.Hist(*axes, storage=hist.storage.Weight())
                result[axis_name][region][side] = _fill(h, table, columns, weight, mask)
    return result


def _fill(h: hist.Hist, table: ak.Array, columns: dict[str, str], weight: str | None, mask_fn: Any = None) -> hist.Hist:
    """Fill axis -> column; names starting with ``_`` are helper columns for ``mask_fn`` only."""
    cols = sorted(set(columns.values()))
    missing = [c for c in cols if c not in table.fields]
    if missing:
        raise ConfigError(f"variable(s) {missing} are not in the probe table (add them to 'vars')")
    wanted = cols + ([weight] if weight and weight in table.fields else [])
    flat = flatten_probes(table, wanted) if len(table) else {c: np.array([]) for c in wanted}
    view = {name: flat[col] for name, col in columns.items()}
    n = len(next(iter(view.values())))
    w = _weights(flat, weight, n)
    mask = mask_fn(view) if mask_fn is not None else np.ones(n, dtype=bool)
    axes = {name: view[name][mask] for name in columns if not name.startswith("_")}
    h.fill(**axes, weight=w[mask])
    return h


def add_histograms(a: Any, b: Any) -> Any:
    """Sum two nested dicts of histograms with the same structure."""
    if isinstance(a, dict):
        if set(a) != set(b):
            raise ValueError(f"cannot add histogram dicts with different keys {sorted(a)} != {sorted(b)}")
        return {k: add_histograms(a[k], b[k]) for k in a}
    return a + b


def walk(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], hist.Hist]]:
    """Flatten a nested dict of histograms into (path, hist) pairs, in key order."""
    if isinstance(obj, dict):
        out = []
        for k in obj:
            out.extend(walk(obj[k], (*prefix, k)))
        return out
    return [(prefix, obj)]
