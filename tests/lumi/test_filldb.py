"""Fill DB: the real YAML samples, change detection, update after success, concurrent writers."""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import pytest

from include.lumi.filldb import archive_status, epoch_to_local_naive, load_db, local_naive_to_epoch, record_archives


def _fills(entries: dict) -> set[int]:
    return {int(name.split(".")[0]) for name in entries}


@pytest.mark.parametrize(
    ("year", "atlas", "cms", "both", "lo", "hi"),
    [(2016, 221, 217, 215, 4851, 5575), (2017, 166, 165, 164, 5698, 6283)],
)
def test_real_samples(shared_data: Path, year, atlas, cms, both, lo, hi) -> None:
    db = load_db(shared_data / "lumi" / f"fill_db_{year}.yaml")
    a, c = db[year]["ATLAS"], db[year]["CMS"]
    assert (len(a), len(c), len(_fills(a) & _fills(c))) == (atlas, cms, both)
    assert min(_fills(a) | _fills(c)) == lo and max(_fills(a) | _fills(c)) == hi
    assert all(isinstance(v, datetime) and v.tzinfo is None for v in a.values())


def test_local_time_round_trip() -> None:
    naive = datetime(2017, 6, 16, 5, 4, 42)  # CEST
    assert local_naive_to_epoch(naive) == 1497582282
    assert epoch_to_local_naive(1497582282) == naive


def test_status_and_record(tmp_path: Path, shared_data: Path) -> None:
    db_path = tmp_path / "fill_db_2017.yaml"
    db_path.write_text((shared_data / "lumi" / "fill_db_2017.yaml").read_text())
    arc = tmp_path / "5704.tgz"
    arc.write_bytes(b"x")
    stored = load_db(db_path)[2017]["ATLAS"]["5704.tgz"]
    os.utime(arc, (local_naive_to_epoch(stored), local_naive_to_epoch(stored)))
    db = load_db(db_path)
    assert archive_status(db, 2017, "ATLAS", arc) == "up to date"
    assert archive_status(db, 2017, "ATLAS", tmp_path / "9999.tgz") == "new"
    before = db_path.read_bytes()
    assert record_archives(db_path, 2017, {"ATLAS": arc}) == {"ATLAS": "up to date"}
    assert db_path.read_bytes() == before  # nothing changed, nothing rewritten
    os.utime(arc, (1.6e9, 1.6e9))
    assert record_archives(db_path, 2017, {"ATLAS": arc}) == {"ATLAS": "changed"}
    assert archive_status(load_db(db_path), 2017, "ATLAS", arc) == "up to date"
    assert len(load_db(db_path)[2017]["ATLAS"]) == 166  # other entries kept


def _record(args: tuple[str, int]) -> None:
    db_path, fill = args
    arc = Path(db_path).parent / f"{fill}.tgz"
    arc.write_bytes(b"x")
    record_archives(db_path, 2017, {"ATLAS": arc, "CMS": arc})


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    db_path = str(tmp_path / "db.yaml")
    with ProcessPoolExecutor(4) as pool:
        list(pool.map(_record, [(db_path, 6000 + i) for i in range(24)]))
    db = load_db(db_path)
    assert len(db[2017]["ATLAS"]) == 24 and len(db[2017]["CMS"]) == 24
