"""Entry point that runs one :class:`~include.core.backends.TaskCall` from a JSON file.

    python -m include.core.runcall CALL.json RESULT.json

Used by HTCondor jobs and containers. The result file (written atomically) holds
``{"ok": true, "result": ...}`` or ``{"ok": false, "error": ..., "traceback": ...}``.
Exit codes: 0 success, 2 unreadable or invalid call, 3 the function raised.
"""

from __future__ import annotations

import sys
import traceback
from pathlib import Path

from include.core import atomic
from include.core.backends import TaskCall, call_local
from include.core.errors import ProductionError

EXIT_OK = 0
EXIT_BAD_CALL = 2
EXIT_FAILED = 3


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
        atomic.write_json(result_path, {"ok": False, "error": message, "traceback": ""})
        return EXIT_BAD_CALL
    try:
        result = call_local(call)
    except Exception as exc:
        tb = traceback.format_exc()
        print(tb, file=sys.stderr)
        atomic.write_json(result_path, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": tb})
        return EXIT_FAILED
    atomic.write_json(result_path, {"ok": True, "result": result})
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
