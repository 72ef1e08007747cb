"""Per-year configuration (spec §6): YAML files under ``include/lumi/config``, validated on load."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from include.core.errors import ConfigError

YEARS = (2016, 2017, 2018)
MODELS = ("EmpiricalBlowupLosses", "EmpiricalBlowupBOff", "IBSBOff", "IBSLosses", "EmpiricalblengthLosses")
CALIBRATION_KEYS = (
    "betaf_h",
    "betaf_v",
    "sigma_corr_h",
    "sigma_corr_v",
    "rescale_sigma_h",
    "rescale_sigma_v",
    "scale_h",
    "scale_v",
    "gamma",
)


@dataclass(frozen=True)
class Case:
    """Emittance correction factors of one SB-model case."""

    case: int
    correction_factor_1h: float = 1.0
    correction_factor_2h: float = 1.0
    correction_factor_1v: float = 1.0
    correction_factor_2v: float = 1.0


@dataclass(frozen=True)
class LumiConfig:
    """Validated configuration of one year. Field names follow the legacy configuration."""

    year: int
    first_fill: int
    last_fill: int
    periods: dict[str, list[int]]
    XingAngle: list[dict[str, Any]]
    bsrt_calibration: list[dict[str, Any]]
    data_folder: str = ""
    stableBeams_folder: str = ""
    makedirs: bool = True
    overwriteFiles: bool = False
    saveDict: bool = True
    savePandas: bool = False
    enable_smoothing_BSRT: bool = True
    avg_time_smoothing: float = 3 * 3600.0
    doRescale: bool = False
    resc_period: list[list[str]] = field(default_factory=list)
    add_resc_string: str = ""
    min_time_SB: float = 300.0
    t_step_sec: float = 300.0
    intensity_threshold: float = 3.0e10
    t_fit_length: float = 7200.0
    models: list[str] = field(default_factory=lambda: ["EmpiricalBlowupLosses"])
    cases: list[Case] = field(default_factory=lambda: [Case(1)])
    massi_year: int = 2017
    massi_afs_path: str = "massi/<YEAR>/measurements/"
    massi_exp_folders: list[str] = field(default_factory=lambda: ["ATLAS/lumi/", "CMS/lumi/"])
    massi_bunch_lumi_scale: float = 1.0e34
    frev: float = 11245.5
    gammaFT: float = 6927.64
    gammaFB: float = 479.6
    tauSRxy_FT_h: float = 64.7
    tauSRxy_FB_h: float = math.inf
    tauSRl_FT_h: float = 32.35
    VRF_FT: float = 12.0e6
    VRF_FB: float = 6.0e6
    betastar_m: float = 0.30
    betastar_by_fill: list[dict[str, Any]] = field(default_factory=list)
    sigmaBOff_m2: float = 80.0e-31
    sigma_el_m2: float = 29.7e-31
    crossingAngleChange: bool = True
    doCyclePlots: bool = True
    doCycleModelPlots: bool = True
    doSBPlots: bool = True
    doSBModel: bool = False
    doSBModelPlots: bool = False
    doSummaryPlots: bool = False
    plotFormat: str = ".png"
    plotDpi: int = 300
    fig_tuple: list[float] = field(default_factory=lambda: [15.0, 7.0])
    myfontsize: int = 16
    n_skip: int = 1
    leveling_by_fill: dict[int, float] = field(default_factory=dict)
    empirical_mode: str = "data"

    # -- lookups -----------------------------------------------------------------------------

    def period(self, fill: int) -> str | None:
        """The period whose half-open fill range holds ``fill``."""
        for name, (lo, hi) in self.periods.items():
            if lo <= fill < hi:
                return name
        return None

    def xing_angle(self, fill: int) -> tuple[float, float]:
        """Full crossing angles (IP1, IP5) in rad from the ``XingAngle`` ranges."""
        for entry in self.XingAngle:
            lo, hi = entry["fills"]
            if lo <= fill < hi:
                return float(entry["angle"][0]), float(entry["angle"][1])
        raise ConfigError(f"XingAngle: no range holds fill {fill}")

    def betastar(self, fill: int) -> float:
        """β* in m: a ``betastar_by_fill`` range, else ``betastar_m``."""
        for entry in self.betastar_by_fill:
            lo, hi = entry["fills"]
            if lo <= fill < hi:
                return float(entry["betastar_m"])
        return self.betastar_m

    def calibration(self, fill: int) -> dict[str, Any]:
        """The BSRT calibration record valid for ``fill`` (inclusive ranges)."""
        for entry in self.bsrt_calibration:
            lo, hi = entry["fills"]
            if lo <= fill <= hi:
                return entry
        raise ConfigError(f"bsrt_calibration: no calibration covers fill {fill}")

    def calibration_for(self, fill: int, energy: int, beam: int) -> dict[str, float]:
        """Calibration constants of one energy (450 | 6500) and beam (1 | 2)."""
        return self.calibration(fill)[str(energy)][str(beam)]

    def massi_archive(self, data_root: Path, experiment_folder: str, fill: int) -> Path:
        """``massi_afs_path`` (<YEAR> substituted) + ``<EXP>/lumi/`` + ``<N>.tgz`` (plain concatenation)."""
        base = self.massi_afs_path.replace("<YEAR>", str(self.massi_year))
        text = base + experiment_folder + f"{fill}.tgz"
        path = Path(text)
        return path if path.is_absolute() else data_root / text

    def leveling(self, fill: int) -> float:
        return float(self.leveling_by_fill.get(fill, 0.0))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["cases"] = [c.__dict__ for c in self.cases]
        return out


def _check(cond: bool, source: str, key: str, problem: str) -> None:
    if not cond:
        raise ConfigError(f"{source}: key {key!r}: {problem}")


def _validate(cfg: LumiConfig, source: str) -> None:
    _check(cfg.year in YEARS, source, "year", f"{cfg.year} is not one of {YEARS}")
    _check(0 < cfg.first_fill <= cfg.last_fill, source, "last_fill", "needs 0 < first_fill <= last_fill")
    for key in ("min_time_SB", "t_step_sec", "intensity_threshold", "t_fit_length", "avg_time_smoothing", "frev"):
        value = getattr(cfg, key)
        _check(isinstance(value, int | float) and value > 0, source, key, f"must be a positive number, got {value!r}")
    for key in ("gammaFT", "gammaFB", "VRF_FT", "VRF_FB", "betastar_m", "sigmaBOff_m2", "sigma_el_m2"):
        value = getattr(cfg, key)
        _check(isinstance(value, int | float) and value >= 0, source, key, f"must be a number >= 0, got {value!r}")
    _check(cfg.models and set(cfg.models) <= set(MODELS), source, "models", f"each model must be one of {MODELS}")
    _check(cfg.empirical_mode in ("data", "exp_tau"), source, "empirical_mode", "must be 'data' or 'exp_tau'")
    _check(bool(cfg.cases), source, "cases", "at least one case is needed")
    _check(cfg.plotFormat in (".png", ".pdf", ".svg"), source, "plotFormat", "must be .png, .pdf or .svg")
    for name, rng in cfg.periods.items():
        _check(len(rng) == 2 and rng[0] < rng[1], source, "periods", f"period {name}: need [first, stop)")
    for entry in cfg.XingAngle:
        ok = isinstance(entry, dict) and len(entry.get("fills", ())) == 2 and len(entry.get("angle", ())) == 2
        _check(ok, source, "XingAngle", f"entry {entry!r} needs fills: [a, b) and angle: [IP1, IP5]")
        _check(all(0 < a < 1e-3 for a in entry["angle"]), source, "XingAngle", "full angles must be in rad (0..1e-3)")
    for entry in cfg.betastar_by_fill:
        _check(len(entry.get("fills", ())) == 2 and "betastar_m" in entry, source, "betastar_by_fill", repr(entry))
    for entry in cfg.bsrt_calibration:
        _check(len(entry.get("fills", ())) == 2, source, "bsrt_calibration", f"{entry.get('name')}: need fills [a, b]")
        for energy in ("450", "6500"):
            for beam in ("1", "2"):
                record = entry.get(energy, {}).get(beam)
                _check(
                    isinstance(record, dict) and set(CALIBRATION_KEYS) <= set(record),
                    source,
                    "bsrt_calibration",
                    f"{entry.get('name')}[{energy}][{beam}] needs {', '.join(CALIBRATION_KEYS)}",
                )


def load_config_file(path: str | Path) -> LumiConfig:
    """Load and validate one configuration file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read configuration ({exc})") from exc
    return config_from_dict(data, str(path))


def config_from_dict(data: Any, source: str = "<config>") -> LumiConfig:
    """Build and validate a configuration from a mapping (unknown keys are an error)."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping at top level")
    known = {f.name for f in fields(LumiConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{source}: unknown keys {unknown}")
    data = dict(data)
    try:
        data["cases"] = [Case(**c) for c in data.get("cases", [{"case": 1}])]
        data["leveling_by_fill"] = {int(k): float(v) for k, v in (data.get("leveling_by_fill") or {}).items()}
        data["periods"] = {str(k): [int(x) for x in v] for k, v in data.get("periods", {}).items()}
        cfg = LumiConfig(**data)
    except TypeError as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    _validate(cfg, source)
    return cfg


def load_config(year: int, overrides: dict[str, Any] | None = None) -> LumiConfig:
    """The shipped configuration of ``year``, with optional key overrides."""
    if year not in YEARS:
        raise ConfigError(f"no lumi configuration for year {year}; known: {YEARS}")
    text = resources.files("include.lumi").joinpath(f"config/{year}.yaml").read_text()
    data = yaml.safe_load(text)
    data.update(overrides or {})
    return config_from_dict(data, f"include/lumi/config/{year}.yaml")
