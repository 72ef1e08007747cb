"""Window sizes, window membership and the geometric mustache (spec §5.2-5.4)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from include.ecal_windows.geometry import dynamic_dphi_max, in_geom_mustache, in_mustache, in_window, window_size

V3_TABLE = [  # eta, up, down, dphi (spec §5.3)
    (0.0, 0.1, -0.1, 0.7),
    (1.0, 0.1667, -0.1, 0.6667),
    (1.479, 0.1986, -0.1, 0.6507),
    (2.0, 0.2333, -0.1667, 0.6333),
    (2.5, 0.2667, -0.2333, 0.6167),
    (3.0, 0.3, -0.3, 0.6),
]


@pytest.mark.parametrize(("eta", "up", "down", "dphi"), V3_TABLE)
def test_v3_window_sizes_match_the_reference_table(eta, up, down, dphi) -> None:
    for sign in (1, -1):
        got = window_size(sign * eta, "v3")
        assert [round(float(v), 4) for v in got] == [up, down, dphi]


@pytest.mark.parametrize(("eta", "down"), [(2.0, -0.1333), (2.5, -0.1667), (3.0, -0.2), (1.0, -0.1)])
def test_v2_differs_only_in_endcap_deta_down(eta, down) -> None:
    up2, down2, dphi2 = window_size(eta, "v2")
    up3, _, dphi3 = window_size(eta, "v3")
    assert round(float(down2), 4) == down
    assert (up2, dphi2) == (up3, dphi3)


def test_break_is_at_1p5_not_1p479() -> None:
    assert float(window_size(1.49, "v3")[1]) == -0.1
    assert float(window_size(1.51, "v3")[1]) == pytest.approx(-0.1 - 0.2 / 1.5 * 0.01)
    assert float(window_size(1.5, "v3")[0]) == pytest.approx(0.2)


def test_bounds_are_inclusive() -> None:
    # seed at eta 0: up 0.1, down -0.1, dphi 0.7 (all exact in binary for these points)
    assert in_window(0.0, 0.0, 0, 0.1, 0.0, 0)
    assert in_window(0.0, 0.0, 0, -0.1, 0.0, 0)
    assert in_window(0.0, 0.0, 0, 0.0, -0.7, 0)
    assert in_window(0.0, 0.0, 0, 0.0, 0.7, 0)
    assert not in_window(0.0, 0.0, 0, 0.1000001, 0.0, 0)
    assert not in_window(0.0, 0.0, 0, 0.0, 0.7000001, 0)


def test_deta_points_to_larger_abs_eta_for_both_signs() -> None:
    # window of a seed at |eta| = 1: up 0.1667 (outwards), down -0.1 (inwards)
    for sign in (1, -1):
        assert in_window(sign * 1.0, 0.0, 0, sign * 1.15, 0.0, 0)
        assert not in_window(sign * 1.0, 0.0, 0, sign * 0.85, 0.0, 0)


def test_iz_must_match_exactly() -> None:
    assert in_window(1.47, 0.0, 0, 1.47, 0.0, 0)
    assert not in_window(1.47, 0.0, 0, 1.47, 0.0, 1)
    assert not in_window(2.0, 0.0, 1, 2.0, 0.0, -1)


def test_dphi_wraps_around_pi() -> None:
    assert in_window(0.0, 3.1, 0, 0.0, -3.1, 0)
    assert not in_window(0.0, 3.1, 0, 0.0, 2.3, 0)


def test_endcap_edges_v2_v3() -> None:
    # seed at eta 2.0: v3 down -0.1667, v2 down -0.1333; a point 0.15 inwards
    assert in_window(2.0, 0.0, 1, 1.85, 0.0, 1, "v3")
    assert not in_window(2.0, 0.0, 1, 1.85, 0.0, 1, "v2")
    assert in_window(-2.0, 0.0, -1, -1.85, 0.0, -1, "v3")
    assert not in_window(-2.0, 0.0, -1, -1.85, 0.0, -1, "v2")


def test_vectorized_over_arrays() -> None:
    got = in_window(np.array([0.0, 1.0]), np.zeros(2), np.zeros(2, int), np.array([0.05, 0.8]), np.zeros(2), 0)
    assert got.tolist() == [True, False]


def test_dynamic_dphi_follows_the_sigmoid_and_clamps() -> None:
    # EB, log10 Et = 2: 0.0280506 + 0.946048 / (1 + exp((2 + 0.101172) * 0.432767))
    expected = 0.0280506 + 0.946048 / (1 + math.exp((2 + 0.101172) * 0.432767))
    assert float(dynamic_dphi_max(0.5, 100.0 * math.cosh(0.5), 0.5)) == pytest.approx(expected)
    assert float(dynamic_dphi_max(0.5, 0.01, 0.5)) == 0.6  # cutoff
    assert float(dynamic_dphi_max(2.2, 1e15, 2.2)) == 0.12  # saturation (|eta0| >= 2 bin)
    assert float(dynamic_dphi_max(2.2, 1e3, 2.2)) == 0.3  # cutoff of that bin
    assert float(dynamic_dphi_max(1.6, 0.001, 1.6)) == 0.55


def test_geom_mustache_membership() -> None:
    e = 10.0 * math.cosh(0.5)
    assert in_geom_mustache(0.5, 0.0, e, 0.5, 0.05)
    assert not in_geom_mustache(0.5, 0.0, e, 0.7, 0.0)  # far in eta
    assert not in_geom_mustache(0.5, 0.0, e, 0.5, 0.5)  # beyond the dynamic dphi
    assert not in_mustache(0.5, 0.0, 0.05, 0.5, 0.0)  # log10 E + 1.1 < 0
    assert not in_mustache(0.5, 0.0, -1.0, 0.5, 0.0)
