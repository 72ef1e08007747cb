"""Entry point that runs one :class:`~include.core.backends.TaskCall` from a JSON file.

    python -m include.core.runcall CALL.json RESULT.json

Used by HTCondor jobs and containers; the worker runs :func:`structured_call` in-process, so every
backend yields the same structured result (written atomically here)::

    {"ok": true, "result": ...}
    {"ok": false, "error_type": "InputFileError", "message": "...", "permanent": true,
     "error": "InputFileError: ...", "traceback": "..."}

``permanent`` is :func:`include.core.errors.is_permanent` of what the function raised: a retry
cannot fix it (bad parameter, bad input). Exit codes: 0 success, 2 unreadable or invalid call,
3 the function raised.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path
from typing import Any

from include.core import atomic
from include.core.backends import TaskCall, call_local
from include.core.errors import ProductionError, is_permanent

EXIT_OK = 0
EXIT_BAD_CALL = 2
EXIT_FAILED = 3


def failure(exc: BaseException, tb: str = "") -> dict[str, Any]:
    """The structured result of a call that raised ``exc``."""
    return {
        "ok": False,
        "error_type": type(exc).__name__,
        "message": str(exc),
        "permanent": is_permanent(exc),
        "error": f"{type(exc).__name__}: {exc}",
        "traceback": tb,
    }


def structured_call(call: TaskCall, passthrough: tuple[type[BaseException], ...] = ()) -> dict[str, Any]:
    """Run ``call`` in this process and return its structured result.

    Raises only what ``passthrough`` names (what the caller handles itself, e.g. a busy unit).
    """
    try:
        return {"ok": True, "result": call_local(call)}
    except passthrough:
        raise
    except Exception as exc:
        return failure(exc, traceback.format_exc())


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m include.core.runcall CALL.json RESULT.json", file=sys.stderr)
        return EXIT_BAD_CALL
    call_path, result_path = Path(args[0]), Path(args[1])
    try:
        call = TaskCall.from_json(call_path.read_text())
    except (OSError, ValueError, KeyError, ProductionError) as exc:
        message = f"cannot read call {call_path}: {exc}"
        print(message, file=sys.stderr)
        # an unreadable file may be a shared file system's delay (retried); a malformed call is not
        permanent = not isinstance(exc, OSError)
        bad = {**failure(exc), "message": message, "error": message, "permanent": permanent}
        atomic.write_json(result_path, bad)
        return EXIT_BAD_CALL
    result = structured_call(call)
    if not result["ok"]:
        print(result["traceback"], file=sys.stderr)
    atomic.write_json(result_path, result)
    return EXIT_OK if result["ok"] else EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
