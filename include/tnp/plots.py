"""Efficiency plots with mplhep: vs one variable (1D) and 2D maps."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from include.core import atomic


def _figure() -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    return plt.subplots(figsize=(9, 7))


def plot_efficiency_1d(eff: dict[str, Any], path: Path, title: str) -> Path:
    """Efficiency vs one variable with asymmetric Clopper–Pearson errors."""
    import matplotlib.pyplot as plt

    edges = np.asarray(eff["axes"][0]["edges"], dtype=float)
    centres, widths = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    values = np.asarray(eff["efficiency"], dtype=float)
    err = np.array([eff["err_low"], eff["err_high"]], dtype=float)
    fig, ax = _figure()
    ax.errorbar(centres, values, xerr=widths, yerr=np.nan_to_num(err), fmt="o", color="black", label="data")
    ax.set_xlabel(eff["axes"][0]["name"])
    ax.set_ylabel("Efficiency")
    ax.set_ylim(0, 1.2)
    if eff["axes"][0]["name"] in ("pt", "el_pt", "ph_pt", "ph_et"):
        ax.set_xscale("log")
    ax.set_title(title, fontsize=14)
    ax.legend()
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path


def plot_efficiency_2d(eff: dict[str, Any], path: Path, title: str) -> Path:
    """2D efficiency map (first axis on x, second on y)."""
    import matplotlib.pyplot as plt
    import mplhep

    xedges = np.asarray(eff["axes"][0]["edges"], dtype=float)
    yedges = np.asarray(eff["axes"][1]["edges"], dtype=float)
    values = np.asarray(eff["efficiency"], dtype=float)
    fig, ax = _figure()
    mplhep.hist2dplot(values, xedges, yedges, ax=ax, cbar=True, cmin=0, cmax=1)
    ax.set_xlabel(eff["axes"][0]["name"])
    ax.set_ylabel(eff["axes"][1]["name"])
    ax.set_title(title, fontsize=14)
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)
    return path
