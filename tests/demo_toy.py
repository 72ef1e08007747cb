"""A toy demo-data generator used by tests/test_demo.py to exercise the registry."""

from __future__ import annotations

import random
from pathlib import Path

from include.core import atomic


def generate(target: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    return [atomic.write_text(target / f"sample_{i}.txt", f"{rng.random():.12f}\n") for i in range(3)]
