"""The Massi fill database: one row per (year, experiment, archive), in SQLite or PostgreSQL.

A row records what the archive looked like when it was last accepted (mtime, size, sha256),
what the last scan observed (for files still being written), and two counters:
``change_seq`` (bumped once per real content change) and ``processed_seq`` (the change that
the last successful reprocessing covered). A change is pending while
``change_seq > processed_seq``; marking it processed only moves ``processed_seq`` forward,
so a change that arrives during a reprocessing stays pending and nothing is lost.

Concurrency: every update is a compare-and-set on the values the scanner read (``WHERE
change_seq = :seen``), inserts rely on the unique key (year, experiment, archive), and each
scan applies its updates in one transaction. Two scans that see the same change therefore
count it once: the second one's compare-and-set matches no row.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

metadata = sa.MetaData()

archives = sa.Table(
    "massi_archives",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("experiment", sa.String(16), nullable=False),
    sa.Column("archive", sa.String(64), nullable=False),
    sa.Column("fill", sa.Integer, nullable=False, index=True),
    # the accepted version
    sa.Column("mtime", sa.BigInteger, nullable=False),
    sa.Column("size", sa.BigInteger),
    sa.Column("sha256", sa.String(64)),
    sa.Column("legacy_mtime", sa.String(32)),
    # the previous accepted version (reported in change events)
    sa.Column("prev_mtime", sa.BigInteger),
    sa.Column("prev_sha256", sa.String(64)),
    # what the last scan saw, for the size-stable-across-two-scans rule
    sa.Column("observed_size", sa.BigInteger),
    sa.Column("observed_mtime_ns", sa.BigInteger),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("change_seq", sa.Integer, nullable=False, default=0),
    sa.Column("processed_seq", sa.Integer, nullable=False, default=0),
    sa.Column("processed_at", sa.Float),
    sa.Column("state", sa.String(16), nullable=False),  # observing | current | vanished
    sa.UniqueConstraint("year", "experiment", "archive", name="uq_massi_archive"),
)

OBSERVING, CURRENT, VANISHED = "observing", "current", "vanished"


@dataclass(frozen=True)
class PendingChange:
    """A content change of one archive not yet covered by a successful reprocessing."""

    year: int
    experiment: str
    archive: str
    fill: int
    change_seq: int
    mtime: int
    sha256: str | None
    prev_mtime: int | None
    prev_sha256: str | None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FillDB:
    """Access to the fill database. ``url`` is any SQLAlchemy URL (SQLite file, PostgreSQL)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        if url.startswith("sqlite"):
            engine_kwargs.setdefault("connect_args", {"timeout": 60})
        self.engine = sa.create_engine(url, **engine_kwargs)
        if url.startswith("sqlite"):
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
        self.queries = 0
        sa.event.listen(self.engine, "before_cursor_execute", self._count)
        metadata.create_all(self.engine)

    def _count(self, *_args: Any) -> None:
        self.queries += 1

    def close(self) -> None:
        self.engine.dispose()

    # -- reading -----------------------------------------------------------------------------

    def rows(self, year: int | None = None) -> list[dict[str, Any]]:
        query = sa.select(archives)
        if year is not None:
            query = query.where(archives.c.year == year)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(archives.c.id))]

    def pending(self, year: int | None = None) -> list[PendingChange]:
        """Changes not yet processed (vanished archives excluded)."""
        query = sa.select(archives).where(archives.c.change_seq > archives.c.processed_seq, archives.c.state == CURRENT)
        if year is not None:
            query = query.where(archives.c.year == year)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(archives.c.fill, archives.c.experiment))
            return [PendingChange(**{f: getattr(r, f) for f in PendingChange.__dataclass_fields__}) for r in rows]

    # -- writing -----------------------------------------------------------------------------

    @staticmethod
    def insert_row(conn: sa.Connection, values: dict[str, Any]) -> bool:
        """Insert one archive row; False if the unique key exists already (another scan won)."""
        try:
            with conn.begin_nested():
                conn.execute(archives.insert().values(**values))
        except IntegrityError:
            return False
        return True

    def mark_processed(self, changes: Iterable[PendingChange], when: float | None = None) -> int:
        """Record that a successful reprocessing covered ``changes``; returns rows updated.

        ``processed_seq`` only moves forward, so a newer change stays pending.
        """
        when = time.time() if when is None else when
        updated = 0
        with self.engine.begin() as conn:
            for change in changes:
                result = conn.execute(
                    archives.update()
                    .where(
                        archives.c.year == change.year,
                        archives.c.experiment == change.experiment,
                        archives.c.archive == change.archive,
                        archives.c.processed_seq < change.change_seq,
                    )
                    .values(processed_seq=change.change_seq, processed_at=when)
                )
                updated += result.rowcount
        return updated

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One write transaction (``BEGIN IMMEDIATE`` on SQLite, so writers queue instead of failing)."""
        with self.engine.begin() as conn:
            yield conn


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.isolation_level = None  # SQLAlchemy's begin event below issues BEGIN itself
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.close()


def _sqlite_begin(conn: sa.Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")
