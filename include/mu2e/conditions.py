"""Stopped-particle rates from the conditions table ``SimEfficiencies2`` (spec §3).

The rows (``tag,numerator,denominator,eff``) are queried once per campaign in a separate task and
pinned in versioned config (``config/conditions.yaml``), so the normalisation never needs the
database. Every tag is required: a missing or misspelt tag fails loudly (the legacy code read
``PiSelectedLifeimeWeight_sampler`` and silently got zero RPC yields).
"""

from __future__ import annotations

import csv
import io
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from include.core.errors import ConfigError, InputFileError, ParamError
from include.mu2e.constants import PhysicsConstants

CONFIG_FILE = Path(__file__).resolve().parent / "config" / "conditions.yaml"
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
    """Parse a ``tag,numerator,denominator,eff`` dump of ``SimEfficiencies2``."""
    rows: dict[str, Row] = {}
    reader = csv.reader(line for line in io.StringIO(text) if line.strip() and not line.startswith("#"))
    for number, fields in enumerate(reader, 1):
        if fields and fields[0].strip() == "tag":
            continue
        if len(fields) != 4:
            raise InputFileError(source, f"line {number}: expected tag,numerator,denominator,eff")
        try:
            rows[fields[0].strip()] = Row(*(float(f) for f in fields[1:]))
        except ValueError as exc:
            raise InputFileError(source, f"line {number}: {exc}") from exc
    return rows


def pinned(key: str, config_file: str | Path = CONFIG_FILE) -> tuple[dict[str, Row], dict[str, Any]]:
    """The pinned rows of conditions set ``key`` and its description (purpose, version, run)."""
    path = Path(config_file)
    try:
        sets = yaml.safe_load(path.read_text())["sets"]
    except (OSError, KeyError, TypeError, yaml.YAMLError) as exc:
        raise InputFileError(path, f"unreadable conditions config: {exc}") from exc
    if key not in sets:
        raise ParamError("conditions", f"{key!r} is not a pinned conditions set; known: {', '.join(sets)}")
    entry = sets[key]
    rows = {tag: Row(*map(float, values)) for tag, values in entry["rows"].items()}
    meta = {k: v for k, v in entry.items() if k != "rows"}
    return rows, meta


def pin(
    rows: dict[str, Row],
    key: str,
    *,
    purpose: str,
    version: str,
    run: int,
    description: str = "",
    config_file: str | Path = CONFIG_FILE,
) -> Path:
    """Add conditions set ``key`` (the rows of one DB query) to the versioned config; never overwrite.

    All :data:`REQUIRED_TAGS` must be present, so a misspelt DB tag is caught when pinning.
    """
    missing = [tag for tag in REQUIRED_TAGS if tag not in rows]
    if missing:
        raise ConfigError(f"cannot pin {key!r}: tags missing from the query result: {', '.join(missing)}")
    path = Path(config_file)
    config = yaml.safe_load(path.read_text()) if path.exists() else {"sets": {}}
    if key in config["sets"]:
        raise ConfigError(f"conditions set {key!r} is already pinned in {path}; choose a new key")
    config["sets"][key] = {
        "description": description or f"SimEfficiencies2 {purpose} {version} run {run}",
        "purpose": purpose,
        "version": version,
        "run": int(run),
        "rows": {tag: [r.numerator, r.denominator, r.eff] for tag, r in rows.items()},
    }
    from include.core import atomic

    header = (
        "".join(line + "\n" for line in path.read_text().splitlines() if line.startswith("#")) if path.exists() else ""
    )
    return atomic.write_text(path, header + yaml.safe_dump(config, sort_keys=False))


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="python -m include.mu2e.conditions", description="Pin a SimEfficiencies2 query result (CSV dump)."
    )
    parser.add_argument("csv", type=Path, help="tag,numerator,denominator,eff rows of one query")
    parser.add_argument("--key", required=True)
    parser.add_argument("--purpose", default="Sim_best")
    parser.add_argument("--version", default="v1_1")
    parser.add_argument("--run", type=int, default=1430)
    parser.add_argument("--config", type=Path, default=CONFIG_FILE)
    args = parser.parse_args(argv)
    try:
        rows = rows_from_csv(args.csv.read_text(), str(args.csv))
        path = pin(rows, args.key, purpose=args.purpose, version=args.version, run=args.run, config_file=args.config)
    except (OSError, ConfigError, InputFileError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    rates = stop_rates(rows)
    print(f"pinned {args.key} in {path}: {rates.to_dict()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
