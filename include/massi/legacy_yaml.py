"""Import from and export to the legacy ``fill_db.yaml`` format.

Layout: ``{year: {ATLAS|CMS: {"<fill>.tgz": <naive local datetime>}}}``, written by PyYAML in
flow style. Export reproduces an imported file byte for byte as long as nothing changed.
"""

from __future__ import annotations

import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from include.core import atomic
from include.core.errors import InputFileError
from include.lumi.filldb import epoch_to_local_naive, local_naive_to_epoch
from include.massi.filedb import CURRENT, FillDB, archives

ARCHIVE_NAME = re.compile(r"^(\d+)\.(tgz|zip)$")
EXPERIMENTS = ("ATLAS", "CMS", "ALICE", "LHCb")


def load_legacy(path: str | Path) -> dict[int, dict[str, dict[str, datetime]]]:
    """Read and validate a legacy file (safe loader; every entry checked)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputFileError(path, f"cannot read legacy fill DB: {exc}") from exc
    if not isinstance(data, dict):
        raise InputFileError(path, "expected a mapping {year: {experiment: {archive: mtime}}}")
    for year, experiments in data.items():
        if not isinstance(year, int) or not isinstance(experiments, dict):
            raise InputFileError(path, f"year key {year!r} must be an integer mapping to experiments")
        for exp, entries in experiments.items():
            if exp not in EXPERIMENTS or not isinstance(entries, dict):
                raise InputFileError(path, f"{year}: unknown experiment {exp!r}")
            for name, mtime in entries.items():
                if not ARCHIVE_NAME.match(str(name)):
                    raise InputFileError(path, f"{year}/{exp}: {name!r} is not an archive name <fill>.tgz|zip")
                if not isinstance(mtime, datetime):
                    raise InputFileError(path, f"{year}/{exp}/{name}: {mtime!r} is not a timestamp")
    return data


def import_legacy(db: FillDB, path: str | Path, now: float | None = None) -> int:
    """Load a legacy file into the database as the processed baseline; returns rows inserted.

    Entries already in the database are left alone (the database is the newer record).
    """
    now = time.time() if now is None else now
    data = load_legacy(path)
    inserted = 0
    with db.transaction() as conn:
        for year, experiments in data.items():
            for exp, entries in experiments.items():
                for name, mtime in entries.items():
                    values = {
                        "year": year,
                        "experiment": exp,
                        "archive": name,
                        "fill": int(ARCHIVE_NAME.match(name).group(1)),
                        "mtime": local_naive_to_epoch(mtime),
                        "legacy_mtime": mtime.isoformat(sep=" "),
                        "first_seen": now,
                        "last_seen": now,
                        "change_seq": 1,
                        "processed_seq": 1,
                        "processed_at": now,
                        "state": CURRENT,
                    }
                    inserted += db.insert_row(conn, values)
    return inserted


def _legacy_datetime(row: Any) -> datetime:
    if row.legacy_mtime:
        legacy = datetime.fromisoformat(row.legacy_mtime)
        if local_naive_to_epoch(legacy) == row.mtime:
            return legacy
    return epoch_to_local_naive(row.mtime)


def export_legacy(db: FillDB, year: int) -> str:
    """The legacy YAML text of one year (archives that vanished are left out)."""
    query = (
        sa.select(archives)
        .where(archives.c.year == year, archives.c.state == CURRENT)
        .order_by(archives.c.experiment, archives.c.fill, archives.c.archive)
    )
    out: dict[str, dict[str, datetime]] = {}
    with db.engine.connect() as conn:
        for row in conn.execute(query):
            out.setdefault(row.experiment, {})[row.archive] = _legacy_datetime(row)
    ordered = {exp: out[exp] for exp in EXPERIMENTS if exp in out}
    return yaml.safe_dump({year: ordered}, default_flow_style=True)


def write_legacy(db: FillDB, year: int, path: str | Path) -> Path:
    """Write the legacy YAML of ``year`` atomically."""
    return atomic.write_text(path, export_legacy(db, year))
