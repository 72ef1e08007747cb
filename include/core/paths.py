"""Paths and names that come from parameters: resolved, confined to the roots, shell-safe."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from include.core.errors import ParamError

# A name used in a folder or job name: letters, digits, dot, dash, underscore; no leading dot.
SAFE_NAME = r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$"
"""A plain file or folder name (what :func:`safe_name` accepts; forms use it as their pattern)."""
_SAFE_NAME = re.compile(SAFE_NAME)
# Characters a shell would interpret. Parameters never reach a shell (commands are argv lists);
# this check gives a clear error early for values that can only be a mistake or an attack.
_SHELL_META = re.compile(r"[;&|`$<>\\\n\r\t\"'*?\[\]{}()!#~]")


def safe_name(value: str, param: str) -> str:
    """Return ``value`` if it is a plain name usable in paths and job names, else raise."""
    if not isinstance(value, str) or not _SAFE_NAME.match(value):
        raise ParamError(
            param,
            f"{value!r} is not a plain name (letters, digits, '.', '-', '_'; at most 128 characters)",
        )
    return value


def reject_shell_metacharacters(value: str, param: str) -> str:
    """Return ``value`` unless it holds a shell metacharacter such as ``;``, ``$(`` or a backtick."""
    found = _SHELL_META.search(value)
    if found:
        raise ParamError(param, f"{value!r} contains the shell metacharacter {found.group()!r}")
    return value


def resolve_inside(value: str | Path, roots: Iterable[Path], param: str, *, must_exist: bool = False) -> Path:
    """Resolve ``value`` (relative paths are taken relative to the first root) and confine it.

    Symlinks are resolved before the check, so a link pointing out of the roots is refused.
    """
    roots = [Path(r).resolve() for r in roots]
    if not roots:
        raise ValueError("resolve_inside needs at least one root")
    text = str(value)
    if not text or "\x00" in text:
        raise ParamError(param, "empty path or NUL byte")
    path = Path(text).expanduser()
    if not path.is_absolute():
        path = roots[0] / path
    path = path.resolve()
    if not any(path == root or path.is_relative_to(root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise ParamError(param, f"{path} is outside the allowed roots ({allowed})")
    if must_exist and not path.exists():
        raise ParamError(param, f"{path} does not exist")
    return path


def unit_dir(output_root: Path, production: str, unit_key: str) -> Path:
    """``<output root>/<production>/<unit key>``, with both names checked."""
    return Path(output_root) / safe_name(production, "production") / safe_name(unit_key, "unit")
