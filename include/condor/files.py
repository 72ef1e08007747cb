"""Small file helpers shared by the operator and the ``condor`` backend."""

from __future__ import annotations

from pathlib import Path

TAIL_LINES = 20


def tail(path: str | Path, lines: int = TAIL_LINES) -> str:
    """Last ``lines`` lines of a text file (reads at most its last 64 KiB; '' if missing)."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 64 * 1024))
            text = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
