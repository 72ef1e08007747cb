"""The scanner: new, changed, touched, vanished, unstable and ignored archives; concurrency."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from include.massi.filedb import FillDB
from include.massi.scanner import scan

OLD = time.time() - 3600


def publish(root: Path, exp: str, fill: int, content: bytes, mtime: float = OLD, ext: str = "tgz") -> Path:
    path = root / exp / "lumi" / f"{fill}.{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


@pytest.fixture
def db(tmp_path: Path) -> FillDB:
    return FillDB(f"sqlite:///{tmp_path / 'fills.sqlite'}")


def test_new_changed_touched_vanished(db: FillDB, tmp_path: Path) -> None:
    root = tmp_path / "measurements"
    for fill in (6000, 6001, 6002):
        for exp in ("ATLAS", "CMS"):
            publish(root, exp, fill, f"{exp}{fill}v1".encode())
    first = scan(db, root, 2017)
    assert len(first.new) == 6 and first.changed == [] and first.unchanged == 0
    assert {p.fill for p in db.pending()} == {6000, 6001, 6002}
    db.mark_processed(db.pending())
    assert db.pending() == []

    again = scan(db, root, 2017)
    assert again.new == again.changed == [] and again.unchanged == 6

    publish(root, "CMS", 6001, b"CMS6001v2-recalibrated", mtime=OLD + 100)  # re-published
    publish(root, "ATLAS", 6002, b"ATLAS6002v1", mtime=OLD + 200)  # touched only
    (root / "ATLAS" / "lumi" / "6000.tgz").unlink()  # vanished
    (root / "CMS" / "lumi" / "6000_lumireg.tgz").write_bytes(b"x")  # unrelated: ignored
    (root / "CMS" / "lumi" / "notes.txt").write_text("x")
    report = scan(db, root, 2017)
    assert [(c["experiment"], c["fill"], c["change_seq"]) for c in report.changed] == [("CMS", 6001, 2)]
    change = report.changed[0]
    assert change["prev_mtime"] == int(OLD) and change["mtime"] == int(OLD + 100)
    assert change["prev_sha256"] != change["sha256"]
    assert report.touched == ["ATLAS/6002.tgz"] and report.vanished == ["ATLAS/6000.tgz"]
    assert sorted(report.ignored) == ["CMS/lumi/6000_lumireg.tgz", "CMS/lumi/notes.txt"]
    assert [(p.experiment, p.fill) for p in db.pending()] == [("CMS", 6001)]
    assert scan(db, root, 2017).changed == []  # nothing counted twice


def test_file_being_written_waits_for_a_stable_second_scan(db: FillDB, tmp_path: Path) -> None:
    root = tmp_path / "m"
    now = time.time()
    path = publish(root, "ATLAS", 6100, b"partial", mtime=now)
    first = scan(db, root, 2017, now=now)
    assert first.unstable == ["ATLAS/6100.tgz"] and first.new == [] and db.pending() == []
    path.write_bytes(b"partial-and-more")
    os.utime(path, (now + 5, now + 5))
    assert scan(db, root, 2017, now=now + 10).unstable == ["ATLAS/6100.tgz"]
    third = scan(db, root, 2017, now=now + 20)  # same size and mtime as the previous scan
    assert [c["fill"] for c in third.new] == [6100] and third.unstable == []
    assert [p.fill for p in db.pending()] == [6100]


def test_change_during_reprocessing_is_not_lost(db: FillDB, tmp_path: Path) -> None:
    root = tmp_path / "m"
    publish(root, "ATLAS", 6200, b"v1")
    scan(db, root, 2017)
    started_with = db.pending()  # the reprocessing starts with change 1
    publish(root, "ATLAS", 6200, b"v2", mtime=OLD + 60)
    scan(db, root, 2017)  # change 2 arrives while it runs
    db.mark_processed(started_with)  # reprocessing of change 1 succeeds
    assert [(p.fill, p.change_seq) for p in db.pending()] == [(6200, 2)]


def test_zip_archives_and_vanished_then_back(db: FillDB, tmp_path: Path) -> None:
    root = tmp_path / "m"
    path = publish(root, "CMS", 6300, b"zip-content", ext="zip")
    assert [c["archive"] for c in scan(db, root, 2017).new] == ["6300.zip"]
    db.mark_processed(db.pending())
    content = path.read_bytes()
    path.unlink()
    assert scan(db, root, 2017).vanished == ["CMS/6300.zip"]
    publish(root, "CMS", 6300, content, ext="zip")
    back = scan(db, root, 2017)
    assert back.new == back.changed == [] and back.touched == ["CMS/6300.zip"]


def _concurrent_scans(url: str, root: Path, n: int = 4) -> list:
    barrier = threading.Barrier(n)
    reports: list = []
    errors: list = []

    def one() -> None:
        local = FillDB(url)
        try:
            barrier.wait()
            reports.append(scan(local, root, 2017))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            local.close()

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return reports


def test_concurrent_scans_count_each_change_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fills.sqlite'}"
    db = FillDB(url)
    root = tmp_path / "m"
    for fill in range(6400, 6420):
        publish(root, "ATLAS", fill, f"v1-{fill}".encode())
    reports = _concurrent_scans(url, root)
    assert sum(len(r.new) for r in reports) == 20
    db.mark_processed(db.pending())
    for fill in (6401, 6405, 6410):
        publish(root, "ATLAS", fill, f"v2-{fill}".encode(), mtime=OLD + 500)
    reports = _concurrent_scans(url, root)
    assert sorted(c["fill"] for r in reports for c in r.changed) == [6401, 6405, 6410]
    assert sorted((p.fill, p.change_seq) for p in db.pending()) == [(6401, 2), (6405, 2), (6410, 2)]


@pytest.mark.postgres
def test_concurrent_scans_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    db = FillDB(postgres_url)
    root = tmp_path / "m"
    for fill in range(6500, 6510):
        publish(root, "CMS", fill, f"v1-{fill}".encode())
    assert sum(len(r.new) for r in _concurrent_scans(postgres_url, root)) == 10
    db.mark_processed(db.pending())
    publish(root, "CMS", 6503, b"v2", mtime=OLD + 1)
    assert [c["fill"] for r in _concurrent_scans(postgres_url, root) for c in r.changed] == [6503]
    assert [(p.fill, p.change_seq) for p in db.pending()] == [(6503, 2)]
    db.close()
