"""Stopped-particle rates from the conditions table ``SimEfficiencies2`` (spec §3).

The rows (``tag,numerator,denominator,eff``) are queried once per campaign in a separate, logged
task (:func:`query_rows`, the ``mu2e_conditions`` DAG runs ``dbTool print-run``) and pinned in
versioned config, so the normalisation never needs the database. Sets are looked up in the site
file ``<data root>/mu2e/conditions.yaml`` (where :func:`pin` adds them) and then in the shipped
``config/conditions.yaml``; a key is never redefined. Every tag is required: a missing or misspelt
tag fails loudly (the legacy code read ``PiSelectedLifeimeWeight_sampler`` and silently got zero
RPC yields).
"""

from __future__ import annotations

import csv
import itertools
import logging
import math
import re
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from include.core.errors import ConfigError, InputFileError, ParamError, ProductionError
from include.mu2e.constants import PhysicsConstants
from include.mu2e.demo_dbtool import DEMO_PATH, is_demo_dbtool

CONFIG_FILE = Path(__file__).resolve().parent / "config" / "conditions.yaml"
"""The shipped, read-only sets (the spec's example values)."""
TABLE = "SimEfficiencies2"
PURPOSES = ("Sim_best", "MDC2020_best")
"""Query purposes the spec names: ``Sim_best`` (default, run 1430) and ``MDC2020_best`` (Oct-2024, run 1200)."""
DEFAULT_PURPOSE, DEFAULT_VERSION, DEFAULT_RUN = "Sim_best", "v1_1", 1430
"""The mu2e_conditions form's default query (the Oct-2024 one is MDC2020_best, v1_1, run 1200)."""
MAX_DESCRIPTION = 200
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
"""A conditions-DB name or pinned-set key: letters, digits, ".", "-", "_"; at most 64 characters."""
_NAME = re.compile(NAME_PATTERN)
REQUIRED_TAGS = (
    "MuBeamCat",
    "MuminusStopsCat",
    "IPAStopsCat",
    "PiBeamCat",
    "PiTargetStops",
    "PiMinusFilter",
    "PiSelectedLifetimeWeight_sampler",
    "PhysicalPionStops",
)


@dataclass(frozen=True)
class Row:
    """One ``SimEfficiencies2`` row."""

    numerator: float
    denominator: float
    eff: float


@dataclass(frozen=True)
class StopRates:
    """Stops and efficiencies per POT, derived from the pinned rows."""

    target_mu_stops_per_pot: float
    ipa_mu_stops_per_pot: float
    target_pi_stops_per_pot: float
    pion_filter_eff: float
    pion_survival_weight: float
    source: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _row(rows: dict[str, Row], tag: str) -> Row:
    if tag not in rows:
        close = [t for t in rows if t.lower()[:8] == tag.lower()[:8]]
        hint = f" (similar: {', '.join(close)})" if close else ""
        raise ConfigError(f"SimEfficiencies2 tag {tag!r} is missing{hint}; refusing to default it to 0")
    return rows[tag]


def stop_rates(rows: dict[str, Row], constants: PhysicsConstants | None = None, source: str = "") -> StopRates:
    """The §3 rates: target µ stops (× ``target_stops_scale``), IPA stops (× ``ipa_stops_scale``), π stops,
    pion filter efficiency and pion survival weight."""
    c = constants or PhysicsConstants()
    for tag in REQUIRED_TAGS:
        _row(rows, tag)
    for tag, row in rows.items():
        if not all(math.isfinite(v) and v >= 0 for v in (row.numerator, row.denominator, row.eff)):
            raise ConfigError(f"SimEfficiencies2 tag {tag!r}: {row} has a negative or non-finite value")
    physical = _row(rows, "PhysicalPionStops").denominator
    target_pi = _row(rows, "PiTargetStops").numerator
    if physical <= 0 or target_pi <= 0:
        raise ConfigError("PhysicalPionStops.denominator and PiTargetStops.numerator must be > 0")
    return StopRates(
        target_mu_stops_per_pot=rows["MuBeamCat"].eff * rows["MuminusStopsCat"].eff * c.target_stops_scale,
        ipa_mu_stops_per_pot=rows["MuBeamCat"].eff * rows["IPAStopsCat"].eff * c.ipa_stops_scale,
        target_pi_stops_per_pot=rows["PiBeamCat"].eff * rows["PiTargetStops"].eff,
        pion_filter_eff=rows["PiMinusFilter"].numerator / target_pi,
        pion_survival_weight=rows["PiSelectedLifetimeWeight_sampler"].eff / physical,
        source=source,
    )


def rows_from_csv(text: str, source: str = "csv") -> dict[str, Row]:
    """Parse a ``tag,numerator,denominator,eff`` dump of ``SimEfficiencies2`` (``#`` lines and the
    ``tag,...`` header skipped); a malformed line or a repeated tag names its line."""
    rows: dict[str, Row] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = next(csv.reader([line]))
        if fields and fields[0].strip() == "tag":
            continue
        where = f"line {number} {line.strip()!r}"
        if len(fields) != 4:
            raise InputFileError(source, f"{where}: expected tag,numerator,denominator,eff")
        tag = fields[0].strip()
        if tag in rows:
            raise InputFileError(source, f"{where}: tag {tag!r} appears twice")
        try:
            rows[tag] = Row(*(float(f) for f in fields[1:]))
        except ValueError as exc:
            raise InputFileError(source, f"{where}: {exc}") from exc
    return rows


def site_config_file(data_root: str | Path | None = None) -> Path:
    """``<data root>/mu2e/conditions.yaml``: the sets pinned at this site."""
    if data_root is None:
        from include.settings import load_settings

        data_root = load_settings().data_root
    return Path(data_root) / "mu2e" / "conditions.yaml"


def _read_sets(path: Path) -> dict[str, Any]:
    """The ``sets`` of a conditions config, each checked: ``rows`` of ``tag: [numerator, denominator, eff]``."""
    try:
        config = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputFileError(path, f"unreadable conditions config: {exc}") from exc
    sets = config.get("sets") if isinstance(config, dict) else None
    if not isinstance(sets, dict):
        raise InputFileError(path, "not a conditions config: expected a mapping 'sets: {<key>: {rows: ...}}'")
    for key, entry in sets.items():
        rows = entry.get("rows") if isinstance(entry, dict) else None
        good = isinstance(rows, dict) and all(
            isinstance(v, list) and len(v) == 3 and all(isinstance(x, int | float) for x in v) for v in rows.values()
        )
        if not good:
            raise InputFileError(path, f"set {key!r}: 'rows' must map each tag to [numerator, denominator, eff]")
    return sets


def _config_files(config_file: str | Path | None) -> list[Path]:
    """The site file (or ``config_file``) if it exists, then the shipped one."""
    first = Path(config_file) if config_file is not None else site_config_file()
    files = [first] if first.exists() else []
    return files if files and first.resolve() == CONFIG_FILE.resolve() else [*files, CONFIG_FILE]


def known_sets(config_file: str | Path | None = None) -> dict[str, Path]:
    """Every pinned key and the file that holds it; a key in two files is an error, never an override."""
    found: dict[str, Path] = {}
    for path in _config_files(config_file):
        for key in _read_sets(path):
            if key in found:
                raise ConfigError(f"conditions set {key!r} is defined in both {found[key]} and {path}; remove one")
            found[key] = path
    return found


def pinned(key: str, config_file: str | Path | None = None) -> tuple[dict[str, Row], dict[str, Any]]:
    """The pinned rows of conditions set ``key`` and its description (purpose, version, run)."""
    where = known_sets(config_file)
    if key not in where:
        raise ParamError("conditions", f"{key!r} is not a pinned conditions set; known: {', '.join(where)}")
    entry = _read_sets(where[key])[key]
    rows = {tag: Row(*map(float, values)) for tag, values in entry["rows"].items()}
    meta = {k: v for k, v in entry.items() if k != "rows"}
    return rows, meta


class QueryError(ProductionError):
    """The conditions query failed or timed out (retryable: the database may be back later)."""


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not _NAME.match(key):
        raise ParamError("key", f"{key!r} is not a plain name (letters, digits, '.', '-', '_')")


def new_key(key: str, config_file: str | Path | None = None) -> str:
    """``key`` if it is a plain name not pinned yet, else raise (pinned sets are never redefined)."""
    _check_key(key)
    taken = known_sets(config_file)
    if key in taken:
        raise ConfigError(f"conditions set {key!r} is already pinned in {taken[key]}; choose a new key")
    return key


def default_key(purpose: str, version: str, run: int) -> str:
    """The key of a set when the form names none: ``<purpose>-<version>-<run>``, e.g. ``Sim_best-v1_1-1430``."""
    return f"{purpose}-{version}-{run}"


def _entry_description(description: str, purpose: str, version: str, run: int) -> str:
    return description or f"{TABLE} {purpose} {version} run {run}"


def validate_form(params: dict[str, Any], config_file: str | Path | None = None) -> dict[str, Any]:
    """The mu2e_conditions DAG's first task: the query selection and the key to pin it under.

    An empty key (None or ``""``) is :func:`default_key` of the selection. A key already pinned is
    refused, naming the file, unless it is this site's set of the same query (purpose, version,
    run and description): querying again then pins nothing new when the rows are the same (a
    repeated trigger of the defaults succeeds), and fails in ``pin`` when the database changed.
    """
    purpose = params.get("purpose", DEFAULT_PURPOSE)
    version, run = params.get("version", DEFAULT_VERSION), params.get("run", DEFAULT_RUN)
    _check_selection(purpose, version, run)
    description = params.get("description") or ""
    if not isinstance(description, str) or len(description) > MAX_DESCRIPTION:
        raise ParamError("description", f"{description!r} must be text of at most {MAX_DESCRIPTION} characters")
    key = params.get("key") or default_key(purpose, version, run)
    _check_key(key)
    site = Path(config_file) if config_file is not None else site_config_file()
    taken = known_sets(config_file)
    if key in taken:
        entry = _read_sets(taken[key])[key]
        same = {"purpose": purpose, "version": version, "run": run}
        same["description"] = _entry_description(description, purpose, version, run)
        if taken[key].resolve() != site.resolve() or any(entry.get(k) != v for k, v in same.items()):
            pinned_as = f"{entry.get('purpose')} {entry.get('version')} run {entry.get('run')}"
            raise ParamError("key", f"{key!r} is already pinned in {taken[key]} ({pinned_as}); choose a new key")
    return {"key": key, "purpose": purpose, "version": version, "run": run, "description": description}


def keep_raw_output(
    folder: str | Path, key: str, raw: str, rows: dict[str, Row], config_file: str | Path | None = None
) -> Path:
    """Keep a query's raw output as ``<folder>/<key>/SimEfficiencies2.csv``; return the file.

    A repeated query of a pinned key (the same selection, see :func:`validate_form`) keeps the
    pinned set's output when it gives the same rows, and is refused when the database now answers
    other rows. The output of a key not pinned yet (e.g. after a failed pin) is replaced.
    """
    from include.core import atomic

    target = Path(folder) / key / f"{TABLE}.csv"
    if target.exists() and key in known_sets(config_file):
        if rows_from_dbtool(target.read_text(), str(target)) == rows:
            return target
        raise ConfigError(
            f"conditions set {key!r}: the database now answers other {TABLE} rows than the kept query "
            f"output {target}; pin them under a new key"
        )
    return atomic.write_text(target, raw)


def _check_selection(purpose: str, version: str, run: int) -> None:
    for param, value in (("purpose", purpose), ("version", version)):
        if not isinstance(value, str) or not _NAME.match(value):
            raise ParamError(param, f"{value!r} is not a conditions-DB name (letters, digits, '.', '-', '_')")
    if isinstance(run, bool) or not isinstance(run, int) or run < 1:
        raise ParamError("run", f"{run!r} must be a positive run number")


def query_command(purpose: str, version: str, run: int, dbtool: str = "dbTool") -> list[str]:
    """argv of the legacy query: ``dbTool print-run --purpose P --version V --run R --table SimEfficiencies2
    --content``; every value is checked, nothing goes through a shell."""
    _check_selection(purpose, version, run)
    selection = ["--purpose", purpose, "--version", version, "--run", str(run)]
    return [dbtool, "print-run", *selection, "--table", TABLE, "--content"]


def rows_from_dbtool(text: str, source: str = "dbTool") -> dict[str, Row]:
    """Rows of ``dbTool print-run --content`` output: ``TABLE`` and ``#`` lines are skipped."""
    body = "\n".join("" if re.match(r"TABLE\s", line.strip() + " ") else line for line in text.splitlines())
    rows = rows_from_csv(body, source)
    if not rows:
        raise InputFileError(source, f"no {TABLE} rows in the query result")
    return rows


def query_rows(
    purpose: str, version: str, run: int, *, dbtool: str | None = None, timeout_s: float = 300.0
) -> tuple[dict[str, Row], str, list[str]]:
    """Run the conditions query; return the rows, the raw output and the command.

    ``dbtool`` defaults to the ``HEP_MU2E_DBTOOL`` setting, else ``dbTool`` on PATH. A missing
    executable is a :class:`ConfigError`; a failing or timed-out query a :class:`QueryError` with the
    command's own message; output without rows an :class:`InputFileError`.
    """
    if dbtool is None:
        from include.settings import load_settings

        dbtool = load_settings(airflow_variables=True).mu2e_dbtool or "dbTool"
    argv = query_command(purpose, version, run, dbtool)
    if is_demo_dbtool(dbtool):
        logging.getLogger(__name__).warning(
            "demo stand-in dbTool %s answers this query (fixed made-up rows, not the Mu2e conditions "
            "database); set HEP_MU2E_DBTOOL to the real dbTool in a Mu2e environment",
            dbtool,
        )
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except OSError as exc:  # missing, not executable, ...
        raise ConfigError(
            f"cannot run {dbtool!r} ({exc.strerror}): set HEP_MU2E_DBTOOL or use a Mu2e environment "
            f"(the demo's stand-in, <data root>/mu2e/{DEMO_PATH}, is written by `python -m include.demo --only mu2e`)"
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise QueryError(f"conditions query timed out after {timeout_s:g} s: {' '.join(argv)}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise QueryError(f"conditions query failed (exit {done.returncode}): {' '.join(argv)}: {' | '.join(tail)}")
    return rows_from_dbtool(done.stdout, " ".join(argv)), done.stdout, argv


def pin(
    rows: dict[str, Row],
    key: str,
    *,
    purpose: str,
    version: str,
    run: int,
    description: str = "",
    config_file: str | Path | None = None,
) -> Path:
    """Add conditions set ``key`` (the rows of one DB query) to the site config; return the file.

    The rows must give usable rates (every :data:`REQUIRED_TAGS` present, values finite and
    non-negative), so a misspelt tag or a broken query fails here and pins nothing. The file is
    rewritten atomically under a lock (it is the tool's file: only its leading comments are kept).
    A key pinned anywhere is refused, unless it holds exactly this set (a retried pin is a no-op).
    """
    import fcntl

    from include.core import atomic

    _check_selection(purpose, version, run)
    _check_key(key)
    stop_rates(rows)
    entry = {
        "description": _entry_description(description, purpose, version, run),
        "purpose": purpose,
        "version": version,
        "run": int(run),
        "rows": {tag: [r.numerator, r.denominator, r.eff] for tag, r in rows.items()},
    }
    path = Path(config_file) if config_file is not None else site_config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / f".{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        taken = known_sets(config_file)
        if key in taken:
            if taken[key] == path and _read_sets(path)[key] == entry:
                return path
            raise ConfigError(f"conditions set {key!r} is already pinned in {taken[key]}; choose a new key")
        sets = _read_sets(path) if path.exists() else {}
        existing = path.read_text().splitlines() if path.exists() else []
        comments = [f"{line}\n" for line in itertools.takewhile(lambda line: line.startswith("#"), existing)]
        header = "".join(comments) or f"# Pinned {TABLE} rows per conditions set: [numerator, denominator, eff].\n"
        return atomic.write_text(path, header + yaml.safe_dump({"sets": {**sets, key: entry}}, sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m include.mu2e.conditions",
        description="Pin SimEfficiencies2 rows: from a CSV dump, or by running the dbTool query (no CSV).",
    )
    parser.add_argument("csv", type=Path, nargs="?", help="tag,numerator,denominator,eff rows of one query")
    parser.add_argument("--key", required=True)
    parser.add_argument("--purpose", default=DEFAULT_PURPOSE, choices=PURPOSES)
    parser.add_argument("--version", default=DEFAULT_VERSION)
    parser.add_argument("--run", type=int, default=DEFAULT_RUN)
    parser.add_argument("--config", type=Path, default=None, help="default: <data root>/mu2e/conditions.yaml")
    args = parser.parse_args(argv)
    try:
        if args.csv is None:
            rows, _, _ = query_rows(args.purpose, args.version, args.run)
        else:
            rows = rows_from_csv(args.csv.read_text(), str(args.csv))
        path = pin(rows, args.key, purpose=args.purpose, version=args.version, run=args.run, config_file=args.config)
    except (OSError, ProductionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rates = stop_rates(rows)
    print(f"pinned {args.key} in {path}: {rates.to_dict()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
