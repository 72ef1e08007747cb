"""Intensity lifetimes and losses from measured luminosity (spec §7.5)."""

from __future__ import annotations

import numpy as np


def lifetimes(t: np.ndarray, n: np.ndarray, lumi_sum: np.ndarray, sigma_bo_m2: float) -> dict[str, np.ndarray]:
    """Per beam: colliding N (T × nb) and L_ATLAS + L_CMS (T × nb, m⁻²s⁻¹); arrays have T−1 rows."""
    dt = np.diff(t)[:, None]
    dn = np.diff(n, axis=0)
    n0, l0 = n[:-1], lumi_sum[:-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        tau_bo_tot = n0.sum(axis=1) / (sigma_bo_m2 * l0.sum(axis=1))
        tau_np_tot = -1.0 / ((dn.sum(axis=1) / dt[:, 0]) / n0.sum(axis=1))
        tau_bo = n0 / (sigma_bo_m2 * l0)
        tau_np = -1.0 / ((dn / dt) / n0)
        dndt = np.abs(dn) / dt
        return {
            "life_time_Boff_tot": tau_bo_tot,
            "life_time_tot": 1.0 / (1.0 / tau_np_tot - 1.0 / tau_bo_tot),
            "tau_Np_tot": tau_np_tot,
            "life_time_Boff_bbb": tau_bo,
            "life_time_bbb": 1.0 / (1.0 / tau_np - 1.0 / tau_bo),
            "tau_Np_bbb": tau_np,
            "dndt_bbb": dndt,
            "losses_dndtL_bbb": dndt / l0,
        }
