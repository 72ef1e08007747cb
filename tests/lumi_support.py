"""Test helpers for the lumi and Massi tests: where a Massi archive lies, and its re-publication."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path


def massi_archive(data_root: Path, fill: int, experiment: str, year: int = 2017) -> Path:
    """The Massi archive of ``fill`` in the data root's layout (lumi/massi/<year>/measurements/...)."""
    return data_root / "lumi" / "massi" / str(year) / "measurements" / experiment / "lumi" / f"{fill}.tgz"


def republish(path: Path, factor: float) -> None:
    """Rewrite a Massi archive with its luminosity columns scaled (a new calibration), atomically,
    an hour later than it was published."""
    published = path.stat().st_mtime
    members = []
    with tarfile.open(path) as tar:
        for info in tar.getmembers():
            rows = []
            for line in tar.extractfile(info).read().decode().splitlines():
                cols = line.split()
                if len(cols) >= 6:  # time, SB flag, lumi, error, specific lumi, error
                    cols[2:6] = [f"{float(c) * factor:.5g}" for c in cols[2:6]]
                rows.append("\t".join(cols))
            members.append((info.name, ("\n".join(rows) + "\n").encode()))
    tmp = path.with_name(path.name + ".part")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, path)
    os.utime(path, (published + 3600, published + 3600))
