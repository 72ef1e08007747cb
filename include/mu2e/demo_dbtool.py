"""DEMO STAND-IN for the Mu2e conditions ``dbTool``: the Fermilab conditions database cannot be
reached from here, so the demo and the tests query this instead. Production runs the real
``dbTool`` of a Mu2e environment (the ``HEP_MU2E_DBTOOL`` setting, else ``dbTool`` on PATH).

:func:`write_dbtool` writes an executable that answers ``print-run ... --table SimEfficiencies2
--content`` with fixed rows in dbTool's layout (a ``TABLE`` line, a ``#`` header, CSV rows) and
fails like the real tool for any other table. Its rows (:data:`ROWS`) are made up (the spec's
example values except ``MuminusStopsCat`` and ``IPAStopsCat``), not a database answer.

The demo generator (:mod:`include.mu2e.demo`) writes it to ``<data root>/mu2e/demo-dbtool/dbTool``,
which ``scripts/env.sh`` names in ``HEP_MU2E_DBTOOL``; the tests write their own copies (optionally
failing, or with other rows) and read the argv of every call from ``calls.jsonl``.
:func:`is_demo_dbtool` tells it from a real tool, so the query task says in its log when the
stand-in answered.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MARKER = "hep-productions demo stand-in dbTool"
"""Written into the executable's second line; :func:`is_demo_dbtool` looks for it."""
DEMO_PATH = Path("demo-dbtool") / "dbTool"
"""Where the demo puts the stand-in, relative to ``<data root>/mu2e``."""

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
# {marker}: answers SimEfficiencies2 queries with fixed rows (written by include/mu2e/demo_dbtool.py;
# the Mu2e conditions database cannot be reached from here). Not for production.
import json, sys
from pathlib import Path
argv = sys.argv[1:]
calls = {calls!r}
if calls:
    with Path(calls).open("a") as log:
        log.write(json.dumps(argv) + "\\n")
if {exit_code}:
    print("DbReader: query failed, retrying exhausted: connection refused", file=sys.stderr)
    sys.exit({exit_code})
if argv[:1] != ["print-run"] or "--table" not in argv or argv[argv.index("--table") + 1] != "SimEfficiencies2":
    print("unknown table", file=sys.stderr)
    sys.exit(1)
print("TABLE SimEfficiencies2")
print("# tag,numerator,denominator,eff")
for tag, (num, den, eff) in json.loads({rows!r}).items():
    print(f"{{tag}},{{num}},{{den}},{{eff}}")
"""


def write_dbtool(
    folder: Path,
    rows: dict[str, tuple[float, float, float]] | None = None,
    exit_code: int = 0,
    *,
    log_calls: bool = True,
) -> Path:
    """Write the stand-in as ``folder/dbTool``; with ``log_calls`` its calls go to ``folder/calls.jsonl``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "dbTool"
    text = _SCRIPT.format(
        python=sys.executable,
        marker=MARKER,
        calls=str(folder / "calls.jsonl") if log_calls else "",
        exit_code=exit_code,
        rows=json.dumps(ROWS if rows is None else rows),
    )
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.chmod(0o755)
    tmp.replace(path)
    return path


def is_demo_dbtool(executable: str | Path) -> bool:
    """True if ``executable`` (a path, or a name on PATH) is this stand-in."""
    import shutil

    found = shutil.which(str(executable))
    if found is None:
        return False
    try:
        with open(found, "rb") as handle:
            head = handle.read(512)
    except OSError:
        return False
    return MARKER.encode() in head


def calls(folder: Path) -> list[list[str]]:
    """argv of every call the stand-in received."""
    log = Path(folder) / "calls.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
