"""Passing/failing split, 1D and N-dimensional histograms on small hand-made probe tables."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest

from include.core.errors import ConfigError
from include.tnp.config import default_binning
from include.tnp.histograms import nd_histograms, one_d_histograms, split_passing_failing
from include.tnp.kinematics import delta_phi, pair_mass, photon_sc_eta

# two events: the first has one passing and one failing pair, the second one passing pair
TABLE = ak.zip(
    {
        "event": ak.Array([1, 2]),
        "el_pt": ak.Array([[40.0, 25.0], [60.0]]),
        "el_eta": ak.Array([[1.4442, -2.0], [0.5]]),
        "el_phi": ak.Array([[0.1, 3.0], [-1.0]]),
        "pair_mass": ak.Array([[91.0, 129.9], [60.0]]),
        "f": ak.Array([[True, False], [True]]),
    },
    depth_limit=1,
)


def test_split_masks_pairs_and_an_event_can_be_in_both() -> None:
    passing, failing = split_passing_failing(TABLE, "f", ["f"])
    assert passing.event.tolist() == [1, 2] and failing.event.tolist() == [1]
    assert passing.el_pt.tolist() == [[40.0], [60.0]] and failing.el_pt.tolist() == [[25.0]]
    assert "f" not in passing.fields
    flat = ak.zip({"event": [1, 2, 3], "f": [1, 0, 1]})
    p, f = split_passing_failing(flat, "f", ["f"])
    assert p.event.tolist() == [1, 3] and f.event.tolist() == [2]
    with pytest.raises(ConfigError, match="not a column"):
        split_passing_failing(TABLE, "g", ["f"])


def test_nd_histograms_axes_and_mll() -> None:
    passing, failing = split_passing_failing(TABLE, "f", ["f"])
    h = nd_histograms(passing, failing, ["el_pt", "el_eta"], default_binning(), cut_and_count=False)
    assert [ax.name for ax in h["passing"].axes] == ["el_pt", "el_eta", "mll"]
    assert [ax.label for ax in h["passing"].axes][:2] == ["El_pt", "El_eta"]
    assert h["passing"].axes["mll"].edges[[0, -1]].tolist() == [50.0, 130.0] and h["passing"].axes["mll"].size == 80
    assert h["passing"].sum(flow=True).value == 2 and h["failing"].sum(flow=True).value == 1
    assert h["passing"].project("el_pt")[::sum].value == 2  # no weight column: weight 1 each


def test_one_d_regions_are_strict_and_plateau_only_for_eta_phi() -> None:
    passing, failing = split_passing_failing(TABLE, "f", ["f"])
    h = one_d_histograms(passing, failing, ["el_pt", "el_eta", "el_phi"], default_binning(), plateau_cut=50)
    # |eta| = 1.4442 is in neither barrel (< 1.4442) nor endcap (> 1.566): strict on both ends
    assert h["pt"]["barrel"]["passing"].sum(flow=True).value == 1  # only the eta 0.5 probe
    assert h["pt"]["endcap"]["failing"].sum(flow=True).value == 1  # the eta -2.0 failing probe
    assert h["pt"]["barrel"]["passing"].axes[0].label == "Pt [GeV]"
    assert h["eta"]["entire"]["passing"].sum(flow=True).value == 1  # pt > 50 keeps the 60 GeV probe only
    with pytest.raises(ConfigError, match=r"vars must be \[pt, eta, phi\]"):
        one_d_histograms(passing, failing, ["el_pt"], default_binning())


def test_kinematics() -> None:
    assert delta_phi(np.array([3.0]), np.array([-3.0]))[0] == pytest.approx(6.0 - 2 * np.pi)
    a = ak.zip({"pt": [45.0], "eta": [0.0], "phi": [0.0], "mass": [0.0]})
    b = ak.zip({"pt": [45.0], "eta": [0.0], "phi": [np.pi], "mass": [0.0]})
    assert pair_mass(a, b).tolist() == pytest.approx([90.0])
    photons = ak.zip(
        {"eta": [[0.5, 2.0]], "phi": [[0.3, -1.0]], "isScEtaEB": [[True, False]], "isScEtaEE": [[False, True]]}
    )
    origin = photon_sc_eta(photons, ak.Array([0.0]), ak.Array([0.0]), ak.Array([0.0]))
    assert ak.to_list(origin) == [pytest.approx([0.5, 2.0])]  # from the origin, SC eta is eta
    shifted = photon_sc_eta(photons, ak.Array([0.0]), ak.Array([0.0]), ak.Array([5.0]))
    z_barrel = 5.0 + 130.0 * np.sinh(0.5)  # the line from z = 5 cm hits r = 130 cm here
    assert ak.to_list(shifted)[0][0] == pytest.approx(np.arcsinh(z_barrel / 130.0))
