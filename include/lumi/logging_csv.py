"""The logging-database CSV layout (spec §2.3): writer and reader.

::

    VARIABLE: LHC.BCTDC.A6R4.B1:BEAM_INTENSITY

    Timestamp (UTC_TIME),Value
    2017-06-01 12:00:01.123,2.51E14

A header containing ``Timestamp (UTC_TIME)`` means UTC, otherwise Europe/Zurich local time.
Timestamps are truncated to whole seconds; a row keeps all its comma-separated values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from include.core import atomic
from include.core.errors import InputFileError
from include.lumi.constants import TIMEZONE

UTC_HEADER = "Timestamp (UTC_TIME)"


@dataclass
class LoggedVariable:
    """One variable of a logging CSV: times (UNIX s) and the raw value rows."""

    name: str
    t: np.ndarray
    rows: list[list[str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def scalars(self) -> np.ndarray:
        """First value of each row as float."""
        return np.array([float(r[0]) for r in self.rows], dtype=float)

    def strings(self) -> list[str]:
        """First value of each row as text (e.g. beam-mode names)."""
        return [r[0] for r in self.rows]

    def arrays(self) -> list[np.ndarray]:
        """Each row as a float vector (lengths may differ)."""
        return [np.array(r, dtype=float) for r in self.rows]

    def flat(self) -> tuple[np.ndarray, np.ndarray]:
        """All values of all rows as one float vector, and the length of each row."""
        lengths = np.fromiter((len(r) for r in self.rows), dtype=np.int64, count=len(self.rows))
        values = np.array([v for r in self.rows for v in r], dtype=float)
        return values, lengths

    def matrix(self, width: int) -> np.ndarray:
        """Rows as a (T, width) float matrix; shorter rows are zero-padded, longer ones cut."""
        out = np.zeros((len(self.rows), width))
        for i, row in enumerate(self.rows):
            values = np.array(row[:width], dtype=float)
            out[i, : len(values)] = values
        return out


def format_times(t: np.ndarray) -> list[str]:
    """UNIX seconds -> ``YYYY-MM-DD HH:MM:SS.mmm`` (UTC)."""
    ms = np.round(np.asarray(t, dtype=float) * 1000).astype("int64").astype("datetime64[ms]")
    return [s.replace("T", " ") for s in np.datetime_as_string(ms, unit="ms").tolist()]


def _is_timestamp(text: str) -> bool:
    try:
        datetime.strptime(text[:19], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return False
    return True


def _parse_times(stamps: Sequence[str], utc: bool, path: Path) -> np.ndarray:
    if not stamps:
        return np.zeros(0)
    try:
        parsed = pd.to_datetime([s[:19] for s in stamps], format="%Y-%m-%d %H:%M:%S")
    except (ValueError, TypeError) as exc:
        bad = next((s for s in stamps if not _is_timestamp(s)), None)
        what = f"{bad[:40]!r} is not a 'YYYY-MM-DD HH:MM:SS' timestamp" if bad else str(exc).splitlines()[0]
        raise InputFileError(path, f"corrupt or truncated: {what}") from exc
    if not utc:
        parsed = parsed.tz_localize(TIMEZONE, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
        if parsed.isna().any():
            parsed = pd.DatetimeIndex(
                [pd.Timestamp(s[:19]).tz_localize(TIMEZONE, ambiguous=True) for s in stamps]
            ).tz_convert("UTC")
        parsed = parsed.tz_localize(None)
    return parsed.as_unit("s").asi8.astype(float)


def read_logging_csv(path: str | Path) -> dict[str, LoggedVariable]:
    """Read every variable of a logging CSV; an unreadable file raises :class:`InputFileError`."""
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise InputFileError(path, f"cannot read logging CSV ({exc.strerror or exc})") from exc
    variables: dict[str, LoggedVariable] = {}
    name: str | None = None
    utc = True
    stamps: list[str] = []
    rows: list[list[str]] = []

    def close() -> None:
        if name is not None:
            variables[name] = LoggedVariable(name, _parse_times(stamps, utc, path), list(rows))

    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("VARIABLE:"):
            close()
            name = line.split(":", 1)[1].strip()
            utc, stamps, rows = True, [], []
        elif line.startswith("Timestamp"):
            utc = UTC_HEADER in line
        else:
            if name is None:
                raise InputFileError(path, f"line {lineno}: data before the first 'VARIABLE:' line")
            stamp, _, rest = line.partition(",")
            stamps.append(stamp)
            rows.append(rest.split(","))
    close()
    return variables


def variable_block(name: str, t: np.ndarray, rows: Iterable[str], array: bool = False) -> str:
    """One ``VARIABLE:`` block with pre-formatted value rows (UTC header)."""
    header = f"VARIABLE: {name}\n\n{UTC_HEADER},{'Array Values' if array else 'Value'}\n"
    body = "\n".join(f"{s},{r}" for s, r in zip(format_times(t), rows, strict=True))
    return header + body + ("\n" if body else "")


def write_logging_csv(path: str | Path, blocks: Iterable[str]) -> Path:
    """Write ``VARIABLE`` blocks atomically (blocks separated by nothing, like the extractor)."""
    return atomic.write_text(path, "".join(blocks))


def require(variables: dict[str, LoggedVariable], name: str, path: str | Path) -> LoggedVariable:
    """The variable ``name`` or an :class:`InputFileError` naming the file."""
    try:
        return variables[name]
    except KeyError:
        raise InputFileError(path, f"variable {name!r} is missing") from None
