"""The installed package (as in the Docker image: a non-editable install) carries every data file."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_wheel_contains_every_file_of_include(tmp_path: Path) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "include"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    if not tracked:  # not a git checkout: compare with the files on disk
        tracked = [str(p.relative_to(REPO)) for p in (REPO / "include").rglob("*") if p.is_file()]
    expected = {name for name in tracked if "__pycache__" not in name}
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    proc = subprocess.run(
        [*pip, "-w", str(tmp_path), str(REPO)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = tmp_path.glob("hep_productions-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        packaged = {n for n in archive.namelist() if n.startswith("include/")}
    assert expected - packaged == set()
