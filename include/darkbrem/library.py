"""What the dark-brem library generator (dbgen) does, by version: options, targets, grid, names.

Spec §1-2: v4.x takes underscore options through the image entrypoint with fixed ``/output`` and
``/working`` mounts; v5.0 the same with an 8 GeV default; v5.1+ has no entrypoint and a
``dark-brem-lib-gen`` command with dashed options, ``--out-dir`` and ``--scratch``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from include.core.errors import ParamError
from include.darkbrem.lhe import APRIME_ID_V4, APRIME_ID_V5

# Released dbgen versions this production knows (spec §1, §2.1).
KNOWN_VERSIONS = ("4.0", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "5.0", "5.1", "5.2")


@dataclass(frozen=True)
class Target:
    """A target nucleus: mass (GeV), A, Z and the first dbgen version that offers it."""

    name: str
    mass_gev: float
    a: float
    z: int
    since: tuple[int, int] = (4, 0)


TARGETS: dict[str, Target] = {
    t.name: t
    for t in (
        Target("tungsten", 171.3, 184.0, 74),
        Target("silicon", 26.15, 28.08, 14),
        Target("copper", 59.39, 63.55, 29),
        Target("lead", 194.3, 207.2, 82),
        Target("oxygen", 15.02, 15.99, 8, (4, 5)),
        Target("lutetium", 164.3, 175.0, 71, (4, 6)),
        Target("yttrium", 83.57, 89.00, 39, (4, 6)),
    )
}
LEPTONS = {"electron": (0.000511, 11), "muon": (0.10565837, 13)}
MAX_EVENTS_PER_SEED = 100_000  # an MG4 limit


@dataclass(frozen=True)
class Version:
    """A dbgen version and what follows from it."""

    major: int
    minor: int
    patch: int = 0

    @classmethod
    def parse(cls, text: str, param: str = "generator_version") -> Version:
        match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", str(text).strip())
        if not match or f"{match.group(1)}.{match.group(2)}" not in KNOWN_VERSIONS:
            raise ParamError(param, f"{text!r} is not a known dbgen version ({', '.join(KNOWN_VERSIONS)})")
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3) or 0))

    def __str__(self) -> str:
        return f"v{self.major}.{self.minor}.{self.patch}"

    @property
    def key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def dashed_cli(self) -> bool:
        """v5.1+: no entrypoint, ``dark-brem-lib-gen`` with dashed options."""
        return self.key >= (5, 1)

    @property
    def aprime_id(self) -> int:
        return APRIME_ID_V4 if self.major == 4 else APRIME_ID_V5

    @property
    def default_max_energy(self) -> float:
        return 4.0 if self.major == 4 else 8.0

    @property
    def multi_target(self) -> bool:
        return self.key >= (4, 5)

    @property
    def target_in_file_names(self) -> bool:
        return self.key >= (4, 5)


def check_targets(targets: list[str], version: Version) -> list[str]:
    """Validate the target list against the version (oxygen from 4.5, lutetium/yttrium from 4.6)."""
    if not targets:
        raise ParamError("targets", "at least one target is needed")
    if len(set(targets)) != len(targets):
        raise ParamError("targets", f"{targets} lists a target twice")
    for name in targets:
        if name not in TARGETS:
            raise ParamError("targets", f"{name!r} is not one of {', '.join(TARGETS)}")
        if version.key < TARGETS[name].since:
            since = ".".join(map(str, TARGETS[name].since))
            raise ParamError("targets", f"{name!r} needs dbgen >= v{since} (have {version})")
    if len(targets) > 1 and not version.multi_target:
        raise ParamError("targets", f"several targets need dbgen >= v4.5 (have {version})")
    return targets


def energy_grid(max_energy: float, min_energy: float | None = None, rel_step: float = 0.1) -> list[float]:
    """The incident energies dbgen generates: from max, while E > min·(1 - step), E <- round(E·(1 - step), 3)."""
    min_energy = max_energy / 2 if min_energy is None else min_energy
    grid, energy = [], float(max_energy)
    while energy > min_energy * (1 - rel_step):
        grid.append(energy)
        energy = round(energy * (1 - rel_step), 3)
    return grid


def library_name(
    *,
    apmass_gev: float,
    run: int,
    targets: list[str],
    lepton: str = "electron",
    max_energy: float = 4.0,
    min_energy: float | None = None,
    rel_step: float = 0.1,
) -> str:
    """``<lepton>_<targets>_MaxE_<max>_MinE_<min>_RelEStep_<step>_UndecayedAP_mA_<m>_run_<run>`` (str(float))."""
    min_energy = max_energy / 2 if min_energy is None else min_energy
    return (
        f"{lepton}_{''.join(targets)}_MaxE_{float(max_energy)}_MinE_{float(min_energy)}"
        f"_RelEStep_{float(rel_step)}_UndecayedAP_mA_{float(apmass_gev)}_run_{run}"
    )


def lhe_file_names(name: str, targets: list[str], grid: list[float], version: Version) -> list[str]:
    """The LHE files of a library: ``<name>[_<target>]_IncidentEnergy_<E>_unweighted_events.lhe``."""
    names = []
    for target in targets:
        part = f"_{target}" if version.target_in_file_names else ""
        names += [f"{name}{part}_IncidentEnergy_{energy}_unweighted_events.lhe" for energy in grid]
    return names


def expected_events(n_targets: int, n_energies: int, nevents: int) -> int:
    """Events in a complete library: targets x energies x events per point."""
    return n_targets * n_energies * nevents
