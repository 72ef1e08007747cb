"""Safe filter expressions, names of outputs, and Clopper–Pearson efficiencies."""

from __future__ import annotations

import awkward as ak
import hist
import numpy as np
import pytest

from include.tnp.efficiency import COVERAGE, clopper_pearson, cut_and_count
from include.tnp.expressions import ExpressionError, evaluate, identifiers
from include.tnp.naming import filter_file_name, filter_report_name, histos_file, report_file

PROBES = ak.Array([[{"cutBased": 4, "pt": 30.0}, {"cutBased": 1, "pt": 50.0}], [{"cutBased": 2, "pt": 20.0}]])


def test_expressions_on_fields() -> None:
    assert evaluate("cutBased >= 2", PROBES).tolist() == [[True, False], [True]]
    assert evaluate("(cutBased >= 2) & (pt > 25)", PROBES).tolist() == [[True, False], [False]]
    assert evaluate("20 < pt <= 30", PROBES).tolist() == [[True, False], [False]]
    assert evaluate("abs(-pt) > 40", PROBES).tolist() == [[False, True], [False]]
    zc = {"zcands": ak.zip({"tag": PROBES, "probe": PROBES})}
    assert evaluate("zcands.probe.pt > 25", zc).tolist() == [[True, True], [False]]
    assert identifiers("zcands.tag.pt > 3 and cutBased == 1") == {"zcands", "tag", "pt", "cutBased"}


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("cutBsed >= 2", "unknown field 'cutBsed'"),
        ("__import__('os').system('ls')", "not allowed|only abs"),
        ("pt.__class__", "unknown field '__class__'"),
        ("cutBased >=", "syntax error"),
        ("[pt]", "List is not allowed"),
        ("pt > 'a'", "not a number"),
    ],
)
def test_bad_expressions_are_clear_errors(expr: str, message: str) -> None:
    with pytest.raises(ExpressionError, match=message):
        evaluate(expr, PROBES, "filter 'x'")


def test_output_names_keep_the_legacy_quirks() -> None:
    assert filter_file_name("cutBased >= 2") == "cutBased_gte_2"
    assert filter_file_name("a < b > c") == "a_lt_b_gt_c"
    assert filter_report_name("a < b >= c") == "a_<_b_gte_c"
    assert histos_file("cutBased >= 2") == "cutBased_gte_2_histos.pkl"
    assert report_file("cutBased >= 2") == "cutBased_gte_2_report.json" and report_file(None) == "report.json"


def test_clopper_pearson_closed_forms() -> None:
    n = 10.0
    alpha = (1 - COVERAGE) / 2
    lo, hi = clopper_pearson(np.array([0.0, 10.0, 0.0]), np.array([n, n, 0.0]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(1 - alpha ** (1 / n), rel=1e-12)
    assert hi[1] == 1.0 and lo[1] == pytest.approx(alpha ** (1 / n), rel=1e-12)
    assert np.isnan(lo[2]) and np.isnan(hi[2])  # empty bin: NaN, as the reference


def test_cut_and_count_uses_flow_for_the_ratio_only() -> None:
    axis = hist.axis.Variable([0, 1, 2], name="x", flow=True)
    passing = hist.Hist(axis, storage=hist.storage.Weight())
    failing = hist.Hist(axis, storage=hist.storage.Weight())
    passing.fill(x=[0.5, 0.5, 0.5, 5.0])  # 3 in bin 0, 1 in overflow
    failing.fill(x=[0.5, 5.0, 5.0])
    result = cut_and_count(passing, failing)
    assert result["efficiency"].tolist() == [0.75, 0.0]  # empty bin 1 -> 0
    lo, hi = clopper_pearson(np.array([3.0]), np.array([4.0]))
    assert result["err_low"][0] == pytest.approx(0.75 - lo[0]) and result["err_high"][0] == pytest.approx(hi[0] - 0.75)
    assert np.isnan(result["err_low"][1])
    total = cut_and_count(passing, passing + failing, denominator_type="total")
    assert total["efficiency"].tolist() == result["efficiency"].tolist()


def test_scale_factors_are_bin_ratios() -> None:
    from include.tnp.efficiency import scale_factors

    data = {"efficiency": np.array([0.9, 0.5]), "err_low": np.array([0.02, 0.1]), "err_high": np.array([0.04, 0.1])}
    mc = {"efficiency": np.array([0.95, 0.0]), "err_low": np.array([0.01, 0.0]), "err_high": np.array([0.01, 0.1])}
    sf = scale_factors(data, mc)
    assert sf["scale_factor"][0] == pytest.approx(0.9 / 0.95) and np.isnan(sf["scale_factor"][1])
    expected = 0.9 / 0.95 * np.hypot(0.03 / 0.9, 0.01 / 0.95)
    assert sf["error"][0] == pytest.approx(expected)
    with pytest.raises(ValueError, match="different binnings"):
        scale_factors(data, {k: v[:1] for k, v in mc.items()})
