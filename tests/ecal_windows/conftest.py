"""Shared fixtures of the ECAL windows tests: generated dumper files and working points."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(scope="session")
def dumper_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated electron file (400 events, pileup) shared by the read-only tests."""
    from include.ecal_windows.generator import generate_events, write_dumper_file

    path = tmp_path_factory.mktemp("dumper") / "electrons.root"
    return write_dumper_file(path, generate_events(400, seed=11, flavour=11, pileup=10.0))


@pytest.fixture(scope="session")
def photon_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from include.ecal_windows.generator import generate_events, write_dumper_file

    path = tmp_path_factory.mktemp("dumper") / "photons.root"
    return write_dumper_file(path, generate_events(300, seed=12, flavour=22, pileup=6.0))


@pytest.fixture(scope="session")
def run3_wp():
    import numpy as np

    from include.ecal_windows.workingpoint import RUN3_ET_EDGES, RUN3_ETA_EDGES, WorkingPoint, demo_values

    return WorkingPoint(np.array(RUN3_ET_EDGES, float), np.array(RUN3_ETA_EDGES, float), demo_values())
