"""Luminosity formula, exponential fits, LOWESS and the SB model on controlled inputs."""

from __future__ import annotations

import numpy as np
import pytest

from include.lumi.expfit import fit_exp, fit_tau
from include.lumi.luminosity import bunch_luminosity
from include.lumi.sbmodel import BeamData, ModelSettings, run_model
from include.lumi.smoothing import fit_points, lowess, lowess_many

GAMMA = 6927.64


def test_luminosity_typical_2017() -> None:
    one = np.array([1.15e11])
    eps = np.array([2.2])
    sz = np.array([1.05e-9 / 4 * 299792458.0])
    lumi = bunch_luminosity(one, one, eps, eps, eps, eps, sz, sz, 300e-6, 300e-6, 0.40, GAMMA)
    per_bunch_cm = lumi["ATLAS"][0] * 1e-4
    assert 0.6e31 < per_bunch_cm < 1.0e31  # spec §7.3 sanity check
    assert 1.5e34 < per_bunch_cm * 2556 < 2.1e34
    assert lumi["ATLAS"][0] == pytest.approx(lumi["CMS"][0])  # round beams
    flat = bunch_luminosity(one, one, eps, eps * 0.5, eps, eps * 0.5, sz, sz, 300e-6, 300e-6, 0.40, GAMMA)
    assert flat["ATLAS"][0] < flat["CMS"][0]  # IP1 crosses vertically: smaller σ_y, stronger reduction


def test_exp_fit() -> None:
    t = np.linspace(0, 10, 60)
    y = np.column_stack([1.2 * np.exp(-0.08 * t), 0.9 * np.exp(0.03 * t), np.full(60, np.nan)])
    a, b = fit_exp(t, y)
    assert a[:2] == pytest.approx([1.2, 0.9], rel=1e-6) and b[:2] == pytest.approx([-0.08, 0.03], rel=1e-6)
    assert np.isnan(a[2]) and np.isnan(b[2])
    tau, init = fit_tau(1000 + t * 3600, 1e34 * y[:, :1], 1000, None, 1e-34)
    assert tau[0] == pytest.approx(-3600 / 0.08, rel=1e-6) and init[0] == pytest.approx(1.2e34, rel=1e-6)
    tau2, _ = fit_tau(1000 + t * 3600, 1e34 * y[:, :1], 1000, 7200, 1e-34)  # first 2 h only
    assert tau2[0] == pytest.approx(tau[0], rel=1e-6)


def test_lowess_batched_equals_single() -> None:
    rng = np.random.default_rng(3)
    groups = []
    for _ in range(40):
        x = np.sort(rng.uniform(0, 4e4, rng.integers(3, 30)))
        groups.append((x, 2 + x / 4e4 + rng.normal(0, 0.1, len(x))))
    many = lowess_many(groups, frac=0.25, it=10)
    for (x, y), got in zip(groups, many, strict=True):
        assert got[:, 1] == pytest.approx(lowess(y, x, frac=0.25, it=10)[:, 1], abs=1e-12)
    x = np.linspace(0, 10, 200)
    y = 0.5 * x + rng.normal(0, 0.05, 200)
    y[50] = 100  # outlier: robustness iterations remove its influence
    smooth = lowess(y, x, frac=0.3, it=10)[:, 1]
    assert abs(smooth[50] - 0.5 * x[50]) < 0.1


def test_lowess_delta_zero_unchanged() -> None:
    x = np.arange(1, 16) ** 1.5
    y = np.sin(x / 8) + 0.01 * np.cos(7 * x)
    y[6] += 1
    pinned = [0.16954652920277, 0.342532590854242, 0.559205133409551, 0.799058941299843, 0.915299766074352]
    pinned += [0.89444862489011, 0.601971384804214, 0.247315210235114, -0.203709463219908, -0.730241470563902]
    pinned += [-0.569363900309372, -0.472678118084899, -0.398316787083255, 0.217573815971842, 0.845274111262934]
    assert lowess_many([(x, y)], frac=0.4, it=10)[0][:, 1] == pytest.approx(pinned, abs=1e-13)  # before delta existed
    assert lowess(y, x, frac=0.4, it=10, delta=0.0)[:, 1] == pytest.approx(pinned, abs=1e-13)
    small = lowess_many([(x, y)], frac=0.4, it=10, delta=0.5 * np.diff(x).min())[0]  # no point within delta
    assert np.array_equal(small, lowess_many([(x, y)], frac=0.4, it=10)[0])


def test_lowess_batched_delta_equals_single() -> None:
    rng = np.random.default_rng(5)
    groups = []
    for n in (3, 17, 60, 61, 250, 400, 401, 900):
        x = rng.uniform(0, 5e4, n)
        x[: n // 8] = np.round(x[: n // 8], -3)  # ties
        y = 2 + x / 5e4 + rng.normal(0, 0.05, n)
        y[rng.integers(0, n, max(1, n // 50))] += 3  # outliers: the robustness weights matter
        if n > 100:
            y[7] = np.nan
        groups.append((x, y))
    for delta in (300.0, 2000.0):
        many = lowess_many(groups, frac=0.2, it=10, delta=delta, max_elements=300_000)
        one_by_one = lowess_many(groups, frac=0.2, it=10, delta=delta, max_elements=1)
        for (x, y), got, alone in zip(groups, many, one_by_one, strict=True):
            single = lowess(y, x, frac=0.2, it=10, delta=delta)
            assert got[:, 0] == pytest.approx(single[:, 0], abs=0)
            assert got[:, 1] == pytest.approx(single[:, 1], abs=1e-10)
            assert alone[:, 1] == pytest.approx(single[:, 1], abs=1e-10)
        dense = lowess_many(groups, frac=0.2, it=10)
        assert max(np.abs(a[:, 1] - b[:, 1]).max() for a, b in zip(many, dense, strict=True)) > 1e-6  # delta acts


def test_lowess_fit_points() -> None:
    assert fit_points(np.arange(10.0), 2.5).tolist() == [0, 2, 4, 6, 8, 9]  # last point within delta, then the end
    assert fit_points(np.array([0, 0, 0, 1, 2, 2, 5.0]), 1.0).tolist() == [0, 3, 5, 6]  # ties share a fit
    assert fit_points(np.arange(10.0), 0.0).tolist() == list(range(10))
    x = np.sort(np.random.default_rng(2).uniform(0, 5e4, 5000))
    assert 100 <= len(fit_points(x, 0.01 * (x[-1] - x[0]))) <= 110  # regressions at ~1 % steps, not 5000


def _beam(nb: int = 3, steps: int = 13) -> BeamData:
    ones = np.ones((steps, nb))
    return BeamData(1.15e11 * ones, 2.0 * ones, 2.0 * ones, 1.05e-9 * ones)


def _settings(**kw) -> ModelSettings:
    return ModelSettings(0.4, GAMMA, 64.7 * 3600, 80e-31, 29.7e-31, 12e6, 300.0, **kw)


def test_model_shapes_and_burn_off() -> None:
    theta = np.full(13, 300e-6)
    losses = run_model("EmpiricalBlowupLosses", _beam(), _beam(), theta, theta, _settings())
    assert losses["ATLAS"].shape == (12, 3)  # T−1 rows
    assert np.all(losses["n1"] == 1.15e11)  # intensity from data
    assert np.all(np.diff(losses["bl1"][:, 0]) < 0)  # bunch length from the model (SR damping wins)
    boff = run_model("IBSBOff", _beam(), _beam(), theta, theta, _settings())
    assert np.all(np.diff(boff["n1"][:, 0]) < 0) and np.all(np.diff(boff["ATLAS"][:, 0]) < 0)
    lost = 1.15e11 - boff["n1"][-1, 0]
    expected = 80e-31 * 2 * boff["ATLAS"][0, 0] * 300 * 11  # σ_BO · n_IP · L · t, to first order
    assert lost == pytest.approx(expected, rel=0.05)
    assert np.all(boff["eh_ibs1"] == boff["eh1"])  # model emittance = its IBS prediction


def test_model_leveling() -> None:
    theta = np.full(13, 300e-6)
    out = run_model("IBSBOff", _beam(), _beam(), theta, theta, _settings(leveling=1e35))
    assert out["ATLAS"].sum(axis=1) == pytest.approx(np.full(12, 1e35))


@pytest.mark.parametrize(
    ("model", "n_from_data", "emit_from_data", "bl_from_data"),
    [
        ("EmpiricalBlowupLosses", True, True, False),
        ("EmpiricalBlowupBOff", False, True, False),
        ("IBSBOff", False, False, False),
        ("IBSLosses", True, False, False),
        ("EmpiricalblengthLosses", True, False, True),
    ],
)
def test_model_settings_table(model: str, n_from_data: bool, emit_from_data: bool, bl_from_data: bool) -> None:
    theta = np.full(13, 300e-6)
    data = _beam()
    data.eh = data.eh * np.linspace(1, 1.2, 13)[:, None]  # data blow-up the models must (not) follow
    data.bl4_s = data.bl4_s * np.linspace(1, 1.1, 13)[:, None]
    out = run_model(model, data, _beam(), theta, theta, _settings())
    same = lambda a, b: np.allclose(a, b, rtol=1e-9, atol=0)  # noqa: E731
    assert same(out["n1"][1:], 1.15e11) == n_from_data
    assert same(out["eh1"][1:], data.eh[1:12]) == emit_from_data
    assert same(out["bl1"][1:], data.bl4_s[1:12]) == bl_from_data
    assert np.all(np.isfinite(out["ATLAS"])) and np.all(out["ATLAS"] > 0)


def test_model_exp_tau_mode() -> None:
    theta = np.full(13, 300e-6)
    data = _beam()
    data.tau_emp_h = np.full(3, 20 * 3600.0)
    data.tau_emp_v = np.full(3, 40 * 3600.0)
    out = run_model("EmpiricalBlowupLosses", data, data, theta, theta, _settings(empirical_mode="exp_tau"))
    assert out["eh1"][-1, 0] == pytest.approx(2.0 * np.exp(11 * 300 / (20 * 3600)))
    assert out["ev1"][-1, 0] == pytest.approx(2.0 * np.exp(11 * 300 / (40 * 3600)))
