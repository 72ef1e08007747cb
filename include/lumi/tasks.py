"""The step graph of the luminosity follow-up and ``process_fill``, the unit of work.

``process_fill`` runs from a terminal (``python -m include.lumi``), in an Airflow worker, or as a
``TaskCall("include.lumi.tasks:process_fill", {...})`` on the condor backend.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.errors import ConfigError, ParamError
from include.core.paths import resolve_inside, unit_dir
from include.core.steps import Step, StepGraph, UnitContext
from include.lumi import PRODUCTION
from include.lumi import plots as plot_steps
from include.lumi import steps as st
from include.lumi.config import YEARS, LumiConfig
from include.lumi.graph import REQUIRES
from include.lumi.inputs import fill_times
from include.settings import load_settings

SB_KEYS = ("t_step_sec", "intensity_threshold", "avg_time_smoothing", "enable_smoothing_BSRT", "t_fit_length")
MASSI_KEYS = ("massi_year", "massi_afs_path", "massi_exp_folders", "massi_bunch_lumi_scale")
MODEL_KEYS = (
    "models", "cases", "gammaFT", "tauSRxy_FT_h", "sigmaBOff_m2", "sigma_el_m2", "VRF_FT", "t_step_sec",
    "leveling_by_fill", "empirical_mode", "frev",
)  # fmt: skip
PLOT_KEYS = ("plotFormat", "plotDpi", "fig_tuple", "myfontsize", "n_skip", "models", "cases")


def _picker(*keys: str, calibration: bool = False, record: bool = False) -> Callable[[UnitContext], dict]:
    """Parameters of a step: the named configuration keys (plus fill-specific lookups)."""

    def pick(ctx: UnitContext) -> dict[str, Any]:
        cfg = st.config_of(ctx)
        fill = int(ctx.params["fill"])
        data = cfg.to_dict()
        out: dict[str, Any] = {k: data[k] for k in keys}
        if calibration:
            out["bsrt_calibration"] = cfg.calibration(fill)
            out["xing_angle"] = cfg.xing_angle(fill)
            out["betastar"] = cfg.betastar(fill)
        if record:
            out["record"] = ctx.params["record"]
        return out

    return pick


def _massi_params(ctx: UnitContext) -> dict[str, Any]:
    """Massi settings plus the archive mtimes: a re-published archive (new mtime) re-runs massi."""
    out = _picker(*MASSI_KEYS)(ctx)
    archives = st.inputs_of(ctx).massi_archives()
    out["archive_mtimes"] = {exp: int(p.stat().st_mtime) if p.exists() else None for exp, p in archives.items()}
    return out


def _csv_inputs(ctx: UnitContext) -> list[Path]:
    return st.inputs_of(ctx).csv_inputs()


def _has_massi(ctx: UnitContext) -> bool:
    return st.inputs_of(ctx).has_massi()


def _outputs(*names: str) -> Callable[[UnitContext], list[Path]]:
    return lambda ctx: [getattr(st.products_of(ctx), n) for n in names]


def _flag(name: str) -> Callable[[UnitContext], bool]:
    return lambda ctx: bool(getattr(st.config_of(ctx), name))


def build_graph() -> StepGraph:
    """sb, cycle -> cycle_model; sb -> lumi; sb -> massi (+ both archives) -> lifetime, fits, model; plots."""
    steps = [
        Step("sb", st.run_sb, _outputs("sb", "sb_fits", "sb_json"), inputs=_csv_inputs,
             params=_picker(*SB_KEYS, calibration=True, record=True)),
        Step("cycle", st.run_cycle, _outputs("cycle", "cycle_json"), inputs=_csv_inputs,
             params=_picker(calibration=True, record=True)),
        Step("cycle_model", st.run_cycle_model, _outputs("cycle_model", "cycle_model_inj2sb"),
             requires=REQUIRES["cycle_model"],
             params=_picker("gammaFB", "gammaFT", "VRF_FB", "VRF_FT")),
        Step("lumi", st.run_lumi, _outputs("lumi_calc", "lumi_calc_json"), requires=REQUIRES["lumi"],
             params=_picker("gammaFT", "frev")),
        Step("massi", st.run_massi, _outputs("lumi_meas", "lumi_meas_json"), requires=REQUIRES["massi"],
             inputs=st.massi_inputs, params=_massi_params, enabled=_has_massi, backup_on_rerun=True),
        Step("lifetime", st.run_lifetime, _outputs("lifetime", "lifetime_json"), requires=REQUIRES["lifetime"],
             params=_picker("sigmaBOff_m2"), backup_on_rerun=True),
        Step("fits", st.run_fits, _outputs("fits", "fits_json"), requires=REQUIRES["fits"],
             params=_picker("t_fit_length"), backup_on_rerun=True),
        Step("model", st.run_model_step, st.model_outputs, requires=REQUIRES["model"],
             params=_picker(*MODEL_KEYS), enabled=lambda ctx: bool(ctx.params.get("model_enabled")),
             backup_on_rerun=True),
        Step("plots_cycle", plot_steps.run_cycle_plots, plot_steps.cycle_plot_files, requires=REQUIRES["plots_cycle"],
             params=_picker(*PLOT_KEYS), enabled=_flag("doCyclePlots")),
        Step("plots_sb", plot_steps.run_sb_plots, plot_steps.sb_plot_files, requires=REQUIRES["plots_sb"],
             params=_picker(*PLOT_KEYS), enabled=_flag("doSBPlots")),
        Step("plots_meas", plot_steps.run_meas_plots, plot_steps.meas_plot_files,
             requires=REQUIRES["plots_meas"], params=_picker(*PLOT_KEYS),
             enabled=_flag("doSBPlots"), backup_on_rerun=True),
        Step("plots_model", plot_steps.run_model_plots, plot_steps.model_plot_files, requires=REQUIRES["plots_model"],
             params=_picker(*PLOT_KEYS), enabled=_flag("doSBModelPlots"), backup_on_rerun=True),
    ]  # fmt: skip
    graph = StepGraph(PRODUCTION, steps)
    if {s.name: s.requires for s in steps} != REQUIRES:
        raise ConfigError("include.lumi.tasks.build_graph and include.lumi.graph.REQUIRES disagree")
    return graph


GRAPH = build_graph()
FORCE_CHOICES = GRAPH.force_choices


def config_dict(config: int | Mapping[str, Any] | None) -> dict[str, Any]:
    """``{"year": Y, **overrides}`` from a year, a mapping, or None (2017)."""
    if config is None:
        return {"year": 2017}
    if isinstance(config, int):
        data: dict[str, Any] = {"year": config}
    else:
        data = dict(config)
    year = data.get("year", 2017)
    if year not in YEARS:
        raise ParamError("year", f"{year!r} is not one of {YEARS}")
    return data


def fill_context(
    fill: int, data_root: Path, output_root: Path, config: dict[str, Any], force: str, backend: str
) -> tuple[UnitContext, LumiConfig]:
    """The unit context of one fill (reads its beam-mode record)."""
    ctx = UnitContext(PRODUCTION, f"fill_{fill}", unit_dir(output_root, PRODUCTION, f"fill_{fill}"), backend=backend)
    ctx.params = {
        "fill": fill,
        "config": config,
        "data_root": str(data_root),
        "output_root": str(output_root),
    }
    cfg = st.config_of(ctx)
    rec = fill_times(data_root / "lumi" / cfg.data_folder, cfg.year, fill)
    if rec["t_start_STABLE"] <= 0 or rec["t_stop_STABLE"] - rec["t_start_STABLE"] < cfg.min_time_SB:
        raise ParamError("fills", f"fill {fill} has no stable beams of at least {cfg.min_time_SB:g} s")
    ctx.params["record"] = rec
    ctx.params["model_enabled"] = cfg.doSBModel or "model" in GRAPH.forced(force)
    return ctx, cfg


def process_fill(
    fill: int,
    data_root: str | None = None,
    output_root: str | None = None,
    config: int | dict[str, Any] | None = None,
    force: str = "none",
    backend: str = "local",
) -> dict[str, Any]:
    """Run every stale or forced step of one fill; return (and store) the JSON report.

    A failed step does not raise here: the report says ``ok: false`` and names the step and
    error; callers (the DAG task, the CLI) turn that into a failure.
    """
    if not isinstance(fill, int) or fill <= 0:
        raise ParamError("fills", f"{fill!r} is not a positive fill number")
    settings = load_settings()
    data = resolve_inside(data_root or settings.data_root, [settings.data_root], "data_root")
    out = resolve_inside(output_root or settings.output_root, [settings.output_root], "output_root")
    if force not in FORCE_CHOICES:
        raise ParamError("force", f"{force!r} is not one of {', '.join(FORCE_CHOICES)}")
    t0 = time.monotonic()
    ctx, cfg = fill_context(fill, data, out, config_dict(config), force, backend)
    unit = GRAPH.run_unit(ctx, force, raise_on_failure=False)
    report = unit.to_dict()
    report.update(
        fill=fill,
        year=cfg.year,
        workdir=str(ctx.workdir),
        skip_massi=not st.inputs_of(ctx).has_massi(),
        seconds=round(time.monotonic() - t0, 2),
        ran=unit.ran,
    )
    report = json.loads(json.dumps(report, default=str))
    atomic.write_json(ctx.workdir / "report.json", report)
    return report
