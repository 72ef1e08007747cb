"""The shipped spectrum tables are the Mu2e collaboration's, unchanged, and physically sound.

The check values of spec §4 are in ``test_mu2e_normalizations.py``; here: provenance (the files,
their sha256 in the folder's README and in every campaign config) and cross-checks of the tables
against the published analytic forms they must agree with.
"""

from __future__ import annotations

import hashlib
import math
import re
from pathlib import Path

import numpy as np
import pytest

from include.mu2e import spectra
from include.mu2e.normalizations import Normalization, NormParams

TABLES = {"dio": spectra.DIO_TABLE, "rpc": spectra.RPC_TABLE, "ipa": spectra.IPA_TABLE}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_package_holds_the_three_tables_with_their_provenance_and_nothing_generated():
    names = {p.name for p in spectra.DEFAULT_TABLES_DIR.iterdir()}
    assert names == {*TABLES.values(), "README.md", "LICENSE"}
    assert "Apache License" in (spectra.DEFAULT_TABLES_DIR / "LICENSE").read_text()
    for name in TABLES.values():
        text = (spectra.DEFAULT_TABLES_DIR / name).read_text()
        assert "#" not in text and "generated" not in text.lower()


def test_the_readme_records_each_table_sha256():
    readme = (spectra.DEFAULT_TABLES_DIR / "README.md").read_text()
    for name in TABLES.values():
        (row,) = [line for line in readme.splitlines() if line.startswith(f"| `{name}`")]
        assert re.findall(r"`([0-9a-f]{64})`", row) == [_sha256(spectra.DEFAULT_TABLES_DIR / name)]


def test_the_shipped_tables_are_the_collaboration_files(shared_data: Path):
    source = shared_data / "mu2e"
    if not source.is_dir():
        pytest.skip(f"the collaboration's tables are not at {source}")
    for name in TABLES.values():
        assert _sha256(spectra.DEFAULT_TABLES_DIR / name) == _sha256(source / name), name


def test_every_campaign_config_records_the_tables_sha256():
    report = Normalization(NormParams()).report()
    assert report["tables"] == {k: _sha256(spectra.DEFAULT_TABLES_DIR / v) for k, v in TABLES.items()}


@pytest.mark.parametrize(("which", "rows", "first", "last", "step"), [
    ("dio", spectra.DIO_ROWS, 1.00, 104.97, 0.01),
    ("rpc", spectra.RPC_ROWS, 0.05, 139.95, 0.1),
    ("ipa", spectra.IPA_ROWS, 50.0, 100.0, 50.0 / 99.0),
])  # fmt: skip
def test_table_grids(which: str, rows: int, first: float, last: float, step: float):
    table = spectra.load_table(None, which)
    assert len(table.x) == rows
    assert (table.x[0], table.x[-1]) == pytest.approx((first, last), abs=1e-9)
    np.testing.assert_allclose(np.diff(table.x), step, atol=1e-9)


# Bistirlich et al., Phys. Rev. C 5, 1867 (1972): the fit to the radiative pion capture photon
# spectrum that Mu2e simulates, w(E) = (E_max - E)^a exp(-(E_max - g E)/tau) (c0 + c1 E) below E_max.
BISTIRLICH = {"emax": 134.530, "alpha": 1.29931, "gamma": 0.928705, "tau": 9.39676, "c0": 4.77611e-2, "c1": -3.26349e-4}


def test_rpc_table_is_the_bistirlich_fit_at_bin_centres():
    table = spectra.load_table(None, "rpc")
    f = BISTIRLICH
    below = np.clip(f["emax"] - table.x, 0.0, None)
    fit = below ** f["alpha"] * np.exp(-(f["emax"] - f["gamma"] * table.x) / f["tau"]) * (f["c0"] + f["c1"] * table.x)
    np.testing.assert_allclose(table.y / table.y.sum(), fit / fit.sum(), rtol=0, atol=1e-7)
    assert table.y[table.x > f["emax"]].sum() == 0.0
    assert 100.0 < table.x[np.argmax(table.y)] < 125.0  # RPC photons peak near 110 MeV


def test_dio_bulk_peaks_below_the_michel_edge():
    table = spectra.load_table(None, "dio")
    assert 44.0 < table.x[np.argmax(table.y)] < 52.8  # smeared Michel peak of a bound muon
    assert np.all(np.diff(table.y[table.x >= 47.0]) <= 0)  # the density only falls towards the end point


# Leading-order Al DIO end-point form (Czarnecki, Garcia i Tormo, Marciano, PRD 84, 013006 (2011)),
# w = sum a_k d^k, k = 5..8, d = E_mu - E - E^2/(2 M_N): the radiative table lies a few % below it.
ENDPOINT = (8.64340e-17, 1.16874e-17, -1.87828e-19, 9.16327e-20)
MUON_ENERGY_AL_MEV, AL_NUCLEUS_MASS_MEV = 105.194, 25133.0


def _endpoint_fraction_above(energy: float) -> float:
    end = AL_NUCLEUS_MASS_MEV * (math.sqrt(1 + 2 * MUON_ENERGY_AL_MEV / AL_NUCLEUS_MASS_MEV) - 1)
    nodes, weights = np.polynomial.legendre.leggauss(32)
    half = (end - energy) / 2
    e = (end + energy) / 2 + half * nodes
    delta = np.clip(MUON_ENERGY_AL_MEV - e - e**2 / (2 * AL_NUCLEUS_MASS_MEV), 0.0, None)
    return float(sum(a * delta ** (5 + k) for k, a in enumerate(ENDPOINT)) @ weights * half)


@pytest.mark.parametrize("emin", np.arange(88.0, 104.9, 0.5))
def test_dio_tail_has_the_end_point_shape(emin: float):
    ratio = spectra.dio_fraction(emin) / _endpoint_fraction_above(emin)
    assert 0.90 < ratio < 0.95
