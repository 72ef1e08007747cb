"""Massi archives: member names, whitespace rows, missing/corrupt archives, interpolation."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest

from include.lumi.massi import (
    MassiError,
    archive_matches,
    bunch_lumi_on_grid,
    find_archive,
    read_bunch_lumi,
    read_summary,
)

FILL = 5704


def make_tgz(path: Path, members: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_archive_matching(tmp_path: Path) -> None:
    assert archive_matches("5704.tgz", 5704) and archive_matches("5704.zip", 5704)
    for name in ("57040.tgz", "5704.tgz.bak", "x5704.tgz", "5704.tar"):
        assert not archive_matches(name, 5704)
    (tmp_path / "57040.tgz").write_bytes(b"")
    assert find_archive(tmp_path, 5704) is None


def test_read_rows_tabs_and_extra_columns(tmp_path: Path) -> None:
    members = {
        f"{FILL}/{FILL}_lumi_1_CMS.txt": "100 1 4.0 0.01 0.08 0.001\n200 1 3.0 0.01 0.08 0.001\n",
        # older files: tabs and an extra leading column
        f"{FILL}/{FILL}_lumi_11_CMS.txt": "7\t100\t1\t5.0\t0.01\t0.1\t0.001\n7\t200\t1\t4.0\t0.01\t0.1\t0.001\n",
        f"{FILL}/{FILL}_summary_CMS.txt": f"{FILL} 100 200 123.4 5.0\n",
        f"{FILL}/{FILL}_lumireg_1_CMS.txt": "unused",
    }
    path = make_tgz(tmp_path / f"{FILL}.tgz", members)
    data = read_bunch_lumi(path, FILL, "CMS", [0, 1])
    assert data[0][:, 2].tolist() == [4.0, 3.0]
    grid = np.array([100.0, 150.0, 200.0])
    m = bunch_lumi_on_grid(data, [0, 1], grid, 1e34)
    assert m[:, 0].tolist() == pytest.approx([4e34, 3.5e34, 3e34])
    assert read_summary(path, FILL, "CMS")[3] == "123.4"
    with zipfile.ZipFile(tmp_path / "z.zip", "w") as z:
        z.writestr(f"{FILL}/{FILL}_lumi_1_ATLAS.txt", "100 1 2.0 0 0 0\n")
    assert read_bunch_lumi(tmp_path / "z.zip", FILL, "ATLAS", [0])[0][0, 2] == 2.0


def test_missing_and_corrupt(tmp_path: Path) -> None:
    path = make_tgz(tmp_path / f"{FILL}.tgz", {f"{FILL}/{FILL}_lumi_1_ATLAS.txt": "100 1 1 0 0 0\n"})
    with pytest.raises(MassiError, match=f"{FILL}_lumi_11_ATLAS.txt is missing"):
        read_bunch_lumi(path, FILL, "ATLAS", [0, 1])
    (tmp_path / "bad.tgz").write_bytes(b"not a tar")
    with pytest.raises(MassiError, match="corrupt archive"):
        read_bunch_lumi(tmp_path / "bad.tgz", FILL, "ATLAS", [0])
    with pytest.raises(MassiError, match="does not exist"):
        read_bunch_lumi(tmp_path / "none.tgz", FILL, "ATLAS", [0])
