"""A stand-in ``dbTool`` for tests: the Mu2e conditions database (Fermilab) cannot be reached here.

:func:`write_dbtool` writes an executable that answers ``print-run ... --table SimEfficiencies2
--content`` with the given rows in dbTool's layout (a ``TABLE`` line, a ``#`` header, CSV rows),
records its argv, and fails like the real tool for any other table.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROWS = {
    "MuBeamCat": (0, 0, 0.00432),
    "MuminusStopsCat": (0, 0, 3.6111e-4),
    "IPAStopsCat": (0, 0, 2.05e-5),
    "PiBeamCat": (0, 0, 0.001880093),
    "PiTargetStops": (41324703, 80000000, 0.5165587875),
    "PiMinusFilter": (6634478, 41324703, 0.16054),
    "PiTotalLifetimeWeight_filter": (0, 0, 0),
    "PiSelectedLifetimeWeight_filter": (0, 0, 0),
    "PiSelectedLifetimeWeight_sampler": (0, 0, 2393.604874),
    "PhysicalPionStops": (10000000000, 10000000000, 1.0),
}

_SCRIPT = """#!{python}
import json, sys
from pathlib import Path
argv = sys.argv[1:]
Path({calls!r}).open("a").write(json.dumps(argv) + "\\n")
if {exit_code}:
    print("DbReader: query failed, retrying exhausted: connection refused", file=sys.stderr)
    sys.exit({exit_code})
if argv[:1] != ["print-run"] or argv[argv.index("--table") + 1] != "SimEfficiencies2":
    print("unknown table", file=sys.stderr)
    sys.exit(1)
print("TABLE SimEfficiencies2")
print("# tag,numerator,denominator,eff")
for tag, (num, den, eff) in json.loads({rows!r}).items():
    print(f"{{tag}},{{num}},{{den}},{{eff}}")
"""


def write_dbtool(folder: Path, rows: dict[str, tuple[float, float, float]] | None = None, exit_code: int = 0) -> Path:
    """Write the stand-in into ``folder``; its calls are appended to ``folder/calls.jsonl``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dbTool"
    text = _SCRIPT.format(
        python=sys.executable,
        calls=str(folder / "calls.jsonl"),
        exit_code=exit_code,
        rows=json.dumps(ROWS if rows is None else rows),
    )
    path.write_text(text)
    path.chmod(0o755)
    return path


def calls(folder: Path) -> list[list[str]]:
    """argv of every call the stand-in received."""
    log = folder / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
