"""Simulated LHC fills for the demo data: timeline, filling scheme and the true bunch evolution.

The beams evolve with the project's own physics (IBS parametrization, synchrotron-radiation
damping, elastic-scattering growth, burn-off and the §7.3 luminosity) plus an empirical extra
blow-up and extra losses, on a 60 s truth grid. :mod:`include.lumi.demo` turns this into the
instrument files.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from include.lumi.config import LumiConfig
from include.lumi.constants import N_SLOTS, PROTON_MASS_GEV
from include.lumi.ibs import default_model
from include.lumi.luminosity import bl4sigma_s_to_sigz_m, bunch_luminosity

TRUTH_DT = 60.0
EXTRA_LOSS_SIGMA_M2 = 20e-31  # luminosity-driven losses beyond burn-off (20 mb)
ABORT_GAP_START = 3443
# (mode, duration in minutes) before stable beams; all fills with SB follow this sequence.
PRE_SB_MODES = (
    ("SETUP", 15),
    ("INJPROT", 10),
    ("INJPHYS", 55),
    ("PRERAMP", 3),
    ("RAMP", 20),
    ("FLATTOP", 5),
    ("SQUEEZE", 15),
    ("ADJUST", 10),
)
SHORT_FILL_MODES = (("SETUP", 15), ("INJPROT", 15), ("INJPHYS", 10), ("BEAMDUMP", 5), ("RAMPDOWN", 15))
POST_SB_MODES = (("BEAMDUMP", 4), ("RAMPDOWN", 10))  # HX:FILLN moves on 14 min after the dump


@dataclass
class FillTimeline:
    """Beam-mode intervals of one fill (UNIX s)."""

    fill: int
    t_start: float
    t_end: float
    modes: list[tuple[str, float, float]]

    def mode(self, name: str) -> tuple[float, float]:
        for m, a, b in self.modes:
            if m == name:
                return a, b
        raise KeyError(name)

    @property
    def has_sb(self) -> bool:
        return any(m == "STABLE" for m, _, _ in self.modes)


def build_timeline(t0: float, fills: list[int], sb_fills: set[int], rng: np.random.Generator) -> list[FillTimeline]:
    """Consecutive fills from ``t0``; fills in ``sb_fills`` reach 10-14 h of stable beams."""
    out = []
    t = t0
    for fill in fills:
        start, modes = t, []
        seq = list(PRE_SB_MODES)
        if fill in sb_fills:
            sb_minutes = float(rng.uniform(600, 840))
            seq += [("STABLE", sb_minutes), *POST_SB_MODES]
        else:
            seq = list(SHORT_FILL_MODES)
        for name, minutes in seq:
            modes.append((name, t, t + round(minutes * 60)))
            t += round(minutes * 60)
        out.append(FillTimeline(fill, start, t, modes))
    return out


def filling_pattern(n_bunches: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slots of B1, B2 and the train index of each common slot: 48-bunch trains, ~1% non-colliding."""
    n_nc = max(2, n_bunches // 200)
    n_common = n_bunches - n_nc
    n_trains = int(np.ceil(n_common / 48))
    gap = int(np.clip((ABORT_GAP_START - n_common) // max(n_trains, 1), 8, 38))
    slots, train_of = [], []
    pos = 0
    for k in range(n_trains):
        length = min(48, n_common - 48 * k)
        slots += range(pos, pos + length)
        train_of += [k] * length
        pos += length + gap
    common = np.array(slots)
    # Non-colliding bunches sit in the train gaps, at different places in the two beams.
    gap_starts = common[np.r_[np.diff(common) > 1, False]] + 1
    extra1 = (gap_starts[0::2][: (n_nc + 1) // 2] + 2) if len(gap_starts) else np.array([], int)
    extra2 = (gap_starts[1::2][: n_nc // 2] + 4) if len(gap_starts) > 1 else np.array([], int)
    extra1 = np.r_[extra1, ABORT_GAP_START - 1 - np.arange(n_nc - len(extra1))]
    extra2 = np.r_[extra2, ABORT_GAP_START - 5 - np.arange(n_nc - len(extra2))]
    b1 = np.unique(np.r_[common, extra1]).astype(int)
    b2 = np.unique(np.r_[common, extra2]).astype(int)
    assert b1.max() < N_SLOTS and len(b1) == len(b2) == n_bunches
    return b1, b2, np.array(train_of)


@dataclass
class BeamTruth:
    """True state of one beam on the truth grid: arrays (T, nb) over the beam's slots."""

    slots: np.ndarray
    t_inj: np.ndarray
    intensity: np.ndarray
    emit_h_um: np.ndarray
    emit_v_um: np.ndarray
    blength_s: np.ndarray


@dataclass
class FillTruth:
    """The simulated fill: timeline, truth grid, energy, both beams and the bunch luminosity."""

    timeline: FillTimeline
    t: np.ndarray
    energy_gev: np.ndarray
    beams: dict[int, BeamTruth]
    coll_slots: np.ndarray
    lumi: dict[str, np.ndarray]  # (T, n_coll) m^-2 s^-1 on the colliding slots
    xing_half_urad: tuple[float, float]


def simulate_fill(timeline: FillTimeline, n_bunches: int, cfg: LumiConfig, rng: np.random.Generator) -> FillTruth:
    """Evolve both beams over the fill on a 60 s grid."""
    ibs = default_model()
    t = np.arange(timeline.t_start, timeline.t_end + TRUTH_DT, TRUTH_DT)
    inj_a, inj_b = timeline.mode("INJPHYS")
    ramp_a, ramp_b = timeline.mode("RAMP")
    _, sb_b = timeline.mode("STABLE")
    adj_a, _ = timeline.mode("ADJUST")
    energy = np.interp(t, [ramp_a, ramp_b], [450.0, 6500.0]) + rng.normal(0, 0.2, len(t))
    theta1, theta5 = cfg.xing_angle(timeline.fill)
    betastar = cfg.betastar(timeline.fill)
    b1, b2, train_of = filling_pattern(n_bunches)
    beams: dict[int, dict[str, np.ndarray]] = {}
    n_trains = int(train_of.max()) + 1
    for beam, slots in ((1, b1), (2, b2)):
        nb = len(slots)
        # Trains are injected in order over INJPHYS, three per injection, beams alternating.
        train = np.searchsorted(np.r_[0, np.flatnonzero(np.diff(slots) > 1) + 1], np.arange(nb), side="right") - 1
        inj_index = np.minimum(train // 3, (n_trains + 2) // 3)
        n_inj = inj_index.max() + 1
        t_inj = inj_a + 120 + (inj_index + (0.5 if beam == 2 else 0.0)) * (inj_b - inj_a - 300) / n_inj
        t_inj = np.round(t_inj)
        n0 = rng.normal(1.18e11, 0.05e11, nb)
        beams[beam] = {
            "slots": slots,
            "t_inj": t_inj,
            "N": np.zeros((len(t), nb)),
            "eh": np.zeros((len(t), nb)),
            "ev": np.zeros((len(t), nb)),
            "bl": np.zeros((len(t), nb)),
            "state": np.array(
                [n0, rng.normal(1.60, 0.1, nb), rng.normal(1.75, 0.1, nb), rng.normal(1.20e-9, 0.02e-9, nb)]
            ),
            "extra_tau": rng.uniform(2000, 4000, nb) * 3600,  # losses independent of the collisions
        }
    coll = np.intersect1d(b1, b2)
    i1 = np.searchsorted(b1, coll)
    i2 = np.searchsorted(b2, coll)
    lumi = {"ATLAS": np.zeros((len(t), len(coll))), "CMS": np.zeros((len(t), len(coll)))}
    l_prev = np.zeros(len(coll))
    blow_h, blow_v = 0.05 / 3600, 0.05 / 3600  # µm/s extra blow-up at flat top
    tau_sr = cfg.tauSRxy_FT_h * 3600
    # Elastic scattering: θ_x² = 1/(2·B·P²) with B = 19.9 GeV⁻², P = 6500 GeV.
    theta_x2 = 1 / (2 * 19.9 * 6500.0**2)
    for k, tk in enumerate(t):
        gamma = energy[k] / PROTON_MASS_GEV
        for beam, b in beams.items():
            n, eh, ev, bl = b["state"]
            alive = (b["t_inj"] <= tk) & (tk < sb_b)
            if k > 0:
                if tk <= ramp_a:  # injection plateau: IBS at 450 GeV
                    fx, fl = ibs.factors(cfg.gammaFB, n, eh * 1e-6, bl, cfg.VRF_FB, TRUTH_DT)
                    eh = np.where(alive, eh * fx, eh)
                    bl = np.where(alive, bl * fl, bl)
                    ev = np.where(alive, ev + 0.03 / 3600 * TRUTH_DT, ev)
                    n = np.where(alive, n * np.exp(-TRUTH_DT / (60 * 3600)), n)
                elif tk <= ramp_b:  # ramp: slight blow-up, longitudinal blow-up towards ~1.08 ns
                    frac = TRUTH_DT / (ramp_b - ramp_a)
                    eh, ev = eh * (1 + 0.06 * frac), ev * (1 + 0.05 * frac)
                    bl = bl + (1.08e-9 - bl) * frac * 1.5
                    n = n * (1 - 0.004 * frac)
                else:  # flat top and stable beams: IBS + SR at 6.5 TeV, collisions from ADJUST
                    fx, fl = ibs.factors(cfg.gammaFT, n, eh * 1e-6, bl, cfg.VRF_FT, TRUTH_DT)
                    eh = eh * fx + blow_h * TRUTH_DT
                    ev = ev * np.exp(-2 * TRUTH_DT / tau_sr) + blow_v * TRUTH_DT
                    bl = bl * fl
                    n = n * np.exp(-TRUTH_DT / b["extra_tau"])
                    if tk > adj_a + 300:
                        idx = i1 if beam == 1 else i2
                        deps = 0.5 * 2 * gamma * betastar * theta_x2 * l_prev * cfg.sigma_el_m2 / n[idx] * 1e6
                        eh[idx] += deps * TRUTH_DT
                        ev[idx] += deps * TRUTH_DT
                        # burn-off plus collision-driven extra losses (effective cross-section ~ 100 mb)
                        sigma_loss = cfg.sigmaBOff_m2 + EXTRA_LOSS_SIGMA_M2
                        n[idx] = n[idx] / (1 + TRUTH_DT * sigma_loss * 2 * l_prev / n[idx])
                b["state"] = np.array([n, eh, ev, bl])
            b["N"][k] = np.where(alive, n, 0.0)
            b["eh"][k], b["ev"][k], b["bl"][k] = eh, ev, bl
        if adj_a + 300 < tk < sb_b:
            s1, s2 = beams[1]["state"], beams[2]["state"]
            lk = bunch_luminosity(
                s1[0][i1], s2[0][i2], s1[1][i1], s1[2][i1], s2[1][i2], s2[2][i2],
                bl4sigma_s_to_sigz_m(s1[3][i1]), bl4sigma_s_to_sigz_m(s2[3][i2]),
                theta1, theta5, betastar, gamma, cfg.frev,
            )  # fmt: skip
            lumi["ATLAS"][k], lumi["CMS"][k] = lk["ATLAS"], lk["CMS"]
            l_prev = (lk["ATLAS"] + lk["CMS"]) / 2
    truths = {beam: BeamTruth(b["slots"], b["t_inj"], b["N"], b["eh"], b["ev"], b["bl"]) for beam, b in beams.items()}
    return FillTruth(timeline, t, energy, truths, coll, lumi, (theta1 / 2 * 1e6, theta5 / 2 * 1e6))
