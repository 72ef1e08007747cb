"""Per-fill plots (spec §10), written atomically to ``fill_<N>/plots/fill_<N>_<name><plotFormat>``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
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


def _bbb(
    cfg: LumiConfig,
    title: str,
    hours: np.ndarray,
    series: list[tuple[str, np.ndarray, np.ndarray, str]],
    ylabel: str,
    ylim: tuple[float, float] | None = None,
):
    """Left: mean ± 1σ vs time; right: value per slot coloured by time (• coll, × non-coll)."""
    plt = _pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=tuple(cfg.fig_tuple))
    cmap = plt.get_cmap("viridis")
    for label, slots, m, color in series:
        if m.size == 0:
            continue
        with np.errstate(invalid="ignore"):
            mean, std = np.nanmean(m, axis=1), np.nanstd(m, axis=1)
        left.plot(hours[: len(mean)], mean, color=color, label=label)
        left.fill_between(hours[: len(mean)], mean - std, mean + std, color=color, alpha=0.25)
        marker = "o" if "non" not in label else "x"
        for i in range(0, m.shape[0], max(1, m.shape[0] // 8) * cfg.n_skip):
            right.plot(slots, m[i], marker, ms=2, color=cmap(i / max(m.shape[0] - 1, 1)))
    left.set_xlabel("Time since SB [h]")
    right.set_xlabel("25 ns slot")
    for ax in (left, right):
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        if ylim:
            ax.set_ylim(*ylim)
    left.legend(loc="best", fontsize=cfg.myfontsize * 0.6)
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
    ax.set(xlabel="Time since SB [h]", ylabel="Half crossing angle [µrad]", title=title)
    ax.legend()
    _save(fig, p.plot("crossingAngle", cfg.plotFormat), cfg)
    for beam in (1, 2):
        c, n = res.beams[beam]["coll"], res.beams[beam]["noncoll"]
        for raw, name in (("", f"b{beam}Emittances"), ("_raw", f"b{beam}RawEmittances")):
            series = [
                ("H coll", c.slots, getattr(c, f"eh{raw}"), "black"),
                ("V coll", c.slots, getattr(c, f"ev{raw}"), "tab:red"),
                ("H noncoll", n.slots, getattr(n, f"eh{raw}"), "grey"),
                ("V noncoll", n.slots, getattr(n, f"ev{raw}"), "salmon"),
            ]
            fig = _bbb(cfg, f"{title} — B{beam}", hours, series, "ε_n [µm]", (0, 5))
            _save(fig, p.plot(name, cfg.plotFormat), cfg)

    def both(attr: str, scale: float) -> list:
        out = []
        for beam, color in ((1, "tab:blue"), (2, "tab:red")):
            for fam, tone in (("coll", color), ("noncoll", "grey")):
                b = res.beams[beam][fam]
                out.append((f"B{beam} {fam}", b.slots, getattr(b, attr) * scale, tone))
        return out

    _save(
        _bbb(cfg, title, hours, both("intensity", 1.0), "Intensity [p/bunch]"),
        p.plot("bunchIntensity", cfg.plotFormat),
        cfg,
    )
    _save(
        _bbb(cfg, title, hours, both("bl_m", 4 / C_LIGHT * 1e9), "4σ bunch length [ns]", (0.8, 1.2)),
        p.plot("bunchLength", cfg.plotFormat), cfg,
    )  # fmt: skip
    _, slots, calc = load_pair_lumi(p.lumi_calc)
    series = [(exp, slots, calc[exp] * M2S_TO_CM2S, col) for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red"))]
    _save(_bbb(cfg, title, hours, series, "L [cm⁻²s⁻¹]"), p.plot("calcLumi", cfg.plotFormat), cfg)
    series = [
        (f"B{b}", res.beams[b]["coll"].slots, res.intensity_lifetime[b] / 3600, col)
        for b, col in ((1, "tab:blue"), (2, "tab:red"))
    ]
    _save(_bbb(cfg, title, hours, series, "τ_N [h]", (15, 50)), p.plot("bbbIntensityTau", cfg.plotFormat), cfg)
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
    series = [(exp, slots, meas[exp] * M2S_TO_CM2S, col) for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red"))]
    _save(_bbb(cfg, title, hours, series, "L [cm⁻²s⁻¹]"), p.plot("measLumi", cfg.plotFormat), cfg)
    fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
    for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red")):
        ax.plot(hours, meas[exp].sum(axis=1) * M2S_TO_CM2S, "o", ms=3, color=col, label=f"{exp} measured")
        ax.plot(hours, calc[exp].sum(axis=1) * M2S_TO_CM2S, "--", color=col, label=f"{exp} calculated")
    ax.set(xlabel="Time since SB [h]", ylabel="Total luminosity [cm⁻²s⁻¹]", title=title)
    ax.legend()
    _save(fig, p.plot("totalLumi", cfg.plotFormat), cfg)
    lt = read_parquet(p.lifetime)
    series_life, series_loss = [], []
    for beam, col in ((1, "tab:blue"), (2, "tab:red")):
        _, s, m = matrices(lt[lt.beam == beam], ["life_time_bbb", "losses_dndtL_bbb"])
        series_life.append((f"B{beam}", s, m["life_time_bbb"] / 3600, col))
        series_loss.append((f"B{beam}", s, m["losses_dndtL_bbb"] * 1e31, col))
    fig = _bbb(cfg, title, hours, series_life, "Burn-off corrected lifetime [h]")
    _save(fig, p.plot("bbbLifetime", cfg.plotFormat), cfg)
    fig = _bbb(cfg, title, hours, series_loss, "σ_eff [mb]", (60, 160))
    for ax in fig.axes:
        ax.axhline(80, color="k", ls=":")
    _save(fig, p.plot("bbbLosses", cfg.plotFormat), cfg)
    fits = read_parquet(p.fits)
    for name, suffix in (("TotalLumiLifetime", "_full"), ("FitLumiLifetime", "")):
        fig, ax = plt.subplots(figsize=tuple(cfg.fig_tuple))
        for exp, col in (("ATLAS", "tab:blue"), ("CMS", "tab:red")):
            f = fits[fits.group == exp]
            ax.plot(f.slot, -f[f"tau_lumi_calc{suffix}"] / 3600, "x", ms=3, color=col, alpha=0.5, label=f"{exp} calc")
            ax.plot(f.slot, -f[f"tau_lumi_meas{suffix}"] / 3600, "o", ms=3, color=col, label=f"{exp} meas")
        ax.set(xlabel="25 ns slot", ylabel="−τ_L [h]", ylim=(5, 30), title=title)
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
    instants = [("Injection", "at_start", "injected"), ("Injection", "at_end", "start ramp"),
                ("he_before_SB", "at_start", "end ramp"), ("he_before_SB", "at_end", "start SB")]  # fmt: skip

    def per_slot(name: str, columns: list[tuple[int, str]], ylabel: str, ylim, scale: float = 1.0) -> None:
        fig, axes = plt.subplots(len(columns), 1, figsize=tuple(cfg.fig_tuple), squeeze=False)
        for ax, (beam, col) in zip(axes[:, 0], columns, strict=True):
            for cycle, point, label in instants:
                d = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == point)]
                ax.plot(
                    d.slot,
                    d[col] * scale,
                    ".",
                    ms=2,
                    label=f"{label} ({np.nanmean(d[col] * scale):.3g} ± {np.nanstd(d[col] * scale):.2g})",
                )
            ax.set(ylabel=f"B{beam} {ylabel}", ylim=ylim)
            ax.legend(fontsize=8, loc="best")
        axes[-1, 0].set_xlabel("25 ns slot")
        fig.suptitle(title)
        _save(fig, p.plot(name, cfg.plotFormat), cfg)

    for beam in (1, 2):
        fig, axes = plt.subplots(2, 1, figsize=tuple(cfg.fig_tuple))
        for ax, col in zip(axes, ("emith", "emitv"), strict=True):
            for cycle, point, label in instants:
                d = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == point)]
                ax.plot(
                    d.slot, d[col], ".", ms=2, label=f"{label} ({np.nanmean(d[col]):.2f} ± {np.nanstd(d[col]):.2f} µm)"
                )
            ax.set(ylabel=f"ε {col[-1].upper()} [µm]", ylim=(0, 6))
            ax.legend(fontsize=8)
        fig.suptitle(f"{title} — B{beam}")
        _save(fig, p.plot(f"cycle_emittancesbbb_b{beam}", cfg.plotFormat), cfg)
    per_slot("cycle_intensitiesbbb", [(1, "intensity"), (2, "intensity")], "N [p]", (0.5e11, 1.7e11))
    per_slot("cycle_brightnessbbb", [(1, "brightness"), (2, "brightness")], "N/ε [p/µm]", None)
    per_slot("cycle_blengthbbb", [(1, "blength"), (2, "blength")], "4σ [ns]", (0.5, 1.5), 1e9)
    fig, axes = plt.subplots(2, 1, figsize=tuple(cfg.fig_tuple))
    for ax, beam in zip(axes, (1, 2), strict=True):
        for cycle, label in (("Injection", "at injection"), ("he_before_SB", "at flat top")):
            a = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_start")].set_index("slot")
            b = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == "at_end")].set_index("slot")
            ax.plot(a.index, (b.time_meas.reindex(a.index) - a.time_meas) / 60, ".", ms=2, label=label)
        ax.set(ylabel=f"B{beam} time [min]")
        ax.legend()
    fig.suptitle(title)
    _save(fig, p.plot("cycle_timebbb", cfg.plotFormat), cfg)
    fig, axes = plt.subplots(4, 2, figsize=tuple(cfg.fig_tuple))
    for j, beam in enumerate((1, 2)):
        for i, (col, rng) in enumerate(
            (("emith", (0, 5)), ("emitv", (0, 5)), ("intensity", None), ("brightness", None))
        ):
            for cycle, point, label in instants:
                d = cyc[(cyc.beam == beam) & (cyc.cycle == cycle) & (cyc.point == point)][col].dropna()
                if len(d):
                    axes[i, j].hist(d, bins=50, range=rng, histtype="step", label=label)
            axes[i, j].set_xlabel(f"B{beam} {col}")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(title)
    _save(fig, p.plot("cycle_histos", cfg.plotFormat), cfg)
    for name, cycle in (("cycle_model_bunchLength_INJ", "Injection"), ("cycle_model_bunchLength_FT", "he_before_SB")):
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
        ax.set(xlabel="25 ns slot", ylabel="Bunch-length slope [ps/h]", title=title)
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
                ax.plot(hours[:-1], lm[exp].sum(axis=1) * M2S_TO_CM2S, "-", color=col, label=f"{exp} {model}")
                if comp:
                    comp[1].plot(hours[:-1], lm[exp].sum(axis=1) * M2S_TO_CM2S, label=f"{exp} {model}")
            ax.set(xlabel="Time since SB [h]", ylabel="L [cm⁻²s⁻¹]", title=f"{title} — {model} case {case.case}")
            ax.legend()
            _save(fig, p.plot(f"sbmodel_{model}_luminosity_case{case.case}", cfg.plotFormat), cfg)
            for fam, label in (("coll", "Colliding"), ("noncoll", "NonColliding")):
                sub = beams[(beams.model == model) & (beams.family == fam)]
                series_e, series_n = [], []
                for beam, col in ((1, "tab:blue"), (2, "tab:red")):
                    b = sub[sub.beam == beam]
                    if len(b) == 0:
                        continue
                    _, s, m = matrices(b, ["eh", "ev", "intensity", "bl_m"])
                    series_e += [(f"B{beam} H model", s, m["eh"], col), (f"B{beam} V model", s, m["ev"], "grey")]
                    series_n += [
                        (f"B{beam} N model", s, m["intensity"] * 1e-11, col),
                        (f"B{beam} 4σ model [ns]", s, m["bl_m"] * 4 / C_LIGHT * 1e9, "grey"),
                    ]
                stem = f"sbmodel_{model}"
                fig = _bbb(cfg, f"{title} — {model}", hours, series_e, "ε_n [µm]", (0, 5))
                _save(fig, p.plot(f"{stem}_emittance{label}_case{case.case}", cfg.plotFormat), cfg)
                fig = _bbb(cfg, f"{title} — {model}", hours, series_n, "N [1e11] / 4σ [ns]")
                _save(fig, p.plot(f"{stem}_intens_blength_{label}_case{case.case}", cfg.plotFormat), cfg)
                count += 2
            count += 1
        if comp:
            comp[1].set(xlabel="Time since SB [h]", ylabel="L [cm⁻²s⁻¹]", title=title)
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
