"""Stream the dark-brem events of one LHE file (plain or gzipped), line by line.

The rules are those of ``g4db-extract-library`` (spec §5): the target Z comes from the param-card
line holding ``Znuc``; an event is an incoming lepton (status -1), one skipped line (the incoming
nucleus), the recoil lepton (+1), one skipped line (the outgoing nucleus) and the A' (+1).
Candidates that do not match are dropped; scanning continues after the consumed lines.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, NamedTuple

from include.core.errors import InputFileError

LEPTON_IDS = frozenset({11, 13})
INCOMING, OUTGOING = -1, 1
APRIME_ID_V4 = 622
APRIME_ID_V5 = 1023


class Particle(NamedTuple):
    """The fields of an LHE particle line that the extraction uses (GeV)."""

    pdg: int
    status: int
    px: float
    py: float
    pz: float
    e: float


@dataclass(frozen=True, slots=True)
class DarkBremEvent:
    """One matched event: target Z, incident lepton energy, recoil lepton and A'."""

    z: int
    incident_energy: float
    recoil: Particle
    aprime: Particle


def _particle(parts: list[bytes]) -> Particle | None:
    """The particle of an already split line, or ``None`` unless it has 11 such tokens."""
    if len(parts) < 11:
        return None
    try:
        pdg, status, _m1, _m2, _c1, _c2 = map(int, parts[:6])
        px, py, pz, e, _mass = map(float, parts[6:11])
    except ValueError:
        return None
    return Particle(pdg, status, px, py, pz, e)


def parse_particle(line: bytes) -> Particle | None:
    """The particle on ``line``, or ``None`` when the line does not hold 11 such tokens."""
    return _particle(line.split())


def _is_incoming(parts: list[bytes]) -> bool:
    """Cheap pre-check of status -1 (most lines are rejected here without a full parse)."""
    if len(parts) < 11:
        return False
    if parts[1] == b"-1":
        return True
    try:
        return int(parts[1]) == INCOMING
    except ValueError:
        return False


def _znuc(line: bytes, path: Path) -> int:
    parts = line.split()
    try:
        int(parts[0])
        return int(float(parts[1]))
    except (IndexError, ValueError) as exc:
        raise InputFileError(path, f"Unable to deduce target Z from the Znuc line {line.strip()!r}") from exc


def open_lhe(path: Path) -> IO[bytes]:
    """Open an ``.lhe`` or ``.lhe.gz`` file for binary line reading."""
    try:
        return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")
    except OSError as exc:
        raise InputFileError(path, f"cannot open: {exc.strerror or exc}") from exc


def iter_events(path: str | Path, aprime_id: int) -> Iterator[DarkBremEvent]:
    """Yield the dark-brem events of one LHE file in file order (memory independent of its size)."""
    path = Path(path)
    z: int | None = None
    with open_lhe(path) as handle:
        lines = iter(handle)
        try:
            for line in lines:
                if b"Znuc" in line:
                    z = _znuc(line, path)
                    continue
                parts = line.split()
                if not _is_incoming(parts):
                    continue
                incoming = _particle(parts)
                if incoming is None or incoming.pdg not in LEPTON_IDS or incoming.status != INCOMING:
                    continue
                next(lines, None)  # the incoming nucleus
                recoil = parse_particle(next(lines, b""))
                if recoil is None or recoil.pdg not in LEPTON_IDS or recoil.status != OUTGOING:
                    continue
                next(lines, None)  # the outgoing nucleus
                aprime = parse_particle(next(lines, b""))
                if aprime is None or aprime.pdg != aprime_id or aprime.status != OUTGOING:
                    continue
                if z is None:
                    raise InputFileError(path, "Did not deduce target Z before starting to deduce events")
                yield DarkBremEvent(z, incoming.e, recoil, aprime)
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            raise InputFileError(path, f"unreadable or truncated: {exc}") from exc
