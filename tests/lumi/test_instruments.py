"""Instrument decoding: BQM compression, BSRT emittances and energy windows, crossing angle."""

from __future__ import annotations

import numpy as np
import pytest

from include.core.errors import InputFileError
from include.lumi import instruments as ins
from include.lumi.config import load_config
from include.lumi.constants import bucket_to_slot, slot_to_bucket
from include.lumi.logging_csv import LoggedVariable

FILL = 6140


def var(name: str, t: list[float], rows: list[list[str]]) -> LoggedVariable:
    return LoggedVariable(name, np.array(t, dtype=float), rows)


def test_slot_bucket() -> None:
    assert slot_to_bucket(0) == 1 and slot_to_bucket(3563) == 35631
    assert bucket_to_slot(35631) == 3563 and bucket_to_slot(np.array([1, 11, 20])).tolist() == [0, 1, 1]


def test_bqm_compressed_nearest_older() -> None:
    variables = {
        "LHC.BQM.B1:FILLED_BUCKETS": var("f", [100, 200], [["11", "-1"], ["1", "11", "31", "0"]]),
        "LHC.BQM.B1:BUNCH_LENGTHS": var(
            "l", [50, 150, 250], [["9e-10"], ["1.1e-9", "0", "0"], ["1.0e-9", "1.05e-9", "1.2e-9", "0"]]
        ),
    }
    m = ins.bqm(variables, 1, "bbb.csv")
    assert np.isnan(m.values[0]).all()  # no older filled-bucket record
    assert m.values[1, 1] == 1.1e-9 and np.isnan(m.values[1, 0])  # bucket 11 -> slot 1; -1 dropped
    assert m.values[2, [0, 1, 3]].tolist() == [1.0e-9, 1.05e-9, 1.2e-9]  # bucket order
    assert np.isfinite(m.values[2]).sum() == 3


def test_bsrt_emittance_formula_and_windows() -> None:
    cfg = load_config(2017)
    cal = cfg.calibration_for(FILL, 6500, 1)
    sigma_h = np.sqrt(2.0 * cal["betaf_h"] / cal["gamma"] + cal["sigma_corr_h"] ** 2)
    sigma_v = np.sqrt(1.8 * cal["betaf_v"] / cal["gamma"] + cal["sigma_corr_v"] ** 2)
    dev = "LHC.BSRT.5R4.B1"
    variables = {
        f"{dev}:GATE_DELAY": var("g", [10, 20, 30], [["5", "5", "7"], ["5"], ["5"]]),
        f"{dev}:FIT_SIGMA_H": var(
            "h", [10, 20, 30], [[f"{sigma_h * 0.99}", f"{sigma_h * 1.01}", "0.5"], [f"{sigma_h}"], ["0.5"]]
        ),
        f"{dev}:FIT_SIGMA_V": var("v", [10, 20, 30], [[f"{sigma_v}", f"{sigma_v}", "0.5"], [f"{sigma_v}"], ["0.5"]]),
    }
    energy = (np.array([0.0, 25.0]), np.array([6500.0, 3000.0]))
    s = ins.bsrt(variables, 1, energy, cfg, FILL, "bbb.csv")
    assert s.slot.tolist() == [5, 7, 5, 5]
    # two slots in the first acquisition: t + j·1e-3/N_meas
    assert s.t.tolist() == pytest.approx([10.0, 10.0005, 20.0, 30.0])
    assert s.emit_h[0] == pytest.approx(2.0, rel=2e-4) and s.emit_v[0] == pytest.approx(1.8, rel=1e-9)
    assert s.emit_h[3] == 0.0 and s.emit_v[3] == 0.0  # 3000 GeV: outside both windows


def test_bsrt_timestamps_must_coincide() -> None:
    dev = "LHC.BSRT.5L4.B2"
    variables = {
        f"{dev}:GATE_DELAY": var("g", [10], [["5"]]),
        f"{dev}:FIT_SIGMA_H": var("h", [11], [["0.4"]]),
        f"{dev}:FIT_SIGMA_V": var("v", [10], [["0.4"]]),
    }
    with pytest.raises(InputFileError, match="timestamps differ"):
        ins.bsrt(variables, 2, (np.array([0.0]), np.array([6500.0])), load_config(2017), FILL, "bbb.csv")


def test_crossing_angle_full_angle() -> None:
    cfg = load_config(2017)
    grid = np.array([100.0, 200.0])
    crossing = {
        "LHC.RUNCONFIG:IP1-XING-V-MURAD": var("a", [0, 300], [["150"], ["120"]]),
        "LHC.RUNCONFIG:IP5-XING-H-MURAD": var("b", [0], [["150"]]),
    }
    x = ins.crossing_angles(crossing, grid, cfg, FILL)
    assert x[1].tolist() == pytest.approx([280e-6, 260e-6]) and x[5].tolist() == pytest.approx([300e-6] * 2)
    fallback = ins.crossing_angles(None, grid, cfg, 5705)  # full angle from XingAngle (legacy stored half)
    assert fallback[1].tolist() == [280e-6] * 2 and fallback[5].tolist() == [300e-6] * 2
