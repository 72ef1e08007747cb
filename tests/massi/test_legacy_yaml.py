"""The legacy fill_db.yaml: the real files import completely and export byte for byte."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from include.core.errors import InputFileError
from include.lumi.filldb import epoch_to_local_naive, local_naive_to_epoch
from include.massi.filedb import FillDB
from include.massi.legacy_yaml import export_legacy, import_legacy, write_legacy


@pytest.mark.parametrize(("year", "entries", "atlas", "cms"), [(2016, 438, 221, 217), (2017, 331, 166, 165)])
def test_real_files_round_trip_without_loss(shared_data: Path, tmp_path: Path, year, entries, atlas, cms) -> None:
    source = shared_data / "lumi" / f"fill_db_{year}.yaml"
    db = FillDB(f"sqlite:///{tmp_path / 'fills.sqlite'}")
    assert import_legacy(db, source) == entries
    rows = db.rows(year)
    assert sum(r["experiment"] == "ATLAS" for r in rows) == atlas
    assert sum(r["experiment"] == "CMS" for r in rows) == cms
    assert db.pending() == []  # the legacy state is the processed baseline
    assert export_legacy(db, year) == source.read_text()
    out = write_legacy(db, year, tmp_path / "export.yaml")
    again = FillDB(f"sqlite:///{tmp_path / 'again.sqlite'}")
    assert import_legacy(again, out) == entries
    assert export_legacy(again, year) == source.read_text()
    assert import_legacy(db, source) == 0  # importing twice adds nothing


def test_legacy_times_are_zurich_local() -> None:
    summer = datetime(2017, 6, 16, 5, 4, 42)
    assert local_naive_to_epoch(summer) == 1497582282  # 03:04:42 UTC (CEST = UTC+2)
    assert epoch_to_local_naive(1497582282) == summer
    assert local_naive_to_epoch(datetime(2017, 1, 10, 12, 0, 0)) == 1484046000  # CET = UTC+1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{2017: {ATLAS: {5698.tar: !!timestamp '2017-06-16 05:04:42'}}}", "is not an archive name"),
        ("{2017: {ALICEX: {}}}", "unknown experiment"),
        ("{2017: {CMS: {5698.tgz: 'yesterday'}}}", "is not a timestamp"),
        ("[1, 2]", "expected a mapping"),
        ("{2017: {CMS: {5698.tgz: [", "cannot read legacy fill DB"),
    ],
)
def test_bad_legacy_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "fill_db.yaml"
    bad.write_text(text)
    with pytest.raises(InputFileError, match=message) as info:
        import_legacy(FillDB(f"sqlite:///{tmp_path / 'db.sqlite'}"), bad)
    assert "fill_db.yaml" in str(info.value)
