"""Stand-in for ``g4db-extract-library`` in the ldmx image: the legacy behaviour, simply written.

Reads every .lhe/.lhe.gz file of a directory (sorted by name), keeps the dark-brem events
(incoming lepton, skip one line, recoil lepton, skip one line, A' with --aprime-id, default 622
as in the legacy tool), sorts by (Z, incident energy) and writes ``<dir>.csv`` with ``%g``
numbers. Like the legacy tool it exits 0 with a header-only CSV when nothing matches. It holds
the whole library in memory (the production path uses the streaming native extraction).
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys

HEADER = (
    "target_Z,incident_energy,recoil_energy,recoil_px,recoil_py,recoil_pz,"
    "centerMomentum_energy,centerMomentum_px,centerMomentum_py,centerMomentum_pz"
)


def particle(line: str):
    t = line.split()
    try:
        return int(t[0]), int(t[1]), [float(v) for v in t[6:10]], float(t[10])
    except (ValueError, IndexError):
        return None


def read(path: str, aprime_id: int) -> list[tuple[int, float, list[float]]]:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as handle:
        lines = handle.read().splitlines()
    rows, z, i = [], None, 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if "Znuc" in line:
            z = int(float(line.split()[1]))
            continue
        inc = particle(line)
        if not inc or inc[0] not in (11, 13) or inc[1] != -1:
            continue
        rec = particle(lines[i + 1]) if i + 1 < len(lines) else None
        i += 2
        if not rec or rec[0] not in (11, 13) or rec[1] != 1:
            continue
        ap = particle(lines[i + 1]) if i + 1 < len(lines) else None
        i += 2
        if not ap or ap[0] != aprime_id or ap[1] != 1:
            continue
        if z is None:
            raise SystemExit("Did not deduce target Z before starting to deduce events")
        px, py, pz, e = rec[2]
        apx, apy, apz, ae = ap[2]
        rows.append((z, inc[2][3], [e, px, py, pz, e + ae, px + apx, py + apy, pz + apz]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="g4db-extract-library")
    parser.add_argument("library")
    parser.add_argument("-o", "--output")
    parser.add_argument("--aprime-id", type=int, default=622)
    args = parser.parse_args()
    lib = args.library.rstrip("/")
    output = args.output or lib + ".csv"
    rows = []
    for name in sorted(os.listdir(lib)):
        if name.endswith((".lhe", ".lhe.gz")):
            rows += read(os.path.join(lib, name), args.aprime_id)
    rows.sort(key=lambda r: (r[0], r[1]))
    with open(output, "w") as out:
        out.write(HEADER + "\n")
        for z, energy, values in rows:
            out.write(f"{z},{energy:g}," + ",".join(f"{v:g}" for v in values) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
