"""Per-year configuration (spec §6): YAML files under ``include/lumi/config``, validated on load."""

from __future__ import annotations

import math
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from include.core.errors import ConfigError, ParamError, form_field
from include.core.paths import reject_shell_metacharacters, resolve_inside

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


# -- run overrides (the trigger form's config_overrides) --------------------------------------

_TYPE_NAMES = {bool: ("a boolean", "booleans"), int: ("an integer", "integers"), float: ("a number", "numbers")}
_TYPE_NAMES[str] = ("a string", "strings")
# Folders below <data root>/lumi that an override may move (they must stay inside the data root).
PATH_KEYS = ("data_folder", "massi_afs_path")


def _describe(tp: Any, plural: bool = False) -> str:
    """What a value of the annotation ``tp`` is, in words (``a boolean``, ``a list of numbers``, ...)."""
    if tp in _TYPE_NAMES:
        return _TYPE_NAMES[tp][plural]
    if tp is Case:
        return "case objects" if plural else "a case object {case: <integer>, correction_factor_1h: <number>, ...}"
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return f"{'lists' if plural else 'a list'} of {_describe(args[0], True)}"
    if origin is dict:
        return f"{'objects' if plural else 'an object'} of {_describe(args[1], True)}"
    return "values" if plural else "a value"


def _fits(value: Any, tp: Any) -> bool:
    """Whether ``value`` (parsed JSON) has the type of the annotation ``tp`` (a bool is not a number)."""
    if tp is Any:
        return True
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if tp is Case:
        names = {f.name: f.type for f in fields(Case)}
        return (
            isinstance(value, dict)
            and "case" in value
            and set(value) <= set(names)
            and _fits(value["case"], int)
            and all(_fits(v, float) for k, v in value.items() if k != "case")
        )
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is list:
        return isinstance(value, list) and all(_fits(v, args[0]) for v in value)
    if origin is dict:
        keys_ok = (lambda k: str(k).lstrip("-").isdigit()) if args[0] is int else (lambda k: isinstance(k, str))
        return isinstance(value, dict) and all(keys_ok(k) and _fits(v, args[1]) for k, v in value.items())
    return False


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(k)
            yield from _strings(v)


def check_overrides(
    overrides: Any, years: Iterable[int], param: str = "config_overrides", data_root: Path | None = None
) -> dict[str, Any]:
    """Check a run's configuration overrides against :class:`LumiConfig`; return them (None: ``{}``).

    Every key must be a configuration key other than ``year`` (the run's year comes from the form or
    the fill) and every value must have the key's type (``"no"`` is not a boolean, ``true`` is not a
    number); text may hold no shell metacharacter and the folders (:data:`PATH_KEYS`,
    ``massi_exp_folders``) must stay inside the data root. Then the configuration of every year in
    ``years`` is built with them, so the per-key rules (positive steps, known models, ...) apply.
    All problems are reported together, as problems of the form field ``param``.
    """
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ParamError(param, f"must be an object of configuration keys, got {overrides!r}")
    hints = typing.get_type_hints(LumiConfig)
    problems = []
    for key, value in overrides.items():
        if key not in hints:
            problems.append(f"unknown key {key!r} (value {value!r})")
        elif key == "year":
            problems.append(f"key 'year' cannot be overridden (got {value!r}): the run's year is used")
        elif not _fits(value, hints[key]):
            problems.append(f"key {key!r} must be {_describe(hints[key])}, got {value!r}")
        else:
            for text in _strings(value):
                try:
                    reject_shell_metacharacters(text.replace("<YEAR>", ""), key)
                except ParamError as exc:
                    problems.append(f"key {exc.param!r}: {exc.problem}")
                    break
    if problems:
        raise ParamError(param, "; ".join(problems))
    _check_folders(overrides, years, param, data_root)
    with form_field(param):
        for year in years:
            load_config(int(year), overrides)
    return dict(overrides)


def _check_folders(overrides: dict[str, Any], years: Iterable[int], param: str, data_root: Path | None) -> None:
    """The folders an override names stay inside the data root (relative ones are below ``<data root>/lumi``)."""
    if not any(key in overrides for key in (*PATH_KEYS, "massi_exp_folders", "massi_year")):
        return
    if data_root is None:
        from include.settings import load_settings

        data_root = load_settings().data_root
    for year in years:
        cfg = {**load_config(int(year)).to_dict(), **overrides}
        base = Path(data_root) / "lumi"
        massi = base / cfg["massi_afs_path"].replace("<YEAR>", str(cfg["massi_year"]))
        folders = [("data_folder", cfg["data_folder"], base / cfg["data_folder"])]
        folders.append(("massi_afs_path", cfg["massi_afs_path"], massi))
        folders += [("massi_exp_folders", sub, Path(f"{massi}/{sub}")) for sub in cfg["massi_exp_folders"]]
        for key, value, folder in folders:
            try:
                resolve_inside(folder, [data_root], key)
            except ParamError as exc:
                raise ParamError(param, f"key {key!r} ({value!r}): {exc.problem}") from exc
