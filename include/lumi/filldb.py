"""The fill DB (spec §4): YAML record of Massi archive mtimes, shared by parallel tasks.

Layout ``{year: {ATLAS: {'<N>.tgz': naive local datetime}, CMS: {...}}}``; mtimes are compared
as integer epoch seconds with the naive times read as Europe/Zurich. Updates happen under an
exclusive lock, re-reading inside it, and are written atomically.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from include.core import atomic
from include.core.errors import InputFileError
from include.lumi.constants import TIMEZONE

_ZONE = ZoneInfo(TIMEZONE)


def load_db(path: str | Path) -> dict[int, dict[str, dict[str, datetime]]]:
    """Read the DB with the safe loader; a missing file is an empty DB."""
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise InputFileError(path, f"corrupt fill DB ({exc})") from exc
    if not isinstance(data, dict):
        raise InputFileError(path, "fill DB must be a mapping year -> experiment -> archive -> mtime")
    return {int(y): {str(e): dict(v or {}) for e, v in (exps or {}).items()} for y, exps in data.items()}


def local_naive_to_epoch(value: datetime) -> int:
    """A naive Europe/Zurich datetime (as stored) -> integer epoch seconds."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=_ZONE)
    return int(value.timestamp())


def epoch_to_local_naive(epoch: float) -> datetime:
    """Integer epoch seconds -> naive Europe/Zurich datetime (the stored form)."""
    return datetime.fromtimestamp(int(epoch), _ZONE).replace(tzinfo=None)


def archive_status(db: dict, year: int, experiment: str, archive: Path) -> str:
    """``'up to date'``, ``'changed'`` or ``'new'`` for one archive."""
    entry = db.get(year, {}).get(experiment, {}).get(archive.name)
    if entry is None:
        return "new"
    if not isinstance(entry, datetime):
        return "changed"
    return "up to date" if local_naive_to_epoch(entry) == int(archive.stat().st_mtime) else "changed"


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Exclusive lock on ``<path>.lock``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def record_archives(path: str | Path, year: int, archives: dict[str, Path]) -> dict[str, Any]:
    """After a successful massi step: store the mtimes of ``{experiment: archive}``.

    Returns ``{experiment: previous status}``. The file is rewritten only if something changed.
    """
    path = Path(path)
    with locked(path):
        db = load_db(path)
        statuses = {exp: archive_status(db, year, exp, arc) for exp, arc in archives.items()}
        if any(s != "up to date" for s in statuses.values()):
            for exp, arc in archives.items():
                db.setdefault(year, {}).setdefault(exp, {})[arc.name] = epoch_to_local_naive(arc.stat().st_mtime)
            atomic.write_text(path, yaml.safe_dump(db, default_flow_style=None, width=100))
    return statuses
