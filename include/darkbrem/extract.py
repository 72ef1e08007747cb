"""Native ``g4db-extract-library``: an LHE library directory -> one CSV (optionally gzipped).

Reproduces the reference tool's output byte for byte (spec §4-5): rows sorted by target Z, then
incident energy (numerically, stable; files in sorted name order), every float printed like C
``%g``, ``\\n`` line ends. Unlike the legacy tool, a library without any matching event is an
error, and so is a row count that differs from the expected one.

Memory does not grow with the library: rows are spooled to one temporary file per
(Z, incident energy) key and the spools are concatenated in key order.

    python -m include.darkbrem.extract LIB_DIR [-o OUT.csv[.gz]] --aprime-id 1023 [--csv-format v1]
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from include.core import atomic
from include.core.errors import InputFileError, ParamError, ProductionError
from include.darkbrem.lhe import DarkBremEvent, iter_events

LIBRARY_EXTENSIONS = (".csv", ".csv.gz", ".lhe", ".lhe.gz")
CSV_FORMATS = ("v2", "v1")
_V1_HEADER = (
    "incident_energy,recoil_energy,recoil_px,recoil_py,recoil_pz,"
    "centerMomentum_energy,centerMomentum_px,centerMomentum_py,centerMomentum_pz"
)
HEADERS = {"v2": "target_Z," + _V1_HEADER, "v1": _V1_HEADER}
COLUMNS = {"v2": 10, "v1": 9}
GZIP_LEVEL = 6  # gzip's own default: about 3x faster than Python's 9, 3% larger

# Legacy exit codes of the command-line tool.
EXIT_OK, EXIT_BAD_CLI, EXIT_BAD_OUTPUT, EXIT_OTHER = 0, 1, 2, 127


class NoEventsError(InputFileError):
    """The library holds no event that matches the A' id (the legacy tool wrote a header-only CSV)."""


@dataclass
class ExtractionSummary:
    """What an extraction read and wrote."""

    output: str
    rows: int
    files: int
    bytes_read: int
    rows_per_energy: dict[str, int] = field(default_factory=dict)


def fmt_g(value: float) -> str:
    """C ``%g`` (6 significant digits), as ``std::ostream`` prints a double by default."""
    return "%g" % value  # noqa: UP031 - exactly C's %g


def format_row(event: DarkBremEvent, csv_format: str = "v2") -> str:
    """One CSV row (without line end): [Z,] E_inc, recoil E px py pz, (recoil + A') E px py pz."""
    r, a = event.recoil, event.aprime
    values = (event.incident_energy, r.e, r.px, r.py, r.pz, r.e + a.e, r.px + a.px, r.py + a.py, r.pz + a.pz)
    cells = ",".join(fmt_g(v) for v in values)
    return f"{event.z},{cells}" if csv_format == "v2" else cells


def library_files(lib_dir: Path) -> list[Path]:
    """The library entries of a directory (non-recursive), sorted by name."""
    if not lib_dir.is_dir():
        raise InputFileError(lib_dir, "library directory does not exist or is not a directory")
    return sorted(p for p in lib_dir.iterdir() if p.is_file() and p.name.endswith(LIBRARY_EXTENSIONS))


def _csv_rows(path: Path, csv_format: str) -> Iterator[tuple[tuple[int, float], str]]:
    """Rows of a 10-column CSV found in the library, re-printed in ``csv_format`` with their key."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="ascii", newline="") as handle:  # type: ignore[operator]
        next(handle, None)  # the header line, whatever it holds
        for number, line in enumerate(handle, start=2):
            line = line.rstrip("\n")
            if not line:
                break  # readers stop at the first empty line
            cells = line.split(",")
            if len(cells) != COLUMNS["v2"]:
                raise InputFileError(path, f"line {number}: not exactly 10 columns (only v2 CSVs can be merged)")
            try:
                values = [float(c) if c else -9999.0 for c in cells]
            except ValueError as exc:
                raise InputFileError(path, f"line {number}: {exc}") from exc
            z, rest = int(values[0]), ",".join(fmt_g(v) for v in values[1:])
            yield (z, values[1]), (f"{z},{rest}" if csv_format == "v2" else rest)


def _events(path: Path, aprime_id: int, csv_format: str) -> Iterator[tuple[tuple[int, float], str]]:
    if path.name.endswith((".csv", ".csv.gz")):
        yield from _csv_rows(path, csv_format)
        return
    for event in iter_events(path, aprime_id):
        yield (event.z, event.incident_energy), format_row(event, csv_format)


class _Spool:
    """Rows grouped by key in temporary files; read back in sorted key order."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.files: dict[tuple[int, float], Path] = {}
        self.counts: dict[tuple[int, float], int] = {}
        self._open: dict[tuple[int, float], IO[str]] = {}

    def add(self, key: tuple[int, float], row: str) -> None:
        handle = self._open.get(key)
        if handle is None:
            path = self.files.setdefault(key, self.folder / f"{len(self.files)}.rows")
            handle = self._open[key] = open(path, "a", encoding="ascii", newline="")  # noqa: SIM115
            self.counts.setdefault(key, 0)
        handle.write(row + "\n")
        self.counts[key] += 1

    def close_open(self) -> None:
        for handle in self._open.values():
            handle.close()
        self._open.clear()

    def copy_sorted(self, out: IO[bytes]) -> None:
        self.close_open()
        for key in sorted(self.files):  # (int Z, float energy): numeric order; ties impossible
            with open(self.files[key], "rb") as handle:
                shutil.copyfileobj(handle, out, 1 << 20)


def default_output(lib_dir: Path) -> Path:
    """``<lib_dir>.csv`` next to the directory (one trailing ``/`` removed)."""
    return Path(str(lib_dir).removesuffix("/") + ".csv")


def _open_output(path: Path) -> IO[bytes]:
    raw = open(path, "wb")  # noqa: SIM115
    if path.name.endswith(".gz"):
        # gzip -n: no original name and mtime 0, so that the bytes (and checksums) are reproducible
        return gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=GZIP_LEVEL)
    return raw


def extract(
    lib_dir: str | Path,
    output: str | Path | None = None,
    *,
    aprime_id: int,
    csv_format: str = "v2",
    expected_events: int | None = None,
) -> ExtractionSummary:
    """Extract ``lib_dir`` into ``output`` (``.csv`` or ``.csv.gz``); return what was done.

    ``aprime_id`` has no default on purpose: 622 for dbgen v4 libraries, 1023 for v5.
    """
    if csv_format not in CSV_FORMATS:
        raise ParamError("csv_format", f"{csv_format!r} is not one of {', '.join(CSV_FORMATS)}")
    if not isinstance(aprime_id, int) or isinstance(aprime_id, bool) or aprime_id <= 0:
        raise ParamError("aprime_id", f"{aprime_id!r} is not a positive PDG id")
    lib_dir = Path(lib_dir)
    output = Path(output) if output is not None else default_output(lib_dir)
    if not output.name.endswith((".csv", ".csv.gz")):
        raise ParamError("output", f"{output} must end in .csv or .csv.gz")
    files = library_files(lib_dir)
    if not files:
        raise InputFileError(lib_dir, f"no library entries ({', '.join(LIBRARY_EXTENSIONS)}) in this directory")
    with tempfile.TemporaryDirectory(prefix=".spool-", dir=output.parent if output.parent.is_dir() else None) as tmp:
        spool = _Spool(Path(tmp))
        for path in files:
            for key, row in _events(path, aprime_id, csv_format):
                spool.add(key, row)
            spool.close_open()
        rows = sum(spool.counts.values())
        if rows == 0:
            raise NoEventsError(
                lib_dir, f"no event matches A' id {aprime_id} (v4 libraries use 622, v5 use 1023); nothing written"
            )
        if expected_events is not None and rows != expected_events:
            raise InputFileError(lib_dir, f"extracted {rows} events, expected {expected_events}; nothing written")
        with atomic.atomic_path(output) as tmp_out, _open_output(tmp_out) as out:
            out.write((HEADERS[csv_format] + "\n").encode("ascii"))
            spool.copy_sorted(out)
    per_energy: dict[str, int] = {}
    for (_z, energy), count in sorted(spool.counts.items()):
        per_energy[fmt_g(energy)] = per_energy.get(fmt_g(energy), 0) + count
    return ExtractionSummary(str(output), rows, len(files), sum(p.stat().st_size for p in files), per_energy)


def extract_library(
    lib_dir: str | Path,
    output: str | Path | None = None,
    aprime_id: int | None = None,
    *,
    csv_format: str = "v2",
    expected_events: int | None = None,
) -> Path:
    """Spec interface: extract ``lib_dir`` and return the written CSV path."""
    if aprime_id is None:
        raise ParamError("aprime_id", "no silent default: pass 622 (dbgen v4) or 1023 (dbgen v5)")
    return Path(
        extract(lib_dir, output, aprime_id=aprime_id, csv_format=csv_format, expected_events=expected_events).output
    )


def gzip_file(src: str | Path, dest: str | Path | None = None, *, remove_source: bool = True) -> Path:
    """``gzip -n``: ``<name>.csv`` -> ``<name>.csv.gz`` with mtime 0 and no stored name, atomically."""
    src = Path(src)
    dest = Path(dest) if dest is not None else src.with_name(src.name + ".gz")
    with atomic.atomic_path(dest) as tmp, open(src, "rb") as inp, _open_output(tmp) as out:
        shutil.copyfileobj(inp, out, 1 << 20)
    if remove_source:
        src.unlink()
    return dest


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.darkbrem.extract", description=__doc__.splitlines()[0])
    parser.add_argument("lib_dir", type=Path)
    parser.add_argument("-o", "--output", type=Path, help="default: <lib_dir>.csv beside the directory")
    parser.add_argument("--aprime-id", type=int, required=True, help="622 for dbgen v4 libraries, 1023 for v5")
    parser.add_argument("--csv-format", choices=CSV_FORMATS, default="v2")
    parser.add_argument("--expected-events", type=int)
    try:
        args = parser.parse_args(None if argv is None else list(argv))
    except SystemExit as exc:
        return EXIT_OK if exc.code == 0 else EXIT_BAD_CLI
    output = args.output or default_output(args.lib_dir)
    if not output.parent.is_dir():
        print(f"error: cannot open output {output}: no such directory", file=sys.stderr)
        return EXIT_BAD_OUTPUT
    try:
        summary = extract(
            args.lib_dir,
            output,
            aprime_id=args.aprime_id,
            csv_format=args.csv_format,
            expected_events=args.expected_events,
        )
    except ProductionError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_OTHER
    print(f"{summary.rows} events from {summary.files} files -> {summary.output}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
