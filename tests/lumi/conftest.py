"""Shared fixtures of the lumi tests: small generated fills (session-wide, read-only)."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_FILLS = (6140, 6146)
DEMO_SEED = 5


def demo_options():
    """Small fills: 48 bunches per beam, BSRT imaging every 20 s in SB (5 s before)."""
    from include.lumi.demo import DemoOptions

    return DemoOptions(n_bunches=48, bsrt_period=20.0, bsrt_period_cycle=5.0)


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root with two generated fills (48 bunches per beam); do not modify."""
    from include.lumi.demo import generate

    root = tmp_path_factory.mktemp("lumi-demo-data")
    generate(root / "lumi", DEMO_SEED, fills=SMALL_FILLS, options=demo_options())
    return root


@pytest.fixture
def lumi_roots(demo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """HEP_DATA_ROOT = a private copy-free symlink farm of the demo data, HEP_OUTPUT_ROOT = fresh."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(demo_root, data, symlinks=False, copy_function=shutil.copy2)
    out = tmp_path / "out"
    out.mkdir()
    monkeypatch.setenv("HEP_DATA_ROOT", str(data))
    monkeypatch.setenv("HEP_OUTPUT_ROOT", str(out))
    return data, out


@pytest.fixture(scope="session")
def demo_truth() -> dict:
    """The generator's true evolution of the ``demo_root`` fills (fill -> FillTruth)."""
    from include.lumi.demo import simulate

    return {truth.timeline.fill: truth for truth, _ in simulate(DEMO_SEED, fills=SMALL_FILLS, options=demo_options())}
