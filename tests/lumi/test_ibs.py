"""IBS parametrization: the spec's regression values and branch selection."""

from __future__ import annotations

import numpy as np
import pytest

from include.core.errors import ParamError
from include.lumi.ibs import default_model, ibs_step

GAMMA_FT, GAMMA_FB = 6927.64, 479.6


@pytest.mark.parametrize(
    ("gamma", "vrf", "n", "ex_um", "bl_ns", "dt_min", "dex_um", "dbl_ps"),
    [
        (GAMMA_FT, 12e6, 1.15e11, 2.0, 1.05, 60, 0.021, -4.4),
        (GAMMA_FT, 12e6, 1.15e11, 2.5, 1.10, 60, -0.019, -14.6),
        (GAMMA_FB, 6e6, 1.2e11, 1.5, 1.20, 30, 0.161, 87.0),
    ],
)
def test_regression_values(gamma, vrf, n, ex_um, bl_ns, dt_min, dex_um, dbl_ps) -> None:
    ex, bl = ibs_step(gamma, n, ex_um * 1e-6, ex_um * 1e-6, bl_ns * 1e-9, vrf, dt_min * 60)
    # within ±1 in the last quoted digit
    assert abs((ex - ex_um * 1e-6) * 1e6 - dex_um) <= 0.001
    step = 1.0 if dbl_ps == 87.0 else 0.1
    assert abs((bl - bl_ns * 1e-9) * 1e12 - dbl_ps) <= step
    # the values after the step within 0.5 % of the reference
    assert ex * 1e6 == pytest.approx(ex_um + dex_um, rel=0.005)
    assert bl * 1e12 == pytest.approx(bl_ns * 1e3 + dbl_ps, rel=0.005)


def test_case1_factors() -> None:
    fx, fl = default_model().factors(GAMMA_FT, 1.15e11, 2.0e-6, 1.05e-9, 12e6, 3600)
    assert float(fx) == pytest.approx(1.0107, abs=1e-4)
    assert float(fl) == pytest.approx(0.9958, abs=1e-4)


def test_vectorised_and_vertical_unchanged() -> None:
    n = np.array([1.0e11, 1.2e11])
    ex, _ = ibs_step(GAMMA_FT, n, np.array([2e-6, 2e-6]), 1e-6, np.array([1e-9, 1e-9]), 12e6, 600.0)
    assert ex.shape == (2,) and ex[1] > ex[0]  # more intensity, more IBS growth


def test_branches() -> None:
    model = default_model()
    assert model.branch(6500.07, 8) == ("6500GeV_8MV", "6500GeV_12MV")
    assert model.branch(450.0, 4.5) == ("450GeV_6MV", "450GeV_6MV")
    assert model.branch(7010, 16) == ("7000GeV_16MV", "7000GeV_16MV")
    with pytest.raises(ParamError, match="E = 4000"):
        model.branch(4000, 12)
    with pytest.raises(ParamError, match="V_rf_V"):
        model.branch(6500, 14)
    ex, bl = ibs_step(GAMMA_FT, 1.15e11, 2e-6, 2e-6, 1.05e-9, 8e6, 3600)  # 8 MV: longitudinal from 12 MV
    assert np.isfinite(ex) and np.isfinite(bl)
