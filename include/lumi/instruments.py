"""Decoding of the beam instruments (spec §2.4): FBCT, BQM, BSRT, crossing angle, beam energy."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from include.core.errors import InputFileError
from include.lumi.config import LumiConfig
from include.lumi.constants import N_SLOTS, bucket_to_slot
from include.lumi.logging_csv import LoggedVariable, require

BSRT_DEVICES = {1: "LHC.BSRT.5R4.B1", 2: "LHC.BSRT.5L4.B2"}


@dataclass
class TimeMatrix:
    """Values per time (rows) and slot (3564 columns)."""

    t: np.ndarray
    values: np.ndarray


@dataclass
class BSRTSamples:
    """Emittance samples of one beam: one entry per (acquisition, slot)."""

    t: np.ndarray
    slot: np.ndarray
    emit_h: np.ndarray  # µm
    emit_v: np.ndarray  # µm


def fbct(variables: dict[str, LoggedVariable], beam: int, path: str | Path) -> TimeMatrix:
    """Bunch intensities (protons per bunch), time × 3564 slots, device A."""
    var = require(variables, f"LHC.BCTFR.A6R4.B{beam}:BUNCH_INTENSITY", path)
    return TimeMatrix(var.t, var.matrix(N_SLOTS))


def bqm(variables: dict[str, LoggedVariable], beam: int, path: str | Path) -> TimeMatrix:
    """4σ bunch lengths in s, time × 3564 slots (NaN where no bunch).

    ``BUNCH_LENGTHS`` is compressed: its first Nbun values belong to the filled buckets in
    bucket order, taken from the nearest-older ``FILLED_BUCKETS`` record.
    """
    filled = require(variables, f"LHC.BQM.B{beam}:FILLED_BUCKETS", path)
    lengths = require(variables, f"LHC.BQM.B{beam}:BUNCH_LENGTHS", path)
    out = np.full((len(lengths), N_SLOTS), np.nan)
    records = [np.sort(a[a >= 1]).astype(int) for a in filled.arrays()]  # buckets 1..35640; <1 is padding
    which = np.searchsorted(filled.t, lengths.t, side="right") - 1
    for i, row in enumerate(lengths.rows):
        if which[i] < 0:
            continue
        buckets = records[which[i]]
        if len(buckets) == 0:
            continue
        values = np.array(row[: len(buckets)], dtype=float)
        if len(values) < len(buckets):
            raise InputFileError(path, f"BQM B{beam}: {len(values)} bunch lengths for {len(buckets)} filled buckets")
        out[i, bucket_to_slot(buckets)] = values
    return TimeMatrix(lengths.t, out)


def energy_series(variables: dict[str, LoggedVariable], beam: int, path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(t, abort-gap energy in GeV) of one beam."""
    var = require(variables, f"LHC.BSRA.US45.B{beam}:ABORT_GAP_ENERGY", path)
    return var.t, var.scalars()


def nearest_older(t_ref: np.ndarray, v_ref: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Value of the last reference sample at or before each ``t`` (NaN before the first)."""
    idx = np.searchsorted(t_ref, t, side="right") - 1
    out = np.where(idx >= 0, v_ref[np.clip(idx, 0, None)], np.nan) if len(t_ref) else np.full(len(t), np.nan)
    return np.asarray(out, dtype=float)


def bsrt(
    variables: dict[str, LoggedVariable],
    beam: int,
    energy: tuple[np.ndarray, np.ndarray],
    cfg: LumiConfig,
    fill: int,
    path: str | Path,
) -> BSRTSamples:
    """Normalized emittances per BSRT sample.

    ε_n [µm] = γ·((σ_fit·rescale)² − σ_corr²)/β_BSRT with σ in mm; energy windows 400-500 GeV
    (450 calibration) and 6400-6600 GeV (6500); outside them ε = 0 (kept, as in the legacy tool).
    """
    device = BSRT_DEVICES[beam]
    gate = require(variables, f"{device}:GATE_DELAY", path)
    sig_h = require(variables, f"{device}:FIT_SIGMA_H", path)
    sig_v = require(variables, f"{device}:FIT_SIGMA_V", path)
    if not (np.array_equal(gate.t, sig_h.t) and np.array_equal(gate.t, sig_v.t)):
        raise InputFileError(path, f"{device}: GATE_DELAY, FIT_SIGMA_H and FIT_SIGMA_V timestamps differ")
    slots, n_g = gate.flat()
    sh, n_h = sig_h.flat()
    sv, n_v = sig_v.flat()
    if not (np.array_equal(n_g, n_h) and np.array_equal(n_g, n_v)):
        raise InputFileError(path, f"{device}: GATE_DELAY and FIT_SIGMA rows have different lengths")
    acq = np.repeat(np.arange(len(gate)), n_g)
    frame = pd.DataFrame({"acq": acq, "slot": slots.astype(int), "sh": sh, "sv": sv})
    mean = frame.groupby(["acq", "slot"], sort=False).mean().reset_index()
    # distinct slots of one acquisition get t + j·1e-3/N_meas
    j = mean.groupby("acq").cumcount().to_numpy()
    n_meas = mean.groupby("acq")["slot"].transform("size").to_numpy()
    t = gate.t[mean["acq"].to_numpy()] + j * 1e-3 / n_meas
    e = nearest_older(*energy, t)
    eh, ev = np.zeros(len(t)), np.zeros(len(t))
    for nominal, lo, hi in ((450, 400, 500), (6500, 6400, 6600)):
        sel = (e > lo) & (e < hi)
        if not sel.any():
            continue
        cal = cfg.calibration_for(fill, nominal, beam)
        h = mean["sh"].to_numpy()[sel] * cal["rescale_sigma_h"]
        v = mean["sv"].to_numpy()[sel] * cal["rescale_sigma_v"]
        eh[sel] = cal["gamma"] * (h**2 - cal["sigma_corr_h"] ** 2) / cal["betaf_h"]
        ev[sel] = cal["gamma"] * (v**2 - cal["sigma_corr_v"] ** 2) / cal["betaf_v"]
    return BSRTSamples(t, mean["slot"].to_numpy(), eh, ev)


def crossing_angles(
    variables: dict[str, LoggedVariable] | None, grid: np.ndarray, cfg: LumiConfig, fill: int
) -> dict[int, np.ndarray]:
    """Full crossing angles in rad on ``grid``: ``{1: IP1, 5: IP5}``.

    From the crossing CSV (half angle in µrad, ×2×1e-6) interpolated, else the ``XingAngle``
    constant (full angle; the legacy fallback stored the half angle).
    """
    default = cfg.xing_angle(fill)
    out = {}
    for ip, name, fallback in (
        (1, "LHC.RUNCONFIG:IP1-XING-V-MURAD", default[0]),
        (5, "LHC.RUNCONFIG:IP5-XING-H-MURAD", default[1]),
    ):
        var = (variables or {}).get(name)
        if var is None or len(var) == 0:
            out[ip] = np.full(len(grid), fallback)
        else:
            values = var.scalars() * 2 * 1e-6
            out[ip] = np.interp(grid, var.t, values) if len(values) > 1 else np.full(len(grid), values[0])
    return out
