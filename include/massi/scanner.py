"""Scan the experiments' Massi folders and record new, changed and vanished archives.

A scan has two phases. Outside any transaction it lists the folders, stats every archive and
hashes only those whose size or mtime differ from the database. Then, in one transaction, it
applies compare-and-set updates, so a concurrent scan that applied the same change first makes
this one's update match nothing (the change is counted once).

An archive is taken only when it is stable: its size and mtime equal what the previous scan
observed, or its mtime is older than ``settle_seconds`` (a file still being written is seen
again on the next scan). A touch (new mtime, same content) updates the row without a change.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from include.core.fingerprint import sha256_file
from include.massi.filedb import CURRENT, OBSERVING, VANISHED, FillDB, archives
from include.massi.legacy_yaml import ARCHIVE_NAME

DEFAULT_FOLDERS = ("ATLAS/lumi", "CMS/lumi")


@dataclass(frozen=True)
class Seen:
    """One archive file as listed on disk."""

    experiment: str
    archive: str
    fill: int
    path: Path
    size: int
    mtime_ns: int

    @property
    def mtime(self) -> int:
        return self.mtime_ns // 1_000_000_000


@dataclass
class ScanReport:
    """What one scan found; ``new`` and ``changed`` list the changes this scan recorded."""

    new: list[dict[str, Any]] = field(default_factory=list)
    changed: list[dict[str, Any]] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)
    vanished: list[str] = field(default_factory=list)
    unstable: list[str] = field(default_factory=list)
    unchanged: int = 0
    ignored: list[str] = field(default_factory=list)
    seconds: float = 0.0
    queries: int = 0
    seen_ids: list[int] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "seen_ids"}


def experiment_of(folder: str) -> str:
    """``ATLAS/lumi`` -> ``ATLAS``."""
    return Path(folder).parts[0]


def list_archives(root: Path, folders: Sequence[str]) -> tuple[list[Seen], list[str]]:
    """Archives ``<fill>.tgz|zip`` in each folder, and the names of files that were ignored."""
    seen, ignored = [], []
    for folder in folders:
        base = root / folder
        if not base.is_dir():
            continue
        exp = experiment_of(folder)
        for entry in sorted(base.iterdir()):
            match = ARCHIVE_NAME.match(entry.name)
            if not match or not entry.is_file():
                ignored.append(f"{folder}/{entry.name}")
                continue
            stat = entry.stat()
            seen.append(Seen(exp, entry.name, int(match.group(1)), entry, stat.st_size, stat.st_mtime_ns))
    return seen, ignored


def scan(
    db: FillDB,
    root: Path,
    year: int,
    folders: Sequence[str] = DEFAULT_FOLDERS,
    settle_seconds: float = 120.0,
    now: float | None = None,
) -> ScanReport:
    """Scan ``root`` (the year's measurements folder) and record what changed."""
    t0, q0 = time.perf_counter(), db.queries
    now = time.time() if now is None else now
    report = ScanReport()
    files, report.ignored = list_archives(root, folders)
    known = {(r["experiment"], r["archive"]): r for r in db.rows(year)}
    plans = [_plan(f, known.get((f.experiment, f.archive)), now, settle_seconds) for f in files]
    with db.transaction() as conn:
        for seen, (action, values) in zip(files, plans, strict=True):
            _apply(db, conn, year, seen, known.get((seen.experiment, seen.archive)), action, values, report)
        for start in range(0, len(report.seen_ids), 500):
            ids = report.seen_ids[start : start + 500]
            conn.execute(archives.update().where(archives.c.id.in_(ids)).values(last_seen=now))
        listed = {(f.experiment, f.archive) for f in files}
        scanned_exps = {experiment_of(f) for f in folders if (root / f).is_dir()}
        for key, row in known.items():
            if key not in listed and row["state"] != VANISHED and key[0] in scanned_exps:
                result = conn.execute(
                    archives.update()
                    .where(archives.c.id == row["id"], archives.c.state != VANISHED)
                    .values(state=VANISHED)
                )
                if result.rowcount:
                    report.vanished.append(f"{key[0]}/{key[1]}")
    report.seconds = time.perf_counter() - t0
    report.queries = db.queries - q0
    return report


def _stable(seen: Seen, row: dict[str, Any] | None, now: float, settle_seconds: float) -> bool:
    if now - seen.mtime_ns / 1e9 >= settle_seconds:
        return True
    return row is not None and (row["observed_size"], row["observed_mtime_ns"]) == (seen.size, seen.mtime_ns)


def _plan(seen: Seen, row: dict[str, Any] | None, now: float, settle: float) -> tuple[str, dict[str, Any]]:
    """Decide outside the transaction what to do with one file (hashing happens here)."""
    if not _stable(seen, row, now, settle):
        return "observe", {}
    if row is None or row["state"] == OBSERVING:
        return "new", {"sha256": sha256_file(seen.path)}
    same_stat = row["size"] == seen.size and row["mtime"] == seen.mtime
    legacy_same = row["size"] is None and row["mtime"] == seen.mtime
    if (same_stat or legacy_same) and row["state"] == CURRENT:
        return "unchanged", {}
    sha = sha256_file(seen.path)
    if sha == row["sha256"]:
        return "touched", {"sha256": sha}
    return "changed", {"sha256": sha}


def _apply(
    db: FillDB,
    conn: sa.Connection,
    year: int,
    seen: Seen,
    row: dict[str, Any] | None,
    action: str,
    values: dict[str, Any],
    report: ScanReport,
) -> None:
    name = f"{seen.experiment}/{seen.archive}"
    observed = {"observed_size": seen.size, "observed_mtime_ns": seen.mtime_ns, "last_seen": time.time()}
    if action == "observe":
        report.unstable.append(name)
        if row is None:
            db.insert_row(conn, _new_row(year, seen, OBSERVING, 0, None, observed))
        else:
            conn.execute(archives.update().where(archives.c.id == row["id"]).values(**observed))
        return
    if action == "unchanged":
        report.unchanged += 1
        if (row["observed_size"], row["observed_mtime_ns"]) != (seen.size, seen.mtime_ns):
            conn.execute(archives.update().where(archives.c.id == row["id"]).values(**observed))
        else:
            report.seen_ids.append(row["id"])  # last_seen is updated in bulk
        return
    if action == "new" and row is None:
        if db.insert_row(conn, _new_row(year, seen, CURRENT, 1, values["sha256"], observed)):
            report.new.append(_event(seen, 1, values["sha256"], None, None))
        return
    # compare-and-set on what this scan read: a concurrent scan that got here first wins
    guard = (archives.c.id == row["id"], archives.c.change_seq == row["change_seq"], archives.c.state == row["state"])
    accepted = {"mtime": seen.mtime, "size": seen.size, "sha256": values["sha256"], "state": CURRENT, **observed}
    if action == "touched":
        conn.execute(archives.update().where(*guard).values(**accepted))
        report.touched.append(name)
        return
    seq = row["change_seq"] + 1
    prev = {"prev_mtime": row["mtime"], "prev_sha256": row["sha256"]} if row["state"] != OBSERVING else {}
    result = conn.execute(archives.update().where(*guard).values(change_seq=seq, **prev, **accepted))
    if result.rowcount:
        event = _event(seen, seq, values["sha256"], prev.get("prev_mtime"), prev.get("prev_sha256"))
        (report.new if row["state"] == OBSERVING else report.changed).append(event)


def _new_row(year: int, seen: Seen, state: str, seq: int, sha: str | None, observed: dict[str, Any]) -> dict[str, Any]:
    return {
        "year": year,
        "experiment": seen.experiment,
        "archive": seen.archive,
        "fill": seen.fill,
        "mtime": seen.mtime,
        "size": seen.size,
        "sha256": sha,
        "first_seen": observed["last_seen"],
        "change_seq": seq,
        "processed_seq": 0,
        "state": state,
        **observed,
    }


def _event(seen: Seen, seq: int, sha: str, prev_mtime: int | None, prev_sha: str | None) -> dict[str, Any]:
    return {
        "fill": seen.fill,
        "experiment": seen.experiment,
        "archive": seen.archive,
        "change_seq": seq,
        "mtime": seen.mtime,
        "sha256": sha,
        "prev_mtime": prev_mtime,
        "prev_sha256": prev_sha,
    }
