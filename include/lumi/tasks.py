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
from include.core.errors import ConfigError, ParamError, ProductionError, is_permanent
from include.core.paths import resolve_inside, unit_dir
from include.core.steps import Step, StepGraph, UnitContext, unit_lock
from include.lumi import PRODUCTION
from include.lumi import plots as plot_steps
from include.lumi import steps as st
from include.lumi.config import YEARS, LumiConfig
from include.lumi.form import DEFAULT_YEAR
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
    """``{"year": Y, **overrides}`` from a year, a mapping, or None (the form's default year)."""
    if config is None:
        return {"year": DEFAULT_YEAR}
    if isinstance(config, int):
        data: dict[str, Any] = {"year": config}
    else:
        data = dict(config)
    year = data.get("year", DEFAULT_YEAR)
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
    only: list[str] | None = None,
    run_id: str | None = None,
) -> dict[str, Any]:
    """Run every stale or forced step of one fill; return (and store) the JSON report.

    ``only`` runs some steps (one orchestrator task per step); their parents are judged from the
    products on disk. Reports of calls sharing a ``run_id`` are merged in ``report.json``.
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
    with unit_lock(ctx.workdir):  # one hold for the steps and the report (step tasks may finish together)
        return _run_and_report(ctx, cfg, force, only, run_id, t0)


def _run_and_report(
    ctx: UnitContext, cfg: LumiConfig, force: str, only: list[str] | None, run_id: str | None, t0: float
) -> dict[str, Any]:
    fill = int(ctx.params["fill"])
    unit = GRAPH.run_unit(ctx, force, only=only, raise_on_failure=False)
    inputs = st.inputs_of(ctx)
    report = unit.to_dict()
    report.update(
        fill=fill,
        year=cfg.year,
        run_id=run_id,
        workdir=str(ctx.workdir),
        skip_massi=not inputs.has_massi(),
        missing_massi=[str(p) for p in inputs.massi_archives().values() if not p.is_file()],
        seconds=round(time.monotonic() - t0, 2),
    )
    report = json.loads(json.dumps(report, default=str))
    path = ctx.workdir / "report.json"
    if only is not None and run_id is not None:
        report = _merged(path, report)
    report["ran"] = [s["step"] for s in report["steps"] if s["state"] == "ran"]
    report["ok"] = not any(s["state"] == "failed" for s in report["steps"])
    atomic.write_json(path, report)
    return report


def _merged(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """``report`` merged into the stored report of the same run (steps replaced by name)."""
    try:
        stored = json.loads(path.read_text())
    except (OSError, ValueError):
        return report
    if stored.get("run_id") != report["run_id"]:
        return report
    steps = {s["step"]: s for s in stored.get("steps", [])} | {s["step"]: s for s in report["steps"]}
    return {
        **report,
        "steps": [steps[name] for name in GRAPH.order if name in steps],
        "seconds": round(stored.get("seconds", 0) + report["seconds"], 2),
    }


def process_fill_steps(fill: int, **kwargs: Any) -> dict[str, Any]:
    """``process_fill`` for orchestrators: a refused fill or input becomes a report, not an exception.

    One fill of a batch (one HTCondor cluster) must not take the others down with it.
    """
    try:
        return process_fill(fill, **kwargs)
    except ProductionError as exc:
        return {
            "fill": fill,
            "ok": False,
            "steps": [],
            "ran": [],
            "error": f"{type(exc).__name__}: {exc}",
            "permanent": is_permanent(exc),
        }


def process_fills_steps(fills: list[int], **kwargs: Any) -> list[dict[str, Any]]:
    """:func:`process_fill_steps` for each fill of a chunk, in order (one HTCondor job per chunk)."""
    return [process_fill_steps(int(fill), **kwargs) for fill in fills]
