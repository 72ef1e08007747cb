"""The ledger of used (file, entry) ranges: no input event goes into two jobs of one ensemble.

Two tables (SQLAlchemy Core; SQLite in the output root by default, PostgreSQL in production):

* ``mu2e_cursor`` (ensemble, file) → next free entry. A claim advances it with a
  compare-and-swap ``UPDATE … WHERE next_entry = :seen`` inside a transaction, so two writers can
  never both take the entries after the same cursor value; the loser retries.
* ``mu2e_claim``: one row per taken range, unique on (ensemble, file, first_entry) and on
  (ensemble, job, dataset, part), with ``first_entry < stop_entry`` checked.

:func:`claim` is idempotent per (ensemble, job, dataset): a job that already holds ranges gets
the same ranges back, so a retried or re-run job reads exactly what it read before.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    create_engine,
    event,
    insert,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from include.core.errors import ProductionError

metadata = MetaData()
cursor_table = Table(
    "mu2e_cursor",
    metadata,
    Column("ensemble", String(200), primary_key=True),
    Column("file", String(1000), primary_key=True),
    Column("next_entry", BigInteger, nullable=False),
    Column("entries", BigInteger, nullable=False),
)
claim_table = Table(
    "mu2e_claim",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ensemble", String(200), nullable=False),
    Column("job", Integer, nullable=False),
    Column("dataset", String(300), nullable=False),
    Column("part", Integer, nullable=False),
    Column("file", String(1000), nullable=False),
    Column("first_entry", BigInteger, nullable=False),
    Column("stop_entry", BigInteger, nullable=False),
    Column("requested", BigInteger, nullable=False),
    Column("claimed_at", String(40), nullable=False),
    UniqueConstraint("ensemble", "file", "first_entry", name="uq_mu2e_claim_range"),
    UniqueConstraint("ensemble", "job", "dataset", "part", name="uq_mu2e_claim_job_part"),
    CheckConstraint("first_entry < stop_entry", name="ck_mu2e_claim_nonempty"),
)


class LedgerError(ProductionError):
    """The ledger could not record a claim."""


@dataclass(frozen=True)
class Range:
    """Entries [first, stop) of one file."""

    file: str
    first: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.first

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_url(output_root: str | Path) -> str:
    """``sqlite:///<output root>/mu2e_ensemble/ledger.sqlite``."""
    path = Path(output_root) / "mu2e_ensemble" / "ledger.sqlite"
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


_ENGINES: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """One engine per URL (tables created on first use); SQLite gets a busy timeout and WAL."""
    if url not in _ENGINES:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": 60})

            @event.listens_for(engine, "connect")
            def _pragmas(dbapi_connection: Any, _record: Any) -> None:
                cur = dbapi_connection.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.close()

        else:
            engine = create_engine(url, pool_pre_ping=True)
        _create_tables(engine)
        _ENGINES[url] = engine
    return _ENGINES[url]


def _create_tables(engine: Engine, attempts: int = 10) -> None:
    """Create the tables; concurrent first users race on CREATE TABLE, so retry (checkfirst)."""
    for attempt in range(attempts):
        try:
            metadata.create_all(engine)
            return
        except (OperationalError, ProgrammingError, IntegrityError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))


def dispose(url: str) -> None:
    """Close the pooled connections of ``url`` (tests, forks)."""
    engine = _ENGINES.pop(url, None)
    if engine is not None:
        engine.dispose()


def _existing(conn: Any, ensemble: str, job: int, dataset: str) -> list[Range]:
    rows = conn.execute(
        select(claim_table.c.file, claim_table.c.first_entry, claim_table.c.stop_entry)
        .where(and_(claim_table.c.ensemble == ensemble, claim_table.c.job == job, claim_table.c.dataset == dataset))
        .order_by(claim_table.c.part)
    ).all()
    return [Range(r.file, int(r.first_entry), int(r.stop_entry)) for r in rows]


def _cursor(conn: Any, ensemble: str, file: str, entries: int) -> int:
    row = conn.execute(
        select(cursor_table.c.next_entry).where(and_(cursor_table.c.ensemble == ensemble, cursor_table.c.file == file))
    ).first()
    if row is not None:
        return int(row.next_entry)
    conn.execute(insert(cursor_table).values(ensemble=ensemble, file=file, next_entry=0, entries=entries))
    return 0


class _Retry(Exception):
    pass


def claim(
    url: str,
    ensemble: str,
    job: int,
    dataset: str,
    files: Sequence[tuple[str, int]],
    count: int,
    *,
    attempts: int = 50,
) -> list[Range]:
    """Take ``count`` unused entries of ``dataset`` (``files`` = (file, entries) in catalogue order).

    Returns the ranges held by (ensemble, job, dataset) — existing ones if the job already claimed.
    Fewer than ``count`` entries are returned only when the files are exhausted.
    """
    engine = engine_for(url)
    if count < 0:
        raise LedgerError(f"{ensemble} job {job} {dataset}: negative count {count}")
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                held = _existing(conn, ensemble, job, dataset)
                if held or count == 0:
                    return held
                ranges: list[Range] = []
                remaining = count
                now = datetime.now(UTC).isoformat(timespec="seconds")
                for file, entries in files:
                    if remaining == 0:
                        break
                    seen = _cursor(conn, ensemble, file, entries)
                    take = min(entries - seen, remaining)
                    if take <= 0:
                        continue
                    moved = conn.execute(
                        update(cursor_table)
                        .where(
                            and_(
                                cursor_table.c.ensemble == ensemble,
                                cursor_table.c.file == file,
                                cursor_table.c.next_entry == seen,
                            )
                        )
                        .values(next_entry=seen + take)
                    )
                    if moved.rowcount != 1:
                        raise _Retry
                    conn.execute(
                        insert(claim_table).values(
                            ensemble=ensemble,
                            job=job,
                            dataset=dataset,
                            part=len(ranges),
                            file=file,
                            first_entry=seen,
                            stop_entry=seen + take,
                            requested=count,
                            claimed_at=now,
                        )
                    )
                    ranges.append(Range(file, seen, seen + take))
                    remaining -= take
                return ranges
        except (_Retry, IntegrityError, OperationalError) as exc:
            if attempt == attempts - 1:
                message = f"{ensemble} job {job} {dataset}: claim failed after {attempts} attempts: {exc}"
                raise LedgerError(message) from exc
            time.sleep(0.01 * (attempt + 1))
    raise AssertionError("unreachable")


def claims(url: str, ensemble: str) -> list[dict[str, Any]]:
    """Every claim of ``ensemble`` (for audits and tests), ordered by job, dataset, part."""
    with engine_for(url).connect() as conn:
        rows = conn.execute(
            select(claim_table)
            .where(claim_table.c.ensemble == ensemble)
            .order_by(claim_table.c.job, claim_table.c.dataset, claim_table.c.part)
        ).all()
    return [dict(r._mapping) for r in rows]


def overlaps(rows: list[dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Pairs of claims of one ensemble that share an entry of the same file (must be empty)."""
    found = []
    by_file: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in rows:
        by_file.setdefault((row["ensemble"], row["file"]), []).append(row)
    for group in by_file.values():
        group.sort(key=lambda r: r["first_entry"])
        for a, b in itertools.pairwise(group):
            if b["first_entry"] < a["stop_entry"]:
                found.append((a, b))
    return found
