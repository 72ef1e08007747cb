"""Campaign parameters: validation (before anything runs) and the plan of (mass, run) units."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from include.core.errors import ConfigError, ParamError
from include.core.fingerprint import sha256_file
from include.core.forms import job_options
from include.core.paths import reject_shell_metacharacters, resolve_inside, safe_name
from include.darkbrem import PRODUCTION
from include.darkbrem.commands import eval_safe
from include.darkbrem.extract import CSV_FORMATS
from include.darkbrem.library import (
    LEPTONS,
    MAX_EVENTS_PER_SEED,
    Version,
    check_targets,
    energy_grid,
    expected_events,
    lhe_file_names,
    library_name,
)
from include.settings import Settings

BACKENDS = ("local", "condor")
EXTRACTIONS = ("native", "container")
MAX_UNITS = 1024  # Airflow's max_map_length
STEPS = ("generate", "extract", "simulate")
FORCE_CHOICES = ("none", "all", *STEPS)
# Besides the data root, images may live on CVMFS (production).
IMAGE_ROOTS = (Path("/cvmfs"),)

DEFAULTS: dict[str, Any] = {
    "campaign": "signal",
    "masses": [0.01, 0.1, 1.0],
    "masses_mev": [],
    "runs_per_mass": 2,
    "run_numbers": [],
    "first_run": 1,
    "nevents": 1000,
    "sim_events": 100,
    "targets": ["tungsten"],
    "lepton": "electron",
    "max_energy": 0.0,
    "generator_version": "4.6",
    "dbgen_image": "ldmx_darkbrem_signal/images/dbgen-v4.sif",
    "ldmx_image": "ldmx_darkbrem_signal/images/ldmx-pro.sif",
    "sim_config": "ldmx_darkbrem_signal/config.py",
    "output_root": "",
    "backend": "local",
    "extraction": "native",
    "csv_format": "v2",
    "force": "none",
}


@dataclass(frozen=True)
class Unit:
    """One (mass, run) chain: everything its steps need, JSON-able (it travels to HTCondor jobs)."""

    key: str
    workdir: str
    campaign: str
    mass_gev: float
    mass_mev: float
    run: int
    nevents: int
    sim_events: int
    targets: list[str]
    lepton: str
    max_energy: float
    generator_version: str
    aprime_id: int
    library_name: str
    lhe_files: list[str]
    expected_events: int
    dbgen_image: str
    dbgen_image_sha256: str
    ldmx_image: str
    ldmx_image_sha256: str
    sim_config: str
    extraction: str
    csv_format: str
    backend: str
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def mass_to_mev(mass_gev: float) -> float:
    """The simulation's mass (MeV) for a generator mass (GeV), rounded off binary noise (0.1 -> 100)."""
    return float(f"{mass_gev * 1000:.9g}")


def check_mass_units(masses_gev: list[float], masses_mev: list[float]) -> list[float]:
    """Simulation masses (MeV): derived, or given and checked to be 1000 x the generator masses (GeV)."""
    derived = [mass_to_mev(m) for m in masses_gev]
    if not masses_mev:
        return derived
    if len(masses_mev) != len(masses_gev):
        raise ParamError("masses_mev", f"{len(masses_mev)} values for {len(masses_gev)} masses")
    for gev, mev, want in zip(masses_gev, masses_mev, derived, strict=True):
        if not math.isclose(float(mev), want, rel_tol=1e-9):
            raise ParamError(
                "masses_mev",
                f"{mev} MeV does not match the generator mass {gev} GeV (= {want:g} MeV); "
                "the simulation takes MeV, the generator GeV",
            )
    return derived


def _number_list(value: Any, param: str) -> list[float]:
    if not isinstance(value, list) or not value:
        raise ParamError(param, "must be a non-empty list of numbers")
    out = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
            raise ParamError(param, f"{item!r} is not a number")
        if item <= 0:
            raise ParamError(param, f"{item!r} must be > 0")
        out.append(float(item))
    if len(set(out)) != len(out):
        raise ParamError(param, f"{value} lists a mass twice")
    return out


def _int(value: Any, param: str, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low or (high is not None and value > high):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise ParamError(param, f"{value!r} must be an integer {bound}")
    return value


def run_numbers(params: Mapping[str, Any], n_masses: int) -> list[list[int]]:
    """Run numbers per mass: explicit (one list for all masses, or one list per mass) or consecutive."""
    explicit = params.get("run_numbers") or []
    if not explicit:
        count = _int(params.get("runs_per_mass", 1), "runs_per_mass", 1, MAX_UNITS)
        first = _int(params.get("first_run", 1), "first_run", 0)
        return [list(range(first, first + count)) for _ in range(n_masses)]
    if not isinstance(explicit, list):
        raise ParamError("run_numbers", "must be a list of integers, or a list of lists (one per mass)")
    per_mass = explicit if all(isinstance(r, list) for r in explicit) else [explicit] * n_masses
    if len(per_mass) != n_masses:
        raise ParamError("run_numbers", f"{len(per_mass)} lists of runs for {n_masses} masses")
    for runs in per_mass:
        for run in runs:
            _int(run, "run_numbers", 0)
        duplicated = sorted({r for r in runs if runs.count(r) > 1})
        if duplicated:
            raise ParamError("run_numbers", f"run {duplicated[0]} appears twice for one mass; the run seeds the job")
        if not runs:
            raise ParamError("run_numbers", "a mass has no run")
    return per_mass


def _image(value: Any, param: str, settings: Settings) -> Path:
    if not isinstance(value, str) or not value:
        raise ParamError(param, "an image path is required")
    reject_shell_metacharacters(value, param)
    path = resolve_inside(value, [settings.data_root, *IMAGE_ROOTS], param)
    if not path.exists():
        from include.darkbrem.standin import missing_image_hint

        raise ParamError(param, f"image {path} does not exist; {missing_image_hint(path, settings.apptainer_bin)}")
    eval_safe(str(path), param)
    return path


JOB_KEYS = ("hold_policy", "on_memory_hold", "request_memory_mb")
"""The form's HTCondor section (include.core.forms): how jobs run, not what they compute."""


def validate(params: Mapping[str, Any], settings: Settings) -> dict[str, Any]:
    """Check every parameter; return the normalized campaign (absolute paths, derived values)."""
    p = {**DEFAULTS, **{k: v for k, v in params.items() if v is not None and k not in JOB_KEYS}}
    unknown = set(params) - set(DEFAULTS) - set(JOB_KEYS)
    if unknown:
        raise ParamError(sorted(unknown)[0], "unknown parameter")
    for name, value in p.items():
        if isinstance(value, str):
            reject_shell_metacharacters(value, name)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, str):
                    reject_shell_metacharacters(item, name)
    campaign = safe_name(p["campaign"], "campaign")
    masses = _number_list(p["masses"], "masses")
    masses_mev = check_mass_units(masses, list(p["masses_mev"] or []))
    runs = run_numbers(p, len(masses))
    version = Version.parse(p["generator_version"])
    targets = check_targets(list(p["targets"]), version)
    if p["lepton"] not in LEPTONS:
        raise ParamError("lepton", f"{p['lepton']!r} is not one of {', '.join(LEPTONS)}")
    max_energy = float(p["max_energy"] or version.default_max_energy)
    if not 0 < max_energy <= 1000:
        raise ParamError("max_energy", f"{max_energy} must be in (0, 1000] GeV")
    for choice, allowed in (("backend", BACKENDS), ("extraction", EXTRACTIONS), ("csv_format", CSV_FORMATS)):
        if p[choice] not in allowed:
            raise ParamError(choice, f"{p[choice]!r} is not one of {', '.join(allowed)}")
    nevents = _int(p["nevents"], "nevents", 1, MAX_EVENTS_PER_SEED - 1)
    sim_events = _int(p["sim_events"], "sim_events", 1, 10_000_000)
    dbgen_image = _image(p["dbgen_image"], "dbgen_image", settings)
    ldmx_image = _image(p["ldmx_image"], "ldmx_image", settings)
    if p["backend"] == "local":  # the worker runs the containers (on condor, the execute node does)
        from include.darkbrem.standin import apptainer_missing

        problem = apptainer_missing(settings.apptainer_bin)
        if problem:
            raise ConfigError(f"backend local runs the containers in this worker: {problem}")
    sim_config = resolve_inside(p["sim_config"], [settings.data_root], "sim_config", must_exist=True)
    if not sim_config.is_file() or sim_config.suffix != ".py":
        raise ParamError("sim_config", f"{sim_config} must be a Python config file (.py)")
    output_root = (
        resolve_inside(p["output_root"], [settings.output_root], "output_root")
        if p["output_root"]
        else settings.output_root
    )
    eval_safe(str(output_root), "output_root")
    n_units = sum(len(r) for r in runs)
    if n_units > MAX_UNITS:
        raise ParamError("runs_per_mass", f"{n_units} (mass, run) units exceed the limit of {MAX_UNITS}")
    if p["force"] not in FORCE_CHOICES:
        raise ParamError("force", f"{p['force']!r} is not one of {', '.join(FORCE_CHOICES)}")
    return {
        **p,
        "campaign": campaign,
        "masses": masses,
        "masses_mev": masses_mev,
        "run_numbers": runs,
        "generator_version": str(version),
        "targets": targets,
        "max_energy": max_energy,
        "dbgen_image": str(dbgen_image),
        "ldmx_image": str(ldmx_image),
        "sim_config": str(sim_config),
        "output_root": str(output_root),
        "nevents": nevents,
        "sim_events": sim_events,
        **job_options(params),
    }


def validate_form(params: Mapping[str, Any]) -> dict[str, Any]:
    """The DAG's first task: :func:`validate` with the settings (Airflow Variables included).

    Empty optional fields (None) take the defaults: derived MeV masses, consecutive run numbers,
    ``HEP_OUTPUT_ROOT`` as output root.
    """
    from include.settings import load_settings

    return validate(params, load_settings(airflow_variables=True))


def image_digest(image: str) -> str:
    """sha256 of a SIF file; an unpacked image directory (e.g. on CVMFS) is named, not hashed."""
    path = Path(image)
    return sha256_file(path) if path.is_file() else f"directory image, not hashed: {path}"


def campaign_dir(campaign: Mapping[str, Any]) -> Path:
    """``<output root>/ldmx_darkbrem_signal/<campaign>``."""
    return Path(campaign["output_root"]) / PRODUCTION / campaign["campaign"]


def unit_key(mass_gev: float, run: int) -> str:
    """``mA_<mass GeV>_run_<run>`` (the library's own naming of mass and run)."""
    return safe_name(f"mA_{float(mass_gev)}_run_{run}", "unit")


def plan(campaign: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One unit per (mass, run), in mass order; image digests are computed once here."""
    version = Version.parse(campaign["generator_version"])
    digests = {img: image_digest(img) for img in {campaign["dbgen_image"], campaign["ldmx_image"]}}
    grid = energy_grid(campaign["max_energy"])
    base = campaign_dir(campaign)
    units = []
    for mass, mev, runs in zip(campaign["masses"], campaign["masses_mev"], campaign["run_numbers"], strict=True):
        for run in runs:
            name = library_name(
                apmass_gev=mass,
                run=run,
                targets=campaign["targets"],
                lepton=campaign["lepton"],
                max_energy=campaign["max_energy"],
            )
            key = unit_key(mass, run)
            unit = Unit(
                key=key,
                workdir=str(base / key),
                campaign=campaign["campaign"],
                mass_gev=mass,
                mass_mev=mev,
                run=run,
                nevents=campaign["nevents"],
                sim_events=campaign["sim_events"],
                targets=list(campaign["targets"]),
                lepton=campaign["lepton"],
                max_energy=campaign["max_energy"],
                generator_version=str(version),
                aprime_id=version.aprime_id,
                library_name=name,
                lhe_files=lhe_file_names(name, campaign["targets"], grid, version),
                expected_events=expected_events(len(campaign["targets"]), len(grid), campaign["nevents"]),
                dbgen_image=campaign["dbgen_image"],
                dbgen_image_sha256=digests[campaign["dbgen_image"]],
                ldmx_image=campaign["ldmx_image"],
                ldmx_image_sha256=digests[campaign["ldmx_image"]],
                sim_config=campaign["sim_config"],
                extraction=campaign["extraction"],
                csv_format=campaign["csv_format"],
                backend=campaign["backend"],
            )
            units.append(unit.to_dict())
    return units
