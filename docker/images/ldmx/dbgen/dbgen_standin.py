"""Stand-in for the dark-brem-lib-gen (dbgen) image: same options, layout and file names, toy physics.

It honours the container contract of the real generator (spec §2): v4.x/v5.0 style (entrypoint,
underscore options, output in /output, scratch in /working) or v5.1+ style (``dark-brem-lib-gen``
with dashed options, --out-dir, --scratch); the library directory and LHE file names follow the
real naming; LHE files hold a MadGraph-like header with the ``Znuc`` param-card line and
5-particle dark-brem events (A' id 622 for v4, 1023 for v5). The kinematics are a simple toy
(seeded by --run), not MadGraph. Standard library only.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import sys

TARGETS = {
    "tungsten": (171.3, 184.0, 74),
    "silicon": (26.15, 28.08, 14),
    "copper": (59.39, 63.55, 29),
    "lead": (194.3, 207.2, 82),
    "oxygen": (15.02, 15.99, 8),
    "lutetium": (164.3, 175.0, 71),
    "yttrium": (83.57, 89.00, 39),
}
LEPTONS = {"electron": (0.000511, 11), "muon": (0.10565837, 13)}


def parse(argv: list[str], version: tuple[int, int]) -> argparse.Namespace:
    dashed = version >= (5, 1)

    def opt(name: str) -> str:
        return "--" + (name.replace("_", "-") if dashed else name)

    p = argparse.ArgumentParser(prog="dark-brem-lib-gen" if dashed else "dbgen")
    p.add_argument(opt("run"), dest="run", type=int, default=3000)
    p.add_argument(opt("nevents"), dest="nevents", type=int, default=20000)
    p.add_argument(opt("max_energy"), dest="max_energy", type=float, default=4.0 if version[0] == 4 else 8.0)
    p.add_argument(opt("min_energy"), dest="min_energy", type=float, default=None)
    p.add_argument(opt("rel_step"), dest="rel_step", type=float, default=0.1)
    p.add_argument(opt("max_recoil"), dest="max_recoil", default="1d5")
    p.add_argument(opt("apmass"), dest="apmass", type=float, default=0.01)
    nargs = "+" if version >= (4, 5) else None
    default = ["tungsten"] if version >= (4, 5) else "tungsten"
    p.add_argument(opt("target"), dest="target", nargs=nargs, default=default, choices=sorted(TARGETS))
    p.add_argument(opt("lepton"), dest="lepton", default="electron", choices=sorted(LEPTONS))
    p.add_argument("--pack", action="store_true")
    if dashed:
        p.add_argument("-o", "--out-dir", dest="out_dir", default=os.getcwd())
        default_scratch = os.path.join(os.environ.get("HOME", "/tmp"), "dark-brem-lib-gen-scratch")
        p.add_argument("-s", "--scratch", dest="scratch", default=default_scratch)
    args = p.parse_args(argv)
    if not dashed:
        args.out_dir, args.scratch = "/output", "/working"
    if isinstance(args.target, str):
        args.target = [args.target]
    if args.min_energy is None:
        args.min_energy = args.max_energy / 2
    return args


def energy_grid(max_e: float, min_e: float, step: float) -> list[float]:
    grid, energy = [], max_e
    while energy > min_e * (1 - step):
        grid.append(energy)
        energy = round(energy * (1 - step), 3)
    return grid


def fmt(value: float, mg5: bool) -> str:
    return f"{value:+.10e}" if mg5 else f"{value:.10e}"


def header(target: str, energy: float, args: argparse.Namespace, mg5: bool, nucleus_id: int, lepton_id: int) -> str:
    mass, a, z = TARGETS[target]
    block, index = ("frblock", 6) if mg5 else ("MGUSER", 2)
    version = "3.0" if mg5 else "1.0"
    return (
        f'<LesHouchesEvents version="{version}">\n<header>\n'
        "<!-- stand-in dark-brem library (toy kinematics, not MadGraph) -->\n"
        f"<MGVersion>\n{'3.5.6' if mg5 else '4.5.2'}\n</MGVersion>\n"
        "<slha>\n"
        f"Block {block}\n    {index} {float(z)} # Znuc \n    {index + 1} {a} # Anuc \n"
        f"    {index + 2} {mass} # Mnuc \n"
        f"DECAY  {nucleus_id} 0.0\n"
        "</slha>\n"
        "<MGGenerationInfo>\n"
        f"#  Number of Events        :       {args.nevents}\n"
        "#  Integrated weight (pb)  :  1.0\n"
        "</MGGenerationInfo>\n"
        "</header>\n<init>\n"
        f"{lepton_id} {nucleus_id} {energy:.6e} {mass:.6e} 0 0 0 0 -4 1\n"
        "1.0e+00 1.0e-02 1.0e+00 1\n</init>\n"
    )


def event(rng: random.Random, energy: float, args, mg5: bool, ap_id: int, nucleus_id: int, target: str) -> str:
    m_l, lepton_id = LEPTONS[args.lepton]
    mass = TARGETS[target][0]
    m_a = args.apmass
    # toy: A' takes most of the energy, small transverse momenta
    while True:
        x = 1.0 - rng.random() ** 3
        e_a = x * energy
        e_r = energy - e_a
        if e_a > m_a * 1.01 and e_r > m_l * 1.01:
            break
    pt_r = min(abs(rng.gauss(0.0, 0.004)), 0.5 * math.sqrt(e_r**2 - m_l**2))
    phi = rng.uniform(0, 2 * math.pi)
    px_r, py_r = pt_r * math.cos(phi), pt_r * math.sin(phi)
    pz_r = math.sqrt(max(e_r**2 - m_l**2 - pt_r**2, 0.0))
    px_a, py_a = -px_r + rng.gauss(0, 0.001), -py_r + rng.gauss(0, 0.001)
    pt_a = math.hypot(px_a, py_a)
    pz_a = math.sqrt(max(e_a**2 - m_a**2 - pt_a**2, 0.0))
    px_n, py_n, pz_n = -(px_r + px_a), -(py_r + py_a), energy - pz_r - pz_a

    def line(pid: int, status: int, mothers: tuple[int, int], p: tuple[float, float, float, float], m: float) -> str:
        mom = " ".join(fmt(v, mg5) for v in p[:3])
        return (
            f"{pid:>9d} {status:2d} {mothers[0]:4d} {mothers[1]:4d}    0    0 {mom} "
            f"{p[3]:.10e} {m:.10e} 0.0000e+00 {1.0:.4e}"
        )

    lines = [
        f" 5      1 {fmt(1.0, mg5)} 1.71340900e+02 7.81860800e-03 1.07770200e-01",
        line(lepton_id, -1, (0, 0), (0.0, 0.0, math.sqrt(energy**2 - m_l**2), energy), m_l),
        line(nucleus_id, -1, (0, 0), (0.0, 0.0, 0.0, mass), mass),
        line(lepton_id, 1, (1, 2), (px_r, py_r, pz_r, e_r), m_l),
        line(nucleus_id, 1, (1, 2), (px_n, py_n, pz_n, mass), mass),
        line(ap_id, 1, (1, 2), (px_a, py_a, pz_a, e_a), m_a),
    ]
    return "<event>\n" + "\n".join(lines) + "\n</event>\n"


def main(argv: list[str]) -> int:
    version = tuple(int(v) for v in os.environ.get("STANDIN_DBGEN_VERSION", "4.6").split(".")[:2])
    args = parse(argv, version)  # type: ignore[arg-type]
    if args.pack and version >= (5, 1):
        raise NameError("name 'pack' is not defined")  # as broken upstream
    if len(args.target) > 1 and version < (4, 5):
        print("several targets need v4.5+", file=sys.stderr)
        return 2
    mg5 = version[0] >= 5
    ap_id, nucleus_id = (1023, 9000002) if mg5 else (622, 623)
    lepton_id = LEPTONS[args.lepton][1]
    name = (
        f"{args.lepton}_{''.join(args.target)}_MaxE_{args.max_energy}_MinE_{args.min_energy}"
        f"_RelEStep_{args.rel_step}_UndecayedAP_mA_{args.apmass}_run_{args.run}"
    )
    # dbgen copies MadGraph into <scratch>/<name> and refuses an existing destination
    work = os.path.join(args.scratch, name)
    os.makedirs(args.scratch, exist_ok=True)
    os.mkdir(work)
    out = os.path.join(args.out_dir, name)
    os.makedirs(out, exist_ok=True)
    rng = random.Random(args.run)
    for target in args.target:
        for energy in energy_grid(args.max_energy, args.min_energy, args.rel_step):
            part = f"_{target}" if version >= (4, 5) else ""
            path = os.path.join(out, f"{name}{part}_IncidentEnergy_{energy}_unweighted_events.lhe")
            with open(path, "w") as handle:
                handle.write(header(target, energy, args, mg5, nucleus_id, lepton_id))
                for _ in range(args.nevents):
                    handle.write(event(rng, energy, args, mg5, ap_id, nucleus_id, target))
                handle.write("</LesHouchesEvents>\n")
            print(f"wrote {path}", flush=True)
    shutil.rmtree(work)
    if args.pack:
        shutil.make_archive(out, "gztar", args.out_dir, name)
        shutil.rmtree(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
