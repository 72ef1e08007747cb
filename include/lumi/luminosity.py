"""Bunch-by-bunch luminosity of head-on collisions with a crossing angle (spec §7.3)."""

from __future__ import annotations

import numpy as np

from include.lumi.constants import C_LIGHT, FREV_HZ


def beam_sigma(emit_norm_um: np.ndarray, betastar_m: float, gamma: float) -> np.ndarray:
    """RMS beam size at the IP [m] from a normalized emittance in µm."""
    return np.sqrt(np.asarray(emit_norm_um, dtype=float) * 1e-6 * betastar_m / gamma)


def bunch_luminosity(
    n1: np.ndarray,
    n2: np.ndarray,
    eh1_um: np.ndarray,
    ev1_um: np.ndarray,
    eh2_um: np.ndarray,
    ev2_um: np.ndarray,
    sigz1_m: np.ndarray,
    sigz2_m: np.ndarray,
    theta_ip1_rad: np.ndarray | float,
    theta_ip5_rad: np.ndarray | float,
    betastar_m: float,
    gamma: float,
    frev: float = FREV_HZ,
) -> dict[str, np.ndarray]:
    """``{'ATLAS': L, 'CMS': L}`` in m⁻²s⁻¹ per colliding pair; angles are FULL angles.

    IP1 (ATLAS) crosses vertically (reduction uses σ_y), IP5 (CMS) horizontally (σ_x).
    Array arguments broadcast (time × bunch, with angles of shape (T, 1) or scalars).
    """
    sx = np.sqrt((beam_sigma(eh1_um, betastar_m, gamma) ** 2 + beam_sigma(eh2_um, betastar_m, gamma) ** 2) / 2)
    sy = np.sqrt((beam_sigma(ev1_um, betastar_m, gamma) ** 2 + beam_sigma(ev2_um, betastar_m, gamma) ** 2) / 2)
    sz = (np.asarray(sigz1_m) + np.asarray(sigz2_m)) / 2
    head_on = frev * np.asarray(n1) * np.asarray(n2) / (4 * np.pi * sx * sy)
    f_atlas = 1 / np.sqrt(1 + (sz / sy * np.asarray(theta_ip1_rad) / 2) ** 2)
    f_cms = 1 / np.sqrt(1 + (sz / sx * np.asarray(theta_ip5_rad) / 2) ** 2)
    return {"ATLAS": head_on * f_atlas, "CMS": head_on * f_cms}


def bl4sigma_s_to_sigz_m(bl_4sigma_s: np.ndarray) -> np.ndarray:
    """4σ bunch length in s -> RMS bunch length in m."""
    return np.asarray(bl_4sigma_s) / 4 * C_LIGHT
