"""Fixtures of the Mu2e ensemble tests: the demo inputs, generated once and copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def mu2e_demo_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo datasets (seed 2017), generated once per session."""
    from include.mu2e.demo import generate

    target = tmp_path_factory.mktemp("mu2e-demo") / "mu2e"
    generate(target, 2017)
    return target


@pytest.fixture
def mu2e_data(roots: tuple[Path, Path], mu2e_demo_master: Path) -> Path:
    """A private copy of the demo datasets at ``<data root>/mu2e``."""
    target = roots[0] / "mu2e"
    shutil.copytree(mu2e_demo_master, target)
    return target
