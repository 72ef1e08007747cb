"""Fixtures of the tag-and-probe tests: the real samples read in place, and the HTCondor pool
fixture shared with tests/condor (loaded from its conftest, so the skip reason is the same)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

_CONDOR_CONFTEST = Path(__file__).resolve().parents[1] / "condor" / "conftest.py"
_spec = importlib.util.spec_from_file_location("tnp_condor_fixtures", _CONDOR_CONFTEST)
_condor = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_condor)
pool = _condor.pool


@pytest.fixture(scope="session")
def tnp_data(shared_data: Path) -> Path:
    """The real E/gamma samples (DYto2E.root, Nano/TnP ntuples)."""
    path = shared_data / "egamma-tnp"
    if not (path / "DYto2E.root").is_file():
        pytest.skip(f"E/gamma samples not found in {path}")
    return path
