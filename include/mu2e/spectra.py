"""Spectrum tables and the fractions above an energy cut (spec §4, pitfalls §12.7).

The DIO, RPC and IPA tables are the Mu2e collaboration's own, shipped unchanged in
``include/mu2e/data`` (Mu2e/Production, ``JobConfig/ensemble/tables``; provenance, sha256 and the
Apache-2.0 licence in that folder's README.md and LICENSE):

* ``heeck_finer_binning_2016_szafron.tbl``: Al DIO electron spectrum with radiative corrections
  (the 2016 calculation the collaboration uses), two columns (E in MeV, weight), 1.00–104.97 MeV
  in 0.01 MeV steps (10398 rows); f_DIO(E_min) sums the weights of points with E ≥ E_min.
* ``rpcspectrum.tbl``: RPC photon spectrum, bin centres 0.05–139.95 MeV in 0.1 MeV steps (1400 rows);
  f_RPC sums the rows whose bin centre is ≥ E_min.
* ``ipa_spec_eff.tbl``: 100 rows of (threshold = linspace(50, 100, 100), integrated efficiency of
  the IPA Michel electrons); ε_IPA takes the first row whose threshold is strictly greater than E_min.

Every fraction is a plain sum over table rows, as the collaboration's normalization code does: no
bin width, no interpolation. The RMC closure-approximation shape is computed in code
(:func:`rmc_fraction`). Another set of tables with the same file names can be used through the
``tables_dir`` option (a ``JobConfig/ensemble/tables`` checkout works as it is); the sha256 of the
tables used is recorded in every campaign config.
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

from include.core.errors import InputFileError, ParamError

DEFAULT_TABLES_DIR = Path(__file__).resolve().parent / "data"
DIO_TABLE = "heeck_finer_binning_2016_szafron.tbl"
RPC_TABLE = "rpcspectrum.tbl"
IPA_TABLE = "ipa_spec_eff.tbl"

DIO_ROWS, RPC_ROWS, IPA_ROWS = 10398, 1400, 100
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
    """Load ``dio``, ``rpc`` or ``ipa`` from ``tables_dir`` (default: the shipped collaboration tables)."""
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.mu2e.spectra", description="Spectrum fractions.")
    parser.add_argument("--tables-dir", type=Path, default=None)
    args = parser.parse_args(argv)
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
