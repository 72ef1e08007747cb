"""The SB luminosity models (spec §8): time stepping of N, ε and bunch length per bunch."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from include.lumi.constants import C_LIGHT
from include.lumi.ibs import IBSStepper, default_model
from include.lumi.luminosity import bunch_luminosity

# model -> (emittance from data, burn-off intensity, bunch length from data)
MODEL_SETTINGS: dict[str, tuple[bool, int, bool]] = {
    "EmpiricalBlowupLosses": (True, 0, False),
    "EmpiricalBlowupBOff": (True, 1, False),
    "IBSBOff": (False, 1, False),
    "IBSLosses": (False, 0, False),
    "EmpiricalblengthLosses": (False, 0, True),
}
ELASTIC_B_GEV2 = 19.9
ELASTIC_P_GEV = 6500.0


@dataclass
class ModelSettings:
    """Machine settings of one model call."""

    betastar_m: float
    gamma: float
    tau_srxy_s: float
    sigma_bo_m2: float
    sigma_el_m2: float
    v_rf_v: float
    dt_s: float
    leveling: float = 0.0
    n_ip: int = 2
    frev: float = 11245.5
    empirical_mode: str = "data"


@dataclass
class BeamData:
    """Data of one beam on the SB grid (T × nb): N, ε_h/ε_v in µm, 4σ bunch length in s."""

    n: np.ndarray
    eh: np.ndarray
    ev: np.ndarray
    bl4_s: np.ndarray
    tau_emp_h: np.ndarray | None = None  # full-SB emittance τ (s) for empirical_mode = exp_tau
    tau_emp_v: np.ndarray | None = None


def run_model(
    model: str,
    b1: BeamData,
    b2: BeamData,
    theta_ip1: np.ndarray,
    theta_ip5: np.ndarray,
    s: ModelSettings,
    boff: bool | None = None,
    collisions: bool = True,
    ibs: IBSStepper | None = None,
) -> dict[str, np.ndarray]:
    """Evolve both beams for T−1 steps (``arange(0, tFill, dt)``); arrays are (T−1) × nb."""
    ibs = ibs or default_model()
    emit_data, boff_default, bl_data = MODEL_SETTINGS[model]
    use_boff = bool(boff_default) if boff is None else boff
    steps = b1.n.shape[0] - 1
    nb = b1.n.shape[1]
    beams = (b1, b2)
    out = {f"{k}{b}": np.zeros((steps, nb)) for k in ("n", "eh", "ev", "bl", "eh_ibs", "ev_ibs") for b in (1, 2)}
    out["ATLAS"], out["CMS"] = np.zeros((steps, nb)), np.zeros((steps, nb))
    state = {
        b: [
            beams[b - 1].n[0].copy(),
            beams[b - 1].eh[0].copy(),
            beams[b - 1].ev[0].copy(),
            beams[b - 1].bl4_s[0].copy(),
        ]
        for b in (1, 2)
    }
    theta2 = 1.0 / (ELASTIC_B_GEV2 * ELASTIC_P_GEV**2)
    theta_x2 = theta2 / 2
    lumi_prev = np.zeros(nb)
    n_coll = max(nb, 1)

    def lumi_of(i: int) -> dict[str, np.ndarray]:
        n1, eh1, ev1, bl1 = state[1]
        n2, eh2, ev2, bl2 = state[2]
        sz = (bl1 + bl2) / 2 / 4 * C_LIGHT
        return bunch_luminosity(
            n1, n2, eh1, ev1, eh2, ev2, sz, sz, theta_ip1[i], theta_ip5[i], s.betastar_m, s.gamma, s.frev
        )

    for i in range(steps):
        if i > 0:
            new = {}
            for b in (1, 2):
                n, eh, ev, bl = state[b]
                data = beams[b - 1]
                ex_ibs, bl_ibs = ibs.step(s.gamma, n, eh * 1e-6, ev * 1e-6, bl, s.v_rf_v, s.dt_s)
                ex_ibs = ex_ibs * 1e6
                ey_ibs = ev * np.exp(-2 * s.dt_s / s.tau_srxy_s)
                if collisions:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        deps = 0.5 * s.n_ip * s.gamma * s.betastar_m * theta_x2 * lumi_prev * s.sigma_el_m2 / n * 1e6
                    deps = np.nan_to_num(deps)
                else:
                    deps = 0.0
                eh_ibs, ev_ibs = ex_ibs + deps * s.dt_s, ey_ibs + deps * s.dt_s
                if emit_data and s.empirical_mode == "exp_tau" and data.tau_emp_h is not None:
                    eh_new = eh * np.exp(s.dt_s / data.tau_emp_h)
                    ev_new = ev * np.exp(s.dt_s / data.tau_emp_v)
                elif emit_data:
                    eh_new, ev_new = data.eh[i], data.ev[i]
                else:
                    eh_new, ev_new = eh_ibs, ev_ibs
                bl_new = data.bl4_s[i] if bl_data else bl_ibs
                if use_boff and collisions:
                    with np.errstate(divide="ignore", invalid="ignore"):
                        tau_bo = n / (s.sigma_bo_m2 * s.n_ip * lumi_prev)
                    n_new = n / (1 + s.dt_s / tau_bo)
                elif use_boff:
                    n_new = n.copy()
                else:
                    n_new = data.n[i]
                new[b] = ([n_new, eh_new, ev_new, bl_new], eh_ibs, ev_ibs)
            for b in (1, 2):
                state[b] = new[b][0]
                out[f"eh_ibs{b}"][i], out[f"ev_ibs{b}"][i] = new[b][1], new[b][2]
        else:
            for b in (1, 2):
                out[f"eh_ibs{b}"][i], out[f"ev_ibs{b}"][i] = state[b][1], state[b][2]
        lumi = lumi_of(i) if collisions else {"ATLAS": np.zeros(nb), "CMS": np.zeros(nb)}
        if s.leveling > 0 and collisions:
            for ip in ("ATLAS", "CMS"):
                if i == 0 or lumi[ip].sum() > s.leveling:
                    lumi[ip] = np.full(nb, s.leveling / n_coll)
        for b in (1, 2):
            out[f"n{b}"][i], out[f"eh{b}"][i], out[f"ev{b}"][i], out[f"bl{b}"][i] = state[b]
        out["ATLAS"][i], out["CMS"][i] = lumi["ATLAS"], lumi["CMS"]
        lumi_prev = (lumi["ATLAS"] + lumi["CMS"]) / 2
    return out
