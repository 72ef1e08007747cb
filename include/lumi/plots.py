"""Per-fill plots (spec §10), written atomically to ``fill_<N>/plots/fill_<N>_<name><plotFormat>``.

Every axis names its quantity and unit; every legend entry is something drawn, and two entries
never share a line style; the bunch-by-bunch plots' right panel, coloured by time, has a colour
bar in hours since stable beams. The luminosity-lifetime plots show −τ_L (the fitted τ of
L = a·exp(t/τ) is negative for a decay, spec §7.6), as the legacy tool did, and say so on the axis.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple
from zoneinfo import ZoneInfo

import numpy as np

from include.core import atomic
from include.core.steps import UnitContext
from include.lumi import steps as st
from include.lumi.config import LumiConfig
from include.lumi.constants import C_LIGHT, M2S_TO_CM2S, TIMEZONE
from include.lumi.products import load_pair_lumi, load_sb
from include.lumi.tables import matrices, read_json, read_parquet

SB_PLOTS = (
    "crossingAngle", "b1Emittances", "b2Emittances", "b1RawEmittances", "b2RawEmittances",
    "bunchIntensity", "bunchLength", "calcLumi", "bbbIntensityTau",
)  # fmt: skip
MEAS_PLOTS = ("measLumi", "totalLumi", "bbbLifetime", "bbbLosses", "TotalLumiLifetime", "FitLumiLifetime")
CYCLE_PLOTS = (
    "cycle_emittancesbbb_b1", "cycle_emittancesbbb_b2", "cycle_intensitiesbbb", "cycle_brightnessbbb",
    "cycle_blengthbbb", "cycle_timebbb", "cycle_histos", "cycle_model_bunchLength_INJ", "cycle_model_bunchLength_FT",
)  # fmt: skip
MODEL_PLOTS = (
    "luminosity", "emittanceColliding", "emittanceNonColliding", "intens_blength_Colliding",
    "intens_blength_NonColliding",
)  # fmt: skip

HOURS_SB = "Time since SB [h]"
SLOT = "25 ns slot"
EMIT = r"$\varepsilon_\mathrm{n}$ [µm]"
EMIT_H = r"$\varepsilon_\mathrm{n,H}$ [µm]"
EMIT_V = r"$\varepsilon_\mathrm{n,V}$ [µm]"
BUNCH_LUMI = "Bunch luminosity [cm⁻²s⁻¹]"
TOTAL_LUMI = "Total luminosity [cm⁻²s⁻¹]"
LUMI_LIFETIME = r"Luminosity lifetime $-\tau_L$ [h]"


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _files(ctx: UnitContext, names: tuple[str, ...] | list[str]) -> list[Path]:
    cfg, p = st.config_of(ctx), st.products_of(ctx)
    return [p.plot(n, cfg.plotFormat) for n in names]


def sb_plot_files(ctx: UnitContext) -> list[Path]:
    return _files(ctx, SB_PLOTS)


def meas_plot_files(ctx: UnitContext) -> list[Path]:
    return _files(ctx, MEAS_PLOTS)


def cycle_plot_files(ctx: UnitContext) -> list[Path]:
    return _files(ctx, CYCLE_PLOTS)


def model_plot_names(cfg: LumiConfig) -> list[str]:
    names = [f"sbmodel_{m}_{kind}_case{c.case}" for c in cfg.cases for m in cfg.models for kind in MODEL_PLOTS]
    if len(cfg.models) > 1:
        names += [f"sbmodel_modelComp_luminosity_case{c.case}" for c in cfg.cases]
    return names


def model_plot_files(ctx: UnitContext) -> list[Path]:
    return _files(ctx, model_plot_names(st.config_of(ctx)))


def _save(fig, path: Path, cfg: LumiConfig) -> None:
    with atomic.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=cfg.plotDpi, format=cfg.plotFormat.lstrip("."))
    _pyplot().close(fig)


def _sb_title(fill: int, t0: float) -> str:
    local = datetime.fromtimestamp(t0, UTC).astimezone(ZoneInfo(TIMEZONE))
    return f"Fill {fill}: STABLE BEAMS declared on {local:%Y-%m-%d %H:%M}"


class Series(NamedTuple):
    """One bunch-by-bunch quantity: ``values`` is time × bunch (columns in ``slots`` order)."""

    label: str
    slots: np.ndarray
    values: np.ndarray
    color: str
    ls: str = "-"
    colliding: bool = True


def _bbb(
    cfg: LumiConfig,
    title: str,
    hours: np.ndarray,
    series: list[Series],
    ylabel: str,
    ylim: tuple[float, float] | None = None,
    reference: tuple[float, str] | None = None,
):
    """Left: mean ± 1σ over bunches vs time; right: value per slot coloured by time (• coll,
    × non-coll) with a colour bar in hours since SB. ``reference`` = (value, label) draws a
    labelled horizontal line on both panels."""
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.lines import Line2D

    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=tuple(cfg.fig_tuple))
    cmap = plt.get_cmap("viridis")
    norm = Normalize(float(np.nanmin(hours)), float(np.nanmax(hours))) if len(hours) else Normalize(0, 1)
    families: set[bool] = set()
    for s in series:
        m = s.values
        if m.size == 0:
            continue
        with np.errstate(invalid="ignore"):
            mean, std = np.nanmean(m, axis=1), np.nanstd(m, axis=1)
        left.plot(hours[: len(mean)], mean, color=s.color, ls=s.ls, label=s.label)
        left.fill_between(hours[: len(mean)], mean - std, mean + std, color=s.color, alpha=0.25)
        families.add(s.colliding)
        marker = "o" if s.colliding else "x"
        for i in range(0, m.shape[0], max(1, m.shape[0] // 8) * cfg.n_skip):
            right.plot(s.slots, m[i], marker, ms=2, color=cmap(norm(hours[i])))
    if reference is not None:
        for ax in (left, right):
            ax.axhline(reference[0], color="k", ls=":", label=reference[1])
    left.set_xlabel(HOURS_SB)
    right.set_xlabel(SLOT)
    for ax in (left, right):
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ylim:
            ax.set_ylim(*ylim)
    small = cfg.myfontsize * 0.6
    left.legend(loc="best", fontsize=small, title="mean ± 1σ over bunches", title_fontsize=small)
    markers = [(True, "o", "colliding"), (False, "x", "non-colliding")]
    handles = [
        Line2D([], [], ls="none", marker=mk, color="grey", label=lab) for fam, mk, lab in markers if fam in families
    ]
    if reference is not None:
        handles.append(Line2D([], [], color="k", ls=":", label=reference[1]))
    if handles:
        right.legend(handles=handles, loc="best", fontsize=small)
    fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=right, label=HOURS_SB)
    fig.suptitle(title, fontsize=cfg.myfontsize)
    return fig


def run_sb_plots(ctx: UnitContext) -> dict[str, int]:
    """SB performance plots that need sb + lumi."""
    cfg, p = st.config_of(ctx), st.products_of(ctx)
    res, meta = load_sb(p)
    t0 = float(meta["record"]["t_start_STABLE"])
    hours = (res.time - t0) / 3600
    title = _sb_title(p.fill, t0)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
    ax.step(hours, res.xing[1] / 2 * 1e6, where="post", label="IP1 (ATLAS)")
    ax.step(hours, res.xing[5] / 2 * 1e6, where="post", label="IP5 (CMS)", ls="--")
    ax.set(xlabel=HOURS_SB, ylabel="Half crossing angle [µrad]", title=title)
    ax.legend()
    _save(fig, p.plot("crossingAngle", cfg.plotFormat), cfg)
    for beam in (1, 2):
        c, n = res.beams[beam]["coll"], res.beams[beam]["noncoll"]
        for raw, name in (("", f"b{beam}Emittances"), ("_raw", f"b{beam}RawEmittances")):
            series = [
                Series("H coll", c.slots, getattr(c, f"eh{raw}"), "black"),
                Series("V coll", c.slots, getattr(c, f"ev{raw}"), "tab:red"),
                Series("H noncoll", n.slots, getattr(n, f"eh{raw}"), "grey", "--", colliding=False),
                Series("V noncoll", n.slots, getattr(n, f"ev{raw}"), "salmon", "--", colliding=False),
            ]
            fig = _bbb(cfg, f"{title} — B{beam}", hours, series, EMIT, (0, 5))
            _save(fig, p.plot(name, cfg.plotFormat), cfg)

    def both(attr: str, scale: float) -> list[Series]:
        out = []
        for beam, color, pale in ((1, "tab:blue", "lightsteelblue"), (2, "tab:red", "lightsalmon")):
            for fam, tone, ls in (("coll", color, "-"), ("noncoll", pale, "--")):
                b = res.beams[beam][fam]
                out.append(Series(f"B{beam} {fam}", b.slots, getattr(b, attr) * scale, tone, ls, fam == "coll"))
        return out

    _save(
        _bbb(cfg, title, hours, both("intensity", 1.0), "Bunch intensity [p]"),
        p.plot("bunchIntensity", cfg.plotFormat),
        cfg,
    )
    _save(
        _bbb(cfg, title, hours, both("bl_m", 4 / C_LIGHT * 1e9), "4σ bunch length [ns]", (0.8, 1.2)),
        p.plot("bunchLength", cfg.plotFormat), cfg,
    )  # fmt: skip
    _, slots, calc = load_pair_lumi(p.lumi_calc)
    series = [
        Series(f"{exp} calculated", slots, calc[exp] * M2S_TO_CM2S, col, ls)
        for exp, col, ls in (("ATLAS", "tab:blue", "-"), ("CMS", "tab:red", "--"))
    ]
    _save(_bbb(cfg, title, hours, series, BUNCH_LUMI), p.plot("calcLumi", cfg.plotFormat), cfg)
    series = [
        Series(f"B{b} coll", res.beams[b]["coll"].slots, res.intensity_lifetime[b] / 3600, col)
        for b, col in ((1, "tab:blue"), (2, "tab:red"))
    ]
    ylabel = r"Intensity lifetime $\tau_N$ [h]"
    _save(_bbb(cfg, title, hours, series, ylabel, (15, 50)), p.plot("bbbIntensityTau", cfg.plotFormat), cfg)
    return {"plots": len(SB_PLOTS)}


def run_meas_plots(ctx: UnitContext) -> dict[str, int]:
    """Plots that need massi, lifetime and fits."""
    cfg, p = st.config_of(ctx), st.products_of(ctx)
    res, meta = load_sb(p)
    t0 = float(meta["record"]["t_start_STABLE"])
    hours = (res.time - t0) / 3600
    title = _sb_title(p.fill, t0)
    plt = _pyplot()
    _, slots, meas = load_pair_lumi(p.lumi_meas)
    _, _, calc = load_pair_lumi(p.lumi_calc)
    series = [
        Series(f"{exp} measured", slots, meas[exp] * M2S_TO_CM2S, col, ls)
        for exp, col, ls in (("ATLAS", "tab:blue", "-"), ("CMS", "tab:red", "--"))
    ]
    _save(_bbb(cfg, title, hours, series, BUNCH_LUMI), p.plot("measLumi", cfg.plotFormat), cfg)
    fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
    for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red")):
        ax.plot(hours, meas[exp].sum(axis=1) * M2S_TO_CM2S, "o", ms=3, color=col, label=f"{exp} measured")
        ax.plot(hours, calc[exp].sum(axis=1) * M2S_TO_CM2S, "--", color=col, label=f"{exp} calculated")
    ax.set(xlabel=HOURS_SB, ylabel=TOTAL_LUMI, title=title)
    ax.legend()
    _save(fig, p.plot("totalLumi", cfg.plotFormat), cfg)
    lt = read_parquet(p.lifetime)
    series_life, series_loss = [], []
    for beam, col in ((1, "tab:blue"), (2, "tab:red")):
        _, s, m = matrices(lt[lt.beam == beam], ["life_time_bbb", "losses_dndtL_bbb"])
        series_life.append(Series(f"B{beam} coll", s, m["life_time_bbb"] / 3600, col))
        series_loss.append(Series(f"B{beam} coll", s, m["losses_dndtL_bbb"] * 1e31, col))
    fig = _bbb(cfg, title, hours, series_life, "Burn-off corrected lifetime [h]")
    _save(fig, p.plot("bbbLifetime", cfg.plotFormat), cfg)
    burn_off = (80.0, r"$\sigma_\mathrm{BO}$ = 80 mb")
    fig = _bbb(cfg, title, hours, series_loss, r"$\sigma_\mathrm{eff}$ [mb]", (60, 160), reference=burn_off)
    _save(fig, p.plot("bbbLosses", cfg.plotFormat), cfg)
    fits = read_parquet(p.fits)
    windows = (
        ("TotalLumiLifetime", "_full", "fit over the full SB"),
        ("FitLumiLifetime", "", f"fit over the first {cfg.t_fit_length / 3600:g} h of SB"),
    )
    for name, suffix, window in windows:
        fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
        for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red")):
            f = fits[fits.group == exp]
            # the fitted τ is negative for a decaying luminosity: −τ is the (positive) lifetime
            tau_calc, tau_meas = -f[f"tau_lumi_calc{suffix}"] / 3600, -f[f"tau_lumi_meas{suffix}"] / 3600
            ax.plot(f.slot, tau_calc, "x", ms=3, color=col, alpha=0.5, label=f"{exp} calculated")
            ax.plot(f.slot, tau_meas, "o", ms=3, color=col, label=f"{exp} measured")
        ax.set(xlabel=SLOT, ylabel=LUMI_LIFETIME, ylim=(5, 30), title=f"{title} — {window}")
        ax.legend()
        _save(fig, p.plot(name, cfg.plotFormat), cfg)
    return {"plots": len(MEAS_PLOTS)}


def run_cycle_plots(ctx: UnitContext) -> dict[str, int]:
    """Injection / flat-top bunch-by-bunch plots and the cycle-model comparison."""
    cfg, p = st.config_of(ctx), st.products_of(ctx)
    cyc = read_parquet(p.cycle)
    model = read_parquet(p.cycle_model)
    rec = read_json(p.cycle_json)
    start = min(v["t_start"] for v in rec["intervals"].values())
    local = datetime.fromtimestamp(start, UTC).astimezone(ZoneInfo(TIMEZONE))
    title = f"Fill {p.fill} : Started on {local:%Y-%m-%d %H:%M}"
    plt = _pyplot()
    # (interval, point, legend, colour): one fixed colour per instant in every panel
    instants = [("Injection", "at_start", "injected", "tab:blue"), ("Injection", "at_end", "start ramp", "tab:orange"),
                ("he_before_SB", "at_start", "end ramp", "tab:green"),
                ("he_before_SB", "at_end", "start SB", "tab:red")]  # fmt: skip
    brightness = r"$N/\sqrt{\varepsilon_H\varepsilon_V}$ [p/µm]"

    def per_slot(name: str, panels: list[tuple[int, str, str]], ylim, scale: float = 1.0, unit: str = "") -> None:
        """One panel per (beam, column, axis label): the value per slot at the four instants."""
        fig, axes = plt.subplots(len(panels), 1, figsize=tuple(cfg.fig_tuple), squeeze=False, sharex=True)
        for ax, (beam, col, ylabel) in zip(axes[:, 0], panels, strict=True):
            for cycle, point, label, color in instants:
                d = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == point)]
                v = d[col] * scale
                if not v.notna().any():
                    continue  # no sample at this instant: nothing drawn, no legend entry
                stats = f"{np.nanmean(v):.3g} ± {np.nanstd(v):.2g}{unit}"
                ax.plot(d.slot, v, ".", ms=2, color=color, label=f"{label} ({stats})")
            ax.set(ylabel=f"B{beam} {ylabel}", ylim=ylim)
            ax.legend(fontsize=8, loc="best", title="mean ± 1σ over bunches", title_fontsize=8)
        axes[-1, 0].set_xlabel(SLOT)
        fig.suptitle(title)
        _save(fig, p.plot(name, cfg.plotFormat), cfg)

    for beam in (1, 2):
        panels = [(beam, "emith", EMIT_H), (beam, "emitv", EMIT_V)]
        per_slot(f"cycle_emittancesbbb_b{beam}", panels, (0, 6), unit=" µm")
    intensity, blength = "bunch intensity [p]", "4σ bunch length [ns]"
    per_slot("cycle_intensitiesbbb", [(1, "intensity", intensity), (2, "intensity", intensity)], (0.5e11, 1.7e11))
    per_slot("cycle_brightnessbbb", [(1, "brightness", brightness), (2, "brightness", brightness)], None)
    per_slot("cycle_blengthbbb", [(1, "blength", blength), (2, "blength", blength)], (0.5, 1.5), 1e9, " ns")
    fig, axes = plt.subplots(2, 1, figsize=tuple(cfg.fig_tuple), sharex=True)
    for ax, beam in zip(axes, (1, 2), strict=True):
        for cycle, label in (("Injection", "at injection"), ("he_before_SB", "at flat top")):
            a = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_start")].set_index("slot")
            b = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_end")].set_index("slot")
            ax.plot(a.index, (b.time_meas.reindex(a.index) - a.time_meas) / 60, ".", ms=2, label=label)
        ax.set(ylabel=f"B{beam} time spent [min]")
        ax.legend(title="first to last BSRT sample", title_fontsize=8, fontsize=8)
    axes[-1].set_xlabel(SLOT)
    fig.suptitle(title)
    _save(fig, p.plot("cycle_timebbb", cfg.plotFormat), cfg)
    fig, axes = plt.subplots(4, 2, figsize=tuple(cfg.fig_tuple), layout="constrained")
    quantities = (
        ("emith", (0, 5), EMIT_H),
        ("emitv", (0, 5), EMIT_V),
        ("intensity", None, intensity),
        ("brightness", None, brightness),
    )
    for j, beam in enumerate((1, 2)):
        for i, (col, rng, xlabel) in enumerate(quantities):
            for cycle, point, label, color in instants:
                d = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == point)][col].dropna()
                if len(d):
                    axes[i, j].hist(d, bins=50, range=rng, histtype="step", color=color, label=label)
            axes[i, j].set_xlabel(f"B{beam} {xlabel}")
            axes[i, j].set_ylabel("bunches")
            axes[i, j].legend(fontsize=6)
    fig.suptitle(title)
    _save(fig, p.plot("cycle_histos", cfg.plotFormat), cfg)
    for name, cycle, where in (
        ("cycle_model_bunchLength_INJ", "Injection", "at injection"),
        ("cycle_model_bunchLength_FT", "he_before_SB", "at flat top"),
    ):
        fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
        for beam, col in ((1, "tab:blue"), (2, "tab:red")):
            a = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_start")].set_index("slot")
            b = (
                cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_end")]
                .set_index("slot")
                .reindex(a.index)
            )
            m = model[(model.beam == beam) & (model.cycle == cycle)].set_index("slot").reindex(a.index)
            hours = (b.time_meas - a.time_meas) / 3600
            with np.errstate(invalid="ignore", divide="ignore"):
                ax.plot(
                    a.index, (b.blength - a.blength) * 1e12 / hours, "o", ms=2, color=col, label=f"B{beam} measured"
                )
                ax.plot(
                    a.index,
                    (m.blength - a.blength) * 1e12 / hours,
                    "x",
                    ms=2,
                    color=col,
                    alpha=0.5,
                    label=f"B{beam} model",
                )
        ax.set(xlabel=SLOT, ylabel="4σ bunch-length slope [ps/h]", title=f"{title} — {where}")
        ax.legend()
        _save(fig, p.plot(name, cfg.plotFormat), cfg)
    return {"plots": len(CYCLE_PLOTS)}


def run_model_plots(ctx: UnitContext) -> dict[str, int]:
    """SB-model plots per case and model, and the model comparison."""
    cfg, p = st.config_of(ctx), st.products_of(ctx)
    res, meta = load_sb(p)
    t0 = float(meta["record"]["t_start_STABLE"])
    hours = (res.time - t0) / 3600
    title = _sb_title(p.fill, t0)
    plt = _pyplot()
    _, _, meas = load_pair_lumi(p.lumi_meas)
    count = 0
    for case in cfg.cases:
        beams = read_parquet(p.model_beams(case.case))
        lumi = read_parquet(p.model_lumi(case.case))
        comp = plt.subplots(figsize=tuple(cfg.fig_tuple)) if len(cfg.models) > 1 else None
        for model in cfg.models:
            ml = lumi[lumi.model == model]
            _, _, lm = matrices(ml, ["ATLAS", "CMS"])
            fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
            for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red")):
                ax.plot(hours, meas[exp].sum(axis=1) * M2S_TO_CM2S, "o", ms=3, color=col, label=f"{exp} measured")
                ax.plot(hours[:-1], lm[exp].sum(axis=1) * M2S_TO_CM2S, "-", color=col, label=f"{exp} model {model}")
                if comp:
                    comp[1].plot(hours[:-1], lm[exp].sum(axis=1) * M2S_TO_CM2S, label=f"{exp} model {model}")
            ax.set(xlabel=HOURS_SB, ylabel=TOTAL_LUMI, title=f"{title} — {model} case {case.case}")
            ax.legend()
            _save(fig, p.plot(f"sbmodel_{model}_luminosity_case{case.case}", cfg.plotFormat), cfg)
            for fam, label, bunches in (
                ("coll", "Colliding", "colliding"),
                ("noncoll", "NonColliding", "non-colliding"),
            ):
                sub = beams[(beams.model == model) & (beams.family == fam)]
                series_e, series_n = [], []
                coll = fam == "coll"
                for beam, col, pale in ((1, "tab:blue", "lightsteelblue"), (2, "tab:red", "lightsalmon")):
                    b = sub[sub.beam == beam]
                    if len(b) == 0:
                        continue
                    _, s, m = matrices(b, ["eh", "ev", "intensity", "bl_m"])
                    series_e += [
                        Series(f"B{beam} H model", s, m["eh"], col, "-", coll),
                        Series(f"B{beam} V model", s, m["ev"], pale, "--", coll),
                    ]
                    series_n += [
                        Series(f"B{beam} N model [1e11 p]", s, m["intensity"] * 1e-11, col, "-", coll),
                        Series(f"B{beam} 4σ model [ns]", s, m["bl_m"] * 4 / C_LIGHT * 1e9, pale, "--", coll),
                    ]
                stem, sub_title = f"sbmodel_{model}", f"{title} — {model}, {bunches} bunches"
                fig = _bbb(cfg, sub_title, hours, series_e, EMIT, (0, 5))
                _save(fig, p.plot(f"{stem}_emittance{label}_case{case.case}", cfg.plotFormat), cfg)
                fig = _bbb(cfg, sub_title, hours, series_n, r"$N$ [$10^{11}$ p]; 4σ bunch length [ns]")
                _save(fig, p.plot(f"{stem}_intens_blength_{label}_case{case.case}", cfg.plotFormat), cfg)
                count += 2
            count += 1
        if comp:
            comp[1].set(xlabel=HOURS_SB, ylabel=TOTAL_LUMI, title=f"{title} — case {case.case}")
            comp[1].legend()
            _save(comp[0], p.plot(f"sbmodel_modelComp_luminosity_case{case.case}", cfg.plotFormat), cfg)
            count += 1
    return {"plots": count}


PLOT_RUNNERS: dict[str, Callable[[UnitContext], dict[str, int]]] = {
    "plots_sb": run_sb_plots,
    "plots_meas": run_meas_plots,
    "plots_cycle": run_cycle_plots,
    "plots_model": run_model_plots,
}
