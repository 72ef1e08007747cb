"""Massi archives (spec §3): measured bunch-by-bunch luminosity, read without extracting."""

from __future__ import annotations

import re
import tarfile
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from include.core.errors import InputFileError
from include.lumi.constants import slot_to_bucket

EXPERIMENTS = ("ATLAS", "CMS")


class MassiError(InputFileError):
    """A Massi archive is missing, corrupt or lacks a bunch file (the fill gets ``skipMassi``)."""


def archive_matches(name: str, fill: int) -> bool:
    """Exactly ``<N>.tgz`` or ``<N>.zip``."""
    return re.fullmatch(rf"{fill}\.(tgz|zip)", name) is not None


def find_archive(folder: Path, fill: int) -> Path | None:
    """The archive of ``fill`` in an experiment folder (``.tgz`` preferred), or None."""
    for ext in ("tgz", "zip"):
        path = folder / f"{fill}.{ext}"
        if path.is_file() and archive_matches(path.name, fill):
            return path
    return None


def parse_rows(text: str, source: str) -> np.ndarray:
    """Whitespace-split numeric rows -> (rows, columns) float array (extra leading columns kept)."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return np.zeros((0, 6))
    width = len(lines[0].split())
    tokens = text.split()
    if len(tokens) == width * len(lines):  # fast path: a regular table
        try:
            return np.array(tokens, dtype=float).reshape(len(lines), width)
        except ValueError as exc:
            raise MassiError(source, f"non-numeric value ({exc})") from exc
    rows = [line.split() for line in lines]
    if not rows:
        return np.zeros((0, 6))
    width = min(len(r) for r in rows)
    try:
        return np.array([[float(x) for x in r[-width:]] if width < len(r) else [float(x) for x in r] for r in rows])
    except ValueError as exc:
        raise MassiError(source, f"non-numeric row ({exc})") from exc


def _read_members(path: Path, wanted: set[str]) -> dict[str, bytes]:
    """The ``wanted`` members of a tgz/zip archive, read in one sequential pass."""
    found: dict[str, bytes] = {}
    try:
        if path.suffix == ".zip":
            with zipfile.ZipFile(path) as archive:
                for name in wanted & set(archive.namelist()):
                    found[name] = archive.read(name)
        else:
            with tarfile.open(path, "r:*") as archive:
                for member in archive:
                    if member.name in wanted and member.isfile():
                        handle = archive.extractfile(member)
                        found[member.name] = handle.read() if handle else b""
    except (tarfile.TarError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise MassiError(path, f"corrupt archive ({exc})") from exc
    return found


def read_bunch_lumi(path: str | Path, fill: int, experiment: str, slots: Iterable[int]) -> dict[int, np.ndarray]:
    """``{slot: array (rows, ≥3)}`` of ``<N>/<N>_lumi_<10·slot+1>_<EXP>.txt`` for each slot.

    Columns: 0 time (UNIX s, UTC), 1 stable-beams flag, 2 luminosity (Hz/µb), 3 its error,
    4 specific luminosity, 5 its error. A missing bunch file or corrupt archive raises MassiError.
    """
    path = Path(path)
    if not path.is_file():
        raise MassiError(path, "archive does not exist")
    members = {int(s): f"{fill}/{fill}_lumi_{slot_to_bucket(int(s))}_{experiment}.txt" for s in slots}
    found = _read_members(path, set(members.values()))
    out: dict[int, np.ndarray] = {}
    for slot, member in members.items():
        if member not in found:
            raise MassiError(path, f"bunch file {member} is missing")
        data = parse_rows(found[member].decode("ascii", errors="replace"), f"{path}:{member}")
        if data.ndim != 2 or data.shape[1] < 3 or len(data) == 0:
            raise MassiError(path, f"{member}: no rows with at least 3 columns")
        out[slot] = data
    return out


def read_summary(path: str | Path, fill: int, experiment: str) -> list[str]:
    """Fields of ``<N>/<N>_summary_<EXP>.txt`` (field 3 is believed to be the integrated lumi in µb⁻¹)."""
    member = f"{fill}/{fill}_summary_{experiment}.txt"
    found = _read_members(Path(path), {member})
    if member not in found:
        raise MassiError(path, f"{member} is missing")
    return found[member].decode().split()


def bunch_lumi_on_grid(
    per_slot: dict[int, np.ndarray], slots: Iterable[int], grid: np.ndarray, scale: float
) -> np.ndarray:
    """T × nb matrix: col 2 interpolated linearly onto ``grid`` and multiplied by ``scale``."""
    slots = list(slots)
    out = np.zeros((len(grid), len(slots)))
    for i, slot in enumerate(slots):
        data = per_slot[int(slot)]
        order = np.argsort(data[:, 0], kind="stable")
        out[:, i] = np.interp(grid, data[order, 0], data[order, 2]) * scale
    return out
