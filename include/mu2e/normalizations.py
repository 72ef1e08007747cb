"""Expected events per process for an ensemble (spec §1–§4), and the CLI that prints the table.

    python -m include.mu2e.normalizations --livetime "1 h" --BB 1BB [--mode onspill] [--seed 1]

Cosmics are the livetime standard (their result is a livetime, not a count); CE from R_µe; DIO,
RPC, RMC and IPA Michel above their minimum energies from the spectrum tables. Everything is
computed lazily for the requested processes only, every yield is a mean (λ), and counts are drawn
only on request, with a recorded seed. Constants: :mod:`include.mu2e.constants`; stop rates:
:mod:`include.mu2e.conditions`; spectrum fractions: :mod:`include.mu2e.spectra`.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from include.core.errors import ParamError
from include.mu2e import form, spectra
from include.mu2e.conditions import StopRates, pinned, stop_rates
from include.mu2e.constants import (
    LIVETIME_MODES,
    MICROBUNCH_PERIOD_S,
    POT_METHODS,
    PhysicsConstants,
    beam_mode,
)
from include.mu2e.form import ALL_PROCESSES, COSMIC, PROCESSES
from include.mu2e.naming import parse_livetime


@dataclass(frozen=True)
class NormParams:
    """What the normalisation depends on (the trigger form's physics fields)."""

    bb: str = form.DEFAULT_BB
    livetime_s: float = 3600.0
    livetime_mode: str = form.DEFAULT_LIVETIME_MODE
    pot_method: str = "spill"
    rue: float = form.DEFAULT_RUE
    dem_emin: float = form.DEFAULT_DEM_EMIN
    rpc_emin: float = 50.0
    rmc_emin: float = 85.0
    rmc_kmax: float = 90.1
    ipa_emin: float = 70.0
    tmin: float = form.DEFAULT_TMIN
    conditions: str = form.DEFAULT_CONDITIONS
    tables_dir: str | None = None
    constants: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        beam_mode(self.bb)
        if self.livetime_mode not in LIVETIME_MODES:
            raise ParamError("livetime_mode", f"{self.livetime_mode!r} is not one of {', '.join(LIVETIME_MODES)}")
        if self.pot_method not in POT_METHODS:
            raise ParamError("pot_method", f"{self.pot_method!r} is not one of {', '.join(POT_METHODS)}")
        parse_livetime(self.livetime_s)
        if not (0 <= self.rue < 1):
            raise ParamError("rue", f"{self.rue} must be in [0, 1)")
        if not (0 <= self.tmin <= 1695):
            raise ParamError("tmin", f"{self.tmin} ns must be within the 1695 ns micro-bunch")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Livetime:
    """Both times of an ensemble: on-spill seconds and wall-clock seconds, and the cosmic target."""

    mode: str
    onspill_s: float
    wallclock_s: float
    cosmic_target_s: float


def beam_livetime(value_s: float, mode: str, bb: str) -> Livetime:
    """Interpret the typed-in seconds per ``livetime_mode`` (spec §1)."""
    df = beam_mode(bb).duty_factor
    if mode == "onspill":
        return Livetime(mode, value_s, value_s / df, value_s)
    if mode == "wallclock":
        return Livetime(mode, value_s * df, value_s, value_s * df)
    raise ParamError("livetime_mode", f"{mode!r} is not one of {', '.join(LIVETIME_MODES)}")


def pot_per_second(bb: str, mode: str = "onspill", method: str = "spill") -> float:
    """POT per second of typed-in time.

    onspill, spill method: p_mb / 1.695e-6 s; onspill, cycle method: POT_cycle / (T_cycle · DF);
    wallclock: POT_cycle / T_cycle.
    """
    beam = beam_mode(bb)
    if mode == "wallclock":
        return beam.pot_per_cycle / beam.cycle_s
    if mode != "onspill":
        raise ParamError("livetime_mode", f"{mode!r} is not one of {', '.join(LIVETIME_MODES)}")
    if method == "spill":
        return beam.protons_per_microbunch / MICROBUNCH_PERIOD_S
    if method == "cycle":
        return beam.pot_per_cycle / beam.cycle_s / beam.duty_factor
    raise ParamError("pot_method", f"{method!r} is not one of {', '.join(POT_METHODS)}")


def number_of_pot(params: NormParams) -> float:
    """N_POT for the typed-in time."""
    return params.livetime_s * pot_per_second(params.bb, params.livetime_mode, params.pot_method)


@dataclass(frozen=True)
class Yield:
    """A generator-level mean and the factors it is the product of."""

    process: str
    mean: float
    factors: dict[str, float]


class Normalization:
    """Yields of one campaign; each process is computed on first request only."""

    def __init__(self, params: NormParams, rates: StopRates | None = None):
        self.params = params
        self.constants = PhysicsConstants().with_overrides(params.constants)
        if rates is None:
            rows, meta = pinned(params.conditions)
            rates = stop_rates(rows, self.constants, source=f"{params.conditions}: {meta}")
        self.rates = rates
        self.livetime = beam_livetime(params.livetime_s, params.livetime_mode, params.bb)
        self.n_pot = number_of_pot(params)
        self.n_mu_stops = self.n_pot * rates.target_mu_stops_per_pot
        self._cache: dict[str, Yield] = {}

    def yield_of(self, process: str) -> Yield:
        """The mean of ``process`` (for cosmics: the livetime target in seconds)."""
        if process not in self._cache:
            builder = getattr(self, f"_{process.lower()}", None)
            if process not in ALL_PROCESSES or builder is None:
                raise ParamError("processes", f"{process!r} is not one of {', '.join(ALL_PROCESSES)}")
            factors = builder()
            self._cache[process] = Yield(process, float(np.prod(list(factors.values()))), factors)
        return self._cache[process]

    def means(self, processes: list[str] | tuple[str, ...] = PROCESSES) -> dict[str, float]:
        return {p: self.yield_of(p).mean for p in processes}

    # -- one builder per process: the factors whose product is the mean ----------------------

    def _crycosmic(self) -> dict[str, float]:
        return {"cosmic_livetime_target_s": self.livetime.cosmic_target_s}

    def _ce(self) -> dict[str, float]:
        return {
            "n_mu_stops": self.n_mu_stops,
            "capture_per_stop": self.constants.capture_per_stop,
            "rue": self.params.rue,
        }

    _cemleadinglog = _ce
    _cepleadinglog = _ce

    def _dio(self) -> dict[str, float]:
        return {
            "n_mu_stops": self.n_mu_stops,
            "dio_per_stop": self.constants.dio_per_stop,
            "f_dio": spectra.dio_fraction(self.params.dem_emin, self.params.tables_dir),
        }

    def _rpcexternal(self) -> dict[str, float]:
        r = self.rates
        return {
            "n_pot": self.n_pot,
            "pi_stops_per_pot": r.target_pi_stops_per_pot,
            "pion_filter_eff": r.pion_filter_eff,
            "pion_survival_weight": r.pion_survival_weight,
            "rpc_per_pion_stop": self.constants.rpc_per_pion_stop,
            "f_rpc": spectra.rpc_fraction(self.params.rpc_emin, self.params.tables_dir),
        }

    def _rpcinternal(self) -> dict[str, float]:
        return {**self._rpcexternal(), "internal_conversion": self.constants.rpc_internal_conversion}

    def _rmcexternal(self) -> dict[str, float]:
        return {
            "n_mu_stops": self.n_mu_stops,
            "capture_per_stop": self.constants.capture_per_stop,
            "rmc_per_capture": self.constants.rmc_per_capture,
            "f_rmc": spectra.rmc_fraction(self.params.rmc_emin, self.params.rmc_kmax),
        }

    def _rmcinternal(self) -> dict[str, float]:
        return {**self._rmcexternal(), "internal_conversion": self.constants.rmc_internal_conversion}

    def _ipamichel(self) -> dict[str, float]:
        return {
            "n_pot": self.n_pot,
            "ipa_stops_per_pot": self.rates.ipa_mu_stops_per_pot,
            "ipa_decay_per_stop": self.constants.ipa_decay_per_stop,
            "eps_ipa": spectra.ipa_efficiency(self.params.ipa_emin, self.params.tables_dir),
        }

    def inverse_rue(self, n_signal: float) -> float:
        """R_µe giving ``n_signal`` CE events: N_sig / (N_µ · capture fraction)."""
        return n_signal / (self.n_mu_stops * self.constants.capture_per_stop)

    def beam(self) -> dict[str, float | str]:
        """Beam quantities recorded in every output (both t_on and t_wall)."""
        return {
            "BB": self.params.bb,
            "livetime_mode": self.params.livetime_mode,
            "pot_method": self.params.pot_method,
            "onspill_s": self.livetime.onspill_s,
            "wallclock_s": self.livetime.wallclock_s,
            "cosmic_livetime_target_s": self.livetime.cosmic_target_s,
            "n_pot": self.n_pot,
            "n_mu_stops": self.n_mu_stops,
        }

    def report(self, processes: list[str] | tuple[str, ...] = ALL_PROCESSES, seed: int | None = None) -> dict:
        """JSON-able record: beam, means (and seeded draws), constants, rates, table hashes."""
        wanted = [p for p in processes if p != COSMIC]
        means = self.means(wanted)
        out: dict[str, Any] = {
            "params": self.params.to_dict(),
            "beam": self.beam(),
            "means": means,
            "factors": {p: self.yield_of(p).factors for p in wanted},
            "constants": self.constants.to_dict(),
            "beam_constants": beam_mode(self.params.bb).to_dict(),
            "stop_rates": self.rates.to_dict(),
            "tables": spectra.table_hashes(self.params.tables_dir),
        }
        if COSMIC in processes:
            out["cosmic_livetime_target_s"] = self.yield_of(COSMIC).mean
        if seed is not None:
            out["draw_seed"] = seed
            out["draws"] = draw_counts(means, seed)
        return out


def draw_counts(means: dict[str, float], seed: int) -> dict[str, int]:
    """Poisson counts for ``means`` from one seeded generator, in sorted process order."""
    rng = np.random.default_rng(seed)
    return {name: int(rng.poisson(means[name])) for name in sorted(means)}


def format_table(report: dict) -> str:
    """The printed table: beam lines then one row per process (mean, draw)."""
    beam = report["beam"]
    lines = [
        f"BB {beam['BB']}  mode {beam['livetime_mode']} ({beam['pot_method']})  "
        f"t_on {beam['onspill_s']:.6g} s  t_wall {beam['wallclock_s']:.6g} s",
        f"N_POT {beam['n_pot']:.4e}  N_mu_stops {beam['n_mu_stops']:.4e}  "
        f"cosmic livetime target {beam['cosmic_livetime_target_s']:.6g} s",
        f"{'process':<16}{'mean':>14}{'draw':>14}",
    ]
    draws = report.get("draws", {})
    for name, mean in report["means"].items():
        lines.append(f"{name:<16}{mean:>14.4e}{draws.get(name, ''):>14}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m include.mu2e.normalizations", description=__doc__.splitlines()[0])
    parser.add_argument("--livetime", default="1 h", help="with a unit: s, min, h, d (default 1 h)")
    parser.add_argument("--BB", dest="bb", default="1BB", choices=["1BB", "2BB"])
    parser.add_argument("--mode", dest="livetime_mode", default="onspill", choices=LIVETIME_MODES)
    parser.add_argument("--pot-method", default="spill", choices=POT_METHODS)
    parser.add_argument("--rue", type=float, default=1e-13)
    parser.add_argument("--dem-emin", type=float, default=95.0)
    parser.add_argument("--rpc-emin", type=float, default=50.0)
    parser.add_argument("--rmc-emin", type=float, default=85.0)
    parser.add_argument("--ipa-emin", type=float, default=70.0)
    parser.add_argument("--conditions", default="spec-example")
    parser.add_argument("--tables-dir", default=None)
    parser.add_argument("--seed", type=int, default=None, help="draw Poisson counts with this seed")
    parser.add_argument("--json", action="store_true", help="print the full JSON record")
    args = parser.parse_args(argv)
    try:
        params = NormParams(
            bb=args.bb,
            livetime_s=parse_livetime(args.livetime),
            livetime_mode=args.livetime_mode,
            pot_method=args.pot_method,
            rue=args.rue,
            dem_emin=args.dem_emin,
            rpc_emin=args.rpc_emin,
            rmc_emin=args.rmc_emin,
            ipa_emin=args.ipa_emin,
            conditions=args.conditions,
            tables_dir=args.tables_dir,
        )
        report = Normalization(params).report(seed=args.seed)
    except ParamError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report, indent=2, sort_keys=True) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
