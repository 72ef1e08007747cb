"""The per-fill plots and the run overview: units on every axis, legends that match what is
drawn, a colour bar on the time-coloured panels, and an honest sign of the luminosity lifetime."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from include.lumi import plots
from include.lumi.summary import overview_figure, write_summary
from include.lumi.tasks import process_fill

FILL = 6140  # one of the demo_root fills
MODELS = ["EmpiricalBlowupLosses", "IBSBOff"]
CONFIG = {"year": 2017, "plotDpi": 20, "doSBModel": True, "doSBModelPlots": True, "models": MODELS}
UNITLESS = {plots.SLOT, "bunches"}  # a slot index and a count
BBB = {  # the bunch-by-bunch (mean vs time | value per slot coloured by time) plots
    "b1Emittances", "b2Emittances", "b1RawEmittances", "b2RawEmittances", "bunchIntensity", "bunchLength",
    "calcLumi", "bbbIntensityTau", "measLumi", "bbbLifetime", "bbbLosses",
    *(f"sbmodel_{m}_{k}_case1" for m in MODELS for k in plots.MODEL_PLOTS if k != "luminosity"),
}  # fmt: skip


def _style(handle) -> tuple:
    from matplotlib.colors import to_rgba
    from matplotlib.patches import Patch

    if isinstance(handle, Patch):
        return ("patch", to_rgba(handle.get_facecolor()))
    return (to_rgba(handle.get_color()), handle.get_linestyle(), handle.get_marker())


def _describe(fig) -> dict:
    """What a reader sees: per axes labels, legends (text, style) and lines; colour bars."""
    out = {"axes": [], "colorbars": []}
    for ax in fig.axes:
        if hasattr(ax, "_colorbar"):
            out["colorbars"].append(ax.get_ylabel())
            continue
        shared = ax.get_shared_x_axes().get_siblings(ax)
        legend = ax.get_legend()
        out["axes"].append(
            {
                "xlabel": ax.get_xlabel() or next((a.get_xlabel() for a in shared if a.get_xlabel()), ""),
                "ylabel": ax.get_ylabel(),
                "legend": [
                    (t.get_text(), _style(h)) for t, h in zip(legend.get_texts(), legend.legend_handles, strict=True)
                ]
                if legend
                else [],
                "lines": {line.get_label(): np.asarray(line.get_ydata(), dtype=float) for line in ax.lines},
                "markers": {line.get_marker() for line in ax.lines},
            }
        )
    return out


@pytest.fixture(scope="module")
def rendered(demo_root: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, dict], Path]:
    """Every plot of one demo fill (with two SB models), described before it is written."""
    import shutil

    monkeypatch = pytest.MonkeyPatch()
    tmp = tmp_path_factory.mktemp("lumi-plots")
    data, out = tmp / "data", tmp / "out"
    shutil.copytree(demo_root, data)
    out.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(out))
    seen: dict[str, dict] = {}
    save = plots._save

    def spy(fig, path, cfg):
        seen[path.stem.removeprefix(f"fill_{FILL}_")] = _describe(fig)
        return save(fig, path, cfg)

    monkeypatch.setattr(plots, "_save", spy)
    try:
        report = process_fill(FILL, config=CONFIG)
    finally:
        monkeypatch.undo()
    assert report["ok"], report
    return seen, out


def test_every_plot_is_rendered_and_written(rendered) -> None:
    seen, out = rendered
    expected = {*plots.SB_PLOTS, *plots.MEAS_PLOTS, *plots.CYCLE_PLOTS}
    expected |= {f"sbmodel_{m}_{k}_case1" for m in MODELS for k in plots.MODEL_PLOTS}
    expected |= {"sbmodel_modelComp_luminosity_case1"}
    assert set(seen) == expected
    folder = out / "lumi_followup" / f"fill_{FILL}" / "plots"
    assert all((folder / f"fill_{FILL}_{name}.png").stat().st_size > 0 for name in seen)


def test_every_axis_has_a_quantity_and_unit(rendered) -> None:
    seen, _ = rendered
    for name, fig in seen.items():
        for ax in fig["axes"]:
            for label in (ax["xlabel"], ax["ylabel"]):
                assert label, f"{name}: an axis without a label"
                assert "[" in label or label in UNITLESS, f"{name}: {label!r} has no unit"
                # subscripts are typeset (mathtext), never a literal underscore
                assert "_" not in re.sub(r"\$[^$]*\$", "", label), f"{name}: raw subscript in {label!r}"


def test_legend_entries_are_distinct_and_drawn(rendered) -> None:
    seen, _ = rendered
    for name, fig in seen.items():
        for ax in fig["axes"]:
            styles = [style for _, style in ax["legend"]]
            assert len(set(styles)) == len(styles), f"{name}: two legend entries look the same: {ax['legend']}"
            texts = [t for t, _ in ax["legend"]]
            # proxy entries of the per-slot panel name only marker families that were drawn
            if "colliding" in texts:
                assert "o" in ax["markers"]
            if "non-colliding" in texts:
                assert "x" in ax["markers"]


def test_time_coloured_panels_have_a_colour_bar_in_hours(rendered) -> None:
    seen, _ = rendered
    for name in BBB:
        assert seen[name]["colorbars"] == [plots.HOURS_SB], name
    assert all(not seen[name]["colorbars"] for name in set(seen) - BBB)
    # non-colliding bunches are drawn with × (model plots of the non-colliding family included)
    right = seen["sbmodel_IBSBOff_emittanceNonColliding_case1"]["axes"][1]
    assert right["markers"] == {"x"} and [t for t, _ in right["legend"]] == ["non-colliding"]


def test_lumi_lifetime_plots_minus_the_fitted_tau_and_says_so(rendered) -> None:
    seen, out = rendered
    fits = pd.read_parquet(out / "lumi_followup" / f"fill_{FILL}" / f"fill_{FILL}_fits.parquet")
    atlas = fits[fits.group == "ATLAS"]
    for name, column in (("TotalLumiLifetime", "tau_lumi_meas_full"), ("FitLumiLifetime", "tau_lumi_meas")):
        (ax,) = seen[name]["axes"]
        assert ax["ylabel"] == plots.LUMI_LIFETIME and r"-\tau_L" in ax["ylabel"]
        assert (atlas[column] < 0).all()  # stored: negative for a decay
        drawn = ax["lines"]["ATLAS measured"]
        assert np.allclose(drawn, -atlas[column].to_numpy() / 3600) and (drawn > 0).all()


def test_overview_shows_the_lifetime_positive_and_the_csv_keeps_the_fitted_tau(rendered) -> None:
    _, out = rendered
    result = write_summary(out, "plots-test", [FILL, 6146], {})
    table = pd.read_csv(Path(result["folder"]) / "summary.csv")
    stored = table.set_index("fill")["tau_lumi_meas_ATLAS_full_h"]
    assert stored[FILL] < 0 and np.isnan(stored[6146])  # 6146 not processed in this test
    fig = overview_figure(table)
    try:
        peak, integrated, tau = fig.axes
        assert "[h]" in tau.get_ylabel() and r"-\tau_L" in tau.get_ylabel()
        assert "tau_lumi_meas_ATLAS_full_h" in tau.get_title()  # where the plotted value comes from
        (bar,) = tau.patches  # one bar: the fill with a value
        assert bar.get_height() == pytest.approx(-stored[FILL])
        assert [t.get_text() for t in tau.texts] == ["n/a"]  # the fill without a value says so
        assert [t.get_text() for t in tau.get_xticklabels()] == [str(FILL), "6146"]
        assert "10^{34}" in peak.get_ylabel() and "[pb⁻¹]" in integrated.get_ylabel()
        # the red "failed" colour is not drawn (6146 has no bar), so the legend does not show it
        assert [t.get_text() for t in peak.get_legend().get_texts()] == ["fill ok"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)


def test_overview_of_failed_fills_with_values() -> None:
    table = pd.DataFrame(
        {
            "fill": [1, 2],
            "ok": [True, False],
            "peak_meas_ATLAS_cm2s": [1.5e34, 1.0e34],
            "integrated_meas_ATLAS_pb": [500.0, 100.0],
            "tau_lumi_meas_ATLAS_full_h": [-12.0, -9.0],
        }
    )
    fig = overview_figure(table)
    try:
        peak, _, tau = fig.axes
        assert [p.get_height() for p in tau.patches] == [12.0, 9.0]
        assert [t.get_text() for t in peak.get_legend().get_texts()] == ["fill ok", "fill failed or not processed"]
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
