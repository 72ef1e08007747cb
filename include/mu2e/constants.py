"""Beam and physics constants of the ensemble normalisation, each with its source.

Sources are the sections of ``specs/mu2e-ensemble.md`` (the MDS normalisation spec), which
collects the values of the legacy ``normalizations.py`` and the SU2020 run plan. Every ensemble
records the full constant set it used (:meth:`PhysicsConstants.to_dict`, :meth:`BeamMode.to_dict`)
so a later change of a value is visible in the provenance.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from include.core.errors import ParamError

CONSTANTS_VERSION = "mds-2025.1"
"""Version of this constant set; bump when any value below changes."""

MICROBUNCH_PERIOD_S = 1.695e-6
"""Micro-bunch period (s); the legacy code calls it ``SPILL`` but it is not the macro-spill. Spec §2."""

LIVETIME_MODES = ("onspill", "wallclock")
POT_METHODS = ("spill", "cycle")


@dataclass(frozen=True)
class BeamMode:
    """Constants of one booster-batch mode (spec §2, beam table).

    ``protons_per_microbunch``: p_mb (older code used 1.6e7 / 3.9e7); ``duty_factor``: on-spill
    fraction DF = ``spills_per_cycle`` · ``spill_length_s`` / ``cycle_s``; ``pot_per_cycle``: protons
    per Main-Injector cycle; ``runplan_*``: SU2020 reference run plan.
    """

    name: str
    protons_per_microbunch: float
    duty_factor: float
    cycle_s: float
    pot_per_cycle: float
    spill_length_s: float
    spills_per_cycle: int
    runplan_total_s: float
    runplan_onspill_s: float
    runplan_cycles: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


BEAM_MODES: dict[str, BeamMode] = {
    "1BB": BeamMode("1BB", 1.58e7, 0.323, 1.33, 4e12, 0.107, 4, 9.52e6, 3.07e6, 7.16e6),
    "2BB": BeamMode("2BB", 3.93e7, 0.246, 1.4, 8e12, 0.0431, 8, 1.58e6, 3.89e5, 1.13e6),
}


def beam_mode(name: str) -> BeamMode:
    """The constants of ``1BB`` or ``2BB``."""
    try:
        return BEAM_MODES[name]
    except KeyError:
        raise ParamError("BB", f"{name!r} is not one of {', '.join(BEAM_MODES)}") from None


@dataclass(frozen=True)
class PhysicsConstants:
    """Per-stop and per-capture rates on aluminium (spec §2, physics constants).

    * ``capture_per_stop`` 0.609: nuclear captures per stopped µ⁻ in Al.
    * ``dio_per_stop`` 0.391: decays in orbit per stopped µ⁻ (1 − capture fraction).
    * ``rmc_per_capture`` 1.43e-5: radiative muon captures with photon E > 57 MeV per capture
      (other sources quote 1.41e-5).
    * ``rpc_per_pion_stop`` 0.0215: radiative pion captures per stopped π⁻.
    * ``rpc_internal_conversion`` 0.00690: internal conversions (e⁺e⁻ pair) per RPC photon.
    * ``rmc_internal_conversion`` 0.00690: the RPC value, reused for RMC by the legacy code.
    * ``ipa_decay_per_stop`` 0.92990: decay fraction of µ⁻ stopped in the inner proton absorber,
      the volume-weighted mean of C (0.922) and H (0.999) for the C/H mix (other sources: 0.92, 0.86).
    * ``target_stops_scale`` 1000: the unverified factor of the legacy target-stop rate (spec §3).
    * ``ipa_stops_scale`` 1: the IPA stop rate carries no such factor (unverified inconsistency, §3).
    * ``rmc_kmax`` 90.1 MeV: closure-approximation end point of the RMC spectrum (§4).
    """

    capture_per_stop: float = 0.609
    dio_per_stop: float = 0.391
    rmc_per_capture: float = 1.43e-5
    rpc_per_pion_stop: float = 0.0215
    rpc_internal_conversion: float = 0.00690
    rmc_internal_conversion: float = 0.00690
    ipa_decay_per_stop: float = 0.92990
    target_stops_scale: float = 1000.0
    ipa_stops_scale: float = 1.0
    rmc_kmax: float = 90.1
    version: str = CONSTANTS_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, overrides: dict[str, Any] | None) -> PhysicsConstants:
        """A copy with some values replaced (e.g. RMC 1.41e-5); unknown names are an error."""
        if not overrides:
            return self
        known = {f.name for f in fields(self)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ParamError("constants", f"unknown constants {unknown}; known: {sorted(known)}")
        return replace(self, **overrides)


def ipa_decay_fraction_from_mix(
    fractions: tuple[float, float] = (0.922, 0.999),
    radii_pm: tuple[float, float] = (75.0, 32.0),
    mass_fractions: tuple[float, float] = (0.89, 0.11),
    atomic_masses: tuple[float, float] = (12.0107, 1.007975),
) -> float:
    """The C/H volume-weighted decay fraction behind 0.92990: weight r³·(mass fraction)/A (spec §2)."""
    weights = [r**3 * m / a for r, m, a in zip(radii_pm, mass_fractions, atomic_masses, strict=True)]
    total = sum(weights)
    return sum(f * w / total for f, w in zip(fractions, weights, strict=True))
