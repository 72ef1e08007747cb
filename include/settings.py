"""Settings of the production system: one validated object read from the environment.

Every value can come from (highest precedence first) an explicit override, an Airflow Variable
of the same name (only when ``airflow_variables=True`` and Airflow is importable, i.e. inside a
task), the process environment, or the default. The README's configuration table lists them.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from include.core.errors import ConfigError

BACKENDS = ("local", "condor", "apptainer")


@dataclass(frozen=True)
class Setting:
    """Documentation of one setting (rendered into the README table by tests)."""

    name: str
    default: str
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("HEP_HOME", "~/hep-productions", "Base folder; the data and output roots default below it."),
    Setting(
        "HEP_DATA_ROOT", "$HEP_HOME/data", "Root of all inputs; every input path a parameter names must be inside."
    ),
    Setting("HEP_OUTPUT_ROOT", "$HEP_HOME/output", "Root of all products: <output root>/<production>/<unit>/."),
    Setting("HEP_DEFAULT_BACKEND", "local", "Backend when a run does not choose one: local | condor | apptainer."),
    Setting("HEP_CONDOR_COLLECTOR", "", "HTCondor collector host:port; empty = the local HTCondor config."),
    Setting("HEP_CONDOR_SCHEDD", "", "HTCondor schedd name; empty = the collector's default schedd."),
    Setting("HEP_APPTAINER_BIN", "", "apptainer executable; empty = `apptainer` on PATH, else `singularity`."),
    Setting(
        "HEP_RUNTIME_IMAGE",
        "",
        "SIF the apptainer backend runs units in, with the worker's Python bound in read-only (build it with "
        "`python -m include.apptainer.runtime_image DEST.sif`); empty = the apptainer backend is refused.",
    ),
    Setting("HEP_JOB_PYTHON", "", "Python that runs `include` code in HTCondor jobs; empty = this interpreter."),
    Setting("HEP_FILLDB_URL", "", "SQLAlchemy URL of the Massi fill database; empty = SQLite in the data root."),
    Setting("HEP_MU2E_DBTOOL", "", "Mu2e conditions `dbTool` executable; empty = `dbTool` on PATH."),
    Setting(
        "HEP_FAULT_PAUSE_AFTER_SUBMIT_S",
        "0",
        "Fault injection for tests: a step's task waits this many seconds after its HTCondor job is submitted "
        "and recorded (its pids in <job folder>/submitted.pid), so that a test can kill the worker at that moment.",
    ),
    Setting(
        "HEP_FAULT_SUBMIT_HELD",
        "false",
        "Fault injection for tests: a unit's HTCondor job is submitted on hold (HoldReasonCode 15), so that a "
        "test meets the form's hold policy at a known moment.",
    ),
)


# Settings a job inherits from the worker. Executables (apptainer, python) are not among them:
# where they are depends on the machine the job lands on.
JOB_SETTINGS = ("HEP_HOME", "HEP_DATA_ROOT", "HEP_OUTPUT_ROOT", "HEP_FILLDB_URL")


def job_environment(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The settings as environment variables, for a job or container that runs ``include`` code.

    A job resolves its paths against the same roots as the worker that submitted it.
    """
    env = os.environ if env is None else env
    settings = load_settings(env)
    out = {name: env[name] for name in JOB_SETTINGS if env.get(name)}
    out["HEP_DATA_ROOT"] = str(settings.data_root)
    out["HEP_OUTPUT_ROOT"] = str(settings.output_root)
    return out


@dataclass(frozen=True)
class Settings:
    """Validated settings. Paths are absolute and resolved."""

    data_root: Path
    output_root: Path
    default_backend: str = "local"
    condor_collector: str = ""
    condor_schedd: str = ""
    apptainer_bin: str = ""
    runtime_image: str = ""
    job_python: str = ""
    mu2e_dbtool: str = ""
    filldb_url: str = ""
    fault_pause_after_submit_s: float = 0.0
    fault_submit_held: bool = False
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.default_backend not in BACKENDS:
            raise ConfigError(f"HEP_DEFAULT_BACKEND={self.default_backend!r} is not one of {', '.join(BACKENDS)}")
        for label, root in (("HEP_DATA_ROOT", self.data_root), ("HEP_OUTPUT_ROOT", self.output_root)):
            if not root.is_absolute():
                raise ConfigError(f"{label}={root} must be an absolute path")
            if root.exists() and not root.is_dir():
                raise ConfigError(f"{label}={root} exists and is not a directory")
        if self.condor_collector and ":" in self.condor_collector:
            port = self.condor_collector.rsplit(":", 1)[1]
            if not port.isdigit():
                raise ConfigError(f"HEP_CONDOR_COLLECTOR={self.condor_collector!r}: port must be a number")

    def resolved_apptainer(self) -> str:
        """The apptainer executable: the configured one, else ``apptainer``, else ``singularity``."""
        if self.apptainer_bin:
            return self.apptainer_bin
        for name in ("apptainer", "singularity"):
            found = shutil.which(name)
            if found:
                return found
        raise ConfigError("neither apptainer nor singularity is on PATH; set HEP_APPTAINER_BIN")

    def production_output(self, production: str) -> Path:
        """``<output root>/<production>``."""
        return self.output_root / production

    def production_data(self, production: str) -> Path:
        """``<data root>/<production>``: where a production's demo and input data live by default."""
        return self.data_root / production


def _airflow_variable_getter() -> Callable[[str], str | None]:
    try:
        from airflow.sdk import Variable
    except ImportError:  # plain terminal or HTCondor job without Airflow
        return lambda _name: None

    def get(name: str) -> str | None:
        try:
            value = Variable.get(name, default=None)
        except Exception:  # no task context or API server: fall back to the environment
            return None
        return None if value is None else str(value)

    return get


def load_settings(
    env: Mapping[str, str] | None = None,
    *,
    airflow_variables: bool = False,
    **overrides: str | Path,
) -> Settings:
    """Read, resolve and validate the settings."""
    env = os.environ if env is None else env
    variable = _airflow_variable_getter() if airflow_variables else (lambda _name: None)

    def value(name: str, default: str = "") -> str:
        key = name.removeprefix("HEP_").lower()
        if key in overrides:
            return str(overrides[key])
        found = variable(name)
        if found is None:
            found = env.get(name)
        return default if found in (None, "") else str(found)

    home = Path(value("HEP_HOME", "~/hep-productions")).expanduser()
    data_root = Path(value("HEP_DATA_ROOT", str(home / "data"))).expanduser()
    output_root = Path(value("HEP_OUTPUT_ROOT", str(home / "output"))).expanduser()
    return Settings(
        data_root=data_root.resolve(),
        output_root=output_root.resolve(),
        default_backend=value("HEP_DEFAULT_BACKEND", "local"),
        condor_collector=value("HEP_CONDOR_COLLECTOR"),
        condor_schedd=value("HEP_CONDOR_SCHEDD"),
        apptainer_bin=value("HEP_APPTAINER_BIN"),
        runtime_image=value("HEP_RUNTIME_IMAGE"),
        job_python=value("HEP_JOB_PYTHON"),
        mu2e_dbtool=value("HEP_MU2E_DBTOOL"),
        filldb_url=value("HEP_FILLDB_URL"),
        fault_pause_after_submit_s=_seconds(PAUSE, value(PAUSE, "0")),
        fault_submit_held=_flag(HELD, value(HELD, "false")),
    )


PAUSE = "HEP_FAULT_PAUSE_AFTER_SUBMIT_S"
HELD = "HEP_FAULT_SUBMIT_HELD"


def _flag(name: str, text: str) -> bool:
    lowered = text.strip().lower()
    if lowered not in ("true", "false", "1", "0", "yes", "no"):
        raise ConfigError(f"{name}={text!r} is not true or false")
    return lowered in ("true", "1", "yes")


def _seconds(name: str, text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ConfigError(f"{name}={text!r} is not a number of seconds") from None
    if seconds < 0:
        raise ConfigError(f"{name}={text!r} must be >= 0")
    return seconds
