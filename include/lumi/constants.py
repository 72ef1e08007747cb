"""Physical constants, machine constants and slot/bucket conversions."""

from __future__ import annotations

import numpy as np

C_LIGHT = 299_792_458.0  # m/s
PROTON_MASS_GEV = 0.93828  # the IBS parametrization's constant (gamma 6927.64 -> 6500.07 GeV)
N_SLOTS = 3564
N_BUCKETS = 35640
FREV_HZ = 11245.5
HZ_PER_UB_TO_M2S = 1.0e34  # 1 Hz/ub = 1e30 cm^-2 s^-1 = 1e34 m^-2 s^-1
M2S_TO_CM2S = 1.0e-4
BMODES = (
    "ABORT",
    "SQUEEZE",
    "PRERAMP",
    "SETUP",
    "WBDUMP",
    "NOMODE",
    "ADJUST",
    "INJPHYS",
    "CIRCDUMP",
    "RAMP",
    "FLATTOP",
    "INJSTUP",
    "INJDUMP",
    "NOBEAM",
    "STABLE",
    "INJPROT",
    "CYCLING",
    "UNSTABLE",
    "RECOVERY",
    "RAMPDOWN",
    "BEAMDUMP",
)
TIMEZONE = "Europe/Zurich"


def bucket_to_slot(bucket: np.ndarray | int) -> np.ndarray | int:
    """RF bucket (1..35640) -> 25 ns slot (0..3563)."""
    return (np.asarray(bucket) - 1) // 10 if isinstance(bucket, np.ndarray) else (int(bucket) - 1) // 10


def slot_to_bucket(slot: np.ndarray | int) -> np.ndarray | int:
    """25 ns slot (0..3563) -> RF bucket (1..35640)."""
    return 10 * np.asarray(slot) + 1 if isinstance(slot, np.ndarray) else 10 * int(slot) + 1
