"""Small synthetic LHE files built from the spec's §3 event (MG5 style) or in MG4 (v4) style."""

from __future__ import annotations

import random
from pathlib import Path

SPEC_EVENT = """<event>
 5      1 +6.1469300e+07 1.71340900e+02 7.81860800e-03 1.07770200e-01
       11 -1    0    0    0    0 +0.0000000000e+00 +0.0000000000e+00 +3.8269999659e+00 3.8270000000e+00 5.1100000000e-04 0.0000e+00 1.0000e+00
  9000002 -1    0    0    0    0 -0.0000000000e+00 -0.0000000000e+00 +6.0662586066e-13 1.7130000000e+02 1.7130000000e+02 0.0000e+00 -1.0000e+00
       11  1    1    2    0    0 -1.6630481877e-03 -2.5633781188e-03 +9.8779447707e-02 9.8828017520e-02 5.1100000000e-04 0.0000e+00 1.0000e+00
  9000002  1    1    2    0    0 +7.9858071728e-04 +2.9545871825e-04 +6.2739285288e-05 1.7130000000e+02 1.7130000000e+02 0.0000e+00 -1.0000e+00
     1023  1    1    2    0    0 +8.6446747041e-04 +2.2679194006e-03 +3.7281577789e+00 3.7281719804e+00 1.0000000000e-02 0.0000e+00 1.0000e+00
</event>
"""  # noqa: E501
SPEC_ROW = "74,3.827,0.098828,-0.00166305,-0.00256338,0.0987794,3.827,-0.000798581,-0.000295459,3.82694"


def header(z: float = 74.0, mg5: bool = True) -> str:
    card = f"    6 {z} # Znuc " if mg5 else f"    2 {z} # Znuc "
    version = "3.0" if mg5 else "1.0"
    return f'<LesHouchesEvents version="{version}">\n<header>\n<slha>\n{card}\n</slha>\n</header>\n<init>\n</init>\n'


def to_v4(text: str) -> str:
    """An MG5 (v5) LHE text in MG4 (v4) style: A' 622, nucleus 623, Znuc index 2, no '+' signs."""
    out = []
    for line in text.splitlines(keepends=True):
        if "Znuc" in line:
            line = line.replace(" 6 ", " 2 ", 1)
        parts = line.split()
        if len(parts) == 13 and parts[0] in ("1023", "9000002"):
            line = line.replace(" 1023 ", "  622 ", 1).replace("9000002", "    623", 1)
        out.append(line.replace("+", "") if not line.startswith("<") else line)
    return "".join(out)


def random_event(rng: random.Random, energy: float, aprime_id: int = 1023, nucleus: int = 9000002) -> str:
    """A 5-particle event with random recoil/A' momenta (MG5 number style)."""
    er = rng.uniform(0.01, energy * 0.9)
    rp = [rng.gauss(0, 0.003), rng.gauss(0, 0.003), er * 0.999]
    ap = [rng.gauss(0, 0.003), rng.gauss(0, 0.003), (energy - er) * 0.999]

    def line(pid: int, st: int, p: list[float], e: float, m: float) -> str:
        mom = " ".join(f"{v:+.10e}" for v in p)
        return f"{pid:>9d} {st:2d}    1    2    0    0 {mom} {e:.10e} {m:.10e} 0.0000e+00 1.0000e+00\n"

    return (
        "<event>\n 5      1 +6.1469300e+07 1.71340900e+02 7.81860800e-03 1.07770200e-01\n"
        + line(11, -1, [0.0, 0.0, energy], energy, 0.000511)
        + line(nucleus, -1, [0.0, 0.0, 0.0], 171.3, 171.3)
        + line(11, 1, rp, er, 0.000511)
        + line(nucleus, 1, [0.001, 0.001, 0.0001], 171.3, 171.3)
        + line(aprime_id, 1, ap, energy - er, 0.01)
        + "</event>\n"
    )


def write_library(folder: Path, energies: list[float], nevents: int, seed: int = 1, z: float = 74.0) -> Path:
    """A v5-style library folder: one file per energy with ``nevents`` random events."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    for energy in energies:
        path = folder / f"lib_IncidentEnergy_{energy}_unweighted_events.lhe"
        with open(path, "w") as handle:
            handle.write(header(z))
            for _ in range(nevents):
                handle.write(random_event(rng, energy))
            handle.write("</LesHouchesEvents>\n")
    return folder
