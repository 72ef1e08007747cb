"""Kinematics on awkward arrays: ΔR with wrapped Δφ, invariant mass, photon supercluster η."""

from __future__ import annotations

import awkward as ak
import numpy as np

EB_RADIUS_CM = 130.0
EE_Z_CM = 310.0


def delta_phi(phi1: ak.Array, phi2: ak.Array) -> ak.Array:
    """φ1 − φ2 wrapped to [−π, π)."""
    return (phi1 - phi2 + np.pi) % (2 * np.pi) - np.pi


def delta_r(eta1: ak.Array, phi1: ak.Array, eta2: ak.Array, phi2: ak.Array) -> ak.Array:
    """ΔR = sqrt(Δη² + Δφ²)."""
    return np.sqrt((eta1 - eta2) ** 2 + delta_phi(phi1, phi2) ** 2)


def pair_mass(a: ak.Array, b: ak.Array) -> ak.Array:
    """Invariant mass of two candidates from their (pt, eta, phi, mass), in float64."""

    def four(c: ak.Array) -> tuple[ak.Array, ak.Array, ak.Array, ak.Array]:
        pt = ak.values_astype(c.pt, np.float64)
        eta = ak.values_astype(c.eta, np.float64)
        phi = ak.values_astype(c.phi, np.float64)
        mass = ak.values_astype(c.mass, np.float64)
        px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
        return np.sqrt(px**2 + py**2 + pz**2 + mass**2), px, py, pz

    e1, x1, y1, z1 = four(a)
    e2, x2, y2, z2 = four(b)
    m2 = (e1 + e2) ** 2 - (x1 + x2) ** 2 - (y1 + y2) ** 2 - (z1 + z2) ** 2
    return np.sqrt(np.maximum(m2, 0.0))


def photon_sc_eta(photons: ak.Array, pv_x: ak.Array, pv_y: ak.Array, pv_z: ak.Array) -> ak.Array:
    """Supercluster η of photons from (η, φ, isScEtaEB/EE) and the primary vertex.

    The photon direction from the vertex is extended to the ECAL surface (barrel cylinder of
    radius 130 cm, endcap planes at z = ±310 cm) and η is recomputed from the origin.
    """
    eta = ak.values_astype(photons.eta, np.float64)
    phi = ak.values_astype(photons.phi, np.float64)
    tg_theta_over_2 = np.exp(-eta)
    tg_theta = 2 * tg_theta_over_2 / (1 - tg_theta_over_2**2)  # tan(theta)
    x0, y0, z0 = pv_x, pv_y, pv_z
    # barrel: intersection of the line with the cylinder r = 130 cm
    b = x0 * np.cos(phi) + y0 * np.sin(phi)
    c = x0**2 + y0**2 - EB_RADIUS_CM**2
    r_along = -b + np.sqrt(b**2 - c)
    z_eb = z0 + r_along / tg_theta
    x_eb, y_eb = x0 + r_along * np.cos(phi), y0 + r_along * np.sin(phi)
    eta_eb = np.arcsinh(z_eb / np.sqrt(x_eb**2 + y_eb**2))
    # endcap: intersection with z = ±310 cm
    z_ee = ak.where(eta > 0, EE_Z_CM, -EE_Z_CM)
    r_ee = (z_ee - z0) * tg_theta
    x_ee, y_ee = x0 + r_ee * np.cos(phi), y0 + r_ee * np.sin(phi)
    eta_ee = np.arcsinh(z_ee / np.sqrt(x_ee**2 + y_ee**2))
    return ak.where(photons.isScEtaEB, eta_eb, ak.where(photons.isScEtaEE, eta_ee, eta))
