"""Where a fill's inputs live below the data root, and their (cached) parsing."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from include.core.errors import InputFileError
from include.lumi.config import LumiConfig
from include.lumi.fills import derive_fill_table, fill_record, read_fill_table
from include.lumi.logging_csv import LoggedVariable, read_logging_csv


@dataclass(frozen=True)
class FillInputs:
    """Input files of one fill (spec §2.2, §3)."""

    fill: int
    folder: Path  # <data root>/lumi/<data_folder>
    cfg: LumiConfig
    data_root: Path

    @property
    def basic(self) -> Path:
        return self.folder / "fill_basic_data_csvs" / f"basic_data_fill_{self.fill}.csv"

    @property
    def bbb(self) -> Path:
        return self.folder / "fill_bunchbybunch_data_csvs" / f"bunchbybunch_data_fill_{self.fill}.csv"

    @property
    def crossing(self) -> Path:
        return self.folder / "fill_crossing_data_csvs" / f"crossing_angle_fill_{self.fill}.csv"

    def csv_inputs(self) -> list[Path]:
        """Files the sb and cycle steps read (the crossing CSV only if present)."""
        for path in (self.basic, self.bbb):
            if not path.is_file():
                raise InputFileError(path, f"logging CSV of fill {self.fill} does not exist")
        return [self.basic, self.bbb] + ([self.crossing] if self.crossing.is_file() else [])

    def massi_archives(self) -> dict[str, Path]:
        """``{experiment: archive path}`` (the paths may not exist)."""
        out = {}
        for folder in self.cfg.massi_exp_folders:
            exp = folder.split("/")[0]
            out[exp] = self.cfg.massi_archive(self.folder, folder, self.fill)
        return out

    def has_massi(self) -> bool:
        """Both ATLAS and CMS archives exist (otherwise the fill is ``skipMassi``)."""
        return all(p.is_file() for p in self.massi_archives().values())


def bmodes_paths(folder: Path, year: int) -> tuple[Path, Path]:
    """(raw beam-mode logging CSV, derived table twin)."""
    base = folder / "fills_and_bmodes"
    return base / f"fills_and_bmodes_raw_{year}.csv", base / f"fills_and_bmodes_{year}.csv"


def load_fill_table(folder: Path, year: int, now: float | None = None):
    """The fills-and-beam-modes table: derived from the raw CSV, else read from its twin."""
    raw, twin = bmodes_paths(folder, year)
    if raw.is_file():
        return derive_fill_table(raw, now=now), raw
    if twin.is_file():
        return read_fill_table(twin), twin
    raise InputFileError(raw, "fills-and-beam-modes file does not exist (nor its table twin)")


def fill_times(folder: Path, year: int, fill: int) -> dict[str, float]:
    """The used bmodes fields of one fill."""
    table, source = load_fill_table(folder, year)
    return fill_record(table, fill, source)


@lru_cache(maxsize=4)
def _parse(path: str, mtime_ns: int, size: int) -> dict[str, LoggedVariable]:
    return read_logging_csv(path)


def parsed(path: Path) -> dict[str, LoggedVariable]:
    """Parsed logging CSV, cached per (path, mtime, size) so sb and cycle share one pass."""
    try:
        st = path.stat()
    except OSError as exc:
        raise InputFileError(path, "logging CSV does not exist") from exc
    return _parse(str(path), st.st_mtime_ns, st.st_size)


def interp_columns(grid: np.ndarray, t: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of every column of ``values`` (len(t) × n) onto ``grid``, NaN-aware."""
    out = np.full((len(grid), values.shape[1]), np.nan)
    finite = np.isfinite(values)
    if finite.all() and len(t) > 1:
        idx = np.clip(np.searchsorted(t, grid) - 1, 0, len(t) - 2)
        w = np.clip((grid - t[idx]) / np.where(t[idx + 1] > t[idx], t[idx + 1] - t[idx], 1.0), 0, 1)
        return values[idx] * (1 - w)[:, None] + values[idx + 1] * w[:, None]
    for j in range(values.shape[1]):
        ok = finite[:, j]
        if ok.any():
            out[:, j] = np.interp(grid, t[ok], values[ok, j])
    return out
