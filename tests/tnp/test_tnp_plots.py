"""Efficiency plots: axis units, a legend naming the sample, no drawn empty bins, a labelled colour bar."""

from __future__ import annotations

from pathlib import Path

import hist
import numpy as np
import pytest

from include.core.errors import ConfigError
from include.tnp import config as cfg
from include.tnp import pipeline, plots
from include.tnp.demo import configurations, write_nanoaod
from include.tnp.efficiency import efficiency_table

PT_EDGES = [5, 10, 20, 30, 40, 50, 100]
ETA_EDGES = [-2.5, -1.5, 0.0, 1.5, 2.5]


def _h1(values: list[float]) -> hist.Hist:
    h = hist.Hist(hist.axis.Variable(PT_EDGES, name="el_pt", label="El_pt"), storage=hist.storage.Weight())
    centres = (np.array(PT_EDGES[1:]) + np.array(PT_EDGES[:-1])) / 2
    h.fill(el_pt=np.repeat(centres, values))
    return h


def _table_1d() -> dict:
    # bins 0 and 4 have no probes at all; bin 1 has probes, none passing (efficiency 0, drawn)
    return efficiency_table(_h1([0, 0, 5, 8, 0, 1]), _h1([0, 3, 1, 2, 0, 0]))


def _xy(fig) -> tuple[np.ndarray, np.ndarray]:
    ax = fig.axes[0]
    (line,) = ax.lines  # the markers of the one errorbar container
    return np.asarray(line.get_xdata(), dtype=float), np.asarray(line.get_ydata(), dtype=float)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def test_axis_labels_carry_units_and_symbols() -> None:
    assert plots.axis_label("el_pt") == r"Probe electron $p_\mathrm{T}$ [GeV]"
    assert plots.axis_label("ph_et") == r"Probe photon $E_\mathrm{T}$ [GeV]"
    assert plots.axis_label("tag_Ele_pt") == r"Tag $p_\mathrm{T}$ [GeV]"
    assert plots.axis_label("pt").endswith("[GeV]")
    assert plots.axis_label("el_eta") == r"Probe electron $\eta$"  # η and φ: symbol, no unit
    assert plots.axis_label("phi") == r"Probe $\phi$"
    assert plots.axis_label("pair_mass") == r"$m_\mathrm{tag,probe}$ [GeV]"
    assert plots.axis_label("el_someScore") == "el_someScore"  # unknown: the column, no invented unit


def test_sample_label_from_metadata_or_is_mc() -> None:
    assert plots.sample_label("DY", True, {}) == "DY (simulation)"
    assert plots.sample_label("Run2023C", False, None) == "Run2023C (data)"
    assert plots.sample_label("DY", False, {"label": "Generated Z→ee"}) == "Generated Z→ee"


def test_1d_draws_only_bins_with_probes_with_units_and_sample_legend() -> None:
    table = _table_1d()
    total = np.asarray(table["total"], dtype=float)
    assert total.tolist() == [0, 3, 6, 10, 0, 1]
    fig = plots.efficiency_1d_figure(table, "t", sample="DY (simulation)")
    ax = fig.axes[0]
    x, y = _xy(fig)
    edges = np.asarray(PT_EDGES, dtype=float)
    centres = (edges[1:] + edges[:-1]) / 2
    assert len(x) == np.count_nonzero(total > 0) == 4
    assert np.allclose(x, centres[total > 0])
    assert np.allclose(y, [0.0, 5 / 6, 0.8, 1.0])  # the measured zero stays, the undefined bins are gone
    assert "[GeV]" in ax.get_xlabel() and "p_" in ax.get_xlabel()
    assert ax.get_xscale() == "log"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["DY (simulation)"]
    # the error bars belong to the drawn points only
    assert all(len(c.get_segments()) == 4 for c in ax.collections)


def test_1d_eta_axis_has_symbol_and_linear_scale() -> None:
    table = _table_1d()
    fig = plots.efficiency_1d_figure(table, "t", sample="x", variable="el_eta")
    assert fig.axes[0].get_xlabel() == r"Probe electron $\eta$"


def test_1d_all_bins_empty_draws_no_point() -> None:
    empty = efficiency_table(_h1([0] * 6), _h1([0] * 6))
    fig = plots.efficiency_1d_figure(empty, "t", sample="x")
    assert len(_xy(fig)[0]) == 0
    assert any("no probes" in t.get_text() for t in fig.axes[0].texts)


def _h2(entries: list[tuple[float, float, int]]) -> hist.Hist:
    h = hist.Hist(
        hist.axis.Variable(PT_EDGES, name="el_pt"),
        hist.axis.Variable(ETA_EDGES, name="el_eta"),
        storage=hist.storage.Weight(),
    )
    for pt, eta, n in entries:
        h.fill(el_pt=[pt] * n, el_eta=[eta] * n)
    return h


def test_2d_map_blank_where_no_probes_and_labelled_colour_bar() -> None:
    from matplotlib.collections import QuadMesh

    passing = _h2([(15, 0.5, 4), (35, -2.0, 0), (75, 2.0, 2)])
    failing = _h2([(15, 0.5, 1), (35, -2.0, 3)])
    table = efficiency_table(passing, failing)
    fig = plots.efficiency_2d_figure(table, "t", sample="Run2023C (data)")
    ax = fig.axes[0]
    (mesh,) = [c for c in ax.collections if isinstance(c, QuadMesh)]
    drawn = np.ma.masked_invalid(mesh.get_array()).count()
    assert drawn == np.count_nonzero(np.asarray(table["total"], dtype=float) > 0) == 3
    assert sorted(np.ma.masked_invalid(mesh.get_array()).compressed().tolist()) == [0.0, 0.8, 1.0]
    assert mesh.colorbar is not None and mesh.colorbar.ax.get_ylabel() == "Efficiency"
    assert ax.get_xlabel().endswith("[GeV]") and ax.get_ylabel() == r"Probe electron $\eta$"
    assert "Run2023C (data)" in ax.get_title()


def test_fileset_label_must_be_text(roots) -> None:
    data, _ = roots
    (data / "f.root").write_bytes(b"")
    with pytest.raises(ConfigError, match=r"metadata\.label"):
        cfg.load_fileset({"d": {"files": {"f.root": "Events"}, "metadata": {"label": 3}}}, data)


def _capture(monkeypatch) -> list[tuple]:
    seen: list[tuple] = []
    write = plots._write

    def spy(fig, path):
        labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()] if fig.axes[0].get_legend() else []
        seen.append((path, fig.axes[0].get_xlabel(), labels, fig.axes[0].get_title()))
        return write(fig, path)

    monkeypatch.setattr(plots, "_write", spy)
    return seen


def test_pipeline_plots_of_the_demo_name_the_sample_and_units(roots, monkeypatch) -> None:
    data, _ = roots
    write_nanoaod(data / "demo_DYto2E.root", 400, seed=11)
    conf = configurations()
    seen = _capture(monkeypatch)
    result = pipeline.run_all(conf["runner"], conf["fileset"], conf["settings"], conf["binning"], output="plots")
    label = conf["fileset"]["demo_DYto2E"]["metadata"]["label"]
    assert "Generated" in label and "data" in label
    one_d = [s for s in seen if not s[0].name.endswith("_map.png")]
    assert one_d and all(s[2] == [label] for s in one_d)  # never a bare "data"
    by_name = {s[0].name: s[1] for s in seen}
    assert by_name["HLT_Ele32_WPTight_Gsf_eff_pt_barrel.png"] == r"Probe electron $p_\mathrm{T}$ [GeV]"
    assert by_name["HLT_Ele32_WPTight_Gsf_eff_eta_entire.png"] == r"Probe electron $\eta$"
    assert by_name["HLT_Ele32_WPTight_Gsf_eff_phi_entire.png"] == r"Probe electron $\phi$"
    maps = [s for s in seen if s[0].name.endswith("_map.png")]
    assert maps and all(label in s[3] for s in maps)
    assert all(s[0].stat().st_size > 0 for s in seen)
    assert Path(result["run_dir"]).is_dir()


def test_pipeline_legend_says_simulation_for_inferred_mc(roots, monkeypatch) -> None:
    data, _ = roots
    write_nanoaod(data / "mc.root", 300, seed=5, mc=True)
    conf = configurations()
    runner = {**conf["runner"], "methods": [conf["runner"]["methods"][1]]}
    seen = _capture(monkeypatch)
    pipeline.run_all(runner, {"DYto2E_MC": {"files": {"mc.root": "Events"}}}, conf["settings"], conf["binning"], "mc")
    assert seen and all(s[2] == ["DYto2E_MC (simulation)"] for s in seen)


def test_cms_style_does_not_leak_into_later_plots(tmp_path: Path) -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    plots.plot_efficiency_1d(_table_1d(), tmp_path / "a.png", "t", sample="x")
    plots.plot_efficiency_2d(efficiency_table(_h2([(15, 0.5, 1)]), _h2([])), tmp_path / "b.png", "t", sample="x")
    assert dict(matplotlib.rcParams) == before
