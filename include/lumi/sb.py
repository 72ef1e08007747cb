"""Stable-beams analysis (spec §7.1): grid, bunches, smoothed emittances, colliding split, fits."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from include.core.errors import ParamError
from include.lumi.config import LumiConfig
from include.lumi.constants import C_LIGHT
from include.lumi.expfit import fit_tau
from include.lumi.inputs import interp_columns
from include.lumi.instruments import BSRTSamples, TimeMatrix
from include.lumi.smoothing import lowess_many

FAMILIES = ("coll", "noncoll")


@dataclass
class BeamSB:
    """SB values of one beam for one family of bunches (matrices T × nb)."""

    slots: np.ndarray
    eh: np.ndarray
    ev: np.ndarray
    eh_raw: np.ndarray
    ev_raw: np.ndarray
    intensity: np.ndarray
    bl_m: np.ndarray


@dataclass
class SBResult:
    time: np.ndarray
    xing: dict[int, np.ndarray]
    beams: dict[int, dict[str, BeamSB]]
    intensity_lifetime: dict[int, np.ndarray] = field(default_factory=dict)
    fits: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)


MAX_FILL_S = 7 * 24 * 3600.0


def grid(rec: dict[str, float], cfg: LumiConfig) -> np.ndarray:
    """``arange(t_start_STABLE, t_endfill − 900 s, t_step_sec)`` (ends relative to the fill end)."""
    if rec["t_endfill"] - rec["t_start_STABLE"] > MAX_FILL_S:
        raise ParamError(
            "fills",
            f"fill {rec.get('fill')}: stable beams to fill end spans "
            f"{(rec['t_endfill'] - rec['t_start_STABLE']) / 3600:.0f} h; the beam-mode record is implausible",
        )
    return np.arange(rec["t_start_STABLE"], rec["t_endfill"] - 900.0, cfg.t_step_sec)


def smoothed_emittance(
    samples: BSRTSamples, slots: np.ndarray, t: np.ndarray, rec: dict[str, float], cfg: LumiConfig
) -> tuple[np.ndarray, np.ndarray]:
    """LOWESS of ε vs t per slot (post-squeeze samples only), interpolated onto ``t``."""
    span = rec["t_endfill"] - rec["t_start_STABLE"]
    frac = min(1.0, cfg.avg_time_smoothing / span)  # it = 10, delta = 1 % of the span
    after = samples.t > rec["t_start_SQUEEZE"]
    order = np.argsort(samples.slot[after], kind="stable")
    s_slot = samples.slot[after][order]
    s_t = samples.t[after][order]
    starts = np.searchsorted(s_slot, slots, side="left")
    stops = np.searchsorted(s_slot, slots, side="right")
    out = []
    for values in (samples.emit_h[after][order], samples.emit_v[after][order]):
        m = np.full((len(t), len(slots)), np.nan)
        groups = [(s_t[a:b], values[a:b]) for a, b in zip(starts, stops, strict=True)]
        if cfg.enable_smoothing_BSRT:
            smooth = lowess_many([g for g in groups if len(g[0]) >= 3], frac=frac, it=10, delta=0.01 * span)
            fits = iter(smooth)
            groups = [next(fits) if len(g[0]) >= 3 else np.column_stack(g) for g in groups]
        else:
            groups = [np.column_stack(g) for g in groups]
        for j, fit in enumerate(groups):
            if len(fit):
                m[:, j] = np.interp(t, fit[:, 0], fit[:, 1])
        out.append(m)
    return out[0], out[1]


def raw_emittance(samples: BSRTSamples, slots: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """All samples (ε = 0 outside the energy windows included) linearly interpolated per slot."""
    order = np.argsort(samples.slot, kind="stable")
    s_slot, s_t = samples.slot[order], samples.t[order]
    out = []
    for values in (samples.emit_h[order], samples.emit_v[order]):
        m = np.full((len(t), len(slots)), np.nan)
        starts = np.searchsorted(s_slot, slots, side="left")
        stops = np.searchsorted(s_slot, slots, side="right")
        for j, (a, b) in enumerate(zip(starts, stops, strict=True)):
            if b > a:
                m[:, j] = np.interp(t, s_t[a:b], values[a:b])
        out.append(m)
    return out[0], out[1]


def intensity_lifetime(t: np.ndarray, n: np.ndarray) -> np.ndarray:
    """τ = −1/(((N_{i+1} − N_i)/dt)/N_i) in s, shape (T−1) × nb."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -1.0 / ((np.diff(n, axis=0) / np.diff(t)[:, None]) / n[:-1])


def fit_family(t: np.ndarray, t0: float, b: BeamSB, cfg: LumiConfig, fam: str) -> dict[str, np.ndarray]:
    """Exponential fits of ε_h, ε_v, σ_z and N over the first ``t_fit_length`` and the full SB."""
    out: dict[str, np.ndarray] = {}
    for key, values, scale in (
        ("emit_h", b.eh, 1.0),
        ("emit_v", b.ev, 1.0),
        ("bl", b.bl_m, 1.0),
        ("inten", b.intensity, 1e-11),
    ):
        for suffix, length in (("", cfg.t_fit_length), ("_full", None)):
            tau, init = fit_tau(t, values, t0, length, scale)
            out[f"tau_{key}_{fam}{suffix}"] = tau
            out[f"init_{key}_{fam}{suffix}"] = init
    return out


def analyse_sb(
    rec: dict[str, float],
    cfg: LumiConfig,
    fbct: dict[int, TimeMatrix],
    bqm: dict[int, TimeMatrix],
    bsrt: dict[int, BSRTSamples],
    xing: dict[int, np.ndarray],
) -> SBResult:
    """Steps 1 and 3-8 of §7.1 (the crossing angle, step 2, is given on the grid)."""
    t = grid(rec, cfg)
    kept: dict[int, np.ndarray] = {}
    per_beam: dict[int, dict[str, np.ndarray]] = {}
    for beam in (1, 2):
        slots = np.unique(bsrt[beam].slot).astype(int)  # every slot the BSRT ever imaged
        inten = interp_columns(t, fbct[beam].t, fbct[beam].values[:, slots])
        keep = np.nanmax(inten, axis=0, initial=0) >= cfg.intensity_threshold
        slots, inten = slots[keep], inten[:, keep]
        eh, ev = smoothed_emittance(bsrt[beam], slots, t, rec, cfg)
        eh_raw, ev_raw = raw_emittance(bsrt[beam], slots, t)
        blen = interp_columns(t, bqm[beam].t, bqm[beam].values[:, slots])
        kept[beam] = slots
        per_beam[beam] = {
            "eh": eh,
            "ev": ev,
            "eh_raw": eh_raw,
            "ev_raw": ev_raw,
            "intensity": inten,
            "bl_m": blen / 4 * C_LIGHT,
        }
    coll = np.intersect1d(kept[1], kept[2])
    beams: dict[int, dict[str, BeamSB]] = {}
    for beam in (1, 2):
        is_coll = np.isin(kept[beam], coll)
        beams[beam] = {}
        for fam, sel in (("coll", is_coll), ("noncoll", ~is_coll)):
            beams[beam][fam] = BeamSB(kept[beam][sel], **{k: v[:, sel] for k, v in per_beam[beam].items()})
    result = SBResult(t, xing, beams)
    for beam in (1, 2):
        result.intensity_lifetime[beam] = intensity_lifetime(t, beams[beam]["coll"].intensity)
        result.fits[beam] = {}
        for fam in FAMILIES:
            result.fits[beam].update(fit_family(t, rec["t_start_STABLE"], beams[beam][fam], cfg, fam))
    return result


def cycle_points(rec: dict[str, float], fbct: TimeMatrix, bqm: TimeMatrix, samples: BSRTSamples) -> dict[str, dict]:
    """Spec §7.1 step 4: injected / start of ramp / end of ramp / start of SB values per slot."""
    intervals = {
        "Injection": (rec["t_start_INJPHYS"], rec["t_stop_PRERAMP"]),
        "he_before_SB": (rec["t_start_FLATTOP"], rec["t_start_STABLE"]),
    }
    slots = np.unique(samples.slot).astype(int)
    out: dict[str, dict] = {}
    for name, (a, b) in intervals.items():
        inside = (samples.t > a) & (samples.t < b)
        entry: dict = {"t_start": a, "t_end": b, "filled_slots": slots}
        for point, pick in (("at_start", "first"), ("at_end", "last")):
            eh = np.full(len(slots), np.nan)
            ev = np.full(len(slots), np.nan)
            tm = np.full(len(slots), np.nan)
            order = np.argsort(samples.t[inside], kind="stable")
            s_slot = samples.slot[inside][order]
            s_t = samples.t[inside][order]
            s_h, s_v = samples.emit_h[inside][order], samples.emit_v[inside][order]
            _, first = np.unique(s_slot, return_index=True)
            _, last_rev = np.unique(s_slot[::-1], return_index=True)
            idx = first if pick == "first" else len(s_slot) - 1 - last_rev
            where = np.searchsorted(slots, np.unique(s_slot))
            eh[where], ev[where], tm[where] = s_h[idx], s_v[idx], s_t[idx]
            t_eval = tm + (100.0 if pick == "first" else 0.0)
            inten = np.full(len(slots), np.nan)
            blen = np.full(len(slots), np.nan)
            ok = np.isfinite(t_eval)
            for j in np.flatnonzero(ok):
                s = slots[j]
                inten[j] = np.interp(t_eval[j], fbct.t, fbct.values[:, s])
                good = np.isfinite(bqm.values[:, s])
                if good.any():
                    blen[j] = np.interp(t_eval[j], bqm.t[good], bqm.values[good, s])
            with np.errstate(invalid="ignore", divide="ignore"):
                bright = inten / np.sqrt(eh * ev)
            entry[point] = {
                "emith": eh,
                "emitv": ev,
                "time_meas": tm,
                "intensity": inten,
                "blength": blen,
                "brightness": bright,
            }
        out[name] = entry
    return out
