"""The dataset control plots: units on the axes, a legend of the drawn classes only, honest counts."""

from __future__ import annotations

import numpy as np
import pytest

from include.ecal_windows.summary import control_figure, plot_specs, sample_name


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def _legend(ax) -> list[str]:
    legend = ax.get_legend()
    return [t.get_text() for t in legend.get_texts()] if legend else []


def test_axis_labels_have_units_or_are_counts() -> None:
    specs = {name: label for name, label, *_ in plot_specs(np.ones(3), np.zeros(3), np.ones(3, dtype=int))}
    assert specs["seed_et.png"] == r"Raw seed $E_\mathrm{T}$ [GeV]"
    assert specs["seed_eta.png"] == r"Seed $\eta$"  # η: a symbol, no unit
    assert specs["ncls.png"] == "Clusters per window"  # a count


def test_only_classes_with_windows_are_drawn_and_in_the_legend() -> None:
    et = np.array([1.0, 5.0, 20.0, 80.0])
    _, label, values, bins, logx = plot_specs(et, np.zeros(4), np.ones(4, dtype=int))[0]
    fig = control_figure(label, values, bins, logx, np.ones(4, dtype=bool), "electrons")
    ax = fig.axes[0]
    assert len(ax.patches) == 1 and _legend(ax) == ["calo matched"]  # nothing unmatched: no empty entry
    assert ax.get_xlabel().endswith("[GeV]") and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "Windows per bin"
    assert ax.get_title() == "electrons: 4 windows, 4 calo matched"

    fig = control_figure(label, values, bins, logx, np.array([True, False, True, False]), "electrons")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and _legend(ax) == ["calo matched", "not calo matched"]
    drawn = [p.get_edgecolor() for p in ax.patches]
    assert drawn[0] != drawn[1]


def test_windows_outside_the_axis_are_counted_in_the_title() -> None:
    eta = np.array([0.0, 1.0, 3.5, np.nan])
    _, label, values, bins, logx = plot_specs(np.ones(4), eta, np.ones(4, dtype=int))[1]
    fig = control_figure(label, values, bins, logx, np.ones(4, dtype=bool), "photons")
    assert fig.axes[0].get_title() == "photons: 4 windows, 4 calo matched, 2 outside the axis"


def test_no_windows() -> None:
    fig = control_figure("x", np.array([]), np.linspace(0, 1, 3), False, np.array([], dtype=bool), "no windows")
    ax = fig.axes[0]
    assert not ax.patches and ax.get_legend() is None and "no windows" in [t.get_text() for t in ax.texts]


def test_sample_name() -> None:
    assert sample_name(np.array([11, 11])) == "electrons"
    assert sample_name(np.array([22, 11])) == "electrons, photons"
    assert sample_name(np.array([13])) == "flavour 13"
