"""Pure builders for HTCondor submit descriptions (no pool needed).

Commands are argv lists. They are rendered with HTCondor's new-syntax ``arguments`` quoting
(the whole value in double quotes, arguments with spaces in single quotes, quotes doubled),
and ``$`` is written as ``$(DOLLAR)`` so submit-macro expansion leaves it alone. Values are
therefore passed literally: ``; rm -rf /`` or ``$(whoami)`` reach the program as-is, never a
shell. The few values HTCondor cannot carry (newlines, NUL, ``$$``) are rejected.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from include.core.errors import ParamError

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_BATCH_NAME = 200
# Submit commands a caller may not set through ``extra``: the builder owns them.
_RESERVED = frozenset({"queue"})


def quote_argument(arg: str) -> str:
    """Quote one argument for the new-syntax ``arguments`` value."""
    if not isinstance(arg, str):
        raise ParamError("arguments", f"{arg!r} is not a string")
    if any(c in arg for c in "\n\r\x00"):
        raise ParamError("arguments", f"{arg!r} contains a newline or NUL, which HTCondor cannot pass")
    if "$$" in arg:
        raise ParamError("arguments", f"{arg!r} contains '$$', which HTCondor expands at match time")
    text = arg.replace('"', '""').replace("'", "''")
    if text == "" or any(c in text for c in " \t'"):
        text = f"'{text}'"
    return text.replace("$", "$(DOLLAR)")


def format_arguments(argv: Sequence[str]) -> str:
    """The ``arguments`` value for ``argv`` (program arguments, without the executable)."""
    if isinstance(argv, str):
        raise ParamError("arguments", "must be a list of arguments, not a string")
    return '"' + " ".join(quote_argument(a) for a in argv) + '"'


def name_part(text: str) -> str:
    """``text`` as it appears in a ``JobBatchName`` (and a job folder): unsafe characters become ``_``."""
    return _UNSAFE_NAME_CHARS.sub("_", text)


def batch_name(dag_id: str, task_id: str, run_id: str, map_index: int = -1, try_number: int | None = None) -> str:
    """Deterministic ``JobBatchName`` for one task instance (and try).

    Unsafe characters become ``_``; a short hash of the raw parts keeps distinct ids distinct.
    """
    raw = f"{dag_id}\x1f{task_id}\x1f{run_id}\x1f{map_index}"
    digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
    parts = [name_part(p) for p in (dag_id, task_id, run_id)]
    base = ".".join(parts)[: _MAX_BATCH_NAME - 30]
    name = f"{base}.m{map_index}.{digest}"
    return name if try_number is None else f"{name}.t{try_number}"


def classad_string(value: str) -> str:
    """A ClassAd string literal (for ``+Attr`` / ``My.Attr`` commands)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(frozen=True)
class JobSpec:
    """What to run: an executable with an argv, resources, files and extra submit commands.

    ``shared_fs=True`` runs in ``initialdir`` on a shared filesystem (no transfer); otherwise
    ``should_transfer_files = YES`` with explicit ``transfer_input_files`` and
    ``transfer_output_files``. ``container_image`` selects the container universe (which
    always uses file transfer on the personal pool).
    """

    executable: str
    arguments: Sequence[str] = ()
    request_cpus: int = 1
    request_memory_mb: int = 512
    request_disk_kb: int | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    input_files: Sequence[str] = ()
    output_files: Sequence[str] | None = None
    shared_fs: bool = False
    container_image: str | None = None
    extra: Mapping[str, str] = field(default_factory=dict)


def format_environment(env: Mapping[str, str]) -> str:
    """The new-syntax ``environment`` value (``"A=1 B='x y'"``)."""
    items = []
    for key, value in env.items():
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
            raise ParamError("environment", f"{key!r} is not a valid variable name")
        items.append(quote_argument(f"{key}={value}"))
    return '"' + " ".join(items) + '"'


def build_submit(
    spec: JobSpec,
    *,
    workdir: str | Path,
    batch: str,
    log: str = "events.log",
    stdout: str = "out/$(Cluster).$(Process).out",
    stderr: str = "out/$(Cluster).$(Process).err",
) -> dict[str, str]:
    """A submit description (dict) for ``spec`` running in ``workdir``."""
    desc: dict[str, str] = {
        "universe": "container" if spec.container_image else "vanilla",
        "executable": spec.executable,
        "initialdir": str(workdir),
        "log": log,
        "output": stdout,
        "error": stderr,
        "batch_name": batch,
        "request_cpus": str(int(spec.request_cpus)),
        "request_memory": f"{int(spec.request_memory_mb)}MB",
        "My.HepBatchName": classad_string(batch),
    }
    if spec.arguments:
        desc["arguments"] = format_arguments(spec.arguments)
    if spec.request_disk_kb:
        desc["request_disk"] = str(int(spec.request_disk_kb))
    if spec.environment:
        desc["environment"] = format_environment(spec.environment)
    if spec.container_image:
        desc["container_image"] = spec.container_image
    if spec.shared_fs and not spec.container_image:
        desc["should_transfer_files"] = "NO"
    else:
        desc["should_transfer_files"] = "YES"
        desc["when_to_transfer_output"] = "ON_EXIT"
        if spec.input_files:
            desc["transfer_input_files"] = ",".join(_checked_file(f, "input_files") for f in spec.input_files)
        if spec.output_files is not None:
            desc["transfer_output_files"] = ",".join(_checked_file(f, "output_files") for f in spec.output_files)
    for key, value in spec.extra.items():
        if key.lower() in _RESERVED:
            raise ParamError("extra", f"submit command {key!r} is set by the builder")
        desc[key] = str(value)
    return desc


def _checked_file(name: str, param: str) -> str:
    if not name or any(c in name for c in ",\n\r\x00") or "$" in name:
        raise ParamError(param, f"{name!r} is not a plain file name (no ',', '$' or newline)")
    return name


def items_for_argvs(argvs: Iterable[Sequence[str]], extra: Iterable[Mapping[str, str]] | None = None) -> list[dict]:
    """Item data for one proc per argv: ``{"hep_args": <quoted arguments>, **extra}``.

    Use with ``arguments = $(hep_args)`` (see :func:`cluster_template`).
    """
    argvs = list(argvs)
    extras = list(extra) if extra is not None else [{} for _ in argvs]
    if len(extras) != len(argvs):
        raise ParamError("itemdata", "needs one extra mapping per argv")
    items = []
    for argv, more in zip(argvs, extras, strict=True):
        for key in more:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key) or key == "hep_args":
                raise ParamError("itemdata", f"{key!r} is not a usable item variable name")
        items.append({"hep_args": format_arguments(argv), **{k: str(v) for k, v in more.items()}})
    return items


def cluster_template(desc: Mapping[str, Any]) -> dict[str, str]:
    """Turn a single-job description into a per-item template (``arguments = $(hep_args)``)."""
    out = {k: str(v) for k, v in desc.items()}
    out["arguments"] = "$(hep_args)"
    return out
