"""Stand-in for ldmx-sw's ``fire``: run a config script, then a toy "simulation" from the library.

Contract kept from the real program (spec §6): the config is the first argument containing
".py"; every argument after it reaches the script as ``sys.argv[1:]``; the script's directory goes
on ``sys.path``; the last ``ldmxcfg.Process`` it builds is run; the dark-brem library is read with
the G4DarkBreM reader rules (first line skipped, stop at the first empty line, exactly 10 columns,
``BadConf`` when empty); seeds come from ``p.run``. Instead of Geant4 it samples library events
at the beam energy and writes them with uproot to ``p.outputFiles[0]`` (tree ``LDMX_Events``).
"""

from __future__ import annotations

import gzip
import os
import random
import runpy
import sys


class BadConf(Exception):
    pass


def load_library(path: str) -> dict[tuple[int, float], list[list[float]]]:
    entries = [path] if os.path.isfile(path) else [os.path.join(path, n) for n in sorted(os.listdir(path))]
    table: dict[tuple[int, float], list[list[float]]] = {}
    for entry in entries:
        if not entry.endswith((".csv", ".csv.gz")):
            continue
        opener = gzip.open if entry.endswith(".gz") else open
        with opener(entry, "rt") as handle:
            handle.readline()
            for line in handle:
                line = line.rstrip("\n")
                if not line:
                    break
                cells = line.split(",")
                if len(cells) != 10:
                    raise BadConf(f"Malformed row in {entry}: not exactly 10 columns: {line}")
                values = [float(c) if c else -9999.0 for c in cells]
                table.setdefault((int(values[0]), values[1]), []).append(values[2:])
    if not table:
        raise BadConf(f"BadConf : Unable to find any library entries at '{path}'")
    return table


def simulate(process) -> str:
    import numpy as np
    import uproot

    (sim,) = [s for s in process.sequence if hasattr(s, "library")]
    table = load_library(sim.library)
    run = process.run if process.run >= 0 else 1
    rng = random.Random(run)
    energies = sorted({e for (_z, e) in table})
    above = [e for e in energies if e >= sim.beam_energy]
    energy = above[0] if above else energies[-1]
    z = min(z for (z, e) in table if e == energy)
    rows = table[(z, energy)]
    picked = np.array([rows[rng.randrange(len(rows))] for _ in range(process.maxEvents)], dtype=np.float64)
    n = len(picked)
    branches = {
        "eventNumber": np.arange(1, n + 1, dtype=np.int32),
        "run": np.full(n, run, dtype=np.int32),
        "targetZ": np.full(n, z, dtype=np.int32),
        "incidentEnergy": np.full(n, energy),
        "recoilE": picked[:, 0],
        "recoilPx": picked[:, 1],
        "recoilPy": picked[:, 2],
        "recoilPz": picked[:, 3],
        "aprimeE": picked[:, 4] - picked[:, 0],
        "aprimePx": picked[:, 5] - picked[:, 1],
        "aprimePy": picked[:, 6] - picked[:, 2],
        "aprimePz": picked[:, 7] - picked[:, 3],
        "apMassMeV": np.full(n, sim.ap_mass),
    }
    out = process.outputFiles[0]
    with uproot.recreate(out) as handle:
        handle["LDMX_Events"] = branches
    return out


def main(argv: list[str]) -> int:
    for i, arg in enumerate(argv):
        if ".py" in arg:
            config, rest = arg, argv[i + 1 :]
            break
    else:
        print("fire: no config script (no argument contains '.py')", file=sys.stderr)
        return 1
    sys.argv = [config, *rest]
    sys.path.insert(0, os.path.dirname(os.path.abspath(config)))
    from LDMX.Framework import ldmxcfg

    runpy.run_path(config, run_name="__main__")
    process = ldmxcfg.Process.lastProcess
    if process is None:
        print("fire: the config did not create a Process", file=sys.stderr)
        return 1
    try:
        out = simulate(process)
    except BadConf as exc:
        print(str(exc), file=sys.stderr)
        return 127
    print(f"fire: wrote {process.maxEvents} events to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
