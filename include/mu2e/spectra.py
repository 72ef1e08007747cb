"""Spectrum tables and the fractions above an energy cut (spec §4, pitfalls §12.7).

The DIO, RPC and IPA tables are external data files, versioned with the campaign config:

* ``dio_al.tbl``: Al DIO spectrum, two columns (E in MeV, weight), 1.00–104.97 MeV in 0.01 MeV
  steps (10398 rows); f_DIO(E_min) sums the weights of points with E ≥ E_min.
* ``rpc_photon.tbl``: RPC photon spectrum, bin centres 0.05–139.95 MeV in 0.1 MeV steps (1400 rows);
  f_RPC sums the rows whose bin centre is ≥ E_min.
* ``ipa_efficiency.tbl``: 100 rows of (threshold = linspace(50, 100, 100), integrated efficiency);
  ε_IPA takes the first row whose threshold is strictly greater than E_min.

The RMC closure-approximation shape is computed in code (:func:`rmc_fraction`).

The files shipped in ``include/mu2e/data`` are **stand-ins** written by :func:`write_standin_tables`
(``python -m include.mu2e.spectra --write DIR``): smooth monotone spectra pinned to the spec's
check values, with the analytic end-point form (PRD 84, 013006) above 100 MeV for DIO. Replace
them with the collaboration's tables (same layout) via the ``tables_dir`` option; the table
sha256 values are recorded in every campaign config.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from include.core import atomic
from include.core.errors import InputFileError, ParamError

DEFAULT_TABLES_DIR = Path(__file__).resolve().parent / "data"
DIO_TABLE = "dio_al.tbl"
RPC_TABLE = "rpc_photon.tbl"
IPA_TABLE = "ipa_efficiency.tbl"

DIO_ROWS, DIO_FIRST, DIO_STEP = 10398, 1.00, 0.01
RPC_ROWS, RPC_FIRST, RPC_STEP = 1400, 0.05, 0.1
IPA_ROWS, IPA_LOW, IPA_HIGH = 100, 50.0, 100.0

MUON_ENERGY_AL_MEV = 105.194
"""E_µ of the bound muon in Al (PRD 84, 013006), end point of the analytic DIO form."""
AL_NUCLEUS_MASS_MEV = 25133.0
"""Mass of the Al nucleus (MeV), recoil term E²/(2M_N) of the analytic DIO form."""
RMC_FIRST_CENTRE_MEV = 57.05
RMC_BIN_MEV = 0.1


@dataclass(frozen=True)
class Table:
    """A two-column table and where it came from."""

    name: str
    x: np.ndarray
    y: np.ndarray
    sha256: str


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load(path: Path, rows: int, name: str) -> Table:
    if not path.is_file():
        raise InputFileError(path, f"spectrum table {name!r} is missing")
    try:
        data = np.loadtxt(path, comments="#", dtype=float, ndmin=2)
    except ValueError as exc:
        raise InputFileError(path, f"not a two-column numeric table: {exc}") from exc
    if data.shape != (rows, 2):
        raise InputFileError(path, f"expected {rows} rows of 2 columns, found shape {data.shape}")
    if not np.all(np.isfinite(data)) or np.any(data[:, 1] < 0):
        raise InputFileError(path, "weights must be finite and non-negative")
    return Table(name, data[:, 0].copy(), data[:, 1].copy(), _sha256(path))


@lru_cache(maxsize=16)
def _cached(path: str, rows: int, name: str, mtime_ns: int) -> Table:
    return _load(Path(path), rows, name)


def load_table(tables_dir: str | Path | None, which: str) -> Table:
    """Load ``dio``, ``rpc`` or ``ipa`` from ``tables_dir`` (default: the shipped stand-ins)."""
    files = {"dio": (DIO_TABLE, DIO_ROWS), "rpc": (RPC_TABLE, RPC_ROWS), "ipa": (IPA_TABLE, IPA_ROWS)}
    filename, rows = files[which]
    path = Path(tables_dir or DEFAULT_TABLES_DIR) / filename
    mtime = path.stat().st_mtime_ns if path.exists() else 0
    if not mtime:
        raise InputFileError(path, f"spectrum table {which!r} is missing")
    return _cached(str(path), rows, which, mtime)


def _check_range(value: float, low: float, high: float, param: str) -> None:
    if not (math.isfinite(value) and low <= value <= high):
        raise ParamError(param, f"{value} MeV is outside the table range [{low}, {high}] MeV")


def dio_fraction(emin: float, tables_dir: str | Path | None = None) -> float:
    """f_DIO: weights of table points with E ≥ ``emin`` over all weights."""
    table = load_table(tables_dir, "dio")
    _check_range(emin, table.x[0], table.x[-1], "dem_emin")
    return float(table.y[table.x >= emin - 1e-9].sum() / table.y.sum())


def rpc_fraction(emin: float, tables_dir: str | Path | None = None) -> float:
    """f_RPC: rows whose bin centre is ≥ ``emin`` over all rows (centres, not lower edges)."""
    table = load_table(tables_dir, "rpc")
    _check_range(emin, 0.0, table.x[-1], "rpc_emin")
    return float(table.y[table.x >= emin - 1e-9].sum() / table.y.sum())


def ipa_efficiency(emin: float, tables_dir: str | Path | None = None) -> float:
    """ε_IPA: efficiency of the first row whose threshold is strictly greater than ``emin``.

    No qualifying row is an error (the legacy code silently used 1.0).
    """
    table = load_table(tables_dir, "ipa")
    above = np.nonzero(table.x > emin)[0]
    if not math.isfinite(emin) or above.size == 0:
        raise ParamError("ipa_emin", f"{emin} MeV: no IPA threshold row above it (last {table.x[-1]:.3f} MeV)")
    return float(table.y[above[0]])


def rmc_fraction(emin: float, kmax: float = 90.1) -> float:
    """f_RMC: closure-approximation shape, bins from 57.05 MeV in 0.1 MeV, lower edge ≥ ``emin``.

    Bin centres c_i = 57.05 + 0.1·i for i < n = int((kmax − 57.05)/0.1); weight
    (1 − 2x + 2x²)·x·(1 − x)² with x = c/kmax. A bin counts when i ≥ round((emin − 57.0)/0.1)
    (integer bin units, not accumulated floats); normalised by all bins.
    """
    if not (math.isfinite(kmax) and kmax > RMC_FIRST_CENTRE_MEV + RMC_BIN_MEV):
        raise ParamError("rmc_kmax", f"{kmax} MeV must exceed {RMC_FIRST_CENTRE_MEV + RMC_BIN_MEV} MeV")
    n = int((kmax - RMC_FIRST_CENTRE_MEV) / RMC_BIN_MEV)
    _check_range(emin, 57.0, 57.0 + n * RMC_BIN_MEV, "rmc_emin")
    centres = RMC_FIRST_CENTRE_MEV + RMC_BIN_MEV * np.arange(n)
    x = centres / kmax
    weights = (1 - 2 * x + 2 * x**2) * x * (1 - x) ** 2
    first = round((emin - 57.0) / RMC_BIN_MEV)
    return float(weights[first:].sum() / weights.sum())


def table_hashes(tables_dir: str | Path | None = None) -> dict[str, str]:
    """sha256 of each table file (recorded in the campaign config)."""
    return {which: load_table(tables_dir, which).sha256 for which in ("dio", "rpc", "ipa")}


# -- stand-in tables ---------------------------------------------------------------------------

# Cumulative fraction above E (DIO) / above a bin centre (RPC) at the spec's check points; the
# bulk points only shape the stand-in and are not physics inputs.
_DIO_KNOTS = (
    (1.00, 1.0),
    (30.0, 0.78),
    (45.0, 0.33),
    (52.0, 0.04),
    (55.0, 3.0e-3),
    (60.0, 1.2e-4),
    (75.0, 4.188e-7),
    (90.0, 7.30e-10),
    (95.0, 3.637e-11),
    (100.0, 3.36e-13),
)
_RPC_KNOTS = (
    (0.05, 1.0),
    (50.05, 0.98884),
    (60.05, 0.97619),
    (70.05, 0.95082),
    (80.05, 0.90214),
    (100.05, 0.62),
    (110.05, 0.38),
    (120.05, 0.16),
    (130.05, 0.03),
    (139.95, 2.0e-4),
)
_IPA_POINTS = ((50.0 + 50.0 / 99.0, 0.0652), (50.0 + 40 * 50.0 / 99.0, 2.538e-6))


def _dio_delta(energy: np.ndarray) -> np.ndarray:
    return MUON_ENERGY_AL_MEV - energy - energy**2 / (2 * AL_NUCLEUS_MASS_MEV)


def standin_dio() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in Al DIO table: weights from a monotone cumulative through the check points."""
    from scipy.interpolate import PchipInterpolator

    energy = (100 + np.arange(DIO_ROWS)) / 100.0
    kx, ky = np.array(_DIO_KNOTS).T
    log_cum = PchipInterpolator(kx, np.log(ky))
    edges = np.append(energy, energy[-1] + DIO_STEP)
    cum = np.where(edges <= 100.0, np.exp(log_cum(np.minimum(edges, 100.0))), 0.0)
    tail = edges > 100.0
    cum[tail] = 3.36e-13 * (_dio_delta(edges[tail]).clip(min=0) / _dio_delta(np.array(100.0))) ** 6
    cum[-1] = 0.0
    return energy, cum[:-1] - cum[1:]


def standin_rpc() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in RPC photon table on 0.1 MeV bin centres."""
    from scipy.interpolate import PchipInterpolator

    centres = (1 + 2 * np.arange(RPC_ROWS)) * RPC_STEP / 2
    kx, ky = np.array(_RPC_KNOTS).T
    cum = np.append(PchipInterpolator(kx, ky)(centres), 0.0)
    return centres, cum[:-1] - cum[1:]


def standin_ipa() -> tuple[np.ndarray, np.ndarray]:
    """Stand-in IPA Michel efficiency: log-linear through the spec's two check rows."""
    thresholds = np.linspace(IPA_LOW, IPA_HIGH, IPA_ROWS)
    (x0, y0), (x1, y1) = _IPA_POINTS
    slope = math.log(y1 / y0) / (x1 - x0)
    return thresholds, y0 * np.exp(slope * (thresholds - x0))


def _write_table(path: Path, header: str, x: np.ndarray, y: np.ndarray, xfmt: str) -> Path:
    lines = [f"# {line}" for line in header.splitlines()]
    lines += [f"{xv:{xfmt}} {yv:.10e}" for xv, yv in zip(x, y, strict=True)]
    return atomic.write_text(path, "\n".join(lines) + "\n")


def write_standin_tables(target: str | Path) -> list[Path]:
    """Write the three stand-in tables into ``target``; deterministic bytes."""
    target = Path(target)
    note = "STAND-IN table generated by include.mu2e.spectra (replace with the collaboration table)"
    return [
        _write_table(target / DIO_TABLE, f"{note}\nAl DIO spectrum: E [MeV], weight", *standin_dio(), ".2f"),
        _write_table(
            target / RPC_TABLE, f"{note}\nRPC photon spectrum: bin centre [MeV], weight", *standin_rpc(), ".2f"
        ),
        _write_table(
            target / IPA_TABLE, f"{note}\nIPA Michel: threshold [MeV], integrated efficiency", *standin_ipa(), ".6f"
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.mu2e.spectra", description="Spectrum fractions.")
    parser.add_argument("--write", type=Path, help="write the stand-in tables into this folder")
    parser.add_argument("--tables-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.write:
        for path in write_standin_tables(args.write):
            print(path)
        return 0
    for emin in (75, 90, 95, 100):
        print(f"f_DIO(>= {emin} MeV) = {dio_fraction(emin, args.tables_dir):.4e}")
    for emin in (50, 60, 70, 80):
        print(f"f_RPC(>= {emin} MeV) = {rpc_fraction(emin, args.tables_dir):.5f}")
    for emin in (80, 85, 88):
        print(f"f_RMC(>= {emin} MeV) = {rmc_fraction(emin):.5g}")
    for emin in (50, 70):
        print(f"eps_IPA(> {emin} MeV) = {ipa_efficiency(emin, args.tables_dir):.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
