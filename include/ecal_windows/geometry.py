"""Window geometry (spec §5.2-5.4), vectorized over numpy arrays (scalars work too)."""

from __future__ import annotations

import numpy as np

EB_EDGE = 1.479
WINDOW_BREAK = 1.5
HALF_CRYSTAL = 0.0087

# |eta0| bins of the dynamic dphi: (yoffset, scale, xoffset, width, saturation, cutoff)
_DYN_DPHI = np.array(
    [
        [0.0280506, 0.946048, -0.101172, 0.432767, 0.14, 0.6],
        [0.0497038, 0.975707, -0.18149, 0.431729, 0.14, 0.55],
        [0.05643, 1.60429, -0.642352, 0.458106, 0.12, 0.45],
        [0.0928887, 1.22321, -0.260256, 0.345852, 0.12, 0.3],
    ]
)
_DYN_EDGES = np.array([EB_EDGE, 1.75, 2.0])


def window_size(seed_eta: np.ndarray, version: str = "v3") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(deta_up, deta_down, dphi) of the windows of seeds at ``seed_eta`` (spec §5.3)."""
    a = np.abs(np.asarray(seed_eta, dtype=np.float64))
    barrel = a <= WINDOW_BREAK
    up = np.where(barrel, 0.1 + (0.1 / 1.5) * a, 0.2 + (0.1 / 1.5) * (a - 1.5))
    slope = 0.2 / 1.5 if version == "v3" else 0.1 / 1.5
    down = np.where(barrel, -0.1, -0.1 - slope * (a - 1.5))
    dphi = 0.7 - (0.1 / 3) * a
    return up, down, dphi


def wrap_once(dphi: np.ndarray) -> np.ndarray:
    """Wrap an angle difference once into [-pi, pi]."""
    dphi = np.asarray(dphi, dtype=np.float64)
    dphi = np.where(dphi > np.pi, dphi - 2 * np.pi, dphi)
    return np.where(dphi < -np.pi, dphi + 2 * np.pi, dphi)


def signed_deta(seed_eta: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """eta - seed_eta, flipped for negative seeds: positive points to larger |eta|."""
    seed_eta = np.asarray(seed_eta, dtype=np.float64)
    deta = np.asarray(eta, dtype=np.float64) - seed_eta
    return np.where(seed_eta < 0, -deta, deta)


def in_window(
    seed_eta: np.ndarray,
    seed_phi: np.ndarray,
    seed_iz: np.ndarray,
    eta: np.ndarray,
    phi: np.ndarray,
    iz: np.ndarray,
    version: str = "v3",
) -> np.ndarray:
    """Whether each point lies in the window of its seed (spec §5.2; bounds inclusive)."""
    up, down, dphi_max = window_size(seed_eta, version)
    deta = signed_deta(seed_eta, eta)
    dphi = wrap_once(np.asarray(seed_phi, dtype=np.float64) - np.asarray(phi, dtype=np.float64))
    same_side = np.asarray(seed_iz) == np.asarray(iz)
    return same_side & (deta >= down) & (deta <= up) & (np.abs(dphi) <= dphi_max)


def _wrap_half_open(dphi: np.ndarray) -> np.ndarray:
    """Wrap into [-pi, pi)."""
    return np.mod(np.asarray(dphi, dtype=np.float64) + np.pi, 2 * np.pi) - np.pi


def in_mustache(seed_eta: np.ndarray, seed_phi: np.ndarray, energy: np.ndarray, eta: np.ndarray, phi: np.ndarray):
    """The mustache test of spec §5.4 (raw cluster energy; strict bounds)."""
    eta0 = np.asarray(seed_eta, dtype=np.float64)
    energy = np.asarray(energy, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        log_e = np.log10(energy)
        valid = (log_e >= -3) & (log_e + 1.1 >= 0)
        s = eta0 * np.sin(eta0)
        q = np.sqrt(np.where(valid, log_e + 1.1, 1.0))
        w1 = 0.000699995 * s - 0.00554331 / q
        w0 = -0.00681785 * s - 0.00239516 / q
        b_up = (w1 - w0) / 2
        b_low = (w0 - w1) / 2
        c_up = s * (-0.107537 * s + 0.590969) - 0.076494
        c_low = s * (-0.0268843 * s + 0.147742) - 0.0191235
        a_up = 1 / (4 * c_up) - np.abs(b_up)
        a_low = 1 / (4 * c_low) - np.abs(b_low)
        dphi = _wrap_half_open(np.asarray(phi, dtype=np.float64) - np.asarray(seed_phi, dtype=np.float64))
        upper = np.maximum(1 / (4 * a_up), 0) * dphi**2 + np.maximum(b_up, HALF_CRYSTAL) + HALF_CRYSTAL
        lower = np.maximum(1 / (4 * a_low), 0) * dphi**2 + np.minimum(b_low, -HALF_CRYSTAL)
    deta = signed_deta(eta0, eta)
    return valid & (lower < deta) & (deta < upper)


def dynamic_dphi_max(seed_eta: np.ndarray, energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The maximal |dphi| of the dynamic-dphi test, per point (spec §5.4)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_et = np.log10(np.asarray(energy, dtype=np.float64) / np.cosh(np.asarray(eta, dtype=np.float64)))
    par = _DYN_DPHI[np.searchsorted(_DYN_EDGES, np.abs(np.asarray(seed_eta, dtype=np.float64)), side="right")]
    yoff, scale, xoff, width, sat, cut = (par[..., i] for i in range(6))
    with np.errstate(over="ignore", invalid="ignore"):
        value = yoff + scale / (1 + np.exp((log_et - xoff) * width))
    return np.clip(value, sat, cut)


def in_dynamic_dphi(seed_eta, seed_phi, energy, eta, phi) -> np.ndarray:
    """The dynamic-dphi test of spec §5.4."""
    dphi = np.abs(wrap_once(np.asarray(seed_phi, dtype=np.float64) - np.asarray(phi, dtype=np.float64)))
    energy = np.asarray(energy, dtype=np.float64)
    return (energy >= 0) & (dphi < dynamic_dphi_max(seed_eta, energy, eta))


def in_geom_mustache(seed_eta, seed_phi, energy, eta, phi) -> np.ndarray:
    """``in_geom_mustache``: both the mustache and the dynamic-dphi tests pass."""
    return in_mustache(seed_eta, seed_phi, energy, eta, phi) & in_dynamic_dphi(seed_eta, seed_phi, energy, eta, phi)
