"""Empirical IBS + synchrotron-radiation one-step parametrization (spec §9).

The coefficient table is data (``include/lumi/data/ibs_parametrization.json``); :class:`IBSModel`
is the small interface the rest of the code uses, so another table or an analytical IBS package
can replace it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np

from include.core.errors import ConfigError, ParamError
from include.lumi.constants import PROTON_MASS_GEV

Terms = list[tuple[float, float]]


class IBSStepper(Protocol):
    """What the models and the cycle model need from an IBS implementation."""

    def step(
        self, gamma: float, N: Any, ex_norm_m: Any, ey_norm_m: Any, bl_4sigma_s: Any, V_rf_V: float, dt_s: Any
    ) -> tuple[np.ndarray, np.ndarray]: ...


def _poly(terms: Terms, t: np.ndarray) -> np.ndarray:
    """sum(c * t**p) over the [c, p] terms."""
    out = np.zeros_like(t, dtype=float)
    for c, p in terms:
        out = out + c * np.power(t, p)
    return out


@dataclass(frozen=True)
class IBSModel:
    """The parametrization: ``branches[name][coefficient] = [[c, p], ...]`` (t in minutes)."""

    branches: dict[str, dict[str, Terms]]

    @classmethod
    def from_json(cls, text: str) -> IBSModel:
        data = json.loads(text)
        try:
            branches = {
                b: {k: [(float(c), float(p)) for c, p in v] for k, v in d.items()} for b, d in data["branches"].items()
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"IBS parametrization: malformed table ({exc})") from exc
        return cls(branches)

    def branch(self, energy_gev: float, v_mv: float) -> tuple[str, str]:
        """(branch for the transverse coefficients, branch for the longitudinal ones)."""
        if abs(energy_gev - 6500) <= 20:
            name = {12: "6500GeV_12MV", 10: "6500GeV_10MV", 8: "6500GeV_8MV"}.get(round(v_mv))
            if name is None:
                raise ParamError("V_rf_V", f"no 6.5 TeV IBS branch for {v_mv:g} MV (known: 8, 10, 12)")
            return name, ("6500GeV_12MV" if name == "6500GeV_8MV" else name)
        if abs(energy_gev - 7000) <= 20:
            if round(v_mv) != 16:
                raise ParamError("V_rf_V", f"no 7 TeV IBS branch for {v_mv:g} MV (known: 16)")
            return "7000GeV_16MV", "7000GeV_16MV"
        if abs(energy_gev - 450) <= 20:
            if not 4 <= v_mv <= 8:
                raise ParamError("V_rf_V", f"no 450 GeV IBS branch for {v_mv:g} MV (known: 4-8 -> 6)")
            return "450GeV_6MV", "450GeV_6MV"
        raise ParamError("gamma", f"no IBS branch for E = {energy_gev:.1f} GeV (known: 450, 6500, 7000 +- 20)")

    def factors(
        self, gamma: float, N: Any, ex_norm_m: Any, bl_4sigma_s: Any, V_rf_V: float, dt_s: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """Multiplicative changes (F_x, F_l) of ε_x and of the 4σ bunch length over one step."""
        energy = gamma * PROTON_MASS_GEV
        tr_name, lo_name = self.branch(energy, V_rf_V * 1e-6)
        tr, lo = self.branches[tr_name], self.branches[lo_name]
        n = np.asarray(N, dtype=float) * 1e-11
        ex = np.asarray(ex_norm_m, dtype=float) * 1e6
        bl = np.asarray(bl_4sigma_s, dtype=float) * 1e9
        t = np.asarray(dt_s, dtype=float) / 60.0
        c = {k: _poly(v, t) for k, v in tr.items()}
        if tr_name.startswith("450"):
            c0 = c["a00"] * bl ** c["a01"] * n ** (c["a10"] * bl ** c["a11"])
            fx = 1.0 + c0 / ex**2
            c0l = c["a00l"] * ex ** c["a01l"] * n ** (c["a10l"] * ex ** c["a11l"])
            fl = 1.0 + c0l / bl**3
            return np.asarray(fx), np.asarray(fl)
        a0 = c["a00"] * bl ** c["a01"]
        a1 = c["a10"] * bl ** c["a11"]
        b0 = c["b00"] * bl ** c["b01"]
        b1 = c["b10"] * bl ** c["b11"]
        b2 = c["b20"] * bl ** c["b21"]
        fx = (b0 * n**2 + b1 * n + b2) + (a1 * n + a0) / ex**2
        cl = {k: _poly(v, t) for k, v in lo.items() if k.endswith("l")}
        a0l = cl["a00l"] * ex ** cl["a01l"] + cl["a02l"]
        a1l = cl["a10l"] * ex ** cl["a11l"] + cl["a12l"]
        b0l = cl["b00l"] * ex ** cl["b01l"] + cl["b02l"]
        b1l = cl["b10l"] * ex ** cl["b11l"] + cl["b12l"]
        fl = (a1l * n + a0l) * bl ** (-3.3) + (b0l * n + b1l)
        return np.asarray(fx), np.asarray(fl)

    def step(
        self, gamma: float, N: Any, ex_norm_m: Any, ey_norm_m: Any, bl_4sigma_s: Any, V_rf_V: float, dt_s: Any
    ) -> tuple[np.ndarray, np.ndarray]:
        """One step: (ε_x new [m], 4σ bunch length new [s]). The vertical plane is unchanged."""
        fx, fl = self.factors(gamma, N, ex_norm_m, bl_4sigma_s, V_rf_V, dt_s)
        return fx * np.asarray(ex_norm_m, dtype=float), fl * np.asarray(bl_4sigma_s, dtype=float)


@cache
def default_model() -> IBSModel:
    """The parametrization shipped with the package."""
    text = resources.files("include.lumi").joinpath("data/ibs_parametrization.json").read_text()
    return IBSModel.from_json(text)


def ibs_step(
    gamma: float, N: Any, ex_norm_m: Any, ey_norm_m: Any, bl_4sigma_s: Any, V_rf_V: float, dt_s: Any
) -> tuple[np.ndarray, np.ndarray]:
    """Spec §9 interface on the shipped parametrization."""
    return default_model().step(gamma, N, ex_norm_m, ey_norm_m, bl_4sigma_s, V_rf_V, dt_s)
