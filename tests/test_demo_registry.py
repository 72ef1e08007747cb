"""The demo-data mechanism: registry, idempotence, seeds, CLI errors."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from include import demo
from include.core.errors import ParamError


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(demo, "GENERATORS", {"toy": "demo_toy:generate"})


def test_generate_is_seeded_and_idempotent(toy, tmp_path: Path) -> None:
    first = demo.generate(tmp_path)
    assert first == {"toy": {"files": 3, "seconds": first["toy"]["seconds"], "skipped": False}}
    content = (tmp_path / "toy" / "sample_0.txt").read_text()
    assert demo.generate(tmp_path)["toy"]["skipped"] is True
    assert demo.generate(tmp_path, force=True)["toy"]["skipped"] is False
    assert (tmp_path / "toy" / "sample_0.txt").read_text() == content
    assert demo.generate(tmp_path, seed=7)["toy"]["skipped"] is False  # another seed: regenerated
    assert (tmp_path / "toy" / "sample_0.txt").read_text() != content


def test_half_written_folder_is_regenerated(toy, tmp_path: Path) -> None:
    demo.generate(tmp_path)
    (tmp_path / "toy" / demo.MARKER).unlink()
    assert demo.generate(tmp_path)["toy"]["skipped"] is False


def test_unknown_production_is_refused(toy, tmp_path: Path) -> None:
    with pytest.raises(ParamError, match="no demo generator for 'nope'"):
        demo.generate(tmp_path, only=["nope"])


def test_every_registered_generator_is_importable() -> None:
    assert demo.available() == demo.GENERATORS


def test_cli_reports_bad_production(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "include.demo", "--data-root", str(tmp_path), "--only", "nope"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and "no demo generator for 'nope'" in proc.stderr
