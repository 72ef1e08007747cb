"""Build ``apptainer run|exec|shell`` command lines as argv lists, validating every input.

Nothing here runs a process or touches a shell. Values that can never be valid (a relative or
missing bind source, a ``:`` or ``,`` inside a bind path, an environment name that is not an
identifier, an unknown flag) raise :class:`~include.core.errors.ParamError`. Everything else,
for example a command argument ``"; rm -rf /"`` or ``"$(id)"``, stays one literal argv element.

Defaults: ``--no-home --cleanenv --no-eval``. ``--no-eval`` matters: without it apptainer
shell-evaluates ``--env`` values inside the container, so ``--env X='$(cmd)'`` would run
``cmd``. ``--env`` values are encoded so that a ``,`` cannot smuggle in a second variable
(see :func:`env_arg`).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath

from include.core.errors import ConfigError, ParamError

ACTIONS = ("exec", "run", "shell")
BIND_MODES = ("ro", "rw")
# Image references that are not local files: passed through unchanged.
IMAGE_SCHEMES = (
    "docker",
    "docker-archive",
    "docker-daemon",
    "oci",
    "oci-archive",
    "oras",
    "library",
    "shub",
    "http",
    "https",
)

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_IMAGE_URI = re.compile(r"^([a-z][a-z-]*)://\S+$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
_NO_MOUNT = re.compile(r"^(proc|sys|dev|devpts|tmp|home|cwd|hostfs|bind-paths|/[A-Za-z0-9_./-]+)(,[A-Za-z0-9_./-]+)*$")

# Flags placed before the action (``apptainer -s exec ...``).
GLOBAL_FLAGS = frozenset({"-q", "--quiet", "-s", "--silent", "-d", "--debug", "-v", "--verbose", "--nocolor"})
# Boolean action flags that may be passed through.
BOOL_FLAGS = frozenset(
    {
        "--nv",
        "--nvccli",
        "--rocm",
        "--writable-tmpfs",
        "--containall",
        "--contain",
        "--ipc",
        "--pid",
        "--userns",
        "--fakeroot",
        "--no-init",
        "--no-privs",
        "--no-umask",
        "--compat",
        "--unsquash",
        "--disable-cache",
        "--cleanenv",
        "--no-home",
        "--no-eval",
    }
)
# Action flags with a value (only as ``--flag=value``), with the check of the value.
VALUE_FLAGS = {
    "--hostname": lambda v: bool(_HOSTNAME.match(v)),
    "--no-mount": lambda v: bool(_NO_MOUNT.match(v)),
    "--workdir": lambda v: os.path.isabs(v) and os.path.isdir(v) and _plain_path(v),
    "--scratch": lambda v: os.path.isabs(v) and _plain_path(v),
}


def _plain_path(value: str) -> bool:
    """True when ``value`` can be one element of apptainer's ``src:dst:opts,...`` syntax."""
    return bool(value) and not any(ch in value for ch in ":,\n\r\x00")


@dataclass(frozen=True)
class Bind:
    """One ``--bind src:dst:mode`` with an existing absolute host source."""

    src: str
    dst: str
    mode: str = "rw"

    def __post_init__(self) -> None:
        for label, path in (("source", self.src), ("destination", self.dst)):
            if not isinstance(path, str) or not _plain_path(path):
                raise ParamError("binds", f"bind {label} {path!r} is empty or holds ':', ',' or a control character")
            if not PurePosixPath(path).is_absolute():
                raise ParamError("binds", f"bind {label} {path!r} must be an absolute path")
            if ".." in PurePosixPath(path).parts:
                raise ParamError("binds", f"bind {label} {path!r} must not contain '..'")
        if not os.path.exists(self.src):
            raise ParamError("binds", f"bind source {self.src} does not exist on this host")
        if self.mode not in BIND_MODES:
            raise ParamError("binds", f"bind mode {self.mode!r} is not one of {', '.join(BIND_MODES)}")

    def spec(self) -> str:
        return f"{self.src}:{self.dst}:{self.mode}"


BindLike = str | Bind | Sequence[str]


def parse_bind(value: BindLike) -> Bind:
    """Parse ``"src[:dst[:ro|rw]]"``, a ``(src, dst[, mode])`` sequence, or a :class:`Bind`."""
    if isinstance(value, Bind):
        return value
    if isinstance(value, str):
        parts = value.split(":")
        if len(parts) > 3:
            raise ParamError("binds", f"{value!r} is not src[:dst[:ro|rw]] (too many ':')")
    elif isinstance(value, Sequence) and all(isinstance(p, str) for p in value):
        parts = list(value)
        if not 1 <= len(parts) <= 3:
            raise ParamError("binds", f"{value!r} must be (src[, dst[, mode]])")
    else:
        raise ParamError("binds", f"{value!r} is not a bind specification")
    src = parts[0]
    dst = parts[1] if len(parts) > 1 and parts[1] else src
    mode = parts[2] if len(parts) > 2 else "rw"
    for path in (src, dst):
        if ".." in PurePosixPath(path).parts:
            raise ParamError("binds", f"bind path {path!r} must not contain '..'")
    return Bind(os.path.normpath(src) if src else src, os.path.normpath(dst) if dst else dst, mode)


def parse_binds(binds: Iterable[BindLike] | Mapping[str, str] | None) -> list[Bind]:
    """Parse a list of bind specifications, or a ``{src: dst}`` mapping (read-write)."""
    if not binds:
        return []
    if isinstance(binds, str):
        raise ParamError("binds", "pass a list of bind specifications, not one string")
    if isinstance(binds, Mapping):
        return [parse_bind((str(src), str(dst))) for src, dst in binds.items()]
    return [parse_bind(item) for item in binds]


def env_arg(key: str, value: str) -> str:
    """Encode one ``--env`` argument so that apptainer sets exactly ``key`` to ``value``.

    apptainer parses ``--env`` like pflag's stringToString: an argument with one ``=`` is
    used as is after stripping ``"`` from both ends; one with more ``=`` is read as a CSV
    record, so ``X=a,LD_PRELOAD=/x.so`` would also set LD_PRELOAD. Values holding ``=`` are
    therefore sent as one quoted CSV field; a value without ``=`` that ends with ``"`` (which
    apptainer would strip) and carriage returns (dropped by the CSV reader) are refused.
    """
    if not isinstance(key, str) or not _ENV_NAME.match(key):
        raise ParamError("env", f"{key!r} is not a valid environment variable name")
    if "\x00" in value or "\r" in value:
        raise ParamError("env", f"value of {key} contains a NUL byte or a carriage return")
    pair = f"{key}={value}"
    if "=" in value:
        return '"' + pair.replace('"', '""') + '"'
    if value.endswith('"'):
        raise ParamError("env", f"value of {key} ends with '\"' and has no '=': apptainer --env would strip it")
    return pair


def env_args(env: Mapping[str, object] | None) -> list[str]:
    """``--env KEY=VALUE`` pairs (see :func:`env_arg`); non-string values are converted with str()."""
    args: list[str] = []
    for key, raw in (env or {}).items():
        args += ["--env", env_arg(key, raw if isinstance(raw, str) else str(raw))]
    return args


def check_image(image: str) -> str:
    """Return ``image`` if it is an existing local image (file or sandbox) or a known URI."""
    if not isinstance(image, str) or not image or image.startswith("-") or "\x00" in image:
        raise ParamError("image", f"{image!r} is not an image reference")
    uri = _IMAGE_URI.match(image)
    if uri:
        if uri.group(1) not in IMAGE_SCHEMES:
            raise ParamError("image", f"unknown image scheme {uri.group(1)!r} (known: {', '.join(IMAGE_SCHEMES)})")
        return image
    if not os.path.isabs(image):
        raise ParamError("image", f"{image!r} must be an absolute path or a URI such as docker://...")
    if not os.path.exists(image):
        raise ParamError("image", f"{image} does not exist")
    return image


def check_flags(flags: Iterable[str]) -> tuple[list[str], list[str]]:
    """Split allowed extra flags into (global flags, action flags); reject anything else."""
    global_flags: list[str] = []
    action_flags: list[str] = []
    for flag in flags:
        if not isinstance(flag, str):
            raise ParamError("extra_flags", f"{flag!r} is not a string")
        if flag in GLOBAL_FLAGS:
            global_flags.append(flag)
        elif flag in BOOL_FLAGS:
            action_flags.append(flag)
        elif "=" in flag and flag.split("=", 1)[0] in VALUE_FLAGS:
            name, value = flag.split("=", 1)
            if not VALUE_FLAGS[name](value):
                raise ParamError("extra_flags", f"invalid value for {name}: {value!r}")
            action_flags.append(flag)
        else:
            allowed = sorted(GLOBAL_FLAGS | BOOL_FLAGS) + [f"{name}=VALUE" for name in sorted(VALUE_FLAGS)]
            raise ParamError("extra_flags", f"{flag!r} is not allowed (allowed: {' '.join(allowed)})")
    return global_flags, action_flags


def find_apptainer(executable: str | None = None) -> str:
    """The container runtime: ``executable`` if given, else HEP_APPTAINER_BIN, ``apptainer``, ``singularity``."""
    if executable:
        found = shutil.which(executable)
        if not found:
            raise ConfigError(f"container runtime {executable!r} not found or not executable")
        return found
    from include.settings import load_settings

    return load_settings().resolved_apptainer()


def build_command(
    image: str,
    command: Sequence[str] = (),
    *,
    action: str = "exec",
    binds: Iterable[BindLike] | Mapping[str, str] | None = None,
    env: Mapping[str, object] | None = None,
    pwd: str | None = None,
    contain: bool = False,
    cleanenv: bool = True,
    no_home: bool = True,
    extra_flags: Iterable[str] = (),
    executable: str | None = None,
) -> list[str]:
    """Return the argv of ``apptainer <action> [flags] <image> [command...]``.

    ``exec`` needs a command; ``run`` passes ``command`` as arguments of the runscript;
    ``shell`` takes none. Every command element must be a string and stays one argv element.
    """
    if action not in ACTIONS:
        raise ParamError("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
    if isinstance(command, str):
        raise ParamError("command", "pass a list of arguments, not a shell string")
    argv_tail = list(command or ())
    for arg in argv_tail:
        if not isinstance(arg, str) or "\x00" in arg:
            raise ParamError("command", f"argument {arg!r} is not a string without NUL bytes")
    if action == "exec" and not argv_tail:
        raise ParamError("command", "'exec' needs a command")
    if action == "shell" and argv_tail:
        raise ParamError("command", "'shell' takes no command")
    if pwd is not None and (not PurePosixPath(pwd).is_absolute() or "\x00" in pwd):
        raise ParamError("pwd", f"{pwd!r} must be an absolute path inside the container")
    global_flags, action_flags = check_flags(extra_flags)

    argv = [find_apptainer(executable), *global_flags, action]
    wanted = ["--no-home"] * no_home + ["--cleanenv"] * cleanenv + ["--no-eval"] + ["--contain"] * contain
    argv += [flag for flag in wanted if flag not in action_flags]
    argv += action_flags
    for bind in parse_binds(binds):
        argv += ["--bind", bind.spec()]
    argv += env_args(env)
    if pwd is not None:
        argv += ["--pwd", pwd]
    argv.append(check_image(image))
    argv += argv_tail
    return argv
