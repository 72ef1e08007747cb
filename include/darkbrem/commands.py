"""Container command lines (argv lists) for the three steps, following the real image contracts.

* dbgen v4.x / v5.0: ``apptainer run --no-home --cleanenv --bind <out>:/output,<scratch>:/working
  <sif> --run R --nevents N --max_energy E --apmass m --target t...`` (the image entrypoint).
* dbgen v5.1+: ``apptainer exec <sif> dark-brem-lib-gen --out-dir <out> --scratch <scratch> ...``
  with dashed options (no entrypoint).
* ldmx images: ``apptainer run --no-home --cleanenv --env LDMX_BASE=<dir> --bind <dir> <sif> <dir>
  g4db-extract-library <lib>`` and ``... <dir> fire config.py <lib>.csv.gz --run R ...``. The
  image's ``/etc/entry.sh`` does ``cd "$1"`` and *evals* the rest, so every argument is checked for
  shell metacharacters and spaces, and ``fire`` arguments other than the config never hold ".py".

``extra_binds`` carries what a local stand-in image needs on top of the contract (the host Python,
see :mod:`include.darkbrem.standin`); production images need none.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from include.apptainer.command import Bind, build_command
from include.core.errors import ParamError
from include.core.paths import reject_shell_metacharacters
from include.darkbrem.library import LEPTONS, MAX_EVENTS_PER_SEED, Version, check_targets

_EVAL_SAFE = re.compile(r"^[A-Za-z0-9_./+=:,@%-]+$")


def eval_safe(value: str, param: str) -> str:
    """A value that survives the ``eval`` in the ldmx entrypoint unchanged (no spaces, no metacharacters)."""
    reject_shell_metacharacters(value, param)
    if not _EVAL_SAFE.match(value):
        raise ParamError(param, f"{value!r} holds a space or a character the ldmx entrypoint would re-interpret")
    return value


def _positive(value: float, param: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ParamError(param, f"{value!r} must be a number > 0")
    return value


def dbgen_arguments(
    version: Version,
    *,
    run: int,
    nevents: int,
    apmass_gev: float,
    targets: Sequence[str],
    max_energy: float | None = None,
    min_energy: float | None = None,
    rel_step: float | None = None,
    lepton: str = "electron",
    pack: bool = False,
) -> list[str]:
    """The steering options of dbgen ``version`` (underscores up to v5.0, dashes from v5.1)."""
    if isinstance(run, bool) or not isinstance(run, int) or run < 0:
        raise ParamError("run", f"{run!r} must be an integer >= 0 (the MadGraph seed)")
    if isinstance(nevents, bool) or not isinstance(nevents, int) or not 0 < nevents < MAX_EVENTS_PER_SEED:
        raise ParamError("nevents", f"{nevents!r} must be an integer in 1..{MAX_EVENTS_PER_SEED - 1} (MG4 limit)")
    _positive(apmass_gev, "apmass")
    if lepton not in LEPTONS:
        raise ParamError("lepton", f"{lepton!r} is not one of {', '.join(LEPTONS)}")
    check_targets(list(targets), version)
    if pack and version.dashed_cli:
        raise ParamError("pack", f"--pack is broken in dbgen {version}; extract the directory instead")

    def opt(name: str) -> str:
        return "--" + (name.replace("_", "-") if version.dashed_cli else name)

    args = [opt("run"), str(run), opt("nevents"), str(nevents)]
    for name, value in (("max_energy", max_energy), ("min_energy", min_energy), ("rel_step", rel_step)):
        if value is not None:
            args += [opt(name), str(float(_positive(value, name)))]
    args += [opt("apmass"), str(float(apmass_gev)), opt("target"), *targets, opt("lepton"), lepton]
    return args + (["--pack"] if pack else [])


def dbgen_command(
    image: str,
    version: Version,
    *,
    out_dir: Path,
    scratch_dir: Path,
    extra_binds: Sequence[Bind] = (),
    executable: str | None = None,
    **options: object,
) -> list[str]:
    """The full argv of one dbgen run writing the library below ``out_dir``."""
    args = dbgen_arguments(version, **options)  # type: ignore[arg-type]
    out, scratch = str(out_dir), str(scratch_dir)
    if version.dashed_cli:
        binds = [Bind(out, out), Bind(scratch, scratch)]
        command = ["dark-brem-lib-gen", "--out-dir", out, "--scratch", scratch, *args]
        action = "exec"
    else:
        binds = [Bind(out, "/output"), Bind(scratch, "/working")]
        command, action = args, "run"
    return build_command(image, command, action=action, binds=[*binds, *extra_binds], executable=executable)


def ldmx_command(
    image: str,
    base: Path,
    program: Sequence[str],
    *,
    extra_binds: Sequence[Bind] = (),
    executable: str | None = None,
) -> list[str]:
    """``apptainer run --env LDMX_BASE=<base> --bind <base> <sif> <base> <program...>`` (entry.sh contract)."""
    base_text = eval_safe(str(base), "ldmx_base")
    for i, arg in enumerate(program):
        eval_safe(arg, f"ldmx argument {i}")
    return build_command(
        image,
        [base_text, *program],
        action="run",
        binds=[Bind(base_text, base_text), *extra_binds],
        env={"LDMX_BASE": base_text},
        executable=executable,
    )


def extract_command(image: str, base: Path, lib_dir: str, *, aprime_id: int, **kwargs: object) -> list[str]:
    """``g4db-extract-library <lib_dir> --aprime-id <id>`` in the ldmx image (writes ``<lib_dir>.csv`` beside it).

    The id is always passed: the tool's legacy default (622) silently yields an empty CSV for v5 libraries.
    """
    program = ["g4db-extract-library", lib_dir, "--aprime-id", str(int(aprime_id))]
    return ldmx_command(image, base, program, **kwargs)  # type: ignore[arg-type]


def fire_command(
    image: str,
    base: Path,
    *,
    config: str,
    library: str,
    run: int,
    nevents: int,
    apmass_mev: float,
    out_dir: str,
    aprime_lhe_id: int | None = None,
    **kwargs: object,
) -> list[str]:
    """``fire config.py --run R --nevents N --apmass M_MeV --library L --out-dir O [--aprime-lhe-id ID]``.

    ``fire`` takes the first argument containing ".py" as the config, so no other may.
    """
    if ".py" not in config:
        raise ParamError("sim_config", f"{config!r} is not a Python config file")
    for param, value in (("library", library), ("out_dir", out_dir)):
        if ".py" in value:
            raise ParamError(param, f"{value!r} contains '.py', which fire would take for the config")
    _positive(apmass_mev, "apmass_mev")
    program = [
        "fire",
        config,
        "--run",
        str(run),
        "--nevents",
        str(nevents),
        "--apmass",
        f"{apmass_mev:g}",
        "--library",
        library,
        "--out-dir",
        out_dir,
    ]
    if aprime_lhe_id is not None:
        program += ["--aprime-lhe-id", str(aprime_lhe_id)]
    return ldmx_command(image, base, program, **kwargs)  # type: ignore[arg-type]
