"""Efficiency plots with mplhep: vs one variable (1D) and 2D maps.

What the plots promise:
- every axis names its quantity with its symbol and unit (``Probe electron p_T [GeV]``,
  ``Probe electron η``; η and φ carry no unit); a variable without a known label is shown by
  its column name;
- the legend names the sample that was measured: the fileset's ``metadata.label`` when it has
  one, otherwise ``<dataset> (data)`` or ``<dataset> (simulation)`` from ``isMC`` (given or inferred);
- a bin without probes (P + F = 0, efficiency undefined, NaN errors in the JSON) is not drawn:
  no marker in 1D, a blank cell in 2D.

:func:`efficiency_1d_figure` and :func:`efficiency_2d_figure` build the figures (tests inspect
them); :func:`plot_efficiency_1d` and :func:`plot_efficiency_2d` write them as PNG.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic

# prefix of a probe-table column -> what it belongs to
_OWNERS = (("tag_Ele_", "Tag"), ("el_", "Probe electron"), ("ph_", "Probe photon"))
# field -> (symbol, unit or None)
_FIELDS: dict[str, tuple[str, str | None]] = {
    "pt": (r"$p_\mathrm{T}$", "GeV"),
    "et": (r"$E_\mathrm{T}$", "GeV"),
    "energy": ("$E$", "GeV"),
    "mass": ("$m$", "GeV"),
    "eta": (r"$\eta$", None),
    "phi": (r"$\phi$", None),
    "sc_eta": (r"supercluster $\eta$", None),
    "superclusterEta": (r"supercluster $\eta$", None),
    "eta_to_use": (r"$\eta$ (as used for the cuts)", None),
    "sc_phi": (r"supercluster $\phi$", None),
    "superclusterPhi": (r"supercluster $\phi$", None),
    "r9": ("$R_9$", None),
}
# whole column names (event level and pair level)
_COLUMNS: dict[str, tuple[str, str | None]] = {
    "pair_mass": (r"$m_\mathrm{tag,probe}$", "GeV"),
    "mll": (r"$m_\mathrm{tag,probe}$", "GeV"),
    "PV_npvs": ("Number of primary vertices", None),
    "Rho_fixedGridRhoAll": (r"$\rho$ (fixedGridRhoAll)", "GeV"),
    "Rho_fixedGridRhoFastjetAll": (r"$\rho$ (fixedGridRhoFastjetAll)", "GeV"),
    "Pileup_nTrueInt": ("True number of pileup interactions", None),
    "truePU": ("True number of pileup interactions", None),
}
ENERGY_FIELDS = ("pt", "et", "energy")  # drawn on a log x axis


def _split(var: str) -> tuple[str, str]:
    """(owner, field) of a column name; a bare name (the 1D axes pt/eta/phi) is a probe field."""
    for prefix, owner in _OWNERS:
        if var.startswith(prefix):
            return owner, var[len(prefix) :]
    return "Probe", var


def axis_label(var: str) -> str:
    """The axis title of a histogrammed variable: quantity, symbol and unit (η, φ: no unit)."""
    if var in _COLUMNS:
        symbol, unit = _COLUMNS[var]
        return f"{symbol} [{unit}]" if unit else symbol
    owner, field = _split(var)
    if field not in _FIELDS:
        return var  # unknown quantity: its column name, no invented unit
    symbol, unit = _FIELDS[field]
    return f"{owner} {symbol}" + (f" [{unit}]" if unit else "")


def is_energy(var: str) -> bool:
    return _split(var)[1] in ENERGY_FIELDS


def sample_label(name: str, is_mc: bool, metadata: Mapping[str, Any] | None = None) -> str:
    """What was measured: the fileset's ``metadata.label``, else the dataset and data/simulation."""
    label = (metadata or {}).get("label")
    if isinstance(label, str) and label.strip():
        return label.strip()
    return f"{name} ({'simulation' if is_mc else 'data'})"


def non_empty(eff: Mapping[str, Any]) -> np.ndarray:
    """Bins with probes (P + F > 0, without flow): the only ones with a defined efficiency."""
    total = np.asarray(eff["total"], dtype=float)
    return np.isfinite(total) & (total > 0)


def _cms_style() -> Any:
    """The CMS style for this figure only (``plt.style.use`` would restyle every later plot of the
    process, e.g. another production's plots in the same worker)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    return plt.style.context(mplhep.style.CMS)


def _figure() -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(9, 7))


def efficiency_1d_figure(eff: dict[str, Any], title: str, *, sample: str, variable: str | None = None) -> Any:
    """Efficiency vs one variable with asymmetric Clopper–Pearson errors; empty bins are not drawn.

    ``variable`` is the probe column behind the axis (the 1D method's axes are called pt, eta
    and phi whatever column filled them); by default the axis name.
    """
    with _cms_style():
        return _efficiency_1d(eff, title, sample, variable or eff["axes"][0]["name"])


def _efficiency_1d(eff: dict[str, Any], title: str, sample: str, variable: str) -> Any:
    edges = np.asarray(eff["axes"][0]["edges"], dtype=float)
    centres, widths = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    values = np.asarray(eff["efficiency"], dtype=float)
    err = np.array([eff["err_low"], eff["err_high"]], dtype=float)
    keep = non_empty(eff)
    fig, ax = _figure()
    ax.errorbar(
        centres[keep],
        values[keep],
        xerr=widths[keep],
        yerr=np.nan_to_num(err[:, keep]),
        fmt="o",
        color="black",
        label=sample,
    )
    ax.set_xlabel(axis_label(variable))
    ax.set_ylabel("Efficiency")
    ax.set_ylim(0, 1.2)
    ax.set_xlim(edges[0], edges[-1])
    if is_energy(variable) and edges[0] > 0:
        ax.set_xscale("log")
    if not keep.any():
        ax.text(0.5, 0.5, "no probes in any bin", transform=ax.transAxes, ha="center", va="center")
    ax.set_title(title, fontsize=14)
    ax.legend(loc="upper left", fontsize=14)
    return fig


def efficiency_2d_figure(eff: dict[str, Any], title: str, *, sample: str) -> Any:
    """2D efficiency map (first axis on x, second on y); cells without probes stay blank."""
    with _cms_style():
        return _efficiency_2d(eff, title, sample)


def _efficiency_2d(eff: dict[str, Any], title: str, sample: str) -> Any:
    import mplhep
    from matplotlib.ticker import AutoLocator

    xedges = np.asarray(eff["axes"][0]["edges"], dtype=float)
    yedges = np.asarray(eff["axes"][1]["edges"], dtype=float)
    values = np.asarray(eff["efficiency"], dtype=float)
    fig, ax = _figure()
    art = mplhep.hist2dplot(values, xedges, yedges, ax=ax, cbar=True, cmin=0, cmax=1, mask=non_empty(eff), flow=None)
    art.cbar.set_label("Efficiency")
    ax.set_xlabel(axis_label(eff["axes"][0]["name"]))
    ax.set_ylabel(axis_label(eff["axes"][1]["name"]))
    # mplhep puts a tick on every edge of a coarse binning; near the ECAL gap those labels overlap
    ax.xaxis.set_major_locator(AutoLocator())
    ax.yaxis.set_major_locator(AutoLocator())
    ax.set_title(f"{title}\n{sample}; blank: no probes", fontsize=14)
    return fig


def _write(fig: Any, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with _cms_style(), atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_efficiency_1d(
    eff: dict[str, Any], path: Path, title: str, *, sample: str, variable: str | None = None
) -> Path:
    """Write :func:`efficiency_1d_figure` as PNG."""
    return _write(efficiency_1d_figure(eff, title, sample=sample, variable=variable), path)


def plot_efficiency_2d(eff: dict[str, Any], path: Path, title: str, *, sample: str) -> Path:
    """Write :func:`efficiency_2d_figure` as PNG."""
    return _write(efficiency_2d_figure(eff, title, sample=sample), path)
