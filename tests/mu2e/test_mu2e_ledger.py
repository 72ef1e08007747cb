"""The ledger: sequential, idempotent, exclusive claims on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, text
from sqlalchemy.exc import IntegrityError

from include.mu2e import ledger

FILES = [("ds/a.root", 100), ("ds/b.root", 50), ("ds/c.root", 80)]


@pytest.fixture
def url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ledger.sqlite'}"
    yield url
    ledger.dispose(url)


def test_sequential_claims_span_files(url: str):
    first = ledger.claim(url, "E1", 0, "ds", FILES, 120)
    second = ledger.claim(url, "E1", 1, "ds", FILES, 60)
    assert first == [ledger.Range("ds/a.root", 0, 100), ledger.Range("ds/b.root", 0, 20)]
    assert second == [ledger.Range("ds/b.root", 20, 50), ledger.Range("ds/c.root", 0, 30)]


def test_claim_is_idempotent_per_job(url: str):
    a = ledger.claim(url, "E1", 3, "ds", FILES, 40)
    b = ledger.claim(url, "E1", 3, "ds", FILES, 40)
    assert a == b
    assert len(ledger.claims(url, "E1")) == 1


def test_exhausted_dataset_gives_what_is_left(url: str):
    ledger.claim(url, "E1", 0, "ds", FILES, 200)
    rest = ledger.claim(url, "E1", 1, "ds", FILES, 100)
    assert sum(r.size for r in rest) == 30
    assert ledger.claim(url, "E1", 2, "ds", FILES, 10) == []


def test_ensembles_are_independent(url: str):
    assert ledger.claim(url, "E1", 0, "ds", FILES, 10) == ledger.claim(url, "E2", 0, "ds", FILES, 10)


def test_unique_key_refuses_a_second_taker_of_a_range(url: str):
    ledger.claim(url, "E1", 0, "ds", FILES, 10)
    row = {
        "ensemble": "E1",
        "job": 7,
        "dataset": "ds",
        "part": 0,
        "file": "ds/a.root",
        "first_entry": 0,
        "stop_entry": 5,
        "requested": 5,
        "claimed_at": "now",
    }
    with pytest.raises(IntegrityError), ledger.engine_for(url).begin() as conn:
        conn.execute(insert(ledger.claim_table).values(**row))


def _claim_many(args: tuple[str, int]) -> int:
    url, worker = args
    total = 0
    for job in range(worker * 10, worker * 10 + 10):
        total += sum(r.size for r in ledger.claim(url, "E", job, "ds", FILES, 5))
    ledger.dispose(url)
    return total


def _concurrent(url: str, workers: int = 4) -> None:
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        taken = pool.map(_claim_many, [(url, w) for w in range(workers)])
    rows = ledger.claims(url, "E")
    assert sum(taken) == 200 == sum(r["stop_entry"] - r["first_entry"] for r in rows)
    assert ledger.overlaps(rows) == []
    assert len({r["job"] for r in rows}) == 40


def test_concurrent_processes_never_share_entries_sqlite(url: str):
    _concurrent(url)


def _postgres_admin() -> str:
    return "postgresql+psycopg2://postgres@127.0.0.1:5432/test"


@pytest.mark.postgres
def test_concurrent_processes_never_share_entries_postgres():
    admin_url = _postgres_admin()
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        pytest.skip(f"PostgreSQL not reachable at 127.0.0.1:5432 db test: {type(exc).__name__}: {exc}")
    name = f"mu2e_ledger_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    try:
        _concurrent(url)
        assert ledger.claim(url, "E", 0, "ds", FILES, 5) == ledger.claim(url, "E", 0, "ds", FILES, 99)
    finally:
        ledger.dispose(url)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
